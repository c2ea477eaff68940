"""RFC 1628 UPS-MIB (1.3.6.1.2.1.33.1): the values every UPS card serves.

Units after decoding: seconds, minutes (estimated_minutes_remaining only), %, V, A, Hz, W,
degrees Celsius. The alarm table's Descr column is fetched as a column (see COLUMNS).
"""

from __future__ import annotations

from check_dell_ups.mibs import Field, per_line

PREFIX = "1.3.6.1.2.1.33"
UPS = "1.3.6.1.2.1.33.1"
WELL_KNOWN_ALARMS = f"{UPS}.6.3"
ALARM_DESCR_COLUMN = f"{UPS}.6.2.1.2"
COLUMNS = (ALARM_DESCR_COLUMN,)

BATTERY_STATUS = {1: "unknown", 2: "batteryNormal", 3: "batteryLow", 4: "batteryDepleted"}
OUTPUT_SOURCE = {
    1: "other", 2: "none", 3: "normal", 4: "bypass", 5: "battery", 6: "booster", 7: "reducer",
}
TEST_RESULTS = {
    1: "donePass", 2: "doneWarning", 3: "doneError", 4: "aborted", 5: "inProgress",
    6: "noTestsInitiated",
}

# 0 is "no sensor" for temperatures, 999 a common "no value" of cheap firmwares.
_NO_SENSOR = frozenset({0, 999})
# Voltages: the MIB says whole volts, some cards send tenths (2360 = 236.0 V). No UPS
# line reaches 700 V (three-phase lines go to 600 V) and no mains runs below 70 V (the
# lowest is 100 V), so a first-line value from 700 up can only be tenths.
_VOLTS_IN_TENTHS_FROM = 700
# Minutes remaining that mean "at least": 65535 s / 60 and the 3-digit display limit.
_MINUTES_SATURATED = frozenset({1092, 999, 65535})

TABLE: tuple[Field, ...] = (
    Field("manufacturer", f"{UPS}.1.1.0", kind="text"),
    Field("model", f"{UPS}.1.2.0", kind="text"),
    Field("ups_software_version", f"{UPS}.1.3.0", kind="text"),
    Field("agent_software_version", f"{UPS}.1.4.0", kind="text"),
    Field("name", f"{UPS}.1.5.0", kind="text"),
    Field("battery_status", f"{UPS}.2.1.0", kind="enum", enum=BATTERY_STATUS),
    Field("seconds_on_battery", f"{UPS}.2.2.0", unit="s", valid=(0, 10**9)),
    Field(
        "estimated_minutes_remaining", f"{UPS}.2.3.0", unit="min",
        saturated=_MINUTES_SATURATED, valid=(0, 10**6),
    ),
    Field(
        "estimated_charge_remaining", f"{UPS}.2.4.0", unit="%", not_reported=frozenset({999}),
        valid=(0, 100),
    ),
    Field("battery_voltage", f"{UPS}.2.5.0", scale=0.1, unit="V", not_reported=frozenset({0})),
    Field("battery_current", f"{UPS}.2.6.0", scale=0.1, unit="A"),
    Field(
        "battery_temperature", f"{UPS}.2.7.0", unit="C", not_reported=_NO_SENSOR,
        valid=(-50, 150),
    ),
    Field("input_num_lines", f"{UPS}.3.2.0", valid=(0, 64)),
    *per_line("input_frequency", f"{UPS}.3.3.1.2", scale=0.1, unit="Hz", whole_units_below=100),
    *per_line("input_voltage", f"{UPS}.3.3.1.3", unit="V", valid=(0, 100000),
             tenths_from=_VOLTS_IN_TENTHS_FROM),
    *per_line("input_current", f"{UPS}.3.3.1.4", scale=0.1, unit="A"),
    *per_line("input_true_power", f"{UPS}.3.3.1.5", unit="W"),
    Field("output_source", f"{UPS}.4.1.0", kind="enum", enum=OUTPUT_SOURCE),
    Field("output_frequency", f"{UPS}.4.2.0", scale=0.1, unit="Hz", whole_units_below=100),
    Field("output_num_lines", f"{UPS}.4.3.0", valid=(0, 64)),
    *per_line("output_voltage", f"{UPS}.4.4.1.2", unit="V", valid=(0, 100000),
             tenths_from=_VOLTS_IN_TENTHS_FROM),
    *per_line("output_current", f"{UPS}.4.4.1.3", scale=0.1, unit="A"),
    *per_line("output_power", f"{UPS}.4.4.1.4", unit="W"),
    *per_line(
        "output_percent_load", f"{UPS}.4.4.1.5", unit="%", not_reported=frozenset({999}),
        valid=(0, 1000),
    ),
    Field("alarms_present", f"{UPS}.6.1.0", valid=(0, 1000)),
    Field("test_results_summary", f"{UPS}.7.3.0", kind="enum", enum=TEST_RESULTS),
    Field("config_low_batt_time", f"{UPS}.9.7.0", unit="min", valid=(0, 10**6)),
)
