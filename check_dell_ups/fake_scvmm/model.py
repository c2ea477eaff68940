"""The fake VMM's world: hosts, clusters, VMs and jobs, with FACTS.md section 2 semantics.

Pure Python, no PSRP: the cmdlet layer (cmdlets.py) calls these methods. Jobs run on
wall-clock time and are settled lazily (on every read), so a job outlives the client
connection that started it, as on a real VMM. Every method takes the model's lock.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

JOB_RUNNING = "Running"
JOB_COMPLETED = "Completed"
JOB_FAILED = "Failed"

VM_RUNNING = "Running"
VM_SAVED = "Saved"


class ModelError(Exception):
    """A request the real VMM would refuse; becomes an error record."""


@dataclass
class Faults:
    fail_migration_vms: frozenset[str] = frozenset()
    last_node_fails: bool = False
    refuse_connections: bool = False
    drop_connection_mid_job: bool = False


@dataclass
class Job:
    job_id: str
    cmdlet: str
    target: str
    started: float
    seconds: float
    apply: Callable[[], str | None]  # runs at the end; returns a problem text or None
    status: str = JOB_RUNNING
    problem: str | None = None

    @property
    def ends(self) -> float:
        return self.started + self.seconds


@dataclass
class Host:
    name: str
    cluster: str | None
    maintenance: bool = False


@dataclass
class Vm:
    name: str
    host: str
    status: str
    ha: bool


@dataclass
class VmmModel:
    """The inventory and its jobs. Build it with VmmModel.from_inventory()."""

    hosts: dict[str, Host]
    vms: dict[str, Vm]
    vmm_server: str
    job_seconds: float = 1.0
    faults: Faults = field(default_factory=Faults)
    clock: Callable[[], float] = time.monotonic
    jobs: dict[str, Job] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def from_inventory(cls, inventory: Mapping[str, Any], job_seconds: float = 1.0) -> VmmModel:
        hosts = {
            name: Host(name, spec.get("cluster"), bool(spec.get("maintenance", False)))
            for name, spec in inventory.get("hosts", {}).items()
        }
        vms = {}
        for name, spec in inventory.get("vms", {}).items():
            if spec["host"] not in hosts:
                raise ValueError(f"VM {name} is on unknown host {spec['host']}")
            vms[name] = Vm(name, spec["host"], spec.get("status", VM_RUNNING), bool(spec.get("ha")))
        return cls(hosts, vms, inventory.get("vmm_server", "vmm01.example.com"), job_seconds)

    # ---- reads -------------------------------------------------------------------------

    def settle(self) -> None:
        """Finish every job whose time has come, in the order they end."""
        with self.lock:
            now = self.clock()
            due = sorted(
                (
                    job
                    for job in self.jobs.values()
                    if job.status == JOB_RUNNING and job.ends <= now
                ),
                key=lambda job: job.ends,
            )
            for job in due:
                job.problem = job.apply()
                job.status = JOB_FAILED if job.problem else JOB_COMPLETED

    def host(self, name: str) -> Host:
        with self.lock:
            self.settle()
            found = self._find_host(name)
            if found is None:
                raise ModelError(f"Unable to find the specified host {name}. (Error ID: 406)")
            return copy.copy(found)

    def all_hosts(self) -> list[Host]:
        with self.lock:
            self.settle()
            return [copy.copy(host) for host in self.hosts.values()]

    def vms_on(self, host: str | None = None, name: str | None = None) -> list[Vm]:
        with self.lock:
            self.settle()
            return [
                copy.copy(vm)
                for vm in self.vms.values()
                if (host is None or vm.host.lower() == host.lower())
                and (name is None or vm.name.lower() == name.lower())
            ]

    def job(self, job_id: str) -> Job:
        with self.lock:
            self.settle()
            found = self.jobs.get(str(job_id).lower())
            if found is None:
                raise ModelError(f"Unable to find the job {job_id}. (Error ID: 1730)")
            return copy.copy(found)

    def progress(self, job: Job) -> int:
        if job.status != JOB_RUNNING:
            return 100
        if job.seconds <= 0:
            return 99
        return max(0, min(99, int(100 * (self.clock() - job.started) / job.seconds)))

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            self.settle()
            return {
                "hosts": {
                    host.name: {"maintenance": host.maintenance, "cluster": host.cluster}
                    for host in self.hosts.values()
                },
                "vms": {
                    vm.name: {"host": vm.host, "status": vm.status, "ha": vm.ha}
                    for vm in self.vms.values()
                },
                "jobs": {
                    job.job_id: {
                        "status": job.status,
                        "cmdlet": job.cmdlet,
                        "target": job.target,
                        "error": job.problem,
                    }
                    for job in self.jobs.values()
                },
                "vmm_server": self.vmm_server,
            }

    # ---- actions: each starts a job and returns it ----------------------------------------

    def disable_host(self, name: str, move_within_cluster: bool) -> Job:
        with self.lock:
            host = self._lockable_host(name)
            return self._start_job(
                "Disable-SCVMHost",
                host.name,
                lambda: self._enter_maintenance(host, move_within_cluster),
            )

    def enable_host(self, name: str) -> Job:
        with self.lock:
            host = self._lockable_host(name)

            def leave() -> None:
                host.maintenance = False  # starts nothing, moves nothing back

            return self._start_job("Enable-SCVMHost", host.name, leave)

    def start_vm(self, name: str) -> Job:
        with self.lock:
            self.settle()
            vm = self._find_vm(name)
            if vm is None:
                raise ModelError(f"Unable to find the virtual machine {name}. (Error ID: 801)")

            def start() -> str | None:
                if self.hosts[vm.host].maintenance:
                    return f"Unable to start {vm.name}: host {vm.host} is in maintenance mode."
                vm.status = VM_RUNNING
                return None

            return self._start_job("Start-SCVirtualMachine", vm.name, start)

    # ---- internals ---------------------------------------------------------------------

    def _find_host(self, name: str) -> Host | None:
        wanted = name.lower()
        for host in self.hosts.values():
            if host.name.lower() == wanted or host.name.split(".")[0].lower() == wanted:
                return host
        return None

    def _find_vm(self, name: str) -> Vm | None:
        return next((vm for vm in self.vms.values() if vm.name.lower() == name.lower()), None)

    def _lockable_host(self, name: str) -> Host:
        """The host, unless a running job holds it (VMM locks an object per job)."""
        self.settle()
        host = self._find_host(name)
        if host is None:
            raise ModelError(f"Unable to find the specified host {name}. (Error ID: 406)")
        for job in self.jobs.values():
            if job.status == JOB_RUNNING and job.target == host.name:
                raise ModelError(
                    f"The host {host.name} is locked by job {job.job_id} ({job.cmdlet}). "
                    "(Error ID: 2606)"
                )
        return host

    def _start_job(self, cmdlet: str, target: str, apply: Callable[[], str | None]) -> Job:
        job = Job(str(uuid.uuid4()), cmdlet, target, self.clock(), self.job_seconds, apply)
        self.jobs[job.job_id] = job
        return job

    def _enter_maintenance(self, host: Host, move_within_cluster: bool) -> str | None:
        if host.maintenance:
            return None
        peers = self._available_peers(host)
        if host.cluster is not None and not peers and self.faults.last_node_fails:
            return (
                f"Host {host.name} is the last node of cluster {host.cluster} that is not in "
                "maintenance mode; failover clustering cannot place its roles. (Error ID: 25151)"
            )
        # Prefer peers that are not entering maintenance themselves.
        targets = [peer for peer in peers if not self._entering(peer)] or peers
        problems = []
        for vm in self._running_vms(host.name):
            if move_within_cluster and vm.ha and targets:
                if vm.name in self.faults.fail_migration_vms:
                    problems.append(f"Live migration of {vm.name} from {host.name} failed.")
                    continue
                vm.host = min(targets, key=lambda peer: len(self._running_vms(peer.name))).name
            else:
                vm.status = VM_SAVED
        if problems:
            return " ".join(problems) + " (Error ID: 10698)"
        host.maintenance = True
        return None

    def _available_peers(self, host: Host) -> list[Host]:
        if host.cluster is None:
            return []
        return [
            peer
            for peer in self.hosts.values()
            if peer.cluster == host.cluster and peer is not host and not peer.maintenance
        ]

    def _entering(self, host: Host) -> bool:
        return any(
            job.status == JOB_RUNNING
            and job.cmdlet == "Disable-SCVMHost"
            and job.target == host.name
            for job in self.jobs.values()
        )

    def _running_vms(self, host: str) -> Iterable[Vm]:
        return [vm for vm in self.vms.values() if vm.host == host and vm.status == VM_RUNNING]
