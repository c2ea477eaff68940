"""The pypsrp SCVMM driver against the fake SCVMM over real HTTP (Basic auth)."""

from __future__ import annotations

import copy
import socket
import threading
import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from check_dell_ups.fake_scvmm.model import object_id
from check_dell_ups.fake_scvmm.server import FakeScvmm
from check_dell_ups.maintenance import scvmm, vmm_objects
from check_dell_ups.maintenance.driver import (
    HostInfo,
    JobInfo,
    ScvmmAuthError,
    ScvmmCommandError,
    ScvmmEndpoint,
    ScvmmUnreachable,
    VmInfo,
)
from check_dell_ups.maintenance.scvmm import open_driver

PASSWORD = "driver-Secr3t-pw"

INVENTORY: dict[str, Any] = {
    "hosts": {
        **{f"hv{n:02d}.example.com": {"cluster": "cl01"} for n in range(1, 11)},
        "spare.example.com": {"cluster": "cl01"},
        "hv99.example.com": {"cluster": None},
    },
    "vms": {
        "web01": {"host": "hv01.example.com", "status": "Running", "ha": True},
        "build01": {"host": "hv01.example.com", "status": "Running", "ha": False},
        "old01": {"host": "hv01.example.com", "status": "PowerOff", "ha": True},
        "solo01": {"host": "hv99.example.com", "status": "Running", "ha": True},
    },
    "vmm_server": "vmm01.example.com",
}
ALL_CMDLETS = {
    "Get-SCVMMServer", "Get-SCVMHost", "Get-SCVirtualMachine", "Disable-SCVMHost",
    "Enable-SCVMHost", "Start-SCVirtualMachine", "Get-SCJob", "Get-Variable", "Select-Object",
}  # fmt: skip


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


@pytest.fixture
def scvmm_fake() -> Iterator[FakeScvmm]:
    with FakeScvmm(
        copy.deepcopy(INVENTORY), username="svc-ups", password=PASSWORD, job_seconds=0.3
    ) as fake:
        yield fake


def endpoint_for(port: int, password: str = PASSWORD, **changes: Any) -> ScvmmEndpoint:
    settings: dict[str, Any] = {
        "server": "127.0.0.1", "port": port, "use_tls": False, "auth": "basic",
        "username": "svc-ups", "password": password, "operation_timeout": 5.0,
    }  # fmt: skip
    settings.update(changes)
    return ScvmmEndpoint(**settings)


@pytest.fixture
def driver(scvmm_fake: FakeScvmm) -> Iterator[scvmm.PsrpScvmmDriver]:
    opened = open_driver(endpoint_for(scvmm_fake.port))
    try:
        yield opened
    finally:
        opened.close()


def wait_jobs(driver: scvmm.PsrpScvmmDriver, job_ids: list[str]) -> dict[str, JobInfo]:
    """Poll get_jobs until every job has finished."""
    latest: dict[str, Any] = {}

    def all_finished() -> bool:
        latest.update(driver.get_jobs(job_ids))
        return all(isinstance(j, JobInfo) and j.finished for j in latest.values())

    assert wait_until(all_finished), latest
    return latest


def assert_one_line_without_password(problem: BaseException) -> None:
    text = str(problem)
    assert text
    assert "\n" not in text
    assert PASSWORD not in text
    assert "Traceback" not in text


# ---- the session -----------------------------------------------------------------------


def test_open_runs_get_scvmmserver_once_and_only_cmdlets(scvmm_fake, driver):
    driver.get_hosts(["hv01.example.com"])
    driver.get_hosts(["hv02.example.com"])
    driver.disable_hosts({"hv03.example.com": True})
    cmdlets = [call["cmdlet"] for call in scvmm_fake.calls]
    assert cmdlets[0] == "Get-SCVMMServer"
    assert cmdlets.count("Get-SCVMMServer") == 1
    assert set(cmdlets) <= ALL_CMDLETS
    # WinRM lands on the VMM server: it connects to itself, no second hop.
    assert scvmm_fake.calls[0]["parameters"] == {"ComputerName": "localhost"}


def test_vmm_server_names_another_vmm_server(scvmm_fake):
    with open_driver(endpoint_for(scvmm_fake.port, vmm_server="vmm01.example.com")) as named:
        assert isinstance(named.get_hosts(["hv01.example.com"])["hv01.example.com"], HostInfo)
    assert scvmm_fake.calls[0]["parameters"] == {"ComputerName": "vmm01.example.com"}
    with pytest.raises(ScvmmUnreachable, match="Get-SCVMMServer failed") as caught:
        open_driver(endpoint_for(scvmm_fake.port, vmm_server="vmm99.example.com"))
    assert_one_line_without_password(caught.value)


def test_close_is_safe_twice(scvmm_fake):
    opened = open_driver(endpoint_for(scvmm_fake.port))
    opened.close()
    opened.close()


# ---- reads -----------------------------------------------------------------------------


def test_get_hosts_reads_each_host(scvmm_fake, driver):
    scvmm_fake.model.hosts["hv02.example.com"].maintenance = True
    hosts = driver.get_hosts(["hv01.example.com", "hv02.example.com", "hv99.example.com"])
    assert hosts["hv01.example.com"] == HostInfo(
        name="hv01.example.com", in_maintenance=False, cluster="cl01", overall_state="OK",
        communication_state="Responding",
    )
    # OverallState MaintenanceMode (8): VMM's Host has no MaintenanceMode property.
    assert hosts["hv02.example.com"] == HostInfo(
        name="hv02.example.com", in_maintenance=True, cluster="cl01",
        overall_state="MaintenanceMode", communication_state="Responding",
    )
    assert hosts["hv99.example.com"].cluster is None


def test_get_hosts_reads_a_host_vmm_cannot_reach(scvmm_fake, driver):
    scvmm_fake.model.hosts["hv03.example.com"].communication = "NotResponding"
    info = driver.get_hosts(["hv03.example.com"])["hv03.example.com"]
    assert isinstance(info, HostInfo)
    assert info.communication_state == "NotResponding"


def test_get_hosts_reports_an_unknown_host_per_item(driver):
    hosts = driver.get_hosts(["hv01.example.com", "ghost.example.com"])
    assert isinstance(hosts["hv01.example.com"], HostInfo)
    problem = hosts["ghost.example.com"]
    assert isinstance(problem, ScvmmCommandError)
    assert "ghost.example.com" in str(problem)
    assert_one_line_without_password(problem)


def test_get_vms_lists_the_vms_of_a_host(driver):
    vms = driver.get_vms("hv01.example.com")
    assert sorted(vms, key=lambda vm: vm.name) == [
        VmInfo(object_id("vm", "build01"), "build01", "Running", False),
        VmInfo(object_id("vm", "old01"), "old01", "PowerOff", True),
        VmInfo(object_id("vm", "web01"), "web01", "Running", True),
    ]


def test_get_vms_power_state_is_virtual_machine_state_not_status(scvmm_fake, driver):
    """As in ManageIQ's VMM dump: Status UnsupportedCluster while the VM runs."""
    scvmm_fake.model.vms["web01"].vmm_status = "UnsupportedCluster"
    vms = {vm.name: vm for vm in driver.get_vms("hv01.example.com")}
    assert vms["web01"].state == "Running"


def test_get_vms_of_an_unknown_host_raises(driver):
    with pytest.raises(ScvmmCommandError, match="ghost"):
        driver.get_vms("ghost.example.com")


def vm_list_calls(fake: FakeScvmm) -> int:
    return sum(1 for call in fake.calls if call["cmdlet"] == "Get-SCVirtualMachine")


def test_get_vms_after_get_hosts_lists_all_those_hosts_at_once(scvmm_fake, driver):
    hosts = ["hv01.example.com", "hv02.example.com", "hv99.example.com"]
    driver.get_hosts(hosts)
    assert [vm.name for vm in driver.get_vms("hv99.example.com")] == ["solo01"]
    assert vm_list_calls(scvmm_fake) == 3  # one batch for the three hosts
    assert {vm.name for vm in driver.get_vms("hv01.example.com")} == {"web01", "build01", "old01"}
    assert driver.get_vms("hv02.example.com") == []
    assert vm_list_calls(scvmm_fake) == 3  # served from that batch
    driver.get_vms("hv01.example.com")
    assert vm_list_calls(scvmm_fake) == 4  # each list is used once


def test_vm_lists_fetched_ahead_go_stale(scvmm_fake, driver):
    driver.get_hosts(["hv01.example.com", "hv99.example.com"])
    driver.get_vms("hv01.example.com")
    driver.disable_hosts({"hv99.example.com": False})  # acting on a host drops its list
    driver.get_vms("hv99.example.com")
    assert vm_list_calls(scvmm_fake) == 3

    driver.get_hosts(["hv01.example.com", "hv99.example.com"])
    driver.get_vms("hv01.example.com")
    now = time.monotonic()
    driver._clock = lambda: now + scvmm.VM_LIST_FRESH_SECONDS + 1
    driver.get_vms("hv99.example.com")  # too old: read again
    assert vm_list_calls(scvmm_fake) == 6


# ---- enter and leave maintenance ---------------------------------------------------------


def test_disable_hosts_migrates_or_saves_as_asked(scvmm_fake, driver):
    jobs = driver.disable_hosts({"hv01.example.com": True, "hv99.example.com": False})
    assert all(isinstance(job_id, str) for job_id in jobs.values())
    disables = {
        call["parameters"].get("MoveWithinCluster", False)
        for call in scvmm_fake.calls
        if call["cmdlet"] == "Disable-SCVMHost"
    }
    assert disables == {True, False}
    finished = wait_jobs(driver, list(jobs.values()))
    assert all(job.succeeded and job.status == "Completed" for job in finished.values())
    state = scvmm_fake.snapshot()
    assert state["hosts"]["hv01.example.com"]["maintenance"] is True
    assert state["vms"]["web01"]["host"] != "hv01.example.com"
    assert state["vms"]["build01"]["status"] == "Saved"
    assert state["vms"]["solo01"]["status"] == "Saved"


def test_disable_of_ten_hosts_in_parallel(scvmm_fake, driver):
    scvmm_fake.set_faults(latency=0.2, job_seconds=0.5)
    hosts = {f"hv{n:02d}.example.com": True for n in range(1, 11)}
    jobs = driver.disable_hosts(hosts)
    assert set(jobs) == set(hosts)
    assert len(set(jobs.values())) == 10
    finished = wait_jobs(driver, list(jobs.values()))
    assert all(job.succeeded for job in finished.values())
    state = scvmm_fake.snapshot()
    assert all(state["hosts"][host]["maintenance"] for host in hosts)
    assert state["vms"]["web01"]["host"] == "spare.example.com"


def test_job_states_while_running_and_when_failed(scvmm_fake, driver):
    scvmm_fake.set_faults(fail_migration_vms=["web01"], job_seconds=3.0)
    job_id = driver.disable_hosts({"hv01.example.com": True})["hv01.example.com"]
    running = driver.get_jobs([job_id])[job_id]
    assert running == JobInfo(job_id, "Running", finished=False, succeeded=False)
    failed = wait_jobs(driver, [job_id])[job_id]
    assert failed.status == "Failed"
    assert failed.finished and not failed.succeeded
    # The reason comes from the whole ErrorInfo (Select-Object -ExpandProperty), not from
    # its one-level-deep text "LiveMigrationFailed (10698)".
    assert "Live migration of web01" in failed.error
    expansions = [c["parameters"] for c in scvmm_fake.calls if c["cmdlet"] == "Select-Object"]
    assert expansions == [{"ExpandProperty": "ErrorInfo"}]
    assert_one_line_without_password(ScvmmCommandError(failed.error))


def test_get_jobs_of_an_unknown_job_is_a_per_item_error(driver):
    jobs = driver.get_jobs(["00000000-0000-0000-0000-0000000000ff"])
    assert isinstance(jobs["00000000-0000-0000-0000-0000000000ff"], ScvmmCommandError)


def test_disable_of_an_unknown_host_fails_only_that_host(driver):
    jobs = driver.disable_hosts({"hv02.example.com": True, "ghost.example.com": True})
    assert isinstance(jobs["hv02.example.com"], str)
    assert isinstance(jobs["ghost.example.com"], ScvmmCommandError)
    assert "ghost.example.com" in str(jobs["ghost.example.com"])


def test_disable_of_a_locked_host_is_an_error(scvmm_fake, driver):
    scvmm_fake.set_faults(job_seconds=5)
    driver.disable_hosts({"hv02.example.com": True})
    again = driver.disable_hosts({"hv02.example.com": True})["hv02.example.com"]
    assert isinstance(again, ScvmmCommandError)
    assert "locked by another job" in str(again) and "2602" in str(again)


def test_enable_hosts_and_start_vms(scvmm_fake, driver):
    entered = driver.disable_hosts({"hv01.example.com": False})
    wait_jobs(driver, list(entered.values()))
    left = driver.enable_hosts(["hv01.example.com"])
    assert all(job.succeeded for job in wait_jobs(driver, list(left.values())).values())
    assert scvmm_fake.snapshot()["hosts"]["hv01.example.com"]["maintenance"] is False
    assert scvmm_fake.snapshot()["vms"]["web01"]["status"] == "Saved"  # Enable starts nothing

    web01, build01 = object_id("vm", "web01"), object_id("vm", "build01")
    nothere = "00000000-0000-0000-0000-00000000abcd"
    started = driver.start_vms([web01, build01, nothere])
    assert isinstance(started[nothere], ScvmmCommandError)
    assert "Unable to find the virtual machine" in str(started[nothere])
    finished = wait_jobs(driver, [started[web01], started[build01]])
    assert all(job.succeeded for job in finished.values())
    vms = scvmm_fake.snapshot()["vms"]
    assert (vms["web01"]["status"], vms["build01"]["status"]) == ("Running", "Running")
    starts = [c for c in scvmm_fake.calls if c["cmdlet"] == "Start-SCVirtualMachine"]
    assert all("RunAsynchronously" in c["parameters"] for c in starts)
    finds = [c["parameters"] for c in scvmm_fake.calls if c["cmdlet"] == "Get-SCVirtualMachine"
             and "VMHost" not in c["parameters"]]
    assert finds == [{"ID": web01}, {"ID": build01}, {"ID": nothere}]  # by ID, never by name


def test_start_vms_by_id_when_names_repeat(scvmm_fake, driver):
    """VM names are not unique in VMM: the one we saved starts, not its namesake."""
    twin = scvmm_fake.model.vms["build01"]
    scvmm_fake.model.vms["twin"] = type(twin)("twin", "web01", "hv99.example.com", "Saved",
                                              False)
    scvmm_fake.model.vms["web01"].status = "Saved"
    started = driver.start_vms([object_id("vm", "twin")])
    wait_jobs(driver, list(started.values()))
    vms = scvmm_fake.snapshot()["vms"]
    assert (vms["twin"]["status"], vms["web01"]["status"]) == ("Running", "Saved")


def test_start_vms_works_on_a_host_in_maintenance(scvmm_fake, driver):
    entered = driver.disable_hosts({"hv99.example.com": False})
    wait_jobs(driver, list(entered.values()))
    started = driver.start_vms([object_id("vm", "solo01")])
    finished = wait_jobs(driver, list(started.values()))
    assert all(job.succeeded for job in finished.values())
    assert scvmm_fake.snapshot()["vms"]["solo01"]["status"] == "Running"


# ---- connection-wide failures --------------------------------------------------------------


def test_wrong_password_is_an_auth_error_without_the_password(scvmm_fake):
    with pytest.raises(ScvmmAuthError) as caught:
        open_driver(endpoint_for(scvmm_fake.port, password="wrong-" + PASSWORD))
    assert_one_line_without_password(caught.value)
    assert "wrong-" not in str(caught.value)
    assert "svc-ups" in str(caught.value)


def test_connection_refused_is_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ScvmmUnreachable, match="refused") as caught:
        open_driver(endpoint_for(port))
    assert_one_line_without_password(caught.value)


def test_refused_connections_fault_is_unreachable(scvmm_fake):
    scvmm_fake.set_faults(refuse_connections=True)
    with pytest.raises(ScvmmUnreachable) as caught:
        open_driver(endpoint_for(scvmm_fake.port))
    assert_one_line_without_password(caught.value)


def test_tls_to_a_plain_http_server_is_unreachable(scvmm_fake):
    with pytest.raises(ScvmmUnreachable, match="TLS") as caught:
        open_driver(endpoint_for(scvmm_fake.port, use_tls=True))
    assert_one_line_without_password(caught.value)


def test_a_silent_server_times_out_as_unreachable():
    """A server that accepts the connection and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        with pytest.raises(ScvmmUnreachable, match="no answer") as caught:
            open_driver(endpoint_for(listener.getsockname()[1], operation_timeout=1.0))
        assert_one_line_without_password(caught.value)
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        listener.close()



def test_no_request_outlives_the_deadline(scvmm_fake):
    """A VMM cmdlet that never ends (Get-SCVMMServer here) is given up at the deadline."""
    scvmm_fake.set_faults(latency=600)
    started = time.monotonic()
    with pytest.raises(ScvmmUnreachable, match="budget") as caught:
        open_driver(endpoint_for(scvmm_fake.port, operation_timeout=10.0),
                    deadline=started + 2.0)
    assert time.monotonic() - started < 4.0
    assert_one_line_without_password(caught.value)


def test_requests_past_the_deadline_are_refused_at_once(scvmm_fake):
    driver = open_driver(endpoint_for(scvmm_fake.port), deadline=time.monotonic() + 3.0)
    try:
        assert driver.get_hosts(["hv01.example.com"])["hv01.example.com"].name
        time.sleep(3.0)
        started = time.monotonic()
        with pytest.raises(ScvmmUnreachable, match="budget"):
            driver.get_jobs(["00000000-0000-0000-0000-000000000000"])
        assert time.monotonic() - started < 0.5
    finally:
        started = time.monotonic()
        driver.close()  # no request left to close the pool with: closes at once
        assert time.monotonic() - started < 0.5

def test_connection_dropped_mid_job_then_a_new_session_sees_the_job(scvmm_fake, driver):
    scvmm_fake.set_faults(drop_connection_mid_job=True, job_seconds=0.5)
    with pytest.raises(ScvmmUnreachable) as caught:
        driver.disable_hosts({"hv02.example.com": True})
    assert_one_line_without_password(caught.value)
    [(job_id, job)] = scvmm_fake.snapshot()["jobs"].items()
    assert job["target"] == "hv02.example.com"

    with open_driver(endpoint_for(scvmm_fake.port)) as fresh:
        assert wait_jobs(fresh, [job_id])[job_id].succeeded
        assert fresh.get_hosts(["hv02.example.com"])["hv02.example.com"].in_maintenance


# ---- reading deserialized objects robustly -------------------------------------------------


def test_properties_are_found_adapted_or_extended_in_any_case():
    obj = SimpleNamespace(adapted_properties={"Name": "a"}, extended_properties={"Extra": 1})
    assert scvmm._property(obj, "name") == "a"
    assert scvmm._property(obj, "EXTRA") == 1
    assert scvmm._property(obj, "Missing") is scvmm._MISSING


def test_enums_and_nested_objects_read_as_their_text():
    enum_like = SimpleNamespace(to_string="Completed", adapted_properties={})
    assert scvmm._text(enum_like) == "Completed"
    assert scvmm._text("Running") == "Running"
    assert scvmm._text(None) is None
    assert scvmm._flag("True") is True
    assert scvmm._flag(False) is False


def deserialized(type_name: str, **properties: Any) -> SimpleNamespace:
    """An object as pypsrp hands it over: type names and adapted properties."""
    return SimpleNamespace(types=[type_name, "System.Object"], adapted_properties=properties,
                           extended_properties={})


def task(**properties: Any) -> SimpleNamespace:
    return deserialized(vmm_objects.TASK_TYPE, **properties)


def host(**properties: Any) -> SimpleNamespace:
    return deserialized(vmm_objects.HOST_TYPE, **properties)


@pytest.mark.parametrize("wire", ["MaintenanceMode", 8, "8", "maintenancemode",
                                  SimpleNamespace(to_string="MaintenanceMode", value=8)])
def test_maintenance_is_read_from_overall_state_whichever_way_the_enum_arrives(wire):
    info = scvmm._host_info("hv", [host(Name="hv", OverallState=wire,
                                        CommunicationState="Responding")])
    assert isinstance(info, HostInfo)
    assert info.in_maintenance is True and info.overall_state == "MaintenanceMode"


def test_a_maintenance_host_flag_is_not_maintenance_mode():
    """MaintenanceHost is something else (a designated maintenance host)."""
    info = scvmm._host_info("hv", [host(Name="hv", OverallState="OK", MaintenanceHost=True,
                                        CommunicationState=0)])
    assert isinstance(info, HostInfo)
    assert info.in_maintenance is False


def test_host_without_overall_state_is_a_per_host_error_naming_the_property():
    """The last round's handler read MaintenanceMode, which VMM's Host does not have."""
    info = scvmm._host_info("hv", [host(Name="hv", MaintenanceMode=True,
                                        CommunicationState="Responding")])
    assert isinstance(info, ScvmmCommandError)
    assert str(info) == "hv: the Host object has no OverallState property"


def test_unknown_enum_value_is_a_per_host_error_naming_the_property():
    info = scvmm._host_info("hv", [host(Name="hv", OverallState=99, CommunicationState=0)])
    assert isinstance(info, ScvmmCommandError)
    assert "OverallState" in str(info) and "99" in str(info)
    assert_one_line_without_password(info)


def test_of_several_host_objects_the_one_asked_for_is_read():
    info = scvmm._host_info("hv02.example.com", [
        host(Name="hv01.example.com", OverallState="OK", CommunicationState=0),
        host(Name="hv02.example.com", OverallState="MaintenanceMode", CommunicationState=0),
    ])  # fmt: skip
    assert isinstance(info, HostInfo) and info.in_maintenance is True


def test_job_error_falls_back_to_the_error_info_text():
    job = task(ID="j1", Status="Failed", ErrorInfo="LiveMigrationFailed (10698)")
    info = scvmm._job_info("j1", [job])
    assert info == JobInfo("j1", "Failed", finished=True, succeeded=False,
                           error="LiveMigrationFailed (10698)")  # fmt: skip


@pytest.mark.parametrize(("status", "finished", "succeeded"), [
    ("Running", False, False), ("Canceling", False, False), ("Invalid", False, False),
    ("Completed", True, True), ("SucceedWithInfo", True, True), (6, True, True),
    ("Failed", True, False), ("Canceled", True, False), (3, True, False),
])  # fmt: skip
def test_job_status_is_a_task_ui_state(status, finished, succeeded):
    info = scvmm._job_info("j1", [task(ID="j1", Status=status, ErrorInfo="x (1)")])
    assert isinstance(info, JobInfo)
    assert (info.finished, info.succeeded) == (finished, succeeded)


def test_unknown_job_status_is_an_error_not_a_finished_job():
    info = scvmm._job_info("j1", [task(ID="j1", Status="Paused")])
    assert isinstance(info, ScvmmCommandError)
    assert "Status" in str(info) and "TaskUIState" in str(info)


def test_a_vm_is_not_taken_for_a_job():
    """A VM has an ID and a Status too: a job is known by its type."""
    vm = deserialized(vmm_objects.VM_TYPE, ID="v1", Status="Running")
    assert isinstance(scvmm._job_id("start", [vm]), ScvmmCommandError)
    assert scvmm._job_id("start", [vm, task(ID="j9", Status="Running")]) == "j9"


def test_vm_without_virtual_machine_state_is_an_error_naming_the_property():
    vm = deserialized(vmm_objects.VM_TYPE, ID="v1", Name="web01", Status="Running")
    problem = scvmm._vm_info("hv01", vm)
    assert isinstance(problem, ScvmmCommandError)
    assert "VirtualMachineState" in str(problem)


# ---- TLS -----------------------------------------------------------------------------------


@pytest.fixture
def tls_files(tmp_path) -> SimpleNamespace:
    """A self-signed certificate for 127.0.0.1 (it is its own CA bundle)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = tmp_path / "vmm.pem"
    key_file = tmp_path / "vmm.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return SimpleNamespace(cert=str(cert_file), key=str(key_file))


@pytest.fixture
def tls_fake(tls_files) -> Iterator[FakeScvmm]:
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files.cert, tls_files.key)
    with FakeScvmm(
        copy.deepcopy(INVENTORY), username="svc-ups", password=PASSWORD, ssl_context=context
    ) as fake:
        yield fake


def test_tls_certificate_is_verified_by_default(tls_fake):
    with pytest.raises(ScvmmUnreachable, match="certificate verify failed") as caught:
        open_driver(endpoint_for(tls_fake.port, use_tls=True))
    assert_one_line_without_password(caught.value)


def test_tls_with_a_ca_bundle_works(tls_fake, tls_files):
    assert tls_fake.url.startswith("https://")
    with open_driver(
        endpoint_for(tls_fake.port, use_tls=True, cert_validation=tls_files.cert)
    ) as d:
        assert d.get_hosts(["hv01.example.com"])["hv01.example.com"].cluster == "cl01"


def test_connecting_in_every_invocation_keeps_results_clean(scvmm_fake, monkeypatch):
    monkeypatch.setattr(scvmm, "CONNECT_IN_EVERY_INVOCATION", True)
    with open_driver(endpoint_for(scvmm_fake.port)) as connected:
        hosts = connected.get_hosts(["hv01.example.com", "ghost.example.com"])
        assert hosts["hv01.example.com"].cluster == "cl01"
        assert isinstance(hosts["ghost.example.com"], ScvmmCommandError)
        job_id = connected.disable_hosts({"hv99.example.com": False})["hv99.example.com"]
        assert wait_jobs(connected, [job_id])[job_id].succeeded
    cmdlets = [call["cmdlet"] for call in scvmm_fake.calls]
    assert cmdlets[:2] == ["Get-SCVMMServer", "Get-SCVMMServer"]  # opening
    firsts = [i for i, name in enumerate(cmdlets) if name in ("Get-SCVMHost", "Get-SCJob")]
    assert firsts
    assert all(cmdlets[i - 1] == "Get-SCVMMServer" for i in firsts)
