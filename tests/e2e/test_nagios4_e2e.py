"""End to end with a real Nagios 4 and the shipped nagios/ commands and templates:
power cut -> WARNING -> CRITICAL when the timer runs out -> event handler -> hosts in
maintenance -> power back -> hosts out."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from check_dell_ups.demo_world import FED_HOSTS, UPS_NAME
from check_dell_ups.icinga_sandbox import NagiosSandbox, ServiceEvent

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("nagios4") is None, reason="nagios4 is not installed"),
]

TIMER = 15
AUTOMATION = "ups-maintenance"


def objects(ups_port: int, config: Path) -> str:
    """The UPS host and its two services; interval_length=1 makes intervals seconds."""
    return f"""
define host {{
    use                             dell-ups-host
    host_name                       {UPS_NAME}
    alias                           {UPS_NAME}
    address                         127.0.0.1
    contact_groups                  admins
    _DELL_UPS_OPTIONS               -p {ups_port} -t 5 --maintenance-timer {TIMER}
    _DELL_UPS_MAINTENANCE_CONFIG    {config}
}}
define service {{
    use                             dell-ups
    host_name                       {UPS_NAME}
    service_description             ups
    check_interval                  8
    retry_interval                  4
    contact_groups                  admins
}}
define service {{
    use                             dell-ups-maintenance
    host_name                       {UPS_NAME}
    service_description             {AUTOMATION}
    check_interval                  4
    retry_interval                  4
    contact_groups                  admins
}}
"""


def automation(kind: str, state: str):
    def matches(event: ServiceEvent) -> bool:
        return event.kind == kind and event.service == AUTOMATION and event.state == state
    return matches


def test_power_cut_through_nagios(world, tmp_path: Path):
    sandbox = NagiosSandbox(tmp_path / "nagios4", objects(world.ups.port, world.config),
                            env=world.env)
    assert "Things look okay" in sandbox.validate()
    with sandbox:
        # Nagios logs no alert for a first OK; wait until it has polled the UPS.
        world.wait(lambda: world.ups.state()["request_count"] >= 2, 60, "a first check")
        cut_at = time.time()
        world.ups.cut_mains()
        index, _ = sandbox.wait_for(automation("alert", "WARNING"), 30, what="WARNING")
        assert not any(world.fed_hosts_in_maintenance())
        index, critical = sandbox.wait_for(automation("alert", "CRITICAL"), TIMER + 30,
                                           start=index, what="CRITICAL")
        assert critical.state_type == "HARD"
        assert critical.timestamp >= int(cut_at) + TIMER - 1
        sandbox.wait_for(automation("handler", "CRITICAL"), 10, start=index,
                         what="the handler run on CRITICAL")

        world.wait(lambda: all(world.fed_hosts_in_maintenance()), 60,
                   "maintenance of every host fed by the UPS")
        world.assert_maintenance_done_right()

        world.ups.restore_mains()
        sandbox.wait_for(automation("handler", "OK"), 30, start=index,
                         what="the handler run on recovery")
        world.wait(lambda: not any(world.fed_hosts_in_maintenance()), 60,
                   "the hosts leaving maintenance")
        world.settle_with_retry_pending()
        assert world.disable_and_enable_calls() == (world.DISABLES, len(FED_HOSTS))

        events = sandbox.events()
        assert not [e for e in events if e.kind == "handler" and e.service == "ups"]
        # is_volatile 1: a handler run per result while on battery, not only per change
        # (the timer alone spans about TIMER / 4 results).
        on_battery_runs = [e for e in events if e.kind == "handler"
                           and e.service == AUTOMATION and e.state in ("WARNING", "CRITICAL")]
        assert len(on_battery_runs) >= TIMER // 4


def test_nagios_restarted_mid_outage_still_puts_the_hosts_into_maintenance(
    world, tmp_path: Path
):
    sandbox = NagiosSandbox(tmp_path / "nagios4", objects(world.ups.port, world.config),
                            env=world.env)
    with sandbox:
        world.wait(lambda: world.ups.state()["request_count"] >= 2, 60, "a first check")
        # SCVMM out of reach when the timer runs out: the handler runs but cannot act.
        world.fake.set_faults(refuse_connections=True)
        world.ups.cut_mains()
        index, _ = sandbox.wait_for(automation("alert", "CRITICAL"), TIMER + 40,
                                    what="CRITICAL")
        sandbox.wait_for(automation("handler", "CRITICAL"), 20, start=index,
                         what="a handler run on CRITICAL")
        time.sleep(1)
        assert not any(world.fed_hosts_in_maintenance())

        # Nagios goes down with HARD CRITICAL retained; SCVMM comes back meanwhile.
        sandbox.stop()
        assert (sandbox.var / "retention.dat").exists()
        world.fake.set_faults(refuse_connections=False)
        before_restart = len(sandbox.events())
        sandbox.start()

        sandbox.wait_for(automation("handler", "CRITICAL"), 30, start=before_restart,
                         what="a handler run after the restart")
        world.wait(lambda: all(world.fed_hosts_in_maintenance()), 60,
                   "maintenance after the restart")
        world.assert_maintenance_done_right()

        world.ups.restore_mains()
        sandbox.wait_for(automation("handler", "OK"), 30, start=before_restart,
                         what="the handler run on recovery")
        world.wait(lambda: not any(world.fed_hosts_in_maintenance()), 60,
                   "the hosts leaving maintenance")
        world.settle_with_retry_pending()
