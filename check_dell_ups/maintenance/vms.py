"""The VMs of a host we disable: those running before our Disable, those we saved, and
starting those again on power return (exit-and-start). By VM ID: VM names are not
unique in VMM. The Reconciler's helper: it decides nothing about the host's lifecycle
(the table does); it reads and starts VMs and says what it did."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from check_dell_ups.maintenance.driver import JobInfo, ScvmmDriver, ScvmmError, VmInfo
from check_dell_ups.maintenance.lifecycle import (
    JOB_RUNNING,
    JOB_STALE,
    STALE_JOB_SECONDS,
    STARTING_VMS,
    Lifecycle,
    refine,
)
from check_dell_ups.maintenance.log import HandlerLog
from check_dell_ups.maintenance.records import HostRecord
from check_dell_ups.maintenance.vmm_objects import VM_RUNNING, VM_SAVED


class VmKeeper:
    def __init__(self, driver: Callable[[], ScvmmDriver], log: HandlerLog,
                 errors: list[str], actions: list[str]) -> None:
        self.driver, self.log, self.errors, self.actions = driver, log, errors, actions
        self.names: dict[str, str] = {}  # VM ID -> name, of the VMs listed in this call

    def running_before_disable(self, host: str, ups: str | None) -> tuple[str, ...] | None:
        try:
            vms = self.driver().get_vms(host)
        except ScvmmError as error:
            self.log.info(f"cannot list VMs before Disable ({error}): VMs will not be "
                          "started on power return", ups=ups, host=host)
            return None
        running = [vm for vm in vms if vm.state == VM_RUNNING]
        self.log.info("VMs running before Disable: "
                      f"{', '.join(vm.name for vm in running) or 'none'}", ups=ups, host=host)
        return tuple(vm.vm_id for vm in running)

    def saved_after_disable(self, host: str, record: HostRecord,
                            records: Mapping[str, HostRecord]) -> tuple[str, ...] | None:
        """The VMs saved on this host that were running before one of our Disables: HA
        VMs live-migrated here from a host we disabled earlier count too (they were in
        no list of this host's), else exit-and-start would never start them."""
        if record.vms_running is None:
            return None
        candidates = dict.fromkeys(record.vms_running)
        for other, other_record in records.items():
            if other != host and other_record.ours and other_record.vms_running:
                candidates.update(dict.fromkeys(other_record.vms_running))
        try:
            vms = self.driver().get_vms(host)
        except ScvmmError:
            return record.vms_running
        self.names.update((vm.vm_id, vm.name) for vm in vms)
        return tuple(vm.vm_id for vm in ours(vms, tuple(candidates)) if vm.state == VM_SAVED)

    def start_saved(self, host: str, ups: str | None, record: HostRecord,
                    now: datetime) -> HostRecord:
        """Start the VMs we saved that are still saved; the record with the start jobs
        (none: nothing to start, or every start refused). A lost link raises."""
        candidates = record.vms_saved if record.vms_saved is not None \
            else record.vms_running or ()
        to_start = self._still_saved(host, ups, candidates)
        if not to_start:
            return replace(record, start_jobs=())
        results = self.driver().start_vms(list(to_start))
        jobs: list[str] = []
        for vm_id, shown in to_start.items():
            result = results.get(vm_id, ScvmmError("no answer for this VM"))
            if isinstance(result, ScvmmError):
                self.log.error(f"Start-SCVirtualMachine {shown} failed: {result}", ups=ups,
                               host=host)
                self.errors.append(f"{host}: start of {shown} failed: {result}")
                continue
            self.log.info(f"Start-SCVirtualMachine {shown} started (we saved it)", ups=ups,
                          host=host, job=result)
            self.actions.append(f"Start-SCVirtualMachine {shown}")
            jobs.append(result)
            record = record.noted(now, "Start-SCVirtualMachine", vm=vm_id, job=result)
        return replace(record, start_jobs=tuple(jobs))

    def start_job_polled(self, host: str, ups: str | None, record: HostRecord, job: str,
                         result: JobInfo | ScvmmError, *, now: datetime) -> HostRecord | None:
        """The record without the start job once it ended (or hangs too long: given up,
        by the table's stale rule); None while it runs."""
        given_up = False
        if isinstance(result, JobInfo) and not result.finished:
            started = Lifecycle(state=STARTING_VMS, job_started=started_at(record, job))
            given_up = refine(started, JOB_RUNNING, now) == JOB_STALE
            if not given_up:
                return None
        self._start_job_ended(host, ups, job, result, given_up)
        return replace(record, start_jobs=tuple(other for other in record.start_jobs
                                                if other != job))

    def _start_job_ended(self, host: str, ups: str | None, job: str,
                         result: JobInfo | ScvmmError, given_up: bool) -> None:
        if given_up and isinstance(result, JobInfo):
            status = result.status or "unfinished"
            result = replace(result, succeeded=False, error=f"still {status} after "
                             f"{STALE_JOB_SECONDS:.0f}s: no longer waited for")
        if isinstance(result, ScvmmError) or not result.succeeded:
            why = result if isinstance(result, ScvmmError) else \
                f"{result.status}: {result.error or '-'}"
            self.log.error(f"Start-SCVirtualMachine job failed: {why}", ups=ups, host=host,
                           job=job)
            self.errors.append(f"{host}: a VM start failed: {why}")
        else:
            self.log.info("Start-SCVirtualMachine completed", ups=ups, host=host, job=job)

    def _still_saved(self, host: str, ups: str | None,
                     candidates: Sequence[str]) -> dict[str, str]:
        """Of the VMs we saved, those still saved (not started by someone): VM id -> how
        to name it in the log."""
        if not candidates:
            return {}
        try:
            vms = self.driver().get_vms(host)
        except ScvmmError as error:
            self.log.info(f"cannot list VMs ({error}); starting the VMs we saved", ups=ups,
                          host=host)
            return {vm_id: vm_id for vm_id in candidates}
        return {vm.vm_id: f"{vm.name} ({vm.vm_id})" for vm in ours(vms, candidates)
                if vm.state == VM_SAVED}


def ours(vms: Sequence[VmInfo], recorded: Sequence[str]) -> list[VmInfo]:
    """The VMs a record names: by ID; a name from a record written before VMs were kept
    by ID counts only where exactly one VM on the host bears it (names are not unique)."""
    by_name: dict[str, int] = {}
    for vm in vms:
        by_name[vm.name] = by_name.get(vm.name, 0) + 1
    return [vm for vm in vms
            if vm.vm_id in recorded or (vm.name in recorded and by_name[vm.name] == 1)]


def started_at(record: HostRecord, job: str) -> datetime | None:
    """When we started a VM start job (from the record's history)."""
    for entry in reversed(record.history):
        if isinstance(entry, dict) and entry.get("job") == job \
                and entry.get("action") != "job ended":
            with contextlib.suppress(ValueError, TypeError):
                return datetime.fromisoformat(entry.get("at") or "")
            return None
    return None
