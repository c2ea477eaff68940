"""The program's edges, in-process where possible: arguments, exit codes, lazy imports."""

from __future__ import annotations

import json
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
