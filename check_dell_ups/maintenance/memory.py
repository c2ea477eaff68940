"""An in-memory SCVMM that implements the driver Protocol, for unit tests and benchmarks.

It models what the reconciler relies on: hosts with a maintenance flag and a cluster;
VMs keyed by their ID (an optional "name" may repeat, as VM names do in VMM) with a
power state in VMM's VirtualMachineState names (Running, Saved, PowerOff) and an HA
flag; asynchronous jobs that end after a number of polls; and a few faults
(unreachable, failing migrations, failing jobs). No network, no pypsrp.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from check_dell_ups.maintenance.driver import (
    HostInfo,
    JobInfo,
    ScvmmCommandError,
    ScvmmError,
    ScvmmUnreachable,
    VmInfo,
)


@dataclass
class _Job:
    job_id: str
    polls_left: int
    effect: Callable[[], str | None]  # returns an error when the job fails
    status: str = "Running"
    error: str | None = None


@dataclass
class MemoryScvmm:
    hosts: dict[str, dict[str, Any]]
    vms: dict[str, dict[str, Any]] = field(default_factory=dict)
    job_polls: int = 1  # get_jobs calls before a job ends
    unreachable: bool = False
    fail_migration_hosts: set[str] = field(default_factory=set)
    fail_jobs_on: set[str] = field(default_factory=set)  # "disable:host" | "enable:host"
    calls: list[tuple[str, Any]] = field(default_factory=list)
    jobs: dict[str, _Job] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    # --- the Protocol --------------------------------------------------------------------

    def get_hosts(self, names: Sequence[str]) -> dict[str, HostInfo | ScvmmError]:
        self._call("get_hosts", list(names))
        result: dict[str, HostInfo | ScvmmError] = {}
        for name in names:
            host = self.hosts.get(name)
            if host is None:
                result[name] = ScvmmCommandError(f"host {name} not found")
                continue
            maintenance = bool(host.get("maintenance", False))
            result[name] = HostInfo(
                name=name, in_maintenance=maintenance, cluster=host.get("cluster"),
                overall_state="MaintenanceMode" if maintenance else "OK",
                communication_state=host.get("communication", "Responding"))
        return result

    def get_vms(self, host: str) -> list[VmInfo]:
        self._call("get_vms", host)
        return [VmInfo(vm_id=vm_id, name=vm.get("name", vm_id), state=vm["status"],
                       highly_available=vm.get("ha", False))
                for vm_id, vm in self.vms.items() if vm["host"] == host]

    def disable_hosts(self, move_within_cluster: Mapping[str, bool]) -> dict[str, str | ScvmmError]:
        self._call("disable_hosts", dict(move_within_cluster))
        return {host: self._new_job(lambda h=host, m=move: self._disable(h, m))
                for host, move in move_within_cluster.items()}

    def enable_hosts(self, names: Sequence[str]) -> dict[str, str | ScvmmError]:
        self._call("enable_hosts", list(names))
        return {host: self._new_job(lambda h=host: self._enable(h)) for host in names}

    def get_jobs(self, job_ids: Sequence[str]) -> dict[str, JobInfo | ScvmmError]:
        self._call("get_jobs", list(job_ids))
        result: dict[str, JobInfo | ScvmmError] = {}
        for job_id in job_ids:
            job = self.jobs.get(job_id)
            if job is None:
                result[job_id] = ScvmmCommandError(f"job {job_id} not found")
                continue
            if job.status == "Running":
                job.polls_left -= 1
                if job.polls_left <= 0:
                    job.error = job.effect()
                    job.status = "Failed" if job.error else "Completed"
            result[job_id] = JobInfo(job_id=job_id, status=job.status,
                                     finished=job.status != "Running",
                                     succeeded=job.status == "Completed", error=job.error)
        return result

    def start_vms(self, vm_ids: Sequence[str]) -> dict[str, str | ScvmmError]:
        self._call("start_vms", list(vm_ids))
        result: dict[str, str | ScvmmError] = {}
        for vm_id in vm_ids:
            if vm_id not in self.vms:
                result[vm_id] = ScvmmCommandError(f"VM {vm_id} not found")
                continue
            result[vm_id] = self._new_job(lambda n=vm_id: self._start(n))
        return result

    def close(self) -> None:
        self._call("close", None)

    # --- helpers for tests ---------------------------------------------------------------

    def calls_of(self, name: str) -> list[Any]:
        return [argument for call, argument in self.calls if call == name]

    def finish_all_jobs(self) -> None:
        for job in self.jobs.values():
            if job.status == "Running":
                job.polls_left = 1

    # --- the model -----------------------------------------------------------------------

    def _call(self, name: str, argument: Any) -> None:
        if self.unreachable and name != "close":
            raise ScvmmUnreachable("connection refused")
        self.calls.append((name, argument))

    def _new_job(self, effect: Callable[[], str | None]) -> str:
        job_id = f"job-{next(self._ids)}"
        self.jobs[job_id] = _Job(job_id, self.job_polls, effect)
        return job_id

    def _disable(self, host: str, move: bool) -> str | None:
        if f"disable:{host}" in self.fail_jobs_on:
            return "the job failed (injected)"
        cluster = self.hosts[host].get("cluster")
        for vm in self.vms.values():
            if vm["host"] != host or vm["status"] != "Running":
                continue
            if move and vm.get("ha") and cluster is not None:
                if host in self.fail_migration_hosts:
                    return "live migration failed (injected)"
                target = next((name for name, other in self.hosts.items()
                               if name != host and other.get("cluster") == cluster
                               and not other.get("maintenance")), None)
                if target is None:
                    return "no cluster node left to migrate to"
                vm["host"] = target
            else:
                vm["status"] = "Saved"
        self.hosts[host]["maintenance"] = True
        return None

    def _enable(self, host: str) -> str | None:
        if f"enable:{host}" in self.fail_jobs_on:
            return "the job failed (injected)"
        self.hosts[host]["maintenance"] = False
        return None

    def _start(self, name: str) -> str | None:
        self.vms[name]["status"] = "Running"
        return None
