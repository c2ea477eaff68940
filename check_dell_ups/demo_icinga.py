"""dell_ups_demo --icinga: the demo's story through a real Icinga 2 in a sandbox.

Icinga loads the shipped icinga-conf/ (CheckCommand, EventCommand, templates, apply
rules) and one UPS host whose variables shorten the intervals; this script only cuts
and restores the simulated mains and reports what Icinga and the handler did.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

from check_dell_ups.demo import (
    PASSWORD_ENV,
    DemoError,
    handler_phases,
    retry_pending,
    show_handler_status,
    simulators,
)
from check_dell_ups.demo_console import HandlerLog, Narrator, ScvmmWatcher
from check_dell_ups.demo_world import FED_HOSTS, SCVMM_PASSWORD, UPS_NAME, Workspace
from check_dell_ups.icinga_sandbox import (
    ICINGA2,
    IcingaSandbox,
    SandboxError,
    ServiceEvent,
    daemon_installed,
    wait_for_commands_mentioning,
)

ROLES = {"ups": "people", "ups-maintenance": "automation"}

# Icinga starts the next check (and handler) while a handler may still run. A handler
# call must end before the next one starts, so its budget stays below the interval.
HANDLER_BUDGET = 2.0
SHORTEST_AUTOMATION_INTERVAL = 4.0


def ups_host_object(ups_port: int, timer: int, interval: float, config: Path) -> str:
    """The UPS as an Icinga host; the shipped apply rules give it both services."""
    seconds = max(1, round(interval))
    return (
        f'object Host "{UPS_NAME}" {{\n'
        '\tcheck_command = "dummy"\n'
        '\taddress = "127.0.0.1"\n'
        "\tvars.dell_ups = true\n"
        f"\tvars.dell_ups_port = {ups_port}\n"
        f"\tvars.dell_ups_maintenance_timer = {timer}\n"
        "\tvars.dell_ups_timeout = 5\n"
        f"\tvars.dell_ups_automation_interval = {seconds}s\n"
        f"\tvars.dell_ups_check_interval = {seconds * 2}s\n"
        f"\tvars.dell_ups_retry_interval = {seconds * 2}s\n"
        f'\tvars.dell_ups_maintenance_config = "{config}"\n'
        "}\n"
    )


def describe(event: ServiceEvent) -> str:
    role = ROLES.get(event.service, event.service)
    where = f"{event.host}!{event.service} ({role})"
    if event.kind == "handler":
        return f"Icinga: {where} runs event handler on {event.state} {event.state_type}"
    return (f"Icinga: {where} {event.state} {event.state_type} attempt {event.attempt}"
            f" - {event.text.split(' | ', 1)[0]}")


class IcingaFollower:
    """Prints what happened since the last look: Icinga's alerts and handler runs,
    the handler's SCVMM actions, SCVMM's view when it changed."""

    def __init__(self, sandbox: IcingaSandbox, handler_log: HandlerLog,
                 watcher: ScvmmWatcher, narrator: Narrator) -> None:
        self.sandbox = sandbox
        self.handler_log = handler_log
        self.watcher = watcher
        self.narrator = narrator
        self.seen = 0

    def look(self) -> None:
        events = self.sandbox.events()
        for event in events[self.seen:]:
            self.narrator.say(describe(event))
        self.seen = len(events)
        actions = self.handler_log.new_actions()
        if actions:
            self.narrator.say("  handler:")
            self.narrator.block(actions)
        self.watcher.show("now")
        if not self.sandbox.running():
            raise DemoError("Icinga 2 stopped unexpectedly")


def follow_until(follower: IcingaFollower, condition: Callable[[], bool], timeout: float,
                 what: str, every_5s: Callable[[], None] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while True:
        follower.look()
        if condition():
            return
        if time.monotonic() > deadline:
            raise DemoError(f"gave up waiting: {what} did not happen within {timeout:.0f} s")
        if every_5s is not None and time.monotonic() - last >= 5:
            last = time.monotonic()
            every_5s()
        time.sleep(0.5)


def settle_records(follower: IcingaFollower, config: Path, env: dict[str, str],
                   narrator: Narrator) -> None:
    """After a recovery Icinga calls the handler once (OK -> OK calls nothing); Enable
    jobs that outlast that call's budget are recorded by the --retry-pending timer."""
    deadline = time.monotonic() + 60
    while set(handler_phases(config, env).values()) != {"normal"}:
        if time.monotonic() > deadline:
            raise DemoError("the handler's records did not settle within 60 s")
        retry_pending(config, env, narrator)
        follower.look()
        time.sleep(1)


def run_icinga(args: argparse.Namespace, narrator: Narrator) -> int:
    if not daemon_installed(ICINGA2):
        narrator.say("icinga2 is not installed, so there is no Icinga demo to run. "
                     "Install it (apt-get install icinga2) or run 'dell_ups_demo' for the "
                     "same story without Icinga.")
        return 0
    narrator.heading("set-up")
    with Workspace() as workspace, simulators(args, narrator) as (ups, fake):
        interval = max(args.interval, SHORTEST_AUTOMATION_INTERVAL)
        config = workspace.write_handler_config(fake.port, timer=args.timer,
                                                budget=HANDLER_BUDGET)
        # The daemon passes its environment on to the event handler.
        env = dict(os.environ, **{PASSWORD_ENV: SCVMM_PASSWORD})
        host = ups_host_object(ups.port, args.timer, interval, config)
        sandbox = IcingaSandbox(workspace.path / "icinga2", host, env=env)
        watcher = ScvmmWatcher(fake, narrator)
        follower = IcingaFollower(sandbox, HandlerLog(workspace.handler_log), watcher,
                                  narrator)
        try:
            sandbox.validate()
            sandbox.start()
        except SandboxError as error:
            raise DemoError(str(error)) from None
        try:
            narrator.say(f"Icinga 2 runs in {sandbox.root} with the shipped icinga-conf/ "
                         f"and host {UPS_NAME!r}: services 'ups' (people) and "
                         "'ups-maintenance' (automation: volatile, handler)")
            watcher.show("before the outage", force=True)

            narrator.heading("on mains")
            follow_until(follower, lambda: _alerted(sandbox, "ups-maintenance", "OK"),
                         60, "a first check result")
            time.sleep(interval)
            follower.look()

            narrator.heading(f"mains power cut: the {args.timer} s maintenance timer starts")
            ups.cut_mains()
            follow_until(follower, lambda: all(watcher.flags()[h] for h in FED_HOSTS),
                         args.timer + 90, "maintenance of every host fed by the UPS")
            narrator.say(f"every host fed by {UPS_NAME} is in maintenance mode")
            # The people's service retries before it goes HARD, so its alert may still
            # be on its way: let the story show it before the power comes back.
            follow_until(follower, lambda: _alerted(sandbox, "ups", "CRITICAL", "HARD"),
                         90, "the people's CRITICAL alert")

            narrator.heading("mains power restored")
            ups.restore_mains()
            follow_until(
                follower,
                lambda: not any(watcher.flags()[h] for h in FED_HOSTS)
                and _last_state(sandbox, "ups-maintenance") == "OK",
                90, "the hosts leaving maintenance",
                # Icinga calls the handler once on recovery; what that call leaves (a
                # host busy with the outage's last call, Enables past its budget) the
                # shipped retry timer finishes: here every 5 s instead of every minute.
                every_5s=lambda: retry_pending(config, env, narrator),
            )
            narrator.say(f"every host fed by {UPS_NAME} has left maintenance mode")
            settle_records(follower, config, env, narrator)
            show_handler_status(config, env, narrator)
        finally:
            sandbox.stop()
            # A handler still running (own process group) must not outlive the demo.
            if not wait_for_commands_mentioning(str(config), timeout=70):
                narrator.say("warning: an event handler is still running")
    narrator.heading("done: Icinga 2 and the simulators stopped, temporary files removed")
    return 0


def _alerted(sandbox: IcingaSandbox, service: str, state: str,
             state_type: str | None = None) -> bool:
    return any(event.kind == "alert" and event.service == service and event.state == state
               and state_type in (None, event.state_type)
               for event in sandbox.events())


def _last_state(sandbox: IcingaSandbox, service: str) -> str | None:
    alerts = [event for event in sandbox.events()
              if event.kind == "alert" and event.service == service]
    return alerts[-1].state if alerts else None
