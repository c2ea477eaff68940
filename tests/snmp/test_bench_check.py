"""bench/bench_check.py still runs and counts what it should (one run per command)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_check.py"


def test_bench_runs_and_counts_requests():
    done = subprocess.run(
        [sys.executable, str(BENCH), "--runs", "1", "--no-reference"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    rows = {line[:42].strip(): line[42:].split() for line in done.stdout.splitlines()[3:]}
    # columns: CPU med, CPU p90, wall med, wall p90, req/check, agent req, exit, output...
    assert rows["transport alone: python -c fetch() v2c"][4] == "2"
    assert rows["transport alone: python -c fetch() v3"][4] == "3"
    assert rows["transport alone: python -c fetch() v2c"][6] == "0"
    if "check_dell_ups v2c" in rows:
        assert rows["check_dell_ups v2c"][4] == "2"
        assert rows["check_dell_ups v3 authPriv SHA/AES"][4] == "3"
