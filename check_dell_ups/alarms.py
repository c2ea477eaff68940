"""Which active alarm means which state: the two alarm tables and the status enums.

UPS-MIB alarms arrive as rows of upsAlarmTable whose Descr is a well-known alarm OID
(1.3.6.1.2.1.33.1.6.3.N). Dell cards also list the numbers of the active traps in
physicalUPSAlarmsStatus ("1,5,23,57"). Both are mapped here; equivalent alarms share one
`problem` wording so that the summary names each problem once.

The power source (on battery) is judged from the time on battery and the maintenance
timer, not from the OnBattery alarms, so those are OK here.
"""

from __future__ import annotations

from nagiosplugin.state import Critical, Ok, ServiceState, Warn

from check_dell_ups.mibs.ups_mib import WELL_KNOWN_ALARMS
from check_dell_ups.record import Record


class AlarmKind(Record):
    name: str  # the MIB's own name
    problem: str  # the words in the summary
    state: ServiceState


def _kind(name: str, problem: str, state: ServiceState) -> AlarmKind:
    return AlarmKind(name, problem, state)


# UPS-MIB well-known alarms, upsWellKnownAlarms.N (RFC 1628 section 6.3).
UPS_MIB_ALARMS: dict[int, AlarmKind] = {
    1: _kind("upsAlarmBatteryBad", "replace battery", Warn),
    2: _kind("upsAlarmOnBattery", "on battery", Ok),
    3: _kind("upsAlarmLowBattery", "battery low", Critical),
    4: _kind("upsAlarmDepletedBattery", "battery depleted", Critical),
    5: _kind("upsAlarmTempBad", "temperature out of tolerance", Warn),
    6: _kind("upsAlarmInputBad", "input out of tolerance", Warn),
    7: _kind("upsAlarmOutputBad", "output out of tolerance", Critical),
    8: _kind("upsAlarmOutputOverload", "overload", Critical),
    9: _kind("upsAlarmOnBypass", "on bypass", Warn),
    10: _kind("upsAlarmBypassBad", "bypass out of tolerance", Warn),
    11: _kind("upsAlarmOutputOffAsRequested", "output off", Critical),
    12: _kind("upsAlarmUpsOffAsRequested", "UPS off", Critical),
    13: _kind("upsAlarmChargerFailed", "charger failure", Warn),
    14: _kind("upsAlarmUpsOutputOff", "output off", Critical),
    15: _kind("upsAlarmUpsSystemOff", "UPS off", Critical),
    16: _kind("upsAlarmFanFailure", "fan failure", Warn),
    17: _kind("upsAlarmFuseFailure", "fuse failure", Critical),
    18: _kind("upsAlarmGeneralFault", "general fault", Warn),
    19: _kind("upsAlarmDiagnosticTestFailed", "self-test failed", Warn),
    20: _kind("upsAlarmCommunicationsLost", "communication with the UPS lost", Warn),
    21: _kind("upsAlarmAwaitingPower", "output off awaiting power", Critical),
    22: _kind("upsAlarmShutdownPending", "shutdown pending", Critical),
    23: _kind("upsAlarmShutdownImminent", "shutdown imminent", Critical),
    24: _kind("upsAlarmTestInProgress", "test in progress", Ok),
}

# Dell physicalUPSAlarmsStatus: numbers of the active traps (DELL-SNMP-UPS-MIB, trap N).
DELL_ALARMS: dict[int, AlarmKind] = {
    1: _kind("trapInverterOverVoltage", "inverter over voltage", Critical),
    3: _kind("trapInverterUnderVoltage", "inverter under voltage", Critical),
    5: _kind("trapBypassFrequencyOutOfRange", "bypass out of tolerance", Warn),
    7: _kind("trapOnBuck", "on buck", Ok),
    9: _kind("trapOnBoost", "on boost", Ok),
    11: _kind("trapInputOverVoltage", "input over voltage", Warn),
    13: _kind("trapInputUnderVoltage", "input under voltage", Warn),
    15: _kind("trapInputFrequencyOutOfRange", "input frequency out of range", Warn),
    17: _kind("trapRemoteEmergencyPowerOff", "remote emergency power off", Critical),
    19: _kind("trapLevel1Overload", "overload", Critical),
    21: _kind("trapLevel2Overload", "overload", Critical),
    23: _kind("trapLevel3Overload", "overload", Critical),
    25: _kind("trapPosDCLinkOverVoltage", "DC link over voltage", Critical),
    27: _kind("trapPosDCLinkUnderVoltage", "DC link under voltage", Critical),
    29: _kind("trapNegDCLinkOverVoltage", "DC link over voltage", Critical),
    31: _kind("trapNegDCLinkUnderVoltage", "DC link under voltage", Critical),
    33: _kind("trapRectifierFault", "rectifier fault", Critical),
    35: _kind("trapInverterFault", "inverter fault", Critical),
    37: _kind("trapChargerFailure", "charger failure", Warn),
    39: _kind("trapEepromFailure", "EEPROM failure", Warn),
    41: _kind("trapShutdownImminent", "shutdown imminent", Critical),
    43: _kind("trapBatteryLow", "battery low", Critical),
    45: _kind("trapOutputShortCircuit", "output short circuit", Critical),
    47: _kind("trapUtilityNotPresent", "utility not present", Warn),
    49: _kind("trapBatteryOverVoltage", "battery over voltage", Warn),
    51: _kind("trapHeatsinkOvertemperature", "over temperature", Warn),
    53: _kind("trapBypassNotAvailable", "bypass not available", Warn),
    55: _kind("trapOnManualBypass", "on bypass", Warn),
    57: _kind("trapUPSOnBattery", "on battery", Ok),
    59: _kind("trapUPSOnBypass", "on bypass", Warn),
    61: _kind("trapBatteryTestInProgress", "test in progress", Ok),
    63: _kind("trapBatteryNeedReplacement", "replace battery", Warn),
    65: _kind("trapFanFailure", "fan failure", Warn),
    67: _kind("trapSiteWiringFault", "site wiring fault", Warn),
    69: _kind("trapBatteryDisconnected", "battery disconnected", Critical),
    71: _kind("trapUPSOff", "UPS off", Critical),
    73: _kind("trapDCLinkImbalance", "DC link imbalance", Warn),
    81: _kind("trapLoadSegment1Off", "load segment 1 off", Warn),
    83: _kind("trapLoadSegment2Off", "load segment 2 off", Warn),
    85: _kind("trapInHighEfficiencyMode", "high-efficiency mode", Ok),
    87: _kind("trapRectifierOverload", "overload", Critical),
    89: _kind("trapInverterOverload", "overload", Critical),
    91: _kind("trapBypassVoltageOutOfRange", "bypass out of tolerance", Warn),
    93: _kind("trapServiceBattery", "service battery", Warn),
    96: _kind("trapCommunicationLost", "communication with the UPS lost", Warn),
    98: _kind("trapEnvironComFailure", "environment probe communication failure", Warn),
    100: _kind("trapEnvironTemperatureLow", "probe temperature low", Warn),
    102: _kind("trapEnvironTemperatureHigh", "probe temperature high", Warn),
    104: _kind("trapEnvironHumidityLow", "probe humidity low", Warn),
    106: _kind("trapEnvironHumidityHigh", "probe humidity high", Warn),
}

# What an alarm we have no entry for means: something is wrong, we cannot say how badly.
UNKNOWN_ALARM_STATE: ServiceState = Warn

# Dell productStatusGlobalStatus.
GLOBAL_STATUS_STATES: dict[str, ServiceState] = {
    "other": Ok,
    "unknown": Ok,
    "ok": Ok,
    "non-critical": Warn,
    "critical": Critical,
    "non-recoverable": Critical,
}

# Self-test results: UPS-MIB upsTestResultsSummary and Dell physicalBatteryTestStatus.
SELF_TEST_STATES: dict[str, ServiceState] = {
    "donePass": Ok,
    "donePassed": Ok,
    "doneWarning": Warn,
    "doneError": Warn,  # like upsAlarmDiagnosticTestFailed: the battery needs service
    "aborted": Ok,
    "inProgress": Ok,
    "noTestsInitiated": Ok,
    "noTestInitiated": Ok,
    "testScheduled": Ok,
}

# UPS-MIB upsBatteryStatus.
BATTERY_STATUS_STATES: dict[str, ServiceState] = {
    "unknown": Ok,
    "batteryNormal": Ok,
    "batteryLow": Critical,
    "batteryDepleted": Critical,
}
BATTERY_STATUS_PROBLEMS = {"batteryLow": "battery low", "batteryDepleted": "battery depleted"}

# UPS-MIB upsOutputSource, beyond the power source itself.
OUTPUT_SOURCE_STATES: dict[str, tuple[ServiceState, str]] = {
    "none": (Critical, "output off"),
    "bypass": (Warn, "on bypass"),
}


class ActiveAlarm(Record):
    source: str  # "UPS-MIB" or "Dell"
    code: str  # well-known alarm number, Dell trap number, or a vendor OID
    kind: AlarmKind

    @property
    def label(self) -> str:
        """How -v names it: 'upsAlarmBatteryBad (UPS-MIB 1): replace battery'."""
        return f"{self.kind.name} ({self.source} {self.code}): {self.kind.problem}"


def well_known_number(descr_oid: str) -> int | None:
    """N of a well-known alarm OID 1.3.6.1.2.1.33.1.6.3.N (a trailing .0 tolerated)."""
    prefix = WELL_KNOWN_ALARMS + "."
    if not descr_oid.startswith(prefix):
        return None
    head = descr_oid[len(prefix):].split(".", maxsplit=1)[0]
    return int(head) if head.isdigit() else None


def is_empty_alarm_row(descr_oid: str) -> bool:
    """Descr 0.0, 0.0.0.0... (or nothing) marks an unused alarm row."""
    return not descr_oid.strip(".") or set(descr_oid.replace(".", "")) <= {"0"}


def classify_ups_mib_alarm(descr_oid: str) -> ActiveAlarm:
    number = well_known_number(descr_oid)
    if number is not None and number in UPS_MIB_ALARMS:
        return ActiveAlarm("UPS-MIB", str(number), UPS_MIB_ALARMS[number])
    return ActiveAlarm(
        "UPS-MIB", descr_oid, AlarmKind("vendorAlarm", f"alarm {descr_oid}", UNKNOWN_ALARM_STATE)
    )


def classify_dell_alarm(number: int) -> ActiveAlarm:
    kind = DELL_ALARMS.get(number)
    if kind is None:
        kind = AlarmKind("trap", f"Dell alarm {number}", UNKNOWN_ALARM_STATE)
    return ActiveAlarm("Dell", str(number), kind)


def parse_dell_alarm_string(text: str) -> tuple[int, ...]:
    """'1,5,23,57' -> (1, 5, 23, 57); junk between the numbers is ignored."""
    numbers: list[int] = []
    for part in text.replace(";", ",").replace(" ", ",").split(","):
        digits = part.strip()
        if digits.isdigit() and int(digits) not in numbers:
            numbers.append(int(digits))
    return tuple(numbers)


DELL_ON_BATTERY = 57
DELL_UTILITY_NOT_PRESENT = 47
UPS_MIB_ON_BATTERY = 2
UPS_MIB_AWAITING_POWER = 21

# A battery test or runtime calibration is running (besides the two test status enums).
UPS_MIB_TEST_IN_PROGRESS = frozenset({24})  # upsAlarmTestInProgress
DELL_TEST_IN_PROGRESS = frozenset({61})  # trapBatteryTestInProgress
# The input is missing or out of tolerance: with any of these, a load on battery is an
# outage even while a test is flagged (the test may be why the UPS is on battery, but the
# mains could not take the load back).
UPS_MIB_INPUT_FAILURE = frozenset({6, 21})  # upsAlarmInputBad, upsAlarmAwaitingPower
DELL_INPUT_FAILURE = frozenset({11, 13, 15, 47})  # input over/under voltage, frequency,
#                                                   utility not present
