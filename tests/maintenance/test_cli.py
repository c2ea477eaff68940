"""The program's edges, in-process where possible: arguments, exit codes, lazy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from check_dell_ups.maintenance.cli import main

CONFIG = """
[scvmm]
server = "127.0.0.1"
transport = "http"
port = 1
auth = "basic"
username = "svc-ups"

[maintenance]
state_dir = "{state}"
budget = 5

[ups."ups-a"]
hosts = ["hv01.example.com"]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "handler.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state"))
    return path


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    assert out.err == ""
    return code, out.out


@pytest.mark.parametrize("argv", [
    [],
    ["--config"],
    ["--config", "x.toml", "--ups", "ups-a"],
    ["--config", "x.toml", "--status", "--retry-pending"],
    ["--config", "x.toml", "--json"],
    ["--config", "x.toml", "--ups", "a", "--state", "PURPLE"],
    ["--config", "x.toml", "--retry-pending", "--ups", "a"],
    ["--config", "x.toml", "--bogus"],
    ["--config", "x.toml", "--yes"],
    ["--config", "x.toml", "--drill", "hv01.example.com", "--status"],
    ["--config", "x.toml", "--drill", "hv01.example.com", "--dry-run"],
])
def test_bad_arguments_exit_1_with_one_line(capsys, argv: list[str]) -> None:
    code, out = run(capsys, *argv)
    assert code == 1
    assert out.startswith("dell_ups_maintenance: ") and out.count("\n") == 1


def test_status_of_a_fresh_install(capsys, config: Path) -> None:
    code, out = run(capsys, "--config", str(config), "--status", "--json")
    assert code == 0
    assert json.loads(out) == {"ups": {"ups-a": {
        "power": "unknown", "on_battery_since": None,
        "hosts": {"hv01.example.com": {"phase": "normal", "since": None, "job": None,
                                       "error": None, "ours": False}}}}}
    code, out = run(capsys, "--config", str(config), "--status")
    assert code == 0 and out.splitlines()[0].split()[:2] == ["UPS", "POWER"]


def test_nothing_due_exits_0_without_contacting_scvmm(capsys, config: Path) -> None:
    code, out = run(capsys, "--config", str(config), "--ups", "ups-a", "--state", "WARNING",
                    "--state-type", "SOFT", "--perfdata", "on_battery=10s;;300")
    assert code == 0 and "no maintenance yet" in out


def test_no_password_is_a_one_line_failure_when_scvmm_is_needed(capsys, config: Path,
                                                                 monkeypatch) -> None:
    monkeypatch.delenv("DELL_UPS_SCVMM_PASSWORD", raising=False)
    code, out = run(capsys, "--config", str(config), "--ups", "ups-a", "--state", "CRITICAL",
                    "--perfdata", "on_battery=1000s")
    assert code == 1 and "no SCVMM password" in out and out.count("\n") == 1


def test_corrupt_state_is_reported_in_status(capsys, config: Path, tmp_path: Path) -> None:
    hosts = tmp_path / "state" / "hosts"
    hosts.mkdir(parents=True)
    (hosts / "hv01.example.com.json").write_text("{oops")
    code, out = run(capsys, "--config", str(config), "--status", "--json")
    document = json.loads(out)
    entry = document["ups"]["ups-a"]["hosts"]["hv01.example.com"]
    assert entry["phase"] == "failed" and "corrupt" in entry["error"]
    # An unusable state file is an error of --status itself (it was rc 0 with "failed").
    assert code == 1 and ["corrupt" in error for error in document["errors"]] == [True]
    assert sorted(p.name for p in hosts.iterdir()) == ["hv01.example.com.json"]


def test_status_and_config_errors_never_import_pypsrp(config: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[scvmm]\nserver = 'vmm'\n")
    script = (
        "import sys\n"
        "from check_dell_ups.maintenance.cli import main\n"
        f"assert main(['--config', {str(config)!r}, '--status', '--json']) == 0\n"
        f"assert main(['--config', {str(bad)!r}, '--ups', 'a', '--state', 'OK']) == 1\n"
        f"assert main(['--config', {str(config)!r}, '--ups', 'ups-a', '--state', 'OK',"
        " '--perfdata', 'on_battery=0']) == 0\n"
        "loaded = [m for m in sys.modules if m.startswith(('pypsrp', 'psrpcore', 'requests'))]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_unwritable_state_dir_is_one_line(capsys, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    path = tmp_path / "handler.toml"
    path.write_text(CONFIG.format(state=blocker / "state"))
    code, out = run(capsys, "--config", str(path), "--ups", "ups-a", "--state", "CRITICAL",
                    "--perfdata", "on_battery=1000s")
    assert code == 1 and out.count("\n") == 1 and "state" in out


def test_odd_state_type_and_attempt_do_not_stop_the_handler(capsys, config: Path) -> None:
    code, out = run(capsys, "--config", str(config), "--ups", "ups-a", "--state", "WARNING",
                    "--state-type", "", "--attempt", "", "--perfdata", "on_battery=10s")
    assert code == 0 and "no maintenance yet" in out


# --- issue 10: bad input gives one clear line ------------------------------------------------

@pytest.mark.parametrize("value", ["1e300", "99999999999"])
def test_an_absurd_on_battery_still_means_on_battery(capsys, config: Path, monkeypatch,
                                                      value: str) -> None:
    """Old code: OverflowError -> 'internal error', nothing done."""
    monkeypatch.setenv("DELL_UPS_SCVMM_PASSWORD", "x")
    _code, out = run(capsys, "--config", str(config), "--ups", "ups-a", "--state", "CRITICAL",
                    "--perfdata", f"on_battery={value}s;;300")
    assert "internal error" not in out and "calls for maintenance" in out, out
    assert out.count("\n") == 1


@pytest.mark.parametrize(("content", "reason"), [
    (b"\x7fELF\x02\x01\x01\x00\xd0\xff" * 50, "not UTF-8"),
    (b"a = " + b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
    (b'[scvmm]\nserver = "vmm"\nusername = "u"\npassword_file = "/etc/x\\u0000y"\n'
     b'[ups."a"]\nhosts = ["hv01"]\n', "NUL"),
    (b'[scvmm]\nserver = "vmm"\nusername = "u"\n[maintenance]\nstate_dir = "/s\\u0000"\n'
     b'[ups."a"]\nhosts = ["hv01"]\n', "NUL"),
    (b'[scvmm]\nserver = "vmm"\nusername = "u"\n[ups."' + "ü".encode() * 80 + b'"]\n'
     b'hosts = ["hv01"]\n', "state file name"),
])
def test_hostile_config_files_are_one_line(capsys, tmp_path: Path, content: bytes,
                                           reason: str) -> None:
    """Old code: UnicodeDecodeError / RecursionError / ValueError -> 'internal error'."""
    path = tmp_path / "handler.toml"
    path.write_bytes(content)
    code, out = run(capsys, "--config", str(path), "--status")
    assert code == 1 and out.count("\n") == 1 and "internal error" not in out, out
    assert reason in out


def test_a_fifo_as_config_or_password_file_does_not_block(capsys, tmp_path: Path,
                                                           monkeypatch) -> None:
    """Old code: a password_file that is a FIFO blocked forever (under the lock)."""
    import time
    monkeypatch.delenv("DELL_UPS_SCVMM_PASSWORD", raising=False)
    fifo = tmp_path / "password"
    os.mkfifo(fifo, 0o600)
    path = tmp_path / "handler.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state")
                    .replace('username = "svc-ups"', f'username = "svc-ups"\n'
                             f'password_file = "{fifo}"'))
    started = time.monotonic()
    code, out = run(capsys, "--config", str(path), "--ups", "ups-a", "--state", "CRITICAL",
                    "--perfdata", "on_battery=1000s")
    assert time.monotonic() - started < 5
    assert code == 1 and "not a regular file" in out and out.count("\n") == 1
    config_fifo = tmp_path / "config.toml"
    os.mkfifo(config_fifo)
    code, out = run(capsys, "--config", str(config_fifo), "--status")
    assert code == 1 and "not a regular file" in out


def test_a_full_log_partition_is_no_failure(capsys, tmp_path: Path) -> None:
    """Old code: 'internal error: OSError ... No space left on device', exit 1."""
    path = tmp_path / "handler.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state")
                    .replace("budget = 5", 'budget = 5\nlog_file = "/dev/full"'))
    code, out = run(capsys, "--config", str(path), "--ups", "ups-a", "--state", "WARNING",
                    "--perfdata", "on_battery=10s")
    assert code == 0 and "no maintenance yet" in out and "internal error" not in out, out
    assert "log_file unusable" in out


def test_a_hung_file_read_ends_with_the_budget(capsys, tmp_path: Path, monkeypatch) -> None:
    """A read that blocks (a hung NFS state_dir; here a sleep in its place) cannot hold
    the call past budget + 2 s: one line, exit 1. Old code: blocked until it returned."""
    import time

    from check_dell_ups.maintenance.state import StateStore
    path = tmp_path / "handler.toml"
    path.write_text(CONFIG.format(state=tmp_path / "state").replace("budget = 5", "budget = 1"))

    def hung(self, ups, keep_aside=True):
        time.sleep(12)
        raise AssertionError("not interrupted")
    monkeypatch.setattr(StateStore, "load_ups", hung)
    started = time.monotonic()
    code, out = run(capsys, "--config", str(path), "--ups", "ups-a", "--state", "OK",
                    "--perfdata", "on_battery=0")
    assert time.monotonic() - started < 6
    assert code == 1 and "time budget spent" in out and out.count("\n") == 1
