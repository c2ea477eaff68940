"""The HTTP control interface, spoken to over real HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest


def call(port: int, method: str, path: str, body: object = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_no_control_port_unless_asked():
    from check_dell_ups.simulator.agent import UpsSimulator

    with UpsSimulator(port=0) as sim:
        assert sim.control_port is None


def test_get_state(simulator):
    status, state = call(simulator.control_port, "GET", "/state")
    assert status == 200
    assert state["mains"] is True
    assert state["charge"] == 100
    assert state["runtime"] == 1800
    assert state["alarms"] == []
    assert state["request_count"] == 0


def test_mains_off_and_on(simulator):
    status, state = call(simulator.control_port, "POST", "/mains/off")
    assert status == 200
    assert state["mains"] is False
    assert state["alarms"] == ["on_battery"]
    assert simulator.state()["output_source"] == "battery"
    status, state = call(simulator.control_port, "POST", "/mains/on")
    assert status == 200
    assert state["mains"] is True
    assert simulator.state()["alarms"] == []


def test_card_reboot(simulator):
    call(simulator.control_port, "POST", "/mains/off")
    status, state = call(simulator.control_port, "POST", "/card/reboot")
    assert status == 200
    assert state["card_uptime"] == 0
    assert state["mains"] is False


def test_set_load_charge_and_temperature(simulator):
    status, state = call(
        simulator.control_port, "POST", "/set", {"load": 70, "charge": 50, "temperature": 38.5}
    )
    assert status == 200
    assert state["load"] == 70
    assert state["charge"] == pytest.approx(50, abs=0.5)
    assert state["runtime"] == pytest.approx(450, abs=2)
    assert state["temperature"] == 38.5


def test_alarm_on_and_off(simulator):
    status, state = call(
        simulator.control_port, "POST", "/alarm", {"name": "fan_failure", "active": True}
    )
    assert status == 200
    assert state["alarms"] == ["fan_failure"]
    assert state["dell_alarms"] == "65"
    status, state = call(
        simulator.control_port, "POST", "/alarm", {"name": "fan_failure", "active": False}
    )
    assert state["alarms"] == []


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/alarm", {"name": "gremlins", "active": True}, 400, "unknown alarm"),
        ("POST", "/alarm", {"active": True}, 400, "takes"),
        ("POST", "/set", {"load": "heavy"}, 400, "must be a number"),
        ("POST", "/set", {"voltage": 1}, 400, "/set takes"),
        ("POST", "/set", {"charge": 150}, 400, "between 0 and 100"),
        ("POST", "/set", [1, 2], 400, "JSON object"),
        ("POST", "/nowhere", None, 404, "no such endpoint"),
        ("GET", "/nowhere", None, 404, "no such endpoint"),
    ],
)
def test_bad_requests_get_a_clear_error(simulator, method, path, body, status, message):
    got_status, payload = call(simulator.control_port, method, path, body)
    assert got_status == status
    assert message in payload["error"]
    assert simulator.state()["alarms"] == []  # nothing changed


def test_malformed_json(simulator):
    request = urllib.request.Request(
        f"http://127.0.0.1:{simulator.control_port}/set", data=b"{load: 5", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    assert raised.value.code == 400
    assert "not JSON" in json.loads(raised.value.read())["error"]


def test_a_test_over_http(simulator):
    status, state = call(simulator.control_port, "POST", "/test",
                         {"kind": "calibration", "seconds": 600})
    assert status == 200
    assert (state["mains"], state["load_on_battery"], state["test"]) == (True, True,
                                                                         "calibration")
    assert state["output_source"] == "battery"
    assert state["alarms"] == ["on_battery", "test_in_progress"]
    status, state = call(simulator.control_port, "POST", "/mains/off")
    assert (state["test"], state["last_test_result"]) == (None, "aborted")


@pytest.mark.parametrize(("body", "message"), [
    ({"kind": "calibration"}, "/test takes"),
    ({"kind": "calibration", "seconds": True}, "/test takes"),
    ({"kind": "nap", "seconds": 5}, "unknown test"),
])
def test_bad_tests_are_refused(simulator, body, message):
    status, reply = call(simulator.control_port, "POST", "/test", body)
    assert status == 400 and message in reply["error"]


def test_a_stale_counter_over_http(simulator):
    status, _ = call(simulator.control_port, "POST", "/stale-counter",
                     {"seconds": 5000, "for_seconds": 30})
    assert status == 200
    _, state = call(simulator.control_port, "POST", "/mains/off")
    assert state["seconds_on_battery"] == 5000
    status, reply = call(simulator.control_port, "POST", "/stale-counter", {"seconds": "x"})
    assert status == 400 and "/stale-counter takes" in reply["error"]
