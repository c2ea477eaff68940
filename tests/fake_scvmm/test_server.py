"""The fake's transport: Basic auth, faults, latency, control endpoints."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
import requests
from pypsrp.exceptions import AuthenticationError

from check_dell_ups.fake_scvmm.server import FakeScvmm


def _get(fake: FakeScvmm, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{fake.port}{path}", timeout=10) as response:
        return json.load(response)


def _post(fake: FakeScvmm, path: str, body: dict):
    request = urllib.request.Request(
        f"http://127.0.0.1:{fake.port}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_wrong_password_gets_401(fake, psrp):
    with pytest.raises(AuthenticationError):
        psrp.open_pool(fake, password="not-the-password")
    response = requests.post(fake.url, data=b"<x/>", auth=("svc-ups", "wrong"), timeout=10)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_no_credentials_get_401(fake):
    response = requests.post(fake.url, data=b"<x/>", timeout=10)
    assert response.status_code == 401


def test_refused_connections_fault_answers_nothing(fake, psrp):
    fake.set_faults(refuse_connections=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        psrp.open_pool(fake)
    fake.set_faults(refuse_connections=False)
    psrp.open_pool(fake).close()


def test_a_stopped_fake_refuses_the_connection(inventory, psrp):
    fake = FakeScvmm(inventory, password=psrp.PASSWORD).start()
    port = fake.port
    fake.stop()
    with pytest.raises(requests.exceptions.ConnectionError, match="refused"):
        requests.post(f"http://127.0.0.1:{port}/wsman", timeout=10)


def test_latency_delays_each_pipeline(fake, pool, psrp):
    fake.set_faults(latency=0.5)
    started = time.monotonic()
    psrp.run(pool, [("Get-SCVMHost", {"ComputerName": "hv01.example.com"})])
    assert time.monotonic() - started >= 0.5


def test_many_slow_pipelines_in_flight_at_once(fake, pool, psrp):
    """Ten pipelines started before any is collected each get their own output. (How
    much they overlap is measured by bench/bench_handler.py, not asserted here.)"""
    fake.set_faults(latency=0.5)
    running = []
    for number in (1, 2, 3, 4, 9, 1, 2, 3, 4, 9):
        host = f"hv0{number}.example.com"
        powershell = psrp.build(pool, [("Get-SCVMHost", {"ComputerName": host})])
        powershell.begin_invoke()
        running.append((host, powershell))
    assert len(fake.calls) == 1 + 10  # all ten ran on the server before any was collected
    for host, powershell in reversed(running):
        powershell.end_invoke()
        assert [psrp.prop(h, "Name") for h in powershell.output] == [host]


def test_slow_pipeline_does_not_block_another_client(fake, psrp):
    """A pipeline held by latency in one connection; another connection still works."""
    other = psrp.open_pool(fake)
    try:
        fake.set_faults(latency=2.0)
        slow_done = threading.Event()

        def slow() -> None:
            pool = psrp.open_pool(fake)
            psrp.run(pool, [("Get-SCVMMServer", {"ComputerName": "vmm01.example.com"})])
            slow_done.set()
            pool.close()

        worker = threading.Thread(target=slow)
        worker.start()
        time.sleep(0.3)
        state = _get(fake, "/fake/state")  # the control endpoint answers meanwhile
        assert state["faults"]["latency"] == 2.0
        assert not slow_done.is_set()
        worker.join(timeout=30)
        assert slow_done.is_set()
    finally:
        fake.set_faults(latency=0.0)
        other.close()


def test_connection_dropped_mid_job_and_the_job_goes_on(fake, pool, psrp):
    fake.set_faults(drop_connection_mid_job=True, job_seconds=3.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        psrp.disable(pool, "hv02.example.com")
    assert [job["status"] for job in fake.snapshot()["jobs"].values()] == ["Running"]

    fresh = psrp.open_pool(fake)  # the fault fired once: a new session works
    try:
        psrp.run(fresh, [("Get-SCVMMServer", {"ComputerName": "vmm01.example.com"})])
        assert psrp.wait_until(
            lambda: fake.snapshot()["hosts"]["hv02.example.com"]["maintenance"] is True
        )
    finally:
        fresh.close()


def test_control_endpoints(fake, pool, psrp):
    psrp.run(pool, [("Get-SCVMHost", {"ComputerName": "hv01.example.com"})])
    state = _get(fake, "/fake/state")
    assert state["hosts"]["hv09.example.com"] == {"maintenance": False, "cluster": None}
    assert state["vms"]["web01"] == {"host": "hv01.example.com", "status": "Running", "ha": True}
    calls = _get(fake, "/fake/calls")
    assert calls[-1] == {
        "cmdlet": "Get-SCVMHost",
        "parameters": {"ComputerName": "hv01.example.com"},
    }

    faults = _post(fake, "/fake/faults", {"fail_migration_vms": ["web01"], "job_seconds": 2})
    assert faults["fail_migration_vms"] == ["web01"]
    assert fake.snapshot()["faults"]["job_seconds"] == 2.0

    with pytest.raises(urllib.error.HTTPError) as refused:
        _post(fake, "/fake/faults", {"explode": True})
    assert refused.value.code == 400


def test_unknown_shell_is_a_wsman_fault(fake, pool, psrp):
    body = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header>'
        "<wsa:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive</wsa:Action>"
        "<wsa:MessageID>uuid:1</wsa:MessageID><wsman:SelectorSet>"
        '<wsman:Selector Name="ShellId">NOPE</wsman:Selector></wsman:SelectorSet>'
        "</s:Header><s:Body/></s:Envelope>"
    )
    response = requests.post(fake.url, data=body, auth=("svc-ups", psrp.PASSWORD), timeout=10)
    assert response.status_code == 500
    assert "2150858843" in response.text
    assert "uuid:1" in response.text  # RelatesTo


def test_a_broken_psrp_message_is_a_fault_and_the_server_goes_on(fake, psrp):
    body = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
        'xmlns:p="http://schemas.microsoft.com/powershell"><s:Header>'
        "<wsa:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</wsa:Action>"
        "<wsa:MessageID>uuid:2</wsa:MessageID></s:Header><s:Body><rsp:Shell>"
        "<p:creationXml>bm90IHBzcnA=</p:creationXml></rsp:Shell></s:Body></s:Envelope>"
    )
    response = requests.post(fake.url, data=body, auth=("svc-ups", psrp.PASSWORD), timeout=10)
    assert response.status_code == 500
    assert "WSManFault" in response.text
    psrp.open_pool(fake).close()  # still serving
