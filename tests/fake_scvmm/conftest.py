"""Fixtures for the fake SCVMM tests: an inventory, a running fake, and a real pypsrp
client session against it over real HTTP."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from check_dell_ups.fake_scvmm.server import FakeScvmm

PASSWORD = "fake-pass-Secr3t"
USERNAME = "svc-ups"

INVENTORY: dict[str, Any] = {
    "hosts": {
        "hv01.example.com": {"cluster": "cl01", "maintenance": False},
        "hv02.example.com": {"cluster": "cl01", "maintenance": False},
        "hv03.example.com": {"cluster": "cl02", "maintenance": False},
        "hv04.example.com": {"cluster": "cl02", "maintenance": False},
        "hv09.example.com": {"cluster": None},
    },
    "vms": {
        "web01": {"host": "hv01.example.com", "status": "Running", "ha": True},
        "web02": {"host": "hv01.example.com", "status": "Running", "ha": True},
        "build01": {"host": "hv01.example.com", "status": "Running", "ha": False},
        "old01": {"host": "hv01.example.com", "status": "PowerOff", "ha": True},
        "app01": {"host": "hv03.example.com", "status": "Running", "ha": True},
        "solo01": {"host": "hv09.example.com", "status": "Running", "ha": False},
        "solo02": {"host": "hv09.example.com", "status": "Running", "ha": True},
    },
    "vmm_server": "vmm01.example.com",
}


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll until predicate() is true; False after the timeout (then the test fails)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


@pytest.fixture
def inventory() -> dict[str, Any]:
    return copy.deepcopy(INVENTORY)


@pytest.fixture
def fake(inventory: dict[str, Any]) -> Iterator[FakeScvmm]:
    with FakeScvmm(inventory, username=USERNAME, password=PASSWORD, job_seconds=0.3) as server:
        yield server


def open_pool(fake: FakeScvmm, password: str = PASSWORD) -> RunspacePool:
    wsman = WSMan(
        "127.0.0.1",
        port=fake.port,
        username=USERNAME,
        password=password,
        ssl=False,
        auth="basic",
        encryption="never",
        operation_timeout=5,
        read_timeout=15,
        connection_timeout=5,
    )
    pool = RunspacePool(wsman)
    pool.open()
    return pool


@pytest.fixture
def pool(fake: FakeScvmm) -> Iterator[RunspacePool]:
    """An open pool on which Get-SCVMMServer has run."""
    runspace_pool = open_pool(fake)
    try:
        run(runspace_pool, [("Get-SCVMMServer", {"ComputerName": "vmm01.example.com"})])
        yield runspace_pool
    finally:
        runspace_pool.close()


@pytest.fixture
def bare_pool(fake: FakeScvmm) -> Iterator[RunspacePool]:
    """An open pool on which nothing has run yet."""
    runspace_pool = open_pool(fake)
    try:
        yield runspace_pool
    finally:
        runspace_pool.close()


Statement = list[tuple[str, dict[str, Any]]]


def build(pool: RunspacePool, *statements: Statement) -> PowerShell:
    """A PowerShell object with these statements; each a pipeline of (cmdlet, params).
    A parameter value of None is a switch."""
    powershell = PowerShell(pool)
    for index, statement in enumerate(statements):
        if index:
            powershell.add_statement()
        for cmdlet, parameters in statement:
            powershell.add_cmdlet(cmdlet)
            for name, value in parameters.items():
                powershell.add_parameter(name, value)
    return powershell


def run(pool: RunspacePool, *statements: Statement) -> PowerShell:
    powershell = build(pool, *statements)
    powershell.invoke()
    return powershell


def prop(obj: Any, name: str) -> Any:
    """A property of a deserialized object (adapted first, then extended)."""
    if name in obj.adapted_properties:
        return obj.adapted_properties[name]
    return obj.extended_properties[name]


def text(value: Any) -> str:
    """Enums and nested objects arrive as objects with to_string."""
    return value if isinstance(value, str) else str(getattr(value, "to_string", value))


def disable(pool: RunspacePool, host: str, move: bool = True) -> Any:
    """Get-SCVMHost | Disable-SCVMHost ... -JobVariable j; Get-Variable j: the job object."""
    disable_parameters: dict[str, Any] = {"RunAsynchronously": None, "JobVariable": "j"}
    if move:
        disable_parameters["MoveWithinCluster"] = None
    powershell = run(
        pool,
        [("Get-SCVMHost", {"ComputerName": host}), ("Disable-SCVMHost", disable_parameters)],
        [("Get-Variable", {"Name": "j", "ValueOnly": None})],
    )
    assert not powershell.had_errors, [str(e) for e in powershell.streams.error]
    assert not powershell.streams.error, [str(e) for e in powershell.streams.error]
    return powershell.output[-1]


def job_status(pool: RunspacePool, job_id: str) -> str:
    powershell = run(pool, [("Get-SCJob", {"ID": job_id})])
    return text(prop(powershell.output[0], "Status"))


def wait_for_job(pool: RunspacePool, job: Any) -> str:
    job_id = prop(job, "ID")
    assert wait_until(lambda: job_status(pool, job_id) != "Running")
    return job_status(pool, job_id)


@pytest.fixture
def psrp() -> SimpleNamespace:
    """The helpers above for the test modules (importlib mode cannot import conftest)."""
    return SimpleNamespace(
        PASSWORD=PASSWORD,
        USERNAME=USERNAME,
        open_pool=open_pool,
        build=build,
        run=run,
        prop=prop,
        text=text,
        disable=disable,
        job_status=job_status,
        wait_for_job=wait_for_job,
        wait_until=wait_until,
    )
