"""The fake VMM's model without the wire: jobs on a controlled clock."""

from __future__ import annotations

import pytest

from check_dell_ups.fake_scvmm.model import ModelError, VmmModel


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def model(inventory, clock) -> VmmModel:
    built = VmmModel.from_inventory(inventory, job_seconds=10)
    built.clock = clock
    return built


def test_jobs_end_only_when_their_time_has_come(model, clock):
    job = model.disable_host("hv02.example.com", move_within_cluster=True)
    clock.now += 5
    assert model.job(job.job_id).status == "Running"
    assert model.progress(model.job(job.job_id)) == 50
    assert model.host("hv02.example.com").maintenance is False
    clock.now += 5
    assert model.job(job.job_id).status == "Completed"
    assert model.host("hv02").maintenance is True  # short names resolve too


def test_two_nodes_entering_together_leave_the_last_one_failing(model, clock):
    model.faults.last_node_fails = True
    first = model.disable_host("hv03.example.com", move_within_cluster=True)
    clock.now += 1
    second = model.disable_host("hv04.example.com", move_within_cluster=True)
    clock.now += 20
    assert model.job(first.job_id).status == "Completed"
    failed = model.job(second.job_id)
    assert failed.status == "Failed"
    assert "last node" in failed.problem
    assert model.vms_on(name="app01")[0].host == "hv04.example.com"


def test_migration_prefers_a_peer_that_is_not_entering_maintenance(inventory, clock):
    inventory["hosts"]["hv05.example.com"] = {"cluster": "cl01"}
    model = VmmModel.from_inventory(inventory, job_seconds=10)
    model.clock = clock
    model.disable_host("hv02.example.com", move_within_cluster=True)
    model.disable_host("hv01.example.com", move_within_cluster=True)
    clock.now += 20
    assert {vm.host for vm in model.vms_on(host=None) if vm.name in ("web01", "web02")} == {
        "hv05.example.com"
    }


def test_a_running_job_locks_its_host(model):
    model.disable_host("hv01.example.com", move_within_cluster=True)
    with pytest.raises(ModelError, match="locked"):
        model.enable_host("hv01.example.com")


def test_disable_of_a_host_in_maintenance_changes_nothing(model, clock):
    model.hosts["hv09.example.com"].maintenance = True
    job = model.disable_host("hv09.example.com", move_within_cluster=False)
    clock.now += 10
    assert model.job(job.job_id).status == "Completed"
    assert model.vms_on(name="solo01")[0].status == "Running"


def test_unknown_names_are_model_errors(model):
    with pytest.raises(ModelError):
        model.host("nope")
    with pytest.raises(ModelError):
        model.start_vm("nope")
    with pytest.raises(ModelError):
        model.job("nope")


def test_inventory_with_a_vm_on_an_unknown_host_is_refused(inventory):
    inventory["vms"]["lost"] = {"host": "nowhere", "status": "Running", "ha": False}
    with pytest.raises(ValueError, match="unknown host"):
        VmmModel.from_inventory(inventory)
