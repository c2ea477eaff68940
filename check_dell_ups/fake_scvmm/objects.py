"""How the fake VMM's objects look on the wire: VMM's own types, as tables.

Each object the cmdlets return is declared below as a table: its .NET type names (the
type, then the base that declares ID and Name), and the properties the fake serves, each
with the .NET type the VMM module declares for it and how the value comes from the
model. The enums are VMM's, with their real type names and values
(check_dell_ups.maintenance.vmm_objects), sent as a real server sends an enum: an object
with the enum's type names, its ToString (the member name) and its Int32.
tests/fake_scvmm/test_objects.py proves every type, property and enum value here against
VMM's module metadata in docs/scvmm-objects/.

Like real remoting (serialization depth 1), nested objects a client sees one level deep
arrive as their text: HostCluster and VMHost as names, a job's ErrorInfo as
"CodeName (NNNN)". The whole ErrorInfo comes only through
`Get-SCJob -ID x | Select-Object -ExpandProperty ErrorInfo`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from psrpcore.types import PSEnumBase, PSNoteProperty, PSObject, PSType

from check_dell_ups.fake_scvmm.model import JOB_RUNNING, Host, Job, JobError, Vm, VmmModel
from check_dell_ups.maintenance import vmm_objects as vmm

_VMM = "Microsoft.SystemCenter.VirtualMachineManager"
CLIENT_OBJECT_TYPE = f"{_VMM}.ClientObject"


def _ps_enum(enum: vmm.VmmEnum) -> type[PSEnumBase]:
    """A psrpcore enum class with VMM's type name and members."""
    declared = PSEnumBase(enum.type_name.rsplit(".", 1)[-1],  # type: ignore[call-overload]
                          list(enum.members.items()))
    return PSType([enum.type_name])(declared)


# The enums as psrpcore classes, by VMM's type name.
PS_ENUMS: dict[str, type[PSEnumBase]] = {enum.type_name: _ps_enum(enum) for enum in vmm.ENUMS}


def enum_value(enum: vmm.VmmEnum, member: str) -> PSEnumBase:
    return PS_ENUMS[enum.type_name][member]  # type: ignore[index]


@dataclass(frozen=True)
class Served:
    """One property the fake serves: its name, the .NET type VMM declares, its value."""

    name: str
    dotnet_type: str
    value: Callable[[Any], Any]
    enum: vmm.VmmEnum | None = None


@dataclass(frozen=True)
class WireType:
    type_names: Sequence[str]  # most derived first, as a server sends them
    properties: Sequence[Served]
    to_string: Callable[[Any], str]


def _member(enum: vmm.VmmEnum, member: Callable[[Any], str | None]) -> Callable[[Any], Any]:
    def value(source: Any) -> Any:
        name = member(source)
        return None if name is None else enum_value(enum, name)

    return value


def _overall(host: Host) -> str:
    return "MaintenanceMode" if host.maintenance else "OK"


# OverallStateString is localized text: served so that a client comparing it is caught.
_OVERALL_TEXT = {"OK": "OK", "MaintenanceMode": "In Maintenance Mode"}

HOST = WireType(
    type_names=(vmm.HOST_TYPE, CLIENT_OBJECT_TYPE, "System.Object"),
    to_string=lambda host: host.name,
    properties=(
        Served("ID", "System.Guid", lambda host: uuid.UUID(host.host_id)),
        Served("Name", "string", lambda host: host.name),
        Served("ComputerName", "string", lambda host: host.name.split(".")[0]),
        Served("FullyQualifiedDomainName", "string", lambda host: host.name),
        Served("DomainName", "string", lambda host: host.name.partition(".")[2]),
        Served("OverallState", vmm.OVERALL_STATE.type_name,
               _member(vmm.OVERALL_STATE, _overall), vmm.OVERALL_STATE),
        Served("OverallStateString", "string", lambda host: _OVERALL_TEXT[_overall(host)]),
        Served("ComputerState", vmm.COMPUTER_STATE.type_name,
               _member(vmm.COMPUTER_STATE,
                       lambda host: "MaintenanceMode" if host.maintenance else
                       ("Responding" if host.communication == "Responding" else "NotResponding")),
               vmm.COMPUTER_STATE),
        Served("CommunicationState", vmm.COMMUNICATION_STATE.type_name,
               _member(vmm.COMMUNICATION_STATE, lambda host: host.communication),
               vmm.COMMUNICATION_STATE),
        Served("CommunicationStateString", "string", lambda host: host.communication),
        # A cluster node in maintenance is paused in Failover Clustering.
        Served("ClusterNodeStatus", vmm.SERVICE_STATE.type_name,
               _member(vmm.SERVICE_STATE, lambda host: None if host.cluster is None else
                       ("Paused" if host.maintenance else "Running")), vmm.SERVICE_STATE),
        # A designated maintenance host is something else: False on ordinary hosts.
        Served("MaintenanceHost", "bool", lambda host: False),
        Served("HostCluster", f"{_VMM}.HostCluster", lambda host: host.cluster),
    ),
)


def _vm_status(vm: Vm) -> str:
    return vm.vmm_status or vm.status


VM = WireType(
    type_names=(vmm.VM_TYPE, f"{_VMM}.VMBase", CLIENT_OBJECT_TYPE, "System.Object"),
    to_string=lambda vm: vm.name,
    properties=(
        Served("ID", "System.Guid", lambda vm: uuid.UUID(vm.vm_id)),
        Served("Name", "string", lambda vm: vm.name),
        # Status is not always the power state (e.g. UnsupportedCluster while Running).
        Served("Status", vmm.VM_COMPUTER_SYSTEM_STATE.type_name,
               _member(vmm.VM_COMPUTER_SYSTEM_STATE, _vm_status), vmm.VM_COMPUTER_SYSTEM_STATE),
        Served("StatusString", "string", _vm_status),
        Served("VirtualMachineState", vmm.VM_COMPUTER_SYSTEM_STATE.type_name,
               _member(vmm.VM_COMPUTER_SYSTEM_STATE, lambda vm: vm.status),
               vmm.VM_COMPUTER_SYSTEM_STATE),
        Served("IsHighlyAvailable", "bool", lambda vm: vm.ha),
        Served("VMHost", f"{_VMM}.Host", lambda vm: vm.host),
        Served("HostName", "string", lambda vm: vm.host),
    ),
)


def _error_text(error: JobError | None) -> str:
    return "NoError (0)" if error is None else f"{error.code_name} ({error.code})"


def task_wire_type(model: VmmModel) -> WireType:
    """The Task (job) wire type: its progress comes from the model's clock."""
    return WireType(
        type_names=(vmm.TASK_TYPE, CLIENT_OBJECT_TYPE, "System.Object"),
        to_string=lambda job: job.cmdlet,
        properties=(
            Served("ID", "System.Guid", lambda job: uuid.UUID(job.job_id)),
            Served("Name", "string", lambda job: job.cmdlet),
            Served("Status", vmm.TASK_UI_STATE.type_name,
                   _member(vmm.TASK_UI_STATE, lambda job: job.status), vmm.TASK_UI_STATE),
            Served("StatusString", "string", lambda job: job.status),
            Served("IsCompleted", "bool", lambda job: job.status != JOB_RUNNING),
            Served("ProgressValue", "int32", model.progress),
            Served("Progress", "string", lambda job: f"{model.progress(job)} %"),
            Served("CmdletName", "string", lambda job: job.cmdlet),
            Served("ResultName", "string", lambda job: job.target),
            # One level deep ErrorInfo is its ToString: "CodeName (NNNN)".
            Served("ErrorInfo", vmm.ERROR_INFO_TYPE, lambda job: _error_text(job.error)),
        ),
    )


# ErrorInfo's own properties are not in the module metadata we hold; these are the ones
# Microsoft's cmdlet reference shows (the fake's own choice where it is silent).
ERROR_INFO = WireType(
    type_names=(vmm.ERROR_INFO_TYPE, "System.Object"),
    to_string=_error_text,
    properties=(
        Served("Problem", "string", lambda error: error.problem),
        Served("RecommendedAction", "string", lambda error: error.recommended_action),
        Served("DetailedErrorCode", "int32", lambda error: error.code),
        Served("Code", "string", lambda error: error.code_name),
    ),
)

SERVER_CONNECTION = WireType(
    type_names=(vmm.SERVER_CONNECTION_TYPE, "System.Object"),
    to_string=lambda name: name,
    properties=(
        Served("Name", "string", lambda name: name),
        Served("Port", "int32", lambda name: 8100),
        Served("IsConnected", "bool", lambda name: True),
    ),
)


def wire_object(wire: WireType, source: Any) -> PSObject:
    """A PSObject of that type whose properties travel as adapted (.NET) properties."""
    obj = PSObject()
    obj.PSObject.type_names = list(wire.type_names)
    obj.PSObject.to_string = wire.to_string(source)
    for served in wire.properties:
        obj.PSObject.adapted_properties.append(PSNoteProperty(served.name, served.value(source)))
    return obj


def host_object(host: Host) -> PSObject:
    return wire_object(HOST, host)


def vm_object(vm: Vm) -> PSObject:
    return wire_object(VM, vm)


def job_object(model: VmmModel, job: Job) -> PSObject:
    return wire_object(task_wire_type(model), job)


def error_info_object(job: Job) -> PSObject | None:
    """The whole ErrorInfo of a failed job (None while it has none)."""
    return None if job.error is None else wire_object(ERROR_INFO, job.error)


def server_connection_object(name: str) -> PSObject:
    return wire_object(SERVER_CONNECTION, name)
