"""The imperative shell: bring SCVMM to the decided targets, within the time budget.

For each host it compares three things: the target (from the policy, or from the host
record's pending work), the host record (what we did), and SCVMM (read before acting).
It then does only the difference, writing the record *before* each SCVMM action (so a
handler killed in between still knows the host is ours) and after it (the job id).
Jobs are polled until they end or the budget runs out; the next call resumes.

Ordering: the vmm_host is disabled only once no other host has a Disable job running or
due; on power return its Enable is issued before the others'.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from check_dell_ups.maintenance.config import Config
from check_dell_ups.maintenance.driver import (
    HostInfo,
    JobInfo,
    ScvmmAuthError,
    ScvmmDriver,
    ScvmmError,
    VmInfo,
)
from check_dell_ups.maintenance.log import HandlerLog
from check_dell_ups.maintenance.policy import (
    TARGET_HOLD,
    TARGET_MAINTENANCE,
    TARGET_NORMAL,
    mode_of,
    pending_targets_of,
)
from check_dell_ups.maintenance.records import (
    JOB_DISABLE_MIGRATE,
    JOB_DISABLE_SAVE,
    JOB_ENABLE,
    WANT_MAINTENANCE,
    WANT_NORMAL,
    HostRecord,
    RecordError,
    UpsRecord,
    parse_iso,
)
from check_dell_ups.maintenance.state import StateError, StateStore

# VMM's VirtualMachineState members (enum VMComputerSystemState) the handler acts on.
VM_RUNNING = "Running"
VM_SAVED = "Saved"
_FIRST_POLL_INTERVAL = 0.5
_MAX_POLL_INTERVAL = 2.0
_SAVE_MARGIN = 0.5  # seconds kept at the end of the budget to write the state
# A job SCVMM still reports unfinished this long after we started it is no longer waited
# for (a VMM job can hang, e.g. when its host loses power): the host's state decides
# again, else the host would stay entering or leaving, never enabled, forever.
_STALE_JOB_SECONDS = 1800
# A Disable or Enable that was sent but whose job id never reached us (link lost, handler
# killed) is not sent again for a while: it may still be starting. After that, a lost
# Disable gets the one save-mode fallback (VMM refuses it while our first job still
# locks the host, so it never makes a second job); a lost Enable is never repeated (it
# may have landed and an admin put the host into maintenance since: race 8) and the host
# is handed over with an error. Not knowable with today's driver: whether the request
# left at all (a kill between writing the record and sending it).
LOST_REQUEST_GRACE = {JOB_DISABLE_MIGRATE: 30, JOB_DISABLE_SAVE: 30, JOB_ENABLE: 60}


class _DisconnectedError(Exception):
    """SCVMM as a whole is out of reach for the rest of this call."""


@dataclass
class Outcome:
    records: dict[str, HostRecord] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    in_progress: bool = False
    busy: list[str] = field(default_factory=list)  # hosts another handler works on


# How long a call waits for a host another handler works on: its budget less a reserve
# to act (as the old whole-store lock did). Waiting costs nothing durable any more: the
# event is stored before, so a call that gives up leaves it to the holder (which follows
# stored power changes while it waits on jobs) or to --retry-pending.
LOCK_RESERVE_MAX = 10.0


class Reconciler:
    def __init__(self, *, config: Config, store: StateStore, log: HandlerLog,
                 connect: Callable[[], ScvmmDriver], deadline: float,
                 dry_run: bool = False, ups: str | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] | None = None,
                 lock_wait: float | None = None, follow_power: bool = False) -> None:
        self.config = config
        # The handler's own calls follow power stored meanwhile; a drill does not (it
        # drives a host on purpose while the UPS is on mains).
        self.follow_power = follow_power
        budget = config.maintenance.budget
        self.lock_wait = lock_wait if lock_wait is not None else max(
            0.0, deadline - monotonic() - min(LOCK_RESERVE_MAX, budget / 4))
        self._lockable: set[str] = set()
        self.store = store
        self.log = log
        self.connect = connect
        self.deadline = deadline
        self.dry_run = dry_run
        self.ups = ups
        self.monotonic = monotonic
        self.sleep = sleep
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.outcome = Outcome()
        self._driver: ScvmmDriver | None = None
        self._targets: dict[str, str] = {}
        self._modes: dict[str, str] = {}
        self._records: dict[str, HostRecord] = {}
        self._read_done: set[str] = set()
        self._disable_queue: dict[str, bool] = {}  # host -> move within cluster
        self._enable_queue: list[str] = []
        self._start_queue: set[str] = set()
        self._settled_by_dry_run: set[str] = set()
        self._ours_before_disable: dict[str, bool] = {}

    # --- entry point ---------------------------------------------------------------------

    def run(self, targets: Mapping[str, str], modes: Mapping[str, str]) -> Outcome:
        """Bring the hosts to their targets. Each host is locked for this call alone;
        a host another handler works on is left to it (outcome.busy)."""
        wanted = set(targets)
        if self.config.scvmm.vmm_host in targets:
            wanted |= self._entering_elsewhere()
        try:
            with self.store.hosts_locked(wanted, self.lock_wait) as (locked, busy):
                self._lockable = set(locked)
                for host in sorted(set(busy) & set(targets)):
                    self.log.info("busy with another dell_ups_maintenance call, which follows "
                                  "stored power changes; --retry-pending finishes what it "
                                  "leaves", ups=self._ups_of(host), host=host)
                    self.outcome.busy.append(host)
                return self._run_locked({host: target for host, target in targets.items()
                                         if host in self._lockable}, modes)
        except StateError as error:
            self._fail(None, str(error))
            return self.outcome

    def _entering_elsewhere(self) -> set[str]:
        """Hosts with a Disable job running: the vmm_host waits for them."""
        hosts = set()
        for host in self.config.all_hosts():
            try:
                record = self.store.load_host(host, keep_aside=False)
            except StateError:
                continue
            if record.phase == "entering" and record.job:
                hosts.add(host)
        return hosts

    def _run_locked(self, targets: Mapping[str, str], modes: Mapping[str, str]) -> Outcome:
        self._modes = dict(modes)
        self._load_records(targets)
        try:
            for host in list(self._targets):
                self._prepare(host)
            self._loop()
        except _DisconnectedError as error:
            self._record_disconnection(str(error))
        except StateError as error:
            self._fail(None, str(error))
        finally:
            if self._driver is not None:
                # Closing must not mask the outcome.
                with contextlib.suppress(Exception):
                    self._driver.close()
        self.outcome.records = {host: self._records[host] for host in self._targets}
        return self.outcome

    def _load_records(self, targets: Mapping[str, str]) -> None:
        # Every configured host: the vmm_host ordering looks at all of them.
        for host in self.config.all_hosts():
            try:
                self._records[host] = self.store.load_host(host)
            except StateError as error:
                if host in targets:
                    self._fail(host, f"{error}; nothing done for {host}")
        self._targets = {host: target for host, target in targets.items()
                         if host in self._records}
        vmm_host = self.config.scvmm.vmm_host
        if vmm_host in self._targets:
            # The vmm_host waits for the others' Disable jobs: follow those too.
            for host, record in self._records.items():
                if host not in self._targets and record.phase == "entering" and record.job \
                        and host in self._lockable:
                    self._targets[host] = TARGET_HOLD

    # --- the rounds ----------------------------------------------------------------------

    def _loop(self) -> None:
        interval = _FIRST_POLL_INTERVAL
        while True:
            to_read = [host for host in self._targets
                       if host not in self._read_done and self._needs_read(host)]
            if to_read:
                self._read_hosts(to_read)
            self._issue_enables()
            self._issue_starts()
            self._issue_disables()
            if self.dry_run:
                return
            jobs = self._running_jobs()
            if not jobs:
                if self._more_to_read():
                    continue
                if self._disable_queue:  # the vmm_host waits for others: next call
                    self.outcome.in_progress = True
                return
            if self.monotonic() + interval + _SAVE_MARGIN > self.deadline:
                self.outcome.in_progress = True
                for job, host in jobs.items():
                    self.log.info("budget spent, job still running: resumed by the next call",
                                  ups=self._ups_of(host), host=host, job=job)
                return
            if jobs:
                self.sleep(interval)
                interval = min(interval * 1.5, _MAX_POLL_INTERVAL)
                self._poll(jobs)
                if self.follow_power:
                    self._follow_power()

    def _follow_power(self) -> None:
        """While we wait on jobs, another call may store that power returned (it could not
        work on our locked hosts): bring those hosts back in this call."""
        power: dict[str, UpsRecord | None] = {}
        for host in list(self._targets):
            if self._effective_target(host) != TARGET_MAINTENANCE:
                continue
            for name in self.config.ups_of_host(host):
                if name not in power:
                    try:
                        power[name] = self.store.load_ups(name, keep_aside=False)
                    except StateError:
                        power[name] = None
                record = power[name]
                if record is not None and record.power == "mains":
                    self.log.info(f"UPS {name} stored on mains meanwhile: power restored",
                                  ups=name, host=host)
                    self._targets[host] = TARGET_NORMAL
                    self._disable_queue.pop(host, None)
                    self._prepare(host)
                    self._read_done.discard(host)
                    break

    def _more_to_read(self) -> bool:
        return any(host not in self._read_done and self._needs_read(host)
                   for host in self._targets)

    def _effective_target(self, host: str) -> str:
        target = self._targets[host]
        if target != TARGET_HOLD:
            return target
        record = self._records[host]
        if record.phase == "entering":
            return TARGET_MAINTENANCE
        if record.phase == "leaving":
            return TARGET_NORMAL
        return TARGET_HOLD

    # --- transitions that need no SCVMM --------------------------------------------------

    def _prepare(self, host: str) -> None:
        """Power restored: turn what we did into 'leaving' (or hand it over)."""
        if self._effective_target(host) != TARGET_NORMAL:
            return
        record = self._records[host]
        now = self.clock()
        restore = self.config.maintenance.on_power_restored
        entered = record.phase in ("maintenance", "entering") or (
            record.phase == "failed" and record.wanted == WANT_MAINTENANCE)
        if entered and not record.ours:
            self._set(host, record.moved("normal", now, wanted=None, job=None, job_kind=None,
                                         error=None),
                      "power restored before we asked SCVMM for anything: back to normal")
        elif entered and restore == "none":
            # A Disable job may still run: it is no longer ours to follow.
            self._set(host, record.moved("admin", now, ours=False, wanted=None, error=None,
                                         job=None, job_kind=None),
                      "power restored, on_power_restored=none: left in maintenance and "
                      "handed over to the admins")
        elif entered or (record.phase == "failed" and record.wanted == WANT_NORMAL):
            keep_job = record.phase == "entering" and record.job is not None
            # Entering and ours without a job: a Disable we sent may run unseen (the
            # handler was killed, or the link dropped, before its job id reached us).
            keep_kind = keep_job or (record.phase == "entering" and record.ours)
            self._set(host, record.moved(
                "leaving", now, wanted=WANT_NORMAL, error=None,
                job=record.job if keep_job else None,
                job_kind=record.job_kind if keep_kind else None),
                f"power restored: leaving maintenance (on_power_restored={restore})")

    def _needs_read(self, host: str) -> bool:
        record = self._records[host]
        target = self._effective_target(host)
        if host in self._settled_by_dry_run or record.job or record.start_jobs:
            return False
        if target == TARGET_MAINTENANCE:
            if record.phase == "maintenance":
                return False
            return not (record.phase == "failed" and record.wanted == WANT_MAINTENANCE)
        if target == TARGET_NORMAL:
            return record.phase == "leaving"
        return False

    # --- reading SCVMM -------------------------------------------------------------------

    def _driver_now(self) -> ScvmmDriver:
        if self._driver is None:
            try:
                self._driver = self.connect()
            except ScvmmError as error:
                raise _DisconnectedError(_connection_reason(error)) from None
        return self._driver

    def _read_hosts(self, hosts: Sequence[str]) -> None:
        driver = self._driver_now()
        try:
            infos = driver.get_hosts(list(hosts))
        except ScvmmError as error:
            raise _DisconnectedError(_connection_reason(error)) from None
        for host in hosts:
            self._read_done.add(host)
            info = infos.get(host)
            if info is None:
                info = ScvmmError("no answer for this host")
            if isinstance(info, ScvmmError):
                self._host_error(host, f"cannot read host from SCVMM: {info}")
                continue
            self._after_read(host, info)

    def _after_read(self, host: str, info: HostInfo) -> None:
        record = self._records[host]
        now = self.clock()
        target = self._effective_target(host)
        ups = self._ups_of(host)
        if target == TARGET_MAINTENANCE:
            if info.in_maintenance:
                if record.ours and record.phase != "admin":
                    self._set(host, record.moved("maintenance", now, wanted=None, error=None),
                              "SCVMM shows the host in maintenance: done")
                elif record.phase != "admin":
                    self._set(host, record.moved("admin", now, ours=False, wanted=None,
                                                 error=None),
                              "already in maintenance and not by us: an admin's, never touched")
                else:
                    self.log.info("still in maintenance by an admin: not touched",
                                  ups=ups, host=host)
                return
            if record.phase in ("leaving", "admin") or (
                    record.phase == "failed" and record.wanted == WANT_NORMAL):
                # A new Disable: an earlier outage's fallback must not forbid this one's.
                record = record.moved("normal", now, ours=False, wanted=None, error=None,
                                      fallback_done=False)
                self._set(host, record, "not in maintenance in SCVMM")
            if _sent_without_job(record) and record.phase == "entering":
                if not self._lost_request_expired(record, now):
                    self.log.info("not in maintenance, but the Disable we sent may still be "
                                  "starting (its job id never reached us): not sent again "
                                  f"before {_grace(record)}s; the next call looks again",
                                  ups=ups, host=host)
                    self.outcome.in_progress = True
                    return
                if record.job_kind == JOB_DISABLE_MIGRATE and not record.fallback_done:
                    record = replace(record, job_kind=JOB_DISABLE_SAVE, fallback_done=True,
                                     job_started=None)
                    self._set(host, record, f"the Disable we sent (job id lost) did not "
                              f"show within {_grace(record)}s: the save-mode fallback")
                else:
                    reason = (f"the Disable we sent (job id lost) did not put the host into "
                              f"maintenance within {_grace(record)}s; not sent again")
                    self._set(host, record.moved("failed", now, wanted=WANT_MAINTENANCE,
                                                 job_started=None, error=reason), "")
                    self._fail(host, reason)
                    return
            mode = self._modes.get(host, self._mode_of(host))
            # After a failed migration, a retry of the save-mode fallback stays in save
            # mode: migrating again would fail again and leave the host "failed".
            fallback_due = record.phase == "entering" and record.fallback_done
            move = mode == "migrate" and info.cluster is not None and not fallback_due
            if host == self.config.scvmm.vmm_host:
                self.log.info("vmm_host: disabled only after the other hosts' jobs end",
                              ups=ups, host=host)
            self._disable_queue[host] = move
        elif target == TARGET_NORMAL:
            if info.in_maintenance and _sent_without_job(record) \
                    and record.job_kind == JOB_ENABLE:
                # Race 8: our Enable may have landed and an admin put the host back into
                # maintenance since. Never enable it a second time.
                if not self._lost_request_expired(record, now):
                    self.log.info("in maintenance, but the Enable we sent may still be "
                                  "starting (its job id never reached us): not sent again; "
                                  "the next call looks again", ups=ups, host=host)
                    self.outcome.in_progress = True
                    return
                reason = (f"the Enable we sent (job id lost) did not show within "
                          f"{_grace(record)}s and the host is in maintenance: not sent "
                          "again (an admin may have put it there since); left to the admins")
                self._set(host, record.moved("admin", now, ours=False, wanted=None, job=None,
                                             job_kind=None, job_started=None, error=reason),
                          "handed over")
                self._fail(host, reason)
            elif info.in_maintenance:
                self._enable_queue.append(host)
            elif self._unseen_disable_may_run(record, now):
                # Its job would put the host into maintenance after we called it normal,
                # and nothing would bring it back: look again (--retry-pending) for a while.
                self.log.info("not in maintenance, but a Disable we sent may still run (its "
                              "job id never reached us): looking again by the next call",
                              ups=ups, host=host)
                self.outcome.in_progress = True
            else:
                self._finish_leaving(host, "SCVMM shows the host out of maintenance")

    # --- acting --------------------------------------------------------------------------

    def _issue_disables(self) -> None:
        if not self._disable_queue:
            return
        vmm_host = self.config.scvmm.vmm_host
        batch = {host: move for host, move in self._disable_queue.items() if host != vmm_host}
        if vmm_host in self._disable_queue and (
                self.dry_run or (not batch and not self._others_entering(vmm_host))):
            batch[vmm_host] = self._disable_queue[vmm_host]  # last, after the others
        if not batch:
            return
        for host in batch:
            del self._disable_queue[host]
        driver = None if self.dry_run else self._driver_now()
        now = self.clock()
        for host, move in batch.items():
            record = self._records[host]
            kind = JOB_DISABLE_MIGRATE if move else JOB_DISABLE_SAVE
            if self.dry_run:
                self.log.info(f"would Disable-SCVMHost ({_mode_words(move)})",
                              ups=self._ups_of(host), host=host)
                self.outcome.actions.append(f"would disable {host}")
                self._settled_by_dry_run.add(host)
                continue
            running = record.vms_running
            if record.phase == "normal" or running is None:
                running = self._running_vms(driver, host)
            self._ours_before_disable[host] = record.ours
            self._set(host, record.moved(
                "entering", now, ours=True, wanted=WANT_MAINTENANCE, ups=self.ups or record.ups,
                job=None, job_kind=kind, error=None, vms_running=running, vms_saved=None,
                start_jobs=(), job_started=now), "")
        if self.dry_run:
            return
        assert driver is not None
        try:
            results = driver.disable_hosts(batch)
        except ScvmmError as error:
            raise _DisconnectedError(_connection_reason(error)) from None
        self._record_jobs(batch, results, "Disable-SCVMHost",
                          {host: _mode_words(move) for host, move in batch.items()})

    def _others_entering(self, vmm_host: str) -> bool:
        return any(host != vmm_host and record.phase == "entering" and record.job
                   for host, record in self._records.items())

    def _issue_enables(self) -> None:
        if not self._enable_queue:
            return
        vmm_host = self.config.scvmm.vmm_host
        queue, self._enable_queue = self._enable_queue, []
        # The VMM server's host first: SCVMM itself lives there.
        batches = [[host] for host in queue if host == vmm_host]
        rest = [host for host in queue if host != vmm_host]
        if rest:
            batches.append(rest)
        for batch in batches:
            if self.dry_run:
                for host in batch:
                    self.log.info("would Enable-SCVMHost", ups=self._ups_of(host), host=host)
                    self.outcome.actions.append(f"would enable {host}")
                    self._settled_by_dry_run.add(host)
                continue
            driver = self._driver_now()
            now = self.clock()
            for host in batch:
                self._set(host, self._records[host].moved(
                    "leaving", now, wanted=WANT_NORMAL, job=None, job_kind=JOB_ENABLE,
                    job_started=now), "")
            try:
                results = driver.enable_hosts(batch)
            except ScvmmError as error:
                raise _DisconnectedError(_connection_reason(error)) from None
            self._record_jobs(batch, results, "Enable-SCVMHost", {})

    def _record_jobs(self, hosts: Sequence[str] | Mapping[str, bool],
                     results: Mapping[str, str | ScvmmError], cmdlet: str,
                     notes: Mapping[str, str]) -> None:
        now = self.clock()
        for host in hosts:
            result = results.get(host, ScvmmError("no answer for this host"))
            record = self._records[host]
            note = f" ({notes[host]})" if host in notes else ""
            if isinstance(result, ScvmmError):
                # The command itself was refused (e.g. the host is locked by a job we lost
                # track of): keep the phase, so the next call reads the host and retries.
                self._log_error(host, f"{cmdlet}{note} refused: {result}")
                # A refused Disable started nothing: the host is ours only if it was
                # before (e.g. our earlier job locks it). Else whoever locks it may be an
                # admin entering maintenance, and that host must never become ours.
                ours = self._ours_before_disable.pop(host, record.ours) \
                    if cmdlet == "Disable-SCVMHost" else record.ours
                self._set(host, replace(record, job=None, ours=ours, job_started=None,
                                        error=f"{cmdlet}: {result}")
                          .noted(now, cmdlet, error=str(result)), "")
                self.outcome.errors.append(f"{host}: {cmdlet} refused: {result}")
                continue
            self.log.info(f"{cmdlet}{note} started", ups=self._ups_of(host), host=host,
                          job=result)
            self.outcome.actions.append(f"{cmdlet} {host}")
            self._set(host, replace(record, job=result).noted(now, cmdlet, job=result), "")

    def _issue_starts(self) -> None:
        if not self._start_queue:
            return
        hosts, self._start_queue = sorted(self._start_queue), set()
        if self.dry_run:
            for host in hosts:
                self.log.info("would start the VMs we saved", ups=self._ups_of(host),
                              host=host)
                self._settled_by_dry_run.add(host)
            return
        driver = self._driver_now()
        now = self.clock()
        for host in hosts:
            record = self._records[host]
            candidates = record.vms_saved if record.vms_saved is not None \
                else record.vms_running or ()
            to_start = self._still_saved(driver, host, candidates)
            if not to_start:
                self._finish_normal(host, "no VM of ours to start")
                continue
            try:
                results = driver.start_vms(list(to_start))
            except ScvmmError as error:
                raise _DisconnectedError(_connection_reason(error)) from None
            jobs: list[str] = []
            for vm_id, shown in to_start.items():
                result = results.get(vm_id, ScvmmError("no answer for this VM"))
                if isinstance(result, ScvmmError):
                    self._log_error(host, f"Start-SCVirtualMachine {shown} failed: {result}")
                    self.outcome.errors.append(f"{host}: start of {shown} failed: {result}")
                    continue
                self.log.info(f"Start-SCVirtualMachine {shown} started (we saved it)",
                              ups=self._ups_of(host), host=host, job=result)
                self.outcome.actions.append(f"Start-SCVirtualMachine {shown}")
                jobs.append(result)
                record = record.noted(now, "Start-SCVirtualMachine", vm=vm_id, job=result)
            if jobs:
                self._set(host, replace(record, start_jobs=tuple(jobs)), "")
            else:
                self._finish_normal(host, "VM starts failed", record=record)

    def _still_saved(self, driver: ScvmmDriver, host: str,
                     candidates: Sequence[str]) -> dict[str, str]:
        """Of the VMs we saved (by ID), those still saved on the host (not started by
        someone): VM id -> how to name it in the log."""
        if not candidates:
            return {}
        try:
            vms = driver.get_vms(host)
        except ScvmmError as error:
            self.log.info(f"cannot list VMs ({error}); starting the VMs we saved",
                          ups=self._ups_of(host), host=host)
            return {vm_id: vm_id for vm_id in candidates}
        saved = {vm.vm_id: vm for vm in _ours(vms, candidates) if vm.state == VM_SAVED}
        return {vm_id: f"{vm.name} ({vm_id})" for vm_id, vm in saved.items()}

    def _running_vms(self, driver: ScvmmDriver | None, host: str) -> tuple[str, ...] | None:
        if driver is None:
            return None
        try:
            vms = driver.get_vms(host)
        except ScvmmError as error:
            self.log.info(f"cannot list VMs before Disable ({error}): VMs will not be "
                          "started on power return", ups=self._ups_of(host), host=host)
            return None
        running = [vm for vm in vms if vm.state == VM_RUNNING]
        self.log.info("VMs running before Disable: "
                      f"{', '.join(vm.name for vm in running) or 'none'}",
                      ups=self._ups_of(host), host=host)
        return tuple(vm.vm_id for vm in running)

    # --- polling -------------------------------------------------------------------------

    def _running_jobs(self) -> dict[str, str]:
        """job id -> host, for every job we still wait for."""
        jobs: dict[str, str] = {}
        for host in self._targets:
            record = self._records[host]
            if record.job:
                jobs[record.job] = host
            for job in record.start_jobs:
                jobs[job] = host
        return jobs

    def _poll(self, jobs: Mapping[str, str]) -> None:
        driver = self._driver_now()
        try:
            results = driver.get_jobs(list(jobs))
        except ScvmmError as error:
            raise _DisconnectedError(_connection_reason(error)) from None
        for job, host in jobs.items():
            result = results.get(job, ScvmmError("no answer for this job"))
            record = self._records[host]
            if job in record.start_jobs:
                self._start_job_result(host, job, result)
            elif job == record.job:
                self._job_result(host, job, result)

    def _job_result(self, host: str, job: str, result: JobInfo | ScvmmError) -> None:
        record = self._records[host]
        now = self.clock()
        ups = self._ups_of(host)
        if isinstance(result, ScvmmError):
            # Job unknown: forget it and look at the host itself again.
            self._log_error(host, f"cannot read job: {result}; re-reading the host", job=job)
            self._set(host, replace(record, job=None), "")
            self._read_done.discard(host)
            return
        if not result.finished:
            if self._job_age(record, job, now) >= _STALE_JOB_SECONDS:
                self._log_error(host, f"job still {result.status or 'unfinished'} after "
                                f"{_STALE_JOB_SECONDS}s: no longer waited for; re-reading "
                                "the host", job=job)
                self._set(host, replace(record, job=None).noted(
                    now, "job given up", job=job, status=result.status), "")
                self._read_done.discard(host)
            return
        self.log.info(f"job ended: {result.status}" + (f" ({result.error})" if result.error
                                                       else ""), ups=ups, host=host, job=job)
        record = record.noted(now, "job ended", job=job, status=result.status,
                              error=result.error)
        if record.job_kind == JOB_ENABLE:
            if result.succeeded:
                self._finish_leaving(host, "Enable-SCVMHost completed", record=record)
            else:
                reason = f"Enable-SCVMHost job {job} {result.status}: {result.error or '-'}"
                self._set(host, record.moved("failed", now, wanted=WANT_NORMAL, job=None,
                                             error=reason), "")
                self._fail(host, reason)
            return
        # A Disable job.
        if record.phase == "leaving":
            # Power came back while it ran: now look at the host and enable it.
            self._set(host, replace(record, job=None, job_kind=None), "Disable job ended "
                      "after power returned: leaving maintenance next")
            self._read_done.discard(host)
            return
        if result.succeeded:
            saved = self._saved_vms(host, record)
            self._set(host, record.moved("maintenance", now, job=None, wanted=None, error=None,
                                         vms_saved=saved, job_started=None),
                      f"in maintenance (VMs we saved: {', '.join(saved or ()) or 'none'})")
            return
        reason = f"Disable-SCVMHost job {job} {result.status}: {result.error or '-'}"
        if record.job_kind == JOB_DISABLE_MIGRATE and not record.fallback_done:
            self._log_error(host, f"{reason}; falling back to save mode", job=job)
            self._set(host, replace(record, job=None, job_kind=JOB_DISABLE_SAVE,
                                    fallback_done=True, error=reason, job_started=None), "")
            self._disable_queue[host] = False
            return
        self._set(host, record.moved("failed", now, wanted=WANT_MAINTENANCE, job=None,
                                     error=reason), "")
        self._fail(host, reason)

    def _start_job_result(self, host: str, job: str, result: JobInfo | ScvmmError) -> None:
        record = self._records[host]
        if isinstance(result, JobInfo) and not result.finished:
            if self._job_age(record, job, self.clock()) < _STALE_JOB_SECONDS:
                return
            result = replace(result, error=f"still {result.status or 'unfinished'} after "
                             f"{_STALE_JOB_SECONDS}s: no longer waited for")
        remaining = tuple(other for other in record.start_jobs if other != job)
        if isinstance(result, ScvmmError) or not result.succeeded:
            why = result if isinstance(result, ScvmmError) else \
                f"{result.status}: {result.error or '-'}"
            self._log_error(host, f"Start-SCVirtualMachine job failed: {why}", job=job)
            self.outcome.errors.append(f"{host}: a VM start failed: {why}")
        else:
            self.log.info("Start-SCVirtualMachine completed", ups=self._ups_of(host),
                          host=host, job=job)
        record = replace(record, start_jobs=remaining)
        if remaining:
            self._set(host, record, "")
        else:
            self._finish_normal(host, "VM starts ended", record=record)

    @staticmethod
    def _unseen_disable_may_run(record: HostRecord, now: datetime) -> bool:
        return (record.phase == "leaving" and record.ours and record.job is None
                and record.job_kind in (JOB_DISABLE_MIGRATE, JOB_DISABLE_SAVE)
                and record.since is not None
                and (now - record.since).total_seconds() < _STALE_JOB_SECONDS)

    @staticmethod
    def _lost_request_expired(record: HostRecord, now: datetime) -> bool:
        if record.job_started is None:
            return True
        age = (now - record.job_started).total_seconds()
        # A start in the future: the clock went back across a reboot; do not wait on it.
        return age < 0 or age >= _grace(record)

    @staticmethod
    def _job_age(record: HostRecord, job: str, now: datetime) -> float:
        """Seconds since we started the job (job_started, else the record's history)."""
        if record.job_started is not None and record.job == job:
            return (now - record.job_started).total_seconds()
        for entry in reversed(record.history):
            if isinstance(entry, dict) and entry.get("job") == job \
                    and entry.get("action") != "job ended":
                try:
                    started = parse_iso(entry.get("at"))
                except RecordError:
                    return 0.0
                return (now - started).total_seconds() if started else 0.0
        return 0.0

    def _saved_vms(self, host: str, record: HostRecord) -> tuple[str, ...] | None:
        """The VMs saved on this host that were running before one of our Disables: HA
        VMs live-migrated here from a host we disabled earlier count too (they were in
        no list of this host's), else exit-and-start would never start them."""
        candidates = self._running_before_our_disables(host, record)
        if candidates is None:
            return None
        try:
            vms = self._driver_now().get_vms(host)
        except ScvmmError:
            return record.vms_running
        return tuple(vm.vm_id for vm in _ours(vms, candidates) if vm.state == VM_SAVED)

    def _running_before_our_disables(self, host: str,
                                     record: HostRecord) -> tuple[str, ...] | None:
        if record.vms_running is None:
            return None
        seen = dict.fromkeys(record.vms_running)
        for other, other_record in self._records.items():
            if other != host and other_record.ours and other_record.vms_running:
                seen.update(dict.fromkeys(other_record.vms_running))
        return tuple(seen)

    # --- finishing -----------------------------------------------------------------------

    def _finish_leaving(self, host: str, why: str, record: HostRecord | None = None) -> None:
        record = record or self._records[host]
        wants_start = self.config.maintenance.on_power_restored == "exit-and-start"
        if wants_start and (record.vms_saved or record.vms_running):
            self._set(host, replace(record, job=None, job_kind=None), f"{why}; starting the "
                      "VMs we saved")
            self._start_queue.add(host)
        else:
            self._finish_normal(host, why, record=record)

    def _finish_normal(self, host: str, why: str, record: HostRecord | None = None) -> None:
        record = record or self._records[host]
        self._set(host, record.moved("normal", self.clock(), ours=False, wanted=None, job=None,
                                     job_kind=None, error=None, fallback_done=False,
                                     vms_running=None, vms_saved=None, start_jobs=(),
                                     job_started=None),
                  f"{why}: back to normal")

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

    def _host_error(self, host: str, reason: str) -> None:
        record = self._records[host]
        self._set(host, replace(record, error=reason), "")
        self._fail(host, reason)

    def _fail(self, host: str | None, reason: str) -> None:
        self.log.error(reason, ups=self.ups, host=host)
        self.outcome.errors.append(f"{host}: {reason}" if host else reason)

    def _log_error(self, host: str, reason: str, job: str | None = None) -> None:
        self.log.error(reason, ups=self._ups_of(host), host=host, job=job)

    def _record_disconnection(self, reason: str) -> None:
        """Keep the work that could not be done as pending, for the next call."""
        now = self.clock()
        self._fail(None, reason)
        for host in self._targets:
            record = self._records[host]
            target = self._effective_target(host)
            pending = host in self._disable_queue or (
                target == TARGET_MAINTENANCE and record.phase == "normal"
                and self._needs_read(host))
            if pending and record.phase == "normal":
                self._safe_set(host, record.moved("entering", now, wanted=WANT_MAINTENANCE,
                                                  ups=self.ups, error=reason),
                               "pending: SCVMM out of reach")
            elif record.phase in ("entering", "leaving") and not record.job:
                self._safe_set(host, replace(record, error=reason), "")
        self._disable_queue.clear()

    def _safe_set(self, host: str, record: HostRecord, why: str) -> None:
        try:
            self._set(host, record, why)
        except StateError as error:
            self._fail(host, str(error))

    def _ups_of(self, host: str) -> str | None:
        if self.ups is not None:
            return self.ups
        return self._records.get(host, HostRecord()).ups

    def _mode_of(self, host: str) -> str:
        return mode_of(self.config, host)


def pending_targets(config: Config, store: StateStore) -> tuple[dict[str, str], list[str]]:
    """--retry-pending: the hosts whose records still have work to finish (the rule is
    policy.pending_targets_of; this reads the records for it)."""
    errors: list[str] = []
    power: dict[str, UpsRecord | None] = {}
    for name in config.ups:
        try:
            power[name] = store.load_ups(name)
        except StateError as error:
            errors.append(str(error))
            power[name] = None
    hosts: dict[str, HostRecord] = {}
    for host in config.all_hosts():
        try:
            hosts[host] = store.load_host(host)
        except StateError as error:
            errors.append(str(error))
    return pending_targets_of(config, power, hosts), errors


def _ours(vms: Sequence[VmInfo], recorded: Sequence[str]) -> list[VmInfo]:
    """The VMs a record names: by ID; a name from a record written before VMs were kept
    by ID counts only where exactly one VM on the host bears it (names are not unique)."""
    by_name: dict[str, list[VmInfo]] = {}
    for vm in vms:
        by_name.setdefault(vm.name, []).append(vm)
    found = []
    for vm in vms:
        if vm.vm_id in recorded or (vm.name in recorded and len(by_name[vm.name]) == 1):
            found.append(vm)
    return found


def _grace(record: HostRecord) -> int:
    return LOST_REQUEST_GRACE.get(record.job_kind or "", 30)


def _sent_without_job(record: HostRecord) -> bool:
    """A Disable/Enable was sent (or about to be, when the handler died) and its job id
    never reached us."""
    return record.job is None and record.job_kind is not None and record.job_started is not None


def _mode_words(move: bool) -> str:
    return "-MoveWithinCluster: live-migrate HA VMs, save the rest" if move \
        else "save all running VMs"


def _connection_reason(error: ScvmmError) -> str:
    if type(error) is ScvmmError:  # e.g. no password: the message says it all
        return str(error)
    if isinstance(error, ScvmmAuthError):
        return f"SCVMM authentication failed: {error}"
    return f"SCVMM unreachable: {error}"
