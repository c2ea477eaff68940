"""UpsSimulator: lifecycle, state(), and answers to pysnmp as a client."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
from pysnmp.hlapi.v3arch import asyncio as hlapi

from check_dell_ups.simulator.agent import UpsSimulator, V3User

AUTH = "auth-secret-1"
PRIV = "priv-secret-1"
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SECONDS_ON_BATTERY = "1.3.6.1.2.1.33.1.2.2.0"
OUTPUT_SOURCE = "1.3.6.1.2.1.33.1.4.1.0"
ALARM_DESCR = "1.3.6.1.2.1.33.1.6.2.1.2"


def pysnmp_get(port: int, auth_data, *oids: str) -> dict[str, object]:
    async def query():
        engine = hlapi.SnmpEngine()
        try:
            target = await hlapi.UdpTransportTarget.create(
                ("127.0.0.1", port), timeout=3, retries=2
            )
            error, status, _index, var_binds = await hlapi.get_cmd(
                engine,
                auth_data,
                target,
                hlapi.ContextData(),
                *(hlapi.ObjectType(hlapi.ObjectIdentity(oid)) for oid in oids),
            )
        finally:
            engine.close_dispatcher()
        assert error is None, error
        assert not status, status.prettyPrint()
        return {str(name): value for name, value in var_binds}

    return asyncio.run(query())


def pysnmp_bulk(port: int, oid: str, repetitions: int) -> list[tuple[str, object]]:
    async def query():
        engine = hlapi.SnmpEngine()
        try:
            target = await hlapi.UdpTransportTarget.create(
                ("127.0.0.1", port), timeout=3, retries=2
            )
            error, status, _index, var_binds = await hlapi.bulk_cmd(
                engine,
                hlapi.CommunityData("public"),
                target,
                hlapi.ContextData(),
                0,
                repetitions,
                hlapi.ObjectType(hlapi.ObjectIdentity(oid)),
            )
        finally:
            engine.close_dispatcher()
        assert error is None, error
        assert not status
        return [(str(name), value) for name, value in var_binds]

    return asyncio.run(query())


def test_pysnmp_v2c_get_and_live_state(simulator):
    values = pysnmp_get(simulator.port, hlapi.CommunityData("public"), SYS_DESCR, OUTPUT_SOURCE)
    assert str(values[SYS_DESCR]) == "Dell UPS Rack 1920W HV"
    assert int(values[OUTPUT_SOURCE]) == 3
    simulator.cut_mains()
    values = pysnmp_get(simulator.port, hlapi.CommunityData("public"), OUTPUT_SOURCE)
    assert int(values[OUTPUT_SOURCE]) == 5


def test_pysnmp_v1(simulator):
    values = pysnmp_get(simulator.port, hlapi.CommunityData("public", mpModel=0), SYS_DESCR)
    assert str(values[SYS_DESCR]) == "Dell UPS Rack 1920W HV"


def test_pysnmp_bulk_reads_the_alarm_table_in_order(simulator):
    simulator.cut_mains()
    simulator.set_alarm("overload", True)
    rows = pysnmp_bulk(simulator.port, ALARM_DESCR, 3)
    assert [name for name, _ in rows] == [
        ALARM_DESCR + ".1",
        ALARM_DESCR + ".2",
        "1.3.6.1.2.1.33.1.6.2.1.3.1",  # the walk moves on to the next column
    ]
    assert str(rows[1][1]) == "1.3.6.1.2.1.33.1.6.3.8"  # upsAlarmOutputOverload


@pytest.mark.parametrize(
    ("user", "auth", "priv"),
    [
        ("sha-aes", hlapi.USM_AUTH_HMAC96_SHA, hlapi.USM_PRIV_CFB128_AES),
        ("md5-des", hlapi.USM_AUTH_HMAC96_MD5, hlapi.USM_PRIV_CBC56_DES),
        ("sha256-aes256", hlapi.USM_AUTH_HMAC192_SHA256, hlapi.USM_PRIV_CFB256_AES),
        ("sha512-aes192", hlapi.USM_AUTH_HMAC384_SHA512, hlapi.USM_PRIV_CFB192_AES),
    ],
)
def test_pysnmp_v3_auth_priv(simulator, user, auth, priv):
    credentials = hlapi.UsmUserData(user, AUTH, PRIV, authProtocol=auth, privProtocol=priv)
    values = pysnmp_get(simulator.port, credentials, SYS_DESCR, SECONDS_ON_BATTERY)
    assert str(values[SYS_DESCR]) == "Dell UPS Rack 1920W HV"
    assert int(values[SECONDS_ON_BATTERY]) == 0


def test_state_reports_the_documented_keys(simulator):
    simulator.set_load(50)
    simulator.set_charge(80)
    simulator.set_alarm("replace_battery", True)
    simulator.cut_mains()
    state = simulator.state()
    assert state["mains"] is False
    assert state["seconds_on_battery"] == 0
    assert state["charge"] == pytest.approx(80, abs=0.5)
    assert state["runtime"] == pytest.approx(1800 * 0.8 * 35 / 50, abs=2)
    assert state["load"] == 50
    assert state["alarms"] == ["on_battery", "replace_battery"]
    assert state["output_source"] == "battery"
    assert state["dell_alarms"] == "57,63"
    assert state["global_status"] == "non-critical"
    assert state["request_count"] == 0
    assert state["port"] == simulator.port


def test_drain_speed_brings_low_battery_quickly():
    with UpsSimulator(port=0, full_runtime=600, drain_speed=400.0) as sim:
        sim.cut_mains()
        deadline = 30.0
        step = 0.1
        waited = 0.0
        while "low_battery" not in sim.state()["alarms"] and waited < deadline:
            threading.Event().wait(step)
            waited += step
        state = sim.state()
        assert "low_battery" in state["alarms"]
        assert state["battery_status"] in ("low", "depleted")
        assert state["global_status"] == "critical"


def test_stop_frees_the_port_and_leaves_no_threads():
    threads_before = set(threading.enumerate())
    sim = UpsSimulator(port=0, control_port=0)
    sim.start()
    port, control_port = sim.port, sim.control_port
    assert pysnmp_get(port, hlapi.CommunityData("public"), SYS_DESCR)
    sim.stop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", port))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(("127.0.0.1", control_port))
    leftovers = [
        thread
        for thread in set(threading.enumerate()) - threads_before
        if thread.name.startswith("ups-sim")
    ]
    assert leftovers == []


def test_stop_is_idempotent_and_a_stopped_simulator_restarts():
    sim = UpsSimulator(port=0)
    sim.stop()  # never started: nothing to do
    sim.start()
    sim.cut_mains()
    sim.stop()
    sim.stop()
    sim.start()  # the UPS model carries on: still on battery
    try:
        values = pysnmp_get(sim.port, hlapi.CommunityData("public"), OUTPUT_SOURCE)
        assert int(values[OUTPUT_SOURCE]) == 5
    finally:
        sim.stop()


def test_busy_port_fails_clearly():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        sim = UpsSimulator(port=taken.getsockname()[1])
        with pytest.raises(OSError, match=r"cannot listen on UDP 127\.0\.0\.1"):
            sim.start()


def test_two_simulators_run_side_by_side():
    with UpsSimulator(port=0) as first, UpsSimulator(port=0) as second:
        first.cut_mains()
        assert (
            int(pysnmp_get(first.port, hlapi.CommunityData("public"), OUTPUT_SOURCE)[OUTPUT_SOURCE])
            == 5
        )
        assert (
            int(
                pysnmp_get(second.port, hlapi.CommunityData("public"), OUTPUT_SOURCE)[OUTPUT_SOURCE]
            )
            == 3
        )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"auth_protocol": "SHA1"}, "unknown SNMPv3 auth protocol"),
        ({"priv_protocol": "3DES"}, "unknown SNMPv3 privacy protocol"),
        ({"auth_passphrase": "short"}, "at least 8 characters"),
        ({"auth_protocol": None}, "privacy needs authentication"),
    ],
)
def test_v3_user_validation(arguments, message):
    settings = {"auth_passphrase": AUTH, "priv_passphrase": PRIV, **arguments}
    with pytest.raises(ValueError, match=message):
        V3User("someone", **settings)


def test_v3_user_repr_hides_passphrases():
    assert AUTH not in repr(V3User("someone", "SHA", AUTH, "AES", PRIV))


def test_garbage_datagrams_do_not_stop_the_agent(simulator):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for garbage in (b"", b"\x00", b"\x30\x82\xff\xff" + b"A" * 50, bytes(range(256))):
            sender.sendto(garbage, ("127.0.0.1", simulator.port))
    values = pysnmp_get(simulator.port, hlapi.CommunityData("public"), SYS_DESCR)
    assert str(values[SYS_DESCR]) == "Dell UPS Rack 1920W HV"
    assert simulator.request_count == 1


def test_values_are_computed_when_the_request_arrives(clocked_simulator):
    sim, clock = clocked_simulator
    uptime, consumption = "1.3.6.1.2.1.1.3.0", "1.3.6.1.4.1.674.10902.2.120.2.6.0"
    public = hlapi.CommunityData("public")
    values = pysnmp_get(sim.port, public, uptime, consumption)
    assert int(values[uptime]) == 0
    assert int(values[consumption]) == 0  # the one-hour average is not there yet
    clock.advance(3600)
    sim.cut_mains()
    clock.advance(60)
    values = pysnmp_get(sim.port, public, uptime, consumption, SECONDS_ON_BATTERY)
    assert int(values[uptime]) == 366000
    assert int(values[consumption]) == 672
    assert int(values[SECONDS_ON_BATTERY]) == 60
