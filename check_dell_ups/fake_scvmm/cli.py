"""fake_scvmm: run the fake VMM server (WinRM/PSRP over HTTP, Basic auth) until
SIGTERM or SIGINT. The password comes from the environment, FAKE_SCVMM_PASSWORD."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from check_dell_ups.fake_scvmm.server import FakeScvmm

PASSWORD_VARIABLE = "FAKE_SCVMM_PASSWORD"


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fake_scvmm",
        description="A fake SCVMM server: a WinRM/PSRP endpoint over HTTP with Basic auth. "
        f"The password is read from ${PASSWORD_VARIABLE}.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="TCP port (0 = any free port)")
    parser.add_argument("--inventory", required=True, help="JSON file: hosts, vms, vmm_server")
    parser.add_argument("--username", required=True, help="the one account allowed in")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds before each pipeline's output"
    )
    parser.add_argument("--job-seconds", type=float, default=1.0, help="how long each job runs")
    return parser.parse_args(argv)


def _load_inventory(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        inventory = json.load(handle)
    if not isinstance(inventory, dict) or not isinstance(inventory.get("hosts"), dict):
        raise ValueError("the inventory needs a 'hosts' object")
    return inventory


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _arguments(argv)
    password = os.environ.get(PASSWORD_VARIABLE, "")
    if not password:
        print(f"fake_scvmm: set {PASSWORD_VARIABLE} to the password to accept", file=sys.stderr)
        return 2
    try:
        inventory = _load_inventory(arguments.inventory)
        fake = FakeScvmm(
            inventory,
            username=arguments.username,
            password=password,
            host=arguments.host,
            port=arguments.port,
            latency=arguments.latency,
            job_seconds=arguments.job_seconds,
        )
        fake.start()
    except (OSError, ValueError, KeyError) as problem:
        print(f"fake_scvmm: {' '.join(str(problem).split())}", file=sys.stderr)
        return 2

    stopping = threading.Event()

    def stop(_signal: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        f"fake_scvmm listening on {fake.url} port {fake.port} "
        f"(user {arguments.username}, {len(inventory['hosts'])} hosts, "
        f"{len(inventory.get('vms', {}))} VMs; control: GET /fake/state)",
        flush=True,
    )
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
