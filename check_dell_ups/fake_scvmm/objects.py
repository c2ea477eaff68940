"""How the fake VMM's objects look on the wire: psrpcore PSObjects shaped like the
deserialized Host, VM, Job and VMMServer objects a client gets from a real VMM.

Like real remoting (serialization depth 1), properties are adapted properties, enums
are enum objects (a string and an int), and nested objects that a depth-1 client sees
as strings (HostCluster, VMHost) are strings here. ErrorInfo keeps one level so a client
can read ErrorInfo.Problem either as a property or as its ToString().
"""

from __future__ import annotations

from typing import Any

from psrpcore.types import PSEnumBase, PSNoteProperty, PSObject, PSType

from check_dell_ups.fake_scvmm.model import Host, Job, Vm, VmmModel

_VMM_TYPES = "Microsoft.SystemCenter.VirtualMachineManager"


@PSType(["Microsoft.VirtualManager.Utils.VMComputerSystemState"])
class VmState(PSEnumBase):
    Running = 0
    PowerOff = 1
    Stopped = 2
    Paused = 3
    Saved = 6


@PSType(["Microsoft.VirtualManager.Remoting.TaskStatusEnum"])
class JobStatus(PSEnumBase):
    Running = 1
    Completed = 2
    Failed = 3
    Canceled = 4
    SucceedWithInfo = 5


def adapted_object(type_names: list[str], to_string: str, **properties: Any) -> PSObject:
    """A PSObject whose properties travel as adapted (.NET) properties."""
    obj = PSObject()
    obj.PSObject.type_names = type_names
    obj.PSObject.to_string = to_string
    for name, value in properties.items():
        obj.PSObject.adapted_properties.append(PSNoteProperty(name, value))
    return obj


def _enum(enum_type: type[PSEnumBase], value: str) -> Any:
    try:
        return enum_type[value]
    except KeyError:
        return value  # unknown to our enum: plain string, as a client may well see


def host_object(host: Host) -> PSObject:
    overall = "MaintenanceMode" if host.maintenance else "OK"
    return adapted_object(
        [f"{_VMM_TYPES}.Host", f"{_VMM_TYPES}.HostBase", "System.Object"],
        host.name,
        Name=host.name,
        ComputerName=host.name.split(".")[0],
        FullyQualifiedDomainName=host.name,
        MaintenanceMode=host.maintenance,
        OverallState=overall,
        HostCluster=host.cluster,
        ClusterNodeStatus=("Paused" if host.maintenance else "Running") if host.cluster else None,
    )


def vm_object(vm: Vm) -> PSObject:
    return adapted_object(
        [f"{_VMM_TYPES}.VM", f"{_VMM_TYPES}.VMBase", "System.Object"],
        vm.name,
        Name=vm.name,
        Status=_enum(VmState, vm.status),
        IsHighlyAvailable=vm.ha,
        VMHost=vm.host,
        HostName=vm.host,
    )


def job_object(model: VmmModel, job: Job) -> PSObject:
    problem = job.problem or ""
    error_info = adapted_object(
        ["Microsoft.VirtualManager.Utils.ErrorInfo", "System.Object"],
        problem,
        Problem=problem,
        Code="NoError" if not job.problem else "JobFailed",
    )
    return adapted_object(
        [f"{_VMM_TYPES}.Task", "System.Object"],
        job.cmdlet,
        ID=job.job_id,
        Name=job.cmdlet,
        Status=_enum(JobStatus, job.status),
        Progress=f"{model.progress(job)} %",
        ResultName=job.target,
        ErrorInfo=error_info,
    )


def vmm_server_object(name: str) -> PSObject:
    return adapted_object(
        [f"{_VMM_TYPES}.VMMServer", "System.Object"],
        name,
        Name=name,
        FQDN=name,
        Port=8100,
        ProductVersion="10.22.1287.0",
    )
