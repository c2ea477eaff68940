"""Default thresholds and the -w/-c LABEL=RANGE overrides (Nagios range syntax).

A range *matches* the values that are fine; a value outside it raises the state (as in
the Monitoring Plugins guidelines): `50:` = alert below 50, `80` = alert above 80.
"""

from __future__ import annotations

from collections.abc import Iterable

from nagiosplugin.range import Range

from check_dell_ups.record import Record

# The perfdata labels of DESIGN.md, in the order they are printed.
LABELS = (
    "on_battery",
    "runtime",
    "charge",
    "load",
    "temperature",
    "input_voltage",
    "output_voltage",
    "alarms",
)

DEFAULT_WARNING = {"charge": "50:", "runtime": "600:", "load": "80", "temperature": "35"}
DEFAULT_CRITICAL = {"charge": "25:", "runtime": "300:", "load": "90", "temperature": "40"}
DEFAULT_MAINTENANCE_TIMER = 300


class ThresholdError(ValueError):
    """A -w/-c argument that is not LABEL=RANGE with a known label and a valid range."""


class Thresholds(Record):
    """warning and critical Range (or None = not judged) for one label."""

    warning: Range | None
    critical: Range | None


def parse_range(text: str) -> Range:
    try:
        return Range(text)
    except (ValueError, TypeError) as error:
        raise ThresholdError(f"invalid range '{text}': {error}") from None


def parse_override(text: str) -> tuple[str, Range | None]:
    """'charge=40:' -> ('charge', Range('40:')); 'load=' -> ('load', None) (not judged)."""
    label, separator, spec = text.partition("=")
    label = label.strip()
    if not separator:
        raise ThresholdError(f"'{text}' is not LABEL=RANGE")
    if label not in LABELS:
        raise ThresholdError(f"unknown label '{label}' (known: {', '.join(LABELS)})")
    spec = spec.strip()
    return label, (parse_range(spec) if spec else None)


def on_battery_defaults(maintenance_timer: int) -> Thresholds:
    """On battery at all is WARNING; for at least the timer, CRITICAL (-1 = never)."""
    critical = None if maintenance_timer < 0 else Range(str(max(maintenance_timer - 1, 0)))
    return Thresholds(warning=Range("0"), critical=critical)


def build(
    warnings: Iterable[str] = (),
    criticals: Iterable[str] = (),
    maintenance_timer: int = DEFAULT_MAINTENANCE_TIMER,
) -> dict[str, Thresholds]:
    """Thresholds for every label: defaults, then the overrides in order."""
    warning: dict[str, Range | None] = {k: Range(v) for k, v in DEFAULT_WARNING.items()}
    critical: dict[str, Range | None] = {k: Range(v) for k, v in DEFAULT_CRITICAL.items()}
    on_battery = on_battery_defaults(maintenance_timer)
    warning["on_battery"], critical["on_battery"] = on_battery.warning, on_battery.critical
    for text in warnings:
        label, limit = parse_override(text)
        warning[label] = limit
    for text in criticals:
        label, limit = parse_override(text)
        critical[label] = limit
    return {
        label: Thresholds(warning.get(label), critical.get(label)) for label in LABELS
    }
