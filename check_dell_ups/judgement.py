"""Judging a UpsReading with nagiosplugin: Resource -> Metrics, Contexts -> states,
Summary -> the words.

Thresholded values become perfdata metrics; states that come from enums and alarms become
`Finding` metrics without perfdata. A value the UPS does not report yields no metric at
all, so it never turns into UNKNOWN and never masks a known problem.
"""

from __future__ import annotations

from collections.abc import Iterator

from nagiosplugin import Check, Context, Metric, Performance, Resource, Result, Summary
from nagiosplugin.range import Range
from nagiosplugin.state import Critical, Ok, ServiceState, Warn

from check_dell_ups.alarms import (
    BATTERY_STATUS_PROBLEMS,
    BATTERY_STATUS_STATES,
    GLOBAL_STATUS_STATES,
    OUTPUT_SOURCE_STATES,
    SELF_TEST_STATES,
)
from check_dell_ups.reading import UpsReading
from check_dell_ups.record import Record
from check_dell_ups.thresholds import Thresholds

CHECK_NAME = "dell ups"
# DESIGN.md "States": a test with mains present is no outage, and says so.
BATTERY_TEST_TEXT = "battery test in progress (load on battery, mains present)"


def duration(seconds: float) -> str:
    """125 -> '2m05s', 45 -> '45s', 3725 -> '1h02m05s'."""
    seconds = int(seconds)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{sign}{minutes}m{secs:02d}s"
    return f"{sign}{secs}s"


def number(value: float) -> int | float:
    """A value for perfdata and text: whole numbers without '.0', others to 0.1."""
    if isinstance(value, int):
        return value
    rounded = round(value, 1)
    return int(rounded) if rounded == int(rounded) else rounded


class Finding(Record):
    """A state that comes from an enum or an alarm, not from a threshold."""

    state: ServiceState
    problem: str | None


# --- how each perfdata label is worded ---------------------------------------------------

def _quantity(label: str, value: float) -> str:
    """A value of a perfdata label in words: '2m05s', '35%', '24.5 C', '230 V'."""
    if label in ("runtime", "on_battery"):
        return duration(value)
    if label in ("charge", "load"):
        return f"{number(value)}%"
    if label == "temperature":
        return f"{number(value)} C"
    if label.endswith("voltage"):
        return f"{number(value)} V"
    return f"{number(value)}"


def _describe(label: str, value: float, at_least: bool = False) -> str:
    prefix = "at least " if at_least else ""
    return f"{label.replace('_', ' ')} {prefix}{_quantity(label, value)}"


def _violation(label: str, limit: Range, value: float) -> str:
    if limit.invert:
        return f"inside {limit}"
    if value < limit.start:
        return f"below {_quantity(label, limit.start)}"
    return f"above {_quantity(label, limit.end)}"


class ThresholdContext(Context):
    """A perfdata value judged against optional warning/critical ranges."""

    def __init__(self, label: str, thresholds: Thresholds, judged_only_on_battery: bool = False):
        super().__init__(label)
        self.thresholds = thresholds
        self.judged_only_on_battery = judged_only_on_battery

    def _judged(self, resource: UpsResource | None) -> bool:
        if not self.judged_only_on_battery:
            return True
        return resource is not None and bool(resource.reading.on_battery)

    def evaluate(self, metric: Metric, resource: UpsResource) -> Result:
        if not self._judged(resource):
            return Result(Ok, None, metric)
        at_least = self.name == "runtime" and resource.reading.runtime_at_least
        for state, limit in ((Critical, self.thresholds.critical),
                             (Warn, self.thresholds.warning)):
            if limit is not None and not limit.match(metric.value):
                hint = (f"{_describe(self.name, metric.value, at_least)} "
                        f"{_violation(self.name, limit, metric.value)}")
                return Result(state, hint, metric)
        return Result(Ok, None, metric)

    def performance(self, metric: Metric, resource: UpsResource) -> Performance:
        judged = self._judged(resource)
        warning = self.thresholds.warning if judged else None
        critical = self.thresholds.critical if judged else None
        return Performance(metric.name, metric.value, metric.uom, warning, critical,
                           metric.min, metric.max)


class OnBatteryContext(ThresholdContext):
    """On mains: OK whatever the ranges. On battery: the ranges (by default WARNING, and
    CRITICAL from the maintenance timer on)."""

    def __init__(self, thresholds: Thresholds, timer_critical: bool):
        super().__init__("on_battery", thresholds)
        self.timer_critical = timer_critical

    def evaluate(self, metric: Metric, resource: UpsResource) -> Result:
        if metric.value == 0:
            return Result(Ok, None, metric)
        critical, warning = self.thresholds.critical, self.thresholds.warning
        if critical is not None and not critical.match(metric.value):
            hint = ("maintenance timer reached" if self.timer_critical else
                    f"on battery {_violation(self.name, critical, metric.value)}")
            return Result(Critical, hint, metric)
        if warning is not None and not warning.match(metric.value):
            return Result(Warn, None, metric)  # the summary's head already says it
        return Result(Ok, None, metric)


class FindingContext(Context):
    def __init__(self) -> None:
        super().__init__("finding")

    def evaluate(self, metric: Metric, resource: UpsResource) -> Result:
        finding: Finding = metric.value
        return Result(finding.state, finding.problem, metric)


# --- the resource -------------------------------------------------------------------------

class UpsResource(Resource):
    def __init__(self, reading: UpsReading):
        self.reading = reading

    @property
    def name(self) -> str:
        return CHECK_NAME

    def probe(self) -> Iterator[Metric]:
        yield from self._perfdata_metrics()
        yield from self._findings()

    def _perfdata_metrics(self) -> Iterator[Metric]:
        r = self.reading
        values = (
            ("on_battery", r.on_battery_seconds, "s", 0, None),
            ("runtime", r.runtime, "s", 0, None),
            ("charge", r.charge, "%", 0, 100),
            ("load", r.load, "%", 0, None),
            ("temperature", r.temperature, None, None, None),
            ("input_voltage", r.input_voltage, "V", None, None),
            ("output_voltage", r.output_voltage, "V", None, None),
            ("alarms", r.alarm_count, None, 0, None),
        )
        for label, value, uom, minimum, maximum in values:
            if value is not None:
                yield Metric(label, number(value), uom, minimum, maximum, context=label)

    def _findings(self) -> Iterator[Metric]:
        r = self.reading
        findings: list[tuple[str, Finding]] = []
        if r.battery_status is not None:
            findings.append(("battery_status", Finding(
                BATTERY_STATUS_STATES.get(r.battery_status, Ok),
                BATTERY_STATUS_PROBLEMS.get(r.battery_status))))
        if r.output_source in OUTPUT_SOURCE_STATES:
            state, problem = OUTPUT_SOURCE_STATES[r.output_source]
            findings.append(("output_source", Finding(state, problem)))
        if r.global_status is not None:
            state = GLOBAL_STATUS_STATES.get(r.global_status, Ok)
            if r.battery_test and r.global_status == "non-critical":
                # The card rates its own OnBattery/TestInProgress alarms non-critical; any
                # real problem during the test has an alarm of its own, judged as such.
                state = Ok
            findings.append(("global_status", Finding(
                state, None if state == Ok else f"global status {r.global_status}")))
        if r.self_test is not None:
            state = SELF_TEST_STATES.get(r.self_test, Ok)
            findings.append(("self_test", Finding(
                state, None if state == Ok else f"self-test {_self_test_words(r.self_test)}")))
        for alarm in r.alarms:
            findings.append((f"alarm {alarm.source} {alarm.code}",
                             Finding(alarm.kind.state, alarm.kind.problem)))
        for name, finding in findings:
            yield Metric(name, finding, context="finding")


def _self_test_words(result: str) -> str:
    return {"doneWarning": "warning", "doneError": "failed"}.get(result, result)


# --- the words -----------------------------------------------------------------------------

class UpsSummary(Summary):
    def __init__(self, reading: UpsReading, maintenance_timer: int):
        self.reading = reading
        self.maintenance_timer = maintenance_timer

    def head(self) -> str:
        r = self.reading
        parts = [self.power_source()]
        if r.charge is not None:
            parts.append(f"charge {number(r.charge)}%")
        if r.runtime is not None:
            parts.append(f"runtime {'at least ' if r.runtime_at_least else ''}"
                         f"{duration(r.runtime)}")
        if r.load is not None:
            parts.append(f"load {number(r.load)}%")
        return ", ".join(parts)

    def power_source(self) -> str:
        r = self.reading
        if r.on_battery is None:
            return "output off, no input power" if r.output_source == "none" else (
                "power source unknown")
        if not r.on_battery:
            if r.battery_test and r.load_on_battery:
                return BATTERY_TEST_TEXT
            return "on mains, battery test in progress" if r.battery_test else "on mains"
        seconds = duration(r.on_battery_seconds or 1)
        text = f"on battery for {seconds}"
        if self.maintenance_timer >= 0:
            text += f" of {duration(self.maintenance_timer)} maintenance timer"
        if r.test_in_progress:
            text += " (mains failed during a battery test)"
        if r.counter_restarted:
            text += " (the card's counter reads 0)"
        return text

    @staticmethod
    def problems(results) -> str:
        """'CRITICAL: a, b; WARNING: c': each problem once, at its worst state. The Dell
        global status is named only when nothing else explains its state."""
        non_ok = [result for result in results if result.state != Ok]  # worst first
        by_state: dict[str, list[str]] = {}
        seen: set[str] = set()
        for result in non_ok:
            if not result.hint or result.hint in seen:
                continue
            if result.metric is not None and result.metric.name == "global_status" and any(
                other is not result and other.state >= result.state for other in non_ok
            ):
                continue
            seen.add(result.hint)
            by_state.setdefault(str(result.state).upper(), []).append(result.hint)
        return "; ".join(f"{state}: {', '.join(words)}" for state, words in by_state.items())

    def empty(self) -> str:
        return "the UPS reported none of the values this check reads"

    def ok(self, results) -> str:
        return self.head()

    def problem(self, results) -> str:
        problems = self.problems(results)
        return self.head() + (f"; {problems}" if problems else "")

    def verbose(self, results) -> list[str]:
        from check_dell_ups.longoutput import long_output

        return long_output(self.reading, results)


def build_check(reading: UpsReading, thresholds: dict[str, Thresholds],
                maintenance_timer: int, timer_critical: bool = True) -> Check:
    """A nagiosplugin Check for one reading; call it, then read state/results/perfdata."""
    contexts: list[Context] = [OnBatteryContext(thresholds["on_battery"], timer_critical)]
    for label, limits in thresholds.items():
        if label != "on_battery":
            contexts.append(ThresholdContext(label, limits,
                                             judged_only_on_battery=(label == "runtime")))
    contexts.append(FindingContext())
    return Check(UpsResource(reading), *contexts, UpsSummary(reading, maintenance_timer),
                 name=CHECK_NAME)
