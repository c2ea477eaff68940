"""What the simulated card serves: MIB-II system, RFC 1628 UPS-MIB, DELL-SNMP-UPS-MIB.

Turns one `UpsReading` into OID -> (type, value), with the units, scaling and quirks of
a real Dell Network Management Card (FACTS.md section 1). No SNMP library here: the
agent converts the plain values into wire types.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from check_dell_ups.simulator.model import UpsReading

Oid = tuple[int, ...]


class Kind(Enum):
    """SMI types used by these MIBs."""

    INTEGER = "Integer32"
    GAUGE = "Gauge32"
    COUNTER = "Counter32"
    TIMETICKS = "TimeTicks"
    STRING = "OctetString"
    OID = "ObjectIdentifier"


@dataclass(frozen=True)
class MibView:
    """The values served at one instant, and the objects (scalars, columns) that exist."""

    values: dict[Oid, tuple[Kind, int | str | Oid]]
    objects: frozenset[Oid]


SYSTEM = (1, 3, 6, 1, 2, 1, 1)
UPS_MIB = (1, 3, 6, 1, 2, 1, 33, 1)
DELL_UPS = (1, 3, 6, 1, 4, 1, 674, 10902, 2)
WELL_KNOWN_ALARMS = (*UPS_MIB, 6, 3)
# upsWellKnownTests (RFC 1628): the value of upsTestId names the test last started.
UPS_TEST_NO_TESTS_INITIATED = (*UPS_MIB, 7, 7, 1)
UPS_TEST_IDS = {"self-test": (*UPS_MIB, 7, 7, 4),  # upsTestQuickBatteryTest
                "calibration": (*UPS_MIB, 7, 7, 5)}  # upsTestDeepBatteryCalibration

MODEL_NAME = "Dell UPS Rack 1920W HV"
GENERIC_DESCRIPTION = "UPS with RFC 1628 agent"
RATED_POWER_WATTS = 1920
NOMINAL_VOLTAGE = 230
NOMINAL_FREQUENCY_TENTHS = 500
LINE_COUNT = 3  # the card lists three lines; only line 1 is populated
NO_COUNTDOWN = 2147483647
HOUR = 3600.0

# enums
BATTERY_NORMAL, BATTERY_LOW, BATTERY_DEPLETED = 2, 3, 4
SOURCE_NONE, SOURCE_NORMAL, SOURCE_BYPASS, SOURCE_BATTERY = 2, 3, 4, 5
GLOBAL_OK, GLOBAL_NON_CRITICAL, GLOBAL_CRITICAL = 3, 4, 5
TEST_PASSED, TEST_ERROR, TEST_ABORTED, TEST_IN_PROGRESS = 1, 3, 4, 5  # same in both MIBs
TEST_RESULT_NUMBERS = {"passed": TEST_PASSED, "failed": TEST_ERROR, "aborted": TEST_ABORTED}
TEST_RESULT_TEXTS = {"passed": "Battery test passed", "failed": "Battery test failed",
                     "aborted": "Battery test aborted"}
ABM_CHARGING, ABM_DISCHARGING, ABM_FLOATING = 1, 2, 3


def build_view(reading: UpsReading, dell_mib: bool = True) -> MibView:
    """The card's values; without `dell_mib`, a plain RFC 1628 UPS (no Dell subtree)."""
    builder = _Builder()
    _system_group(builder, reading, dell_mib)
    _ups_mib(builder, reading)
    if dell_mib:
        _dell_mib(builder, reading)
    return MibView(values=builder.values, objects=frozenset(builder.objects))


class _Builder:
    def __init__(self) -> None:
        self.values: dict[Oid, tuple[Kind, int | str | Oid]] = {}
        self.objects: set[Oid] = set()

    def scalar(self, oid: Oid, kind: Kind, value: int | str | Oid) -> None:
        self.objects.add(oid)
        self.values[(*oid, 0)] = (kind, value)

    def column(self, oid: Oid, kind: Kind, rows: dict[int, int | str | Oid]) -> None:
        self.objects.add(oid)  # the column exists even with no rows
        for index, value in rows.items():
            self.values[(*oid, index)] = (kind, value)


def _ticks(seconds: float) -> int:
    return int(seconds * 100) % (2**32)


def _system_group(builder: _Builder, reading: UpsReading, dell_mib: bool) -> None:
    builder.scalar((*SYSTEM, 1), Kind.STRING, MODEL_NAME if dell_mib else GENERIC_DESCRIPTION)
    builder.scalar((*SYSTEM, 2), Kind.OID, DELL_UPS if dell_mib else UPS_MIB)
    builder.scalar((*SYSTEM, 3), Kind.TIMETICKS, _ticks(reading.card_uptime_seconds))
    builder.scalar((*SYSTEM, 4), Kind.STRING, "ups-admin@example.com")
    builder.scalar((*SYSTEM, 5), Kind.STRING, "ups-rack1")
    builder.scalar((*SYSTEM, 6), Kind.STRING, "Server room, rack 1")
    builder.scalar((*SYSTEM, 7), Kind.INTEGER, 72)


def _output_source(reading: UpsReading) -> int:
    if reading.has_alarm("output_off"):
        return SOURCE_NONE
    if reading.load_on_battery:  # an outage, or a test with the mains present
        return SOURCE_BATTERY
    if reading.has_alarm("bypass"):
        return SOURCE_BYPASS
    return SOURCE_NORMAL


def _battery_status(reading: UpsReading) -> int:
    if reading.has_alarm("depleted_battery"):
        return BATTERY_DEPLETED
    if reading.has_alarm("low_battery"):
        return BATTERY_LOW
    return BATTERY_NORMAL


def _output_watts(reading: UpsReading) -> int:
    if _output_source(reading) == SOURCE_NONE:
        return 0
    return round(reading.load / 100.0 * RATED_POWER_WATTS)


def _battery_decivolts(reading: UpsReading) -> int:
    # A 48 V string: floats near 54 V on mains, sags with charge on battery.
    if not reading.load_on_battery:
        return round(10 * (52.0 + 2.0 * reading.charge / 100.0))
    return round(10 * (44.0 + 8.0 * reading.charge / 100.0))


def _battery_deciamps(reading: UpsReading) -> int:
    if not reading.load_on_battery:
        return 10 if reading.charge < 100.0 else 0  # charging current
    return round(10 * _output_watts(reading) / (_battery_decivolts(reading) / 10.0))


def _per_line(first: int) -> dict[int, int]:
    """Line 1 carries the value; lines 2 and 3 read 0, as on real single-phase cards."""
    return {line: (first if line == 1 else 0) for line in range(1, LINE_COUNT + 1)}


def _ups_mib(builder: _Builder, reading: UpsReading) -> None:
    ident = (*UPS_MIB, 1)
    builder.scalar((*ident, 1), Kind.STRING, "DELL")
    builder.scalar((*ident, 2), Kind.STRING, MODEL_NAME)
    builder.scalar((*ident, 3), Kind.STRING, "01.14.0006")
    builder.scalar((*ident, 4), Kind.STRING, "Network Management Card 04.02.0009")
    builder.scalar((*ident, 5), Kind.STRING, "ups-rack1")
    builder.scalar((*ident, 6), Kind.STRING, "hv01, hv02")

    battery = (*UPS_MIB, 2)
    builder.scalar((*battery, 1), Kind.INTEGER, _battery_status(reading))
    builder.scalar((*battery, 2), Kind.INTEGER, reading.seconds_on_battery)
    builder.scalar((*battery, 3), Kind.INTEGER, reading.runtime_seconds // 60)  # minutes
    builder.scalar((*battery, 4), Kind.INTEGER, int(reading.charge))
    builder.scalar((*battery, 5), Kind.INTEGER, _battery_decivolts(reading))  # 0.1 V
    builder.scalar((*battery, 6), Kind.INTEGER, _battery_deciamps(reading))  # 0.1 A
    builder.scalar((*battery, 7), Kind.INTEGER, 0)  # no battery sensor: reads 0

    on_mains = reading.mains
    watts = _output_watts(reading)
    # During a test the mains is there (voltage, frequency) but the battery carries the load.
    input_watts = round(watts * 1.05) if on_mains and not reading.load_on_battery else 0
    inputs = (*UPS_MIB, 3)
    builder.scalar((*inputs, 1), Kind.COUNTER, reading.input_line_bads)
    builder.scalar((*inputs, 2), Kind.INTEGER, LINE_COUNT)
    input_entry = (*inputs, 3, 1)
    builder.column(
        (*input_entry, 2), Kind.INTEGER, _per_line(NOMINAL_FREQUENCY_TENTHS if on_mains else 0)
    )
    builder.column((*input_entry, 3), Kind.INTEGER, _per_line(NOMINAL_VOLTAGE if on_mains else 0))
    builder.column(
        (*input_entry, 4), Kind.INTEGER, _per_line(round(10 * input_watts / NOMINAL_VOLTAGE))
    )
    builder.column((*input_entry, 5), Kind.INTEGER, _per_line(input_watts))

    output_live = _output_source(reading) != SOURCE_NONE
    outputs = (*UPS_MIB, 4)
    builder.scalar((*outputs, 1), Kind.INTEGER, _output_source(reading))
    builder.scalar((*outputs, 2), Kind.INTEGER, NOMINAL_FREQUENCY_TENTHS if output_live else 0)
    builder.scalar((*outputs, 3), Kind.INTEGER, LINE_COUNT)
    output_entry = (*outputs, 4, 1)
    builder.column(
        (*output_entry, 2), Kind.INTEGER, _per_line(NOMINAL_VOLTAGE if output_live else 0)
    )
    builder.column((*output_entry, 3), Kind.INTEGER, _per_line(round(10 * watts / NOMINAL_VOLTAGE)))
    builder.column((*output_entry, 4), Kind.INTEGER, _per_line(watts))
    builder.column(
        (*output_entry, 5), Kind.INTEGER, _per_line(round(reading.load) if output_live else 0)
    )

    bypass = (*UPS_MIB, 5)
    builder.scalar((*bypass, 1), Kind.INTEGER, NOMINAL_FREQUENCY_TENTHS if on_mains else 0)
    builder.scalar((*bypass, 2), Kind.INTEGER, 1)
    bypass_entry = (*bypass, 3, 1)
    builder.column((*bypass_entry, 2), Kind.INTEGER, {1: NOMINAL_VOLTAGE if on_mains else 0})
    builder.column((*bypass_entry, 3), Kind.INTEGER, {1: 0})
    builder.column((*bypass_entry, 4), Kind.INTEGER, {1: 0})

    alarms = (*UPS_MIB, 6)
    builder.scalar((*alarms, 1), Kind.GAUGE, len(reading.alarms))
    alarm_entry = (*alarms, 2, 1)
    uptime = reading.card_uptime_seconds
    builder.column(
        (*alarm_entry, 1), Kind.INTEGER, {a.alarm_id: a.alarm_id for a in reading.alarms}
    )
    builder.column(
        (*alarm_entry, 2),
        Kind.OID,
        {a.alarm_id: (*WELL_KNOWN_ALARMS, a.kind.well_known) for a in reading.alarms},
    )
    # Time = sysUpTime when the alarm appeared; `since` is on the model clock, so turn
    # it into card uptime through the present uptime.
    now_offset = _alarm_clock_offset(reading)
    builder.column(
        (*alarm_entry, 3),
        Kind.TIMETICKS,
        {a.alarm_id: _ticks(max(0.0, min(uptime, a.since - now_offset))) for a in reading.alarms},
    )

    test = (*UPS_MIB, 7)
    last = reading.test
    builder.scalar(
        (*test, 1), Kind.OID, UPS_TEST_IDS[last.kind] if last else UPS_TEST_NO_TESTS_INITIATED
    )
    builder.scalar((*test, 2), Kind.INTEGER, 2)  # upsTestSpinLock
    builder.scalar((*test, 3), Kind.INTEGER, test_status(reading))
    builder.scalar((*test, 4), Kind.STRING, _test_detail(reading))
    # upsTestStartTime: sysUpTime at the start (0 before any test, or from before a card
    # reboot); upsTestElapsedTime: TimeInterval, centiseconds, while it runs or until it ended.
    started = 0.0 if last is None else last.started_at - _alarm_clock_offset(reading)
    builder.scalar((*test, 5), Kind.TIMETICKS, _ticks(max(0.0, started)))
    elapsed = 0.0
    if last is not None:
        elapsed = (last.ended_at if last.ended_at is not None else reading.clock_now)
        elapsed -= last.started_at
    builder.scalar((*test, 6), Kind.INTEGER, int(elapsed * 100))

    control = (*UPS_MIB, 8)
    builder.scalar((*control, 1), Kind.INTEGER, 1)  # upsShutdownType output(1)
    builder.scalar((*control, 2), Kind.INTEGER, -1)  # no shutdown countdown
    builder.scalar((*control, 3), Kind.INTEGER, -1)
    builder.scalar((*control, 4), Kind.INTEGER, -1)
    builder.scalar((*control, 5), Kind.INTEGER, 1)  # upsAutoRestart on(1)

    config = (*UPS_MIB, 9)
    builder.scalar((*config, 1), Kind.INTEGER, NOMINAL_VOLTAGE)
    builder.scalar((*config, 2), Kind.INTEGER, NOMINAL_FREQUENCY_TENTHS)
    builder.scalar((*config, 3), Kind.INTEGER, NOMINAL_VOLTAGE)
    builder.scalar((*config, 4), Kind.INTEGER, NOMINAL_FREQUENCY_TENTHS)
    builder.scalar((*config, 5), Kind.INTEGER, RATED_POWER_WATTS)  # VA
    builder.scalar((*config, 6), Kind.INTEGER, RATED_POWER_WATTS)  # W
    builder.scalar((*config, 7), Kind.INTEGER, reading.low_battery_minutes)  # minutes
    builder.scalar((*config, 8), Kind.INTEGER, 2)  # audible enabled(2)
    builder.scalar((*config, 9), Kind.INTEGER, 160)
    builder.scalar((*config, 10), Kind.INTEGER, 288)


def test_status(reading: UpsReading) -> int:
    """upsTestResultsSummary and physicalBatteryTestStatus (the same numbers)."""
    if reading.test_running:
        return TEST_IN_PROGRESS
    if reading.has_alarm("self_test_failed"):
        return TEST_ERROR
    if reading.test is not None and reading.test.result is not None:
        return TEST_RESULT_NUMBERS[reading.test.result]
    return TEST_PASSED  # as the card shipped: its factory test passed


def _test_detail(reading: UpsReading) -> str:
    if reading.test_running:
        return "Battery test in progress"
    if reading.has_alarm("self_test_failed"):
        return TEST_RESULT_TEXTS["failed"]
    if reading.test is not None and reading.test.result is not None:
        return TEST_RESULT_TEXTS[reading.test.result]
    return TEST_RESULT_TEXTS["passed"]


def _alarm_clock_offset(reading: UpsReading) -> float:
    """Model-clock time of the card's boot, derived from the reading's own numbers."""
    return reading.clock_now - reading.card_uptime_seconds


def global_status(reading: UpsReading) -> int:
    if any(alarm.kind.critical for alarm in reading.alarms):
        return GLOBAL_CRITICAL
    if reading.alarms:
        return GLOBAL_NON_CRITICAL
    return GLOBAL_OK


def dell_alarm_string(reading: UpsReading) -> str:
    """physicalUPSAlarmsStatus: the active trap numbers, ascending, comma-separated."""
    traps = {alarm.kind.dell_trap for alarm in reading.alarms if alarm.kind.dell_trap}
    return ",".join(str(trap) for trap in sorted(traps))


def _dell_mib(builder: _Builder, reading: UpsReading) -> None:
    product = (*DELL_UPS, 100)
    builder.scalar((*product, 1), Kind.STRING, MODEL_NAME)
    builder.scalar((*product, 2), Kind.STRING, MODEL_NAME)
    builder.scalar((*product, 3), Kind.STRING, "Dell Inc.")
    builder.scalar((*product, 4), Kind.STRING, "01.14")
    builder.scalar((*product, 5), Kind.STRING, "0006")

    builder.scalar((*DELL_UPS, 110, 1), Kind.INTEGER, global_status(reading))

    physical = (*DELL_UPS, 120)
    builder.scalar((*physical, 1, 1), Kind.STRING, "Dell UPS")
    builder.scalar((*physical, 1, 2), Kind.STRING, "CN-0J5R3K-75162-1AB-0042")
    # One-hour rolling average: reads 0 during the card's first hour.
    average_watts = _output_watts(reading) if reading.card_uptime_seconds >= HOUR else 0
    builder.scalar((*physical, 2, 6), Kind.INTEGER, average_watts)
    builder.scalar((*physical, 4, 2), Kind.STRING, dell_alarm_string(reading))
    builder.scalar((*physical, 4, 3), Kind.INTEGER, NO_COUNTDOWN)
    if reading.load_on_battery:
        abm = ABM_DISCHARGING
    elif reading.charge < 100.0:
        abm = ABM_CHARGING
    else:
        abm = ABM_FLOATING
    builder.scalar((*physical, 5, 1), Kind.INTEGER, abm)
    builder.scalar((*physical, 5, 2), Kind.INTEGER, test_status(reading))
    builder.scalar((*physical, 5, 3), Kind.INTEGER, reading.runtime_seconds)  # seconds
    builder.scalar((*physical, 7, 1), Kind.INTEGER, 1)  # one probe present
    builder.scalar((*physical, 7, 3, 1), Kind.INTEGER, 1)  # celsius(1)
    builder.scalar((*physical, 7, 3, 2), Kind.INTEGER, round(reading.temperature * 10))  # 0.1 °
    builder.scalar((*physical, 7, 3, 3), Kind.INTEGER, 452)  # humidity 0.1 %
