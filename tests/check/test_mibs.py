"""The declarative MIB tables and the one generic decode() routine."""

from __future__ import annotations

import pytest

from check_dell_ups.mibs import (
    Field,
    as_number,
    as_text,
    decode,
    dell_mib,
    per_line,
    scalar_oids,
    ups_mib,
)

UPS = "1.3.6.1.2.1.33.1"
DELL = "1.3.6.1.4.1.674.10902.2"


def test_every_oid_lives_under_its_mib_and_is_unique() -> None:
    for table, prefix in ((ups_mib.TABLE, ups_mib.PREFIX), (dell_mib.TABLE, dell_mib.PREFIX)):
        oids = [spec.oid for spec in table]
        assert len(oids) == len(set(oids))
        assert all(oid.startswith(prefix + ".") for oid in oids)
        keys = [spec.key for spec in table]
        assert len(keys) == len(set(keys))


def test_the_tables_name_the_oids_of_the_facts() -> None:
    by_name = {spec.key: spec for spec in ups_mib.TABLE + dell_mib.TABLE}
    assert by_name["seconds_on_battery"].oid == f"{UPS}.2.2.0"
    assert by_name["estimated_minutes_remaining"].oid == f"{UPS}.2.3.0"
    assert by_name["battery_voltage"].scale == 0.1
    assert by_name["input_frequency.2"].oid == f"{UPS}.3.3.1.2.2"
    assert by_name["output_percent_load.3"].oid == f"{UPS}.4.4.1.5.3"
    assert by_name["battery_seconds_remaining"].oid == f"{DELL}.120.5.3.0"
    assert by_name["alarms_status"].oid == f"{DELL}.120.4.2.0"
    assert by_name["temperature"].scale == 0.1
    assert (f"{UPS}.6.2.1.2",) == ups_mib.COLUMNS


def test_per_line_makes_the_fixed_rows_one_to_three() -> None:
    fields = per_line("x", "1.2.3", unit="V")
    assert [f.oid for f in fields] == ["1.2.3.1", "1.2.3.2", "1.2.3.3"]
    assert [f.key for f in fields] == ["x.1", "x.2", "x.3"]
    assert all(f.unit == "V" for f in fields)


def test_scalar_oids_keeps_order_and_drops_duplicates() -> None:
    table = (Field("a", "1.1"), Field("b", "1.2"), Field("c", "1.1"))
    assert scalar_oids(table, (Field("d", "1.3"),)) == ["1.1", "1.2", "1.3"]


@pytest.mark.parametrize(("raw", "expected"), [
    (42, 42), ("42", 42), (" 23.5 ", 23.5), ("230\x00", 230), (b"12", 12),
    ("n/a", None), ("", None), (None, None), (True, None), (float("nan"), None),
    ("inf", None), ([1], None),
])
def test_as_number_accepts_other_types_than_the_mibs(raw: object, expected: object) -> None:
    assert as_number(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("Dell UPS", "Dell UPS"), ("  two\nlines\t", "two lines"), ("", None), (7, "7"),
    (b"bytes\xff", "bytes\ufffd"), (None, None), ({"a": 1}, None),
])
def test_as_text_is_one_printable_line(raw: object, expected: object) -> None:
    assert as_text(raw) == expected


def test_decode_scales_tenths() -> None:
    decoded = decode(ups_mib.TABLE, {f"{UPS}.2.5.0": 545, f"{UPS}.3.3.1.2.1": 499})
    assert decoded.values["battery_voltage"] == pytest.approx(54.5)
    assert decoded.values["input_frequency.1"] == pytest.approx(49.9)


def test_decode_frequency_in_whole_units_stays_whole() -> None:
    decoded = decode(ups_mib.TABLE, {f"{UPS}.4.2.0": 50})
    assert decoded.values["output_frequency"] == 50


@pytest.mark.parametrize("sentinel", [-1, 2147483647, 4294967295, 999, 0])
def test_decode_battery_temperature_sentinels_are_not_reported(sentinel: int) -> None:
    decoded = decode(ups_mib.TABLE, {f"{UPS}.2.7.0": sentinel})
    assert "battery_temperature" not in decoded.values


def test_decode_minutes_saturation_is_a_lower_bound() -> None:
    for saturated in (1092, 999):
        decoded = decode(ups_mib.TABLE, {f"{UPS}.2.3.0": saturated})
        assert decoded.values["estimated_minutes_remaining"] == saturated
        assert "estimated_minutes_remaining" in decoded.at_least
    decoded = decode(ups_mib.TABLE, {f"{UPS}.2.3.0": 40})
    assert decoded.at_least == set()


def test_decode_dell_seconds_saturation() -> None:
    decoded = decode(dell_mib.TABLE, {f"{DELL}.120.5.3.0": 65535})
    assert decoded.values["battery_seconds_remaining"] == 65535
    assert decoded.at_least == {"battery_seconds_remaining"}


def test_decode_charge_out_of_range_is_not_reported() -> None:
    assert "estimated_charge_remaining" not in decode(
        ups_mib.TABLE, {f"{UPS}.2.4.0": 255}).values
    assert decode(ups_mib.TABLE, {f"{UPS}.2.4.0": "87"}).values[
        "estimated_charge_remaining"] == 87


def test_decode_enums_by_number_and_numeric_string() -> None:
    decoded = decode(ups_mib.TABLE, {f"{UPS}.4.1.0": 5, f"{UPS}.2.1.0": "3",
                                     f"{UPS}.7.3.0": 42})
    assert decoded.values["output_source"] == "battery"
    assert decoded.values["battery_status"] == "batteryLow"
    assert "test_results_summary" not in decoded.values  # not in the enum


def test_decode_ignores_garbage_of_every_kind() -> None:
    garbage: list[object] = [None, "", "zz", b"\x00\x01", [], {}, 1.5e308, -10**30, "1.2.3"]
    for value in garbage:
        raw = {spec.oid: value for spec in ups_mib.TABLE + dell_mib.TABLE}
        decode(ups_mib.TABLE, raw)
        decode(dell_mib.TABLE, raw)


def test_decode_dell_text_and_enums() -> None:
    decoded = decode(dell_mib.TABLE, {
        f"{DELL}.110.1.0": 4, f"{DELL}.120.5.2.0": 3, f"{DELL}.120.4.2.0": "57,63",
        f"{DELL}.120.7.3.1.0": 2, f"{DELL}.120.7.3.2.0": 770,
        f"{DELL}.120.2.6.0": 0,
    })
    assert decoded.values["global_status"] == "non-critical"
    assert decoded.values["battery_test_status"] == "doneError"
    assert decoded.values["alarms_status"] == "57,63"
    assert decoded.values["temperature_unit"] == "fahrenheit"
    assert decoded.values["temperature"] == 77
    assert "output_consumption" not in decoded.values  # 0 during the first hour


# Voltages: RFC 1628 says whole volts; some cards send tenths. The first line with a value
# decides for all lines of the object (a dead phase at 0 decides nothing).
VOLTAGE_ROWS = [
    ("236 V in tenths", {"3.3.1.3.1": 2360}, {"input_voltage.1": 236}),
    ("122.2 V in tenths", {"4.4.1.2.1": 1222}, {"output_voltage.1": 122.2}),
    ("whole volts stay whole", {"3.3.1.3.1": 230, "4.4.1.2.1": 120},
     {"input_voltage.1": 230, "output_voltage.1": 120}),
    ("480 V three-phase in whole volts", {"3.3.1.3.1": 480}, {"input_voltage.1": 480}),
    ("line 1 decides for lines 2 and 3", {"3.3.1.3.1": 2301, "3.3.1.3.2": 2295,
                                          "3.3.1.3.3": 0},
     {"input_voltage.1": 230.1, "input_voltage.2": 229.5, "input_voltage.3": 0}),
    ("a dead first phase decides nothing", {"3.3.1.3.1": 0, "3.3.1.3.2": 2300},
     {"input_voltage.1": 0, "input_voltage.2": 230}),
    ("input and output decided apart", {"3.3.1.3.1": 2360, "4.4.1.2.1": 230},
     {"input_voltage.1": 236, "output_voltage.1": 230}),
]


@pytest.mark.parametrize(("name", "raw", "expected"), VOLTAGE_ROWS,
                         ids=[row[0] for row in VOLTAGE_ROWS])
def test_decode_voltages_in_tenths(name: str, raw: dict, expected: dict) -> None:
    decoded = decode(ups_mib.TABLE, {f"{UPS}.{oid}": value for oid, value in raw.items()})
    assert {key: decoded.values[key] for key in expected} == pytest.approx(expected)
