"""The long output of -v: who the UPS is, every value it reported, alarms by name.
-vvv adds the raw SNMP values (the UPS's own data; no secrets ever reach this module)."""

from __future__ import annotations

from check_dell_ups.reading import Line, UpsReading


def _fmt(value: float | None, unit: str) -> str | None:
    if value is None:
        return None
    from check_dell_ups.judgement import number

    return f"{number(value)}{unit}"


def _join(*items: str | None) -> str:
    return ", ".join(item for item in items if item)


def _line(kind: str, line: Line) -> str:
    return f"{kind} line {line.number}: " + (_join(
        _fmt(line.voltage, " V"), _fmt(line.current, " A"), _fmt(line.power, " W"),
        _fmt(line.frequency, " Hz"),
        None if line.load is None else f"load {_fmt(line.load, '%')}",
    ) or "no values")


def _test_words(reading: UpsReading) -> str | None:
    """Why a running test is or is not an outage (the two signals that decide)."""
    if not reading.test_in_progress:
        return None
    load = "load on battery" if reading.load_on_battery else "load on mains"
    if reading.mains_present:
        return f"battery test in progress, {load}, mains present: no outage"
    return f"battery test in progress, {load}, mains not present: an outage"


def long_output(reading: UpsReading, results: object, raw_values: bool = False) -> list[str]:
    from check_dell_ups.judgement import duration

    r = reading
    lines = [
        "UPS: " + (_join(
            r.manufacturer, r.model, r.name and f"name {r.name}", r.serial and f"serial {r.serial}",
            r.firmware and f"firmware {r.firmware}",
            r.agent_firmware and f"agent {r.agent_firmware}",
        ) or "no identity reported"),
        "power: " + _join(
            f"output source {r.output_source or 'not reported'}",
            f"seconds on battery {r.seconds_on_battery_reported}"
            if r.seconds_on_battery_reported is not None else "seconds on battery not reported",
            "card counter restarted during this outage" if r.counter_restarted else None,
            _test_words(r),
        ),
        "battery: " + (_join(
            r.battery_status and f"status {r.battery_status}",
            _fmt(r.charge, "%") and f"charge {_fmt(r.charge, '%')}",
            r.runtime is not None and (
                f"runtime {'at least ' if r.runtime_at_least else ''}{duration(r.runtime)}"
                f" ({r.runtime_source})"),
            _fmt(r.battery_voltage, " V"), _fmt(r.battery_current, " A"),
            r.abm_status and f"ABM {r.abm_status}",
            r.runtime_to_shutdown is not None
            and f"shutdown in {duration(r.runtime_to_shutdown)}",
            r.low_battery_time is not None
            and f"low battery warning at {duration(r.low_battery_time)} runtime",
        ) or "no values"),
    ]
    if r.temperature is not None or r.humidity is not None:
        lines.append("environment: " + _join(
            r.temperature is not None and f"temperature {_fmt(r.temperature, ' C')}"
            f" ({r.temperature_source})",
            r.probe_temperature is not None and r.temperature_source != "probe"
            and f"probe temperature {_fmt(r.probe_temperature, ' C')}",
            _fmt(r.humidity, "%") and f"humidity {_fmt(r.humidity, '%')}",
        ))
    lines += [_line("input", line) for line in r.input_lines]
    lines += [_line("output", line) for line in r.output_lines]
    extra = _join(
        _fmt(r.output_frequency, " Hz") and f"output frequency {_fmt(r.output_frequency, ' Hz')}",
        _fmt(r.output_consumption, " W")
        and f"consumption {_fmt(r.output_consumption, ' W')} (1 h average)",
    )
    if extra:
        lines.append(extra)
    lines.append("status: " + _join(
        f"global status {r.global_status or 'not reported'}",
        f"self-test {r.self_test} ({r.self_test_source})" if r.self_test
        else "self-test not reported",
    ))
    if r.alarms:
        lines.append("active alarms (UPS-MIB alarm table, Dell alarm string):")
        lines += [f"  {alarm.label} [{str(alarm.kind.state).upper()}]" for alarm in r.alarms]
    else:
        lines.append("active alarms: none" if r.alarm_count is not None
                     else "active alarms: not reported")
    if raw_values:
        lines.append("SNMP values:")
        lines += [f"  {oid} = {r.raw[oid]!r}" for oid in sorted(r.raw, key=_oid_key)]
    return lines


def _oid_key(oid: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in oid.split("."))
