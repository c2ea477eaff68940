"""VMM's object model, as far as the handler depends on it: type names, the properties it
reads, and the enums whose members it compares.

Source: the type metadata of the VMM 2019 PowerShell module (Remoting.dll, Utils.dll,
Microsoft.SystemCenter.VirtualMachineManager.dll, file version 10.19.1013.0), kept in
docs/scvmm-objects/ (host-properties.txt, other-types-properties.txt, enums.txt), checked
there against a VMM 2012 R2 inventory dump (ManageIQ) and Microsoft's cmdlet reference.
tests/maintenance/test_vmm_objects.py proves every name and value below against that copy.

Over PSRP an enum arrives as an object with VMM's type name, its ToString (the member
name) and an Int32; depending on the client it may reach us as the name, the number, or
an object carrying either: `member_name` accepts all three.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

_VMM = "Microsoft.SystemCenter.VirtualMachineManager"


@dataclass(frozen=True)
class VmmEnum:
    """One .NET enum of VMM: its full type name and its members with their values."""

    type_name: str
    members: Mapping[str, int]

    def member_name(self, value: object) -> str | None:
        """The member a wire value means (name in any case, number, or digits); None if
        it names no member of this enum."""
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return next((name for name, number in self.members.items() if number == value),
                        None)
        if isinstance(value, str):
            text = value.strip()
            if text.lstrip("-").isdigit() and len(text) < 12:
                return self.member_name(int(text))
            return next((name for name in self.members if name.lower() == text.lower()), None)
        return None


OVERALL_STATE = VmmEnum("Microsoft.VirtualManager.Remoting.OverallState", {
    "OK": 0, "Limited": 1, "NeedsAttention": 2, "Adding": 3, "Removing": 4, "Updating": 5,
    "Reassociating": 6, "Pending": 7, "MaintenanceMode": 8, "Starting": 9, "Stopping": 10,
    "Restarting": 11, "Stopped": 12,
})
COMMUNICATION_STATE = VmmEnum("Microsoft.VirtualManager.Remoting.CommunicationState", {
    "Responding": 0, "NotResponding": 1, "AccessDenied": 2, "Connecting": 3,
    "Disconnecting": 4, "Resetting": 5, "NoConnection": 6,
})
COMPUTER_STATE = VmmEnum("Microsoft.VirtualManager.Remoting.ComputerState", {
    "Adding": 0, "Removing": 1, "Responding": 2, "NotResponding": 3, "AccessDenied": 4,
    "Updating": 5, "Reassociating": 6, "Pending": 7, "MaintenanceMode": 8, "Starting": 9,
    "Stopping": 10, "Restarting": 11, "Stopped": 12,
})
# ClusterNodeStatus of a Host.
SERVICE_STATE = VmmEnum("Microsoft.VirtualManager.Remoting.ServiceState", {
    "Stopped": 0, "StartPending": 1, "StopPending": 2, "Running": 3, "ContinuePending": 4,
    "PausePending": 5, "Paused": 6, "Unknown": 7,
})
# A job's (Task's) Status.
TASK_UI_STATE = VmmEnum("Microsoft.VirtualManager.Remoting.TaskUIState", {
    "Invalid": 0, "Running": 1, "Canceling": 2, "Failed": 3, "Canceled": 4, "Completed": 5,
    "SucceedWithInfo": 6,
})
# A VM's VirtualMachineState and Status. No "Stopped": that is PowerOff's English text.
VM_COMPUTER_SYSTEM_STATE = VmmEnum("Microsoft.VirtualManager.Utils.VMComputerSystemState", {
    "Running": 0, "PowerOff": 1, "PoweringOff": 2, "Saved": 3, "Saving": 4, "Restoring": 5,
    "Paused": 6, "DiscardSavedState": 10, "Starting": 11, "MergingDrives": 12,
    "Deleting": 13, "Reset": 14, "DiscardingDrives": 80, "Pausing": 81,
    "UnderCreation": 100, "CreationFailed": 101, "Stored": 102, "UnderTemplateCreation": 103,
    "TemplateCreationFailed": 104, "CustomizationFailed": 105, "UnderUpdate": 106,
    "UpdateFailed": 107, "ReplacementFailed": 108, "UnderReplacement": 109,
    "UnderMigration": 200, "MigrationFailed": 201, "CreatingCheckpoint": 210,
    "DeletingCheckpoint": 211, "RecoveringCheckpoint": 212, "CheckpointFailed": 213,
    "InitializingCheckpointOperation": 214, "FinishingCheckpointOperation": 215,
    "Missing": 220, "HostNotResponding": 221, "Unsupported": 222, "IncompleteVMConfig": 223,
    "UnsupportedSharedFiles": 224, "UnsupportedCluster": 225, "UnderLiveCloning": 226,
    "DbOnly": 227, "PauseCritical": 230, "ShieldingFailed": 231, "P2VCreationFailed": 240,
    "V2VCreationFailed": 250,
})
ENUMS = (OVERALL_STATE, COMMUNICATION_STATE, COMPUTER_STATE, SERVICE_STATE, TASK_UI_STATE,
         VM_COMPUTER_SYSTEM_STATE)

# The objects the cmdlets return (with their base types: ID and Name come from
# ClientObject; VM derives from VMBase).
HOST_TYPE = f"{_VMM}.Host"
TASK_TYPE = f"{_VMM}.Task"
VM_TYPE = f"{_VMM}.VM"
SERVER_CONNECTION_TYPE = f"{_VMM}.Remoting.ServerConnection"
ERROR_INFO_TYPE = "Microsoft.VirtualManager.Utils.ErrorInfo"

# The maintenance-mode member: a Host has no MaintenanceMode property.
MAINTENANCE_MODE = "MaintenanceMode"
JOB_SUCCEEDED = frozenset({"Completed", "SucceedWithInfo"})
JOB_FAILED = frozenset({"Failed", "Canceled"})
VM_RUNNING = "Running"
VM_SAVED = "Saved"
HOST_RESPONDING = "Responding"


@dataclass(frozen=True)
class Reads:
    """The properties the driver reads of one object type: name -> its enum, or None."""

    type_name: str
    properties: Mapping[str, VmmEnum | None]


HOST_READS = Reads(HOST_TYPE, {
    "Name": None, "ComputerName": None, "FullyQualifiedDomainName": None,
    "OverallState": OVERALL_STATE, "CommunicationState": COMMUNICATION_STATE,
    "HostCluster": None,
})
VM_READS = Reads(VM_TYPE, {
    "ID": None, "Name": None, "VirtualMachineState": VM_COMPUTER_SYSTEM_STATE,
    "IsHighlyAvailable": None,
})
TASK_READS = Reads(TASK_TYPE, {"ID": None, "Status": TASK_UI_STATE, "ErrorInfo": None})
# ErrorInfo's own members are not in the module metadata we hold (docs/scvmm-objects has
# the types that carry an ErrorInfo, not ErrorInfo itself): Problem is read when present,
# else the object's text. Source: Microsoft's cmdlet reference examples.
ERROR_INFO_PROBLEM = "Problem"
ALL_READS = (HOST_READS, VM_READS, TASK_READS)
