"""--drill on the in-memory SCVMM: the steps, the refusals, and what it leaves behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from check_dell_ups.maintenance.drill import DrillLog, DrillRefused, run_drill
from check_dell_ups.maintenance.memory import MemoryScvmm
from check_dell_ups.maintenance.records import HostRecord, UpsRecord
from check_dell_ups.maintenance.state import StateStore

H1, H2 = "hv01.example.com", "hv02.example.com"


@pytest.fixture
def scvmm() -> MemoryScvmm:
    return MemoryScvmm(
        hosts={H1: {"cluster": "cl01"}, H2: {"cluster": "cl01"}},
        vms={"vm-1": {"host": H1, "status": "Running", "ha": True, "name": "web01"},
             "vm-2": {"host": H1, "status": "Running", "ha": False, "name": "app01"}},
    )


def drill(make_config, tmp_path: Path, scvmm: MemoryScvmm, *, yes: bool = True,
          **maintenance) -> tuple[bool, list[str], StateStore]:
    config = make_config(state_dir=str(tmp_path / "state"), **maintenance)
    store = StateStore(config.maintenance.state_dir)
    lines: list[str] = []
    log = DrillLog(config.maintenance.log_file, out=lines.append, use_syslog=False)
    try:
        passed = run_drill(config, store, H1, yes=yes, connect=lambda: scvmm, log=log)
    finally:
        log.close()
    return passed, lines, store


def test_the_drill_takes_the_host_into_maintenance_and_back(make_config, tmp_path, scvmm):
    passed, lines, store = drill(make_config, tmp_path, scvmm)
    text = "\n".join(lines)
    assert passed, text
    assert lines[0] == f"drill of {H1} (UPS ups-a, cluster cl01, mode migrate, " \
                       "on_power_restored exit)"
    assert "step 1/2: into maintenance" in text and "step 2/2: back" in text
    assert "Disable-SCVMHost (-MoveWithinCluster" in text
    assert "job ended: Completed (after " in text  # each job's result and duration
    assert lines[-1].startswith("drill passed in ") and lines[-1].endswith(
        f"{H1} went into maintenance and came back")
    assert not scvmm.hosts[H1].get("maintenance")
    assert scvmm.vms["vm-1"]["host"] == H2 and scvmm.vms["vm-2"]["status"] == "Saved"
    assert [call for call, _ in scvmm.calls if call in ("disable_hosts", "enable_hosts")] == \
        ["disable_hosts", "enable_hosts"]
    assert store.load_host(H1).phase == "normal"
    assert not store.ups_path("ups-a").exists()  # the outage state is not touched
    logged = (tmp_path / "state" / "maintenance.log").read_text()
    assert "drill: " in logged and "drill passed" in logged


def test_without_yes_it_only_says_what_it_would_do(make_config, tmp_path, scvmm):
    passed, lines, store = drill(make_config, tmp_path, scvmm, yes=False, mode="save")
    assert passed
    assert "  1. Disable-SCVMHost (save all running VMs)" in lines
    assert lines[-1] == "nothing done: add --yes to run the drill"
    assert [call for call, _ in scvmm.calls if call not in ("get_hosts", "get_vms", "close")] \
        == []
    assert not store.host_path(H1).exists()


def test_exit_and_start_starts_the_saved_vms_again(make_config, tmp_path, scvmm):
    passed, lines, _ = drill(make_config, tmp_path, scvmm, on_power_restored="exit-and-start")
    assert passed, "\n".join(lines)
    assert scvmm.vms["vm-2"]["status"] == "Running"


def test_a_failed_migration_falls_back_to_saving(make_config, tmp_path, scvmm):
    scvmm.fail_migration_hosts.add(H1)
    passed, lines, _ = drill(make_config, tmp_path, scvmm)
    text = "\n".join(lines)
    assert passed, text
    assert "falling back to save mode" in text


@pytest.mark.parametrize("why, prepare, reason", [
    ("in maintenance", lambda scvmm, store: scvmm.hosts[H1].update(maintenance=True),
     f"{H1} is in maintenance already (OverallState MaintenanceMode): no drill"),
    ("pending work", lambda scvmm, store: store.save_host(
        H1, HostRecord(phase="leaving", ours=True, wanted="normal")),
     f"{H1} has work pending or is not normal in the handler's record (phase leaving; "
     "see --status)"),
    ("a UPS on battery", lambda scvmm, store: store.save_ups(
        "ups-a", UpsRecord(power="battery")), "UPS ups-a is on battery: no drill during an "
     "outage"),
])
def test_refusals_change_nothing(make_config, tmp_path, scvmm, why, prepare, reason):
    config = make_config(state_dir=str(tmp_path / "state"))
    store = StateStore(config.maintenance.state_dir)
    prepare(scvmm, store)
    log = DrillLog(None, out=lambda line: None, use_syslog=False)
    with pytest.raises(DrillRefused) as refused:
        run_drill(config, store, H1, yes=True, connect=lambda: scvmm, log=log)
    assert str(refused.value) == reason, why
    assert not [call for call, _ in scvmm.calls if call in ("disable_hosts", "enable_hosts")]
