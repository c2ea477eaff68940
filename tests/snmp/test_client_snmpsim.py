"""fetch() against snmpsim, a real SNMP agent: every version, the v3 security
combinations, and the failures a user meets (wrong community, wrong passphrases)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from check_dell_ups.snmp.client import fetch
from check_dell_ups.snmp.errors import SnmpAuthError, SnmpError, SnmpTimeout

MANUFACTURER = "1.3.6.1.2.1.33.1.1.1.0"
UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SECONDS_ON_BATTERY = "1.3.6.1.2.1.33.1.2.2.0"
ALARMS_PRESENT = "1.3.6.1.2.1.33.1.6.1.0"  # Gauge32
OUTPUT_POWER_1H = "1.3.6.1.4.1.674.10902.2.120.2.6.0"  # Counter32
BIG_COUNTER = "1.3.6.1.4.1.674.10902.2.120.9.1.0"  # Counter64
BAD_UTF8 = "1.3.6.1.4.1.674.10902.2.120.9.2.0"
IP_ADDRESS = "1.3.6.1.2.1.4.20.1.1.127.0.0.1"
ABSENT = "1.3.6.1.2.1.33.1.2.6.0"  # upsBatteryCurrent: not in the fixture
ABSENT_TOO = "1.3.6.1.2.1.33.1.9.7.0"
SCALARS = [MANUFACTURER, UPTIME, SYS_OBJECT_ID, SECONDS_ON_BATTERY, ALARMS_PRESENT,
           OUTPUT_POWER_1H, ABSENT, IP_ADDRESS, ABSENT_TOO]
OUTPUT_LOAD = "1.3.6.1.2.1.33.1.4.4.1.5"
INPUT_VOLTAGE = "1.3.6.1.2.1.33.1.3.3.1.3"
ALARM_DESCR = "1.3.6.1.2.1.33.1.6.2.1.2"
NO_SUCH_COLUMN = "1.3.6.1.2.1.33.1.8.1"
COLUMNS = [OUTPUT_LOAD, INPUT_VOLTAGE, ALARM_DESCR, NO_SUCH_COLUMN]

EXPECTED = {
    MANUFACTURER: "DELL",
    UPTIME: 123456,
    SYS_OBJECT_ID: "1.3.6.1.4.1.674.10902.2",
    SECONDS_ON_BATTERY: 0,
    ALARMS_PRESENT: 2,
    OUTPUT_POWER_1H: 12345,
    IP_ADDRESS: "127.0.0.1",
    OUTPUT_LOAD + ".1": 35,
    OUTPUT_LOAD + ".2": 0,
    OUTPUT_LOAD + ".3": 0,
    INPUT_VOLTAGE + ".1": 230,
    ALARM_DESCR + ".1": "1.3.6.1.2.1.33.1.6.3.1",
    ALARM_DESCR + ".2": "1.3.6.1.2.1.33.1.6.3.16",
}


@pytest.mark.parametrize("version", ["1", "2c"])
def test_community_versions_read_scalars_and_tables(snmpsim, version):
    assert fetch(snmpsim.target(version), SCALARS, COLUMNS) == EXPECTED


def test_v2c_types_counter64_and_bad_utf8(snmpsim):
    values = fetch(snmpsim.target("2c"), [BIG_COUNTER, BAD_UTF8])
    assert values[BIG_COUNTER] == 2**64 - 1
    assert values[BAD_UTF8] == "\u00e9\u2013\ufffd"  # é, en dash, then the invalid byte replaced


def test_v1_leaves_out_counter64_which_v1_cannot_carry(snmpsim):
    values = fetch(snmpsim.target("1"), [MANUFACTURER, BIG_COUNTER])
    assert values == {MANUFACTURER: "DELL"}


def test_only_missing_oids_give_an_empty_result(snmpsim):
    for version in ("1", "2c"):
        assert fetch(snmpsim.target(version), [ABSENT, ABSENT_TOO], [NO_SUCH_COLUMN]) == {}


def test_oids_with_a_leading_dot_are_accepted(snmpsim):
    assert fetch(snmpsim.target(), ["." + MANUFACTURER]) == {MANUFACTURER: "DELL"}


def test_max_rows_limits_each_column(snmpsim):
    values = fetch(snmpsim.target(), [], [OUTPUT_LOAD, ALARM_DESCR], max_rows=2)
    assert sorted(values) == sorted(
        [OUTPUT_LOAD + ".1", OUTPUT_LOAD + ".2", ALARM_DESCR + ".1", ALARM_DESCR + ".2"]
    )


def test_wrong_community_times_out_within_the_timeout(snmpsim):
    target = dataclasses.replace(snmpsim.target(), community="not-the-community", timeout=1.0)
    with pytest.raises(SnmpTimeout, match=r"^no SNMP response from 127\.0\.0\.1:\d+ within 1 s$"):
        fetch(target, [MANUFACTURER])


def test_v3_every_security_combination(snmpsim, v3_user):
    assert fetch(snmpsim.v3_target(v3_user), SCALARS, COLUMNS) == EXPECTED


def _sha_aes_user(snmpsim):
    return next(user for user in snmpsim.users if user.name == "usr-sha-aes")


def test_v3_wrong_auth_passphrase_names_the_wrong_digest(snmpsim):
    target = dataclasses.replace(
        snmpsim.v3_target(_sha_aes_user(snmpsim)), auth_passphrase="not-the-auth-pass"
    )
    with pytest.raises(SnmpAuthError, match="wrong digest: the SNMPv3 auth passphrase"):
        fetch(target, [MANUFACTURER])


def test_v3_wrong_auth_protocol_is_a_wrong_digest_too(snmpsim):
    target = dataclasses.replace(snmpsim.v3_target(_sha_aes_user(snmpsim)), auth_protocol="MD5")
    with pytest.raises(SnmpAuthError, match="wrong digest"):
        fetch(target, [MANUFACTURER])


def test_v3_wrong_priv_passphrase_names_the_decryption_error(snmpsim):
    target = dataclasses.replace(
        snmpsim.v3_target(_sha_aes_user(snmpsim)), priv_passphrase="not-the-priv-pass"
    )
    with pytest.raises(SnmpAuthError, match="decryption error: the SNMPv3 privacy passphrase"):
        fetch(target, [MANUFACTURER])


def test_v3_unknown_user_is_named(snmpsim):
    target = dataclasses.replace(snmpsim.v3_target(_sha_aes_user(snmpsim)), user="intruder")
    with pytest.raises(SnmpAuthError, match="unknown SNMPv3 user name 'intruder'"):
        fetch(target, [MANUFACTURER])


def test_v3_errors_and_logs_never_show_the_passphrases(snmpsim, caplog, capsys):
    caplog.set_level("DEBUG")
    user = _sha_aes_user(snmpsim)
    good = snmpsim.v3_target(user)
    assert fetch(good, [MANUFACTURER]) == {MANUFACTURER: "DELL"}
    messages = []
    for wrong in (
        dataclasses.replace(good, auth_passphrase="wrong-auth-secret"),
        dataclasses.replace(good, priv_passphrase="wrong-priv-secret"),
    ):
        with pytest.raises(SnmpError) as caught:
            fetch(wrong, [MANUFACTURER])
        messages.append(str(caught.value))
    printed = capsys.readouterr()
    everything = " ".join([*messages, caplog.text, printed.out, printed.err, repr(good)])
    for secret in ("wrong-auth-secret", "wrong-priv-secret", good.auth_passphrase,
                   good.priv_passphrase):
        assert secret not in everything


def test_v3_uses_discovery_plus_one_request_per_kind(snmpsim, udp_proxy):
    proxy = udp_proxy(snmpsim.port)
    target = dataclasses.replace(snmpsim.v3_target(_sha_aes_user(snmpsim)), port=proxy.port)
    assert fetch(target, SCALARS, COLUMNS) == EXPECTED
    assert proxy.requests == 3  # engine discovery, GET, GETBULK


def test_v2c_fetch_sends_two_requests_sent_together(snmpsim, udp_proxy):
    proxy = udp_proxy(snmpsim.port)
    target = dataclasses.replace(snmpsim.target("2c"), port=proxy.port)
    assert fetch(target, SCALARS, COLUMNS) == EXPECTED
    assert proxy.requests == 2  # GET of the scalars, GETBULK of the columns


def test_v1_scalars_take_one_request_and_each_table_row_one_more(snmpsim, udp_proxy):
    proxy = udp_proxy(snmpsim.port)
    target = dataclasses.replace(snmpsim.target("1"), port=proxy.port)
    assert fetch(target, [MANUFACTURER, UPTIME]) == {MANUFACTURER: "DELL", UPTIME: 123456}
    assert proxy.requests == 1
    values = fetch(target, [MANUFACTURER], [INPUT_VOLTAGE, OUTPUT_LOAD])
    assert values[OUTPUT_LOAD + ".3"] == 0
    # GET + GETNEXT for rows 1, 2, 3 and the step past the end (no GETBULK in v1)
    assert proxy.requests == 1 + 5


def test_v1_partial_mib_costs_one_more_request_per_missing_oid(snmpsim, udp_proxy):
    proxy = udp_proxy(snmpsim.port)
    target = dataclasses.replace(snmpsim.target("1"), port=proxy.port)
    assert fetch(target, [MANUFACTURER, ABSENT, UPTIME, ABSENT_TOO]) == {
        MANUFACTURER: "DELL",
        UPTIME: 123456,
    }
    assert proxy.requests == 3


_proxies: dict[int, object] = {}


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4),
    junk=st.binary(max_size=64),
)
def test_v3_fuzzed_answers_before_the_real_ones(snmpsim, udp_proxy, cut, flips, junk):
    """A forged or damaged datagram ahead of each real v3 answer (discovery report
    included) is either ignored or an SnmpError, never anything else."""
    key = id(udp_proxy)
    if key not in _proxies:
        _proxies.clear()
        _proxies[key] = udp_proxy(snmpsim.port)
    proxy = _proxies[key]

    def damage(answer: bytes) -> bytes:
        data = bytearray(answer[: max(1, int(len(answer) * cut))] + junk)
        for where, value in flips:
            data[min(int(len(data) * where), len(data) - 1)] = value
        return bytes(data)

    proxy.mutate = damage
    target = dataclasses.replace(
        snmpsim.v3_target(_sha_aes_user(snmpsim)), port=proxy.port, timeout=2.0
    )
    try:
        values = fetch(target, [MANUFACTURER, UPTIME], [OUTPUT_LOAD])
    except SnmpError:
        return
    # Authentication makes a damaged answer unusable: accepted ones are the real ones.
    assert values == {key: EXPECTED[key] for key in values}


def test_v3_authpriv_for_a_user_without_privacy_is_named(snmpsim):
    """snmpsim drops such requests silently (net-snmp does the same with a wrong
    privacy passphrase): after a good discovery, the silence is explained."""
    no_privacy = next(user for user in snmpsim.users if user.name == "usr-sha")
    target = dataclasses.replace(
        snmpsim.v3_target(no_privacy), security_level="authPriv", priv_protocol="AES",
        priv_passphrase="priv-secret-2", timeout=1.0,
    )
    with pytest.raises(SnmpAuthError, match="wrong privacy passphrase or privacy protocol"):
        fetch(target, [MANUFACTURER])
