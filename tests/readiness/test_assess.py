"""The readiness judgement, one named row per rule of DESIGN.md, on plain Surveys."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from check_dell_ups.maintenance.config import parse_config
from check_dell_ups.maintenance.driver import HostInfo, JobInfo, ScvmmCommandError
from check_dell_ups.maintenance.records import PHASES, HostRecord, UpsRecord
from check_dell_ups.readiness.assess import PROBLEMS, assess
from check_dell_ups.readiness.plugin import render
from check_dell_ups.readiness.survey import Survey

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)
H1, H2, H3 = "hv01.example.com", "hv02.example.com", "hv03.example.com"


def config(mode: str = "migrate", b_hosts: tuple[str, ...] = (H3,)):
    return parse_config({
        "scvmm": {"server": "vmm01.example.com", "username": "svc", "transport": "http",
                  "auth": "basic"},
        "maintenance": {"state_dir": "/nonexistent", "mode": mode},
        "ups": {"ups-a": {"hosts": [H1, H2]}, "ups-b": {"hosts": list(b_hosts)}},
    })


def host(name: str, cluster: str | None = "cl01", **changes) -> HostInfo:
    return replace(HostInfo(name=name, in_maintenance=False, cluster=cluster,
                            overall_state="OK", communication_state="Responding"), **changes)


def healthy(**changes) -> Survey:
    """Everything answered: H1, H2 on ups-a and H3 on ups-b, all of cluster cl01."""
    found = Survey(
        config_path="/etc/check_dell_ups/dell_ups_maintenance.toml", config=config(),
        scvmm_seconds=0.25,
        hosts={H1: host(H1), H2: host(H2), H3: host(H3)},
        cluster_nodes={"cl01": (H1, H2, H3)},
        ups_records={"ups-a": UpsRecord(power="mains", since=NOW - timedelta(days=1)),
                     "ups-b": UpsRecord()},
        host_records={H1: HostRecord(), H2: HostRecord(), H3: HostRecord()},
    )
    for key, value in changes.items():
        setattr(found, key, value)
    return found


def lines(found: Survey) -> list[tuple[str, str]]:
    return [(f.state, f.line()) for f in assess(found, NOW).findings]


def test_all_answered_is_ok_with_perfdata() -> None:
    text, code = render(assess(healthy(), NOW))
    assert (text, code) == (
        "DELL UPS READINESS OK - 3 host(s) of 2 UPS ready, SCVMM answered in 0.2s | "
        "hosts=3 hosts_ready=3 in_maintenance_ours=0 pending=0 scvmm_seconds=0.25s\n", 0)


def test_config_error_is_critical_and_names_the_file() -> None:
    found = Survey(config_path="/etc/x.toml", config_error="scvmm.prot: unknown key (known: ...)")
    text, code = render(assess(found, NOW))
    assert code == 2
    assert text == ("DELL UPS READINESS CRITICAL - config /etc/x.toml: scvmm.prot: unknown "
                    "key (known: ...)\nCRITICAL: config /etc/x.toml: scvmm.prot: unknown key "
                    "(known: ...)\n")


def test_no_password_is_critical_and_nobody_is_ready() -> None:
    found = healthy(password_error="no SCVMM password: DELL_UPS_SCVMM_PASSWORD is empty",
                    hosts={}, scvmm_seconds=None)
    assessment = assess(found, NOW)
    assert lines(found) == [("CRITICAL", "no SCVMM password: DELL_UPS_SCVMM_PASSWORD is empty")]
    assert assessment.hosts_ready == 0


def test_scvmm_refusing_the_credentials_is_critical() -> None:
    found = healthy(scvmm_error="SCVMM 127.0.0.1:5985 rejected the credentials of svc (basic)",
                    hosts={})
    text, code = render(assess(found, NOW))
    assert code == 2
    assert text.splitlines()[1] == ("CRITICAL: SCVMM 127.0.0.1:5985 rejected the credentials "
                                    "of svc (basic)")


def test_host_unknown_to_scvmm_is_critical_naming_host_and_ups() -> None:
    found = healthy(hosts={H1: host(H1), H3: host(H3),
                           H2: ScvmmCommandError(f"{H2}: no such host in SCVMM")})
    assert lines(found) == [
        ("CRITICAL", f"host {H2} (UPS ups-a): no such host in SCVMM")]
    assert assess(found, NOW).hosts_ready == 2


def test_host_object_lacking_a_property_is_critical() -> None:
    found = healthy(hosts={H1: host(H1), H2: host(H2), H3: ScvmmCommandError(
        f"{H3}: the Host object has no OverallState property")})
    assert lines(found) == [
        ("CRITICAL", f"host {H3} (UPS ups-b): the Host object has no OverallState property")]


def test_unreadable_vms_are_critical() -> None:
    found = healthy(vm_errors={H1: f"{H1}: VM web01 has no ID property"})
    assert lines(found) == [
        ("CRITICAL", f"host {H1} (UPS ups-a): its VMs cannot be read: VM web01 has no ID "
                     "property")]


def test_corrupt_or_unreadable_state_is_critical() -> None:
    found = healthy(host_records={H1: "state file /s/hosts/hv01.json is corrupt (x)",
                                  H2: HostRecord(), H3: HostRecord()},
                    state_problems=["/s/lock is not readable and writable by nagios"])
    assert lines(found) == [
        ("CRITICAL", "state: /s/lock is not readable and writable by nagios"),
        ("CRITICAL", f"host {H1} (UPS ups-a): state file /s/hosts/hv01.json is corrupt (x)")]
    assert assess(found, NOW).hosts_ready == 0  # the lock concerns every host


def test_a_host_left_failed_is_critical() -> None:
    failed = HostRecord(phase="failed", ours=True, wanted="normal",
                        error="Enable-SCVMHost job j1 Failed: host locked")
    found = healthy(host_records={H1: failed, H2: HostRecord(), H3: HostRecord()})
    assert lines(found) == [("CRITICAL", f"host {H1} (UPS ups-a): the handler left it "
                             "failed: Enable-SCVMHost job j1 Failed: host locked (see "
                             "--status and log_file; --retry-pending retries)")]


def test_host_scvmm_cannot_reach_is_a_warning() -> None:
    found = healthy(hosts={H1: host(H1, communication_state="NotResponding"),
                           H2: host(H2), H3: host(H3)})
    text, code = render(assess(found, NOW))
    assert code == 1
    assert text.splitlines()[1] == (f"WARNING: host {H1} (UPS ups-a): SCVMM cannot reach it "
                                    "(CommunicationState NotResponding)")


def test_cluster_all_on_one_ups_in_migrate_mode_is_a_warning() -> None:
    found = healthy(config=config(b_hosts=(H1,)), cluster_nodes={"cl01": (H1, H2)},
                    hosts={H1: host(H1), H2: host(H2)})
    found.host_records = {H1: HostRecord(), H2: HostRecord()}
    assert lines(found) == [("WARNING", f"cluster cl01: all its nodes ({H1} {H2}) are fed "
                             "by UPS ups-a in migrate mode: Failover Clustering will not let "
                             "the last node enter maintenance")]


@pytest.mark.parametrize("why, changes", [
    ("a node on another UPS", {}),
    ("save mode", {"config": config(mode="save", b_hosts=(H1,)),
                   "cluster_nodes": {"cl01": (H1, H2)}}),
    ("a node SCVMM lists that no UPS feeds", {"config": config(b_hosts=(H1,)),
                                             "cluster_nodes": {"cl01": (H1, H2, "hv07")}}),
    ("the driver cannot list the cluster's nodes", {"config": config(b_hosts=(H1,)),
                                                   "cluster_nodes": None}),
])
def test_cluster_rows_that_are_fine(why: str, changes) -> None:
    found = healthy(**changes)
    assert lines(found) == [], why


def test_left_over_maintenance_on_mains_warns_after_ten_minutes() -> None:
    ours = HostRecord(phase="maintenance", ours=True)
    back = NOW - timedelta(minutes=11)
    found = healthy(host_records={H1: ours, H2: HostRecord(), H3: HostRecord()},
                    hosts={H1: host(H1, in_maintenance=True), H2: host(H2), H3: host(H3)},
                    ups_records={"ups-a": UpsRecord(power="mains", since=back),
                                 "ups-b": UpsRecord()})
    assert lines(found) == [("WARNING", f"host {H1} (UPS ups-a): still ours in maintenance "
                             "while every UPS feeding it is on mains since "
                             "2026-12-01T02:49:00+00:00; run --retry-pending or see --status")]
    assessment = assess(found, NOW)
    assert (assessment.in_maintenance_ours, assessment.pending) == (1, 0)


def test_pending_work_names_its_job() -> None:
    leaving = HostRecord(phase="leaving", ours=True, job="j7", job_kind="enable")
    found = healthy(host_records={H1: leaving, H2: HostRecord(), H3: HostRecord()},
                    jobs={"j7": JobInfo("j7", "Running", False, False)})
    assert "work pending (leaving) while every UPS feeding it is on mains since " \
           "2026-11-30T03:00:00+00:00, job j7 Running" in lines(found)[0][1]
    assert assess(found, NOW).pending == 1


@pytest.mark.parametrize("why, ups_a", [
    ("power came back 5 minutes ago", UpsRecord(power="mains", since=NOW - timedelta(minutes=5))),
    ("the outage goes on", UpsRecord(power="battery", since=NOW - timedelta(hours=1))),
])
def test_ours_in_maintenance_is_fine(why: str, ups_a: UpsRecord) -> None:
    found = healthy(host_records={H1: HostRecord(phase="maintenance", ours=True),
                                  H2: HostRecord(), H3: HostRecord()},
                    ups_records={"ups-a": ups_a, "ups-b": UpsRecord()})
    assert lines(found) == [], why


def test_an_admins_maintenance_is_not_a_problem() -> None:
    found = healthy(hosts={H1: host(H1, in_maintenance=True, overall_state="MaintenanceMode"),
                           H2: host(H2), H3: host(H3)},
                    host_records={H1: HostRecord(phase="admin"), H2: HostRecord(),
                                  H3: HostRecord()})
    assessment = assess(found, NOW)
    assert (assessment.findings, assessment.hosts_ready, assessment.in_maintenance_ours) == \
        ((), 3, 0)


def test_every_problem_kind_has_a_state() -> None:
    assert {state for state, _ in PROBLEMS.values()} == {"CRITICAL", "WARNING"}


def test_the_summary_says_how_many_more() -> None:
    found = healthy(hosts={H1: ScvmmCommandError("x"), H2: ScvmmCommandError("y"),
                           H3: host(H3, communication_state="NotResponding")})
    text, _ = render(assess(found, NOW))
    assert text.splitlines()[0].startswith(
        f"DELL UPS READINESS CRITICAL - host {H1} (UPS ups-a): x (and 2 more problems) | ")
    assert [line.split(":")[0] for line in text.splitlines()[1:]] == \
        ["CRITICAL", "CRITICAL", "WARNING"]


# --- invariants over any survey ---------------------------------------------------------

_host_answers = st.one_of(
    st.builds(host, st.sampled_from([H1]), cluster=st.sampled_from(["cl01", None]),
              communication_state=st.sampled_from(["Responding", "NotResponding", None]),
              in_maintenance=st.booleans()),
    st.just(ScvmmCommandError("no such host")),
)
_records = st.one_of(
    st.builds(HostRecord, phase=st.sampled_from(PHASES), ours=st.booleans(),
              job=st.sampled_from([None, "j1"])),
    st.just("state file x is corrupt"),
)
_ups_records = st.one_of(
    st.builds(UpsRecord, power=st.sampled_from(["battery", "mains", "unknown"]),
              since=st.sampled_from([None, NOW - timedelta(hours=2),
                                     NOW - timedelta(minutes=1)])),
    st.just("state file y cannot be read"),
)


@given(answers=st.fixed_dictionaries({h: _host_answers for h in (H1, H2, H3)}),
       records=st.fixed_dictionaries({h: _records for h in (H1, H2, H3)}),
       upses=st.fixed_dictionaries({"ups-a": _ups_records, "ups-b": _ups_records}),
       whole=st.sampled_from([None, "password", "scvmm"]),
       listed=st.sampled_from([None, {"cl01": (H1, H2, H3)}, {"cl01": (H1, H2)}]))
def test_invariants(answers, records, upses, whole, listed) -> None:
    answers = {name: (replace(info, name=name) if isinstance(info, HostInfo) else info)
               for name, info in answers.items()}
    found = healthy(hosts=answers, host_records=records, ups_records=upses,
                    cluster_nodes=listed,
                    password_error="no SCVMM password" if whole == "password" else None,
                    scvmm_error="SCVMM x: refused" if whole == "scvmm" else None)
    assessment = assess(found, NOW)
    text, code = render(assessment)
    states = {finding.state for finding in assessment.findings}
    # The exit code is the worst finding; OK only without any.
    assert code == (2 if "CRITICAL" in states else 1 if states else 0)
    assert text.startswith(f"DELL UPS READINESS {assessment.state} - ")
    assert len(text.splitlines()) == 1 + len(assessment.findings)  # one line per problem
    # Every host that is not ready is named by a finding; nobody is ready without SCVMM.
    named = {h for finding in assessment.findings for h in finding.hosts}
    assert assessment.hosts == 3
    assert assessment.hosts_ready == (0 if whole else 3 - len(named & {H1, H2, H3}))
    # A host the handler left failed, or whose state cannot be read, is always CRITICAL.
    for host, record in records.items():
        if isinstance(record, str) or record.phase == "failed":
            assert any(f.state == "CRITICAL" and host in f.hosts for f in assessment.findings)
    # Perfdata is always on the first line, with every label once.
    perfdata = text.splitlines()[0].split(" | ")[1].split()
    assert [item.split("=")[0] for item in perfdata] == [
        "hosts", "hosts_ready", "in_maintenance_ours", "pending", "scvmm_seconds"]
