"""The Reconciler shell (not just the table) under faults at any moment: a hypothesis
state machine drives the handler's entry point (cli.main, with the steady clock and the
state store as in production) against the in-memory SCVMM, injecting refusals, links
lost after a request was sent, hung and vanished jobs, failed migrations, an admin's
maintenance or lock, kills (the call abandoned mid-way, a new one on the same state
dir), a full disk and clock steps. Invariants (issue 10): never enable an admin's host,
never disable a host while a UPS feeding it is on mains, `none` never enables, at most
one Disable and one save fallback per host per outage, and once the faults stop and
--retry-pending runs, every host we put into maintenance is back.

Not covered, as not knowable with today's driver: an admin's maintenance of a host after
a request of ours to it lost its answer, or its job vanished, or the handler died
between recording the request and sending it (a lost Disable then looks like ours and is
enabled on power return; a lost Enable is handed over with an error). Reading the
host's most recent job would tell (issue 10, item 8): the admin rule skips such hosts.

Modelled, not known of real VMM: a Disable of a host already in maintenance (an admin's)
is refused; a job SCVMM forgets ("vanished") did its work first; jobs run on by
themselves between calls, whether or not anyone polls them.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from check_dell_ups.maintenance import cli, reconcile
from check_dell_ups.maintenance import state as state_module
from check_dell_ups.maintenance.driver import ScvmmCommandError, ScvmmUnreachable
from check_dell_ups.maintenance.memory import MemoryScvmm
from check_dell_ups.maintenance.state import StateStore

H1, H2, H3 = (f"hv0{n}.example.com" for n in range(1, 4))
HOSTS = (H1, H2, H3)
FEEDS = {"ups-a": (H1, H2), "ups-b": (H2, H3)}  # hv02 is fed by both
CONFIG = """
[scvmm]
server = "127.0.0.1"
transport = "http"
port = 1
auth = "basic"
username = "svc-ups"

[maintenance]
state_dir = "{state}"
budget = 20
timer = 300
on_power_restored = "{restore}"

[ups."ups-a"]
hosts = ["{h1}", "{h2}"]

[ups."ups-b"]
hosts = ["{h2}", "{h3}"]
"""
# charge 10% <= charge_floor 20: calls for maintenance at once
BATTERY = "on_battery=400s;;300 runtime=1500s charge=10%"
MAINS = "on_battery=0s;;300 runtime=3000s charge=70%"


KEEP = False  # debugging: keep the state dir


class Killed(BaseException):
    """The handler process dies here (kill -9)."""


class FaultyScvmm(MemoryScvmm):
    """The in-memory SCVMM with faults the state machine switches on and off."""

    def __init__(self) -> None:
        super().__init__(
            hosts={H1: {"cluster": "cl01"}, H2: {"cluster": "cl01"}, H3: {"cluster": "cl01"}},
            vms={"web01": {"host": H1, "status": "Running", "ha": True},
                 "app01": {"host": H1, "status": "Running", "ha": False},
                 "db01": {"host": H3, "status": "Running", "ha": False}})
        self.refuse = False
        self.link_lost = False
        self.hang = False
        self.kill_in: int | None = None  # driver calls until the kill
        self.kill_after_send = False
        self.admin_hosts: set[str] = set()
        self.admin_locked: set[str] = set()
        # Hosts a request of ours went to whose answer was lost: whether it did anything
        # is not knowable without the host's job history (see the module docstring).
        self.in_doubt: set[str] = set()
        self.job_host: dict[str, str] = {}
        self.power: dict[str, str] = {}
        self.violations: list[str] = []
        self.restore = "exit"
        self.outage: dict[str, int] = dict.fromkeys(HOSTS, 0)
        self.disable_jobs: dict[tuple[str, int], int] = {}

    def _kill_point(self, sent: bool) -> None:
        if self.kill_in is None or self.kill_after_send != sent:
            return
        self.kill_in -= 1
        if self.kill_in <= 0:
            self.kill_in = None
            raise Killed

    def _on_mains(self, host: str) -> bool:
        return any(self.power.get(ups) == "mains" for ups, hosts in FEEDS.items()
                   if host in hosts)

    def get_hosts(self, names):
        self._kill_point(False)
        return super().get_hosts(names)

    def get_jobs(self, job_ids):
        self._kill_point(False)
        return super().get_jobs(job_ids)

    def _kill_before_send(self, hosts) -> None:
        try:
            self._kill_point(False)
        except Killed:
            self.in_doubt |= set(hosts)  # the record says 'sent': no one can tell it was not
            raise

    def disable_hosts(self, move_within_cluster):
        self._kill_before_send(move_within_cluster)
        for host in move_within_cluster:
            if self._on_mains(host):
                self.violations.append(f"Disable of {host} while a UPS feeding it is on mains")
        refused = {host: ScvmmCommandError(f"{host} is locked or already in maintenance "
                                           "(Error ID: 2606)")
                   for host in move_within_cluster
                   if self.refuse or host in self.admin_locked
                   or self.hosts[host].get("maintenance")}
        results = super().disable_hosts({host: move for host, move in
                                         move_within_cluster.items() if host not in refused})
        self.job_host.update({job: host for host, job in results.items()})
        for host, job in results.items():
            key = (host, self.outage[host])
            self.disable_jobs[key] = self.disable_jobs.get(key, 0) + 1
            if self.disable_jobs[key] > 2:
                self.violations.append(f"a third Disable job for {host} in one outage")
            if self.hang:
                self.jobs[job].polls_left = 10**9
        return self._answer({**results, **refused})

    def enable_hosts(self, names):
        self._kill_before_send(names)
        for host in names:
            if host in self.admin_hosts:
                self.violations.append(f"Enable of {host}, in maintenance by an admin")
            if self.restore == "none":
                self.violations.append(f"Enable of {host} with on_power_restored=none")
        refused = {host: ScvmmCommandError(f"{host} is locked (Error ID: 2606)")
                   for host in names if self.refuse or host in self.admin_locked}
        results = super().enable_hosts([host for host in names if host not in refused])
        self.job_host.update({job: host for host, job in results.items()})
        if self.hang:
            for job in results.values():
                self.jobs[job].polls_left = 10**9
        return self._answer({**results, **refused})

    def _answer(self, results):
        try:
            self._kill_point(True)
        except Killed:
            self.in_doubt |= set(results)
            raise
        if self.link_lost:
            self.in_doubt |= set(results)
            raise ScvmmUnreachable("connection reset after the request was sent")
        return results

    def run_jobs(self) -> None:
        """Time passes: SCVMM runs its jobs on, polled or not."""
        for job in self.jobs.values():
            if job.status == "Running" and job.polls_left < 10**8:
                job.polls_left = 1
        for job_id in list(self.jobs):
            self.get_jobs_quietly(job_id)

    def get_jobs_quietly(self, job_id: str) -> None:
        calls = list(self.calls)
        MemoryScvmm.get_jobs(self, [job_id])
        self.calls = calls


class ShellUnderFaults(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = TemporaryDirectory()
        root = Path(self.tmp.name)
        self.state = root / "state"
        self.config = root / "handler.toml"
        self.scvmm = FaultyScvmm()
        self.patch = pytest.MonkeyPatch()
        self.wall = datetime(2026, 12, 1, 3, 0, 0, tzinfo=timezone.utc)
        self.boot = 5000.0
        self.virtual = 0.0  # seconds the handler slept (its polls), on a fake monotonic
        self.disk_full = False
        self._install()

    def _install(self) -> None:
        machine, real_gettime, real_write = self, time.clock_gettime, state_module.atomic_write

        class SteppedDatetime(datetime):
            @classmethod
            def now(cls, tz=None):  # type: ignore[override]
                return machine.wall if tz else machine.wall.replace(tzinfo=None)

        def gettime(which: int) -> float:
            return machine.boot if which == time.CLOCK_BOOTTIME else real_gettime(which)

        def write(path, payload):
            if machine.disk_full:
                raise OSError(28, "No space left on device")
            return real_write(path, payload)

        def sleep(seconds: float) -> None:
            machine.virtual += seconds
            machine.boot += seconds
            machine.wall += timedelta(seconds=seconds)

        self.patch.setenv("DELL_UPS_SCVMM_PASSWORD", "secret")
        self.patch.setattr(cli, "_connector", lambda config, deadline=None: self._connect)
        self.patch.setattr(cli, "datetime", SteppedDatetime)
        self.patch.setattr(time, "clock_gettime", gettime)
        self.patch.setattr(state_module, "atomic_write", write)
        self.patch.setattr(cli, "Reconciler", functools.partial(
            reconcile.Reconciler, sleep=sleep,
            monotonic=lambda: time.monotonic() + machine.virtual))

    def _connect(self) -> MemoryScvmm:
        self.scvmm._kill_point(False)
        return self.scvmm

    def _call(self, *argv: str) -> None:
        self.virtual = 0.0  # the call's deadline is taken on the real monotonic clock
        out = io.StringIO()
        with contextlib.suppress(Killed), contextlib.redirect_stdout(out):
            cli.main(["--config", str(self.config), *argv])
        # A real kill also ends the process's deadline: the next call starts afresh.
        self.scvmm.kill_in = None

    def _event(self, ups: str, power: str) -> None:
        before = {host: self._all_on_battery(host) for host in HOSTS}
        self.scvmm.power[ups] = power
        for host in HOSTS:
            if self._all_on_battery(host) and not before[host]:
                self.scvmm.outage[host] += 1
        self._call("--ups", ups, "--state", "CRITICAL" if power == "battery" else "OK",
                   "--perfdata", BATTERY if power == "battery" else MAINS)

    def _all_on_battery(self, host: str) -> bool:
        return all(self.scvmm.power.get(ups) == "battery" for ups, hosts in FEEDS.items()
                   if host in hosts)

    # --- rules ---------------------------------------------------------------------------

    @initialize(restore=st.sampled_from(["exit", "exit-and-start", "none"]))
    def start(self, restore: str) -> None:
        self.config.write_text(CONFIG.format(state=self.state, restore=restore,
                                             h1=H1, h2=H2, h3=H3))
        self.scvmm.restore = restore
        for ups in FEEDS:  # both UPSes heard from on mains: their records (and reserves)
            self._event(ups, "mains")

    @rule(ups=st.sampled_from(sorted(FEEDS)))
    def outage(self, ups: str) -> None:
        self._event(ups, "battery")

    @rule(ups=st.sampled_from(sorted(FEEDS)))
    def recovery(self, ups: str) -> None:
        self._event(ups, "mains")

    @rule()
    def retry(self) -> None:
        self._call("--retry-pending")

    @rule(seconds=st.sampled_from([5, 40, 90, 2000]), step=st.sampled_from([0, 0, -90, 600]))
    def time_passes(self, seconds: int, step: int) -> None:
        self.boot += seconds
        self.wall += timedelta(seconds=seconds + step)  # NTP steps the wall clock only
        self.scvmm.run_jobs()
        for host in list(self.scvmm.admin_locked):  # the admin's job ends in maintenance
            self.scvmm.admin_locked.discard(host)
            if host not in self.scvmm.in_doubt:  # (else unknowable, see the docstring)
                self.scvmm.hosts[host]["maintenance"] = True
                self.scvmm.admin_hosts.add(host)

    @rule(fault=st.sampled_from(["refuse", "link_lost", "hang", "disk_full"]))
    def toggle(self, fault: str) -> None:
        target = self if fault == "disk_full" else self.scvmm
        setattr(target, fault, not getattr(target, fault))

    @rule(calls=st.integers(1, 6), after_send=st.booleans())
    def kill_soon(self, calls: int, after_send: bool) -> None:
        self.scvmm.kill_in, self.scvmm.kill_after_send = calls, after_send

    @rule()
    def vanish_a_job(self) -> None:
        for job_id, job in list(self.scvmm.jobs.items()):
            if job.status == "Running":
                job.polls_left = 1  # it did its work, then SCVMM forgot it
                self.scvmm.get_jobs_quietly(job_id)
                del self.scvmm.jobs[job_id]
                # Whether it did anything is now as unknowable as for a lost answer.
                self.scvmm.in_doubt.add(self.scvmm.job_host.get(job_id, ""))
                return

    @rule(host=st.sampled_from(HOSTS))
    def migration_fails(self, host: str) -> None:
        self.scvmm.fail_migration_hosts ^= {host}

    @rule(host=st.sampled_from(HOSTS), lock=st.booleans())
    def admin_acts(self, host: str, lock: bool) -> None:
        # Only on an ordinary host with no job of ours on it (else no one could tell
        # whose maintenance it is).
        if self.scvmm.hosts[host].get("maintenance") or host in self.scvmm.admin_locked \
                or host in self.scvmm.in_doubt:
            return
        if any(job.status == "Running" for job in self.scvmm.jobs.values()):
            return
        if lock:
            self.scvmm.admin_locked.add(host)
        else:
            self.scvmm.hosts[host]["maintenance"] = True
            self.scvmm.admin_hosts.add(host)

    def teardown(self) -> None:
        try:
            if self.config.exists():
                assert self.scvmm.violations == []
                self._settle()
        finally:
            self.patch.undo()
            if not KEEP:
                self.tmp.cleanup()

    def _settle(self) -> None:
        """The faults stop, power returns for good, --retry-pending runs (a timer)."""
        scvmm = self.scvmm
        scvmm.refuse = scvmm.link_lost = scvmm.hang = self.disk_full = False
        scvmm.kill_in = None
        scvmm.fail_migration_hosts = set()
        for job in scvmm.jobs.values():
            if job.status == "Running":
                job.polls_left = 1
        self.time_passes(5, 0)
        for ups in FEEDS:
            self._event(ups, "mains")
        for _ in range(4):
            self.time_passes(2000, 0)
            self.retry()
        assert scvmm.violations == []
        store = StateStore(self.state)
        for host in HOSTS:
            if host in scvmm.admin_hosts:
                assert scvmm.hosts[host]["maintenance"], f"{host}: the admin's, enabled"
                continue
            record = store.load_host(host)
            if scvmm.restore == "none":  # ours are handed over, never enabled
                assert record.phase in ("normal", "admin"), (host, record)
                continue
            if record.phase == "admin" and record.error and "Enable" in record.error:
                # A lost Enable still in maintenance after its grace: refused unseen, or
                # landed and an admin disabled the host since (race 8). Not knowable
                # without the host's job history: handed over, with an error line.
                assert scvmm.hosts[host]["maintenance"], (host, record)
                continue
            assert not scvmm.hosts[host].get("maintenance"), (host, record)
            assert record.phase == "normal", (host, record)
        leftovers = [path for path in self.state.rglob("*.tmp")]
        assert leftovers == []


ShellUnderFaults.TestCase.settings = settings(
    # A modest count here (< 60 s); SHELL_FAULT_EXAMPLES=400 for a longer hunt.
    max_examples=int(os.environ.get("SHELL_FAULT_EXAMPLES", "40")), stateful_step_count=25,
    deadline=None, report_multiple_bugs=False, suppress_health_check=[HealthCheck.too_slow])
test_the_shell_under_faults = ShellUnderFaults.TestCase


def test_the_machine_can_fail(monkeypatch) -> None:
    """The invariants are checked: an Enable of an admin's host is reported."""
    machine = ShellUnderFaults()
    machine.start("exit")
    machine.scvmm.admin_hosts.add(H1)
    machine.scvmm.enable_hosts([H1])
    with pytest.raises(AssertionError):
        machine.teardown()
