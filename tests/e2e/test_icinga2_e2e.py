"""End to end with a real Icinga 2: power cut -> WARNING -> CRITICAL when the timer runs
out -> event handler -> hosts in maintenance in (fake) SCVMM -> power back -> hosts out.
And: Icinga restarted in the middle of an outage still gets the hosts into maintenance.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from check_dell_ups.demo_world import FED_HOSTS, UPS_NAME
from check_dell_ups.icinga_sandbox import IcingaSandbox, ServiceEvent

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("icinga2") is None, reason="icinga2 is not installed"),
]

TIMER = 15
AUTOMATION_INTERVAL = 4
AUTOMATION = "ups-maintenance"


def ups_host(ups_port: int, config: Path) -> str:
    """The UPS host; the shipped apply rules add both services, host variables shorten
    their intervals (the shipped defaults are 30 s and 1 min)."""
    return f"""
object Host "{UPS_NAME}" {{
    check_command = "dummy"
    address = "127.0.0.1"
    vars.dell_ups = true
    vars.dell_ups_port = {ups_port}
    vars.dell_ups_timeout = 5
    vars.dell_ups_maintenance_timer = {TIMER}
    vars.dell_ups_automation_interval = {AUTOMATION_INTERVAL}s
    vars.dell_ups_check_interval = 4s
    vars.dell_ups_retry_interval = 2s
    vars.dell_ups_maintenance_config = "{config}"
}}
"""


# People get notified (here: a command that does nothing, logged by the CompatLogger).
NOTIFICATIONS = """
object NotificationComponent "notification" { }
object User "admin" { }
object NotificationCommand "notify-nobody" { command = [ "/bin/true" ] }
apply Notification "to-admin" to Service {
    command = "notify-nobody"
    users = [ "admin" ]
    assign where true
}
"""


def notified_services(sandbox: IcingaSandbox) -> list[tuple[str, str]]:
    """(service, state) of every notification sent: 'SERVICE NOTIFICATION: user;host;
    service;state;command;output'."""
    found = []
    for line in sandbox.log_lines():
        if "] SERVICE NOTIFICATION: " in line:
            fields = line.split(": ", 1)[1].split(";")
            found.append((fields[2], fields[3]))
    return found


def automation_alert(state: str):
    def matches(event: ServiceEvent) -> bool:
        return event.kind == "alert" and event.service == AUTOMATION and event.state == state
    return matches


def automation_handler_run(state: str):
    def matches(event: ServiceEvent) -> bool:
        return event.kind == "handler" and event.service == AUTOMATION and event.state == state
    return matches


@pytest.fixture
def icinga(world, tmp_path: Path):
    sandbox = IcingaSandbox(tmp_path / "icinga2",
                            ups_host(world.ups.port, world.config) + NOTIFICATIONS,
                            env=world.env)
    sandbox.validate()
    sandbox.start()
    yield sandbox
    sandbox.stop()


def test_power_cut_puts_the_fed_hosts_into_maintenance_and_back(world, icinga):
    sandbox = icinga
    sandbox.wait_for(automation_alert("OK"), 60, what="a first OK result")

    cut_at = time.time()
    world.ups.cut_mains()
    index, _ = sandbox.wait_for(automation_alert("WARNING"), 30, what="WARNING on battery")
    assert not any(world.fed_hosts_in_maintenance())  # the timer has not run out yet

    index, critical = sandbox.wait_for(automation_alert("CRITICAL"), TIMER + 30, start=index,
                                       what="CRITICAL when the timer runs out")
    assert critical.state_type == "HARD"
    assert critical.timestamp >= int(cut_at) + TIMER - 1  # not before the timer ran out
    assert "timer" in critical.text
    sandbox.wait_for(automation_handler_run("CRITICAL"), 10, start=index,
                     what="the handler run on CRITICAL")

    world.wait(lambda: all(world.fed_hosts_in_maintenance()), 60,
               "maintenance of every host fed by the UPS")
    world.assert_maintenance_done_right()
    # Maintenance began when the timer ran out (by the handler's clock, which may run a
    # second ahead of the UPS's counter), at the latest one automation interval after
    # the CRITICAL alert (generous margin for a loaded machine).
    first_disable = world.first_disable_started()
    print(f"first Disable-SCVMHost {first_disable - cut_at:.1f} s after the power cut, "
          f"{first_disable - critical.timestamp:.1f} s after the CRITICAL alert")
    assert first_disable >= cut_at + TIMER - 2
    assert first_disable <= critical.timestamp + AUTOMATION_INTERVAL + 10
    # Called again and again while on battery, it disabled each host exactly once.
    time.sleep(2 * AUTOMATION_INTERVAL)
    assert world.disable_and_enable_calls() == (world.DISABLES, 0)

    world.ups.restore_mains()
    sandbox.wait_for(automation_alert("OK"), 30, start=index, what="recovery")
    world.wait(lambda: not any(world.fed_hosts_in_maintenance()), 60,
               "the hosts leaving maintenance")
    world.settle_with_retry_pending()
    assert world.disable_and_enable_calls() == (world.DISABLES, len(FED_HOSTS))

    events = sandbox.events()
    # People's service alerts but never runs the handler; the automation service runs
    # it on every result while on battery (volatile) and on recovery.
    assert not [e for e in events if e.kind == "handler" and e.service == "ups"]
    assert any(e.kind == "alert" and e.service == "ups" and e.state == "CRITICAL"
               for e in events)
    on_battery_runs = [e for e in events if e.kind == "handler" and e.service == AUTOMATION
                       and e.state in ("WARNING", "CRITICAL")]
    assert len(on_battery_runs) >= TIMER // 4

    # No notification storm: the volatile automation service notifies nobody; people
    # hear once per state change of their service (on battery, timer, back on mains).
    sandbox.wait_for(lambda e: e.kind == "alert" and e.service == "ups" and e.state == "OK",
                     30, what="the people's service back to OK")
    time.sleep(1)
    notified = notified_services(sandbox)
    assert not [n for n in notified if n[0] == AUTOMATION]
    # (RECOVERY is the CompatLogger's word for OK; on a slow machine the people's
    # service may reach HARD only after the timer ran out, skipping WARNING.)
    assert [state for service, state in notified if service == "ups"] in (
        ["WARNING", "CRITICAL", "RECOVERY"], ["CRITICAL", "RECOVERY"])


def test_icinga_restarted_mid_outage_still_puts_the_hosts_into_maintenance(world, icinga):
    sandbox = icinga
    sandbox.wait_for(automation_alert("OK"), 60, what="a first OK result")
    # SCVMM is out of reach when the timer runs out: the handler runs but cannot act.
    world.fake.set_faults(refuse_connections=True)
    world.ups.cut_mains()
    index, _ = sandbox.wait_for(automation_alert("CRITICAL"), TIMER + 40,
                                what="CRITICAL when the timer runs out")
    sandbox.wait_for(automation_handler_run("CRITICAL"), 20, start=index,
                     what="a handler run on CRITICAL")
    time.sleep(1)  # let that run fail
    assert not any(world.fed_hosts_in_maintenance())

    # Icinga goes down with the HARD CRITICAL state retained; SCVMM comes back meanwhile.
    sandbox.stop()
    world.fake.set_faults(refuse_connections=False)
    before_restart = len(sandbox.events())
    sandbox.start()

    # No state change after the restart (still CRITICAL), yet the volatile service runs
    # the handler again on its next result.
    sandbox.wait_for(automation_handler_run("CRITICAL"), 30, start=before_restart,
                     what="a handler run after the restart")
    world.wait(lambda: all(world.fed_hosts_in_maintenance()), 60,
               "maintenance after the restart")
    world.assert_maintenance_done_right()
    after_restart = sandbox.events()[before_restart:]
    assert not [e for e in after_restart if e.kind == "alert" and e.service == AUTOMATION]

    world.ups.restore_mains()
    sandbox.wait_for(automation_alert("OK"), 30, start=before_restart, what="recovery")
    world.wait(lambda: not any(world.fed_hosts_in_maintenance()), 60,
               "the hosts leaving maintenance")
    world.settle_with_retry_pending()
