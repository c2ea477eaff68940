"""Default thresholds and -w/-c LABEL=RANGE overrides."""

from __future__ import annotations

import pytest

from check_dell_ups.thresholds import (
    LABELS,
    ThresholdError,
    build,
    on_battery_defaults,
    parse_override,
)


def test_labels_are_the_perfdata_table_of_the_design() -> None:
    assert LABELS == ("on_battery", "runtime", "charge", "load", "temperature",
                      "input_voltage", "output_voltage", "alarms")


def test_defaults_of_the_design() -> None:
    limits = build()
    assert (str(limits["charge"].warning), str(limits["charge"].critical)) == ("50:", "25:")
    assert (str(limits["runtime"].warning), str(limits["runtime"].critical)) == ("600:", "300:")
    assert (str(limits["load"].warning), str(limits["load"].critical)) == ("80", "90")
    assert (str(limits["temperature"].warning),
            str(limits["temperature"].critical)) == ("35", "40")
    assert limits["input_voltage"].warning is None and limits["alarms"].critical is None


def test_on_battery_thresholds_follow_the_timer() -> None:
    limits = on_battery_defaults(300)
    assert str(limits.warning) == "0" and str(limits.critical) == "299"
    assert 299 in limits.critical and 300 not in limits.critical
    assert on_battery_defaults(-1).critical is None
    assert 1 not in on_battery_defaults(0).critical


def test_overrides_replace_defaults_in_order() -> None:
    limits = build(["charge=60:", "charge=70:"], ["load=95", "input_voltage=200:250"], 300)
    assert str(limits["charge"].warning) == "70:"
    assert str(limits["charge"].critical) == "25:"
    assert str(limits["load"].critical) == "95"
    assert 199 not in limits["input_voltage"].critical
    assert 230 in limits["input_voltage"].critical


def test_an_empty_range_switches_a_threshold_off() -> None:
    assert build(["temperature="], [], 300)["temperature"].warning is None


@pytest.mark.parametrize(("text", "message"), [
    ("charge", "is not LABEL=RANGE"),
    ("humidity=50", "unknown label 'humidity'"),
    ("charge=abc", "invalid range 'abc'"),
    ("load=90:10", "invalid range '90:10'"),
    ("load=1:2:3", "invalid range"),
])
def test_bad_overrides(text: str, message: str) -> None:
    with pytest.raises(ThresholdError, match=message):
        parse_override(text)


def test_inverted_and_open_ranges_parse() -> None:
    label, limit = parse_override("temperature=@10:20")
    assert label == "temperature" and 15 not in limit and 25 in limit
    assert -5 in parse_override("temperature=~:30")[1]
