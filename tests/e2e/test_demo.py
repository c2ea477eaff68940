"""dell_ups_demo as a user runs it: the whole story, a clean exit, nothing left behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

DEMO = str(Path(sys.executable).parent / "dell_ups_demo")


@pytest.fixture
def private_tmp(tmp_path: Path) -> Path:
    """The demo's TMPDIR: others may run the demo on this machine at the same time."""
    return tmp_path


def demo_dirs(tmp: Path) -> list[Path]:
    return list(tmp.glob("dell_ups_demo-*"))


def run_demo(tmp: Path, *options: str, timeout: float = 180,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DEMO, *options], capture_output=True, text=True, timeout=timeout,
                          check=False, env=dict(env or os.environ, TMPDIR=str(tmp)))


def test_demo_tells_the_whole_story_and_cleans_up(private_tmp: Path):
    result = run_demo(private_tmp, "--timer", "10", "--interval", "2")
    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    assert result.stderr == ""
    # Every line starts with a wall-clock time and the seconds since the start.
    timestamped = [line for line in output.splitlines() if line and not line.startswith(" ")]
    assert all(re.match(r"^\d\d:\d\d:\d\d \+\s*\d+\.\ds  ", line) for line in timestamped)
    story = [
        "== mains power cut: the 10 s maintenance timer starts ==",
        "check: DELL UPS WARNING - on battery",
        "check: DELL UPS CRITICAL - on battery",
        "Disable-SCVMHost",
        "every host fed by ups-rack1 is in maintenance mode",
        "== mains power restored ==",
        "Enable-SCVMHost",
        "every host fed by ups-rack1 has left maintenance mode",
        "== done: simulators stopped, temporary files removed ==",
    ]
    positions = [output.find(step) for step in story]
    assert -1 not in positions, [s for s, p in zip(story, positions, strict=True) if p == -1]
    assert positions == sorted(positions)
    # SCVMM's view in maintenance: HA VMs moved to the node on the other feed.
    assert re.search(r"hv01\.example\.com\s+cl01\s+ups-rack1\s+MAINTENANCE", output)
    assert re.search(r"hv03\.example\.com\s+cl01\s+other feed\s+ok\s+.*web01 \(HA, Running\)",
                     output)
    # cl02 has no node on another feed: its last node's migration is refused (Failover
    # Clustering keeps it), the save fallback saves its VMs.
    assert "falling back to save mode" in output
    assert re.search(r"hv0[56]\.example\.com\s+cl02\s+ups-rack1\s+MAINTENANCE\s+.*"
                     r"erp0[56] \(HA, Saved\)", output)
    assert demo_dirs(private_tmp) == []


def test_ctrl_c_stops_everything_and_removes_the_temporary_files(private_tmp: Path):
    process = subprocess.Popen([DEMO, "--timer", "30"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, TMPDIR=str(private_tmp)))
    try:
        deadline = time.monotonic() + 60
        while not demo_dirs(private_tmp):
            assert time.monotonic() < deadline, "the demo did not start"
            time.sleep(0.2)
        time.sleep(5)  # into the story
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert "interrupted" in stdout
    assert "Traceback" not in stderr
    assert demo_dirs(private_tmp) == []


def test_icinga_demo_without_icinga_says_so_and_exits_0(private_tmp: Path):
    # A PATH on which there is no icinga2, installed or not.
    path = os.pathsep.join(directory for directory in os.environ["PATH"].split(os.pathsep)
                           if not (Path(directory) / "icinga2").exists())
    result = run_demo(private_tmp, "--icinga", timeout=60, env=dict(os.environ, PATH=path))
    assert result.returncode == 0
    assert "icinga2 is not installed" in result.stdout
    assert result.stderr == ""


@pytest.mark.skipif(shutil.which("icinga2") is None, reason="icinga2 is not installed")
def test_icinga_demo_runs_the_story_through_icinga(private_tmp: Path):
    result = run_demo(private_tmp, "--icinga", "--timer", "10")
    output = result.stdout
    assert result.returncode == 0, output + result.stderr
    story = [
        "Icinga: ups-rack1!ups-maintenance (automation) OK HARD",
        "Icinga: ups-rack1!ups-maintenance (automation) WARNING HARD",
        "Icinga: ups-rack1!ups-maintenance (automation) CRITICAL HARD",
        "Icinga: ups-rack1!ups-maintenance (automation) runs event handler on CRITICAL HARD",
        "every host fed by ups-rack1 is in maintenance mode",
        "every host fed by ups-rack1 has left maintenance mode",
        "== done: Icinga 2 and the simulators stopped, temporary files removed ==",
    ]
    positions = [output.find(step) for step in story]
    assert -1 not in positions, [s for s, p in zip(story, positions, strict=True) if p == -1]
    assert positions == sorted(positions)
    assert "(people) CRITICAL HARD" in output
    assert "(people) runs event handler" not in output
    assert demo_dirs(private_tmp) == []
