"""The live MIB controller behind the pysnmp responders, without a network."""

from __future__ import annotations

import pytest
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.smi import error as smi_error

from check_dell_ups.simulator.mib import Kind, MibView
from check_dell_ups.simulator.snmp_agent import LiveMibController

SCALAR = (1, 3, 6, 1, 2, 1, 1, 3)
COLUMN = (1, 3, 6, 1, 2, 1, 33, 1, 6, 2, 1, 2)


class CountingViews:
    """A view source whose sysUpTime-like value grows on every build."""

    def __init__(self) -> None:
        self.builds = 0

    def __call__(self) -> MibView:
        self.builds += 1
        return MibView(
            values={
                (*SCALAR, 0): (Kind.TIMETICKS, self.builds),
                (*COLUMN, 1): (Kind.OID, (1, 3, 6, 1, 2, 1, 33, 1, 6, 3, 2)),
                (*COLUMN, 10): (Kind.OID, (1, 3, 6, 1, 2, 1, 33, 1, 6, 3, 1)),
            },
            objects=frozenset({SCALAR, COLUMN}),
        )


def name(oid: tuple[int, ...]) -> rfc1902.ObjectName:
    return rfc1902.ObjectName(oid)


@pytest.fixture
def views() -> CountingViews:
    return CountingViews()


@pytest.fixture
def controller(views) -> LiveMibController:
    controller = LiveMibController(views)
    controller.new_request()
    return controller


def test_get_answers_values_and_the_right_exceptions(controller):
    answers = controller.read_variables(
        (name((*SCALAR, 0)), None),
        (name((*SCALAR, 1)), None),  # object exists, instance does not
        (name((*COLUMN, 5)), None),  # column exists, row does not
        (name((1, 3, 6, 1, 9)), None),  # nothing there
    )
    assert answers[0][1] == rfc1902.TimeTicks(1)
    assert answers[1][1].tagSet == rfc1905.noSuchInstance.tagSet
    assert answers[2][1].tagSet == rfc1905.noSuchInstance.tagSet
    assert answers[3][1].tagSet == rfc1905.noSuchObject.tagSet


def test_getnext_uses_numeric_not_string_order(controller):
    # row 10 comes after row 1 and before nothing else; "10" < "2" as text would be wrong
    answers = controller.read_next_variables((name((*COLUMN, 1)), None))
    assert tuple(answers[0][0]) == (*COLUMN, 10)
    answers = controller.read_next_variables((name((1, 3, 6, 1, 2, 1, 1)), None))
    assert tuple(answers[0][0]) == (*SCALAR, 0)


def test_getnext_past_the_end_is_end_of_mib_view(controller):
    answers = controller.read_next_variables((name((*COLUMN, 10)), None))
    assert answers[0][1].tagSet == rfc1905.endOfMibView.tagSet


def test_one_view_per_request_pdu(controller, views):
    first = controller.read_variables((name((*SCALAR, 0)), None))
    again = controller.read_next_variables((name(SCALAR), None))
    assert first[0][1] == again[0][1]  # the repetitions of one GETBULK agree
    controller.new_request()
    fresh = controller.read_variables((name((*SCALAR, 0)), None))
    assert fresh[0][1] == rfc1902.TimeTicks(2)  # the next request sees live values
    assert views.builds == 2


def test_set_is_refused_as_not_writable(controller):
    with pytest.raises(smi_error.NotWritableError):
        controller.write_variables((name((*SCALAR, 0)), rfc1902.TimeTicks(5)))
