"""The little world the demo and the end-to-end tests play in.

A simulated Dell UPS ("ups-rack1") feeds two nodes of a three-node Hyper-V cluster,
both nodes of a two-node cluster, and a stand-alone host. The third node of cl01 is on
another feed and takes the live-migrated VMs. cl02 has no node left on another feed:
Failover Clustering keeps its last node out of maintenance, so that node's migrate-mode
Disable fails and the handler's save fallback saves its VMs (as on a real cluster). The
VMM server itself is a VM on hv02, so hv02 is the handler's `vmm_host` (disabled last,
enabled first). Everything runs in-process on 127.0.0.1 with ports from port 0.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

UPS_NAME = "ups-rack1"
SCVMM_USER = "svc-ups"
SCVMM_PASSWORD = "demo-Passw0rd"  # a throw-away password for the local fake only
CLUSTER = "cl01"
SMALL_CLUSTER = "cl02"  # both nodes on this UPS: the last cannot enter with its roles
FED_HOSTS = ("hv01.example.com", "hv02.example.com", "hv05.example.com", "hv06.example.com",
             "hv09.example.com")
OTHER_FEED_HOST = "hv03.example.com"
VMM_HOST = "hv02.example.com"


def inventory() -> dict[str, Any]:
    """3-node cluster cl01 (hv01-hv03) and 2-node cl02 (hv05, hv06) with HA and non-HA
    VMs, and stand-alone hv09."""
    hosts = {name: {"cluster": CLUSTER, "maintenance": False}
             for name in ("hv01.example.com", "hv02.example.com", OTHER_FEED_HOST)}
    hosts.update({name: {"cluster": SMALL_CLUSTER, "maintenance": False}
                  for name in ("hv05.example.com", "hv06.example.com")})
    hosts["hv09.example.com"] = {"cluster": None, "maintenance": False}
    vms = {
        "web01": ("hv01.example.com", True),
        "sql01": ("hv01.example.com", True),
        "build01": ("hv01.example.com", False),
        "web02": ("hv02.example.com", True),
        "vmm01": ("hv02.example.com", True),
        "test02": ("hv02.example.com", False),
        "dc01": (OTHER_FEED_HOST, True),
        "erp05": ("hv05.example.com", True),
        "erp06": ("hv06.example.com", True),
        "batch06": ("hv06.example.com", False),
        "file09": ("hv09.example.com", False),
    }
    return {
        "hosts": hosts,
        "vms": {name: {"host": host, "status": "Running", "ha": ha}
                for name, (host, ha) in vms.items()},
        "vmm_server": "vmm01.example.com",
    }


def handler_config(scvmm_port: int, state_dir: Path, *, timer: int, budget: float = 20,
                   password_file: Path | None = None) -> str:
    """The handler's TOML for the fake SCVMM (HTTP + Basic: test set-ups only)."""
    password_line = f'password_file = "{password_file}"\n' if password_file else ""
    hosts = ", ".join(f'"{host}"' for host in FED_HOSTS)
    return (
        "[scvmm]\n"
        'server = "127.0.0.1"\n'
        'transport = "http"\n'
        f"port = {scvmm_port}\n"
        'auth = "basic"\n'
        f'username = "{SCVMM_USER}"\n'
        f"{password_line}"
        "cert_validation = false\n"
        f'vmm_host = "{VMM_HOST}"\n'
        "\n[maintenance]\n"
        f"timer = {timer}\n"
        'mode = "migrate"\n'
        'on_power_restored = "exit"\n'
        f"budget = {budget}\n"
        f'state_dir = "{state_dir}"\n'
        f'\n[ups."{UPS_NAME}"]\n'
        f"hosts = [{hosts}]\n"
    )


def maintenance_flags(snapshot: Mapping[str, Any]) -> dict[str, bool]:
    return {name: bool(host["maintenance"]) for name, host in snapshot["hosts"].items()}


def scvmm_view(snapshot: Mapping[str, Any]) -> list[str]:
    """SCVMM's view as lines: each host, its cluster and state, the VMs on it."""
    lines = []
    for name, host in sorted(snapshot["hosts"].items()):
        vms = sorted((vm_name, vm) for vm_name, vm in snapshot["vms"].items()
                     if vm["host"] == name)
        state = "MAINTENANCE" if host["maintenance"] else "ok"
        cluster = host.get("cluster") or "stand-alone"
        feed = UPS_NAME if name in FED_HOSTS else "other feed"
        described = ", ".join(
            f"{vm_name} ({'HA' if vm['ha'] else 'non-HA'}, {vm['status']})"
            for vm_name, vm in vms
        ) or "no VMs"
        lines.append(f"{name:<18} {cluster:<11} {feed:<10} {state:<11} {described}")
    return lines


class Workspace(contextlib.AbstractContextManager):
    """A private temporary directory (mode 0700) with the handler's config, state and
    password file; removed on exit."""

    def __init__(self, prefix: str = "dell_ups_demo-") -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        self.state_dir = self.path / "state"
        self.state_dir.mkdir()
        self.config_file = self.path / "dell_ups_maintenance.toml"
        self.password_file = self.path / "scvmm.password"

    def write_handler_config(self, scvmm_port: int, *, timer: int, budget: float = 20,
                             with_password_file: bool = False) -> Path:
        password_file = None
        if with_password_file:
            descriptor = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                                 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(SCVMM_PASSWORD + "\n")
            password_file = self.password_file
        self.config_file.write_text(handler_config(
            scvmm_port, self.state_dir, timer=timer, budget=budget,
            password_file=password_file,
        ))
        return self.config_file

    @property
    def handler_log(self) -> Path:
        return self.state_dir / "maintenance.log"

    def __exit__(self, *exc_info: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
