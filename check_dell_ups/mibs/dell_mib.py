"""DELL-SNMP-UPS-MIB (1.3.6.1.4.1.674.10902.2): what a Dell card adds to UPS-MIB.

Richer than UPS-MIB for: runtime in seconds, the alarm string (numbers of active traps),
the global status and the battery test status. Temperature is in tenths of a degree, in
the unit that temperature_unit names.
"""

from __future__ import annotations

from check_dell_ups.mibs import Field

PREFIX = "1.3.6.1.4.1.674.10902.2"
SYS_OBJECT_ID = PREFIX  # sysObjectID of a Dell UPS network management card

GLOBAL_STATUS = {
    1: "other", 2: "unknown", 3: "ok", 4: "non-critical", 5: "critical", 6: "non-recoverable",
}
ABM_STATUS = {1: "charging", 2: "discharging", 3: "floating", 4: "resting", 5: "off"}
BATTERY_TEST_STATUS = {
    1: "donePassed", 2: "doneWarning", 3: "doneError", 4: "aborted", 5: "inProgress",
    6: "noTestInitiated", 7: "testScheduled",
}
TEMPERATURE_UNIT = {1: "celsius", 2: "fahrenheit"}

TABLE: tuple[Field, ...] = (
    Field("display_name", f"{PREFIX}.100.1.0", kind="text"),
    Field("description", f"{PREFIX}.100.2.0", kind="text"),
    Field("version", f"{PREFIX}.100.4.0", kind="text"),
    Field("build_number", f"{PREFIX}.100.5.0", kind="text"),
    Field("global_status", f"{PREFIX}.110.1.0", kind="enum", enum=GLOBAL_STATUS),
    Field("serial_number", f"{PREFIX}.120.1.2.0", kind="text"),
    # A one-hour rolling average: 0 during the first hour after a start.
    Field("output_consumption", f"{PREFIX}.120.2.6.0", unit="W", not_reported=frozenset({0})),
    Field("alarms_status", f"{PREFIX}.120.4.2.0", kind="text"),
    Field("runtime_to_shutdown", f"{PREFIX}.120.4.3.0", unit="s", valid=(0, 10**9)),
    Field("abm_status", f"{PREFIX}.120.5.1.0", kind="enum", enum=ABM_STATUS),
    Field("battery_test_status", f"{PREFIX}.120.5.2.0", kind="enum", enum=BATTERY_TEST_STATUS),
    Field(
        "battery_seconds_remaining", f"{PREFIX}.120.5.3.0", unit="s",
        saturated=frozenset({65535}), valid=(0, 10**8),
    ),
    Field("environment_sensor_present", f"{PREFIX}.120.7.1.0"),
    Field("temperature_unit", f"{PREFIX}.120.7.3.1.0", kind="enum", enum=TEMPERATURE_UNIT),
    Field(
        "temperature", f"{PREFIX}.120.7.3.2.0", scale=0.1, not_reported=frozenset({0, 999, 9990}),
        valid=(-60, 300),
    ),
    Field(
        "humidity", f"{PREFIX}.120.7.3.3.0", scale=0.1, unit="%",
        not_reported=frozenset({0}), valid=(0, 100),
    ),
)
