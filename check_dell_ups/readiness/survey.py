"""What the readiness check reads: the handler's config, its state, and SCVMM.

Only reads. The config goes through the handler's own parser, the password through its
own rules, the state through its StateStore (nothing copied aside), and SCVMM through
the handler's own connector and driver, so the answer is what the handler would meet.
SCVMM is asked only Get-SCVMMServer, Get-SCVMHost, Get-SCVirtualMachine and Get-SCJob.
The judgement of all this is in assess.py.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from check_dell_ups.maintenance.config import Config, ConfigError, load_config, read_password
from check_dell_ups.maintenance.driver import HostInfo, JobInfo, ScvmmDriver, ScvmmError
from check_dell_ups.maintenance.ownership import access_problems
from check_dell_ups.maintenance.records import HostRecord, UpsRecord
from check_dell_ups.maintenance.state import StateError, StateStore


class DeadlineReached(BaseException):
    """-t ran out while SCVMM was being asked. A BaseException: the driver turns every
    Exception into a one-line ScvmmError, and this one must reach read_scvmm."""


@dataclass
class Survey:
    """Everything read, as plain data: a value, or the one-line reason it is missing."""

    config_path: str = ""
    config: Config | None = None
    config_error: str | None = None
    password_error: str | None = None
    scvmm_error: str | None = None  # the session as a whole: unreachable, auth, timeout
    scvmm_seconds: float | None = None
    hosts: dict[str, HostInfo | ScvmmError] = field(default_factory=dict)
    vm_errors: dict[str, str] = field(default_factory=dict)  # host -> why its VMs are unreadable
    # cluster -> every node SCVMM lists; None when the driver cannot list all hosts
    cluster_nodes: dict[str, tuple[str, ...]] | None = None
    ups_records: dict[str, UpsRecord | str] = field(default_factory=dict)
    host_records: dict[str, HostRecord | str] = field(default_factory=dict)
    state_problems: list[str] = field(default_factory=list)
    jobs: dict[str, JobInfo | ScvmmError] = field(default_factory=dict)


def survey(config_path: str, connect: Callable[[Config, float], ScvmmDriver], *,
           deadline: float, uid: int | None = None) -> Survey:
    """Read everything; connect(config, deadline) opens the handler's SCVMM session."""
    found = Survey(config_path=config_path)
    try:
        found.config = load_config(config_path)
    except ConfigError as error:
        found.config_error = str(error)
        return found
    config = found.config
    read_state(found, config, uid)
    try:
        read_password(config.scvmm)
    except ConfigError as error:
        found.password_error = str(error)
        return found
    read_scvmm(found, config, lambda: connect(config, deadline))
    return found


# --- the state ---------------------------------------------------------------------------

def read_state(found: Survey, config: Config, uid: int | None = None) -> None:
    uid = os.geteuid() if uid is None else uid
    state_dir = Path(config.maintenance.state_dir)
    found.state_problems.extend(access_problems(state_dir, uid))
    store = StateStore(state_dir, dry_run=True)
    for ups in config.ups:
        try:
            found.ups_records[ups] = store.load_ups(ups, keep_aside=False)
        except StateError as error:
            found.ups_records[ups] = str(error)
    for host in config.all_hosts():
        try:
            found.host_records[host] = store.load_host(host, keep_aside=False)
        except StateError as error:
            found.host_records[host] = str(error)


# --- SCVMM -------------------------------------------------------------------------------

def read_scvmm(found: Survey, config: Config, connect: Callable[[], ScvmmDriver]) -> None:
    started = time.monotonic()
    driver: ScvmmDriver | None = None
    try:
        driver = connect()
        hosts = list(config.all_hosts())
        found.hosts = dict(driver.get_hosts(hosts))
        for host in hosts:
            if isinstance(found.hosts.get(host), HostInfo):
                try:
                    driver.get_vms(host)  # what the handler reads before a Disable
                except ScvmmError as error:
                    found.vm_errors[host] = str(error)
        found.cluster_nodes = _cluster_nodes(driver)
        jobs = [record.job for record in found.host_records.values()
                if isinstance(record, HostRecord) and record.job]
        if jobs:
            found.jobs = dict(driver.get_jobs(jobs))
    except ScvmmError as error:
        # The driver words its deadline for the handler; here the deadline is -t.
        found.scvmm_error = str(error).replace("within the handler's budget",
                                               "within the timeout (-t)")
    except DeadlineReached:
        found.scvmm_error = (f"SCVMM {config.scvmm.server}:{config.scvmm.port}: no answer "
                             "within the timeout (-t)")
    finally:
        found.scvmm_seconds = time.monotonic() - started
        if driver is not None:
            with contextlib.suppress(ScvmmError, DeadlineReached, OSError):
                driver.close()


def _cluster_nodes(driver: ScvmmDriver) -> dict[str, tuple[str, ...]] | None:
    """Every cluster's nodes, from a driver that can list all hosts (Get-SCVMHost without
    -ComputerName); None from one that cannot."""
    list_hosts = getattr(driver, "list_hosts", None)
    if list_hosts is None:
        return None
    nodes: dict[str, list[str]] = {}
    for info in list_hosts():
        if info.cluster:
            nodes.setdefault(info.cluster, []).append(info.name)
    return {cluster: tuple(names) for cluster, names in nodes.items()}
