"""The simulator as a real SNMP agent, asked by net-snmp's command-line tools."""

from __future__ import annotations

import time

import pytest

from check_dell_ups.simulator.agent import UpsSimulator
from check_dell_ups.simulator.mib import build_view

AUTH = "auth-secret-1"
PRIV = "priv-secret-1"
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SECONDS_ON_BATTERY = "1.3.6.1.2.1.33.1.2.2.0"
OUTPUT_SOURCE = "1.3.6.1.2.1.33.1.4.1.0"
DELL_ALARMS = "1.3.6.1.4.1.674.10902.2.120.4.2.0"


def address(sim: UpsSimulator) -> str:
    return f"127.0.0.1:{sim.port}"


def test_v2c_get(simulator, net_snmp):
    values = net_snmp.values(
        "snmpget", "-v2c", "-c", "public", address(simulator), SYS_DESCR, "1.3.6.1.2.1.1.2.0"
    )
    assert values[SYS_DESCR] == 'STRING: "Dell UPS Rack 1920W HV"'
    assert values["1.3.6.1.2.1.1.2.0"] == "OID: .1.3.6.1.4.1.674.10902.2"


def test_v2c_exceptions_for_missing_objects_and_instances(simulator, net_snmp):
    values = net_snmp.values(
        "snmpget",
        "-v2c",
        "-c",
        "public",
        address(simulator),
        "1.3.6.1.2.1.33.1.2.99.0",  # no such object
        "1.3.6.1.2.1.33.1.2.2.5",  # the object exists, this instance does not
        "1.3.6.1.2.1.33.1.6.2.1.2.7",  # alarm column exists, no row 7
        SECONDS_ON_BATTERY,
    )
    assert values["1.3.6.1.2.1.33.1.2.99.0"].startswith("No Such Object")
    assert values["1.3.6.1.2.1.33.1.2.2.5"].startswith("No Such Instance")
    assert values["1.3.6.1.2.1.33.1.6.2.1.2.7"].startswith("No Such Instance")
    assert values[SECONDS_ON_BATTERY] == "INTEGER: 0"


def test_v2c_end_of_mib_view(simulator, net_snmp):
    result = net_snmp.run("snmpgetnext", "-v2c", "-c", "public", address(simulator), "1.3.6.1.5")
    assert result.returncode == 0
    assert "No more variables left in this MIB View" in result.stdout


def test_v1_no_such_name(simulator, net_snmp):
    result = net_snmp.run(
        "snmpget", "-v1", "-c", "public", address(simulator), SYS_DESCR, "1.3.6.1.2.1.33.1.2.99.0"
    )
    assert "noSuchName" in result.stdout + result.stderr
    assert "1.3.6.1.2.1.33.1.2.99.0" in result.stdout + result.stderr


def test_v1_walk_of_the_alarm_table(simulator, net_snmp):
    simulator.cut_mains()
    simulator.set_alarm("replace_battery", True)
    values = net_snmp.values(
        "snmpwalk", "-v1", "-c", "public", address(simulator), "1.3.6.1.2.1.33.1.6"
    )
    assert values["1.3.6.1.2.1.33.1.6.1.0"] == "Gauge32: 2"
    assert values["1.3.6.1.2.1.33.1.6.2.1.2.1"] == "OID: .1.3.6.1.2.1.33.1.6.3.2"
    assert values["1.3.6.1.2.1.33.1.6.2.1.2.2"] == "OID: .1.3.6.1.2.1.33.1.6.3.1"
    assert values["1.3.6.1.2.1.33.1.6.2.1.3.1"].startswith("Timeticks:")


def oid_key(dotted: str) -> tuple[int, ...]:
    return tuple(int(part) for part in dotted.split("."))


def test_walk_is_lexicographic_and_bulkwalk_agrees(simulator, net_snmp):
    walked = net_snmp.run("snmpwalk", "-v2c", "-c", "public", address(simulator), "1.3.6.1")
    assert walked.returncode == 0, walked.stderr
    oids = list(net_snmp.parse(walked.stdout))
    assert oids == sorted(oids, key=oid_key)
    served = build_view(simulator.model.reading()).values
    assert [oid_key(oid) for oid in oids] == sorted(served)  # everything, nothing else
    # GETBULK with several repetitions returns the same objects in the same order
    bulk = net_snmp.run(
        "snmpbulkwalk", "-v2c", "-c", "public", "-Cr7", address(simulator), "1.3.6.1"
    )
    assert bulk.returncode == 0, bulk.stderr
    assert list(net_snmp.parse(bulk.stdout)) == oids


def test_dell_subtree_walk(simulator, net_snmp):
    simulator.set_alarm("fan_failure", True)
    values = net_snmp.values(
        "snmpbulkwalk", "-v2c", "-c", "public", address(simulator), "1.3.6.1.4.1.674.10902.2"
    )
    assert values[DELL_ALARMS] == 'STRING: "65"'
    assert values["1.3.6.1.4.1.674.10902.2.110.1.0"] == "INTEGER: 4"


@pytest.mark.parametrize(
    ("user", "auth", "priv"),
    [
        ("sha-aes", "SHA", "AES"),
        ("md5-des", "MD5", "DES"),
        ("sha256-aes256", "SHA-256", "AES-256-C"),  # net-snmp's name for the Reeder variant
        ("sha512-aes192", "SHA-512", "AES-192-C"),
    ],
)
def test_v3_auth_priv(simulator, net_snmp, user, auth, priv):
    values = net_snmp.values(
        "snmpget",
        "-v3",
        "-l",
        "authPriv",
        "-u",
        user,
        "-a",
        auth,
        "-A",
        AUTH,
        "-x",
        priv,
        "-X",
        PRIV,
        address(simulator),
        SYS_DESCR,
        OUTPUT_SOURCE,
    )
    assert values[SYS_DESCR] == 'STRING: "Dell UPS Rack 1920W HV"'
    assert values[OUTPUT_SOURCE] == "INTEGER: 3"


def test_v3_auth_no_priv_and_no_auth(simulator, net_snmp):
    values = net_snmp.values(
        "snmpget", "-v3", "-l", "authNoPriv", "-u", "sha-only", "-a", "SHA", "-A", AUTH,
        address(simulator), SYS_DESCR,
    )  # fmt: skip
    assert SYS_DESCR in values
    values = net_snmp.values(
        "snmpget", "-v3", "-l", "noAuthNoPriv", "-u", "nobody", address(simulator), SYS_DESCR
    )
    assert SYS_DESCR in values


def test_v3_wrong_passphrase_is_refused(simulator, net_snmp):
    result = net_snmp.run(
        "snmpget", "-t", "1", "-r", "0", "-v3", "-l", "authPriv", "-u", "sha-aes", "-a", "SHA",
        "-A", "wrong-secret",
        "-x", "AES", "-X", PRIV, address(simulator), SYS_DESCR,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Dell UPS" not in result.stdout


def test_v3_unknown_user_is_refused(simulator, net_snmp):
    result = net_snmp.run(
        "snmpget", "-v3", "-l", "noAuthNoPriv", "-u", "mallory", address(simulator), SYS_DESCR
    )
    assert result.returncode != 0
    assert "Unknown user name" in result.stderr


def test_wrong_community_gets_no_answer(simulator, net_snmp):
    result = net_snmp.run(
        "snmpget", "-v2c", "-c", "private", "-t", "1", "-r", "0", address(simulator), SYS_DESCR
    )
    assert result.returncode != 0
    assert "Timeout" in result.stderr


def test_values_are_live_across_a_mains_cut(simulator, net_snmp):
    def read() -> dict[str, str]:
        return net_snmp.values(
            "snmpget", "-v2c", "-c", "public", address(simulator),
            OUTPUT_SOURCE, SECONDS_ON_BATTERY, "1.3.6.1.2.1.33.1.3.3.1.3.1", DELL_ALARMS,
        )  # fmt: skip

    before = read()
    assert before[OUTPUT_SOURCE] == "INTEGER: 3"
    assert before["1.3.6.1.2.1.33.1.3.3.1.3.1"] == "INTEGER: 230"
    simulator.cut_mains()
    time.sleep(1.2)
    during = read()
    assert during[OUTPUT_SOURCE] == "INTEGER: 5"
    assert int(during[SECONDS_ON_BATTERY].split()[-1]) >= 1
    assert during["1.3.6.1.2.1.33.1.3.3.1.3.1"] == "INTEGER: 0"
    assert during[DELL_ALARMS] == 'STRING: "57"'
    simulator.restore_mains()
    after = read()
    assert after[OUTPUT_SOURCE] == "INTEGER: 3"
    assert after[SECONDS_ON_BATTERY] == "INTEGER: 0"


def test_card_reboot_restarts_uptime_while_on_battery(clocked_simulator, net_snmp):
    sim, clock = clocked_simulator
    sim.cut_mains()
    clock.advance(500)
    sim.reboot_card()
    clock.advance(2)
    values = net_snmp.values(
        "snmpget", "-v2c", "-c", "public", address(sim),
        SYS_UPTIME, SECONDS_ON_BATTERY, OUTPUT_SOURCE,
    )  # fmt: skip
    assert values[SYS_UPTIME].startswith("Timeticks: (200)")
    assert values[SECONDS_ON_BATTERY] == "INTEGER: 2"
    assert values[OUTPUT_SOURCE] == "INTEGER: 5"


def test_request_count_counts_pdus(simulator, net_snmp):
    before = simulator.state()["request_count"]
    net_snmp.values("snmpget", "-v2c", "-c", "public", address(simulator), SYS_DESCR, SYS_UPTIME)
    assert simulator.state()["request_count"] == before + 1
    net_snmp.values("snmpgetnext", "-v1", "-c", "public", address(simulator), SYS_DESCR)
    assert simulator.state()["request_count"] == before + 2


def test_v3_discovery_is_not_a_request(simulator, net_snmp):
    net_snmp.values(
        "snmpget", "-v3", "-l", "authPriv", "-u", "sha-aes", "-a", "SHA", "-A", AUTH,
        "-x", "AES", "-X", PRIV, address(simulator), SYS_DESCR, SYS_UPTIME,
    )  # fmt: skip
    assert simulator.state()["request_count"] == 1


def test_set_is_refused(simulator, net_snmp):
    result = net_snmp.run(
        "snmpset", "-v2c", "-c", "public", address(simulator), "1.3.6.1.2.1.1.5.0", "s", "evil"
    )
    assert result.returncode != 0
    assert "notWritable" in result.stderr + result.stdout
    values = net_snmp.values(
        "snmpget", "-v2c", "-c", "public", address(simulator), "1.3.6.1.2.1.1.5.0"
    )
    assert values["1.3.6.1.2.1.1.5.0"] == 'STRING: "ups-rack1"'
