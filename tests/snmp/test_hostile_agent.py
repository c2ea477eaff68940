"""fetch() against a deliberately broken agent: never a traceback, never a hang.

Every failure is an SnmpError; waiting never outlasts the target's timeout.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import rfc1902
from pysnmp.proto.api import v2c

from check_dell_ups.snmp.client import fetch
from check_dell_ups.snmp.errors import SnmpAuthError, SnmpError, SnmpProtocolError, SnmpTimeout

NAME = "1.3.6.1.2.1.1.5.0"
MANUFACTURER = "1.3.6.1.2.1.33.1.1.1.0"
CHARGE = "1.3.6.1.2.1.33.1.2.4.0"
LOAD = "1.3.6.1.2.1.33.1.4.4.1.5"
MIB = {
    NAME: "ups-rack1",
    MANUFACTURER: "DELL",
    CHARGE: 97,
    LOAD + ".1": 35,
    LOAD + ".2": 12,
    "1.3.6.1.2.1.33.1.6.1.0": rfc1902.Gauge32(0),
}
GOOD = {NAME: "ups-rack1", MANUFACTURER: "DELL", CHARGE: 97, LOAD + ".1": 35, LOAD + ".2": 12}
# Upper bound on how long a fetch may run past its timeout on a loaded machine.
SLACK = 0.75


def rewrite(answer: bytes, change) -> bytes:
    """Decode a v2c answer, let change(message, pdu) edit it, encode it again."""
    message, _ = decoder.decode(answer, asn1Spec=v2c.Message())
    pdu = v2c.apiMessage.get_pdu(message)
    change(message, pdu)
    v2c.apiMessage.set_pdu(message, pdu)
    return encoder.encode(message)


def timed_fetch(target, *args, **kwargs):
    started = time.monotonic()
    try:
        return fetch(target, *args, **kwargs), time.monotonic() - started
    except SnmpError as error:
        error.elapsed = time.monotonic() - started
        raise


def test_a_good_fake_agent_is_read_with_two_datagrams(fake_agent):
    agent = fake_agent(MIB)
    assert fetch(agent.target(), [NAME, MANUFACTURER, CHARGE], [LOAD]) == GOOD
    assert len(agent.requests) == 2


def test_silence_ends_at_the_timeout_after_retransmitting(fake_agent):
    agent = fake_agent(MIB)
    agent.behaviour = lambda request, answer: []
    with pytest.raises(SnmpTimeout) as caught:
        timed_fetch(agent.target(timeout=1.5), [NAME], [LOAD])
    assert 1.5 <= caught.value.elapsed < 1.5 + SLACK
    assert len(agent.requests) >= 4  # both requests, sent again within the timeout


def test_a_lost_request_is_retransmitted(fake_agent):
    agent = fake_agent(MIB)
    agent.behaviour = lambda request, answer: [] if len(agent.requests) == 1 else [(answer, False)]
    values, elapsed = timed_fetch(agent.target(timeout=3.0), [NAME, CHARGE])
    assert values == {NAME: "ups-rack1", CHARGE: 97}
    assert elapsed < 3.0 + SLACK


def test_answers_from_another_port_are_ignored(fake_agent):
    agent = fake_agent(MIB)

    def spoof(request, answer):
        forged = rewrite(answer, lambda message, pdu: v2c.apiPDU.set_varbinds(
            pdu, [(v2c.ObjectIdentifier(NAME), v2c.OctetString("forged"))]))
        return [(forged, True)]

    agent.behaviour = spoof
    with pytest.raises(SnmpTimeout):
        fetch(agent.target(timeout=1.0), [NAME])
    agent.behaviour = lambda request, answer: [*spoof(request, answer), (answer, False)]
    assert fetch(agent.target(), [NAME]) == {NAME: "ups-rack1"}


def test_a_wrong_request_id_is_ignored(fake_agent):
    agent = fake_agent(MIB)

    def other_id(request, answer):
        return [(rewrite(answer, lambda m, pdu: v2c.apiPDU.set_request_id(pdu, 7)), False)]

    agent.behaviour = other_id
    with pytest.raises(SnmpProtocolError, match="unknown request-id") as caught:
        timed_fetch(agent.target(timeout=1.0), [NAME])
    assert caught.value.elapsed < 1.0 + SLACK
    agent.behaviour = lambda request, answer: [*other_id(request, answer), (answer, False)]
    assert fetch(agent.target(), [NAME]) == {NAME: "ups-rack1"}


@pytest.mark.parametrize("keep", [0, 1, 5, 20, -1])
def test_truncated_answers_are_ignored(fake_agent, keep):
    agent = fake_agent(MIB)
    agent.behaviour = lambda request, answer: [(answer[:keep], False)]
    with pytest.raises(SnmpError):
        fetch(agent.target(timeout=0.8), [NAME])
    agent.behaviour = lambda request, answer: [(answer[:keep], False), (answer, False)]
    assert fetch(agent.target(), [NAME]) == {NAME: "ups-rack1"}


def test_an_oversized_answer_is_read(fake_agent):
    agent = fake_agent({NAME: "x" * 60000})
    assert fetch(agent.target(), [NAME]) == {NAME: "x" * 60000}


def test_no_such_object_everywhere_gives_nothing(fake_agent):
    agent = fake_agent({})
    for version in ("1", "2c"):
        assert fetch(agent.target(version), [NAME, CHARGE], [LOAD]) == {}


def test_end_of_mib_view_ends_the_walk(fake_agent):
    agent = fake_agent({NAME: "ups"})
    assert fetch(agent.target(), [NAME], ["1.3.6.1.4.1.674"]) == {NAME: "ups"}


@pytest.mark.parametrize("status", [5, 1, 99])
def test_an_error_status_is_a_protocol_error(fake_agent, status):
    agent = fake_agent(MIB)

    def failing(request, answer):
        def change(message, pdu):
            v2c.apiPDU.set_error_status(pdu, status)
            v2c.apiPDU.set_error_index(pdu, 1)
        return [(rewrite(answer, change), False)]

    agent.behaviour = failing
    # tooBig on one varbind and noSuchName in v2c get one retry each, then fail.
    with pytest.raises(SnmpProtocolError, match="the agent answered"):
        fetch(agent.target(), [NAME])


def test_authorization_error_is_an_auth_error(fake_agent):
    agent = fake_agent(MIB)

    def denied(request, answer):
        def change(message, pdu):
            v2c.apiPDU.set_error_status(pdu, 16)
            v2c.apiPDU.set_error_index(pdu, 1)
        return [(rewrite(answer, change), False)]

    agent.behaviour = denied
    with pytest.raises(SnmpAuthError, match="denied read access"):
        fetch(agent.target(), [NAME])


def test_no_such_name_in_v2c_means_absent_like_in_v1(fake_agent):
    agent = fake_agent(MIB)

    def first_is_missing(request, answer):
        message, _ = decoder.decode(request, asn1Spec=v2c.Message())
        if len(v2c.apiPDU.get_varbinds(v2c.apiMessage.get_pdu(message))) == 1:
            return [(answer, False)]

        def change(message, pdu):
            v2c.apiPDU.set_error_status(pdu, 2)
            v2c.apiPDU.set_error_index(pdu, 1)
        return [(rewrite(answer, change), False)]

    agent.behaviour = first_is_missing
    assert fetch(agent.target(), [NAME, CHARGE]) == {CHARGE: 97}
    assert len(agent.requests) == 2


def test_other_varbinds_than_asked_are_a_protocol_error(fake_agent):
    agent = fake_agent(MIB)
    agent.behaviour = lambda request, answer: [(rewrite(answer, lambda m, pdu: (
        v2c.apiPDU.set_varbinds(pdu, [(v2c.ObjectIdentifier(CHARGE), v2c.Integer(1))]))), False)]
    with pytest.raises(SnmpProtocolError, match="other OIDs"):
        fetch(agent.target(), [NAME])


def test_a_request_echoed_back_is_a_protocol_error(fake_agent):
    agent = fake_agent(MIB)
    agent.behaviour = lambda request, answer: [(request, False)]
    with pytest.raises(SnmpProtocolError, match="not a response"):
        fetch(agent.target(), [NAME])


def test_values_of_unexpected_types_come_back_as_their_type(fake_agent):
    agent = fake_agent({
        CHARGE: "ninety",
        NAME: rfc1902.IpAddress("10.1.2.3"),
        MANUFACTURER: rfc1902.ObjectIdentifier("1.3.6.1"),
        "1.3.6.1.2.1.1.7.0": rfc1902.Opaque(b"\x9f\x78\x04"),
        "1.3.6.1.2.1.1.8.0": rfc1902.TimeTicks(42),
        "1.3.6.1.2.1.1.9.0": rfc1902.Unsigned32(4294967295),
    })
    assert fetch(agent.target(), [CHARGE, NAME, MANUFACTURER, "1.3.6.1.2.1.1.7.0",
                                  "1.3.6.1.2.1.1.8.0", "1.3.6.1.2.1.1.9.0"]) == {
        CHARGE: "ninety",
        NAME: "10.1.2.3",
        MANUFACTURER: "1.3.6.1",
        "1.3.6.1.2.1.1.8.0": 42,
        "1.3.6.1.2.1.1.9.0": 4294967295,
    }


def test_a_walk_that_does_not_advance_ends(fake_agent):
    agent = fake_agent(MIB)

    def stuck(request, answer):
        message, _ = decoder.decode(request, asn1Spec=v2c.Message())
        asked = v2c.apiMessage.get_pdu(message)
        if asked.tagSet != v2c.GetBulkRequestPDU.tagSet:
            return [(answer, False)]
        same = [(v2c.ObjectIdentifier(LOAD + ".1"), v2c.Integer(35))] * 8
        return [(rewrite(answer, lambda m, pdu: v2c.apiPDU.set_varbinds(pdu, same)), False)]

    agent.behaviour = stuck
    assert fetch(agent.target(), [], [LOAD]) == {LOAD + ".1": 35}


def test_v1_no_such_name_with_a_bad_index_is_a_protocol_error(fake_agent):
    agent = fake_agent(MIB)

    def bad_index(request, answer):
        def change(message, pdu):
            v2c.apiPDU.set_error_status(pdu, 2)
            v2c.apiPDU.set_error_index(pdu, 9)
        return [(rewrite(answer, change), False)]

    agent.behaviour = bad_index
    with pytest.raises(SnmpProtocolError, match="noSuchName"):
        fetch(agent.target(), [NAME, CHARGE])


# --- fuzzing -----------------------------------------------------------------------

mutation = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)),
                                        min_size=1, max_size=6)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("random"), st.binary(max_size=200)),
)


def mutate(answer: bytes, how) -> bytes:
    kind = how[0]
    if kind == "truncate":
        return answer[: int(len(answer) * how[1])]
    if kind == "flip":
        data = bytearray(answer)
        for where, value in how[1]:
            data[min(int(len(data) * where), len(data) - 1)] = value
        return bytes(data)
    if kind == "insert":
        at = int(len(answer) * how[1])
        return answer[:at] + how[2] + answer[at:]
    return how[1]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(how=mutation, version=st.sampled_from(["1", "2c"]))
def test_fuzzed_answers_then_the_good_one(fake_agent, how, version):
    agent = _shared_agent(fake_agent)
    agent.behaviour = lambda request, answer: [(mutate(answer or b"", how), False),
                                               (answer, False)]
    try:
        values = fetch(agent.target(version, timeout=2.0), [NAME, MANUFACTURER, CHARGE], [LOAD])
    except SnmpError:
        return
    assert isinstance(values, dict)
    assert all(isinstance(value, int | str) for value in values.values())


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(how=mutation)
def test_fuzzed_answers_alone_never_outlast_the_timeout(fake_agent, how):
    agent = _shared_agent(fake_agent)
    agent.behaviour = lambda request, answer: [(mutate(answer or b"", how), False)]
    started = time.monotonic()
    with contextlib.suppress(SnmpError):
        fetch(agent.target(timeout=0.4), [NAME, CHARGE], [LOAD])
    assert time.monotonic() - started < 0.4 + SLACK


_agents: dict[int, object] = {}


def _shared_agent(factory):
    """One agent per test function (hypothesis reuses the function's fixtures)."""
    key = id(factory)
    if key not in _agents:
        _agents.clear()
        _agents[key] = factory(MIB)
    return _agents[key]
