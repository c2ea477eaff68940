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
