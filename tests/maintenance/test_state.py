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
