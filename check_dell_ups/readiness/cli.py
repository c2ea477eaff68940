"""check_dell_ups_readiness --config FILE [-t TIMEOUT] [-v]

Exit 0/1/2 for OK/WARNING/CRITICAL; 3 (UNKNOWN) for bad arguments only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import NoReturn

from nagiosplugin import guarded

from check_dell_ups.maintenance.config import Config
from check_dell_ups.maintenance.driver import ScvmmDriver
from check_dell_ups.output import screen
from check_dell_ups.program_help import HelpShown, ProgramText, add_help_and_version, asked_for
from check_dell_ups.readiness.plugin import PREFIX

UNKNOWN_EXIT = 3
CRITICAL_EXIT = 2
DEFAULT_TIMEOUT = 30.0
# Kept back from -t: to close the session and print before the monitoring core's timeout.
_MARGIN = 1.5


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        raise UsageError(message)


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: '{text}'") from None
    if not 3 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 3 and 3600 seconds: '{text}'")
    return value


HELP = ProgramText(
    name="check_dell_ups_readiness",
    summary="could dell_ups_maintenance act if power failed now? (Icinga 2 / Nagios plugin)",
    description="Could dell_ups_maintenance do its job if power failed now? Reads its "
                "config, its state and SCVMM (never changes anything) and reports "
                "CRITICAL / WARNING / OK, one long-output line per problem.",
    synopsis=("check_dell_ups_readiness --config FILE [-t TIMEOUT] [-v]",),
    examples=(
        ("check_dell_ups_readiness --config FILE -t 30",
         "What the shipped dell_ups_readiness CheckCommand runs, as the user that runs "
         "the event handler; FILE is the handler's TOML configuration, e.g. "
         "/etc/check_dell_ups/dell_ups_maintenance.toml."),
    ),
    notes=(("Exit codes", "0 OK, 1 WARNING, 2 CRITICAL (the handler could not do its job), "
                          "3 UNKNOWN (bad arguments; also after --help and --version, as "
                          "the Monitoring Plugins guidelines ask)."),),
)


def make_parser() -> _Parser:
    parser = _Parser(prog=HELP.name, add_help=False)
    add_help_and_version(parser, HELP)
    parser.add_argument("--config", required=True, metavar="FILE",
                        help="the handler's TOML configuration")
    parser.add_argument("-t", "--timeout", type=_timeout, default=DEFAULT_TIMEOUT,
                        help="seconds for the whole check (default 30)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="one more line with the counts")
    return parser


def _connect(config: Config, deadline: float) -> ScvmmDriver:
    # The handler's own connector: same password rules, timeouts and driver.
    from check_dell_ups.maintenance.cli import connector

    return connector(config, deadline)()


def run(argv: Sequence[str] | None = None) -> tuple[str, int]:
    """One run: (output text, exit code). Never raises."""
    parser = make_parser()
    try:
        shown = asked_for(parser, HELP, sys.argv[1:] if argv is None else argv)
        if shown:
            return shown.text, shown.code
        args = parser.parse_args(argv)
    except HelpShown as shown:
        return shown.text, shown.code
    except UsageError as error:
        return f"{PREFIX} UNKNOWN - bad arguments: {screen(str(error))} (see --help)\n", \
            UNKNOWN_EXIT
    from check_dell_ups.readiness.assess import assess
    from check_dell_ups.readiness.plugin import render
    from check_dell_ups.readiness.survey import DeadlineReached, survey

    def alarm(signum: int, frame: object) -> NoReturn:
        raise DeadlineReached

    deadline = time.monotonic() + args.timeout - _MARGIN
    previous = None
    if threading.current_thread() is threading.main_thread():
        # A net only: every SCVMM request already ends by the deadline.
        previous = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, max(1.0, args.timeout - _MARGIN / 2))
    try:
        found = survey(args.config, _connect, deadline=deadline)
        return render(assess(found, datetime.now(timezone.utc)), args.verbose)
    except DeadlineReached:
        return f"{PREFIX} CRITICAL - no answer within {args.timeout:g}s (-t)\n", CRITICAL_EXIT
    except Exception as error:  # the last guard: one line, never a traceback
        return (f"{PREFIX} CRITICAL - internal error ({type(error).__name__}): "
                f"{screen(str(error))[:200]}\n", CRITICAL_EXIT)
    finally:
        if previous is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


@guarded(verbose=0)
def main(argv: Sequence[str] | None = None) -> NoReturn:
    try:
        text, code = run(argv)
    except KeyboardInterrupt:
        text, code = f"{PREFIX} CRITICAL - interrupted\n", CRITICAL_EXIT
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError:
        # e.g. a closed pipe: the exit code still says it; the interpreter's last flush
        # finds /dev/null instead of printing a traceback.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(code)
