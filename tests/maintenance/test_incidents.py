"""Issue 10's incidents, each a named test through the program's entry point (main), with
the in-memory SCVMM behind it. Each of these failed on the code before issue 10."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from check_dell_ups.maintenance import cli
from check_dell_ups.maintenance.memory import MemoryScvmm
from check_dell_ups.maintenance.state import StateStore

H1, H2, H3 = (f"hv0{n}.example.com" for n in range(1, 4))
CONFIG = """
[scvmm]
server = "127.0.0.1"
transport = "http"
port = 1
auth = "basic"
username = "svc-ups"

[maintenance]
state_dir = "{state}"
budget = {budget}
timer = 300
on_power_restored = "{restore}"

[ups."ups-a"]
hosts = ["{h1}", "{h2}"]

[ups."ups-b"]
hosts = ["{h3}"]
"""
BATTERY = "on_battery={seconds}s;;300 runtime=1500s charge=80%"
MAINS = "on_battery=0s;;300 runtime=3000s charge=70%"


def inventory() -> MemoryScvmm:
    return MemoryScvmm(
        hosts={H1: {"cluster": "cl01"}, H2: {"cluster": "cl01"}, H3: {"cluster": "cl01"}},
        vms={"web01": {"host": H1, "status": "Running", "ha": True},
             "app01": {"host": H1, "status": "Running", "ha": False},
             "db01": {"host": H3, "status": "Running", "ha": False}})


class Site:
    def __init__(self, tmp_path: Path, monkeypatch, budget: float = 6,
                 restore: str = "exit") -> None:
        self.state = tmp_path / "state"
        self.config = tmp_path / "handler.toml"
        self.config.write_text(CONFIG.format(state=self.state, budget=budget, restore=restore,
                                             h1=H1, h2=H2, h3=H3))
        self.scvmm = inventory()
        monkeypatch.setenv("DELL_UPS_SCVMM_PASSWORD", "secret")
        monkeypatch.setattr(cli, "_connector", lambda config, deadline=None: self._connect)
        self.lines: list[str] = []

    def _connect(self) -> MemoryScvmm:
        return self.scvmm

    def call(self, *argv: str) -> tuple[int, str]:
        import contextlib
        import io
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = cli.main(["--config", str(self.config), *argv])
        self.lines.append(out.getvalue())
        return code, out.getvalue()

    def event(self, ups: str, state: str, perfdata: str) -> tuple[int, str]:
        return self.call("--ups", ups, "--state", state, "--perfdata", perfdata)

    def retry(self) -> tuple[int, str]:
        return self.call("--retry-pending")

    def in_maintenance(self) -> set[str]:
        return {name for name, host in self.scvmm.hosts.items() if host.get("maintenance")}


def test_incident_1_a_recovery_arriving_while_another_ups_waits_on_jobs(tmp_path, monkeypatch):
    """ups-a's handler waits on slow Enable jobs (old code: holding the one lock for its
    whole budget); ups-b's one OK event a second later failed on the lock, its power
    state was never stored, and --retry-pending found 'nothing pending': hv03 stayed in
    maintenance for good."""
    site = Site(tmp_path, monkeypatch, budget=12)
    assert site.event("ups-a", "CRITICAL", BATTERY.format(seconds=400))[0] == 0
    assert site.event("ups-b", "CRITICAL", BATTERY.format(seconds=400))[0] == 0
    assert site.in_maintenance() == {H1, H2, H3}

    site.scvmm.job_polls = 10_000  # Enable jobs outlast a call
    results: dict[str, tuple[int, str]] = {}
    slow = threading.Thread(target=lambda: results.setdefault(
        "a", site.event("ups-a", "OK", MAINS)))
    slow.start()
    time.sleep(0.5)
    results["b"] = site.event("ups-b", "OK", MAINS)
    slow.join(30)
    assert results["b"][0] == 0, results["b"]
    # ups-b's power state is stored, whatever happened to its SCVMM work.
    assert StateStore(site.state).load_ups("ups-b").power == "mains"

    site.scvmm.job_polls = 1
    site.scvmm.finish_all_jobs()
    code, line = site.retry()
    assert code == 0, line
    assert site.in_maintenance() == set(), site.lines


def test_incident_1_a_recovery_meeting_a_full_disk_is_kept(tmp_path, monkeypatch):
    """Old code: on a full disk the OK event's UPS record was lost ('cannot write state
    file'), so --retry-pending later found nothing pending and hv03 stayed in
    maintenance. Now the record goes to the reserve preallocated while there was space."""
    import check_dell_ups.maintenance.state as state
    site = Site(tmp_path, monkeypatch)
    site.event("ups-b", "CRITICAL", BATTERY.format(seconds=400))
    assert site.in_maintenance() == {H3}

    def full(path, payload):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(state, "atomic_write", full)
    code, line = site.event("ups-b", "OK", MAINS)
    assert code == 1 and "No space left" in line  # honest: the host work could not be done
    monkeypatch.undo()
    monkeypatch.setenv("DELL_UPS_SCVMM_PASSWORD", "secret")
    monkeypatch.setattr(cli, "_connector", lambda config, deadline=None: site._connect)
    code, line = site.retry()
    assert code == 0 and site.in_maintenance() == set(), site.lines


class SteppedClock:
    """The system clock as NTP steps it (wall) and CLOCK_BOOTTIME (never stepped)."""

    def __init__(self, monkeypatch) -> None:
        self.wall = datetime(2026, 12, 1, 3, 0, 0, tzinfo=timezone.utc)
        self.boot = 5000.0
        clock = self
        real_gettime = time.clock_gettime

        class SteppedDatetime(datetime):
            @classmethod
            def now(cls, tz=None):  # type: ignore[override]
                return clock.wall if tz else clock.wall.replace(tzinfo=None)

        def gettime(which: int) -> float:
            return clock.boot if which == time.CLOCK_BOOTTIME else real_gettime(which)

        monkeypatch.setattr(cli, "datetime", SteppedDatetime)
        monkeypatch.setattr(time, "clock_gettime", gettime)

    def passes(self, seconds: float, step: float = 0.0) -> None:
        self.boot += seconds
        self.wall += timedelta(seconds=seconds + step)


def test_incident_2_a_backward_clock_step_does_not_supersede_the_recovery(tmp_path, monkeypatch):
    """Old code: a 90 s backward step made the recovery 'superseded by the newer event:
    nothing done', exit 0, hosts left in maintenance."""
    site = Site(tmp_path, monkeypatch, budget=60)
    clock = SteppedClock(monkeypatch)
    site.event("ups-a", "CRITICAL", BATTERY.format(seconds=400))
    assert site.in_maintenance() == {H1, H2}
    clock.passes(30, step=-90)
    code, line = site.event("ups-a", "OK", MAINS)
    assert code == 0 and "superseded" not in line, line
    assert site.in_maintenance() == set()


def test_incident_2_a_forward_clock_step_does_not_make_an_outage_long(tmp_path, monkeypatch):
    """Old code: a 10-minute forward step made a 20-second outage '611 s on battery,
    calls for maintenance' (hosts disabled, VMs saved)."""
    site = Site(tmp_path, monkeypatch, budget=60)
    clock = SteppedClock(monkeypatch)
    site.event("ups-a", "WARNING", BATTERY.format(seconds=1))
    clock.passes(10, step=600)
    code, line = site.event("ups-a", "WARNING", BATTERY.format(seconds=11))
    assert code == 0 and "no maintenance yet" in line, line
    assert site.scvmm.calls_of("disable_hosts") == []


def test_incident_2_across_a_reboot_wall_time_counts(tmp_path, monkeypatch):
    """A new boot id: CLOCK_BOOTTIME restarted, so the wall clock is read again and the
    outage that went on while the machine was down still counts."""
    site = Site(tmp_path, monkeypatch, budget=60)
    clock = SteppedClock(monkeypatch)
    site.event("ups-a", "WARNING", BATTERY.format(seconds=1))
    monkeypatch.setattr("check_dell_ups.maintenance.cli.boot_id", lambda: "another-boot")
    clock.boot = 20.0
    clock.wall += timedelta(seconds=400)
    _code, line = site.event("ups-a", "CRITICAL", "runtime=1500s charge=80%")  # silent UPS
    assert "calls for maintenance" in line, line
    assert site.in_maintenance() == {H1, H2}


@pytest.mark.parametrize("restore", ["exit-and-start"])
def test_incident_4_exit_and_start_remembers_vms_migrated_to_a_peer(tmp_path, monkeypatch,
                                                                    restore):
    """hv01's HA VM web01 live-migrates to hv02, which is then disabled too: web01 ends up
    saved on hv02, in no host's record (hv02 listed its VMs before web01 arrived). Old
    code: never started on power return."""
    site = Site(tmp_path, monkeypatch, restore=restore)
    site.scvmm.hosts[H3]["cluster"] = None  # hv01 and hv02 are the cluster
    site.event("ups-a", "CRITICAL", BATTERY.format(seconds=400))
    site.retry()  # the last node's migration failed: its save fallback
    assert site.scvmm.vms["web01"] == {"host": H2, "status": "Saved", "ha": True}
    site.event("ups-a", "OK", MAINS)
    site.retry()
    assert site.scvmm.vms["web01"]["status"] == "Running", site.lines
    assert site.scvmm.vms["app01"]["status"] == "Running"


def test_a_host_busy_with_another_call_is_left_to_it_and_to_retry(tmp_path, monkeypatch):
    """The OK event finds hv03 locked by another call for longer than it may wait: the
    event is stored, the line names the host and who finishes it, exit 0; the next
    --retry-pending brings the host back."""
    site = Site(tmp_path, monkeypatch, budget=4)
    site.event("ups-b", "CRITICAL", BATTERY.format(seconds=400))
    assert site.in_maintenance() == {H3}
    store = StateStore(site.state)
    with store.hosts_locked([H3], 1) as (locked, _busy):
        assert locked == [H3]
        code, line = site.event("ups-b", "OK", MAINS)
    assert code == 0 and "busy with another call: hv03.example.com" in line, line
    assert "--retry-pending" in line and site.in_maintenance() == {H3}
    assert StateStore(site.state).load_ups("ups-b").power == "mains"
    code, line = site.retry()
    assert code == 0 and site.in_maintenance() == set(), line
