"""The judgement: from a Survey to findings and counts. A pure function.

Each kind of problem is one row of PROBLEMS, with its state and what it means (the rules
of DESIGN.md "check_dell_ups_readiness"); assess() only finds them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from check_dell_ups.maintenance.config import Config
from check_dell_ups.maintenance.driver import HostInfo, JobInfo
from check_dell_ups.maintenance.records import HostRecord, UpsRecord
from check_dell_ups.readiness.survey import Survey

CRITICAL = "CRITICAL"
WARNING = "WARNING"

# kind -> (state, why it matters). The "why" goes into --help and the docs, not the output.
PROBLEMS: dict[str, tuple[str, str]] = {
    "config": (CRITICAL, "the handler cannot start: its config is invalid"),
    "password": (CRITICAL, "the handler has no usable SCVMM password"),
    "scvmm": (CRITICAL, "SCVMM unreachable, authentication refused, or no answer within -t"),
    "host": (CRITICAL, "SCVMM does not know the host, or its object lacks what the "
                       "handler reads"),
    "vms": (CRITICAL, "the host's VMs cannot be read as the handler reads them"),
    "state": (CRITICAL, "a state file or the state dir is unreadable, unwritable or corrupt"),
    "failed": (CRITICAL, "the handler left the host failed"),
    "not-responding": (WARNING, "SCVMM cannot reach the host (CommunicationState)"),
    "one-ups-cluster": (WARNING, "migrate mode, every node of the cluster on one UPS: "
                                 "the last node cannot enter maintenance"),
    "left-over": (WARNING, "ours in maintenance or pending while on mains, not finished "
                           "by --retry-pending within 10 minutes"),
}
LEFT_OVER_SECONDS = 600
RESPONDING = "Responding"
PENDING_PHASES = ("entering", "leaving")


@dataclass(frozen=True)
class Finding:
    kind: str  # a key of PROBLEMS
    subject: str  # names the UPS, host or cluster: "host hv01.example.com (UPS ups-a)"
    text: str
    hosts: tuple[str, ...] = ()  # the configured hosts it makes not ready

    @property
    def state(self) -> str:
        return PROBLEMS[self.kind][0]

    def line(self) -> str:
        return f"{self.subject}: {self.text}" if self.subject else self.text


@dataclass(frozen=True)
class Assessment:
    findings: tuple[Finding, ...]
    hosts: int | None  # None when the config could not be read
    hosts_ready: int | None
    in_maintenance_ours: int | None
    pending: int | None
    scvmm_seconds: float | None
    upses: int = 0

    @property
    def state(self) -> str:
        states = {finding.state for finding in self.findings}
        return CRITICAL if CRITICAL in states else WARNING if WARNING in states else "OK"


def assess(found: Survey, now: datetime) -> Assessment:
    if found.config is None:
        error = found.config_error or "unreadable"
        # The handler's messages name the key; say which file unless they do.
        subject = "" if found.config_path in error else f"config {found.config_path}"
        finding = Finding("config", subject, error)
        return Assessment((finding,), None, None, None, None, None)
    config = found.config
    findings = [*_config_findings(found), *_state_findings(found, config),
                *_scvmm_findings(found, config), *_record_findings(found, config, now),
                *_cluster_findings(found, config)]
    not_ready = {host for finding in findings for host in finding.hosts}
    whole = any(finding.kind in ("password", "scvmm", "config") for finding in findings)
    hosts = config.all_hosts()
    records = {host: record for host, record in found.host_records.items()
               if isinstance(record, HostRecord)}
    return Assessment(
        findings=tuple(findings),
        hosts=len(hosts),
        hosts_ready=0 if whole else sum(1 for host in hosts if host not in not_ready),
        in_maintenance_ours=sum(1 for host, record in records.items()
                                if _ours_in_maintenance(record, found.hosts.get(host))),
        pending=sum(1 for record in records.values() if _pending(record)),
        scvmm_seconds=found.scvmm_seconds,
        upses=len(config.ups),
    )


def _config_findings(found: Survey) -> Iterator[Finding]:
    if found.password_error:
        yield Finding("password", "", found.password_error)  # it says "no SCVMM password"
    if found.scvmm_error:
        yield Finding("scvmm", "", found.scvmm_error)  # it says "SCVMM server:port"


def _state_findings(found: Survey, config: Config) -> Iterator[Finding]:
    everything = config.all_hosts()
    for problem in found.state_problems:
        yield Finding("state", "state", problem, hosts=everything)
    for ups, record in found.ups_records.items():
        if isinstance(record, str):
            yield Finding("state", f"UPS {ups}", record, hosts=config.ups[ups].hosts)
    for host, record in found.host_records.items():
        if isinstance(record, str):
            yield Finding("state", _host_subject(config, host), record, hosts=(host,))


def _scvmm_findings(found: Survey, config: Config) -> Iterator[Finding]:
    if found.scvmm_error or found.password_error:
        return
    for host in config.all_hosts():
        info = found.hosts.get(host)
        subject = _host_subject(config, host)
        if info is None:
            yield Finding("host", subject, "SCVMM gave no answer for this host", (host,))
        elif not isinstance(info, HostInfo):
            yield Finding("host", subject, _without_prefix(str(info), host), (host,))
        else:
            if host in found.vm_errors:
                yield Finding("vms", subject, "its VMs cannot be read: "
                              + _without_prefix(found.vm_errors[host], host), (host,))
            if info.communication_state != RESPONDING:
                yield Finding("not-responding", subject,
                              f"SCVMM cannot reach it (CommunicationState "
                              f"{info.communication_state or 'missing'})", (host,))


def _record_findings(found: Survey, config: Config, now: datetime) -> Iterator[Finding]:
    for host, record in found.host_records.items():
        if not isinstance(record, HostRecord):
            continue
        subject = _host_subject(config, host)
        if record.phase == "failed":
            yield Finding("failed", subject, f"the handler left it failed: "
                          f"{record.error or 'no reason recorded'} (see --status and "
                          "log_file; --retry-pending retries)", (host,))
            continue
        if not (_pending(record) or (record.ours and record.phase == "maintenance")):
            continue
        back = _power_back_since(found, config, host)
        if back is None:
            continue  # an outage goes on: being in maintenance is the point
        if back is not False and (now - back).total_seconds() < LEFT_OVER_SECONDS:
            continue  # --retry-pending still has time
        what = "still ours in maintenance" if record.phase == "maintenance" \
            else f"work pending ({record.phase})"
        job = _job_words(found, record)
        since = f"since {back.isoformat(timespec='seconds')}" if back is not False \
            else "(no power return recorded)"
        yield Finding("left-over", subject, f"{what} while every UPS feeding it is on "
                      f"mains {since}{job}; run --retry-pending or see --status", (host,))


def _cluster_findings(found: Survey, config: Config) -> Iterator[Finding]:
    # Without every node SCVMM lists, a node that no configured UPS feeds (and that
    # stays up) cannot be told from none: no guess, no false warning.
    if found.scvmm_error or found.password_error or found.cluster_nodes is None:
        return
    configured: dict[str, list[str]] = {}
    for host in config.all_hosts():
        info = found.hosts.get(host)
        if isinstance(info, HostInfo) and info.cluster:
            configured.setdefault(info.cluster, []).append(host)
    for cluster, members in configured.items():
        nodes = members
        listed = found.cluster_nodes.get(cluster, ())
        if any(node.lower() not in members for node in listed):
            continue  # a node no configured UPS feeds stays up
        shared = set(config.ups_of_host(nodes[0]))
        for node in nodes[1:]:
            shared &= set(config.ups_of_host(node))
        migrating = sorted(ups for ups in shared if config.ups[ups].mode == "migrate")
        if not migrating:
            continue
        yield Finding("one-ups-cluster", f"cluster {cluster}",
                      f"all its nodes ({' '.join(nodes)}) are fed by UPS "
                      f"{' and '.join(migrating)} in migrate mode: Failover Clustering "
                      "will not let the last node enter maintenance", tuple(nodes))


# --- small helpers -----------------------------------------------------------------------

def _host_subject(config: Config, host: str) -> str:
    return f"host {host} (UPS {', '.join(config.ups_of_host(host))})"


def _without_prefix(text: str, host: str) -> str:
    """The driver's messages start with the host name; the subject already says it."""
    return text[len(host) + 2:] if text.lower().startswith(f"{host}: ") else text


def _pending(record: HostRecord) -> bool:
    return record.phase in PENDING_PHASES or bool(record.start_jobs)


def _ours_in_maintenance(record: HostRecord, info: object) -> bool:
    if not record.ours or record.phase == "admin":
        return False
    if isinstance(info, HostInfo):
        return info.in_maintenance
    # SCVMM not read: our record says; "leaving" is in maintenance until Enable ends.
    return record.phase in ("maintenance", "leaving")


def _power_back_since(found: Survey, config: Config, host: str) -> datetime | bool | None:
    """When the last UPS feeding the host came back on mains; None while any of them is
    on battery; False when all count as on mains but no moment is recorded."""
    moments = []
    for ups in config.ups_of_host(host):
        record = found.ups_records.get(ups)
        if not isinstance(record, UpsRecord) or record.power == "battery":
            return None
        if record.since is None:
            return False
        moments.append(record.since)
    return max(moments) if moments else False


def _job_words(found: Survey, record: HostRecord) -> str:
    if not record.job:
        return ""
    job = found.jobs.get(record.job)
    if isinstance(job, JobInfo):
        return f", job {record.job} {job.status}"
    if job is not None:
        return f", job {record.job} unreadable: {job}"
    return f", job {record.job}"
