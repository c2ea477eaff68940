"""The pure planner: what should exist in Icinga, and the requests that get it there."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from check_dell_ups.maintenance.config import parse_config
from check_dell_ups.maintenance.icinga_plan import (
    COMMENT,
    DOWNTIME,
    PREFIX,
    Note,
    Plan,
    Present,
    candidate_hosts,
    comment_text,
    is_ours,
    plan,
    wanted_notes,
)
from check_dell_ups.maintenance.records import HostRecord

RAW = {
    "scvmm": {"server": "vmm01.example.com", "username": "svc-ups"},
    "ups": {
        "ups-a": {"hosts": ["hv01.example.com", "hv02.example.com"]},
        "ups-b": {"hosts": ["hv02.example.com", "hv03.example.com"], "mode": "save"},
    },
    "icinga": {"url": "https://icinga.example.com", "username": "dell-ups",
               "password_file": "/nonexistent/icinga.password",
               "ups_hosts": {"ups-b": "ups-b.example.com"},
               "host_names": {"HV01.example.com": "hv01", "vm-id-1": "web01"}},
}
CONFIG = parse_config(RAW)
ICINGA = CONFIG.icinga
assert ICINGA is not None
EVERYWHERE = {"ups-a", "ups-b.example.com", "hv01", "hv02.example.com", "hv03.example.com",
              "web01", "vm-id-2"}


def record(phase: str = "maintenance", *, ours: bool = True, job_kind: str = "disable-migrate",
           vms_saved: tuple[str, ...] | None = None, job: str | None = None,
           ups: str | None = "ups-a", fallback_done: bool = False,
           history: tuple[dict, ...] = ()) -> HostRecord:
    return HostRecord(phase=phase, ours=ours, job_kind=job_kind, vms_saved=vms_saved,
                      job=job, ups=ups, fallback_done=fallback_done, history=history)


def notes_of(records: dict[str, HostRecord], known=EVERYWHERE) -> dict[tuple[str, str], str]:
    return {(note.kind, note.host): note.text
            for note in wanted_notes(CONFIG, ICINGA, records, known)}


# --- what should exist: named rows ------------------------------------------------------

def test_nothing_in_maintenance_wants_nothing() -> None:
    assert notes_of({}) == {}
    assert notes_of({"hv01.example.com": HostRecord()}) == {}


@pytest.mark.parametrize("phase, ours, wanted", [
    ("entering", True, True),       # being disabled: its checks may page already
    ("maintenance", True, True),
    ("leaving", True, False),       # power is back
    ("normal", False, False),
    ("failed", True, False),
    ("admin", False, False),        # an admin's maintenance is not ours to announce
    ("maintenance", False, False),
])
def test_which_phases_want_a_downtime(phase: str, ours: bool, wanted: bool) -> None:
    notes = notes_of({"hv02.example.com": record(phase, ours=ours)})
    assert ((DOWNTIME, "hv02.example.com") in notes) is wanted


def test_the_name_map_names_hosts_and_saved_vms() -> None:
    notes = notes_of({"hv01.example.com": record(vms_saved=("vm-id-1", "vm-id-2"))})
    assert notes[(DOWNTIME, "hv01")].startswith(PREFIX + "SCVMM maintenance mode: "
                                               "hv01.example.com (UPS ups-a on battery)")
    assert notes[(DOWNTIME, "web01")] == (PREFIX + "VM saved by the SCVMM maintenance mode "
                                          "of hv01.example.com (UPS ups-a on battery)")
    assert (DOWNTIME, "vm-id-2") in notes  # unmapped: the exact name (here the ID)
    assert (DOWNTIME, "hv01.example.com") not in notes


@pytest.mark.parametrize("why, names, map_entry, expected", [
    ("by default, the VM's name as VMM called it", {"vm-id-3": "db01"}, {}, "db01"),
    ("the name map's entry for the name", {"vm-id-3": "DB01"}, {"db01": "db01.example.com"},
     "db01.example.com"),
    ("the name map's entry for the ID wins", {"vm-id-3": "db01"}, {"vm-id-3": "db-by-id"},
     "db-by-id"),
    ("a record that kept no name: the ID", {}, {}, "vm-id-3"),
])
def test_a_saved_vm_is_the_icinga_host_of_its_name(why, names, map_entry, expected) -> None:
    raw = {**RAW, "icinga": {**RAW["icinga"], "host_names": map_entry}}
    config = parse_config(raw)
    saved = HostRecord(phase="maintenance", ours=True, job_kind="disable-migrate", ups="ups-a",
                       vms_saved=("vm-id-3",), saved_vm_names=tuple(names.items()))
    notes = wanted_notes(config, config.icinga, {"hv01.example.com": saved},
                         {expected, "hv01.example.com"})
    assert (DOWNTIME, expected) in {(note.kind, note.host) for note in notes}, why
    assert expected in candidate_hosts(config, config.icinga, {"hv01.example.com": saved})


def test_only_icinga_hosts_that_exist_get_notes() -> None:
    notes = notes_of({"hv01.example.com": record(vms_saved=("vm-id-1",))},
                     known={"hv01"})
    assert set(notes) == {(DOWNTIME, "hv01")}


def test_one_comment_per_ups_naming_hosts_mode_and_jobs() -> None:
    history = ({"action": "Disable-SCVMHost", "job": "job-old"},
               {"action": "Enable-SCVMHost", "job": "job-enable"},  # an earlier outage
               {"action": "Disable-SCVMHost", "job": "job-1"},
               {"action": "job ended", "job": "job-1"},
               {"action": "Disable-SCVMHost", "job": "job-2"})
    notes = notes_of({
        # in maintenance the lifecycle keeps fallback_done but no job_kind
        "hv01.example.com": record(job_kind=None, fallback_done=True, history=history),
        "hv02.example.com": record("entering", job="job-3", ups="ups-b"),
    })
    assert notes[(COMMENT, "ups-a")] == (
        PREFIX + "UPS ups-a on battery: Hyper-V hosts put into SCVMM maintenance mode by "
        "dell_ups_maintenance: hv01.example.com (save after a failed migration, job job-1 "
        "job-2), hv02.example.com (migrate, job job-3)")
    # hv02 is fed by both: both UPS hosts name it (ups-b by its mapped Icinga name).
    assert notes[(COMMENT, "ups-b.example.com")].endswith("hv02.example.com (migrate, job "
                                                          "job-3)")
    # The downtime names the UPS whose call put the host there.
    assert "UPS ups-b on battery" in notes[(DOWNTIME, "hv02.example.com")]


@pytest.mark.parametrize("why, host_record, configured, words", [
    ("the fallback's job runs", record("entering", job_kind="disable-save",
                                       fallback_done=True, job="job-2"), "migrate",
     "save after a failed migration"),
    ("a save-mode Disable sent again", record(job_kind=None, fallback_done=True), "save",
     "save, sent again after a failed Disable"),
    ("the first Disable runs", record("entering", job_kind="disable-save", job="job-1"),
     "save", "save"),
])
def test_the_mode_a_host_was_disabled_in(why, host_record, configured, words) -> None:
    text = comment_text("ups-a", configured, [("hv01.example.com", host_record)])
    assert f"hv01.example.com ({words}, job " in text, why


def test_the_comment_falls_back_to_the_configured_mode_and_no_job() -> None:
    text = comment_text("ups-b", "save", [("hv03.example.com", record(job_kind=None))])
    assert text.endswith("hv03.example.com (save, job -)")


def test_two_scvmm_names_on_one_icinga_host_get_one_downtime() -> None:
    raw = {**RAW, "icinga": {**RAW["icinga"], "host_names": {
        "hv01.example.com": "shared", "hv02.example.com": "shared"}}}
    config = parse_config(raw)
    assert config.icinga is not None
    notes = wanted_notes(config, config.icinga, {"hv01.example.com": record(),
                                                 "hv02.example.com": record()}, {"shared"})
    assert [note.text for note in notes if note.host == "shared"] == [
        PREFIX + "SCVMM maintenance mode: hv01.example.com (UPS ups-a on battery)"]


def test_candidate_hosts_are_the_ups_hosts_and_what_is_in_maintenance() -> None:
    assert candidate_hosts(CONFIG, ICINGA, {
        "hv01.example.com": record(vms_saved=("vm-id-1",)),
        "hv03.example.com": record("leaving"),
    }) == {"ups-a", "ups-b.example.com", "hv01", "web01"}


def test_only_our_author_and_prefix_are_ours() -> None:
    assert is_ours("check_dell_ups", PREFIX + "x")
    assert not is_ours("admin", PREFIX + "x")
    assert not is_ours("check_dell_ups", "an admin's note")
    assert not is_ours("check_dell_ups", None)


# --- the requests: named rows -----------------------------------------------------------

A = Note(DOWNTIME, "hv01", PREFIX + "a")
B = Note(COMMENT, "ups-a", PREFIX + "b")
B_OLD = Note(COMMENT, "ups-a", PREFIX + "b, older jobs")


@pytest.mark.parametrize("wanted, present, expected", [
    pytest.param({A}, [], Plan(add=(A,), remove=()), id="missing is added"),
    pytest.param(set(), [Present(A, "n1")], Plan(add=(), remove=(Present(A, "n1"),)),
                 id="unwanted is removed"),
    pytest.param({A}, [Present(A, "n1")], Plan(add=(), remove=()), id="present is kept"),
    pytest.param({A}, [Present(A, "n2"), Present(A, "n1")],
                 Plan(add=(), remove=(Present(A, "n2"),)),
                 id="a duplicate is removed, the first name kept"),
    pytest.param({B}, [Present(B_OLD, "n1")],
                 Plan(add=(B,), remove=(Present(B_OLD, "n1"),)), id="changed text is replaced"),
])
def test_plan(wanted, present, expected) -> None:
    assert plan(wanted, present) == expected


def test_with_an_unreadable_record_only_duplicates_are_removed() -> None:
    steps = plan({A}, [Present(A, "n1"), Present(A, "n2"), Present(B, "n3")],
                 may_remove=False)
    assert steps == Plan(add=(), remove=(Present(A, "n2"),))


# --- invariants -------------------------------------------------------------------------

notes = st.builds(Note, st.sampled_from([DOWNTIME, COMMENT]),
                  st.sampled_from(["hv01", "hv02", "ups-a"]),
                  st.sampled_from([PREFIX + "x", PREFIX + "y"]))
presents = st.lists(st.builds(Present, notes, st.text("abc!", min_size=1, max_size=4)),
                    max_size=8, unique_by=lambda item: item.name)


def applied(steps: Plan, present: list[Present]) -> list[Present]:
    removed = set(steps.remove)
    after = [item for item in present if item not in removed]
    return after + [Present(note, f"new-{index}") for index, note in enumerate(steps.add)]


@given(st.frozensets(notes), presents)
def test_applying_the_plan_yields_exactly_the_wanted_set(wanted, present) -> None:
    after = applied(plan(wanted, present), present)
    assert Counter(item.note for item in after) == Counter(wanted)


@given(st.frozensets(notes), presents)
def test_a_second_plan_changes_nothing(wanted, present) -> None:
    after = applied(plan(wanted, present), present)
    assert plan(wanted, after).empty


@given(st.frozensets(notes), presents)
def test_only_what_is_present_is_removed_and_only_the_wanted_is_added(wanted, present) -> None:
    steps = plan(wanted, present)
    assert set(steps.remove) <= set(present)
    assert set(steps.add) <= wanted
    assert len(steps.add) == len(set(steps.add))


@given(st.frozensets(notes), presents)
def test_two_concurrent_calls_keep_the_same_duplicate(wanted, present) -> None:
    # Both plan from the same reading: their removals agree, so one copy survives.
    first, second = plan(wanted, present), plan(wanted, list(reversed(present)))
    assert first.remove == second.remove
