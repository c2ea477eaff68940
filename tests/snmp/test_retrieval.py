"""Which requests a fetch makes and how answers are assembled (against the fake agent)."""

from __future__ import annotations

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto.api import v2c

from check_dell_ups.snmp.client import fetch
from check_dell_ups.snmp.retrieval import BULK_REPETITIONS

TABLE = "1.3.6.1.2.1.33.1.6.2.1"
ID_COLUMN, DESCR_COLUMN = TABLE + ".1", TABLE + ".2"
ROWS = 20
MIB = {
    **{f"{ID_COLUMN}.{row}": row for row in range(1, ROWS + 1)},
    **{f"{DESCR_COLUMN}.{row}": f"alarm {row}" for row in range(1, ROWS + 1)},
    "1.3.6.1.2.1.1.1.0": "sysDescr",
    "1.3.6.1.2.1.1.5.0": "sysName",
    "1.3.6.1.2.1.1.6.0": "sysLocation",
    "1.3.6.1.2.1.1.4.0": "sysContact",
}
SCALARS = ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.6.0", "1.3.6.1.2.1.1.4.0"]


def whole_table(rows: int) -> dict[str, object]:
    return {f"{column}.{row}": MIB[f"{column}.{row}"]
            for column in (ID_COLUMN, DESCR_COLUMN) for row in range(1, rows + 1)}


def pdu_of(datagram: bytes):
    message, _ = decoder.decode(datagram, asn1Spec=v2c.Message())
    return v2c.apiMessage.get_pdu(message)


def keep_only(answer: bytes, count: int) -> bytes:
    message, _ = decoder.decode(answer, asn1Spec=v2c.Message())
    pdu = v2c.apiMessage.get_pdu(message)
    v2c.apiPDU.set_varbinds(pdu, v2c.apiPDU.get_varbinds(pdu)[:count])
    v2c.apiMessage.set_pdu(message, pdu)
    return encoder.encode(message)


@pytest.mark.parametrize("version", ["1", "2c"])
def test_long_tables_are_read_to_the_end(fake_agent, version):
    agent = fake_agent(MIB)
    assert fetch(agent.target(version), [], [ID_COLUMN, DESCR_COLUMN]) == whole_table(ROWS)


@pytest.mark.parametrize("version", ["1", "2c"])
def test_max_rows_holds_across_rounds(fake_agent, version):
    agent = fake_agent(MIB)
    values = fetch(agent.target(version), [], [ID_COLUMN, DESCR_COLUMN], max_rows=12)
    assert values == whole_table(12)


def test_getbulk_asks_a_few_rows_per_round(fake_agent):
    agent = fake_agent(MIB)
    fetch(agent.target(), [], [ID_COLUMN, DESCR_COLUMN])
    bulk = pdu_of(agent.requests[0])
    assert int(v2c.apiBulkPDU.get_max_repetitions(bulk)) == BULK_REPETITIONS
    # 20 rows + the step past the end, BULK_REPETITIONS rows a round
    assert len(agent.requests) == -(-(ROWS + 1) // BULK_REPETITIONS)


def test_a_truncated_getbulk_answer_is_continued(fake_agent):
    agent = fake_agent(MIB)
    agent.behaviour = lambda request, answer: [(keep_only(answer, 3), False)]
    assert fetch(agent.target(), [], [ID_COLUMN, DESCR_COLUMN], max_rows=5) == whole_table(5)


def test_too_big_splits_the_get(fake_agent):
    agent = fake_agent(MIB)

    def too_big_above_two(request, answer):
        if len(v2c.apiPDU.get_varbinds(pdu_of(request))) <= 2:
            return [(answer, False)]
        message, _ = decoder.decode(answer, asn1Spec=v2c.Message())
        pdu = v2c.apiMessage.get_pdu(message)
        v2c.apiPDU.set_error_status(pdu, 1)
        v2c.apiPDU.set_error_index(pdu, 0)
        v2c.apiMessage.set_pdu(message, pdu)
        return [(encoder.encode(message), False)]

    agent.behaviour = too_big_above_two
    values = fetch(agent.target(), SCALARS)
    assert values == {oid: MIB[oid] for oid in SCALARS}
    assert len(agent.requests) == 3  # one refused, two halves


def test_v1_drops_each_missing_oid_and_asks_again(fake_agent):
    agent = fake_agent(MIB)
    missing = ["1.3.6.1.2.1.1.9.0", "1.3.6.1.2.1.1.8.0"]
    values = fetch(agent.target("1"), [missing[0], *SCALARS, missing[1]])
    assert values == {oid: MIB[oid] for oid in SCALARS}
    assert len(agent.requests) == 3


def test_v1_walk_past_the_end_of_the_mib(fake_agent):
    agent = fake_agent({"1.3.6.1.2.1.1.1.0": "only"})
    assert fetch(agent.target("1"), [], ["1.3.6.1.2.1.1", "1.3.6.1.4.1"]) == {
        "1.3.6.1.2.1.1.1.0": "only"
    }


def test_duplicates_are_asked_once(fake_agent):
    agent = fake_agent(MIB)
    fetch(agent.target(), [SCALARS[0], SCALARS[0]], [ID_COLUMN, ID_COLUMN], max_rows=2)
    assert len(v2c.apiPDU.get_varbinds(pdu_of(agent.requests[0]))) == 1
    assert len(v2c.apiPDU.get_varbinds(pdu_of(agent.requests[1]))) == 1


def test_nothing_asked_sends_nothing(fake_agent):
    agent = fake_agent(MIB)
    assert fetch(agent.target(), [], [ID_COLUMN], max_rows=0) == {}
    assert agent.requests == []
