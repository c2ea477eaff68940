"""The plugin's text: first line `DELL UPS <STATE> - <summary> | <perfdata>`, then the
long output. Written here rather than by nagiosplugin's Runtime so that the perfdata
stays on the first line with -v and no traceback can ever be printed."""

from __future__ import annotations

from nagiosplugin import Check

from check_dell_ups.judgement import CHECK_NAME
from check_dell_ups.longoutput import long_output
from check_dell_ups.reading import UpsReading
from check_dell_ups.thresholds import LABELS

PREFIX = CHECK_NAME.upper()


def screen(text: str) -> str:
    """'|' starts perfdata and newlines start long output: keep both out of text."""
    return " ".join(text.replace("|", "/").split())


def perfdata(check: Check) -> str:
    """The perfdata of the check, in the order of the DESIGN.md table."""
    performances = {}
    for result in check.results:
        metric = result.metric
        if metric is None or metric.name not in LABELS:
            continue
        performance = metric.contextobj.performance(metric, metric.resource)
        if performance is not None:
            performances[metric.name] = str(performance)
    return " ".join(performances[label] for label in LABELS if label in performances)


def render(check: Check, reading: UpsReading, verbosity: int = 0) -> str:
    """The whole output of one run (check already called)."""
    first = f"{PREFIX} {str(check.state).upper()} - {screen(check.summary_str)}"
    data = perfdata(check)
    if data:
        first += f" | {data}"
    lines = [first]
    if verbosity > 0:
        lines += [screen(line) if not line.startswith("  ") else "  " + screen(line)
                  for line in long_output(reading, check.results, raw_values=verbosity >= 3)]
    return "\n".join(lines) + "\n"


def unknown(message: str) -> str:
    return f"{PREFIX} UNKNOWN - {screen(message)}\n"
