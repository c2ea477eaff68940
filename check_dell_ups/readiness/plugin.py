"""The readiness check as a nagiosplugin Check, and its text.

Resource -> Metrics (one per finding, one per perfdata value), Contexts -> states,
Summary -> the words; the output is written here, as the UPS check does, so that the
perfdata stays on the first line and no traceback is ever printed.
"""

from __future__ import annotations

from collections.abc import Iterator

from nagiosplugin import Check, Context, Metric, Resource, Result, ScalarContext, Summary
from nagiosplugin.state import Critical, Warn

from check_dell_ups.output import screen
from check_dell_ups.readiness.assess import CRITICAL, Assessment, Finding

PREFIX = "DELL UPS READINESS"
PERFDATA = ("hosts", "hosts_ready", "in_maintenance_ours", "pending", "scvmm_seconds")
_STATES = {CRITICAL: Critical, "WARNING": Warn}


class ReadinessResource(Resource):
    def __init__(self, assessment: Assessment) -> None:
        self.assessment = assessment

    @property
    def name(self) -> str:
        return PREFIX

    def probe(self) -> Iterator[Metric]:
        for index, finding in enumerate(self.assessment.findings):
            yield Metric(f"finding_{index}", finding, context="finding")
        for label in PERFDATA:
            value = getattr(self.assessment, label)
            if value is None:
                continue  # not known this time (e.g. no config): left out, never 0
            if label == "scvmm_seconds":
                yield Metric(label, round(value, 3), uom="s", context="count")
            else:
                yield Metric(label, value, context="count")


class FindingContext(Context):
    def __init__(self) -> None:
        super().__init__("finding")

    def evaluate(self, metric: Metric, resource: Resource) -> Result:
        finding: Finding = metric.value
        return self.result_cls(_STATES[finding.state], finding.line(), metric)


class ReadinessSummary(Summary):
    def __init__(self, assessment: Assessment) -> None:
        self.assessment = assessment

    def ok(self, results) -> str:
        found = self.assessment
        return (f"{found.hosts} host(s) of {found.upses} UPS ready, SCVMM answered in "
                f"{found.scvmm_seconds or 0:.1f}s")

    def problem(self, results) -> str:
        findings = sorted(self.assessment.findings, key=lambda f: f.state != CRITICAL)
        more = len(findings) - 1
        return findings[0].line() + (f" (and {more} more problem{'s' if more > 1 else ''})"
                                     if more else "")


def build_check(assessment: Assessment) -> Check:
    return Check(ReadinessResource(assessment), FindingContext(), ScalarContext("count"),
                 ReadinessSummary(assessment))


def render(assessment: Assessment, verbose: int = 0) -> tuple[str, int]:
    """The whole output and the exit code."""
    check = build_check(assessment)
    check()
    first = f"{PREFIX} {str(check.state).upper()} - {screen(check.summary_str)}"
    data = " ".join(str(result.metric.contextobj.performance(result.metric, None))
                    for result in check.results
                    if result.metric is not None and result.metric.name in PERFDATA)
    lines = [f"{first} | {data}" if data else first]
    ordered = sorted(assessment.findings, key=lambda f: f.state != CRITICAL)
    lines += [f"{finding.state}: {screen(finding.line())}" for finding in ordered]
    if verbose and assessment.hosts is not None:
        lines.append(f"counts: {assessment.hosts_ready} of {assessment.hosts} host(s) ready, "
                     f"{assessment.in_maintenance_ours} in maintenance by the handler, "
                     f"{assessment.pending} with work pending")
    return "\n".join(lines) + "\n", check.exitcode
