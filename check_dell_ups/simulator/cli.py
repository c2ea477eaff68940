"""dell_ups_simulator: run the simulated UPS, or drive a running one (`ctl`).

dell_ups_simulator [--host 127.0.0.1] --port 1161 [--control-port 8161] ...
dell_ups_simulator ctl --control-port 8161 {status,mains-off,mains-on,card-reboot,
                                            set-load N,set-charge N,alarm NAME on|off,
                                            self-test,calibrate,stale-counter N}
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any, NoReturn

PROGRAM = "dell_ups_simulator"
AUTH_PASSPHRASE_ENV = "DELL_UPS_SIM_AUTH_PASSPHRASE"
PRIV_PASSPHRASE_ENV = "DELL_UPS_SIM_PRIV_PASSPHRASE"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
TEST_COMMANDS = {"self-test": "self-test", "calibrate": "calibration"}  # ctl -> model kind


class UsageError(Exception):
    """Bad arguments: one line to stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        if arguments[:1] == ["ctl"]:
            return _control_client(_parse_ctl(arguments[1:]))
        return _serve(_parse_serve(arguments))
    except UsageError as error:
        print(f"{PROGRAM}: error: {error} (see --help)", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, RuntimeError, ValueError) as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK


# ----- serve ---------------------------------------------------------------------------


def _parse_serve(arguments: list[str]) -> argparse.Namespace:
    parser = _Parser(
        prog=PROGRAM,
        description="A simulated Dell UPS (SNMP agent v1/v2c/v3) with an HTTP control port. "
        f"SNMPv3 passphrases come from ${AUTH_PASSPHRASE_ENV} and ${PRIV_PASSPHRASE_ENV}. "
        f"'{PROGRAM} ctl --help' drives a running simulator.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, required=True, help="UDP port of the agent")
    parser.add_argument("--control-port", type=_port, help="TCP port of the HTTP control")
    parser.add_argument("--community", default="public", help="v1/v2c community")
    parser.add_argument("--v3-user", help="SNMPv3 user name")
    parser.add_argument(
        "--v3-auth",
        default="SHA",
        type=str.upper,
        choices=["NONE", "MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"],
    )
    parser.add_argument(
        "--v3-priv",
        default="AES",
        type=str.upper,
        choices=["NONE", "DES", "AES", "AES192", "AES256"],
    )
    parser.add_argument("--full-runtime", type=int, default=1800, help="seconds at full charge")
    parser.add_argument("--load", type=float, default=35.0, help="output load, %%")
    parser.add_argument("--drain-speed", type=float, default=1.0, help="battery drain speed-up")
    parser.add_argument("--low-battery-minutes", type=int, default=3, help="upsConfigLowBattTime")
    parser.add_argument(
        "--no-dell-mib",
        dest="dell_mib",
        action="store_false",
        help="serve a plain RFC 1628 UPS, without the DELL-SNMP-UPS-MIB",
    )
    options = parser.parse_args(arguments)
    if options.full_runtime <= 0:
        parser.error("--full-runtime must be positive")
    if options.drain_speed <= 0:
        parser.error("--drain-speed must be positive")
    if not 0 <= options.load <= 200:
        parser.error("--load must be between 0 and 200")
    return options


def _port(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {number}")
    return number


def _v3_users(options: argparse.Namespace) -> tuple[Any, ...]:
    from check_dell_ups.simulator.agent import V3User

    if not options.v3_user:
        return ()
    auth = None if options.v3_auth == "NONE" else options.v3_auth
    priv = None if options.v3_priv == "NONE" or auth is None else options.v3_priv
    auth_passphrase = os.environ.get(AUTH_PASSPHRASE_ENV) or None
    priv_passphrase = os.environ.get(PRIV_PASSPHRASE_ENV) or None
    if auth and not auth_passphrase:
        raise UsageError(f"--v3-auth {auth} needs the passphrase in ${AUTH_PASSPHRASE_ENV}")
    if priv and not priv_passphrase:
        raise UsageError(f"--v3-priv {priv} needs the passphrase in ${PRIV_PASSPHRASE_ENV}")
    return (V3User(options.v3_user, auth, auth_passphrase, priv, priv_passphrase),)


def _serve(options: argparse.Namespace) -> int:
    from check_dell_ups.simulator.agent import UpsSimulator

    stop_requested = threading.Event()

    def request_stop(_signal: int, _frame: object) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    simulator = UpsSimulator(
        host=options.host,
        port=options.port,
        community=options.community,
        v3_users=_v3_users(options),
        full_runtime=options.full_runtime,
        load=options.load,
        control_port=options.control_port,
        drain_speed=options.drain_speed,
        low_battery_minutes=options.low_battery_minutes,
        dell_mib=options.dell_mib,
    )
    simulator.start()
    try:
        control = (
            f" control http://127.0.0.1:{simulator.control_port}"
            if simulator.control_port is not None
            else ""
        )
        print(
            f"{PROGRAM} listening on udp {options.host}:{simulator.port}{control}",
            flush=True,
        )
        while not stop_requested.wait(0.5):
            pass
    finally:
        simulator.stop()
    return EXIT_OK


# ----- ctl -----------------------------------------------------------------------------


def _parse_ctl(arguments: list[str]) -> argparse.Namespace:
    parser = _Parser(prog=f"{PROGRAM} ctl", description="Drive a running simulator.")
    parser.add_argument("--control-port", type=_port, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands.add_parser("status", help="print the state as JSON")
    commands.add_parser("mains-off", help="cut the mains power")
    commands.add_parser("mains-on", help="restore the mains power")
    commands.add_parser("card-reboot", help="reboot the management card")
    set_load = commands.add_parser("set-load", help="set the output load, %%")
    set_load.add_argument("percent", type=float)
    set_charge = commands.add_parser("set-charge", help="set the battery charge, %%")
    set_charge.add_argument("percent", type=float)
    set_temperature = commands.add_parser("set-temperature", help="set the probe temperature")
    set_temperature.add_argument("celsius", type=float)
    for command, seconds, what in (("self-test", 10.0, "a battery test"),
                                   ("calibrate", 600.0, "a runtime calibration")):
        test = commands.add_parser(
            command, help=f"run {what}: the load on battery with the mains present")
        test.add_argument("--seconds", type=float, default=seconds,
                          help=f"how long it runs (default {seconds:g})")
        test.add_argument("--fail", action="store_true", help="let it end failed")
    stale = commands.add_parser(
        "stale-counter", help="the next outage's counter first reads an earlier one's")
    stale.add_argument("seconds", type=int)
    stale.add_argument("--for-seconds", type=float, default=5.0,
                       help="how long it reads so (default 5)")
    alarm = commands.add_parser("alarm", help="raise or clear a named alarm")
    alarm.add_argument("name")
    alarm.add_argument("switch", choices=["on", "off"])
    return parser.parse_args(arguments)


def _control_client(options: argparse.Namespace) -> int:
    base = f"http://{options.host}:{options.control_port}"
    requests: dict[str, tuple[str, dict[str, Any] | None]] = {
        "status": ("/state", None),
        "mains-off": ("/mains/off", {}),
        "mains-on": ("/mains/on", {}),
        "card-reboot": ("/card/reboot", {}),
    }
    if options.command == "set-load":
        requests["set-load"] = ("/set", {"load": options.percent})
    elif options.command == "set-charge":
        requests["set-charge"] = ("/set", {"charge": options.percent})
    elif options.command == "set-temperature":
        requests["set-temperature"] = ("/set", {"temperature": options.celsius})
    elif options.command in TEST_COMMANDS:
        requests[options.command] = ("/test", {"kind": TEST_COMMANDS[options.command],
                                               "seconds": options.seconds,
                                               "fails": options.fail})
    elif options.command == "stale-counter":
        requests["stale-counter"] = ("/stale-counter", {"seconds": options.seconds,
                                                        "for_seconds": options.for_seconds})
    elif options.command == "alarm":
        requests["alarm"] = ("/alarm", {"name": options.name, "active": options.switch == "on"})
    path, body = requests[options.command]
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path, data=data, method="GET" if body is None else "POST"
    )
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=options.timeout) as response:
            state = json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = _error_detail(error)
        print(f"{PROGRAM} ctl: error: {detail}", file=sys.stderr)
        return EXIT_FAILURE
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        print(f"{PROGRAM} ctl: error: cannot reach {base}: {reason}", file=sys.stderr)
        return EXIT_FAILURE
    if options.command == "status":
        print(json.dumps(state, indent=2, sort_keys=True))
    else:
        print(
            f"ok: mains {'on' if state['mains'] else 'off'}, "
            f"charge {state['charge']:g} %, runtime {state['runtime']} s, "
            f"load {state['load']:g} %, alarms {','.join(state['alarms']) or 'none'}"
            + (f", {state['test']} running" if state.get("test") else "")
        )
    return EXIT_OK


def _error_detail(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(error.read())["error"])
    except (ValueError, KeyError, TypeError, OSError):
        return f"HTTP {error.code}"


if __name__ == "__main__":
    sys.exit(main())
