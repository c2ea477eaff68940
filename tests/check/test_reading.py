"""normalise(): one agent answer -> one UpsReading, quirk by quirk."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from check_dell_ups.mibs import dell_mib, ups_mib
from check_dell_ups.reading import NotAUpsError, normalise, request

UPS = "1.3.6.1.2.1.33.1"
DELL = "1.3.6.1.4.1.674.10902.2"
WELL_KNOWN = f"{UPS}.6.3"
ALARM_DESCR = f"{UPS}.6.2.1.2"


def test_request_is_one_fetch_with_scalars_lines_and_the_alarm_column() -> None:
    scalars, columns = request()
    assert columns == [ALARM_DESCR]
    for oid in (f"{UPS}.2.2.0", f"{UPS}.4.4.1.5.1", f"{UPS}.4.4.1.5.3", f"{UPS}.3.3.1.3.2",
                f"{DELL}.120.5.3.0", f"{DELL}.120.4.2.0", "1.3.6.1.2.1.1.1.0"):
        assert oid in scalars
    assert len(scalars) == len(set(scalars))


def test_healthy_dell_on_mains(dell_raw: dict) -> None:
    reading = normalise(dell_raw)
    assert reading.is_dell
    assert reading.on_battery is False and reading.on_battery_seconds == 0
    assert reading.charge == 100
    assert (reading.runtime, reading.runtime_source) == (1800, "Dell")
    assert reading.load == 30
    assert reading.temperature == 25 and reading.temperature_source == "battery"
    assert reading.input_voltage == 230 and reading.output_voltage == 230
    assert reading.alarm_count == 0 and reading.alarms == ()
    assert reading.global_status == "ok"
    assert (reading.self_test, reading.self_test_source) == ("donePassed", "Dell")
    assert reading.serial == "CN-TEST-0001" and reading.firmware == "01.14.0006"
    assert reading.model == "Dell UPS Rack 1920W HV"
    assert reading.battery_voltage == pytest.approx(54.5)


def test_plain_rfc1628_ups_needs_no_dell_mib(rfc1628_raw: dict) -> None:
    reading = normalise(rfc1628_raw)
    assert not reading.is_dell
    assert (reading.runtime, reading.runtime_source) == (2400, "UPS-MIB")  # minutes -> s
    assert (reading.self_test, reading.self_test_source) == ("donePass", "UPS-MIB")
    assert reading.global_status is None and reading.serial is None
    assert reading.firmware == "2.1"


def test_not_a_ups() -> None:
    with pytest.raises(NotAUpsError, match=r"no UPS-MIB \(sysDescr: Linux router 5\.10\)"):
        normalise({"1.3.6.1.2.1.1.1.0": "Linux router\n5.10", "1.3.6.1.2.1.1.3.0": 5})
    with pytest.raises(NotAUpsError):
        normalise({})


def test_absent_values_are_none(dell_raw: dict) -> None:
    for oid in (f"{UPS}.2.4.0", f"{UPS}.2.7.0", f"{DELL}.120.5.3.0", f"{UPS}.2.3.0"):
        del dell_raw[oid]
    reading = normalise(dell_raw)
    assert reading.charge is None and reading.temperature is None and reading.runtime is None


@pytest.mark.parametrize("value", [0, -1, 999, 2147483647])
def test_temperature_no_sensor_values(dell_raw: dict, value: int) -> None:
    dell_raw[f"{UPS}.2.7.0"] = value
    assert normalise(dell_raw).temperature is None


def test_dell_probe_temperature_in_tenths_and_fahrenheit(dell_raw: dict) -> None:
    del dell_raw[f"{UPS}.2.7.0"]
    dell_raw.update({f"{DELL}.120.7.1.0": 1, f"{DELL}.120.7.3.1.0": 2,
                     f"{DELL}.120.7.3.2.0": 773})
    reading = normalise(dell_raw)
    assert reading.temperature == pytest.approx(25.2) and reading.temperature_source == "probe"
    dell_raw[f"{DELL}.120.7.3.1.0"] = 1
    dell_raw[f"{DELL}.120.7.3.2.0"] = 235
    assert normalise(dell_raw).temperature == pytest.approx(23.5)


def test_dell_probe_absent_or_zero_is_not_a_temperature(dell_raw: dict) -> None:
    del dell_raw[f"{UPS}.2.7.0"]
    dell_raw.update({f"{DELL}.120.7.1.0": 0, f"{DELL}.120.7.3.2.0": 235})
    assert normalise(dell_raw).temperature is None
    dell_raw.update({f"{DELL}.120.7.1.0": 1, f"{DELL}.120.7.3.2.0": 0})
    assert normalise(dell_raw).temperature is None


def test_saturated_runtime_is_at_least(dell_raw: dict, rfc1628_raw: dict) -> None:
    dell_raw[f"{DELL}.120.5.3.0"] = 65535
    reading = normalise(dell_raw)
    assert (reading.runtime, reading.runtime_at_least) == (65535, True)
    for minutes in (1092, 999):
        rfc1628_raw[f"{UPS}.2.3.0"] = minutes
        reading = normalise(rfc1628_raw)
        assert (reading.runtime, reading.runtime_at_least) == (minutes * 60, True)


@pytest.mark.parametrize("value", [-1, 2147483647])
def test_runtime_not_reported_falls_back_to_ups_mib(dell_raw: dict, value: int) -> None:
    dell_raw[f"{DELL}.120.5.3.0"] = value
    reading = normalise(dell_raw)
    assert (reading.runtime, reading.runtime_source) == (2400, "UPS-MIB")


def test_zero_runtime_on_mains_is_no_estimate(rfc1628_raw: dict) -> None:
    rfc1628_raw[f"{UPS}.2.3.0"] = 0
    assert normalise(rfc1628_raw).runtime is None
    rfc1628_raw[f"{UPS}.4.1.0"] = 5  # on battery, 0 minutes left is real
    assert normalise(rfc1628_raw).runtime == 0


def test_three_lines_listed_only_one_populated(dell_raw: dict) -> None:
    dell_raw[f"{UPS}.3.2.0"] = 3
    dell_raw[f"{UPS}.4.3.0"] = 3
    for column in ("3.3.1.2", "3.3.1.3", "3.3.1.4", "3.3.1.5", "4.4.1.2", "4.4.1.3",
                   "4.4.1.4", "4.4.1.5"):
        for line in (2, 3):
            dell_raw[f"{UPS}.{column}.{line}"] = 0
    reading = normalise(dell_raw)
    assert len(reading.input_lines) == 1 and len(reading.output_lines) == 1
    assert reading.load == 30


def test_three_phase_load_is_the_highest_phase(rfc1628_raw: dict) -> None:
    for line, (voltage, load) in enumerate(((231, 40), (229, 72), (230, 55)), start=1):
        rfc1628_raw[f"{UPS}.4.4.1.2.{line}"] = voltage
        rfc1628_raw[f"{UPS}.4.4.1.5.{line}"] = load
        rfc1628_raw[f"{UPS}.3.3.1.3.{line}"] = voltage
    reading = normalise(rfc1628_raw)
    assert len(reading.output_lines) == 3 and len(reading.input_lines) == 3
    assert reading.load == 72
    assert reading.output_voltage == 231  # the first phase


def test_timeticks_and_gauge_and_string_types_are_read(rfc1628_raw: dict) -> None:
    # fetch() hands TimeTicks/Gauge32 over as int; some cards send numbers as OctetString.
    rfc1628_raw[f"{UPS}.2.2.0"] = "0"
    rfc1628_raw[f"{UPS}.2.4.0"] = "88"
    rfc1628_raw[f"{UPS}.4.4.1.5.1"] = " 41 "
    reading = normalise(rfc1628_raw)
    assert (reading.charge, reading.load, reading.on_battery_seconds) == (88, 41, 0)


def test_on_battery_from_the_seconds_counter(rfc1628_raw: dict) -> None:
    rfc1628_raw[f"{UPS}.2.2.0"] = 125
    rfc1628_raw[f"{UPS}.4.1.0"] = 5
    reading = normalise(rfc1628_raw)
    assert (reading.on_battery, reading.on_battery_seconds) == (True, 125)
    assert not reading.counter_restarted


@pytest.mark.parametrize("sign", ["output_source", "alarm_row", "dell_57"])
def test_card_reboot_restarts_the_counter_but_still_on_battery(dell_raw: dict,
                                                               sign: str) -> None:
    dell_raw[f"{UPS}.2.2.0"] = 0
    if sign == "output_source":
        dell_raw[f"{UPS}.4.1.0"] = 5
    elif sign == "alarm_row":
        dell_raw[f"{ALARM_DESCR}.1"] = f"{WELL_KNOWN}.2"
    else:
        dell_raw[f"{DELL}.120.4.2.0"] = "57"
    reading = normalise(dell_raw)
    assert reading.on_battery is True
    assert reading.on_battery_seconds == 1
    assert reading.counter_restarted


def test_a_counter_left_running_on_mains_is_not_on_battery(rfc1628_raw: dict) -> None:
    rfc1628_raw[f"{UPS}.2.2.0"] = 77  # upsOutputSource says normal(3)
    reading = normalise(rfc1628_raw)
    assert (reading.on_battery, reading.on_battery_seconds) == (False, 0)
    del rfc1628_raw[f"{UPS}.4.1.0"]  # without a source, the counter is the sign
    assert normalise(rfc1628_raw).on_battery_seconds == 77


def test_power_source_unknown_when_neither_source_nor_counter(rfc1628_raw: dict) -> None:
    del rfc1628_raw[f"{UPS}.2.2.0"]
    del rfc1628_raw[f"{UPS}.4.1.0"]
    reading = normalise(rfc1628_raw)
    assert reading.on_battery is None and reading.on_battery_seconds is None


def test_empty_alarm_rows_are_skipped_and_alarms_merge(dell_raw: dict) -> None:
    dell_raw.update({
        f"{UPS}.6.1.0": 2,
        f"{ALARM_DESCR}.1": "0.0.0.0.0.0.0.0.0.0.0",
        f"{ALARM_DESCR}.2": f"{WELL_KNOWN}.1",
        f"{ALARM_DESCR}.3": "0.0",
        f"{ALARM_DESCR}.4": f".{WELL_KNOWN}.16",
        f"{DELL}.120.4.2.0": "63,65",
    })
    reading = normalise(dell_raw)
    assert [(a.source, a.code) for a in reading.alarms] == [
        ("UPS-MIB", "1"), ("UPS-MIB", "16"), ("Dell", "63"), ("Dell", "65")]
    assert reading.alarm_count == 2


def test_alarm_rows_in_row_order_not_text_order(dell_raw: dict) -> None:
    dell_raw[f"{ALARM_DESCR}.10"] = f"{WELL_KNOWN}.3"
    dell_raw[f"{ALARM_DESCR}.9"] = f"{WELL_KNOWN}.9"
    assert [a.code for a in normalise(dell_raw).alarms] == ["9", "3"]


def test_alarm_count_when_the_count_is_missing(dell_raw: dict) -> None:
    del dell_raw[f"{UPS}.6.1.0"]
    dell_raw[f"{DELL}.120.4.2.0"] = "43,57,63"
    assert normalise(dell_raw).alarm_count == 3
    dell_raw[f"{DELL}.120.4.2.0"] = ""
    assert normalise(dell_raw).alarm_count is None


def test_self_test_prefers_dell_and_falls_back_to_ups_mib(dell_raw: dict) -> None:
    dell_raw[f"{UPS}.7.3.0"] = 2
    dell_raw[f"{DELL}.120.5.2.0"] = 3
    assert normalise(dell_raw).self_test == "doneError"
    del dell_raw[f"{DELL}.120.5.2.0"]
    assert normalise(dell_raw).self_test == "doneWarning"


ALL_OIDS = [spec.oid for spec in ups_mib.TABLE + dell_mib.TABLE] + [
    f"{ALARM_DESCR}.1", f"{ALARM_DESCR}.2", "1.3.6.1.2.1.1.1.0"]
ANY_VALUE = st.one_of(st.integers(min_value=-(2**64), max_value=2**64), st.text(max_size=20),
                      st.just("0.0.0.0"), st.just(f"{WELL_KNOWN}.3"), st.floats(),
                      st.binary(max_size=8))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(ALL_OIDS), ANY_VALUE, min_size=1))
def test_normalise_never_raises_on_hostile_values(raw: dict) -> None:
    raw[f"{UPS}.1.1.0"] = raw.get(f"{UPS}.1.1.0", "x")  # it is a UPS
    reading = normalise(raw)
    assert reading.on_battery_seconds is None or reading.on_battery_seconds >= 0
    assert (reading.on_battery_seconds == 0) == (reading.on_battery is False)


@pytest.mark.parametrize(("sign", "on_battery"), [
    ("input at 0 V", None), ("AwaitingPower", None), ("Dell 47", None), ("mains present", False),
])
def test_output_off_is_on_mains_only_with_input_power(dell_raw: dict, sign: str,
                                                      on_battery: bool | None) -> None:
    dell_raw[f"{UPS}.4.1.0"] = 2  # output source none
    if sign == "input at 0 V":
        dell_raw[f"{UPS}.3.3.1.3.1"] = 0
    elif sign == "AwaitingPower":
        dell_raw[f"{ALARM_DESCR}.1"] = f"{WELL_KNOWN}.21"
    elif sign == "Dell 47":
        dell_raw[f"{DELL}.120.4.2.0"] = "47,71"
    reading = normalise(dell_raw)
    assert reading.on_battery is on_battery
    assert reading.on_battery_seconds == (0 if on_battery is False else None)
