"""dell_ups_maintenance: the program the monitoring core runs as an event handler.

  dell_ups_maintenance --config FILE --ups NAME --state STATE --state-type {SOFT,HARD}
                       [--attempt N] [--perfdata 'PERFDATA'] [--dry-run]
  dell_ups_maintenance --config FILE --retry-pending [--dry-run]
  dell_ups_maintenance --config FILE --status [--json]
  dell_ups_maintenance --config FILE --drill HOST [--yes]

Prints one summary line; exit 0 when it did what was due (or nothing was due, or work is
in progress), 1 with the reason when something failed. Never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from check_dell_ups.maintenance.clock import SteadyClock, boot_id, boottime, current_anchor
from check_dell_ups.maintenance.config import Config, ConfigError, load_config, read_password
from check_dell_ups.maintenance.driver import ScvmmDriver, ScvmmEndpoint, ScvmmError
from check_dell_ups.maintenance.event import (
    Event,
    normalise_state,
    normalise_state_type,
    parse_perfdata,
)
from check_dell_ups.maintenance.failures import record_failure
from check_dell_ups.maintenance.icinga_api import update_icinga
from check_dell_ups.maintenance.log import PROGRAM, HandlerLog
from check_dell_ups.maintenance.ownership import access_problems, foreign_owner
from check_dell_ups.maintenance.policy import TARGET_HOLD, Decision, decide, pending_targets_of
from check_dell_ups.maintenance.reconcile import Outcome, Reconciler
from check_dell_ups.maintenance.records import UpsRecord
from check_dell_ups.maintenance.state import StateError, StateStore
from check_dell_ups.maintenance.status import collect_status, render_json, render_table
from check_dell_ups.program_help import HelpShown, ProgramText, add_help_and_version, asked_for

EXIT_OK = 0
EXIT_FAILED = 1


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


HELP = ProgramText(
    name=PROGRAM,
    summary="put the Hyper-V hosts fed by a UPS into SCVMM maintenance mode "
            "(Icinga 2 / Nagios event handler)",
    description="Put the Hyper-V hosts fed by a UPS into SCVMM maintenance mode "
                "(Icinga 2 / Nagios event handler). Run by the monitoring core on every "
                "non-OK result of the UPS's dell_ups service and on its recovery; each "
                "call reconciles SCVMM with what the stored power state calls for, so a "
                "lost or repeated event does no harm. Prints one summary line; exit 0 "
                "when it did what was due (or nothing was due, or work is in progress), "
                "1 with the reason when something failed.",
    synopsis=(f"{PROGRAM} --config FILE --ups UPS --state STATE [OPTION]...",
              f"{PROGRAM} --config FILE --retry-pending [--dry-run]",
              f"{PROGRAM} --config FILE --status [--json]",
              f"{PROGRAM} --config FILE --drill HOST [--yes]"),
    examples=(
        ("dell_ups_maintenance --config FILE --ups ups-rack1 --state CRITICAL",
         "What Icinga runs (the shipped EventCommand, which also passes --state-type, "
         "--attempt and --perfdata) when the UPS's dell_ups service turns CRITICAL."),
        ("dell_ups_maintenance --config FILE --retry-pending",
         "Finish what a failed or killed call left (the shipped systemd timer and cron "
         "file run this every 2 minutes)."),
        ("dell_ups_maintenance --config FILE --status",
         "What the handler has stored: each UPS's power state, each host it moved."),
        ("dell_ups_maintenance --config FILE --drill hv01 --yes",
         "A configuration test: hv01 into maintenance and back, step by step."),
    ),
    notes=(("Files", "FILE is the TOML configuration, e.g. "
                     "/etc/check_dell_ups/dell_ups_maintenance.toml (see "
                     "dell_ups_maintenance.toml.example); "
                     "the state directory and log file it names; the SCVMM password in "
                     "the password_file it names (never in argv)."),),
    exit_code=0,
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROGRAM, add_help=False)
    add_help_and_version(parser, HELP)
    parser.add_argument("--config", required=True, metavar="FILE",
                        help="the handler's TOML configuration")
    parser.add_argument("--ups", help="the UPS (its Icinga/Nagios host name)")
    parser.add_argument("--state", help="service state: OK, WARNING, CRITICAL, UNKNOWN")
    parser.add_argument("--state-type", default="HARD", help="SOFT or HARD (logged only)")
    parser.add_argument("--attempt", help="check attempt (logged only)")
    parser.add_argument("--perfdata", default="", help="the check result's perfdata")
    parser.add_argument("--dry-run", action="store_true",
                        help="read SCVMM and the state, log what would be done, change nothing")
    parser.add_argument("--retry-pending", action="store_true",
                        help="finish pending work (e.g. a restore that failed)")
    parser.add_argument("--status", action="store_true", help="show the stored state")
    parser.add_argument("--json", action="store_true", help="with --status: as JSON")
    parser.add_argument("--drill", metavar="HOST",
                        help="configuration test: HOST into maintenance and back, step by "
                             "step (without --yes: only say what would be done)")
    parser.add_argument("--yes", action="store_true", help="with --drill: do it")
    return parser


class BudgetSpentError(BaseException):
    """The watchdog fired: something blocked past the budget (a hung NFS read, a peer
    that never answers). BaseException: no `except Exception` on the way swallows it."""


# Before the config is read the budget is unknown: the event command's default timeout
# (Icinga: 1 min) less a margin. After it: budget + WATCHDOG_MARGIN (the SCVMM requests
# end by the budget themselves; the watchdog is the last resort).
FIRST_WATCHDOG_SECONDS = 55.0
WATCHDOG_MARGIN = 2.0


def _arm_watchdog(seconds: float) -> bool:
    """Arm SIGALRM to raise BudgetSpentError; False where that is impossible (not the
    main thread, no setitimer): the bounded reads and requests still hold."""
    if threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "setitimer"):
        return False

    def fire(_signum: int, _frame: Any) -> None:
        raise BudgetSpentError

    signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return True


def _disarm_watchdog() -> None:
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


def main(argv: Sequence[str] | None = None) -> int:
    logging.raiseExceptions = False  # a failing log handler must not print a traceback
    armed = _arm_watchdog(FIRST_WATCHDOG_SECONDS)
    try:
        code = _main(argv)
        sys.stdout.flush()  # a reader that went away shows here, not at exit
        return code
    except BudgetSpentError:
        # Said before it is logged: logging may block on the same hung file system.
        line = (f"{PROGRAM}: FAILED: time budget spent: a file read or an SCVMM request "
                "blocked (hung NFS?); the state is as last written, --retry-pending resumes")
        with contextlib.suppress(OSError):
            print(line, flush=True)
        with contextlib.suppress(Exception):
            record_failure(line.removeprefix(f"{PROGRAM}: "),
                           config_path=_config_argument(argv))
        return EXIT_FAILED
    except BrokenPipeError:
        return _output_gone()
    except OSError as error:
        if _stdout_failed():
            return _output_gone()
        return _say_failure(f"{PROGRAM}: internal error: {type(error).__name__}: {error}",
                            argv)
    except KeyboardInterrupt:
        return _say_failure(f"{PROGRAM}: interrupted", argv)
    except Exception as error:  # users never see a traceback
        detail = str(error).splitlines()[0] if str(error) else ""
        return _say_failure(f"{PROGRAM}: internal error: {type(error).__name__}: {detail}",
                            argv)
    finally:
        if armed:
            _disarm_watchdog()


def _say_failure(line: str, argv: Sequence[str] | None,
                 log_file: str | None = None, ups: str | None = None) -> int:
    """A failure's one line: on stdout, and to syslog and the log file."""
    record_failure(line.removeprefix(f"{PROGRAM}: "), config_path=_config_argument(argv),
                   log_file=log_file, ups=ups)
    try:
        print(line, flush=True)
    except OSError:  # a closed pipe, a full disk: nowhere left to say it
        return _output_gone()
    return EXIT_FAILED


def _output_gone() -> int:
    """stdout closed under us (e.g. `--status | head -2`): end quietly, and let the
    interpreter's final flush find /dev/null instead of printing a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_FAILED


def _stdout_failed() -> bool:
    """Whether stdout itself is what failed (flushing it fails again)."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError, AttributeError):
        return True
    return False


def _config_argument(argv: Sequence[str] | None) -> str | None:
    """--config FILE from raw arguments (for logging failures before they are parsed)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    for index, argument in enumerate(arguments):
        if argument == "--config" and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith("--config="):
            return argument.split("=", 1)[1]
    return None


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        shown = asked_for(parser, HELP, sys.argv[1:] if argv is None else argv)
        if shown:
            raise shown
        args = parser.parse_args(argv)
        _check_combination(args)
    except HelpShown as shown:
        sys.stdout.write(shown.text)
        return shown.code
    except UsageError as error:
        return _say_failure(f"{PROGRAM}: {error}", argv)
    try:
        config = load_config(args.config)
    except ConfigError as error:
        return _say_failure(f"{PROGRAM}: {error}", argv, ups=args.ups)
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        signal.setitimer(signal.ITIMER_REAL, config.maintenance.budget + WATCHDOG_MARGIN)

    store = StateStore(config.maintenance.state_dir, dry_run=args.dry_run)
    if args.status:
        return _status(config, store, args.json)
    if args.drill:
        return _drill(args, config, argv)

    if not args.retry_pending and args.ups not in config.ups:
        return _say_failure(f"{PROGRAM}: UPS {args.ups!r} is not configured (no "
                            f"[ups.\"{args.ups}\"] table in {args.config})", argv,
                            log_file=config.maintenance.log_file, ups=args.ups)
    refusal = foreign_owner(config.maintenance.state_dir)
    if refusal:
        return _say_failure(f"{PROGRAM}: {refusal}; nothing done", argv, ups=args.ups)
    log = HandlerLog(config.maintenance.log_file, prefix="dry-run: " if args.dry_run else "")
    deadline = time.monotonic() + config.maintenance.budget
    try:
        line, failed = _run(args, config, store, log)
        # After the SCVMM work, with what is left of the budget; never changes the result.
        icinga_note = update_icinga(config, store, log, deadline=deadline, dry_run=args.dry_run)
        line = f"{line}; {icinga_note}" if icinga_note else line
    finally:
        log.close()
    if log.problem:
        line = f"{line}; {log.problem}"
    print(line)
    return EXIT_FAILED if failed else EXIT_OK


def _status(config: Config, store: StateStore, as_json: bool) -> int:
    """--status; exit 1 when state files are unreadable, corrupt or another user's."""
    status = collect_status(config, store)
    problems = access_problems(store.root, writer=False)
    for name in config.ups:  # shown as power "unknown" in the table: say why
        try:
            store.load_ups(name, keep_aside=False)
        except StateError as error:
            problems.append(f"UPS {name}: {error}")
    problems += [f"host {host}: {entry['error']}"
                 for host, entry in _hosts_of(status).items() if entry["phase"] == "failed"
                 and entry["error"] and entry["error"].startswith("state file ")]
    if as_json:
        print(render_json({**status, "errors": problems} if problems else status))
    else:
        print(render_table(status))
        for problem in problems:
            print(f"ERROR: {problem}")
    return EXIT_FAILED if problems else EXIT_OK


def _hosts_of(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {host: entry for ups in status["ups"].values()
            for host, entry in ups["hosts"].items()}


def _drill(args: argparse.Namespace, config: Config, argv: Sequence[str] | None) -> int:
    from check_dell_ups.maintenance.drill import DrillLog, DrillRefused, run_drill

    host = args.drill.lower().rstrip(".")
    refusal = foreign_owner(config.maintenance.state_dir) if args.yes else None
    if refusal:
        return _say_failure(f"{PROGRAM}: {refusal}; nothing done", argv)
    log = DrillLog(config.maintenance.log_file, out=lambda line: print(line, flush=True))
    try:
        passed = run_drill(config, StateStore(config.maintenance.state_dir), host,
                           yes=args.yes, connect=_connector(config), log=log)
    except (DrillRefused, StateError) as error:
        log.quietly(logging.ERROR, f"refused: {error}", host=host)
        print(f"{PROGRAM}: drill of {host} refused: {error}")
        return EXIT_FAILED
    finally:
        log.close()
    return EXIT_OK if passed else EXIT_FAILED


def _check_combination(args: argparse.Namespace) -> None:
    if args.drill or args.yes:
        if not args.drill:
            raise UsageError("--yes goes with --drill")
        if args.status or args.retry_pending or args.ups or args.state or args.json \
                or args.dry_run:
            raise UsageError("--drill takes only --config and --yes")
        return
    if args.status:
        if args.retry_pending or args.ups:
            raise UsageError("--status takes only --config and --json")
        return
    if args.json:
        raise UsageError("--json goes with --status")
    if args.retry_pending:
        if args.ups or args.state:
            raise UsageError("--retry-pending takes only --config (and --dry-run)")
        return
    if not args.ups or not args.state:
        raise UsageError("an event needs --ups and --state (or use --retry-pending or --status)")
    try:
        args.state = normalise_state(args.state)
    except ValueError as error:
        raise UsageError(str(error)) from None
    # State type and attempt are only logged: an odd or empty macro must not stop the
    # handler from acting on the perfdata.
    try:
        args.state_type = normalise_state_type(args.state_type)
    except ValueError:
        args.state_type = f"{args.state_type!r}"
    try:
        args.attempt = int(args.attempt) if args.attempt else None
    except ValueError:
        args.attempt = None


def _run(args: argparse.Namespace, config: Config, store: StateStore,
         log: HandlerLog) -> tuple[str, bool]:
    started = time.monotonic()
    deadline = started + config.maintenance.budget
    connect = _connector(config, deadline)
    try:
        # When the monitoring core handed us the event, on a clock NTP cannot step.
        clock = _steady_clock(store)
        received_at = clock.now()
        if args.retry_pending:
            return retry_pending(config, store, log, connect=connect, deadline=deadline,
                                 dry_run=args.dry_run, clock=clock.now)
        event = Event(ups=args.ups, service_state=args.state, state_type=args.state_type,
                      attempt=args.attempt, metrics=parse_perfdata(args.perfdata))
        log.info(f"event: {event.service_state} {event.state_type} attempt "
                 f"{event.attempt if event.attempt is not None else '-'}; perfdata "
                 f"{args.perfdata!r}", ups=args.ups)
        return handle_event(config, store, log, event, connect=connect, deadline=deadline,
                            dry_run=args.dry_run, now=received_at, clock=clock.now)
    except StateError as error:
        log.error(str(error), ups=args.ups)
        return f"{args.ups or 'retry-pending'}: FAILED: {error}", True


def _steady_clock(store: StateStore) -> SteadyClock:
    """The clock anchor of this boot (taken, and stored, by the first call of a boot)."""
    wall = datetime.now(timezone.utc)
    with store.events_locked(EVENTS_LOCK_WAIT):
        stored = store.load_clock_anchor()
        anchor, new = current_anchor(stored, boot_id(), wall, boottime())
        if new and anchor is not None:
            with contextlib.suppress(StateError):  # unstored: the next call takes another
                store.save_clock_anchor(anchor)
    return SteadyClock(anchor, wall=lambda: datetime.now(timezone.utc))


# The events lock is held for file I/O only (read, decide, write one UPS record).
EVENTS_LOCK_WAIT = 5.0


def handle_event(config: Config, store: StateStore, log: HandlerLog, event: Event, *,
                 connect: Callable[[], ScvmmDriver], deadline: float, dry_run: bool = False,
                 now: datetime | None = None, **reconciler_options: Any) -> tuple[str, bool]:
    """One event: decide and store the UPS record at once (the event is durable before
    anything else happens, and never waits behind another call's SCVMM work), then
    reconcile the UPS's hosts, each under its own lock.
    Returns the summary line and whether something failed."""
    ups = event.ups
    now = now or datetime.now(timezone.utc)
    try:
        with store.events_locked(EVENTS_LOCK_WAIT):
            recorded = _record_event(config, store, log, event, now)
    except StateError as error:
        message = f"{error}; nothing done for UPS {ups}"
        log.error(message, ups=ups)
        return f"{ups}: FAILED: {message}", True
    if isinstance(recorded, str):  # superseded
        return recorded, False
    decision, errors = recorded
    if store.reserve_note:
        errors.append(store.reserve_note)

    reconciler = Reconciler(config=config, store=store, log=log, connect=connect,
                            deadline=deadline, dry_run=dry_run, ups=ups, follow_power=True,
                            **reconciler_options)
    outcome = reconciler.run(decision.targets, decision.modes)
    outcome.errors[:0] = errors
    return _summary(f"{ups}: {decision.summary}", list(config.ups[ups].hosts), outcome,
                    dry_run,
                    show_hosts=any(target != TARGET_HOLD for target in decision.targets.values())
                    or bool(outcome.actions) or bool(outcome.errors))


def _record_event(config: Config, store: StateStore, log: HandlerLog, event: Event,
                  now: datetime) -> str | tuple[Decision, list[str]]:
    """Under the events lock: decide and store the UPS record. The summary line when a
    newer event of this UPS was stored already."""
    ups = event.ups
    errors: list[str] = []
    own_record = store.load_ups(ups)
    if _superseded(own_record, now, config.maintenance.budget):
        # Calls overlap when the check interval is shorter than a call: an older event
        # must not undo a newer one (a CRITICAL stored after the OK would put the hosts
        # back into maintenance on mains). Times are from the steady clock.
        message = (f"event of {now.isoformat(timespec='seconds')} superseded by the newer "
                   f"event of {own_record.last_event_at.isoformat(timespec='seconds')}"
                   if own_record.last_event_at else "event superseded")
        log.info(f"decision: {message}: nothing done", ups=ups)
        return f"{ups}: {message}: nothing done"
    stored: dict[str, UpsRecord] = {ups: own_record}
    for host in config.ups[ups].hosts:
        for other in config.ups_of_host(host):
            if other in stored:
                continue
            try:
                stored[other] = store.load_ups(other)
            except StateError as error:
                # Counts as not calling for maintenance, like a UPS never heard from.
                errors.append(str(error))
                log.error(f"{error}; UPS {other} counts as on mains", ups=other)
                stored[other] = UpsRecord()
    decision = decide(event, stored, config, now)
    for reason in decision.reasons:
        log.info(f"decision: {reason}", ups=ups)
    store.save_ups(ups, decision.ups_record)
    return decision, errors


def _superseded(record: UpsRecord, received_at: datetime, budget: float) -> bool:
    """True when a newer event of this UPS was already handled. An event can be older
    than the last one by at most the time it waited for the events lock (< budget); a
    larger gap means the clock was set back across a reboot, and then the event is
    handled as usual."""
    if record.last_event_at is None:
        return False
    lead = (record.last_event_at - received_at).total_seconds()
    return 0 < lead <= 2 * budget


def retry_pending(config: Config, store: StateStore, log: HandlerLog, *,
                  connect: Callable[[], ScvmmDriver], deadline: float, dry_run: bool = False,
                  **reconciler_options: Any) -> tuple[str, bool]:
    """--retry-pending, under the lock: finish every host record's unfinished work."""
    power, hosts, errors = store.load_all(config.ups, config.all_hosts())
    targets = pending_targets_of(config, power, hosts)
    for error in errors:
        log.error(error)
    if store.reserve_note:
        errors.append(store.reserve_note)
    if not targets:
        line = "retry-pending: nothing pending"
        if errors:
            return f"{line}; FAILED: {'; '.join(errors)}", True
        return line, False
    log.info(f"retry-pending: {', '.join(f'{h} -> {t}' for h, t in targets.items())}")
    reconciler = Reconciler(config=config, store=store, log=log, connect=connect,
                            deadline=deadline, dry_run=dry_run, **reconciler_options)
    outcome = reconciler.run(targets, {})
    outcome.errors[:0] = errors
    return _summary(f"retry-pending: {len(targets)} host(s) with pending work",
                    list(targets), outcome, dry_run, show_hosts=True)


def _summary(head: str, hosts: list[str], outcome: Outcome, dry_run: bool,
             show_hosts: bool) -> tuple[str, bool]:
    parts = [("dry-run: " if dry_run else "") + head]
    records = outcome.records
    if show_hosts and records:
        by_phase: dict[str, list[str]] = {}
        for host in hosts:
            if host in records:
                by_phase.setdefault(records[host].phase, []).append(host)
        if by_phase:
            parts.append("hosts " + ", ".join(
                f"{phase}: {_names(names)}" for phase, names in by_phase.items()))
    if dry_run and outcome.actions:
        parts.append(", ".join(outcome.actions))
    if outcome.busy:
        parts.append(f"busy with another call: {_names(outcome.busy)} (that call, or the "
                     "next --retry-pending, finishes them)")
    if outcome.in_progress:
        parts.append("in progress: jobs still running, the next call resumes")
    if outcome.errors:
        parts.append("FAILED: " + "; ".join(outcome.errors))
    return "; ".join(parts), bool(outcome.errors)


def _names(names: list[str], shown: int = 4) -> str:
    """A few names, then a count: the summary stays one readable line."""
    if len(names) <= shown:
        return " ".join(names)
    return f"{' '.join(names[:shown])} and {len(names) - shown} more"


def _connector(config: Config, deadline: float | None = None) -> Callable[[], ScvmmDriver]:
    def connect() -> ScvmmDriver:
        try:
            password = read_password(config.scvmm)
        except ConfigError as error:
            raise ScvmmError(str(error)) from None
        scvmm = config.scvmm
        endpoint = ScvmmEndpoint(
            server=scvmm.server, port=scvmm.port, use_tls=scvmm.transport == "https",
            auth=scvmm.auth, username=scvmm.username, password=password,
            cert_validation=scvmm.cert_validation,
            operation_timeout=min(10.0, max(3.0, config.maintenance.budget / 5)),
            vmm_server=scvmm.vmm_server,
        )
        try:
            # Imported here: --status and config errors never load pypsrp.
            from check_dell_ups.maintenance.scvmm import open_driver
        except ImportError as error:
            raise ScvmmError(f"the SCVMM driver cannot be loaded: {error}") from None
        try:
            # No request may outlive the budget, however slowly SCVMM answers.
            return open_driver(endpoint, deadline=deadline)
        except ScvmmError:
            raise
        except Exception as error:  # one line, no traceback
            raise ScvmmError(f"cannot open an SCVMM session: {type(error).__name__}") from None

    return connect


# The readiness check and the drill connect exactly as the handler does.
connector = _connector
