"""What the card serves for a given model state: OIDs, units, scaling and quirks."""

from __future__ import annotations

import pytest

from check_dell_ups.simulator.mib import Kind, build_view
from check_dell_ups.simulator.model import UpsModel

UPS = "1.3.6.1.2.1.33.1."
DELL = "1.3.6.1.4.1.674.10902.2."


def oid(dotted: str) -> tuple[int, ...]:
    return tuple(int(part) for part in dotted.split("."))


class Card:
    """Reads values out of the view of a model, by dotted OID."""

    def __init__(self, model: UpsModel) -> None:
        self.model = model

    def __getitem__(self, dotted: str):
        return build_view(self.model.reading()).values[oid(dotted)][1]

    def kind(self, dotted: str) -> Kind:
        return build_view(self.model.reading()).values[oid(dotted)][0]

    def has(self, dotted: str) -> bool:
        return oid(dotted) in build_view(self.model.reading()).values


@pytest.fixture
def model(clock) -> UpsModel:
    return UpsModel(full_runtime=1800, load=35.0, clock=clock, low_battery_minutes=3)


@pytest.fixture
def card(model) -> Card:
    return Card(model)


def test_identifies_as_a_dell_ups(card):
    assert card["1.3.6.1.2.1.1.1.0"] == "Dell UPS Rack 1920W HV"
    assert card["1.3.6.1.2.1.1.2.0"] == oid("1.3.6.1.4.1.674.10902.2")
    assert card.kind("1.3.6.1.2.1.1.2.0") is Kind.OID
    assert card[UPS + "1.1.0"] == "DELL"
    assert card[DELL + "100.1.0"] == "Dell UPS Rack 1920W HV"


def test_sys_uptime_is_card_uptime_in_hundredths(card, model, clock):
    clock.advance(12.34)
    assert card["1.3.6.1.2.1.1.3.0"] == 1234
    assert card.kind("1.3.6.1.2.1.1.3.0") is Kind.TIMETICKS
    model.reboot_card()
    clock.advance(1)
    assert card["1.3.6.1.2.1.1.3.0"] == 100


def test_on_mains(card):
    assert card[UPS + "4.1.0"] == 3  # upsOutputSource normal
    assert card[UPS + "2.1.0"] == 2  # batteryNormal
    assert card[UPS + "2.2.0"] == 0  # upsSecondsOnBattery
    assert card[UPS + "3.3.1.3.1"] == 230  # input voltage line 1
    assert card[DELL + "110.1.0"] == 3  # global status ok
    assert card[DELL + "120.4.2.0"] == ""  # no alarms
    assert card[UPS + "6.1.0"] == 0
    assert not card.has(UPS + "6.2.1.2.1")


def test_on_battery(card, model, clock):
    model.cut_mains()
    clock.advance(90)
    assert card[UPS + "4.1.0"] == 5  # battery
    assert card[UPS + "2.2.0"] == 90
    assert card[UPS + "3.3.1.3.1"] == 0  # input voltage dropped
    assert card[UPS + "3.3.1.2.1"] == 0  # and its frequency
    assert card[UPS + "3.1.0"] == 1  # upsInputLineBads
    assert card[DELL + "120.4.2.0"] == "57"
    assert card[DELL + "110.1.0"] == 4  # non-critical
    assert card[DELL + "120.5.1.0"] == 2  # ABM discharging


def test_lines_two_and_three_are_listed_with_zeros(card):
    assert card[UPS + "3.2.0"] == 3
    assert card[UPS + "4.3.0"] == 3
    for line in (2, 3):
        assert card[UPS + f"3.3.1.3.{line}"] == 0
        assert card[UPS + f"4.4.1.2.{line}"] == 0
        assert card[UPS + f"4.4.1.5.{line}"] == 0
    assert card[UPS + "4.4.1.5.1"] == 35  # percent load, line 1


def test_runtime_minutes_in_ups_mib_and_seconds_in_dell_mib(card, model, clock):
    model.cut_mains()
    clock.advance(61)
    assert card[DELL + "120.5.3.0"] == 1739  # physicalBatterySecondsRemaining, s
    assert card[UPS + "2.3.0"] == 28  # upsEstimatedMinutesRemaining, min
    assert card[UPS + "2.4.0"] == 96  # charge, %
    assert card[UPS + "9.7.0"] == 3  # upsConfigLowBattTime, min


def test_battery_voltage_in_tenths(card):
    assert card[UPS + "2.5.0"] == 540  # 54.0 V floating on mains


def test_temperature_quirks(card, model):
    assert card[UPS + "2.7.0"] == 0  # no battery sensor: reads 0
    model.set_temperature(31.5)
    assert card[DELL + "120.7.3.2.0"] == 315  # probe in 0.1 degrees
    assert card[DELL + "120.7.3.1.0"] == 1  # celsius


def test_output_power_and_the_one_hour_average(card, clock):
    assert card[UPS + "4.4.1.4.1"] == 672  # 35 % of 1920 W
    assert card[DELL + "120.2.6.0"] == 0  # rolling average: 0 in the first hour
    clock.advance(3600)
    assert card[DELL + "120.2.6.0"] == 672


def test_alarm_table_rows(card, model, clock):
    clock.advance(10)
    model.cut_mains()
    clock.advance(5)
    model.set_alarm("replace_battery", True)
    clock.advance(5)
    assert card[UPS + "6.1.0"] == 2
    assert card.kind(UPS + "6.1.0") is Kind.GAUGE
    assert card[UPS + "6.2.1.1.1"] == 1
    assert card[UPS + "6.2.1.2.1"] == oid(UPS + "6.3.2")  # upsAlarmOnBattery
    assert card[UPS + "6.2.1.3.1"] == 1000  # sysUpTime when it appeared
    assert card[UPS + "6.2.1.2.2"] == oid(UPS + "6.3.1")  # upsAlarmBatteryBad
    assert card[UPS + "6.2.1.3.2"] == 1500
    assert card[DELL + "120.4.2.0"] == "57,63"


def test_alarm_times_restart_with_the_card(card, model, clock):
    model.cut_mains()
    clock.advance(100)
    model.reboot_card()
    clock.advance(2)
    assert card[UPS + "6.2.1.3.1"] == 0
    assert card["1.3.6.1.2.1.1.3.0"] == 200
    assert card[UPS + "2.2.0"] == 2  # the card's counter restarted...
    assert card[UPS + "4.1.0"] == 5  # ...while the UPS is still on battery


def test_low_battery_is_critical_everywhere(card, model):
    model.cut_mains()
    model.set_charge(5)
    assert card[UPS + "2.1.0"] == 3  # batteryLow
    assert card[DELL + "120.4.2.0"] == "43,57"
    assert card[DELL + "110.1.0"] == 5  # critical
    descriptions = {card[UPS + f"6.2.1.2.{row}"] for row in (1, 2)}
    assert descriptions == {oid(UPS + "6.3.2"), oid(UPS + "6.3.3")}


def test_depleted_battery(card, model, clock):
    model.cut_mains()
    clock.advance(2000)
    assert card[UPS + "2.1.0"] == 4


@pytest.mark.parametrize(
    ("alarm", "trap", "well_known", "global_status"),
    [
        ("replace_battery", "63", 1, 4),
        ("fan_failure", "65", 16, 4),
        ("overload", "19", 8, 5),
        ("bypass", "59", 9, 4),
    ],
)
def test_named_alarms_in_both_mibs(card, model, alarm, trap, well_known, global_status):
    model.set_alarm(alarm, True)
    assert card[DELL + "120.4.2.0"] == trap
    assert card[UPS + "6.2.1.2.1"] == oid(UPS + f"6.3.{well_known}")
    assert card[DELL + "110.1.0"] == global_status
    model.set_alarm(alarm, False)
    assert card[DELL + "120.4.2.0"] == ""
    assert card[DELL + "110.1.0"] == 3


def test_bypass_shows_as_output_source(card, model):
    model.set_alarm("bypass", True)
    assert card[UPS + "4.1.0"] == 4


def test_self_test_failure(card, model):
    assert card[UPS + "7.3.0"] == 1
    model.set_alarm("self_test_failed", True)
    assert card[UPS + "7.3.0"] == 3  # doneError
    assert card[DELL + "120.5.2.0"] == 3
    assert card[UPS + "6.2.1.2.1"] == oid(UPS + "6.3.19")


def test_generic_rfc1628_ups_has_no_dell_subtree(model):
    view = build_view(model.reading(), dell_mib=False)
    assert not any(key[: len(oid(DELL[:-1]))] == oid(DELL[:-1]) for key in view.values)
    assert view.values[oid("1.3.6.1.2.1.1.2.0")][1] == oid("1.3.6.1.2.1.33.1")
    assert view.values[oid(UPS + "4.1.0")][1] == 3  # the UPS-MIB is all there


# --- a test, as the MIB texts say (FACTS.md section 1) ----------------------------------

def test_a_running_calibration_as_both_mibs_serve_it(model, card, clock):
    clock.advance(100)
    model.start_test("calibration", 600)
    clock.advance(30)
    assert card[UPS + "4.1.0"] == 5  # upsOutputSource battery(5)
    assert card[UPS + "2.2.0"] == 30  # upsSecondsOnBattery
    assert card[UPS + "3.3.1.3.1"] == 230 and card[UPS + "3.3.1.2.1"] == 500  # mains there
    assert card[UPS + "7.1.0"] == oid(UPS + "7.7.5")  # upsTestDeepBatteryCalibration
    assert card[UPS + "7.3.0"] == 5  # upsTestResultsSummary inProgress(5)
    assert card[UPS + "7.4.0"] == "Battery test in progress"
    assert card[UPS + "7.5.0"] == 10000  # upsTestStartTime: sysUpTime 100 s
    assert card[UPS + "7.6.0"] == 3000  # upsTestElapsedTime, centiseconds
    assert card[DELL + "120.5.2.0"] == 5  # physicalBatteryTestStatus inProgress(5)
    assert card[DELL + "120.5.1.0"] == 2  # ABM discharging(2)
    assert card[DELL + "120.4.2.0"] == "57,61"
    descrs = {value[1] for key, value in build_view(model.reading()).values.items()
              if key[:-1] == oid(UPS + "6.2.1.2")}
    assert descrs == {oid(UPS + "6.3.2"), oid(UPS + "6.3.24")}  # OnBattery, TestInProgress


@pytest.mark.parametrize(("fails", "cut", "result"), [(False, False, 1), (True, False, 3),
                                                      (False, True, 4)])
def test_how_a_test_ended(model, card, clock, fails, cut, result):
    model.start_test("self-test", 10, fails=fails)
    if cut:
        clock.advance(3)
        model.cut_mains()
    clock.advance(11)
    assert card[UPS + "7.1.0"] == oid(UPS + "7.7.4")  # upsTestQuickBatteryTest
    assert card[UPS + "7.3.0"] == result and card[DELL + "120.5.2.0"] == result
    assert card[UPS + "7.6.0"] == (300 if cut else 1000)
    assert card[UPS + "4.1.0"] == (5 if cut else 3)
    assert card[UPS + "3.3.1.3.1"] == (0 if cut else 230)


def test_no_test_yet(card):
    assert card[UPS + "7.1.0"] == oid(UPS + "7.7.1")  # upsTestNoTestsInitiated
    assert card[UPS + "7.5.0"] == 0 and card[UPS + "7.6.0"] == 0
