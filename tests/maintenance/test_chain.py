"""The whole chain without a monitoring core: simulated UPS -> check_dell_ups -> the
handler with the check's own state and perfdata -> fake SCVMM. This is what Icinga does
on each check result of the automation service."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from check_dell_ups.fake_scvmm.server import FakeScvmm

REPO = Path(__file__).resolve().parents[2]
HANDLER = [sys.executable, str(REPO / "handlers" / "dell_ups_maintenance")]
STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
HOSTS = ("hv01.example.com", "hv02.example.com", "hv03.example.com")
TIMER = 3


@pytest.fixture
def chain(tmp_path: Path, clean_env):
    simulator = pytest.importorskip("check_dell_ups.simulator.agent")

    inventory = {
        "hosts": {name: {"cluster": "cl01", "maintenance": False} for name in HOSTS},
        "vms": {"web01": {"host": HOSTS[0], "status": "Running", "ha": True},
                "app01": {"host": HOSTS[0], "status": "Running", "ha": False}},
    }
    with simulator.UpsSimulator(port=0) as ups, FakeScvmm(
            inventory, username="svc-ups", password="pw", job_seconds=0.3) as fake:
        config = tmp_path / "handler.toml"
        config.write_text(
            f'[scvmm]\nserver = "127.0.0.1"\ntransport = "http"\nport = {fake.port}\n'
            'auth = "basic"\nusername = "svc-ups"\n'
            f'[maintenance]\ntimer = {TIMER}\nbudget = 20\nstate_dir = "{tmp_path}/state"\n'
            f'[ups."ups-rack1"]\nhosts = ["{HOSTS[0]}", "{HOSTS[1]}"]\n')
        env = dict(clean_env, DELL_UPS_SCVMM_PASSWORD="pw")
        check = str(Path(sys.executable).with_name("check_dell_ups"))

        def cycle() -> tuple[str, str]:
            """One check result and the handler call it triggers."""
            result = subprocess.run(
                [check, "-H", "127.0.0.1", "-p", str(ups.port), "--maintenance-timer",
                 str(TIMER)], capture_output=True, text=True, timeout=60, check=False)
            state = STATES.get(result.returncode, "UNKNOWN")
            first_line = result.stdout.splitlines()[0] if result.stdout else ""
            perfdata = first_line.split("|", 1)[1].strip() if "|" in first_line else ""
            handled = subprocess.run(
                [*HANDLER, "--config", str(config), "--ups", "ups-rack1", "--state", state,
                 "--state-type", "HARD", "--perfdata", perfdata],
                capture_output=True, text=True, env=env, timeout=120, check=False)
            assert handled.returncode == 0, handled.stdout + handled.stderr
            return state, handled.stdout

        yield ups, fake, cycle


def test_outage_card_reboot_and_power_return(chain) -> None:
    ups, fake, cycle = chain
    assert cycle()[0] == "OK"
    ups.cut_mains()
    state, line = cycle()
    assert state == "WARNING" and "no maintenance yet" in line
    time.sleep(1.5)
    ups.reboot_card()  # the UPS's own counter restarts; the handler's clock does not
    time.sleep(TIMER - 1.5 + 0.5)
    state, line = cycle()
    assert "calls for maintenance" in line, line
    hosts = fake.snapshot()["hosts"]
    assert hosts[HOSTS[0]]["maintenance"] and hosts[HOSTS[1]]["maintenance"]
    assert not hosts[HOSTS[2]]["maintenance"]
    assert fake.snapshot()["vms"]["web01"]["host"] == HOSTS[2]
    ups.restore_mains()
    state, line = cycle()
    assert "power_restored=exit" in line or "on mains" in line
    hosts = fake.snapshot()["hosts"]
    assert not hosts[HOSTS[0]]["maintenance"] and not hosts[HOSTS[1]]["maintenance"]


def disables(fake) -> list[dict]:
    return [call for call in fake.calls if call["cmdlet"] == "Disable-SCVMHost"]


def test_a_calibration_longer_than_the_timer_triggers_no_disable(chain) -> None:
    """Time-compressed: a 7 s calibration against the 3 s timer is the same property as a
    10-minute calibration against a 5-minute timer (the load on battery for longer than
    the timer, the mains present throughout). The handler is called on every result."""
    ups, fake, cycle = chain
    ups.start_test("calibration", 7)
    started = time.monotonic()
    seen = []
    while time.monotonic() - started < 7 + 1:
        state, line = cycle()
        seen.append((ups.state()["test"], state))
        assert state == "OK" and "on mains" in line, line
        time.sleep(0.5)
    assert ("calibration", "OK") in seen and seen[-1] == (None, "OK")
    assert max(time.monotonic() - started, 0) > 2 * TIMER
    assert disables(fake) == []
    hosts = fake.snapshot()["hosts"]
    assert not any(hosts[host]["maintenance"] for host in HOSTS)


def test_a_power_cut_during_a_test_puts_the_hosts_into_maintenance(chain) -> None:
    ups, fake, cycle = chain
    ups.start_test("self-test", 60)
    assert cycle()[0] == "OK"
    ups.cut_mains()  # the UPS aborts its test; the load stays on the battery
    cut = time.monotonic()
    state, line = cycle()
    assert state in ("WARNING", "CRITICAL") and "no maintenance yet" in line, line
    assert disables(fake) == []
    while "calls for maintenance" not in line:
        assert time.monotonic() - cut < 30, line
        time.sleep(0.5)
        state, line = cycle()
    assert time.monotonic() - cut >= TIMER - 1  # the timer, not at once
    assert len(disables(fake)) >= 2  # one per host fed by the UPS
    hosts = fake.snapshot()["hosts"]
    assert hosts[HOSTS[0]]["maintenance"] and hosts[HOSTS[1]]["maintenance"]
    assert not hosts[HOSTS[2]]["maintenance"]


def test_a_stale_counter_after_ok_triggers_nothing_before_the_timer(chain) -> None:
    """The card reads 5000 s (an earlier outage's count) in the first seconds of a new
    outage: the check, stateless, says CRITICAL; the handler saw the UPS on mains just
    before and calls for maintenance only when the timer has really run out."""
    ups, fake, cycle = chain
    assert cycle()[0] == "OK"  # the handler sees the UPS on mains
    ups.stale_counter(5000, for_seconds=TIMER - 1)
    ups.cut_mains()
    cut = time.monotonic()
    state, line = cycle()
    assert state == "CRITICAL", line  # the check says 5000 s, past the timer
    assert "no maintenance yet" in line and disables(fake) == [], line
    while "calls for maintenance" not in line:
        assert time.monotonic() - cut < 30, line
        time.sleep(0.5)
        state, line = cycle()
        if time.monotonic() - cut < TIMER - 0.5:
            assert disables(fake) == [], line
    assert time.monotonic() - cut >= TIMER - 0.5
    hosts = fake.snapshot()["hosts"]
    assert hosts[HOSTS[0]]["maintenance"] and hosts[HOSTS[1]]["maintenance"]
