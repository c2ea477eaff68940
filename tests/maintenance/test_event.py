"""Perfdata parsing: any valid Nagios perfdata, and garbage that must not break it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from check_dell_ups.maintenance.event import (
    Event,
    Metric,
    normalise_state,
    normalise_state_type,
    parse_perfdata,
)

CHECK_OUTPUT = ("on_battery=412s;;300 runtime=1500s;600:;300: charge=80%;50:;25: "
                "load=35%;80;90 temperature=24C;35;40 input_voltage=0V output_voltage=230V "
                "alarms=2")


def test_what_the_check_prints() -> None:
    metrics = parse_perfdata(CHECK_OUTPUT)
    assert metrics["on_battery"] == Metric(412.0, "s")
    assert metrics["runtime"] == Metric(1500.0, "s")
    assert metrics["charge"] == Metric(80.0, "%")
    assert metrics["alarms"] == Metric(2.0, "")
    event = Event("ups", "CRITICAL", metrics=metrics)
    assert (event.on_battery, event.runtime, event.charge) == (412.0, 1500.0, 80.0)


@pytest.mark.parametrize(("text", "label", "value"), [
    ("'on battery'=5s", "on battery", 5.0),
    ("'it''s'=1", "it's", 1.0),
    ("x=1.5e2ms;;;0;", "x", 150.0),
    ("x=-3", "x", -3.0),
    ("x=.5", "x", 0.5),
    ("x=U", "x", None),
    ("x=", "x", None),
])
def test_items(text: str, label: str, value: float | None) -> None:
    assert parse_perfdata(text)[label].value == value


def test_units_to_seconds() -> None:
    event = Event("ups", "OK", metrics=parse_perfdata("on_battery=2min runtime=1500ms"))
    assert event.on_battery == 120.0
    assert event.runtime == 1.5
    odd = Event("ups", "OK", metrics=parse_perfdata("on_battery=5%"))
    assert odd.on_battery is None  # a percentage is no duration


def test_not_a_number_is_left_out() -> None:
    assert "x" not in parse_perfdata("x=nan y=1")
    assert parse_perfdata("x=nan y=1")["y"].value == 1.0


def test_garbage_is_skipped_and_good_items_kept() -> None:
    metrics = parse_perfdata("junk on_battery=abc 'unterminated=3 charge=50% ===  load=1%")
    assert "on_battery" not in metrics
    assert metrics["charge"].value == 50.0
    assert metrics["load"].value == 1.0


def test_first_label_wins_and_empty_text() -> None:
    assert parse_perfdata("a=1 a=2")["a"].value == 1.0
    assert parse_perfdata("") == {} and parse_perfdata(None) == {}
    assert parse_perfdata("   ") == {}


@given(st.text(max_size=200))
def test_never_raises(text: str) -> None:
    parse_perfdata(text)


def test_states() -> None:
    assert normalise_state("critical") == "CRITICAL"
    assert normalise_state("2") == "CRITICAL"
    assert normalise_state_type("soft") == "SOFT"
    with pytest.raises(ValueError, match="--state"):
        normalise_state("DOWN")
    with pytest.raises(ValueError, match="--state-type"):
        normalise_state_type("MEDIUM")


@pytest.mark.parametrize(("perfdata", "on_battery", "runtime", "charge"), [
    ("on_battery=0s;0;299;0 runtime=1800s;;;0 charge=100%;50:;25:;0;100 load=35%;80;90;0 "
     "temperature=24.5;35;40 input_voltage=230V output_voltage=230V alarms=0;;;0",
     0.0, 1800.0, 100.0),
    ("on_battery=300s;0;299;0 runtime=1500s;600:;300:;0 charge=83%;50:;25:;0;100 "
     "load=35%;80;90;0 temperature=24.5;35;40 input_voltage=0V output_voltage=230V "
     "alarms=1;;;0", 300.0, 1500.0, 83.0),
    ("on_battery=125s;0;299;0 charge=93%;50:;25:;0;100", 125.0, None, 93.0),
])
def test_the_check_plugins_documented_output(perfdata, on_battery, runtime, charge) -> None:
    """The exact perfdata of docs/check.md's examples."""
    event = Event("ups", "CRITICAL", metrics=parse_perfdata(perfdata))
    assert (event.on_battery, event.runtime, event.charge) == (on_battery, runtime, charge)
