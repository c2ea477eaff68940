"""The state store: round trips, atomic writes, corrupt files kept aside, the lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from check_dell_ups.maintenance.records import HostRecord, UpsRecord
from check_dell_ups.maintenance.state import (
    CorruptStateError,
    LockTimeoutError,
    StateStore,
    atomic_write,
)


def test_round_trip(tmp_path: Path, at) -> None:
    store = StateStore(tmp_path)
    ups = UpsRecord(power="battery", since=at(0), first_seen_on_battery=at(0),
                    on_battery_since=at(-30), called=True, called_at=at(300),
                    last_event_at=at(301), last_on_battery=331.0)
    host = HostRecord(phase="entering", since=at(300), ours=True, wanted="maintenance",
                      ups="ups-a", job="j1", job_kind="disable-migrate",
                      vms_running=("web01", "db01"), vms_saved=None,
                      start_jobs=("s1",)).noted(at(300), "Disable-SCVMHost", job="j1")
    store.save_ups("ups a/../x", ups)
    store.save_host("hv01.example.com", host)
    assert store.load_ups("ups a/../x") == ups
    assert store.load_host("hv01.example.com") == host
    # The UPS name cannot escape the directory.
    assert store.ups_path("ups a/../x").parent == tmp_path / "ups"
    assert store.ups_path("..").parent == tmp_path / "ups"


def test_missing_files_give_empty_records(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    assert store.load_ups("never") == UpsRecord()
    assert store.load_host("hv09.example.com") == HostRecord()


def test_files_are_private_and_no_temp_files_remain(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save_host("hv01.example.com", HostRecord(phase="maintenance", ours=True))
    path = store.host_path("hv01.example.com")
    assert path.stat().st_mode & 0o077 == 0o040
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    document = json.loads(path.read_text())
    assert document["version"] == 1 and document["record"]["phase"] == "maintenance"


@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe", b'{"version": 1}',
                                     b'{"version": 1, "record": {"phase": "dancing"}}',
                                     b'{"version": 99, "record": {}}'])
def test_corrupt_file_is_copied_aside_and_kept(tmp_path: Path, content: bytes) -> None:
    store = StateStore(tmp_path)
    path = store.host_path("hv01.example.com")
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(CorruptStateError) as caught:
        store.load_host("hv01.example.com")
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "copied to" in message
    copies = list(path.parent.glob("hv01.example.com.json.corrupt-*"))
    assert len(copies) == 1 and copies[0].read_bytes() == content
    assert path.read_bytes() == content  # never silently overwritten
    # A second failure with the same content does not pile up copies.
    with pytest.raises(CorruptStateError):
        store.load_host("hv01.example.com")
    assert len(list(path.parent.glob("hv01.example.com.json.corrupt-*"))) == 1


def test_dry_run_and_status_reads_copy_nothing(tmp_path: Path) -> None:
    path = StateStore(tmp_path).ups_path("ups-a")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    with pytest.raises(CorruptStateError):
        StateStore(tmp_path, dry_run=True).load_ups("ups-a")
    with pytest.raises(CorruptStateError):
        StateStore(tmp_path).load_ups("ups-a", keep_aside=False)
    assert list(path.parent.iterdir()) == [path]


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state", dry_run=True)
    store.save_ups("ups-a", UpsRecord(power="battery"))
    store.save_host("hv01.example.com", HostRecord(phase="entering"))
    assert not (tmp_path / "state").exists()


def test_atomic_write_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    atomic_write(target, b"old")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


def test_lock_excludes_a_second_holder(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    other = StateStore(tmp_path)
    with store.locked(1.0):
        started = time.monotonic()
        with pytest.raises(LockTimeoutError, match="nothing done"), other.locked(0.3):
            pass
        assert time.monotonic() - started >= 0.3
    with other.locked(0.1):  # released on exit
        pass


def test_lock_waits_for_the_holder(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    order: list[str] = []
    holding = threading.Event()

    def hold() -> None:
        with StateStore(tmp_path).locked(5):
            holding.set()
            time.sleep(0.3)
            order.append("first released")

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    with store.locked(10):
        order.append("second acquired")
    thread.join(10)
    assert order == ["first released", "second acquired"]


def test_lock_held_by_another_process(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from check_dell_ups.maintenance.state import StateStore\n"
        "with StateStore(sys.argv[1]).locked(5):\n"
        "    print('locked', flush=True)\n"
        "    time.sleep(30)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        with pytest.raises(LockTimeoutError), StateStore(tmp_path).locked(0.2):
            pass
    finally:
        child.kill()
        child.wait(10)
    with StateStore(tmp_path).locked(5):  # a killed holder releases the lock
        pass


def test_killed_writer_leaves_a_readable_file(tmp_path: Path) -> None:
    """SIGKILL a process that rewrites the state in a tight loop: the file stays valid."""
    script = (
        "import sys\n"
        "from check_dell_ups.maintenance.state import StateStore\n"
        "from check_dell_ups.maintenance.records import HostRecord\n"
        "store = StateStore(sys.argv[1])\n"
        "n = 0\n"
        "while True:\n"
        "    n += 1\n"
        "    store.save_host('hv01.example.com', HostRecord(phase='entering', job=str(n),\n"
        "                    vms_running=tuple(f'vm{i}' for i in range(n % 200))))\n"
        "    if n == 20: print('writing', flush=True)\n"
    )
    for _ in range(3):
        child = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdout.readline().strip() == "writing"
        time.sleep(0.05)
        child.kill()
        child.wait(10)
        record = StateStore(tmp_path).load_host("hv01.example.com")
        assert record.phase == "entering" and int(record.job or 0) >= 20
    leftovers = [p for p in (tmp_path / "hosts").iterdir() if p.name.endswith(".tmp")]
    # A temp file may survive a kill; it is never read as state.
    assert all(p.name.startswith(".") for p in leftovers)
    assert os.path.exists(tmp_path / "hosts" / "hv01.example.com.json")


# --- issue 10: hostile files, leftovers, full disk ------------------------------------------

def _host_file(tmp_path: Path) -> Path:
    path = StateStore(tmp_path).host_path("hv01.example.com")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_a_state_file_linked_elsewhere_is_neither_read_nor_copied(tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text('{"version": 1, "record": {"phase": "maintenance"}}')
    path = _host_file(tmp_path)
    path.symlink_to(secret)
    with pytest.raises(CorruptStateError, match="symbolic link: not followed") as caught:
        StateStore(tmp_path).load_host("hv01.example.com")
    assert "\n" not in str(caught.value)
    assert not list(path.parent.glob("*.corrupt-*"))


def test_a_fifo_as_state_file_does_not_block(tmp_path: Path) -> None:
    path = _host_file(tmp_path)
    os.mkfifo(path)
    started = time.monotonic()
    with pytest.raises(CorruptStateError, match="not a regular file"):
        StateStore(tmp_path).load_host("hv01.example.com")
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("content", [
    b'{"version": 1, "record": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"version": 1, "record": {"phase": "normal", "history": [' + b"1" * 5000 + b"]}}",
    b'{"version": 1, "record": {"since": ' + b"1" * 5000 + b"}}",
])
def test_deep_or_huge_json_is_one_line_and_copied_aside(tmp_path: Path, content: bytes) -> None:
    """Old code: RecursionError / ValueError escaped, nothing copied aside."""
    path = _host_file(tmp_path)
    path.write_bytes(content)
    with pytest.raises(CorruptStateError, match="corrupt") as caught:
        StateStore(tmp_path).load_host("hv01.example.com")
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 500
    copies = list(path.parent.glob("hv01.example.com.json.corrupt-*"))
    assert len(copies) == 1 and copies[0].read_bytes() == content


def test_a_huge_state_file_is_not_read_whole(tmp_path: Path) -> None:
    path = _host_file(tmp_path)
    with path.open("wb") as handle:
        handle.truncate(64 << 20)  # sparse: 64 MiB of zeros
    with pytest.raises(CorruptStateError, match=r"corrupt .*more than"):
        StateStore(tmp_path).load_host("hv01.example.com")


def test_temp_files_left_by_a_killed_writer_are_removed(tmp_path: Path) -> None:
    """Old code: a kill between mkstemp and rename left .NAME.json.XXXX.tmp forever."""
    store = StateStore(tmp_path)
    store.save_host("hv01.example.com", HostRecord())
    directory = store.host_path("hv01.example.com").parent
    stale = directory / ".hv01.example.com.json.abcd1234.tmp"
    fresh = directory / ".hv02.example.com.json.efgh5678.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"being written")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    store.save_host("hv01.example.com", HostRecord(phase="entering"))
    assert not stale.exists()
    assert fresh.exists()  # a live writer's file is left alone


def test_names_too_long_for_a_file_name_are_refused(tmp_path: Path) -> None:
    from check_dell_ups.maintenance.state import StateError, name_fits
    long_name = "ü" * 100  # 100 characters, 600 bytes once percent-encoded
    assert not name_fits(long_name) and name_fits("ups-rack1")
    with pytest.raises(StateError, match="too long"):
        StateStore(tmp_path).save_ups(long_name, UpsRecord())


def test_a_full_disk_keeps_the_ups_record_in_its_reserve(tmp_path: Path, monkeypatch, at) -> None:
    """The event is the UPS record: with the disk full it still lands (in the reserve file
    preallocated when there was space) and the next read sees it."""
    import check_dell_ups.maintenance.state as state
    store = StateStore(tmp_path)
    store.save_ups("ups-a", UpsRecord(power="battery", last_event_at=at(0), called=True))

    def full(path: Path, payload: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state, "atomic_write", full)
    mains = UpsRecord(power="mains", last_event_at=at(60), since=at(60), last_on_battery=0.0)
    store.save_ups("ups-a", mains)
    assert StateStore(tmp_path).load_ups("ups-a") == mains
    monkeypatch.undo()
    # Space again: the file takes over, newer than the reserve.
    later = UpsRecord(power="battery", last_event_at=at(120))
    store.save_ups("ups-a", later)
    assert StateStore(tmp_path).load_ups("ups-a") == later


def test_a_torn_reserve_is_ignored(tmp_path: Path, at) -> None:
    store = StateStore(tmp_path)
    record = UpsRecord(power="battery", last_event_at=at(0))
    store.save_ups("ups-a", record)
    reserve = store.ups_path("ups-a").with_suffix(".reserve")
    reserve.write_bytes(b"0000004000000000{garbage")
    assert StateStore(tmp_path).load_ups("ups-a") == record


def test_host_locks_let_other_hosts_go_on(tmp_path: Path) -> None:
    first, second = StateStore(tmp_path), StateStore(tmp_path)
    with first.hosts_locked(["hv01.example.com", "hv02.example.com"], 1) as (locked, busy):
        assert sorted(locked) == ["hv01.example.com", "hv02.example.com"] and not busy
        with second.hosts_locked(["hv02.example.com", "hv03.example.com"], 0.2) as (l2, b2):
            assert l2 == ["hv03.example.com"] and b2 == ["hv02.example.com"]
