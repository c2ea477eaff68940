"""The imperative shell around the host lifecycle table (lifecycle.py).

For each host: read the record, turn the policy's target and what SCVMM answers into
observations, step() the table, perform the one action it names, persist. No lifecycle
rule lives here: only I/O, batching (one request for many hosts), the vmm_host ordering
(lifecycle.vmm_host_may_disable, lifecycle.enable_batches) and the time budget. The
record is written *before* each SCVMM request (so a handler killed in between knows the
request may be out) and after it (the job id). Jobs are polled until they end or the
budget runs out; the next call resumes. A dry run logs the sending actions instead.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from check_dell_ups.maintenance import lifecycle as lc
from check_dell_ups.maintenance.config import Config
from check_dell_ups.maintenance.driver import JobInfo, ScvmmAuthError, ScvmmDriver, ScvmmError
from check_dell_ups.maintenance.log import HandlerLog
from check_dell_ups.maintenance.policy import (
    TARGET_HOLD,
    TARGET_NORMAL,
    disables_with_migration,
    mode_of,
    observation_for,
)
from check_dell_ups.maintenance.records import (
    JOB_DISABLE_MIGRATE,
    JOB_DISABLE_SAVE,
    JOB_ENABLE,
    HostRecord,
)
from check_dell_ups.maintenance.state import StateError, StateStore
from check_dell_ups.maintenance.vms import VmKeeper

_FIRST_POLL_INTERVAL = 0.5
_MAX_POLL_INTERVAL = 2.0
_SAVE_MARGIN = 0.5  # seconds kept at the end of the budget to write the state
_SENDS = (lc.DISABLE, lc.DISABLE_SAVE, lc.ENABLE)
_READS = (lc.SEEN_IN, lc.SEEN_OUT)
_DISABLING = (lc.DISABLE_RUNNING, lc.FALLBACK_RUNNING)  # a Disable job of ours runs
# How long a call waits for a host another handler works on: its budget less a reserve
# to act. Waiting costs nothing durable: the event is stored before, so a call that
# gives up leaves it to the holder (which follows stored power changes) or to
# --retry-pending.
LOCK_RESERVE_MAX = 10.0


class _DisconnectedError(Exception):
    """SCVMM as a whole is out of reach for the rest of this call."""


@dataclass
class Outcome:
    records: dict[str, HostRecord] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    in_progress: bool = False
    busy: list[str] = field(default_factory=list)  # hosts another handler works on


class Reconciler:
    def __init__(self, *, config: Config, store: StateStore, log: HandlerLog,
                 connect: Callable[[], ScvmmDriver], deadline: float,
                 dry_run: bool = False, ups: str | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] | None = None,
                 lock_wait: float | None = None, follow_power: bool = False) -> None:
        self.config, self.store, self.log, self.connect = config, store, log, connect
        self.deadline, self.dry_run, self.ups = deadline, dry_run, ups
        self.monotonic, self.sleep = monotonic, sleep
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        # The handler's own calls follow power stored meanwhile; a drill does not (it
        # drives a host on purpose while the UPS is on mains).
        self.follow_power = follow_power
        budget = config.maintenance.budget
        self.lock_wait = lock_wait if lock_wait is not None else max(
            0.0, deadline - monotonic() - min(LOCK_RESERVE_MAX, budget / 4))
        self.outcome = Outcome()
        self._exit_and_start = config.maintenance.on_power_restored == "exit-and-start"
        self._driver: ScvmmDriver | None = None
        self._targets: dict[str, str] = {}
        self._modes: dict[str, str] = {}
        self._records: dict[str, HostRecord] = {}
        self._due: dict[str, str] = {}  # host -> the action the table named last
        self._clusters: dict[str, str | None] = {}
        self._vmm_waiting = False
        self.vms = VmKeeper(self._driver_now, log, self.outcome.errors, self.outcome.actions)

    # --- entry point ---------------------------------------------------------------------

    def run(self, targets: Mapping[str, str], modes: Mapping[str, str]) -> Outcome:
        """Bring the hosts to their targets. Each host is locked for this call alone;
        a host another handler works on is left to it (outcome.busy)."""
        wanted = set(targets)
        if self.config.scvmm.vmm_host in targets:
            wanted |= self._entering_elsewhere()
        try:
            with self.store.hosts_locked(wanted, self.lock_wait) as (locked, busy):
                for host in sorted(set(busy) & set(targets)):
                    self.log.info("busy with another dell_ups_maintenance call, which follows "
                                  "stored power changes; --retry-pending finishes what it "
                                  "leaves", ups=self._ups_of(host), host=host)
                    self.outcome.busy.append(host)
                return self._run_locked(targets, modes, set(locked))
        except StateError as error:
            self._fail(None, str(error))
            return self.outcome

    def _entering_elsewhere(self) -> set[str]:
        """Hosts with a Disable job running: the vmm_host waits for them."""
        hosts = set()
        for host in self.config.all_hosts():
            with contextlib.suppress(StateError):
                if lc.state_of(self.store.load_host(host, keep_aside=False)) in _DISABLING:
                    hosts.add(host)
        return hosts

    def _run_locked(self, targets: Mapping[str, str], modes: Mapping[str, str],
                    locked: set[str]) -> Outcome:
        self._modes = dict(modes)
        # Every configured host: the vmm_host ordering looks at all of them.
        for host in self.config.all_hosts():
            try:
                self._records[host] = self.store.load_host(host)
            except StateError as error:
                if host in targets and host in locked:
                    self._fail(host, f"{error}; nothing done for {host}")
        self._targets = {host: target for host, target in targets.items()
                         if host in locked and host in self._records}
        if self.config.scvmm.vmm_host in self._targets:
            # The vmm_host waits for the others' Disable jobs: follow those too.
            self._targets.update({host: TARGET_HOLD for host, record in self._records.items()
                                  if host in locked and host not in self._targets
                                  and lc.state_of(record) in _DISABLING})
        try:
            for host in list(self._targets):
                self._want(host)
            self._loop()
        except _DisconnectedError as error:
            self._record_disconnection(str(error))
        except StateError as error:
            self._fail(None, str(error))
        finally:
            if self._driver is not None:
                with contextlib.suppress(Exception):  # closing must not mask the outcome
                    self._driver.close()
        self.outcome.records = {host: self._records[host] for host in self._targets}
        if not self.dry_run and (self._vmm_waiting or any(
                lc.state_of(self._records[host]) in lc.UNDER_WAY for host in self._targets)):
            self.outcome.in_progress = True
        return self.outcome

    # --- the rounds ----------------------------------------------------------------------

    def _loop(self) -> None:
        interval = _FIRST_POLL_INTERVAL
        while True:
            self._read(self._hosts_due(lc.READ))
            self._release_vmm_host()
            self._enable(self._hosts_due(lc.ENABLE))
            # STARTING_VMS without start jobs: killed before their ids were stored.
            self._start_vms(self._hosts_due(lc.START_VMS) + [
                host for host in self._hosts_due(lc.POLL) if not self._records[host].start_jobs
                and lc.state_of(self._records[host]) == lc.STARTING_VMS])
            self._disable(self._hosts_due(lc.DISABLE, lc.DISABLE_SAVE))
            if self.dry_run:
                return
            jobs = self._running_jobs()
            if not jobs:
                if self._hosts_due(lc.READ, *_SENDS, lc.START_VMS):
                    continue
                return
            if self.monotonic() + interval + _SAVE_MARGIN > self.deadline:
                for job, host in jobs.items():
                    self.log.info("budget spent, job still running: resumed by the next call",
                                  ups=self._ups_of(host), host=host, job=job)
                return
            self.sleep(interval)
            interval = min(interval * 1.5, _MAX_POLL_INTERVAL)
            self._poll(jobs)
            if self.follow_power:
                self._follow_power()

    def _hosts_due(self, *actions: str) -> list[str]:
        return [host for host in self._targets if self._due.get(host) in actions]

    def _want(self, host: str) -> None:
        state = lc.state_of(self._records[host])
        observation = observation_for(self._targets[host], state,
                                      self.config.maintenance.on_power_restored)
        if observation is not None:
            self._observe(host, observation)

    def _observe(self, host: str, observation: str, detail: str = "") -> str:
        """One step of the table for this host; persist; remember the action."""
        record, now = self._records[host], self.clock()
        before = lc.lifecycle_of(record, self._exit_and_start)
        after, action = lc.step(before, observation, now)
        why = lc.why(before, observation, now)
        if self.dry_run and action in (*_SENDS, lc.START_VMS):
            self._due[host] = action  # logged as 'would', never performed nor stored
            return action
        new = lc.record_for(record, after, now)
        if action == lc.REPORT:
            reason = f"{detail}: {why}" if detail else why
            new = replace(new, error=reason)
            self._fail(host, reason)
        if new != record:
            self._set(host, new, why if after.state != before.state else "")
        self._due[host] = action
        if observation in _READS and after.state == lc.NORMAL != before.state:
            self._want(host)  # ordinary again: the target applies afresh
        return self._due[host]

    def _follow_power(self) -> None:
        """While we wait on jobs, another call may store that power returned (it could not
        work on our locked hosts): bring those hosts back in this call."""
        for host, target in list(self._targets.items()):
            phase = lc.PHASE_OF[lc.state_of(self._records[host])]
            if target == TARGET_NORMAL or phase not in ("entering", "failed", "maintenance"):
                continue
            for name in self.config.ups_of_host(host):
                with contextlib.suppress(StateError):
                    if self.store.load_ups(name, keep_aside=False).power == "mains":
                        self.log.info(f"UPS {name} stored on mains meanwhile: power "
                                      "restored", ups=name, host=host)
                        self._targets[host] = TARGET_NORMAL
                        self._want(host)
                        break

    # --- SCVMM requests ------------------------------------------------------------------

    def _driver_now(self) -> ScvmmDriver:
        if self._driver is None:
            self._driver = self._ask(self.connect)
        return self._driver

    def _ask(self, request: Callable[..., Any], *args: Any) -> Any:
        """One SCVMM request; a failure of the whole request ends the call's SCVMM work."""
        try:
            return request(*args)
        except ScvmmError as error:
            raise _DisconnectedError(_connection_reason(error)) from None

    def _read(self, hosts: Sequence[str]) -> None:
        if not hosts:
            return
        infos = self._ask(self._driver_now().get_hosts, list(hosts))
        for host in hosts:
            info = infos.get(host) or ScvmmError("no answer for this host")
            if isinstance(info, ScvmmError):
                self._due[host] = lc.NOTHING
                self._set(host, replace(self._records[host], error=f"cannot read host from "
                                        f"SCVMM: {info}"), "")
                self._fail(host, f"cannot read host from SCVMM: {info}")
                continue
            self._clusters[host] = info.cluster
            if info.in_maintenance:
                self._observe(host, lc.SEEN_IN)
            elif self._vmm_host_must_wait(host):
                self._due[host] = lc.NOTHING
                self._vmm_waiting = True
                self.log.info("vmm_host: disabled only after the other hosts' jobs end",
                              ups=self._ups_of(host), host=host)
            else:
                self._observe(host, lc.SEEN_OUT)

    def _vmm_host_must_wait(self, host: str) -> bool:
        states = {other: lc.state_of(record) for other, record in self._records.items()
                  if other in self._targets or record.job}
        return not self.dry_run and lc.vmm_host_waits(host, self.config.scvmm.vmm_host, states, [
            other for other in self._hosts_due(lc.READ, lc.DISABLE, lc.DISABLE_SAVE)])

    def _release_vmm_host(self) -> None:
        vmm_host = self.config.scvmm.vmm_host
        if self._vmm_waiting and vmm_host and not self._vmm_host_must_wait(vmm_host):
            self._vmm_waiting = False
            self._observe(vmm_host, lc.SEEN_OUT)

    def _disable(self, hosts: Sequence[str]) -> None:
        if not hosts:
            return
        vmm_host = self.config.scvmm.vmm_host
        hosts = sorted(hosts, key=lambda host: host == vmm_host)  # the vmm_host last
        batch: dict[str, bool] = {}
        for host in hosts:
            mode = self._modes.get(host) or mode_of(self.config, host)
            move = self._due[host] == lc.DISABLE and disables_with_migration(
                mode, self._clusters.get(host))
            batch[host] = move
            self._due[host] = lc.NOTHING
            if self.dry_run:
                self.log.info(f"would Disable-SCVMHost ({_mode_words(move)})",
                              ups=self._ups_of(host), host=host)
                self.outcome.actions.append(f"would disable {host}")
                continue
            record = self._records[host]
            running = record.vms_running
            if not record.fallback_done or running is None:
                running = self.vms.running_before_disable(host, self._ups_of(host))
            self._set(host, replace(record, ups=self.ups or record.ups, vms_running=running,
                                    vms_saved=None, saved_vm_names=(),
                                    job_kind=JOB_DISABLE_MIGRATE if move
                                    else JOB_DISABLE_SAVE, error=None), "")
        if not self.dry_run:
            self._send(batch, "Disable-SCVMHost",
                       lambda: self._driver_now().disable_hosts(batch),
                       {host: _mode_words(move) for host, move in batch.items()})

    def _enable(self, hosts: Sequence[str]) -> None:
        for batch in lc.enable_batches(list(hosts), self.config.scvmm.vmm_host):
            for host in batch:
                self._due[host] = lc.NOTHING
                if self.dry_run:
                    self.log.info("would Enable-SCVMHost", ups=self._ups_of(host), host=host)
                    self.outcome.actions.append(f"would enable {host}")
            if not self.dry_run:
                self._send(batch, "Enable-SCVMHost",
                           lambda batch=batch: self._driver_now().enable_hosts(batch), {})

    def _send(self, hosts: Sequence[str], cmdlet: str,
              request: Callable[[], Mapping[str, str | ScvmmError]],
              notes: Mapping[str, str]) -> None:
        try:
            results = request()
        except ScvmmError as error:
            # Sent, no answer: it may have started a job.
            for host in hosts:
                self._observe(host, lc.LINK_LOST)
            raise _DisconnectedError(_connection_reason(error)) from None
        now = self.clock()
        for host in hosts:
            result = results.get(host, ScvmmError("no answer for this host"))
            note = f" ({notes[host]})" if host in notes else ""
            record = self._records[host]
            if isinstance(result, ScvmmError):
                self._log_error(host, f"{cmdlet}{note} refused: {result}")
                self.outcome.errors.append(f"{host}: {cmdlet} refused: {result}")
                self._records[host] = record.noted(now, cmdlet, error=str(result))
                self._observe(host, lc.REFUSED)
                self._set(host, replace(self._records[host], error=f"{cmdlet}: {result}"), "")
                continue
            self.log.info(f"{cmdlet}{note} started", ups=self._ups_of(host), host=host,
                          job=result)
            self.outcome.actions.append(f"{cmdlet} {host}")
            self._records[host] = replace(record, job=result).noted(now, cmdlet, job=result)
            self._observe(host, lc.JOB_STARTED)

    def _start_vms(self, hosts: Sequence[str]) -> None:
        for host in sorted(hosts):
            self._due[host] = lc.NOTHING
            if self.dry_run:
                self.log.info("would start the VMs we saved", ups=self._ups_of(host),
                              host=host)
                continue
            record = self._ask(self.vms.start_saved, host, self._ups_of(host),
                               self._records[host], self.clock())
            self._set(host, record, "")
            if not record.start_jobs:
                self._observe(host, lc.JOB_SUCCEEDED, "no VM of ours started")

    # --- polling -------------------------------------------------------------------------

    def _running_jobs(self) -> dict[str, str]:
        """job id -> host, for every job we still wait for."""
        jobs = {job: host for host in self._targets for job in self._records[host].start_jobs}
        jobs.update({self._records[host].job: host for host in self._hosts_due(lc.POLL)
                     if self._records[host].job})
        return jobs  # type: ignore[return-value]

    def _poll(self, jobs: Mapping[str, str]) -> None:
        results = self._ask(self._driver_now().get_jobs, list(jobs))
        for job, host in jobs.items():
            result = results.get(job, ScvmmError("no answer for this job"))
            if job in self._records[host].start_jobs:
                self._start_job_result(host, job, result)
            elif job == self._records[host].job:
                self._job_result(host, job, result)

    def _job_result(self, host: str, job: str, result: JobInfo | ScvmmError) -> None:
        record, now = self._records[host], self.clock()
        if isinstance(result, ScvmmError):
            self._log_error(host, f"cannot read job: {result}; re-reading the host", job=job)
            self._observe(host, lc.JOB_UNKNOWN)
            return
        if not result.finished:
            before = lc.lifecycle_of(record, self._exit_and_start)
            if lc.refine(before, lc.JOB_RUNNING, now) == lc.JOB_STALE:
                self._log_error(host, f"job still {result.status or 'unfinished'} after "
                                f"{lc.STALE_JOB_SECONDS:.0f}s: no longer waited for; "
                                "re-reading the host", job=job)
                self._records[host] = record.noted(now, "job given up", job=job,
                                                   status=result.status)
            self._observe(host, lc.JOB_RUNNING)
            return
        self.log.info(f"job ended: {result.status}" + (f" ({result.error})" if result.error
                                                       else ""), ups=self._ups_of(host),
                      host=host, job=job)
        self._records[host] = record.noted(now, "job ended", job=job, status=result.status,
                                           error=result.error)
        cmdlet = "Enable-SCVMHost" if record.job_kind == JOB_ENABLE else "Disable-SCVMHost"
        if not result.succeeded:
            reason = f"{cmdlet} job {job} {result.status}: {result.error or '-'}"
            if lc.TABLE[(lc.state_of(record), lc.JOB_FAILED)].next_state == lc.FALLBACK_CHECK:
                self._log_error(host, f"{reason}; falling back to save mode", job=job)
            self._observe(host, lc.JOB_FAILED, reason)
            return
        if self._observe(host, lc.JOB_SUCCEEDED) == lc.NOTHING \
                and lc.state_of(self._records[host]) == lc.MAINTENANCE:
            saved = self.vms.saved_after_disable(host, self._records[host], self._records)
            names = tuple((vm_id, self.vms.names[vm_id]) for vm_id in saved or ()
                          if vm_id in self.vms.names)
            self._set(host, replace(self._records[host], vms_saved=saved,
                                    saved_vm_names=names),
                      f"in maintenance (VMs we saved: {', '.join(saved or ()) or 'none'})")

    def _start_job_result(self, host: str, job: str, result: JobInfo | ScvmmError) -> None:
        record = self.vms.start_job_polled(host, self._ups_of(host), self._records[host], job,
                                           result, now=self.clock())
        if record is not None:
            self._set(host, record, "")
            if not record.start_jobs:
                self._observe(host, lc.JOB_SUCCEEDED, "VM starts ended")

    # --- bookkeeping ---------------------------------------------------------------------

    def _set(self, host: str, record: HostRecord, why: str) -> None:
        old = self._records[host]
        if why:
            change = f"{old.phase} -> {record.phase}" if old.phase != record.phase \
                else record.phase
            self.log.info(f"{change}: {why}", ups=self._ups_of(host), host=host,
                          job=record.job)
        self._records[host] = record
        self.store.save_host(host, record)

    def _fail(self, host: str | None, reason: str) -> None:
        self.log.error(reason, ups=self.ups, host=host)
        self.outcome.errors.append(f"{host}: {reason}" if host else reason)

    def _log_error(self, host: str, reason: str, job: str | None = None) -> None:
        self.log.error(reason, ups=self._ups_of(host), host=host, job=job)

    def _record_disconnection(self, reason: str) -> None:
        """The work that could not be done stays in the records for the next call."""
        self._fail(None, reason)
        for host in self._targets:
            record = self._records[host]
            if lc.PHASE_OF[lc.state_of(record)] in ("entering", "leaving") and not record.job:
                with contextlib.suppress(StateError):
                    self._set(host, replace(record, error=reason), "")

    def _ups_of(self, host: str) -> str | None:
        if self.ups is not None:
            return self.ups
        return self._records.get(host, HostRecord()).ups


def _mode_words(move: bool) -> str:
    return "-MoveWithinCluster: live-migrate HA VMs, save the rest" if move \
        else "save all running VMs"


def _connection_reason(error: ScvmmError) -> str:
    if type(error) is ScvmmError:  # e.g. no password: the message says it all
        return str(error)
    if isinstance(error, ScvmmAuthError):
        return f"SCVMM authentication failed: {error}"
    return f"SCVMM unreachable: {error}"
