"""The UPS model as pure code, driven by a fake clock."""

from __future__ import annotations

import pytest

from check_dell_ups.simulator.model import SETTABLE_ALARMS, UpsModel


@pytest.fixture
def model(clock) -> UpsModel:
    return UpsModel(full_runtime=1800, load=35.0, clock=clock, low_battery_minutes=3)


def alarm_names(model: UpsModel) -> set[str]:
    return set(model.reading().alarm_names)


def test_starts_on_mains_full_and_quiet(model):
    reading = model.reading()
    assert reading.mains is True
    assert reading.charge == 100.0
    assert reading.runtime_seconds == 1800
    assert reading.seconds_on_battery == 0
    assert reading.alarms == ()
    assert reading.input_line_bads == 0


def test_mains_cut_counts_seconds_on_battery_in_real_time(model, clock):
    model.cut_mains()
    assert model.reading().seconds_on_battery == 0
    clock.advance(42.7)
    reading = model.reading()
    assert reading.mains is False
    assert reading.seconds_on_battery == 42
    assert alarm_names(model) == {"on_battery"}
    assert reading.input_line_bads == 1


def test_cutting_twice_is_one_outage(model, clock):
    model.cut_mains()
    clock.advance(10)
    model.cut_mains()
    assert model.reading().seconds_on_battery == 10
    assert model.reading().input_line_bads == 1


def test_runtime_and_charge_drain_with_time(model, clock):
    model.cut_mains()
    clock.advance(600)
    reading = model.reading()
    assert reading.runtime_seconds == 1200
    assert reading.charge == pytest.approx(100 * 1200 / 1800)


def test_drain_speed_multiplies_the_drain(clock):
    model = UpsModel(full_runtime=1800, load=35.0, drain_speed=10.0, clock=clock)
    model.cut_mains()
    clock.advance(60)
    assert model.reading().runtime_seconds == 1200
    assert model.reading().seconds_on_battery == 60  # the outage clock stays real


def test_doubling_the_load_halves_the_runtime(model, clock):
    model.set_load(70.0)
    assert model.reading().runtime_seconds == 900
    model.cut_mains()
    clock.advance(300)
    # runtime falls one second per second whatever the load
    assert model.reading().runtime_seconds == 600
    assert model.reading().charge == pytest.approx(100 * 600 / 900)


def test_low_battery_appears_at_the_moment_runtime_crosses_the_threshold(model, clock):
    start = clock.now
    model.cut_mains()
    clock.advance(1600)  # runtime 200 s > 180 s
    assert "low_battery" not in alarm_names(model)
    clock.advance(100)  # runtime 100 s < 180 s; crossed at 1620 s
    reading = model.reading()
    low = next(alarm for alarm in reading.alarms if alarm.kind.name == "low_battery")
    assert low.since == pytest.approx(start + 1620)
    assert low.kind.well_known == 3
    assert low.kind.dell_trap == 43


def test_battery_depletes_at_the_end_of_the_runtime(model, clock):
    model.cut_mains()
    clock.advance(5000)
    reading = model.reading()
    assert reading.charge == 0.0
    assert reading.runtime_seconds == 0
    assert {"on_battery", "low_battery", "depleted_battery"} <= set(reading.alarm_names)


def test_low_charge_set_by_hand_on_battery_raises_low_battery_at_once(model):
    model.cut_mains()
    model.set_charge(5)
    assert "low_battery" in alarm_names(model)
    model.set_charge(50)
    assert "low_battery" not in alarm_names(model)


def test_low_charge_on_mains_is_no_low_battery_alarm(model):
    model.set_charge(5)
    assert alarm_names(model) == set()


def test_restore_clears_the_power_alarms_and_recharges(model, clock):
    model.cut_mains()
    clock.advance(1700)
    model.restore_mains()
    reading = model.reading()
    assert reading.mains is True
    assert reading.seconds_on_battery == 0
    assert reading.alarms == ()
    charge_at_restore = reading.charge
    clock.advance(600)
    assert model.reading().charge > charge_at_restore
    clock.advance(100_000)
    assert model.reading().charge == 100.0


def test_card_reboot_restarts_counters_but_not_the_outage(model, clock):
    model.set_alarm("replace_battery", True)
    model.cut_mains()
    clock.advance(500)
    model.reboot_card()
    reading = model.reading()
    assert reading.mains is False
    assert reading.seconds_on_battery == 0
    assert reading.card_uptime_seconds == 0
    # the card rebuilt its alarm table: ids from 1, all noticed at the reboot
    assert [alarm.alarm_id for alarm in reading.alarms] == [1, 2]
    assert all(alarm.since == clock.now for alarm in reading.alarms)
    clock.advance(30)
    reading = model.reading()
    assert reading.seconds_on_battery == 30
    assert reading.outage_seconds == 530  # the true outage goes on
    assert reading.card_uptime_seconds == 30
    assert reading.runtime_seconds == 1800 - 530  # the battery did not notice


def test_settable_alarms_appear_and_clear_with_increasing_ids(model, clock):
    model.set_alarm("fan_failure", True)
    clock.advance(5)
    model.set_alarm("overload", True)
    model.set_alarm("overload", True)  # already active: no second row
    reading = model.reading()
    assert [(alarm.alarm_id, alarm.kind.name) for alarm in reading.alarms] == [
        (1, "fan_failure"),
        (2, "overload"),
    ]
    model.set_alarm("fan_failure", False)
    assert alarm_names(model) == {"overload"}
    model.set_alarm("fan_failure", True)
    assert model.reading().alarms[-1].alarm_id == 3


@pytest.mark.parametrize("name", ["on_battery", "low_battery", "no_such_alarm"])
def test_derived_or_unknown_alarms_cannot_be_set(model, name):
    with pytest.raises(ValueError, match="unknown alarm"):
        model.set_alarm(name, True)


def test_the_documented_alarm_names_are_settable():
    assert {"replace_battery", "fan_failure", "overload", "bypass", "self_test_failed"} <= set(
        SETTABLE_ALARMS
    )


@pytest.mark.parametrize(("setter", "value"), [("set_load", -1), ("set_charge", 101)])
def test_out_of_range_values_are_refused(model, setter, value):
    with pytest.raises(ValueError, match="must be between"):
        getattr(model, setter)(value)


def test_tiny_load_saturates_runtime(clock):
    model = UpsModel(full_runtime=3600, load=35.0, clock=clock)
    model.set_load(0)
    assert model.reading().runtime_seconds == 65535


# --- battery tests and runtime calibrations -------------------------------------------

@pytest.mark.parametrize("kind", ["self-test", "calibration"])
def test_a_test_runs_the_load_from_the_battery_with_mains_present(model, clock, kind):
    model.start_test(kind, 20)
    clock.advance(12)
    reading = model.reading()
    assert (reading.mains, reading.load_on_battery, reading.test_running) == (True, True, True)
    assert reading.seconds_on_battery == 12  # "since the UPS last switched to battery"
    assert reading.outage_seconds == 0
    assert reading.charge == pytest.approx(100 - 12 * 100 / 1800)
    assert alarm_names(model) == {"on_battery", "test_in_progress"}
    assert reading.input_line_bads == 0


def test_the_test_ends_at_its_own_moment_and_the_load_goes_back(model, clock):
    model.start_test("calibration", 20)
    clock.advance(50)  # read long after the end: drain for 20 s, then recharge for 30 s
    reading = model.reading()
    assert (reading.load_on_battery, reading.test_running) == (False, False)
    assert reading.test is not None and reading.test.result == "passed"
    assert reading.test.ended_at == reading.test.started_at + 20
    assert reading.seconds_on_battery == 0 and alarm_names(model) == set()
    drained = 20 * 100 / 1800
    recharged = 30 * 100 / (1800 * 2.0)
    assert reading.charge == pytest.approx(100 - drained + recharged)


def test_a_failing_test_ends_with_the_diagnostic_alarm(model, clock):
    model.start_test("self-test", 10, fails=True)
    clock.advance(10)
    reading = model.reading()
    assert reading.test is not None and reading.test.result == "failed"
    assert alarm_names(model) == {"self_test_failed"}
    model.start_test("self-test", 10)  # a new test replaces the last result
    clock.advance(11)
    assert alarm_names(model) == set()
    assert model.reading().test.result == "passed"  # type: ignore[union-attr]


def test_a_power_cut_during_a_test_aborts_it_and_stays_on_battery(model, clock):
    model.start_test("calibration", 600)
    clock.advance(5)
    model.cut_mains()
    clock.advance(30)
    reading = model.reading()
    assert (reading.mains, reading.load_on_battery, reading.test_running) == (False, True, False)
    assert reading.test is not None and reading.test.result == "aborted"
    # The counter goes on from when the load went to battery, the outage from the cut.
    assert (reading.seconds_on_battery, reading.outage_seconds) == (35, 30)
    assert alarm_names(model) == {"on_battery"}
    clock.advance(600)  # past the test's planned end: still an outage
    assert model.reading().load_on_battery
    model.restore_mains()
    assert not model.reading().load_on_battery and alarm_names(model) == set()


@pytest.mark.parametrize(("setup", "kind", "seconds", "message"), [
    ("none", "nap", 10, "unknown test"),
    ("none", "self-test", 0, "positive"),
    ("outage", "self-test", 10, "without mains"),
    ("test", "calibration", 10, "already running"),
])
def test_refused_tests(model, setup, kind, seconds, message):
    if setup == "outage":
        model.cut_mains()
    elif setup == "test":
        model.start_test("self-test", 10)
    with pytest.raises(ValueError, match=message):
        model.start_test(kind, seconds)


def test_a_stale_counter_reads_an_earlier_outage_then_counts_afresh(model, clock):
    model.stale_counter(5000, for_seconds=5)
    assert model.reading().seconds_on_battery == 0  # on mains it still reads 0
    model.cut_mains()
    clock.advance(4)
    assert model.reading().seconds_on_battery == 5000
    clock.advance(2)
    assert model.reading().seconds_on_battery == 6
    model.restore_mains()
    model.cut_mains()  # once only: the next outage counts right away
    clock.advance(1)
    assert model.reading().seconds_on_battery == 1


def test_a_stale_counter_needs_sane_values(model):
    with pytest.raises(ValueError):
        model.stale_counter(-1)
    with pytest.raises(ValueError):
        model.stale_counter(5000, for_seconds=0)
