"""The fake VMM's world: hosts, clusters, VMs and jobs, with FACTS.md section 2 semantics.

Pure Python, no PSRP: the cmdlet layer (cmdlets.py) calls these methods, objects.py
turns the results into VMM's objects. States are VMM's own enum member names
(check_dell_ups.maintenance.vmm_objects, from the VMM module's type metadata): a job's
Status is a TaskUIState, a VM's power state a VMComputerSystemState. Jobs run on
wall-clock time and are settled lazily (on every read), so a job outlives the client
connection that started it, as on a real VMM. Every method takes the model's lock.

Inventory: "hosts": {fqdn: {"cluster": name|None, "maintenance": bool,
"communication": CommunicationState member}}, "vms": {key: {"host": fqdn, "status":
VMComputerSystemState member (the power state), "ha": bool, "name": shown name (default
the key; names need not be unique), "vmm_status": what VMM's Status shows when it is
not the power state, e.g. UnsupportedCluster}}. A VM's ID (a Guid) derives from its key.
"""

from __future__ import annotations

import copy
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# TaskUIState members.
JOB_RUNNING = "Running"
JOB_COMPLETED = "Completed"
JOB_FAILED = "Failed"

# VMComputerSystemState members.
VM_RUNNING = "Running"
VM_SAVED = "Saved"

# VMM error numbers the fake uses. 2602 (objects locked by another job) is VMM's
# documented number; the others stand for "some VMM error" and are the fake's own.
ERROR_LOCKED = 2602
ERROR_HOST_NOT_FOUND = 406
ERROR_VM_NOT_FOUND = 801
ERROR_JOB_NOT_FOUND = 1730
ERROR_MIGRATION_FAILED = 10698
ERROR_LAST_CLUSTER_NODE = 25151
# Stable IDs: a Guid derived from the inventory key, so tests and the demo can name them.
_ID_NAMESPACE = uuid.UUID("6f1e3a52-8d4b-4c1e-9a57-0d2a1c3b4e5f")


def object_id(kind: str, key: str) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{kind}:{key.lower()}"))


class ModelError(Exception):
    """A request the real VMM would refuse; becomes an error record."""

    def __init__(self, problem: str, code: int) -> None:
        super().__init__(f"{problem} (Error ID: {code})")
        self.code = code


@dataclass(frozen=True)
class JobError:
    """A failed job's ErrorInfo: its text one level deep is "CodeName (NNNN)"."""

    code_name: str
    code: int
    problem: str
    recommended_action: str = "Resolve the issue and then run the job again."


@dataclass
class Faults:
    fail_migration_vms: frozenset[str] = frozenset()
    # Failover Clustering will not let the last node of a cluster enter maintenance with
    # its roles moved (APC PowerChute's SCVMM notes): on by default, as on a real cluster.
    last_node_fails: bool = True
    refuse_connections: bool = False
    drop_connection_mid_job: bool = False


@dataclass
class Job:
    job_id: str
    cmdlet: str
    target: str
    started: float
    seconds: float
    apply: Callable[[], JobError | None]  # runs at the end; returns its error or None
    status: str = JOB_RUNNING
    error: JobError | None = None

    @property
    def problem(self) -> str | None:
        return self.error.problem if self.error else None

    @property
    def ends(self) -> float:
        return self.started + self.seconds


@dataclass
class Host:
    name: str
    cluster: str | None
    maintenance: bool = False
    communication: str = "Responding"  # CommunicationState member

    @property
    def host_id(self) -> str:
        return object_id("host", self.name)


@dataclass
class Vm:
    key: str  # the inventory's key; the VM's ID derives from it
    name: str
    host: str
    status: str  # the power state: a VMComputerSystemState member
    ha: bool
    vmm_status: str | None = None  # what Status shows when it is not the power state

    @property
    def vm_id(self) -> str:
        return object_id("vm", self.key)


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
            name: Host(name, spec.get("cluster"), bool(spec.get("maintenance", False)),
                       str(spec.get("communication", "Responding")))
            for name, spec in inventory.get("hosts", {}).items()
        }
        vms = {}
        for key, spec in inventory.get("vms", {}).items():
            if spec["host"] not in hosts:
                raise ValueError(f"VM {key} is on unknown host {spec['host']}")
            vms[key] = Vm(key, str(spec.get("name", key)), spec["host"],
                          spec.get("status", VM_RUNNING), bool(spec.get("ha")),
                          spec.get("vmm_status"))
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
                job.error = job.apply()
                job.status = JOB_FAILED if job.error else JOB_COMPLETED

    def host(self, name: str) -> Host:
        with self.lock:
            self.settle()
            found = self._find_host(name)
            if found is None:
                raise ModelError(f"Unable to find the specified host {name}.",
                                 ERROR_HOST_NOT_FOUND)
            return copy.copy(found)

    def all_hosts(self) -> list[Host]:
        with self.lock:
            self.settle()
            return [copy.copy(host) for host in self.hosts.values()]

    def vms_on(self, host: str | None = None, name: str | None = None,
               vm_id: str | None = None) -> list[Vm]:
        """VMs by host, by name (names are not unique: maybe several) or by ID."""
        with self.lock:
            self.settle()
            return [
                copy.copy(vm)
                for vm in self.vms.values()
                if (host is None or vm.host.lower() == host.lower())
                and (name is None or vm.name.lower() == name.lower())
                and (vm_id is None or vm.vm_id == str(vm_id).lower())
            ]

    def job(self, job_id: str) -> Job:
        with self.lock:
            self.settle()
            found = self.jobs.get(str(job_id).lower())
            if found is None:
                raise ModelError(f"Unable to find the job {job_id}.", ERROR_JOB_NOT_FOUND)
            return copy.copy(found)

    def progress(self, job: Job) -> int:
        if job.status != JOB_RUNNING:
            return 100
        if job.seconds <= 0:
            return 99
        return max(0, min(99, int(100 * (self.clock() - job.started) / job.seconds)))

    def snapshot(self) -> dict[str, Any]:
        """The world as plain data; a VM job's target shown by the VM's inventory key."""
        with self.lock:
            self.settle()
            shown = {vm.vm_id: vm.key for vm in self.vms.values()}
            return {
                "hosts": {
                    host.name: {"maintenance": host.maintenance, "cluster": host.cluster}
                    for host in self.hosts.values()
                },
                "vms": {
                    vm.key: {"host": vm.host, "status": vm.status, "ha": vm.ha}
                    for vm in self.vms.values()
                },
                "jobs": {
                    job.job_id: {
                        "status": job.status,
                        "cmdlet": job.cmdlet,
                        "target": shown.get(job.target, job.target),
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

    def start_vm(self, vm_id: str) -> Job:
        """Start a VM (by ID). A host in maintenance mode still starts its VMs."""
        with self.lock:
            self.settle()
            vm = self._find_vm(vm_id)
            if vm is None:
                raise ModelError(f"Unable to find the virtual machine {vm_id}.",
                                 ERROR_VM_NOT_FOUND)
            self._refuse_if_locked(vm.vm_id, vm.name)

            def start() -> None:
                vm.status = VM_RUNNING

            return self._start_job("Start-SCVirtualMachine", vm.vm_id, start)

    # ---- internals ---------------------------------------------------------------------

    def _find_host(self, name: str) -> Host | None:
        wanted = name.lower()
        for host in self.hosts.values():
            if host.name.lower() == wanted or host.name.split(".")[0].lower() == wanted:
                return host
        return None

    def _find_vm(self, vm_id: str) -> Vm | None:
        wanted = str(vm_id).lower()
        return next((vm for vm in self.vms.values() if vm.vm_id == wanted), None)

    def _lockable_host(self, name: str) -> Host:
        """The host, unless a running job holds it (VMM locks an object per job)."""
        self.settle()
        host = self._find_host(name)
        if host is None:
            raise ModelError(f"Unable to find the specified host {name}.",
                             ERROR_HOST_NOT_FOUND)
        self._refuse_if_locked(host.name, host.name)
        return host

    def _refuse_if_locked(self, target: str, shown: str) -> None:
        for job in self.jobs.values():
            if job.status == JOB_RUNNING and job.target == target:
                raise ModelError(
                    "Unable to perform the job because one or more of the selected objects "
                    f"are locked by another job ({shown}: {job.cmdlet} {job.job_id}).",
                    ERROR_LOCKED,
                )

    def _start_job(self, cmdlet: str, target: str,
                   apply: Callable[[], JobError | None]) -> Job:
        job = Job(str(uuid.uuid4()), cmdlet, target, self.clock(), self.job_seconds, apply)
        self.jobs[job.job_id] = job
        return job

    def _enter_maintenance(self, host: Host, move_within_cluster: bool) -> JobError | None:
        if host.maintenance:
            return None
        peers = self._available_peers(host)
        if (move_within_cluster and host.cluster is not None and not peers
                and self.faults.last_node_fails):
            return JobError(
                "ClusterNodeCannotEnterMaintenance", ERROR_LAST_CLUSTER_NODE,
                f"Host {host.name} is the last node of cluster {host.cluster} that is not in "
                "maintenance mode; failover clustering cannot place its roles.")
        # Prefer peers that are not entering maintenance themselves.
        targets = [peer for peer in peers if not self._entering(peer)] or peers
        problems = []
        for vm in self._running_vms(host.name):
            if move_within_cluster and vm.ha and targets:
                if {vm.name, vm.key} & self.faults.fail_migration_vms:
                    problems.append(f"Live migration of {vm.name} from {host.name} failed.")
                    continue
                vm.host = min(targets, key=lambda peer: len(self._running_vms(peer.name))).name
            else:
                vm.status = VM_SAVED
        if problems:
            return JobError("LiveMigrationFailed", ERROR_MIGRATION_FAILED, " ".join(problems))
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
