"""The SCVMM driver as the handler sees it: plain data in, plain data out.

The reconciler (check_dell_ups.maintenance) programs against this Protocol; the
real implementation on pypsrp lives in check_dell_ups.maintenance.scvmm. Keeping
the interface here, free of pypsrp, lets the policy and the state store be read
and tested without WinRM.

Every batch method works on several hosts at once (the hosts of one UPS go in
parallel) and reports per item: a value, or the ScvmmError that item met. A
failure that concerns the whole connection (unreachable, authentication) raises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class ScvmmError(Exception):
    """One-line, secret-free reason that an SCVMM request failed."""


class ScvmmUnreachable(ScvmmError):  # noqa: N818 - reads better than ...Error here
    """Connection refused, DNS failure, TLS failure, timeout."""


class ScvmmAuthError(ScvmmError):
    """The server rejected our credentials."""


class ScvmmCommandError(ScvmmError):
    """A cmdlet ran and failed (terminating or non-terminating error)."""


@dataclass(frozen=True)
class ScvmmEndpoint:
    """How to reach the VMM server. The password never appears in repr()."""

    server: str
    port: int
    use_tls: bool
    auth: str  # negotiate | kerberos | ntlm | credssp | basic
    username: str
    password: str = field(repr=False)
    cert_validation: bool | str = True  # or a CA bundle path
    # One request's timeout; the reconciler keeps the whole call within its budget.
    operation_timeout: float = 20.0
    # Get-SCVMMServer -ComputerName: WinRM lands on the VMM server, so localhost.
    vmm_server: str = "localhost"


@dataclass(frozen=True)
class HostInfo:
    """What the handler reads of a VMM Host object (names of VMM's own enum members)."""

    name: str  # as configured and passed to Get-SCVMHost -ComputerName
    in_maintenance: bool  # OverallState is MaintenanceMode (VMM has no MaintenanceMode property)
    cluster: str | None  # HostCluster name, None on a stand-alone host
    overall_state: str | None = None  # OverallState member: OK, MaintenanceMode, ...
    communication_state: str | None = None  # CommunicationState member: Responding, ...


@dataclass(frozen=True)
class VmInfo:
    """What the handler reads of a VMM VM object."""

    vm_id: str  # VM names are not unique in VMM: the ID (a Guid) is what we keep
    name: str
    state: str  # VirtualMachineState member: Running, PowerOff, Saved, Paused, ...
    highly_available: bool


@dataclass(frozen=True)
class JobInfo:
    job_id: str
    status: str  # SCVMM's raw Status string
    finished: bool
    succeeded: bool  # Completed / SucceedWithInfo
    error: str | None = None  # ErrorInfo.Problem when it failed


class ScvmmDriver(Protocol):
    """An open session with the VMM server (Get-SCVMMServer already done)."""

    def get_hosts(self, names: Sequence[str]) -> dict[str, HostInfo | ScvmmError]: ...

    def get_vms(self, host: str) -> list[VmInfo]: ...

    def disable_hosts(
        self, move_within_cluster: Mapping[str, bool]
    ) -> dict[str, str | ScvmmError]:
        """Disable-SCVMHost -RunAsynchronously for each host; host -> job id."""
        ...

    def enable_hosts(self, names: Sequence[str]) -> dict[str, str | ScvmmError]:
        """Enable-SCVMHost -RunAsynchronously for each host; host -> job id."""
        ...

    def get_jobs(self, job_ids: Sequence[str]) -> dict[str, JobInfo | ScvmmError]: ...

    def start_vms(self, vm_ids: Sequence[str]) -> dict[str, str | ScvmmError]:
        """Get-SCVirtualMachine -ID | Start-SCVirtualMachine -RunAsynchronously; vm id -> job id."""
        ...

    def close(self) -> None: ...
