"""check_dell_ups_readiness as a subprocess against the fake SCVMM (real pypsrp over
HTTP on port 0): whole output and exit code, each cause turned CRITICAL and fixed again."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from check_dell_ups.fake_scvmm.server import FakeScvmm

PLUGIN = str(Path(sys.executable).parent / "check_dell_ups_readiness")
PASSWORD = "fake-Pa55-w0rd"
H1, H2, H3, H4 = (f"hv0{n}.example.com" for n in range(1, 5))
READS = {"Get-SCVMMServer", "Get-SCVMHost", "Get-SCVirtualMachine", "Get-SCJob"}


def inventory() -> dict[str, Any]:
    return {
        "hosts": {H1: {"cluster": "cl01"}, H2: {"cluster": "cl01"}, H3: {"cluster": "cl01"},
                  H4: {"cluster": None}},
        "vms": {"web01": {"host": H1, "status": "Running", "ha": True},
                "app01": {"host": H2, "status": "Running", "ha": False},
                "solo01": {"host": H4, "status": "Running", "ha": False}},
        "vmm_server": "vmm01.example.com",
    }


class Site:
    def __init__(self, fake: FakeScvmm, tmp: Path, env: dict[str, str]) -> None:
        self.fake, self.tmp, self.env = fake, tmp, env
        self.config = tmp / "dell_ups_maintenance.toml"
        self.password_file = tmp / "scvmm.password"
        self.state = tmp / "state"
        self.set_password(PASSWORD)
        self.write_config()

    def set_password(self, password: str) -> None:
        self.password_file.write_text(password + "\n")
        self.password_file.chmod(0o600)

    def write_config(self, *, extra_host: str = "", maintenance: str = "") -> None:
        a_hosts = ", ".join(f'"{h}"' for h in (H1, H2, *([extra_host] if extra_host else [])))
        self.config.write_text(f"""
[scvmm]
server = "127.0.0.1"
transport = "http"
port = {self.fake.port}
auth = "basic"
username = "svc-ups"
password_file = "{self.password_file}"

[maintenance]
state_dir = "{self.state}"
budget = 10
{maintenance}
[ups."ups-a"]
hosts = [{a_hosts}]

[ups."ups-b"]
hosts = ["{H3}", "{H4}"]
""")

    def check(self, *args: str) -> tuple[str, int]:
        result = subprocess.run([PLUGIN, "--config", str(self.config), *args],
                                capture_output=True, text=True, env=self.env, timeout=60,
                                check=False)
        assert result.stderr == ""
        assert PASSWORD not in result.stdout
        # The one value that varies from run to run.
        text = re.sub(r"scvmm_seconds=[0-9.]+s", "scvmm_seconds=Ts", result.stdout)
        return re.sub(r"answered in [0-9.]+s", "answered in Ts", text), result.returncode


OK = ("DELL UPS READINESS OK - 4 host(s) of 2 UPS ready, SCVMM answered in Ts | hosts=4 "
      "hosts_ready=4 in_maintenance_ours=0 pending=0 scvmm_seconds=Ts\n", 0)


@pytest.fixture
def site(tmp_path: Path, clean_env):
    with FakeScvmm(inventory(), username="svc-ups", password=PASSWORD,
                   job_seconds=0.2) as fake:
        yield Site(fake, tmp_path, dict(clean_env))


def test_all_ready_is_ok_and_only_reads(site: Site) -> None:
    assert site.check() == OK
    assert {call["cmdlet"] for call in site.fake.calls} <= READS
    assert not site.state.exists()  # nothing written, not even a lock


def test_a_wrong_password_is_critical_until_fixed(site: Site) -> None:
    site.set_password("expired-password")
    assert site.check() == (
        f"DELL UPS READINESS CRITICAL - SCVMM 127.0.0.1:{site.fake.port} rejected the "
        "credentials of svc-ups (basic) | hosts=4 hosts_ready=0 in_maintenance_ours=0 "
        "pending=0 scvmm_seconds=Ts\n"
        f"CRITICAL: SCVMM 127.0.0.1:{site.fake.port} rejected the credentials of svc-ups "
        "(basic)\n", 2)
    site.set_password(PASSWORD)
    assert site.check() == OK


def test_a_host_unknown_to_scvmm_is_critical_until_fixed(site: Site) -> None:
    site.write_config(extra_host="hv05.example.com")
    assert site.check() == (
        "DELL UPS READINESS CRITICAL - host hv05.example.com (UPS ups-a): Unable to find "
        "the specified host hv05.example.com. (Error ID: 406) | hosts=5 hosts_ready=4 "
        "in_maintenance_ours=0 pending=0 scvmm_seconds=Ts\n"
        "CRITICAL: host hv05.example.com (UPS ups-a): Unable to find the specified host "
        "hv05.example.com. (Error ID: 406)\n", 2)
    site.write_config()
    assert site.check() == OK


def test_a_corrupt_state_file_is_critical_until_fixed(site: Site) -> None:
    record = site.state / "hosts" / f"{H2}.json"
    record.parent.mkdir(parents=True)
    record.write_text('{"version": 1, "record": {"phase": "sideways"')
    text, code = site.check()
    assert code == 2
    assert text.splitlines()[1] == (
        f"CRITICAL: host {H2} (UPS ups-a): state file {record} is corrupt (Expecting ',' "
        "delimiter: line 1 column 46 (char 45))")
    assert sorted(p.name for p in record.parent.iterdir()) == [record.name]  # not moved
    record.unlink()
    assert site.check() == OK


def test_a_config_typo_is_critical_until_fixed(site: Site) -> None:
    site.write_config(maintenance="timre = 300")
    assert site.check() == (
        f"DELL UPS READINESS CRITICAL - config {site.config}: maintenance.timre: unknown key "
        "(known: budget, charge_floor, log_file, mode, on_power_restored, runtime_floor, "
        "state_dir, timer)\n"
        f"CRITICAL: config {site.config}: maintenance.timre: unknown key (known: budget, "
        "charge_floor, log_file, mode, on_power_restored, runtime_floor, state_dir, timer)\n",
        2)
    site.write_config()
    assert site.check() == OK


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to hand state_dir to nagios")
def test_a_state_dir_of_another_user_is_critical(site: Site) -> None:
    site.state.mkdir()
    os.chown(site.state, 102, -1)
    text, code = site.check()
    user = __import__("pwd").getpwuid(102).pw_name
    assert code == 2
    assert text.splitlines()[1] == (
        f"CRITICAL: state: state_dir {site.state} belongs to {user}, this runs as root: "
        f"run it as {user} (sudo -u {user} ...)")


def test_a_host_scvmm_cannot_reach_is_a_warning(tmp_path: Path, clean_env) -> None:
    world = inventory()
    world["hosts"][H4]["communication"] = "NotResponding"
    with FakeScvmm(world, username="svc-ups", password=PASSWORD) as fake:
        site = Site(fake, tmp_path, dict(clean_env))
        assert site.check() == (
            f"DELL UPS READINESS WARNING - host {H4} (UPS ups-b): SCVMM cannot reach it "
            "(CommunicationState NotResponding) | hosts=4 hosts_ready=3 "
            "in_maintenance_ours=0 pending=0 scvmm_seconds=Ts\n"
            f"WARNING: host {H4} (UPS ups-b): SCVMM cannot reach it (CommunicationState "
            "NotResponding)\n", 1)


def one_ups_cluster(*unconfigured_nodes: str) -> dict[str, Any]:
    """cl09 = H1 and H2, both on ups-a (migrate mode), plus nodes no UPS of ours feeds."""
    world = inventory()
    for name in (H1, H2, *unconfigured_nodes):
        world["hosts"][name] = {"cluster": "cl09"}
    world["hosts"][H3] = {"cluster": None}
    return world


def test_a_cluster_wholly_on_one_ups_in_migrate_mode_is_a_warning(tmp_path: Path,
                                                                    clean_env) -> None:
    # Found from SCVMM's own list of the cluster's nodes (Get-SCVMHost without
    # -ComputerName): the config alone cannot tell a third node that stays up.
    with FakeScvmm(one_ups_cluster(), username="svc-ups", password=PASSWORD) as fake:
        site = Site(fake, tmp_path, dict(clean_env))
        text, code = site.check()
    assert code == 1
    assert text.splitlines()[1] == (
        f"WARNING: cluster cl09: all its nodes ({H1} {H2}) are fed by UPS ups-a in migrate "
        "mode: Failover Clustering will not let the last node enter maintenance")


def test_a_cluster_node_no_ups_feeds_keeps_the_cluster_ready(tmp_path: Path,
                                                              clean_env) -> None:
    with FakeScvmm(one_ups_cluster("hv07.example.com"), username="svc-ups",
                   password=PASSWORD) as fake:
        site = Site(fake, tmp_path, dict(clean_env))
        assert site.check() == OK


def test_scvmm_slower_than_the_timeout_is_critical(tmp_path: Path, clean_env) -> None:
    with FakeScvmm(inventory(), username="svc-ups", password=PASSWORD, latency=30) as fake:
        site = Site(fake, tmp_path, dict(clean_env))
        text, code = site.check("-t", "4")
        port = fake.port
    assert code == 2
    assert text.splitlines()[1] == \
        f"CRITICAL: SCVMM 127.0.0.1:{port}: no answer within the timeout (-t)"


HANDLER = [sys.executable, str(Path(__file__).resolve().parents[2] / "handlers"
                                / "dell_ups_maintenance")]
ON_BATTERY = "on_battery=400s;;300 runtime=1500s charge=80%"
ON_MAINS = "on_battery=0s;;300 runtime=3000s charge=70%"


def handler(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HANDLER, "--config", str(site.config), *args],
                          capture_output=True, text=True, env=site.env, timeout=60,
                          check=False)


def event(site: Site, perfdata: str, state: str) -> subprocess.CompletedProcess[str]:
    return handler(site, "--ups", "ups-a", "--state", state, "--perfdata", perfdata)


def test_hosts_left_in_maintenance_after_power_returned(site: Site) -> None:
    """The incident of issue 9: the password expired during the outage, the hosts stayed
    in maintenance on mains and everything looked green."""
    assert event(site, ON_BATTERY, "CRITICAL").returncode == 0
    assert all(site.fake.snapshot()["hosts"][h]["maintenance"] for h in (H1, H2))
    site.set_password("expired-password")
    result = event(site, ON_MAINS, "OK")
    assert result.returncode == 1 and "rejected the credentials" in result.stdout

    text, code = site.check()
    assert code == 2
    assert text.splitlines()[0].endswith(
        "| hosts=4 hosts_ready=0 in_maintenance_ours=2 pending=2 scvmm_seconds=Ts")

    # Password fixed, but nobody ran --retry-pending: a warning once 10 minutes passed
    # since power returned (the UPS record written as the handler would have then).
    site.set_password(PASSWORD)
    record = site.state / "ups" / "ups-a.json"
    stored = record.read_text()
    since = re.search(r'"since": "([^"]+)"', stored).group(1)
    record.write_text(stored.replace(since, "2026-01-01T00:00:00+00:00"))
    text, code = site.check()
    assert code == 1
    assert text.splitlines()[1:] == [
        f"WARNING: host {host} (UPS ups-a): work pending (leaving) while every UPS feeding "
        "it is on mains since 2026-01-01T00:00:00+00:00; run --retry-pending or see --status"
        for host in (H1, H2)]

    assert handler(site, "--retry-pending").returncode == 0
    assert site.check() == OK
