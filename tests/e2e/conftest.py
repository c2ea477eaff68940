"""The world of the end-to-end tests: a simulated UPS, a fake SCVMM with a 3-node
cluster (HA and non-HA VMs) and a stand-alone host, and the handler's config; plus
helpers to wait on them. The daemons themselves are started by each test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from check_dell_ups.demo_world import (
    CLUSTER,
    FED_HOSTS,
    SCVMM_PASSWORD,
    SCVMM_USER,
    SMALL_CLUSTER,
    UPS_NAME,
    Workspace,
    inventory,
    maintenance_flags,
)
from check_dell_ups.icinga_sandbox import wait_for_commands_mentioning

TIMER = 15  # seconds on battery before maintenance (check and handler alike)
AUTOMATION_INTERVAL = 4  # seconds between checks of the automation service
# A handler call must end before Icinga/Nagios starts the next one (they do not wait),
# so the budget stays well below the interval.
HANDLER_BUDGET = 2
JOB_SECONDS = 1.0


@dataclass
class World:
    ups: Any
    fake: Any
    workspace: Workspace
    config: Path
    env: dict[str, str] = field(default_factory=dict)
    last_retry: float = 0.0  # monotonic time of the last --retry-pending

    def flags(self) -> dict[str, bool]:
        return maintenance_flags(self.fake.snapshot())

    def fed_hosts_in_maintenance(self) -> list[bool]:
        flags = self.flags()
        return [flags[host] for host in FED_HOSTS]

    def wait(self, condition: Callable[[], bool], timeout: float, what: str,
             while_waiting: Callable[[], None] | None = None) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
            if while_waiting is not None:
                while_waiting()
            time.sleep(0.5)

    def handler(self, *options: str) -> subprocess.CompletedProcess[str]:
        program = Path(sys.executable).parent / "dell_ups_maintenance"
        return subprocess.run(
            [str(program), "--config", str(self.config), *options],
            capture_output=True, text=True, timeout=120, env=self.env, check=False,
        )

    def handler_phases(self) -> dict[str, str]:
        status = json.loads(self.handler("--status", "--json").stdout)
        return {host: details["phase"]
                for host, details in status["ups"][UPS_NAME]["hosts"].items()}

    def retry_pending_now(self) -> None:
        """One --retry-pending, at most every 5 s (the shipped timer runs every minute)."""
        now = time.monotonic()
        if now - self.last_retry >= 5:
            self.last_retry = now
            self.handler("--retry-pending")

    def settle_with_retry_pending(self, timeout: float = 60) -> None:
        """What the shipped systemd timer does: after a recovery Icinga/Nagios call the
        handler once; Enable jobs that outlast that call are finished by the timer."""
        self.wait(lambda: set(self.handler_phases().values()) == {"normal"}, timeout,
                  "the handler's records back to normal",
                  while_waiting=lambda: self.handler("--retry-pending"))

    def first_disable_started(self) -> float | None:
        """Wall-clock time of the handler's first Disable-SCVMHost, from its log."""
        log = self.workspace.handler_log
        for line in (log.read_text().splitlines() if log.exists() else []):
            if "Disable-SCVMHost" in line and line.endswith("started"):
                stamp = line.split(" ", 1)[0]
                return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z").timestamp()
        return None

    # One Disable a fed host, and one save fallback for cl02's last node.
    DISABLES = len(FED_HOSTS) + 1

    def disable_and_enable_calls(self) -> tuple[int, int]:
        cmdlets = [call["cmdlet"] for call in self.fake.calls]
        return cmdlets.count("Disable-SCVMHost"), cmdlets.count("Enable-SCVMHost")

    def assert_maintenance_done_right(self) -> None:
        """The fed hosts are in maintenance, cl01's HA VMs live-migrated to the node on the
        other feed, the other running VMs saved (cl02 has no node left to run them: its
        last node entered by the save fallback); that other node itself untouched."""
        snapshot = self.fake.snapshot()
        hosts = snapshot["hosts"]
        assert all(hosts[host]["maintenance"] for host in FED_HOSTS)
        assert not hosts["hv03.example.com"]["maintenance"]
        vms = snapshot["vms"]
        for name, vm in inventory()["vms"].items():
            if vm["host"] not in FED_HOSTS:
                continue
            cluster = hosts[vm["host"]]["cluster"]
            if vm["ha"] and cluster == CLUSTER:
                assert vms[name]["host"] == "hv03.example.com", name
                assert vms[name]["status"] == "Running", name
            elif cluster == SMALL_CLUSTER:
                assert hosts[vms[name]["host"]]["cluster"] == SMALL_CLUSTER, name
                assert vms[name]["status"] == "Saved", name
            else:
                assert vms[name]["host"] == vm["host"], name
                assert vms[name]["status"] == "Saved", name


@pytest.fixture
def world() -> Iterator[World]:
    from check_dell_ups.fake_scvmm.server import FakeScvmm
    from check_dell_ups.simulator.agent import UpsSimulator

    with Workspace(prefix="dell_ups_e2e-") as workspace, \
            UpsSimulator(full_runtime=1800, load=35.0) as ups, \
            FakeScvmm(inventory(), username=SCVMM_USER, password=SCVMM_PASSWORD,
                      job_seconds=JOB_SECONDS) as fake:
        # The production way: the password in a 0600 file named by the config.
        config = workspace.write_handler_config(fake.port, timer=TIMER,
                                                budget=HANDLER_BUDGET,
                                                with_password_file=True)
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("DELL_UPS_")}
        yield World(ups=ups, fake=fake, workspace=workspace, config=config, env=env)
        # Handlers run in process groups of their own and may outlive the daemon.
        wait_for_commands_mentioning(str(config), timeout=60)

