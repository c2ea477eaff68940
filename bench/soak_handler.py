"""Soak: outages with kill -9 at random points and concurrent calls, bounded in time.

Every handler call is a real process (the handler's main() with its SCVMM connector
pointed at a file-backed in-memory SCVMM, so that SCVMM outlives the killed processes);
a random share of the calls is killed with SIGKILL at a random moment. Per outage:
1-3 rounds of 1-4 concurrent CRITICAL calls for each UPS, then 1-2 concurrent OK calls
per UPS, then --retry-pending (as a systemd timer would run it) until nothing is
pending. One admin host (in maintenance by an admin before every outage) must never be
touched. Prints counts, asserts nothing:

  lost recoveries          OK stored, yet after --retry-pending hosts of ours still in maintenance
  OK killed before stored  the OK call died before its event was stored (a kill that early
                           is an event that never reached the handler: nobody can recover it)
  hosts left in maintenance, admin hosts touched, second Disables (per host per outage,
  beyond the one Disable and one save fallback), leftover temp files

    .venv/bin/python bench/soak_handler.py [--outages 200] [--seconds 900] [--seed 1]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from check_dell_ups.maintenance.driver import (
    HostInfo,
    JobInfo,
    ScvmmCommandError,
    ScvmmError,
    VmInfo,
)

HOSTS_A = ["hv01.example.com", "hv02.example.com"]
ADMIN_HOST = "hv09.example.com"  # fed by ups-a; an admin keeps it in maintenance
HOSTS_B = ["hv03.example.com"]
SHARED = "hv04.example.com"  # fed by both UPSes
# charge 10% <= charge_floor 20: calls for maintenance at once (the outages here last
# seconds, and on_battery alone is capped by when the handler last saw mains).
BATTERY = "on_battery=400s;;300 runtime=1500s charge=10%"
MAINS = "on_battery=0s;;300 runtime=3000s charge=70%"


class FileScvmm:
    """The driver Protocol over a JSON file under flock: shared by every process."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _world(self) -> Iterator[dict[str, Any]]:
        with open(self.path.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            world = json.loads(self.path.read_text())
            _advance(world)
            yield world
            temporary = self.path.with_suffix(".tmp")
            temporary.write_text(json.dumps(world))
            os.replace(temporary, self.path)

    def get_hosts(self, names: Sequence[str]) -> dict[str, HostInfo | ScvmmError]:
        with self._world() as world:
            return {name: HostInfo(name=name, in_maintenance=world["hosts"][name]["maint"],
                                   cluster="cl01",
                                   overall_state="MaintenanceMode"
                                   if world["hosts"][name]["maint"] else "OK")
                    for name in names}

    def get_vms(self, host: str) -> list[VmInfo]:
        with self._world() as world:
            return [VmInfo(vm_id=vm_id, name=vm_id, state=vm["state"], highly_available=False)
                    for vm_id, vm in world["vms"].items() if vm["host"] == host]

    def _job(self, world: dict[str, Any], kind: str, host: str) -> str | ScvmmError:
        locked = any(job["host"] == host and not job["done"] for job in world["jobs"].values())
        if locked:
            return ScvmmCommandError(f"host {host} is locked by a running job (2602)")
        job_id = f"job-{len(world['jobs']) + 1}"
        world["jobs"][job_id] = {"kind": kind, "host": host, "done": False,
                                 "ends": time.time() + random.uniform(0.2, 2.0)}
        counts = world["counts"].setdefault(f"{world['outage']}:{host}:{kind}", 0)
        world["counts"][f"{world['outage']}:{host}:{kind}"] = counts + 1
        if host == ADMIN_HOST:
            world["admin_touched"] += 1
        return job_id

    def disable_hosts(self, move_within_cluster: Mapping[str, bool]) -> dict[str, str | ScvmmError]:
        with self._world() as world:
            return {host: self._job(world, "disable-migrate" if move else "disable-save", host)
                    for host, move in move_within_cluster.items()}

    def enable_hosts(self, names: Sequence[str]) -> dict[str, str | ScvmmError]:
        with self._world() as world:
            return {host: self._job(world, "enable", host) for host in names}

    def get_jobs(self, job_ids: Sequence[str]) -> dict[str, JobInfo | ScvmmError]:
        with self._world() as world:
            result: dict[str, JobInfo | ScvmmError] = {}
            for job_id in job_ids:
                job = world["jobs"].get(job_id)
                if job is None:
                    result[job_id] = ScvmmCommandError(f"job {job_id} not found")
                    continue
                status = "Completed" if job["done"] else "Running"
                result[job_id] = JobInfo(job_id=job_id, status=status, finished=job["done"],
                                         succeeded=job["done"])
            return result

    def start_vms(self, vm_ids: Sequence[str]) -> dict[str, str | ScvmmError]:
        return {vm_id: ScvmmCommandError("not modelled") for vm_id in vm_ids}

    def close(self) -> None:
        pass


def _advance(world: dict[str, Any]) -> None:
    now = time.time()
    for job in world["jobs"].values():
        if not job["done"] and job["ends"] <= now:
            job["done"] = True
            world["hosts"][job["host"]]["maint"] = job["kind"] != "enable"


def child(config: str, world: str, argv: list[str]) -> None:
    """One handler call (run in its own process)."""
    from check_dell_ups.maintenance import cli
    scvmm = FileScvmm(Path(world))
    cli._connector = lambda _config, deadline=None: (lambda: scvmm)  # type: ignore[assignment]
    os.environ["DELL_UPS_SCVMM_PASSWORD"] = "soak"
    sys.exit(cli.main(["--config", config, *argv]))


def write_config(directory: Path) -> Path:
    config = directory / "handler.toml"
    config.write_text(f"""
[scvmm]
server = "vmm01.example.com"
transport = "http"
auth = "basic"
username = "svc"

[maintenance]
state_dir = "{directory / 'state'}"
budget = 8
timer = 300

[ups."ups-a"]
hosts = {json.dumps([*HOSTS_A, ADMIN_HOST, SHARED])}

[ups."ups-b"]
hosts = {json.dumps([*HOSTS_B, SHARED])}
""")
    return config


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--outages", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kill-share", type=float, default=0.5)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    directory = Path(tempfile.mkdtemp(prefix="soak-handler-"))
    config = write_config(directory)
    world_path = directory / "scvmm.json"
    hosts = [*HOSTS_A, ADMIN_HOST, *HOSTS_B, SHARED]
    world_path.write_text(json.dumps({
        "hosts": {host: {"maint": host == ADMIN_HOST} for host in hosts},
        "vms": {}, "jobs": {}, "counts": {}, "outage": 0, "admin_touched": 0}))
    scvmm = FileScvmm(world_path)
    from check_dell_ups.maintenance.state import StateStore
    store = StateStore(directory / "state")

    counts = {"outages": 0, "kills": 0, "calls": 0, "lost recoveries": 0,
              "OK killed before stored": 0, "hosts left in maintenance": 0,
              "second Disables": 0, "leftover temp files": 0,
              "of those: Enable in flight when killed": 0}

    def call(*argv: str) -> subprocess.Popen[bytes]:
        counts["calls"] += 1
        return subprocess.Popen([sys.executable, __file__, "--child", str(config),
                                 str(world_path), *argv],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def run_round(argvs: list[list[str]]) -> None:
        processes = [call(*argv) for argv in argvs]
        doomed = [p for p in processes if rng.random() < args.kill_share]
        time.sleep(rng.uniform(0.0, 1.5))
        for process in doomed:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                counts["kills"] += 1
        for process in processes:
            _, err = process.communicate(timeout=60)
            if err.strip():
                print("stderr:", err.decode()[:300])

    started = time.monotonic()
    for outage in range(1, args.outages + 1):
        if time.monotonic() - started > args.seconds:
            break
        with scvmm._world() as world:
            world["outage"] = outage
        for _ in range(rng.randint(1, 3)):
            run_round([["--ups", ups, "--state", "CRITICAL", "--perfdata", BATTERY]
                       for ups in ("ups-a", "ups-b") for _ in range(rng.randint(1, 4))])
        run_round([["--ups", ups, "--state", "OK", "--perfdata", MAINS]
                   for ups in ("ups-a", "ups-b") for _ in range(rng.randint(1, 2))])
        stored = {ups: store.load_ups(ups).power for ups in ("ups-a", "ups-b")}
        for ups, power in stored.items():
            if power != "mains":
                # Every OK call of this UPS died before storing its event: no handler
                # ever saw the recovery. Counted apart, then one OK is delivered (as the
                # UPS's next state change would), so that the hosts are judged on what
                # the handler was told.
                counts["OK killed before stored"] += 1
                run_round([["--ups", ups, "--state", "OK", "--perfdata", MAINS]])
        stored = {ups: store.load_ups(ups).power for ups in ("ups-a", "ups-b")}
        for _ in range(15):  # --retry-pending from a timer, never killed here
            time.sleep(0.5)
            result = subprocess.run([sys.executable, __file__, "--child", str(config),
                                     str(world_path), "--retry-pending"],
                                    capture_output=True, text=True, check=False)
            counts["calls"] += 1
            if "nothing pending" in result.stdout:
                break
        with scvmm._world() as world:
            ours_left = [h for h in hosts if h != ADMIN_HOST and world["hosts"][h]["maint"]]
            for host in hosts:
                migrate = world["counts"].get(f"{outage}:{host}:disable-migrate", 0)
                save = world["counts"].get(f"{outage}:{host}:disable-save", 0)
                counts["second Disables"] += max(0, migrate - 1) + max(0, save - 1)
        if ours_left:
            counts["hosts left in maintenance"] += len(ours_left)
            for host in ours_left:
                record = store.load_host(host)
                if record.job is None and record.job_kind == "enable":
                    # Killed while its Enable was in flight: whether it left cannot be
                    # told from the host alone, and a second Enable could undo an
                    # admin's maintenance (race 8): not resent, handed over after 60 s.
                    counts["of those: Enable in flight when killed"] += 1
                else:
                    counts[f"of those: other ({record.phase}, {record.job_kind})"] = \
                        counts.get(f"of those: other ({record.phase}, {record.job_kind})", 0) + 1
            if all(power == "mains" for power in stored.values()):
                counts["lost recoveries"] += 1
            # Start the next outage clean, as an admin would.
            with scvmm._world() as world:
                for host in ours_left:
                    world["hosts"][host]["maint"] = False
        counts["outages"] = outage
        if outage % 20 == 0:
            print(f"after {outage} outages: {counts}", flush=True)
    temp_files = [p for p in (directory / "state").rglob("*.tmp")]
    # A temp file younger than a minute may be a live writer's; none run now.
    counts["leftover temp files"] = len(temp_files)
    with scvmm._world() as world:
        counts["admin hosts touched"] = world["admin_touched"]
    counts["seconds"] = round(time.monotonic() - started)
    for key, value in counts.items():
        print(f"{key}: {value}")
    print(f"state dir: {directory}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4:])
    sys.exit(main())
