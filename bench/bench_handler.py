"""Benchmark: from a CRITICAL event to every Disable-SCVMHost job issued, for 1, 10 and 50
hosts on one UPS, against the fake SCVMM with a latency of 0.1 s per pipeline.

Two ways:
  driver   open_driver() + get_hosts() + disable_hosts() in this process;
  handler  the whole event handler (handlers/dell_ups_maintenance) as a subprocess with a
           config (transport http, auth basic), timed until the fake has seen every
           Disable-SCVMHost (the handler then keeps polling its jobs until its budget).
The fake runs as its own process (fake_scvmm), as a real VMM is another machine: the
client and the server do not share one Python interpreter lock.
Prints figures, asserts nothing. Target: 50 hosts within 3x the 1-host time.

    .venv/bin/python bench/bench_handler.py [--latency 0.1] [--repeat 3] [--sizes 1,10,50]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from check_dell_ups.maintenance.driver import ScvmmEndpoint
from check_dell_ups.maintenance.scvmm import open_driver

REPO = Path(__file__).resolve().parent.parent
HANDLER = REPO / "handlers" / "dell_ups_maintenance"
PASSWORD = "bench-password"
USERNAME = "svc-ups"
JOB_SECONDS = 600.0  # jobs stay running: we time the issuing, not the migrations


def host_names(count: int) -> list[str]:
    return [f"hv{number:03d}.example.com" for number in range(1, count + 1)]


def inventory(count: int) -> dict[str, Any]:
    """count hosts on the UPS in one cluster, two spare nodes to migrate to, two VMs each."""
    hosts = {name: {"cluster": "cl-bench"} for name in host_names(count)}
    hosts.update({"spare1.example.com": {"cluster": "cl-bench"},
                  "spare2.example.com": {"cluster": "cl-bench"}})  # fmt: skip
    vms = {}
    for name in host_names(count):
        short = name.split(".")[0]
        vms[f"{short}-ha"] = {"host": name, "status": "Running", "ha": True}
        vms[f"{short}-local"] = {"host": name, "status": "Running", "ha": False}
    return {"hosts": hosts, "vms": vms, "vmm_server": "vmm01.example.com"}


class FakeProcess:
    """fake_scvmm as a subprocess, with the bench's inventory, latency and job time."""

    def __init__(self, count: int, latency: float, directory: Path) -> None:
        inventory_file = directory / "inventory.json"
        inventory_file.write_text(json.dumps(inventory(count)), encoding="utf-8")
        program = Path(sys.executable).parent / "fake_scvmm"
        self.process = subprocess.Popen(
            [str(program), "--port", "0", "--inventory", str(inventory_file),
             "--username", USERNAME, "--latency", str(latency),
             "--job-seconds", str(JOB_SECONDS)],
            stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, FAKE_SCVMM_PASSWORD=PASSWORD),
        )  # fmt: skip
        line = self.process.stdout.readline() if self.process.stdout else ""
        match = re.search(r" port (\d+)", line)
        if match is None:
            self.stop()
            raise SystemExit(f"fake_scvmm did not start: {line.strip()}")
        self.port = int(match.group(1))

    def disable_calls(self) -> int:
        url = f"http://127.0.0.1:{self.port}/fake/calls"
        with urllib.request.urlopen(url, timeout=30) as answer:
            return sum(1 for call in json.load(answer) if call["cmdlet"] == "Disable-SCVMHost")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        if self.process.stdout:
            self.process.stdout.close()

    def __enter__(self) -> FakeProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def time_driver(count: int, latency: float) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-driver-") as temporary,
        FakeProcess(count, latency, Path(temporary)) as fake,
    ):
        endpoint = ScvmmEndpoint("127.0.0.1", fake.port, False, "basic", USERNAME, PASSWORD)
        started = time.perf_counter()
        driver = open_driver(endpoint)
        opened = time.perf_counter()
        hosts = driver.get_hosts(host_names(count))
        read = time.perf_counter()
        jobs = driver.disable_hosts({name: True for name in hosts})
        issued = time.perf_counter()
        driver.close()
        failed = [name for name, job in jobs.items() if not isinstance(job, str)]
        if failed or fake.disable_calls() != count:
            raise SystemExit(f"driver run with {count} hosts failed for {failed[:3]}")
    return {
        "open": opened - started,
        "read": read - opened,
        "disable": issued - read,
        "total": issued - started,
    }


def handler_config(directory: Path, port: int, count: int) -> Path:
    hosts = ", ".join(f'"{name}"' for name in host_names(count))
    config = directory / "handler.toml"
    config.write_text(
        "[scvmm]\n"
        'server = "127.0.0.1"\n'
        'transport = "http"\n'
        f"port = {port}\n"
        'auth = "basic"\n'
        f'username = "{USERNAME}"\n'
        "\n[maintenance]\n"
        "timer = 300\n"
        'mode = "migrate"\n'
        "budget = 3\n"
        f'state_dir = "{directory}"\n'
        '\n[ups."ups-bench"]\n'
        f"hosts = [{hosts}]\n",
        encoding="utf-8",
    )
    return config


def time_handler(count: int, latency: float) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-handler-") as temporary,
        FakeProcess(count, latency, Path(temporary)) as fake,
    ):
        config = handler_config(Path(temporary), fake.port, count)
        command = [
            sys.executable, str(HANDLER), "--config", str(config), "--ups", "ups-bench",
            "--state", "CRITICAL", "--state-type", "HARD", "--attempt", "1",
            "--perfdata", "on_battery=400s runtime=1500s charge=90% load=35%",
        ]  # fmt: skip
        environment = dict(os.environ, DELL_UPS_SCVMM_PASSWORD=PASSWORD)
        started = time.perf_counter()
        process = subprocess.Popen(
            command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        issued = None
        while process.poll() is None or issued is None:
            if issued is None and fake.disable_calls() >= count:
                issued = time.perf_counter()
            if process.poll() is not None and issued is None:
                break
            time.sleep(0.01)
        output, _ = process.communicate(timeout=120)
        ended = time.perf_counter()
        if issued is None:
            raise SystemExit(
                f"handler with {count} hosts issued {fake.disable_calls()} Disable-SCVMHost; "
                f"exit {process.returncode}: {output.strip()[:300]}"
            )
    return {"issued": issued - started, "exit": ended - started}


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--skip-handler", action="store_true")
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.sizes.split(",")]

    print(f"latency {arguments.latency} s per pipeline; median of {arguments.repeat} runs")
    print("\ndriver: open_driver + get_hosts + disable_hosts (s)")
    print(f"{'hosts':>6} {'open':>7} {'read':>7} {'disable':>8} {'total':>7} {'x 1 host':>9}")
    baseline = None
    for size in sizes:
        figures = median_of([time_driver(size, arguments.latency) for _ in range(arguments.repeat)])
        baseline = baseline or figures["total"]
        print(
            f"{size:>6} {figures['open']:>7.3f} {figures['read']:>7.3f} "
            f"{figures['disable']:>8.3f} {figures['total']:>7.3f} "
            f"{figures['total'] / baseline:>9.2f}"
        )

    if arguments.skip_handler:
        return 0
    if not HANDLER.exists():
        print(f"\nhandler: {HANDLER} not found, skipped")
        return 0
    print("\nhandler: process start -> every Disable-SCVMHost seen by the fake (s)")
    print(f"{'hosts':>6} {'issued':>7} {'x 1 host':>9} {'exit':>7}")
    baseline = None
    for size in sizes:
        figures = median_of(
            [time_handler(size, arguments.latency) for _ in range(arguments.repeat)]
        )
        baseline = baseline or figures["issued"]
        print(
            f"{size:>6} {figures['issued']:>7.3f} {figures['issued'] / baseline:>9.2f} "
            f"{figures['exit']:>7.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
