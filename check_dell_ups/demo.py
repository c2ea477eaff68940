"""dell_ups_demo: the whole story on built-in simulators, in about a minute.

A simulated Dell UPS loses mains power; check_dell_ups reports WARNING, then CRITICAL
when the (short) maintenance timer runs out; the event handler dell_ups_maintenance has
a fake SCVMM put the Hyper-V hosts fed by that UPS into maintenance mode; power comes
back and the hosts leave maintenance. The real programs run as subprocesses.

    dell_ups_demo             the monitoring core's part played by this script, with the
                              rules of the volatile automation service
    dell_ups_demo --icinga    the same through a real Icinga 2 in a sandbox
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from check_dell_ups.demo_console import HandlerLog, Narrator, ScvmmWatcher
from check_dell_ups.demo_world import (
    FED_HOSTS,
    SCVMM_PASSWORD,
    SCVMM_USER,
    UPS_NAME,
    Workspace,
    inventory,
)

STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
PASSWORD_ENV = "DELL_UPS_SCVMM_PASSWORD"


class DemoError(Exception):
    """One-line reason the demo could not go on."""


class Stopped(Exception):  # noqa: N818 - a signal, not an error
    """SIGTERM arrived: clean up like on Ctrl-C."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="dell_ups_demo",
        description="UPS power cut -> Hyper-V hosts into SCVMM maintenance -> power back, "
                    "on a simulated Dell UPS and a fake SCVMM.",
    )
    parser.add_argument("--icinga", action="store_true",
                        help="run the story through a real Icinga 2 sandbox")
    parser.add_argument("--timer", type=int, default=20,
                        help="maintenance timer in seconds (default 20)")
    parser.add_argument("--interval", type=float, default=3.0,
                        help="seconds between checks (default 3)")
    parser.add_argument("--drain-speed", type=float, default=20.0,
                        help="battery drain speed of the simulated UPS (default 20x)")
    parser.add_argument("--job-seconds", type=float, default=2.0,
                        help="how long each fake SCVMM job takes (default 2)")
    args = parser.parse_args(argv)
    if args.timer < 1 or args.interval <= 0 or args.drain_speed <= 0 or args.job_seconds < 0:
        parser.error("timer, interval and drain speed must be positive")
    return args


def program(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    raise DemoError(f"{name} is not installed beside {sys.executable}: run 'make install'")


@dataclass
class CheckResult:
    code: int
    output: str
    perfdata: str

    @property
    def state(self) -> str:
        return STATES.get(self.code, "UNKNOWN")

    @property
    def summary(self) -> str:
        return self.output.split(" | ", 1)[0]


class PlainMonitor:
    """Plays the monitoring core: runs the check every interval and calls the handler
    as the volatile automation service would (every non-OK result, and recovery)."""

    def __init__(self, ups_port: int, timer: int, config: Path, *, narrator: Narrator,
                 handler_log: HandlerLog, env: dict[str, str]) -> None:
        self.ups_port = ups_port
        self.timer = timer
        self.config = config
        self.narrator = narrator
        self.handler_log = handler_log
        self.env = env
        self.last_state = "OK"

    def check(self) -> CheckResult:
        completed = subprocess.run(
            [program("check_dell_ups"), "-H", "127.0.0.1", "-p", str(self.ups_port),
             "--maintenance-timer", str(self.timer), "-t", "5"],
            capture_output=True, text=True, timeout=30, env=self.env, check=False,
        )
        first_line = (completed.stdout.splitlines() or ["(no output)"])[0]
        perfdata = first_line.split(" | ", 1)[1] if " | " in first_line else ""
        return CheckResult(completed.returncode, first_line, perfdata)

    def handle(self, result: CheckResult) -> None:
        completed = subprocess.run(
            [program("dell_ups_maintenance"), "--config", str(self.config),
             "--ups", UPS_NAME, "--state", result.state, "--state-type", "HARD",
             "--attempt", "1", "--perfdata", result.perfdata],
            capture_output=True, text=True, timeout=90, env=self.env, check=False,
        )
        summary = (completed.stdout.strip().splitlines() or ["(no output)"])[0]
        self.narrator.say(f"  handler (exit {completed.returncode}): {summary}")
        self.narrator.block(self.handler_log.new_actions())

    def round(self) -> CheckResult:
        result = self.check()
        self.narrator.say(f"check: {result.summary}")
        if result.state != "OK" or self.last_state != "OK":
            self.handle(result)
        self.last_state = result.state
        return result


@contextmanager
def _signals_stop_the_demo() -> Iterator[None]:
    """SIGINT and SIGTERM end the demo through the clean-up path, even when started in
    the background (where a shell leaves SIGINT ignored)."""
    def stop(_signum: int, _frame: object) -> None:
        raise Stopped

    previous = {number: signal.signal(number, stop)
                for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextmanager
def simulators(args: argparse.Namespace, narrator: Narrator) -> Iterator[tuple[Any, Any]]:
    """The simulated UPS and the fake SCVMM, both stopped on the way out."""
    try:
        from check_dell_ups.fake_scvmm.server import FakeScvmm
        from check_dell_ups.simulator.agent import UpsSimulator
    except ImportError as error:
        raise DemoError(f"a part of check_dell_ups is missing: {error}") from None
    ups = UpsSimulator(drain_speed=args.drain_speed, full_runtime=1800, load=35.0)
    fake = FakeScvmm(inventory(), username=SCVMM_USER, password=SCVMM_PASSWORD,
                     job_seconds=args.job_seconds)
    ups.start()
    try:
        fake.start()
        try:
            narrator.say(f"simulated Dell UPS {UPS_NAME!r} answers SNMP on 127.0.0.1:{ups.port}")
            narrator.say(f"fake SCVMM (WinRM/PSRP) listens on {fake.url}")
            yield ups, fake
        finally:
            fake.stop()
    finally:
        ups.stop()


def wait_until(condition: Callable[[], bool], timeout: float, step: Callable[[], Any],
               interval: float, what: str) -> None:
    """Run step() every interval until condition() holds; DemoError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        began = time.monotonic()
        step()
        if condition():
            return
        if time.monotonic() > deadline:
            raise DemoError(f"gave up waiting: {what} did not happen within {timeout:.0f} s")
        time.sleep(max(0.0, interval - (time.monotonic() - began)))


def run_plain(args: argparse.Namespace, narrator: Narrator) -> int:
    narrator.heading("set-up")
    with Workspace() as workspace, simulators(args, narrator) as (ups, fake):
        config = workspace.write_handler_config(fake.port, timer=args.timer, budget=15)
        narrator.say(f"handler config {config} (timer {args.timer} s; password via "
                     f"env {PASSWORD_ENV})")
        env = dict(os.environ, **{PASSWORD_ENV: SCVMM_PASSWORD})
        monitor = PlainMonitor(ups.port, args.timer, config, narrator=narrator,
                               handler_log=HandlerLog(workspace.handler_log), env=env)
        watcher = ScvmmWatcher(fake, narrator)
        watcher.show("before the outage", force=True)

        narrator.heading("on mains")
        for _ in range(2):
            monitor.round()
            time.sleep(args.interval)

        narrator.heading(f"mains power cut: the {args.timer} s maintenance timer starts")
        ups.cut_mains()

        def all_in_maintenance() -> bool:
            flags = watcher.flags()
            return all(flags[host] for host in FED_HOSTS)

        def round_and_view() -> None:
            monitor.round()
            watcher.show("now")

        wait_until(all_in_maintenance, args.timer + 90, round_and_view, args.interval,
                   "maintenance of every host fed by the UPS")
        narrator.say(f"every host fed by {UPS_NAME} is in maintenance mode")

        narrator.heading("mains power restored")
        ups.restore_mains()

        def none_in_maintenance() -> bool:
            flags = watcher.flags()
            return not any(flags[host] for host in FED_HOSTS)

        wait_until(none_in_maintenance, 90, round_and_view, args.interval,
                   "the hosts leaving maintenance")
        narrator.say(f"every host fed by {UPS_NAME} has left maintenance mode")
        show_handler_status(config, env, narrator)
    narrator.heading("done: simulators stopped, temporary files removed")
    return 0


def handler_phases(config: Path, env: dict[str, str]) -> dict[str, str]:
    """host -> phase, by the handler's own record (dell_ups_maintenance --status --json)."""
    completed = subprocess.run(
        [program("dell_ups_maintenance"), "--config", str(config), "--status", "--json"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    try:
        hosts = json.loads(completed.stdout)["ups"][UPS_NAME]["hosts"]
    except (ValueError, KeyError, TypeError):
        return {}
    return {host: details.get("phase", "") for host, details in hosts.items()}


def retry_pending(config: Path, env: dict[str, str], narrator: Narrator) -> None:
    """What the shipped systemd timer runs: finish work no further event will trigger."""
    completed = subprocess.run(
        [program("dell_ups_maintenance"), "--config", str(config), "--retry-pending"],
        capture_output=True, text=True, timeout=90, env=env, check=False,
    )
    summary = (completed.stdout.strip().splitlines() or ["(no output)"])[0]
    narrator.say(f"retry timer: dell_ups_maintenance --retry-pending (exit "
                 f"{completed.returncode}): {summary}")


def show_handler_status(config: Path, env: dict[str, str], narrator: Narrator) -> None:
    completed = subprocess.run(
        [program("dell_ups_maintenance"), "--config", str(config), "--status"],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    narrator.say("dell_ups_maintenance --status:")
    narrator.block(completed.stdout.rstrip().splitlines())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    narrator = Narrator()
    try:
        with _signals_stop_the_demo():
            if args.icinga:
                from check_dell_ups.demo_icinga import run_icinga

                return run_icinga(args, narrator)
            return run_plain(args, narrator)
    except (KeyboardInterrupt, Stopped):
        narrator.say("interrupted: simulators and daemons stopped, temporary files removed")
        return 130
    except DemoError as error:
        narrator.say(f"demo failed: {error}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
