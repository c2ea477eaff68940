"""UpsRecord's JSON form: the "last seen on mains" field, and files written before it."""

from __future__ import annotations

import pytest

from check_dell_ups.maintenance.records import HostRecord, RecordError, UpsRecord


def test_last_seen_on_mains_round_trips(at) -> None:
    record = UpsRecord(power="battery", since=at(10), first_seen_on_battery=at(10),
                       on_battery_since=at(0), last_event_at=at(10), last_on_battery=5000.0,
                       last_seen_on_mains=at(0))
    assert record.to_json()["last_seen_on_mains"] == "2026-11-26T08:00:00+00:00"
    assert UpsRecord.from_json(record.to_json()) == record


OLD_FILES = [
    # (name, record as an older handler wrote it, what last_seen_on_mains becomes)
    ("mains after an on_battery=0 call: its last event",
     {"power": "mains", "since": "2026-11-26T07:00:00+00:00",
      "last_event_at": "2026-11-26T08:00:00+00:00", "last_on_battery": 0.0},
     "2026-11-26T08:00:00+00:00"),
    ("mains, then silent calls: when power became mains",
     {"power": "mains", "since": "2026-11-26T07:00:00+00:00",
      "last_event_at": "2026-11-26T08:00:00+00:00", "last_on_battery": None},
     "2026-11-26T07:00:00+00:00"),
    ("on battery: not known, the counter is trusted as before",
     {"power": "battery", "since": "2026-11-26T07:00:00+00:00",
      "last_event_at": "2026-11-26T08:00:00+00:00", "last_on_battery": 3600.0},
     None),
    ("never heard", {}, None),
]


@pytest.mark.parametrize(("name", "data", "expected"), OLD_FILES,
                         ids=[row[0] for row in OLD_FILES])
def test_files_from_before_the_field_stay_readable(name: str, data: dict,
                                                   expected: str | None) -> None:
    assert UpsRecord.from_json(data).to_json()["last_seen_on_mains"] == expected


def test_a_written_null_is_kept(at) -> None:
    data = UpsRecord(power="mains", since=at(0)).to_json()
    assert data["last_seen_on_mains"] is None
    assert UpsRecord.from_json(data).last_seen_on_mains is None


def test_a_bad_timestamp_is_a_record_error() -> None:
    with pytest.raises(RecordError):
        UpsRecord.from_json({"power": "mains", "last_seen_on_mains": "yesterday"})


def test_the_names_of_saved_vms_round_trip_and_older_records_have_none() -> None:
    record = HostRecord(phase="maintenance", ours=True, vms_saved=("id-1", "id-2"),
                        saved_vm_names=(("id-1", "web01"), ("id-2", "db01")))
    assert record.to_json()["saved_vm_names"] == {"id-1": "web01", "id-2": "db01"}
    assert HostRecord.from_json(record.to_json()) == record
    older = record.to_json()
    del older["saved_vm_names"]
    assert HostRecord.from_json(older).saved_vm_names == ()


@pytest.mark.parametrize("value", [["id-1", "web01"], {"id-1": 7}, "web01"])
def test_saved_vm_names_of_another_shape_are_a_record_error(value) -> None:
    with pytest.raises(RecordError):
        HostRecord.from_json({"phase": "maintenance", "saved_vm_names": value})
