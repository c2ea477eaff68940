"""The handler's event flow (decide + state + reconcile) against the in-memory SCVMM."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from check_dell_ups.maintenance.cli import handle_event, retry_pending
from check_dell_ups.maintenance.config import Config
from check_dell_ups.maintenance.driver import ScvmmUnreachable
from check_dell_ups.maintenance.event import Event, parse_perfdata
from check_dell_ups.maintenance.log import HandlerLog
from check_dell_ups.maintenance.memory import MemoryScvmm
from check_dell_ups.maintenance.records import HostRecord
from check_dell_ups.maintenance.state import StateStore

H1, H2, H3, H4, H5 = (f"hv0{n}.example.com" for n in range(1, 6))
ON_BATTERY_LONG = "on_battery=412s;;300 runtime=1500s;600:;300: charge=80%;50:;25: load=35%;80;90"
ON_BATTERY_SHORT = "on_battery=20s;;300 runtime=1700s;600:;300: charge=95%;50:;25:"
ON_MAINS = "on_battery=0s;;300 runtime=3000s;600:;300: charge=70%;50:;25:"


def inventory() -> MemoryScvmm:
    return MemoryScvmm(
        hosts={H1: {"cluster": "cl01"}, H2: {"cluster": "cl01"}, H3: {"cluster": "cl01"},
               H4: {"cluster": None}, H5: {"cluster": "cl01"}},
        vms={
            "web01": {"host": H1, "status": "Running", "ha": True},
            "app01": {"host": H1, "status": "Running", "ha": False},
            "old01": {"host": H1, "status": "PowerOff", "ha": False},
            "web02": {"host": H2, "status": "Running", "ha": True},
            "db01": {"host": H2, "status": "Running", "ha": False},
            "vmm01": {"host": H3, "status": "Running", "ha": True},
            "solo01": {"host": H4, "status": "Running", "ha": False},
        },
    )


@dataclass
class Harness:
    config: Config
    scvmm: MemoryScvmm
    state_dir: Path
    seconds: float = 0.0  # the handler's wall clock, seconds after T0
    monotonic: float = 0.0
    lines: list[str] = field(default_factory=list)

    def connect(self) -> MemoryScvmm:
        if self.scvmm.unreachable:
            raise ScvmmUnreachable("SCVMM 127.0.0.1:1: cannot connect: connection refused")
        return self.scvmm

    def options(self, at) -> dict[str, Any]:
        def sleep(seconds: float) -> None:
            self.monotonic += seconds

        return {"monotonic": lambda: self.monotonic, "sleep": sleep,
                "clock": lambda: at(self.seconds)}

    def event(self, at, perfdata: str, *, ups: str = "ups-a", state: str = "CRITICAL",
              after: float = 0.0, dry_run: bool = False) -> tuple[str, bool]:
        self.seconds += after
        store = StateStore(self.state_dir, dry_run=dry_run)
        log = HandlerLog(str(self.state_dir / "maintenance.log"), use_syslog=False)
        event = Event(ups=ups, service_state=state, state_type="HARD",
                      metrics=parse_perfdata(perfdata))
        line, failed = handle_event(
            self.config, store, log, event, connect=self.connect,
            deadline=self.monotonic + self.config.maintenance.budget, dry_run=dry_run,
            now=at(self.seconds), **self.options(at))
        log.close()
        self.lines.append(line)
        return line, failed

    def retry(self, at) -> tuple[str, bool]:
        store = StateStore(self.state_dir)
        log = HandlerLog(str(self.state_dir / "maintenance.log"), use_syslog=False)
        result = retry_pending(self.config, store, log, connect=self.connect,
                               deadline=self.monotonic + self.config.maintenance.budget,
                               **self.options(at))
        log.close()
        return result

    def host(self, name: str) -> HostRecord:
        return StateStore(self.state_dir).load_host(name)

    def disables(self) -> list[dict[str, bool]]:
        return self.scvmm.calls_of("disable_hosts")

    def disabled_hosts(self) -> list[str]:
        return [host for call in self.disables() for host in call]


@pytest.fixture
def harness(tmp_path: Path, make_config):
    def make(ups: dict[str, Any] | None = None, scvmm: MemoryScvmm | None = None,
             vmm_host: str | None = None, **maintenance: Any) -> Harness:
        config = make_config(
            ups=ups or {"ups-a": {"hosts": [H1, H2]}}, vmm_host=vmm_host,
            state_dir=str(tmp_path / "state"), **maintenance)
        return Harness(config=config, scvmm=scvmm or inventory(),
                       state_dir=tmp_path / "state")

    return make


def test_full_outage_migrate(harness, at) -> None:
    h = harness()
    line, failed = h.event(at, ON_BATTERY_SHORT, state="WARNING")
    assert not failed and "no maintenance yet" in line
    assert h.scvmm.calls == []  # nothing due: SCVMM not even contacted

    line, failed = h.event(at, ON_BATTERY_LONG, after=60)
    assert not failed, line
    assert h.disables() == [{H1: True, H2: True}]
    assert h.scvmm.hosts[H1]["maintenance"] and h.scvmm.hosts[H2]["maintenance"]
    assert h.scvmm.vms["web01"]["host"] == H3 and h.scvmm.vms["web02"]["host"] == H3
    assert h.scvmm.vms["app01"]["status"] == "Saved" and h.scvmm.vms["db01"]["status"] == "Saved"
    record = h.host(H1)
    assert (record.phase, record.ours, record.job) == ("maintenance", True, None)
    assert record.vms_running == ("web01", "app01") and record.vms_saved == ("app01",)
    assert "hosts maintenance: hv01.example.com hv02.example.com" in line

    calls_before = len(h.scvmm.calls)
    line, failed = h.event(at, ON_BATTERY_LONG, after=60)
    assert not failed and len(h.scvmm.calls) == calls_before  # no new action

    line, failed = h.event(at, ON_MAINS, state="OK", after=60)
    assert not failed, line
    assert h.scvmm.calls_of("enable_hosts") == [[H1, H2]]
    assert not h.scvmm.hosts[H1]["maintenance"] and not h.scvmm.hosts[H2]["maintenance"]
    assert h.scvmm.calls_of("start_vms") == []  # on_power_restored = exit
    assert (h.host(H1).phase, h.host(H1).ours) == ("normal", False)


def test_save_mode_and_stand_alone_host(harness, at) -> None:
    h = harness(ups={"ups-a": {"hosts": [H1, H4], "mode": "save"}})
    h.event(at, ON_BATTERY_LONG)
    assert h.disables() == [{H1: False, H4: False}]
    assert h.scvmm.vms["web01"] == {"host": H1, "status": "Saved", "ha": True}


def test_stand_alone_host_always_saves(harness, at) -> None:
    h = harness(ups={"ups-a": {"hosts": [H4]}})
    h.event(at, ON_BATTERY_LONG)
    assert h.disables() == [{H4: False}]
    assert h.scvmm.vms["solo01"]["status"] == "Saved"


def test_admin_maintenance_is_never_touched(harness, at) -> None:
    scvmm = inventory()
    scvmm.hosts[H2]["maintenance"] = True
    h = harness(scvmm=scvmm)
    _line, failed = h.event(at, ON_BATTERY_LONG)
    assert not failed
    assert h.disabled_hosts() == [H1]
    assert (h.host(H2).phase, h.host(H2).ours) == ("admin", False)
    h.event(at, ON_MAINS, state="OK", after=100)
    assert h.scvmm.calls_of("enable_hosts") == [[H1]]
    assert h.scvmm.hosts[H2]["maintenance"] is True
    assert h.host(H2).phase == "admin"


def test_failed_migration_falls_back_to_save_once(harness, at) -> None:
    scvmm = inventory()
    scvmm.fail_migration_hosts.add(H1)
    h = harness(scvmm=scvmm)
    line, failed = h.event(at, ON_BATTERY_LONG)
    assert not failed, line
    assert h.disables() == [{H1: True, H2: True}, {H1: False}]
    assert h.scvmm.vms["web01"]["status"] == "Saved"
    assert h.host(H1).phase == "maintenance" and h.host(H1).fallback_done


def test_fallback_failing_too_is_reported_once(harness, at) -> None:
    scvmm = inventory()
    scvmm.fail_migration_hosts.add(H1)
    scvmm.fail_jobs_on.add(f"disable:{H1}")
    h = harness(scvmm=scvmm)
    line, failed = h.event(at, ON_BATTERY_LONG)
    assert failed and "FAILED" in line and H1 in line
    assert h.host(H1).phase == "failed" and h.host(H1).error
    line, failed = h.event(at, ON_BATTERY_LONG, after=60)
    assert not failed  # nothing new due; no Disable storm
    assert len(h.disables()) == 2


def test_scvmm_down_then_up(harness, at) -> None:
    h = harness()
    h.scvmm.unreachable = True
    line, failed = h.event(at, ON_BATTERY_LONG)
    assert failed and "SCVMM unreachable" in line and "\n" not in line
    assert h.host(H1).phase == "entering" and not h.host(H1).ours
    h.scvmm.unreachable = False
    line, failed = h.retry(at)  # --retry-pending resumes unfinished entering work
    assert not failed, line
    assert h.disables() == [{H1: True, H2: True}]
    assert h.host(H1).phase == "maintenance"


def test_restore_with_scvmm_down_is_finished_by_retry_pending(harness, at) -> None:
    h = harness()
    h.event(at, ON_BATTERY_LONG)
    h.scvmm.unreachable = True
    line, failed = h.event(at, ON_MAINS, state="OK", after=600)
    assert failed and "SCVMM unreachable" in line
    assert h.host(H1).phase == "leaving"
    line, failed = h.retry(at)
    assert failed  # still down
    h.scvmm.unreachable = False
    line, failed = h.retry(at)
    assert not failed, line
    assert h.scvmm.calls_of("enable_hosts") == [[H1, H2]]
    assert h.host(H1).phase == "normal"
    assert h.retry(at) == ("retry-pending: nothing pending", False)


def test_vmm_host_last_in_first_out(harness, at) -> None:
    h = harness(ups={"ups-a": {"hosts": [H1, H2, H3]}}, vmm_host=H3)
    h.scvmm.vms["vmm01"]["ha"] = False  # H3's VMs are saved, not moved
    h.scvmm.job_polls = 3
    line, failed = h.event(at, ON_BATTERY_LONG)
    assert not failed, line
    assert h.disables() == [{H1: True, H2: True}, {H3: True}]
    calls = [name for name, _ in h.scvmm.calls]
    first, second = [i for i, name in enumerate(calls) if name == "disable_hosts"]
    # Between the two: the others' jobs were polled to their end.
    assert "get_jobs" in calls[first:second]
    assert all(h.scvmm.jobs[j].status == "Completed"
               for j in ("job-1", "job-2"))
    h.event(at, ON_MAINS, state="OK", after=600)
    assert h.scvmm.calls_of("enable_hosts") == [[H3], [H1, H2]]


def test_vmm_host_waits_across_calls(harness, at) -> None:
    h = harness(ups={"ups-a": {"hosts": [H1, H3]}}, vmm_host=H3, budget=2)
    h.scvmm.job_polls = 1000  # far slower than one call's budget
    line, failed = h.event(at, ON_BATTERY_LONG)
    assert not failed and "in progress" in line
    assert h.disabled_hosts() == [H1]
    h.scvmm.finish_all_jobs()
    line, failed = h.event(at, ON_BATTERY_LONG, after=60)
    assert h.disabled_hosts() == [H1, H3]  # only now, and H1 was not disabled again


def test_slow_jobs_are_finished_by_later_calls(harness, at) -> None:
    h = harness(budget=3)
    h.scvmm.job_polls = 1000
    line, failed = h.event(at, ON_BATTERY_LONG)
    assert not failed and "in progress" in line
    assert h.host(H1).phase == "entering" and h.host(H1).job
    line, failed = h.event(at, ON_BATTERY_LONG, after=60)
    assert "in progress" in line and len(h.disables()) == 1
    h.scvmm.finish_all_jobs()
    line, failed = h.event(at, ON_BATTERY_LONG, after=60)
    assert not failed and "in progress" not in line
    assert len(h.disables()) == 1 and h.host(H1).phase == "maintenance"


def test_timer_minus_one_never_acts(harness, at) -> None:
    h = harness(ups={"ups-a": {"hosts": [H1, H2], "timer": -1}})
    _line, failed = h.event(at, "on_battery=9000s runtime=30s charge=2%")
    assert not failed and h.scvmm.calls == []


def test_silent_ups_mid_outage_keeps_the_timer(harness, at) -> None:
    h = harness()
    h.event(at, ON_BATTERY_SHORT, state="WARNING")
    h.event(at, "", state="UNKNOWN", after=200)
    assert h.disables() == []
    line, failed = h.event(at, "", state="UNKNOWN", after=120)
    assert not failed, line
    assert h.disabled_hosts() == [H1, H2]


def test_host_on_two_ups(harness, at) -> None:
    h = harness(ups={"ups-a": {"hosts": [H1, H2]}, "ups-b": {"hosts": [H2, H3]}})
    h.event(at, ON_BATTERY_LONG, ups="ups-a")
    assert h.disabled_hosts() == [H1]  # H2 also fed by ups-b, not heard from
    h.event(at, ON_BATTERY_LONG, ups="ups-b", after=10)
    assert h.disabled_hosts() == [H1, H2, H3]
    h.event(at, ON_MAINS, ups="ups-b", state="OK", after=100)
    assert h.scvmm.calls_of("enable_hosts") == [[H2, H3]]  # leaves when any is back
    h.event(at, ON_BATTERY_LONG, ups="ups-a", after=10)
    assert h.disabled_hosts() == [H1, H2, H3]  # H2 does not re-enter


def test_exit_and_start_starts_only_what_we_saved(harness, at) -> None:
    h = harness(on_power_restored="exit-and-start")
    h.event(at, ON_BATTERY_LONG)
    line, failed = h.event(at, ON_MAINS, state="OK", after=600)
    assert not failed, line
    assert h.scvmm.calls_of("start_vms") == [["app01"], ["db01"]]
    assert h.scvmm.vms["old01"]["status"] == "PowerOff"  # was off before: stays off
    assert h.scvmm.vms["app01"]["status"] == "Running"
    assert h.host(H1).phase == "normal"


def test_on_power_restored_none_hands_over(harness, at) -> None:
    h = harness(on_power_restored="none")
    h.event(at, ON_BATTERY_LONG)
    h.event(at, ON_MAINS, state="OK", after=600)
    assert h.scvmm.calls_of("enable_hosts") == []
    assert h.scvmm.hosts[H1]["maintenance"] is True
    assert (h.host(H1).phase, h.host(H1).ours) == ("admin", False)


def test_power_back_while_disable_job_runs(harness, at) -> None:
    h = harness(budget=3)
    h.scvmm.job_polls = 1000
    h.event(at, ON_BATTERY_LONG)
    h.scvmm.finish_all_jobs()
    line, failed = h.event(at, ON_MAINS, state="OK", after=30)
    assert not failed, line
    assert h.scvmm.calls_of("enable_hosts") == [[H1, H2]]
    h.scvmm.finish_all_jobs()
    h.retry(at)
    assert h.host(H1).phase == "normal" and not h.scvmm.hosts[H1]["maintenance"]


def test_record_written_before_disable_keeps_the_host_ours(harness, at) -> None:
    """A handler killed between writing 'entering' and getting the job id."""
    h = harness()
    store = StateStore(h.state_dir)
    for host in (H1, H2):
        store.save_host(host, HostRecord(phase="entering", since=at(0), ours=True,
                                         wanted="maintenance", ups="ups-a"))
        h.scvmm.hosts[host]["maintenance"] = True
    _line, failed = h.event(at, ON_BATTERY_LONG)
    assert not failed and h.disables() == []
    assert (h.host(H1).phase, h.host(H1).ours) == ("maintenance", True)
    h.event(at, ON_MAINS, state="OK", after=60)
    assert h.scvmm.calls_of("enable_hosts") == [[H1, H2]]


def test_dry_run_changes_nothing(harness, at) -> None:
    h = harness()
    line, failed = h.event(at, ON_BATTERY_LONG, dry_run=True)
    assert not failed and line.startswith("dry-run:") and "would disable" in line
    assert h.disables() == [] and h.scvmm.calls_of("get_hosts") == [[H1, H2]]
    assert not (h.state_dir / "ups").exists() and not (h.state_dir / "hosts").exists()


def test_corrupt_ups_state_does_nothing_for_that_ups(harness, at) -> None:
    h = harness()
    path = StateStore(h.state_dir).ups_path("ups-a")
    path.parent.mkdir(parents=True)
    path.write_text("{broken")
    line, failed = h.event(at, ON_BATTERY_LONG)
    assert failed and "corrupt" in line and "nothing done for UPS ups-a" in line
    assert h.scvmm.calls == [] and path.read_text() == "{broken"


def test_unknown_host_in_scvmm_is_an_error(harness, at) -> None:
    scvmm = inventory()
    del scvmm.hosts[H2]
    h = harness(scvmm=scvmm)
    line, failed = h.event(at, ON_BATTERY_LONG)
    assert failed and "hv02.example.com" in line
    assert h.disabled_hosts() == [H1]


def test_log_names_ups_host_and_job(harness, at) -> None:
    h = harness()
    h.event(at, ON_BATTERY_LONG)
    log = (h.state_dir / "maintenance.log").read_text()
    assert "ups=ups-a host=hv01.example.com job=job-1 Disable-SCVMHost" in log
    assert "decision: ups-a: on_battery=412s" in log


def test_clock_goes_on_across_calls(harness, at) -> None:
    h = harness()
    h.event(at, "on_battery=100s", state="WARNING")  # the outage began 100 s ago
    h.event(at, "on_battery=3s", state="WARNING", after=150)  # card reboot: 250 s, not 3
    assert h.disables() == []
    h.event(at, "on_battery=53s", state="WARNING", after=50)  # 300 s since the start
    assert h.disabled_hosts() == [H1, H2]



class RefusingScvmm(MemoryScvmm):
    refusals: int = 1

    def disable_hosts(self, move_within_cluster):
        if self.refusals:
            self.refusals -= 1
            self.calls.append(("disable_hosts", dict(move_within_cluster)))
            from check_dell_ups.maintenance.driver import ScvmmCommandError
            return {host: ScvmmCommandError("host is locked by a job (Error ID: 2606)")
                    for host in move_within_cluster}
        return super().disable_hosts(move_within_cluster)


def test_refused_disable_is_retried_by_the_next_call(harness, at) -> None:
    base = inventory()
    h = harness(scvmm=RefusingScvmm(hosts=base.hosts, vms=base.vms))
    line, failed = h.event(at, ON_BATTERY_LONG)
    assert failed and "Error ID: 2606" in line
    # Pending, but not ours: the refused Disable started nothing.
    assert (h.host(H1).phase, h.host(H1).ours) == ("entering", False)
    line, failed = h.event(at, ON_BATTERY_LONG, after=60)
    assert not failed, line
    assert len(h.disables()) == 2 and h.host(H1).phase == "maintenance"
    assert h.host(H1).ours


def test_host_an_admin_locked_while_our_disable_was_refused_stays_the_admins(harness, at) -> None:
    # Our Disable is refused because an admin's maintenance job holds the host; it ends
    # in maintenance by the admin. It must never be taken for ours and enabled.
    base = inventory()
    h = harness(scvmm=RefusingScvmm(hosts=base.hosts, vms=base.vms))
    line, failed = h.event(at, ON_BATTERY_LONG)
    assert failed and "Error ID: 2606" in line
    h.scvmm.hosts[H1]["maintenance"] = True  # the admin's job ended
    line, failed = h.event(at, ON_BATTERY_LONG, after=60)
    assert not failed, line
    assert (h.host(H1).phase, h.host(H1).ours) == ("admin", False)
    line, failed = h.event(at, ON_MAINS, state="OK", after=60)
    assert not failed, line
    assert H1 not in [host for call in h.scvmm.calls_of("enable_hosts") for host in call]
    assert h.scvmm.hosts[H1]["maintenance"]


def test_refused_fallback_disable_keeps_the_host_ours(harness, at) -> None:
    # Our migrate-mode Disable ran and failed; the save-mode retry is refused (our own
    # job may still lock the host): the host stays ours, so power return enables it.
    base = inventory()
    scvmm = RefusingScvmm(hosts=base.hosts, vms=base.vms, fail_migration_hosts={H1})
    scvmm.refusals = 0
    h = harness(scvmm=scvmm, ups={"ups-a": {"hosts": [H1]}})
    original = scvmm.disable_hosts

    def disable_then_refuse(move_within_cluster):
        if not move_within_cluster[H1]:
            scvmm.refusals = 1
        return original(move_within_cluster)

    scvmm.disable_hosts = disable_then_refuse
    line, failed = h.event(at, ON_BATTERY_LONG)
    assert failed and "Error ID: 2606" in line
    assert (h.host(H1).phase, h.host(H1).ours) == ("entering", True)


def test_none_hands_over_even_while_our_disable_job_runs(harness, at) -> None:
    h = harness(on_power_restored="none", budget=3)
    h.scvmm.job_polls = 1000
    line, _ = h.event(at, ON_BATTERY_LONG)
    assert "in progress" in line
    line, failed = h.event(at, ON_MAINS, state="OK", after=60)
    assert not failed, line
    record = h.host(H1)
    assert (record.phase, record.ours, record.job) == ("admin", False, None)
    assert h.scvmm.calls_of("enable_hosts") == []


def test_retry_pending_never_disables_after_power_returned(harness, at) -> None:
    h = harness()
    h.scvmm.unreachable = True
    h.event(at, ON_BATTERY_LONG)
    assert h.host(H1).phase == "entering"
    # Power returns; suppose that event was lost: only the UPS record says mains.
    from check_dell_ups.maintenance.records import UpsRecord
    StateStore(h.state_dir).save_ups("ups-a", UpsRecord(power="mains", since=at(60)))
    h.scvmm.unreachable = False
    line, failed = h.retry(at)
    assert not failed, line
    assert h.disables() == []
    assert h.host(H1).phase == "normal"


def test_corrupt_host_state_skips_only_that_host(harness, at) -> None:
    h = harness()
    path = StateStore(h.state_dir).host_path(H2)
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "record": {"phase": "sideways"}}')
    line, failed = h.event(at, ON_BATTERY_LONG)
    assert failed and "corrupt" in line and "nothing done for hv02.example.com" in line
    assert h.disabled_hosts() == [H1]
    assert path.read_text() == '{"version": 1, "record": {"phase": "sideways"}}'
    assert len(list(path.parent.glob("hv02.example.com.json.corrupt-*"))) == 1


def test_dry_run_names_the_vmm_host_last(harness, at) -> None:
    h = harness(ups={"ups-a": {"hosts": [H3, H1]}}, vmm_host=H3)
    line, failed = h.event(at, ON_BATTERY_LONG, dry_run=True)
    assert not failed
    assert line.endswith(f"would disable {H1}, would disable {H3}"), line
    assert h.disables() == []


def test_an_older_event_that_waited_for_the_lock_does_not_undo_a_newer_one(harness, at) -> None:
    # Calls overlap when the check interval is shorter than a call: the OK of t=130 got
    # the lock first; the CRITICAL of t=125 arrives after it and must change nothing.
    h = harness()
    h.event(at, ON_BATTERY_LONG)
    line, failed = h.event(at, ON_MAINS, state="OK", after=130)
    assert not failed and h.scvmm.calls_of("enable_hosts") == [[H1, H2]], line
    calls_before = len(h.scvmm.calls)

    line, failed = h.event(at, ON_BATTERY_LONG, after=-5)
    assert not failed
    assert "superseded by the newer event" in line and "nothing done" in line
    assert len(h.scvmm.calls) == calls_before
    assert not h.scvmm.hosts[H1]["maintenance"] and h.host(H1).phase == "normal"


def test_an_event_far_behind_the_last_one_is_handled_as_a_clock_set_back(harness, at) -> None:
    h = harness()
    h.event(at, ON_MAINS, state="OK", after=1000)
    line, failed = h.event(at, ON_BATTERY_SHORT, state="WARNING", after=-900)
    assert not failed and "superseded" not in line and "no maintenance yet" in line


def test_a_disable_job_that_never_ends_does_not_block_power_return(harness, at) -> None:
    # SCVMM keeps reporting our Disable job as running (a VMM job can hang, e.g. when
    # its host loses power), though the host shows in maintenance.
    h = harness(budget=3)
    h.scvmm.job_polls = 10**6
    line, _ = h.event(at, ON_BATTERY_LONG)
    assert "in progress" in line
    h.scvmm.hosts[H1]["maintenance"] = h.scvmm.hosts[H2]["maintenance"] = True
    line, failed = h.event(at, ON_MAINS, state="OK", after=60)
    assert not failed and h.host(H1).phase == "leaving" and h.host(H1).job, line
    h.seconds += 1800
    line, failed = h.retry(at)
    assert h.scvmm.calls_of("enable_hosts") == [[H1, H2]], line
    h.scvmm.finish_all_jobs()
    h.seconds += 120
    line, failed = h.retry(at)
    assert not failed, line
    assert not h.scvmm.hosts[H1]["maintenance"]
    assert (h.host(H1).phase, h.host(H1).job) == ("normal", None)


def test_a_vm_start_job_that_never_ends_is_given_up(harness, at) -> None:
    h = harness(on_power_restored="exit-and-start", budget=3)
    h.event(at, ON_BATTERY_LONG)
    start_vms = h.scvmm.start_vms

    def start_vms_that_hang(names):
        h.scvmm.job_polls = 10**6
        return start_vms(names)

    h.scvmm.start_vms = start_vms_that_hang
    line, _ = h.event(at, ON_MAINS, state="OK", after=60)
    assert h.host(H1).phase == "leaving" and h.host(H1).start_jobs, line
    h.seconds += 1800
    line, failed = h.retry(at)
    assert failed and "no longer waited for" in line
    assert (h.host(H1).phase, h.host(H1).start_jobs) == ("normal", ())


class DroppingScvmm(MemoryScvmm):
    """Starts the Disable jobs, then loses the link before their ids reach us."""

    def disable_hosts(self, move_within_cluster):
        super().disable_hosts(move_within_cluster)
        raise ScvmmUnreachable("SCVMM 127.0.0.1:1: cannot connect: the server closed the "
                               "connection")


def test_power_back_while_a_disable_with_a_lost_job_id_runs(harness, at) -> None:
    base = inventory()
    h = harness(scvmm=DroppingScvmm(hosts=base.hosts, vms=base.vms, job_polls=3))
    line, failed = h.event(at, ON_BATTERY_LONG)
    assert failed and (h.host(H1).phase, h.host(H1).ours) == ("entering", True)
    line, failed = h.event(at, ON_MAINS, state="OK", after=60)
    assert not failed and "in progress" in line, line
    assert h.host(H1).phase == "leaving"  # not yet normal: the Disable may still run
    h.scvmm.finish_all_jobs()
    h.scvmm.get_jobs(list(h.scvmm.jobs))  # the lost jobs end: hosts in maintenance
    assert h.scvmm.hosts[H1]["maintenance"]
    line, failed = h.retry(at)
    assert not failed, line
    assert not h.scvmm.hosts[H1]["maintenance"] and h.host(H1).phase == "normal"


def test_a_lost_disable_that_never_shows_is_given_up_after_a_while(harness, at) -> None:
    base = inventory()
    h = harness(scvmm=DroppingScvmm(hosts=base.hosts, vms=base.vms, job_polls=10**6))
    h.event(at, ON_BATTERY_LONG)
    line, failed = h.event(at, ON_MAINS, state="OK", after=60)
    assert not failed and h.host(H1).phase == "leaving", line
    h.seconds += 1800
    line, failed = h.retry(at)
    assert not failed, line
    assert (h.host(H1).phase, h.host(H1).ours) == ("normal", False)


def test_retry_pending_never_enables_while_power_failed_again(harness, at) -> None:
    # Power returns while SCVMM is down (hosts left "leaving"), then fails again and the
    # new outage calls for maintenance: a timer run of --retry-pending must not take the
    # hosts out of maintenance between two events.
    h = harness()
    h.event(at, ON_BATTERY_LONG)
    assert h.scvmm.hosts[H1]["maintenance"]
    h.scvmm.unreachable = True
    line, failed = h.event(at, ON_MAINS, state="OK", after=60)
    assert failed and h.host(H1).phase == "leaving", line
    # A real outage of 412 s: the policy never counts more than the time since mains.
    line, failed = h.event(at, ON_BATTERY_LONG, after=420)
    assert failed and h.host(H1).phase == "leaving", line
    h.scvmm.unreachable = False
    line, failed = h.retry(at)
    assert not failed, line
    assert h.scvmm.calls_of("enable_hosts") == []
    assert h.scvmm.hosts[H1]["maintenance"] and h.scvmm.hosts[H2]["maintenance"]
    assert (h.host(H1).phase, h.host(H1).ours) == ("maintenance", True)
    # Power back for good: the hosts leave maintenance.
    line, failed = h.event(at, ON_MAINS, state="OK", after=60)
    assert not failed and h.scvmm.calls_of("enable_hosts") == [[H1, H2]], line


def test_a_refused_fallback_is_retried_in_save_mode(harness, at) -> None:
    # The migrate-mode Disable failed; the save-mode retry was refused. The next call
    # must retry in save mode: a second migration would fail again and leave the host
    # "failed", its VMs running into the end of the battery.
    base = inventory()
    scvmm = RefusingScvmm(hosts=base.hosts, vms=base.vms, fail_migration_hosts={H1})
    scvmm.refusals = 0
    h = harness(scvmm=scvmm, ups={"ups-a": {"hosts": [H1]}})
    original = scvmm.disable_hosts

    def disable_then_refuse(move_within_cluster):
        if not move_within_cluster[H1] and len(h.disables()) == 1:
            scvmm.refusals = 1
        return original(move_within_cluster)

    scvmm.disable_hosts = disable_then_refuse
    line, failed = h.event(at, ON_BATTERY_LONG)
    assert failed and "Error ID: 2606" in line
    line, failed = h.event(at, ON_BATTERY_LONG, after=60)
    assert not failed, line
    assert h.disables() == [{H1: True}, {H1: False}, {H1: False}]
    assert h.scvmm.hosts[H1]["maintenance"] and h.host(H1).phase == "maintenance"


def test_the_fallback_of_an_earlier_outage_does_not_forbid_this_ones(harness, at) -> None:
    scvmm = inventory()
    scvmm.fail_migration_hosts = {H1}
    h = harness(scvmm=scvmm, ups={"ups-a": {"hosts": [H1]}}, on_power_restored="none")
    h.event(at, ON_BATTERY_LONG)
    assert h.disables() == [{H1: True}, {H1: False}] and h.host(H1).phase == "maintenance"
    h.event(at, ON_MAINS, state="OK", after=60)
    assert h.host(H1).phase == "admin"  # handed over
    scvmm.hosts[H1]["maintenance"] = False  # the admins take it out
    scvmm.vms["web01"].update(host=H1, status="Running")
    h.event(at, ON_MAINS, state="OK", after=3600)
    # A real outage of 412 s: the policy never counts more than the time since mains.
    line, failed = h.event(at, ON_BATTERY_LONG, after=420)
    assert not failed, line
    assert h.disables()[2:] == [{H1: True}, {H1: False}]
    assert scvmm.hosts[H1]["maintenance"] and h.host(H1).phase == "maintenance"


def test_a_hand_edited_history_does_not_break_polling(harness, at) -> None:
    h = harness(budget=3)
    h.scvmm.job_polls = 10**6
    h.event(at, ON_BATTERY_LONG)
    store = StateStore(h.state_dir)
    from dataclasses import replace as replaced
    store.save_host(H1, replaced(h.host(H1), history=(*h.host(H1).history, "a note")))
    line, failed = h.event(at, ON_BATTERY_LONG, after=60)
    assert not failed and "in progress" in line, line


def test_a_call_waiting_on_jobs_follows_power_stored_meanwhile(harness, at) -> None:
    """Issue 10: while this call waits on Disable jobs (holding those hosts' locks),
    another call stores the UPS on mains: this call brings the hosts back itself."""
    from check_dell_ups.maintenance.records import UpsRecord
    h = harness()
    h.scvmm.job_polls = 3
    stored: list[bool] = []
    options = h.options(at)
    plain_sleep = options["sleep"]

    def sleep(seconds: float) -> None:
        plain_sleep(seconds)
        if not stored:
            StateStore(h.state_dir).save_ups("ups-a", UpsRecord(
                power="mains", since=at(1), last_event_at=at(1), last_on_battery=0.0))
            stored.append(True)

    options["sleep"] = sleep
    store = StateStore(h.state_dir)
    log = HandlerLog(str(h.state_dir / "maintenance.log"), use_syslog=False)
    event = Event(ups="ups-a", service_state="CRITICAL", metrics=parse_perfdata(ON_BATTERY_LONG))
    line, failed = handle_event(h.config, store, log, event, connect=h.connect,
                                deadline=h.monotonic + 50, now=at(0), **options)
    log.close()
    assert not failed, line
    assert not h.scvmm.hosts[H1]["maintenance"] and not h.scvmm.hosts[H2]["maintenance"]
    assert h.host(H1).phase == "normal" and h.host(H2).phase == "normal"


def test_incident_7_a_disable_whose_job_id_was_lost_is_not_sent_twice(harness, at) -> None:
    """Issue 10 (3 of 212 crash trials): a kill or a dropped link after sending a Disable
    and before saving its job id; the next call found the host not yet in maintenance
    and sent a second Disable job for it."""
    base = inventory()
    h = harness(scvmm=DroppingScvmm(hosts=base.hosts, vms=base.vms, job_polls=3))
    _line, failed = h.event(at, ON_BATTERY_LONG)
    assert failed and len(h.disables()) == 1
    line, failed = h.event(at, ON_BATTERY_LONG, after=15)
    assert len(h.disables()) == 1, line
    assert not failed and "in progress" in line
    h.scvmm.finish_all_jobs()
    h.scvmm.get_jobs(list(h.scvmm.jobs))  # the lost jobs end
    line, failed = h.event(at, ON_BATTERY_LONG, after=30)
    assert not failed and len(h.disables()) == 1, line
    assert (h.host(H1).phase, h.host(H1).ours) == ("maintenance", True)


def test_a_lost_disable_that_never_shows_gets_the_one_save_fallback(harness, at) -> None:
    base = inventory()
    h = harness(scvmm=DroppingScvmm(hosts=base.hosts, vms=base.vms, job_polls=10**6))
    h.event(at, ON_BATTERY_LONG)
    h.scvmm.jobs.clear()  # the lost jobs vanished: nothing will put the hosts there
    h.event(at, ON_BATTERY_LONG, after=15)
    assert len(h.disables()) == 1
    h.scvmm.__class__ = MemoryScvmm  # the link holds again
    h.scvmm.job_polls = 1
    line, failed = h.event(at, ON_BATTERY_LONG, after=200)
    assert h.disables()[1:] == [{H1: False, H2: False}], line  # save mode, once
    assert not failed and h.scvmm.hosts[H1]["maintenance"]


class DroppingEnableScvmm(MemoryScvmm):
    """Starts the Enable jobs, then loses the link before their ids reach us."""

    def enable_hosts(self, names):
        super().enable_hosts(names)
        raise ScvmmUnreachable("SCVMM 127.0.0.1:1: cannot connect: the server closed the "
                               "connection")


def test_incident_8_a_lost_enable_never_enables_a_host_an_admin_disabled_since(harness,
                                                                               at) -> None:
    """Issue 10's race: power returns, our Enable is sent, the link drops before its job
    id arrives; the Enable lands; an admin then puts the host into maintenance; the next
    --retry-pending enabled it again, undoing the admin's maintenance."""
    base = inventory()
    h = harness(scvmm=DroppingEnableScvmm(hosts=base.hosts, vms=base.vms, job_polls=3))
    h.event(at, ON_BATTERY_LONG)
    assert h.scvmm.hosts[H1]["maintenance"] and h.scvmm.hosts[H2]["maintenance"]
    _line, failed = h.event(at, ON_MAINS, state="OK", after=60)
    assert failed and h.scvmm.calls_of("enable_hosts") == [[H1, H2]]
    h.scvmm.finish_all_jobs()
    h.scvmm.get_jobs(list(h.scvmm.jobs))  # the Enables land
    assert not h.scvmm.hosts[H1]["maintenance"]
    h.scvmm.hosts[H1]["maintenance"] = True  # an admin's maintenance
    for after in (30, 600, 3600):
        h.seconds += after
        h.retry(at)
        assert h.scvmm.hosts[H1]["maintenance"], h.lines
    assert h.scvmm.calls_of("enable_hosts") == [[H1, H2]]
    assert (h.host(H1).phase, h.host(H1).ours) == ("admin", False)
    assert h.host(H2).phase == "normal" and not h.scvmm.hosts[H2]["maintenance"]
