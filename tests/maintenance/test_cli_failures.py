"""Handler failures are visible: syslog and log_file get them too (config errors
included), --status reports unusable state as errors, state is written only by the
state_dir's owner, and a closed stdout ends the program quietly."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from check_dell_ups.maintenance import failures, log
from check_dell_ups.maintenance.cli import main

REPO = Path(__file__).resolve().parents[2]
NAGIOS_UID = 102

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
{extra}
[ups."ups-a"]
hosts = [{hosts}]
"""


def write_config(tmp_path: Path, extra: str = "", hosts: int = 1) -> Path:
    path = tmp_path / "handler.toml"
    names = ", ".join(f'"hv{n:04d}.example.com"' for n in range(1, hosts + 1))
    path.write_text(CONFIG.format(state=tmp_path / "state", extra=extra, hosts=names))
    return path


@pytest.fixture
def syslog(tmp_path: Path, monkeypatch) -> Iterator[socket.socket]:
    """A real syslog socket (a Unix datagram socket) that the handler logs to."""
    address = str(tmp_path / "log.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(2)
    monkeypatch.setattr(log, "_SYSLOG_SOCKETS", (address,))
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    messages = []
    sock.settimeout(0.5)
    try:
        while True:
            messages.append(sock.recv(65536).decode().rstrip("\x00"))
    except TimeoutError:
        return messages


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    assert out.err == ""
    return code, out.out


def test_a_config_typo_goes_to_syslog_and_to_log_file(capsys, tmp_path, syslog) -> None:
    config = write_config(tmp_path, extra='timre = 300\n')
    (tmp_path / "state").mkdir()
    code, out = run(capsys, "--config", str(config), "--ups", "ups-a", "--state", "CRITICAL",
                    "--perfdata", "on_battery=400s")
    line = ("maintenance.timre: unknown key (known: budget, charge_floor, log_file, mode, "
            "on_power_restored, runtime_floor, state_dir, timer)")
    assert (code, out) == (1, f"dell_ups_maintenance: {line}\n")
    messages = received(syslog)
    assert len(messages) == 1 and messages[0].endswith(f"ups=ups-a {line}")
    logged = (tmp_path / "state" / "maintenance.log").read_text()
    assert logged.count("\n") == 1 and logged.rstrip().endswith(f"ERROR ups=ups-a {line}")


def test_an_unreadable_config_is_logged_to_the_default_log_file(capsys, tmp_path, syslog,
                                                                monkeypatch) -> None:
    fallback = tmp_path / "var" / "maintenance.log"
    fallback.parent.mkdir()
    monkeypatch.setattr(failures, "FALLBACK_LOG_FILE", str(fallback))
    config = tmp_path / "broken.toml"
    config.write_text("[scvmm\n")
    code, out = run(capsys, "--config", str(config), "--retry-pending")
    assert code == 1 and out.startswith(f"dell_ups_maintenance: config {config} is not valid TOML")
    assert "is not valid TOML" in fallback.read_text()
    assert len(received(syslog)) == 1


def test_bad_arguments_are_logged_too(capsys, tmp_path, syslog) -> None:
    code, out = run(capsys, "--config", str(tmp_path / "x.toml"), "--ups", "ups-a",
                    "--state", "PURPLE")
    assert code == 1
    assert [message.split(": ", 1)[1] for message in received(syslog)] == \
        [out.removeprefix("dell_ups_maintenance: ").rstrip("\n")]


def test_the_fallback_log_is_never_written_into_another_users_directory(
        capsys, tmp_path, syslog, monkeypatch) -> None:
    fallback = tmp_path / "var" / "maintenance.log"
    fallback.parent.mkdir()
    os.chown(fallback.parent, NAGIOS_UID, -1)
    monkeypatch.setattr(failures, "FALLBACK_LOG_FILE", str(fallback))
    run(capsys, "--config", str(tmp_path / "missing.toml"), "--retry-pending")
    assert not fallback.exists()
    assert len(received(syslog)) == 1  # syslog still has it


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand a directory to nagios")
def test_state_of_another_user_is_never_written(capsys, tmp_path, syslog) -> None:
    config = write_config(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, NAGIOS_UID, -1)
    code, out = run(capsys, "--config", str(config), "--ups", "ups-a", "--state", "OK",
                    "--perfdata", "on_battery=0s")
    user = __import__("pwd").getpwuid(NAGIOS_UID).pw_name
    assert (code, out) == (1, f"dell_ups_maintenance: state_dir {state} belongs to {user}, "
                              f"this runs as root: run it as {user} (sudo -u {user} ...); "
                              "nothing done\n")
    assert list(state.iterdir()) == []  # no lock, no record, no log of root's
    assert len(received(syslog)) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a file another user's")
def test_status_reports_another_users_state_file_as_an_error(capsys, tmp_path) -> None:
    config = write_config(tmp_path)
    code, _ = run(capsys, "--config", str(config), "--ups", "ups-a", "--state", "OK",
                  "--perfdata", "on_battery=0s")
    assert code == 0
    record = tmp_path / "state" / "ups" / "ups-a.json"
    os.chown(record, NAGIOS_UID, -1)
    code, out = run(capsys, "--config", str(config), "--status")
    user = __import__("pwd").getpwuid(NAGIOS_UID).pw_name
    assert code == 1
    assert out.splitlines()[-1] == (
        f"ERROR: {record} belongs to {user}, not to root who owns state_dir (written by a "
        f"manual run as {user}?): chown root it")


def test_status_into_a_closed_pipe_ends_quietly(tmp_path) -> None:
    config = write_config(tmp_path, hosts=3000)  # more than a pipe holds
    program = f"{sys.executable} {REPO / 'handlers' / 'dell_ups_maintenance'}"
    result = subprocess.run(["sh", "-c", f"{program} --config {config} --status | head -2"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.stderr == ""
    assert result.stdout.splitlines()[0].startswith("UPS")
    assert len(result.stdout.splitlines()) == 2


def test_status_onto_a_full_disk_ends_with_exit_1_and_no_traceback(tmp_path) -> None:
    config = write_config(tmp_path)
    program = f"{sys.executable} {REPO / 'handlers' / 'dell_ups_maintenance'}"
    result = subprocess.run(["sh", "-c", f"{program} --config {config} --status >/dev/full"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert (result.returncode, result.stderr) == (1, "")


def test_a_drill_of_a_host_not_configured_is_refused_in_one_line(capsys, tmp_path) -> None:
    config = write_config(tmp_path)
    code, out = run(capsys, "--config", str(config), "--drill", "hv99.example.com")
    assert (code, out) == (1, "dell_ups_maintenance: drill of hv99.example.com refused: "
                              "hv99.example.com is not a configured host (not in any [ups] "
                              "table's hosts)\n")
