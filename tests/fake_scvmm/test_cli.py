"""fake_scvmm as a program: listening line, /fake/state, clean exit on SIGTERM."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path


def installed_program(name: str) -> str:
    """The console script beside this interpreter (as tests/conftest.py finds it; conftest
    modules are not importable under --import-mode=importlib)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else str(shutil.which(name))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_serves_the_inventory_and_stops_on_sigterm(tmp_path, inventory, clean_env):
    inventory_file = tmp_path / "inventory.json"
    inventory_file.write_text(json.dumps(inventory))
    port = free_port()
    env = dict(clean_env, FAKE_SCVMM_PASSWORD="cli-secret")
    process = subprocess.Popen(
        [
            installed_program("fake_scvmm"),
            "--port",
            str(port),
            "--inventory",
            str(inventory_file),
            "--username",
            "svc-ups",
            "--latency",
            "0.05",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = process.stdout.readline()
        assert "listening" in line
        assert f":{port}/wsman" in line
        assert "cli-secret" not in line
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/fake/state", timeout=10) as answer:
            state = json.load(answer)
        assert state["hosts"]["hv01.example.com"]["cluster"] == "cl01"
        assert state["faults"]["latency"] == 0.05
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()


def test_cli_without_password_exits_2(tmp_path, inventory, clean_env):
    inventory_file = tmp_path / "inventory.json"
    inventory_file.write_text(json.dumps(inventory))
    env = {k: v for k, v in clean_env.items() if k != "FAKE_SCVMM_PASSWORD"}
    finished = subprocess.run(
        [
            installed_program("fake_scvmm"),
            "--port",
            "0",
            "--inventory",
            str(inventory_file),
            "--username",
            "svc-ups",
        ],
        capture_output=True,
        check=False,
        text=True,
        env=env,
        timeout=30,
    )
    assert finished.returncode == 2
    assert "FAKE_SCVMM_PASSWORD" in finished.stderr
    assert "Traceback" not in finished.stderr
