"""What the monitoring core tells the handler: service state, state type and perfdata.

Perfdata is parsed per the Nagios plugin guidelines ('label'=value[UOM];warn;crit;min;max,
labels may be quoted with '' as an escaped quote) and forgivingly: a malformed item is
skipped, never fatal, because a half-readable result must still let the handler act on
the values it can read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

SERVICE_STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
STATE_TYPES = ("SOFT", "HARD")

# A time beyond this many seconds (ten years) is taken as this many: it still means "on
# battery for long", and it keeps date arithmetic in range (on_battery=1e300 or
# 99999999999 once raised OverflowError and nothing was done).
MAX_SECONDS = 10 * 365 * 86400.0

# Time units the plugin guidelines allow, to seconds (plus minutes/hours, seen in the wild).
_SECONDS_PER_UNIT = {"s": 1.0, "ms": 0.001, "us": 0.000001, "min": 60.0, "m": 60.0, "h": 3600.0}

# One item: a quoted label (with '' inside) or an unquoted one without '=' and spaces,
# then '=' and the rest up to whitespace.
_ITEM = re.compile(r"""\s*(?:'((?:[^']|'')*)'|([^\s'=]+))=(\S*)""")
_VALUE = re.compile(r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)([^;]*)")


@dataclass(frozen=True)
class Metric:
    value: float | None  # None for 'U' (unknown) or an empty value
    uom: str = ""


@dataclass(frozen=True)
class Event:
    """One call of the handler for a UPS."""

    ups: str
    service_state: str  # OK | WARNING | CRITICAL | UNKNOWN
    state_type: str = "HARD"  # SOFT | HARD; never changes a decision
    attempt: int | None = None
    metrics: Mapping[str, Metric] = field(default_factory=dict)

    def seconds(self, label: str) -> float | None:
        metric = self.metrics.get(label)
        if metric is None or metric.value is None:
            return None
        factor = _SECONDS_PER_UNIT.get(metric.uom.lower(), 1.0 if not metric.uom else None)
        if factor is None:
            return None
        return max(-MAX_SECONDS, min(MAX_SECONDS, metric.value * factor))

    def number(self, label: str) -> float | None:
        metric = self.metrics.get(label)
        return None if metric is None else metric.value

    @property
    def on_battery(self) -> float | None:
        return self.seconds("on_battery")

    @property
    def runtime(self) -> float | None:
        return self.seconds("runtime")

    @property
    def charge(self) -> float | None:
        return self.number("charge")


def parse_perfdata(text: str | None) -> dict[str, Metric]:
    """Label -> Metric for every well-formed item; the first occurrence of a label wins."""
    metrics: dict[str, Metric] = {}
    if not text:
        return metrics
    position = 0
    while position < len(text):
        match = _ITEM.match(text, position)
        if match is None:
            # Skip one garbage token and carry on with the next.
            next_space = re.compile(r"\s+").search(text, position)
            if next_space is None:
                break
            position = next_space.end()
            continue
        position = match.end()
        label = match.group(1).replace("''", "'") if match.group(1) is not None \
            else match.group(2)
        metric = _parse_value(match.group(3).split(";", 1)[0])
        if metric is not None and label not in metrics:
            metrics[label] = metric
    return metrics


def _parse_value(text: str) -> Metric | None:
    if text in ("", "U"):
        return Metric(None)
    match = _VALUE.fullmatch(text.replace(",", ".", 1) if text.count(",") == 1 else text)
    if match is None:
        return None
    value = float(match.group(1))
    if math.isnan(value) or math.isinf(value):
        return Metric(None)
    return Metric(value, match.group(2).strip())


def normalise_state(text: str) -> str:
    """Accept the state names and the plugin exit codes 0-3."""
    upper = text.strip().upper()
    if upper.isdigit() and int(upper) < len(SERVICE_STATES):
        return SERVICE_STATES[int(upper)]
    if upper in SERVICE_STATES:
        return upper
    raise ValueError(f"--state: {text!r} is not one of {', '.join(SERVICE_STATES)}")


def normalise_state_type(text: str) -> str:
    upper = text.strip().upper()
    if upper in STATE_TYPES:
        return upper
    raise ValueError(f"--state-type: {text!r} is not SOFT or HARD")
