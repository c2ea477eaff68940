"""The alarm -> state tables."""

from __future__ import annotations

import pytest
from nagiosplugin.state import Critical, Ok, Warn

from check_dell_ups.alarms import (
    BATTERY_STATUS_STATES,
    DELL_ALARMS,
    GLOBAL_STATUS_STATES,
    SELF_TEST_STATES,
    UPS_MIB_ALARMS,
    classify_dell_alarm,
    classify_ups_mib_alarm,
    is_empty_alarm_row,
    parse_dell_alarm_string,
    well_known_number,
)
from check_dell_ups.mibs import dell_mib, ups_mib

WELL_KNOWN = "1.3.6.1.2.1.33.1.6.3"
FACTS_DELL_NUMBERS = (7, 9, 11, 13, 15, 19, 21, 23, 33, 35, 37, 41, 43, 45, 47, 51, 53, 55,
                      57, 59, 61, 63, 65, 67, 69, 71, 85, 93, 96, 100, 102)


def test_every_well_known_alarm_has_a_state() -> None:
    assert sorted(UPS_MIB_ALARMS) == list(range(1, 25))


def test_every_dell_alarm_number_of_the_facts_has_a_state() -> None:
    assert set(FACTS_DELL_NUMBERS) <= set(DELL_ALARMS)


@pytest.mark.parametrize(("number", "state"), [
    (1, Warn), (2, Ok), (3, Critical), (4, Critical), (8, Critical), (9, Warn),
    (14, Critical), (16, Warn), (19, Warn), (23, Critical), (24, Ok),
])
def test_design_states_of_well_known_alarms(number: int, state: object) -> None:
    assert UPS_MIB_ALARMS[number].state == state


@pytest.mark.parametrize(("number", "state"), [
    (57, Ok), (63, Warn), (65, Warn), (59, Warn), (43, Critical), (41, Critical),
    (19, Critical), (23, Critical), (71, Critical), (85, Ok), (61, Ok),
])
def test_design_states_of_dell_alarms(number: int, state: object) -> None:
    assert DELL_ALARMS[number].state == state


def test_equivalent_alarms_share_their_wording() -> None:
    assert UPS_MIB_ALARMS[1].problem == DELL_ALARMS[63].problem == "replace battery"
    assert UPS_MIB_ALARMS[3].problem == DELL_ALARMS[43].problem == "battery low"
    assert UPS_MIB_ALARMS[16].problem == DELL_ALARMS[65].problem == "fan failure"
    assert UPS_MIB_ALARMS[9].problem == DELL_ALARMS[59].problem == "on bypass"
    assert UPS_MIB_ALARMS[8].problem == DELL_ALARMS[21].problem == "overload"


def test_every_enum_value_has_a_state() -> None:
    assert set(dell_mib.GLOBAL_STATUS.values()) == set(GLOBAL_STATUS_STATES)
    assert set(ups_mib.BATTERY_STATUS.values()) == set(BATTERY_STATUS_STATES)
    tests = set(ups_mib.TEST_RESULTS.values()) | set(dell_mib.BATTERY_TEST_STATUS.values())
    assert tests == set(SELF_TEST_STATES)


@pytest.mark.parametrize(("oid", "number"), [
    (f"{WELL_KNOWN}.3", 3), (f"{WELL_KNOWN}.3.0", 3), (f"{WELL_KNOWN}.24", 24),
    ("1.3.6.1.4.1.99.1", None), (f"{WELL_KNOWN}", None), (f"{WELL_KNOWN}.x", None),
])
def test_well_known_number(oid: str, number: int | None) -> None:
    assert well_known_number(oid) == number


@pytest.mark.parametrize(("oid", "empty"), [
    ("0.0", True), ("0.0.0.0.0.0.0.0.0.0.0", True), ("", True), (".", True),
    (f"{WELL_KNOWN}.2", False), ("1.0", False),
])
def test_empty_alarm_rows(oid: str, empty: bool) -> None:
    assert is_empty_alarm_row(oid) is empty


def test_classify_known_and_unknown_alarms() -> None:
    low = classify_ups_mib_alarm(f"{WELL_KNOWN}.3")
    assert (low.source, low.code, low.kind.state) == ("UPS-MIB", "3", Critical)
    assert low.label == "upsAlarmLowBattery (UPS-MIB 3): battery low"
    vendor = classify_ups_mib_alarm("1.3.6.1.4.1.534.1.7.4")
    assert vendor.kind.state == Warn
    assert vendor.kind.problem == "alarm 1.3.6.1.4.1.534.1.7.4"
    assert classify_dell_alarm(63).kind.name == "trapBatteryNeedReplacement"
    unknown = classify_dell_alarm(201)
    assert (unknown.kind.state, unknown.kind.problem) == (Warn, "Dell alarm 201")


@pytest.mark.parametrize(("text", "numbers"), [
    ("1,5,23,57", (1, 5, 23, 57)), ("", ()), (" 57 , 63 ", (57, 63)), ("57;63", (57, 63)),
    ("57,57", (57,)), ("x,57,,", (57,)), ("none", ()),
])
def test_parse_dell_alarm_string(text: str, numbers: tuple[int, ...]) -> None:
    assert parse_dell_alarm_string(text) == numbers
