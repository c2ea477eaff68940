"""The fake's objects against VMM's own module metadata (docs/scvmm-objects): every type,
property, .NET type and enum value the fake serves is one VMM declares."""

from __future__ import annotations

import pytest

from check_dell_ups.fake_scvmm import objects
from check_dell_ups.fake_scvmm.model import VmmModel

MODEL = VmmModel.from_inventory({"hosts": {}, "vms": {}})
EVIDENCED = [objects.HOST, objects.VM, objects.task_wire_type(MODEL), objects.SERVER_CONNECTION]


def _same_type(served: str, declared: str) -> bool:
    # The metadata writes some enum types without namespace (".TaskUIState").
    return served == declared or (declared.startswith(".") and served.endswith(declared))


@pytest.mark.parametrize("wire", EVIDENCED, ids=lambda wire: wire.type_names[0])
def test_every_served_property_is_declared_by_vmm_with_its_type(wire, vmm_evidence):
    declared = vmm_evidence.type_properties(wire.type_names[0])
    for served in wire.properties:
        assert served.name in declared, f"{wire.type_names[0]} has no {served.name}"
        assert _same_type(served.dotnet_type, declared[served.name]), served.name
        if served.enum is not None:
            assert _same_type(served.enum.type_name, declared[served.name])


def test_the_host_serves_no_maintenance_mode_property():
    assert "MaintenanceMode" not in {served.name for served in objects.HOST.properties}


@pytest.mark.parametrize("type_name", sorted(objects.PS_ENUMS))
def test_every_enum_is_served_with_vmms_type_name_and_values(type_name, vmm_evidence):
    served = objects.PS_ENUMS[type_name]
    assert served.PSObject.type_names[0] == type_name  # type: ignore[attr-defined]
    assert {member.name: member.value for member in served} == vmm_evidence.enums[type_name]


def test_error_info_is_the_type_a_task_declares(vmm_evidence):
    """ErrorInfo's own members are not in the metadata we hold (see objects.ERROR_INFO):
    only its type name is checked here."""
    task = vmm_evidence.type_properties(objects.vmm.TASK_TYPE)
    assert objects.ERROR_INFO.type_names[0] == task["ErrorInfo"]
