"""The driver's knowledge of VMM (vmm_objects) against VMM's own module metadata.

The last round's handler read a Host property that does not exist (MaintenanceMode):
every name and value the driver depends on is checked here against docs/scvmm-objects."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from check_dell_ups.maintenance import scvmm, vmm_objects

DRIVER_SOURCE = Path(scvmm.__file__).read_text(encoding="utf-8")


@pytest.mark.parametrize("enum", vmm_objects.ENUMS, ids=lambda enum: enum.type_name)
def test_each_enum_is_vmms_own_with_every_member_and_value(enum, vmm_evidence):
    assert dict(enum.members) == vmm_evidence.enums[enum.type_name]


@pytest.mark.parametrize("reads", vmm_objects.ALL_READS, ids=lambda reads: reads.type_name)
def test_each_property_the_driver_reads_is_declared_by_vmm(reads, vmm_evidence):
    declared = vmm_evidence.type_properties(reads.type_name)
    for name, enum in reads.properties.items():
        assert name in declared, f"{reads.type_name} has no {name}"
        if enum is not None:
            # The metadata writes TaskUIState as ".TaskUIState": compare the last part too.
            assert declared[name].rsplit(".", 1)[-1] == enum.type_name.rsplit(".", 1)[-1]


def test_a_host_has_no_maintenance_mode_property(vmm_evidence):
    host = vmm_evidence.type_properties(vmm_objects.HOST_TYPE)
    assert "MaintenanceMode" not in host
    assert "MaintenanceMode" in vmm_evidence.enums[vmm_objects.OVERALL_STATE.type_name]
    assert vmm_objects.MAINTENANCE_MODE in vmm_objects.OVERALL_STATE.members


def test_the_member_names_the_driver_compares_exist():
    assert set(
        vmm_objects.TASK_UI_STATE.members) >= vmm_objects.JOB_SUCCEEDED | vmm_objects.JOB_FAILED
    assert {vmm_objects.VM_RUNNING, vmm_objects.VM_SAVED} <= set(
        vmm_objects.VM_COMPUTER_SYSTEM_STATE.members)
    assert "Stopped" not in vmm_objects.VM_COMPUTER_SYSTEM_STATE.members
    assert vmm_objects.HOST_RESPONDING in vmm_objects.COMMUNICATION_STATE.members


def test_the_types_the_driver_recognises_are_vmms(vmm_evidence):
    for type_name in (vmm_objects.HOST_TYPE, vmm_objects.TASK_TYPE, vmm_objects.VM_TYPE,
                      vmm_objects.SERVER_CONNECTION_TYPE):
        assert type_name in vmm_evidence.properties
    task = vmm_evidence.type_properties(vmm_objects.TASK_TYPE)
    assert task["ErrorInfo"] == vmm_objects.ERROR_INFO_TYPE


def _literal_reads(source: str) -> set[str]:
    """Every property name the driver source passes to _property or _member."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("_property",
                                                                             "_member"):
            for argument in node.args:
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    found.add(argument.value)
    return found


def test_the_driver_reads_only_declared_properties():
    declared = {name for reads in vmm_objects.ALL_READS for name in reads.properties}
    reads = _literal_reads(DRIVER_SOURCE)
    assert reads, "the scan found no reads: it cannot fail"
    # Dynamic reads name their property through a table: check those tables' names.
    assert reads <= declared, sorted(reads - declared)
    assert "MaintenanceMode" not in DRIVER_SOURCE


def test_the_scan_catches_an_undeclared_read():
    assert "MaintenanceMode" in _literal_reads('_property(host, "MaintenanceMode")')


@pytest.mark.parametrize(("value", "member"), [
    ("MaintenanceMode", "MaintenanceMode"), ("maintenancemode", "MaintenanceMode"),
    (8, "MaintenanceMode"), ("8", "MaintenanceMode"), (0, "OK"), (99, None),
    ("In Maintenance Mode", None), (True, None), (None, None), ("9" * 40, None),
])  # fmt: skip
def test_an_enum_value_is_read_by_name_or_number(value, member):
    assert vmm_objects.OVERALL_STATE.member_name(value) == member


def test_no_code_or_doc_reads_a_host_maintenance_mode_property():
    """Only to say it does not exist: 'MaintenanceMode' elsewhere is the enum member."""
    root = Path(scvmm.__file__).resolve().parents[2]
    offenders = []
    for path in [*root.glob("check_dell_ups/**/*.py"), *root.glob("docs/*.md"),
                 root / "README.md"]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"MaintenanceMode\s*=|MaintenanceMode property|\.MaintenanceMode\b",
                         line) and not re.search(r"\bno\b|not|n't", line):
                offenders.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert offenders == []
