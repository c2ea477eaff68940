"""One SNMP answer -> one UpsReading, whichever MIB each value came from.

`request()` says what to ask for (one fetch: scalars + fixed line rows + the alarm
column); `normalise()` turns the answer (OID -> value) into a UpsReading. Pure functions:
the quirks of real cards are handled here and tested without a network.
"""

from __future__ import annotations

from collections.abc import Mapping

from check_dell_ups.alarms import (
    DELL_INPUT_FAILURE,
    DELL_ON_BATTERY,
    DELL_TEST_IN_PROGRESS,
    DELL_UTILITY_NOT_PRESENT,
    UPS_MIB_AWAITING_POWER,
    UPS_MIB_INPUT_FAILURE,
    UPS_MIB_ON_BATTERY,
    UPS_MIB_TEST_IN_PROGRESS,
    ActiveAlarm,
    classify_dell_alarm,
    classify_ups_mib_alarm,
    is_empty_alarm_row,
    parse_dell_alarm_string,
    well_known_number,
)
from check_dell_ups.mibs import Decoded, as_text, decode, dell_mib, scalar_oids, ups_mib
from check_dell_ups.record import Record

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
MIB2_OIDS = (SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME)
MAX_LINES = 3
MAINS_SOURCES = frozenset({"normal", "bypass", "booster", "reducer"})
# An input line below this carries no usable mains anywhere: the lowest nominal mains is
# 100 V and UPSes leave it for the battery 15-20 % below nominal.
MAINS_MIN_VOLTAGE = 80.0


class NotAUpsError(Exception):
    """The agent answered, but serves no UPS-MIB."""


class Line(Record):
    """One input or output phase; None = not reported."""

    number: int
    voltage: float | None = None
    current: float | None = None
    power: float | None = None
    frequency: float | None = None
    load: float | None = None


class UpsReading(Record):
    """Everything the check knows about the UPS, in base units (s, %, V, A, Hz, W, °C).

    None means "not reported". `on_battery_seconds` is the perfdata value: 0 if and only if
    the UPS is on mains, at least 1 whenever its output source is battery.
    """

    # identity
    manufacturer: str | None = None
    model: str | None = None
    name: str | None = None
    serial: str | None = None
    firmware: str | None = None
    agent_firmware: str | None = None
    sys_descr: str | None = None
    is_dell: bool = False
    # power source
    output_source: str | None = None
    on_battery: bool | None = None  # on battery because mains failed
    load_on_battery: bool = False  # the output runs from the battery, for whatever reason
    test_in_progress: bool = False  # a battery test or runtime calibration runs
    mains_present: bool = False  # input voltage on every input line, no input alarm
    on_battery_seconds: int | None = None
    seconds_on_battery_reported: int | None = None
    counter_restarted: bool = False
    # battery
    battery_status: str | None = None
    charge: float | None = None
    runtime: int | None = None
    runtime_at_least: bool = False
    runtime_source: str | None = None
    battery_voltage: float | None = None
    battery_current: float | None = None
    abm_status: str | None = None
    runtime_to_shutdown: int | None = None
    low_battery_time: int | None = None  # upsConfigLowBattTime, seconds
    # environment
    temperature: float | None = None
    temperature_source: str | None = None
    probe_temperature: float | None = None
    humidity: float | None = None
    # lines
    input_lines: tuple[Line, ...] = ()
    output_lines: tuple[Line, ...] = ()
    output_frequency: float | None = None
    output_consumption: float | None = None
    # status
    load: float | None = None
    alarms: tuple[ActiveAlarm, ...] = ()
    alarm_count: int | None = None
    global_status: str | None = None
    self_test: str | None = None
    self_test_source: str | None = None
    raw: Mapping[str, object] = {}

    @property
    def battery_test(self) -> bool:
        """A test runs with mains present: the load may be on battery, but no outage."""
        return self.test_in_progress and self.mains_present

    @property
    def input_voltage(self) -> float | None:
        return self.input_lines[0].voltage if self.input_lines else None

    @property
    def output_voltage(self) -> float | None:
        return self.output_lines[0].voltage if self.output_lines else None


def request() -> tuple[list[str], list[str]]:
    """(scalars, columns) for the one fetch() call that reads a UPS."""
    scalars = [*MIB2_OIDS, *scalar_oids(ups_mib.TABLE, dell_mib.TABLE)]
    return scalars, list(ups_mib.COLUMNS)


def has_ups_mib(raw: Mapping[str, object]) -> bool:
    return any(oid.startswith(ups_mib.PREFIX + ".") for oid in raw)


def _lines(decoded: Decoded, prefix: str, names: dict[str, str]) -> tuple[Line, ...]:
    """Lines 1..3 of input or output; lines after the first whose values are all zero or
    missing are not there (cards list three lines and fill only one)."""
    lines: list[Line] = []
    for number in range(1, MAX_LINES + 1):
        values = {
            attribute: decoded.get(f"{prefix}_{mib_name}.{number}")
            for attribute, mib_name in names.items()
        }
        present = [v for v in values.values() if v is not None]
        first_line_reported = number == 1 and bool(present)
        if first_line_reported or any(v != 0 for v in present):
            lines.append(Line(number, **values))  # type: ignore[arg-type]
    return tuple(lines)


_INPUT_NAMES = {"voltage": "voltage", "current": "current", "power": "true_power",
                "frequency": "frequency"}
_OUTPUT_NAMES = {"voltage": "voltage", "current": "current", "power": "power",
                 "load": "percent_load"}


def _number(decoded: Decoded, key: str) -> float | None:
    value = decoded.get(key)
    return value if isinstance(value, (int, float)) else None


def _text(decoded: Decoded, key: str) -> str | None:
    value = decoded.get(key)
    return value if isinstance(value, str) else None


def _alarm_rows(raw: Mapping[str, object]) -> list[str]:
    """Descr OIDs of the non-empty rows of upsAlarmTable, in row order."""
    prefix = ups_mib.ALARM_DESCR_COLUMN + "."
    rows: list[tuple[tuple[int, ...], str]] = []
    for oid, value in raw.items():
        if not oid.startswith(prefix):
            continue
        descr = as_text(value)
        if descr is None or not all(p.isdigit() for p in descr.strip(".").split(".")):
            continue
        descr = descr.strip(".")
        if is_empty_alarm_row(descr):
            continue
        index = tuple(int(p) for p in oid[len(prefix):].split(".") if p.isdigit())
        rows.append((index, descr))
    return [descr for _, descr in sorted(rows)]


def _no_input_power(rows: list[str], dell_numbers: tuple[int, ...],
                    input_lines: tuple[Line, ...]) -> bool:
    """AwaitingPower alarm, Dell "utility not present", or every input line at 0 V."""
    voltages = [line.voltage for line in input_lines if line.voltage is not None]
    return (
        UPS_MIB_AWAITING_POWER in {well_known_number(descr) for descr in rows}
        or DELL_UTILITY_NOT_PRESENT in dell_numbers
        or (bool(voltages) and all(voltage == 0 for voltage in voltages))
    )


def _test_in_progress(ups: Decoded, dell: Decoded, rows: list[str],
                      dell_numbers: tuple[int, ...]) -> bool:
    """Any of the four signs of a running test: both MIBs' test status and both alarms."""
    return (
        ups.get("test_results_summary") == "inProgress"
        or dell.get("battery_test_status") == "inProgress"
        or bool(UPS_MIB_TEST_IN_PROGRESS & {well_known_number(descr) for descr in rows})
        or bool(DELL_TEST_IN_PROGRESS & set(dell_numbers))
    )


def _mains_present(rows: list[str], dell_numbers: tuple[int, ...],
                   input_lines: tuple[Line, ...]) -> bool:
    """Mains is there to take the load back: every input line reported carries a voltage
    (and a frequency, where one is reported), and no alarm says the input failed. Not
    reported is not present: a test flag never hides an outage the card cannot rule out."""
    if not input_lines or any(line.voltage is None for line in input_lines):
        return False
    if any(line.voltage < MAINS_MIN_VOLTAGE for line in input_lines):  # type: ignore[operator]
        return False
    if any(line.frequency is not None and line.frequency <= 0 for line in input_lines):
        return False
    return not (UPS_MIB_INPUT_FAILURE & {well_known_number(descr) for descr in rows}
                or DELL_INPUT_FAILURE & set(dell_numbers))


def _runtime(ups: Decoded, dell: Decoded) -> tuple[int | None, bool, str | None]:
    seconds = _number(dell, "battery_seconds_remaining")
    if seconds is not None:
        return int(seconds), "battery_seconds_remaining" in dell.at_least, "Dell"
    minutes = _number(ups, "estimated_minutes_remaining")
    if minutes is not None:
        at_least = "estimated_minutes_remaining" in ups.at_least
        return int(minutes * 60), at_least, "UPS-MIB"
    return None, False, None


def _probe_temperature(dell: Decoded) -> float | None:
    if _number(dell, "environment_sensor_present") == 0:
        return None
    value = _number(dell, "temperature")
    if value is None:
        return None
    if dell.get("temperature_unit") == "fahrenheit":
        value = (value - 32) * 5 / 9
    return round(value, 1)


def _firmware(ups: Decoded, dell: Decoded) -> str | None:
    version, build = _text(dell, "version"), _text(dell, "build_number")
    if version and build:
        return f"{version}.{build}"
    return version or _text(ups, "ups_software_version")


def normalise(raw: Mapping[str, object]) -> UpsReading:
    """Turn one agent answer into a UpsReading. Raises NotAUpsError without UPS-MIB."""
    if not has_ups_mib(raw):
        descr = as_text(raw.get(SYS_DESCR))
        raise NotAUpsError("no UPS-MIB" + (f" (sysDescr: {descr[:80]})" if descr else ""))
    ups = decode(ups_mib.TABLE, raw)
    dell = decode(dell_mib.TABLE, raw)
    sys_object_id = as_text(raw.get(SYS_OBJECT_ID)) or ""
    is_dell = bool(dell.values) or sys_object_id.lstrip(".").startswith(dell_mib.PREFIX)

    # Alarms from both MIBs.
    rows = _alarm_rows(raw)
    dell_numbers = parse_dell_alarm_string(_text(dell, "alarms_status") or "")
    alarms = tuple(
        [classify_ups_mib_alarm(descr) for descr in rows]
        + [classify_dell_alarm(number) for number in dell_numbers]
    )
    counts = [len(rows), len(dell_numbers)]
    alarms_present = _number(ups, "alarms_present")
    if alarms_present is not None:
        counts.append(int(alarms_present))
    alarm_count = max(counts) if (rows or dell_numbers or alarms_present is not None) else None

    # Power source: the seconds counter restarts at 0 when the card reboots, so any of
    # the other signs of battery power also count.
    source = _text(ups, "output_source")
    reported = _number(ups, "seconds_on_battery")
    battery_signs = [
        source == "battery",
        UPS_MIB_ON_BATTERY in {well_known_number(d) for d in rows},
        DELL_ON_BATTERY in dell_numbers,
        # A counter above 0 alone, unless the card says it runs from a mains source.
        reported is not None and reported > 0 and source not in MAINS_SOURCES,
    ]
    input_lines = _lines(ups, "input", _INPUT_NAMES)
    load_on_battery = any(battery_signs)
    test_in_progress = _test_in_progress(ups, dell, rows, dell_numbers)
    mains_present = _mains_present(rows, dell_numbers, input_lines)
    if load_on_battery and not (test_in_progress and mains_present):
        on_battery: bool | None = True
    elif load_on_battery or source is not None or reported is not None:
        # A test with mains present runs the load from the battery, but is no outage.
        on_battery = False
    else:
        on_battery = None
    if on_battery is False and source == "none" and _no_input_power(rows, dell_numbers,
                                                                   input_lines):
        # Output off and no mains either (e.g. shut down after the battery ran out): not
        # "on mains", so on_battery is left out rather than reported as 0.
        on_battery = None
    if on_battery is None:
        on_battery_seconds = None
    elif on_battery:
        on_battery_seconds = max(int(reported or 0), 1)
    else:
        on_battery_seconds = 0

    runtime, runtime_at_least, runtime_source = _runtime(ups, dell)
    if runtime is not None and runtime <= 0 and on_battery is False:
        # On mains many cards report 0 runtime: that is no estimate at all.
        runtime, runtime_at_least, runtime_source = None, False, None

    battery_temperature = _number(ups, "battery_temperature")
    probe_temperature = _probe_temperature(dell)
    if battery_temperature is not None:
        temperature, temperature_source = battery_temperature, "battery"
    elif probe_temperature is not None:
        temperature, temperature_source = probe_temperature, "probe"
    else:
        temperature, temperature_source = None, None

    output_lines = _lines(ups, "output", _OUTPUT_NAMES)
    loads = [line.load for line in output_lines if line.load is not None]

    dell_test = _text(dell, "battery_test_status")
    ups_test = _text(ups, "test_results_summary")
    self_test, self_test_source = (dell_test, "Dell") if dell_test else (ups_test, "UPS-MIB")
    if self_test is None:
        self_test_source = None

    low_batt_minutes = _number(ups, "config_low_batt_time")
    return UpsReading(
        manufacturer=_text(ups, "manufacturer"),
        model=_text(dell, "display_name") or _text(ups, "model"),
        name=_text(ups, "name"),
        serial=_text(dell, "serial_number"),
        firmware=_firmware(ups, dell),
        agent_firmware=_text(ups, "agent_software_version"),
        sys_descr=as_text(raw.get(SYS_DESCR)),
        is_dell=is_dell,
        output_source=source,
        on_battery=on_battery,
        load_on_battery=load_on_battery,
        test_in_progress=test_in_progress,
        mains_present=mains_present,
        on_battery_seconds=on_battery_seconds,
        seconds_on_battery_reported=None if reported is None else int(reported),
        counter_restarted=bool(on_battery and not reported),
        battery_status=_text(ups, "battery_status"),
        charge=_number(ups, "estimated_charge_remaining"),
        runtime=runtime,
        runtime_at_least=runtime_at_least,
        runtime_source=runtime_source,
        battery_voltage=_number(ups, "battery_voltage"),
        battery_current=_number(ups, "battery_current"),
        abm_status=_text(dell, "abm_status"),
        runtime_to_shutdown=(
            None if (rts := _number(dell, "runtime_to_shutdown")) is None else int(rts)
        ),
        low_battery_time=None if low_batt_minutes is None else int(low_batt_minutes * 60),
        temperature=temperature,
        temperature_source=temperature_source,
        probe_temperature=probe_temperature,
        humidity=_number(dell, "humidity"),
        input_lines=input_lines,
        output_lines=output_lines,
        output_frequency=_number(ups, "output_frequency"),
        output_consumption=_number(dell, "output_consumption"),
        load=max(loads) if loads else None,
        alarms=alarms,
        alarm_count=alarm_count,
        global_status=_text(dell, "global_status"),
        self_test=self_test,
        self_test_source=self_test_source,
        raw=dict(raw),
    )
