"""check_dell_ups: the Monitoring Plugins command line (DESIGN.md "check_dell_ups command
line"). A thin shell: arguments -> one fetch() -> normalise -> judge -> print -> exit.

Kept light to import: the SNMP client is imported only after the arguments are good.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn

from nagiosplugin import guarded

from check_dell_ups.extra_opts import ExtraOptsError, expand
from check_dell_ups.output import unknown
from check_dell_ups.program_help import HelpShown, ProgramText, add_help_and_version, asked_for
from check_dell_ups.thresholds import (
    DEFAULT_MAINTENANCE_TIMER,
    LABELS,
    ThresholdError,
    build,
    parse_override,
)

UNKNOWN_EXIT = 3
DEFAULT_TIMEOUT = 10.0
MIN_PASSPHRASE = 8  # RFC 3414: USM passphrases have at least 8 characters
AUTH_PROTOCOLS = ("MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")
PRIV_PROTOCOLS = ("DES", "AES", "AES192", "AES256")
SECURITY_LEVELS = ("noAuthNoPriv", "authNoPriv", "authPriv")
SECRET_ENVIRONMENT = {
    "community": "DELL_UPS_COMMUNITY",
    "auth_passphrase": "DELL_UPS_AUTH_PASSPHRASE",
    "priv_passphrase": "DELL_UPS_PRIV_PASSPHRASE",
}


class UsageError(Exception):
    """Bad arguments: one line, exit 3."""


class PluginArgumentParser(argparse.ArgumentParser):
    """argparse that reports errors the Monitoring Plugins way: one line, exit 3."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


class _DeadlineError(Exception):
    """The safety net around the whole run fired."""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: '{text}'") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds: '{text}'")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"not a port number: '{text}'")
    return int(text)


def _timer(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: '{text}'") from None
    if value < -1:
        raise argparse.ArgumentTypeError("must be -1 (never) or a number of seconds >= 0")
    return value


def _choice(choices: Sequence[str]):
    """Case-insensitive choice that returns the canonical spelling."""
    canonical = {choice.lower(): choice for choice in choices}

    def convert(text: str) -> str:
        try:
            return canonical[text.lower()]
        except KeyError:
            raise argparse.ArgumentTypeError(
                f"'{text}' is not one of {', '.join(choices)}") from None

    return convert


PROGRAM = ProgramText(
    name="check_dell_ups",
    summary="check a Dell or RFC 1628 UPS over SNMP (Icinga 2 / Nagios plugin)",
    description="Check a Dell (or any RFC 1628) UPS over SNMP: power source, time on "
                "battery against the maintenance timer, charge, runtime, load, "
                "temperature, alarms and self-test. CRITICAL once on battery for the "
                "maintenance timer (the event handler dell_ups_maintenance acts on it).",
    synopsis=("check_dell_ups -H HOSTNAME [-P 1|2c] [-C COMMUNITY] [OPTION]...",
              "check_dell_ups -H HOSTNAME -P 3 -U SECNAME [OPTION]..."),
    examples=(
        ("check_dell_ups -H ups1 --extra-opts=ups1@/etc/icinga2/dell_ups.ini",
         "SNMP v2c, the community read from section [ups1] of a file only the monitoring "
         "user can read (community = ...): no secret in argv."),
        ("check_dell_ups -H ups1 -P 3 -U monitor -a SHA256 -x AES",
         "SNMPv3 authPriv, the passphrases from the environment (DELL_UPS_AUTH_PASSPHRASE, "
         "DELL_UPS_PRIV_PASSPHRASE: Icinga's `env`) or from an --extra-opts file."),
        ("check_dell_ups -H ups1 --maintenance-timer 600 -w charge=50: -c runtime=300:",
         "CRITICAL after 10 minutes on battery; WARNING below 50 % charge; CRITICAL below "
         "5 minutes of runtime."),
    ),
    notes=(
        ("Secrets", "Secrets may also come from the environment: DELL_UPS_COMMUNITY, "
                    "DELL_UPS_AUTH_PASSPHRASE, DELL_UPS_PRIV_PASSPHRASE (empty = unset; a "
                    "command-line value wins), or from an ini file with --extra-opts."),
        ("Thresholds", f"Labels for -w/-c: {', '.join(LABELS)}. Ranges as in the "
                       "Monitoring Plugins guidelines (10, 10:, ~:10, 10:20, @10:20)."),
        ("Exit codes", "0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also after --help and "
                       "--version, as the Monitoring Plugins guidelines ask)."),
    ),
)


def make_parser() -> PluginArgumentParser:
    parser = PluginArgumentParser(prog=PROGRAM.name, add_help=False)
    add_help_and_version(parser, PROGRAM)
    add = parser.add_argument
    add("-H", "--hostname", required=True, help="UPS address (name or IP)")
    add("-p", "--port", type=_port, default=161, help="SNMP port (default 161)")
    add("-P", "--protocol", type=_choice(("1", "2c", "3")), default="2c",
        help="SNMP version: 1, 2c or 3 (default 2c)")
    add("-C", "--community", help="SNMPv1/v2c community (default public; better: env "
        "DELL_UPS_COMMUNITY)")
    add("-U", "--secname", help="SNMPv3 user (security name)")
    add("-L", "--seclevel", type=_choice(SECURITY_LEVELS),
        help="SNMPv3 security level (default: from the passphrases given)")
    add("-a", "--authproto", type=_choice(AUTH_PROTOCOLS),
        help="SNMPv3 auth protocol (default SHA)")
    add("-A", "--authpasswd", help="SNMPv3 auth passphrase (better: env "
        "DELL_UPS_AUTH_PASSPHRASE)")
    add("-x", "--privproto", type=_choice(PRIV_PROTOCOLS),
        help="SNMPv3 privacy protocol (default AES)")
    add("-X", "--privpasswd", help="SNMPv3 privacy passphrase (better: env "
        "DELL_UPS_PRIV_PASSPHRASE)")
    add("--maintenance-timer", type=_timer, default=DEFAULT_MAINTENANCE_TIMER,
        metavar="SECONDS", help="on battery this long: CRITICAL (default 300; -1 = never)")
    add("-w", "--warning", action="append", default=[], metavar="LABEL=RANGE",
        help="warning range for a perfdata label (repeatable)")
    add("-c", "--critical", action="append", default=[], metavar="LABEL=RANGE",
        help="critical range for a perfdata label (repeatable)")
    add("-t", "--timeout", type=_positive_float, default=DEFAULT_TIMEOUT,
        help="seconds for the whole SNMP exchange (default 10)")
    add("-v", "--verbose", action="count", default=0,
        help="long output: identity, every value, alarms by name (-vvv: raw SNMP values)")
    # Expanded before parsing (extra_opts.expand); declared here for --help.
    add("--extra-opts", metavar="[SECTION][@FILE]",
        help="read options from an ini file's section (default section check_dell_ups), "
             "e.g. the community: keep secrets out of argv; the file must not be "
             "readable by others")
    return parser


def _secret(given: str | None, variable: str) -> str | None:
    if given:
        return given
    return os.environ.get(variable) or None


def make_target(args: argparse.Namespace):
    """SnmpTarget from the arguments and the environment; UsageError if inconsistent."""
    from check_dell_ups.snmp.target import SnmpTarget

    community = _secret(args.community, SECRET_ENVIRONMENT["community"]) or "public"
    if args.protocol != "3":
        return SnmpTarget(host=args.hostname, port=args.port, version=args.protocol,
                          community=community, timeout=args.timeout)
    auth = _secret(args.authpasswd, SECRET_ENVIRONMENT["auth_passphrase"])
    priv = _secret(args.privpasswd, SECRET_ENVIRONMENT["priv_passphrase"])
    if not args.secname:
        raise UsageError("SNMPv3 needs a user: -U SECNAME")
    level = args.seclevel or ("authPriv" if priv else "authNoPriv" if auth else "noAuthNoPriv")
    if level != "noAuthNoPriv" and not auth:
        raise UsageError(f"SNMPv3 {level} needs an auth passphrase "
                         "(-A or DELL_UPS_AUTH_PASSPHRASE)")
    if level == "authPriv" and not priv:
        raise UsageError("SNMPv3 authPriv needs a privacy passphrase "
                         "(-X or DELL_UPS_PRIV_PASSPHRASE)")
    for what, passphrase in (("auth", auth), ("privacy", priv)):
        if passphrase is not None and len(passphrase) < MIN_PASSPHRASE:
            raise UsageError(f"the SNMPv3 {what} passphrase needs at least "
                             f"{MIN_PASSPHRASE} characters")
    uses_auth = level != "noAuthNoPriv"
    uses_priv = level == "authPriv"
    return SnmpTarget(
        host=args.hostname, port=args.port, version="3", user=args.secname,
        security_level=level,
        auth_protocol=(args.authproto or "SHA") if uses_auth else None,
        auth_passphrase=auth if uses_auth else None,
        priv_protocol=(args.privproto or "AES") if uses_priv else None,
        priv_passphrase=priv if uses_priv else None,
        timeout=args.timeout,
    )


def _finish(text: str, code: int) -> NoReturn:
    sys.stdout.write(text)
    sys.stdout.flush()
    sys.exit(code)


def run(argv: Sequence[str] | None = None) -> tuple[str, int]:
    """One run of the plugin: (output text, exit code). Never raises."""
    try:
        arguments = expand(sys.argv[1:] if argv is None else argv, "check_dell_ups")
    except ExtraOptsError as error:
        return unknown(str(error)), UNKNOWN_EXIT
    parser = make_parser()
    shown = asked_for(parser, PROGRAM, arguments)
    if shown:
        return shown.text, shown.code
    try:
        args = parser.parse_args(arguments)
        thresholds = build(args.warning, args.critical, args.maintenance_timer)
        target = make_target(args)
    except HelpShown as shown:  # e.g. -vV: found by argparse, not by asked_for
        return shown.text, shown.code
    except (UsageError, ThresholdError) as error:
        return unknown(f"bad arguments: {error} (see --help)"), UNKNOWN_EXIT

    def deadline(signum: int, frame: object) -> NoReturn:
        raise _DeadlineError

    # A safety net only: fetch() itself ends within the timeout. (Signals work in the
    # main thread only; run() elsewhere simply has no net.)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGALRM, deadline)
        signal.setitimer(signal.ITIMER_REAL, args.timeout + 1.0)
    try:
        return _read_and_judge(args, target, thresholds)
    except _DeadlineError:
        return unknown(f"no SNMP response from {target.address} within "
                       f"{args.timeout:g} s"), UNKNOWN_EXIT
    except Exception as error:  # the last guard: one line, never a traceback
        return unknown(f"internal error ({type(error).__name__})"), UNKNOWN_EXIT
    finally:
        if previous is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def _read_and_judge(args: argparse.Namespace, target, thresholds) -> tuple[str, int]:
    from check_dell_ups.judgement import build_check
    from check_dell_ups.output import render
    from check_dell_ups.reading import NotAUpsError, normalise, request
    from check_dell_ups.snmp.client import fetch
    from check_dell_ups.snmp.errors import SnmpError

    scalars, columns = request()
    try:
        raw = fetch(target, scalars, columns)
    except SnmpError as error:
        message = str(error) or type(error).__name__
        if target.host not in message:  # say which UPS, unless the message does
            message = f"{target.address}: {message}"
        return unknown(message), UNKNOWN_EXIT
    try:
        reading = normalise(raw)
    except NotAUpsError as error:
        return unknown(f"not a UPS: {target.address} has {error}"), UNKNOWN_EXIT
    # The timer sets on_battery's critical range unless -c on_battery=... replaced it.
    timer_critical = not any(parse_override(text)[0] == "on_battery" for text in args.critical)
    check = build_check(reading, thresholds, args.maintenance_timer, timer_critical)
    check()
    return render(check, reading, args.verbose), check.exitcode


@guarded(verbose=0)
def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The console script."""
    try:
        text, code = run(argv)
    except KeyboardInterrupt:
        text, code = unknown("interrupted"), UNKNOWN_EXIT
    _finish(text, code)
