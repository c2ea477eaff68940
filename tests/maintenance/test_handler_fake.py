"""dell_ups_maintenance as a subprocess against the fake SCVMM over HTTP (real pypsrp).

Each test builds a site: a FakeScvmm on port 0, a config with transport http and auth
basic, a state_dir in tmp_path, and runs the installed handler program like Icinga does.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from check_dell_ups.fake_scvmm.server import FakeScvmm

REPO = Path(__file__).resolve().parents[2]
PROGRAM = [sys.executable, str(REPO / "handlers" / "dell_ups_maintenance")]
PASSWORD = "fake-Pa55-w0rd"
H1, H2, H3, H4, H5 = (f"hv0{n}.example.com" for n in range(1, 6))
LONG = "on_battery=412s;;300 runtime=1500s;600:;300: charge=80%;50:;25: load=35%;80;90"
SHORT = "on_battery=20s;;300 runtime=1700s;600:;300: charge=95%;50:;25: load=35%;80;90"
MAINS = "on_battery=0s;;300 runtime=3000s;600:;300: charge=70%;50:;25: load=35%;80;90"
TIMEOUT = 120


def inventory() -> dict[str, Any]:
    return {
        "hosts": {H1: {"cluster": "cl01", "maintenance": False},
                  H2: {"cluster": "cl01", "maintenance": False},
                  H3: {"cluster": "cl01", "maintenance": False},
                  H4: {"cluster": None, "maintenance": False}},
        "vms": {
            "web01": {"host": H1, "status": "Running", "ha": True},
            "app01": {"host": H1, "status": "Running", "ha": False},
            "off01": {"host": H1, "status": "PowerOff", "ha": False},
            "web02": {"host": H2, "status": "Running", "ha": True},
            "db02": {"host": H2, "status": "Running", "ha": False},
            "vmm01": {"host": H3, "status": "Running", "ha": True},
            "solo01": {"host": H4, "status": "Running", "ha": False},
        },
        "vmm_server": "vmm01.example.com",
    }


@dataclass
class Site:
    fake: FakeScvmm
    tmp: Path
    env: dict[str, str]
    config: Path = field(init=False)

    def write_config(self, ups: str, *, vmm_host: str | None = None, password: str = PASSWORD,
                     **maintenance: Any) -> None:
        settings = {"budget": 30, "timer": 300, **maintenance}
        lines = ["[scvmm]", 'server = "127.0.0.1"', 'transport = "http"',
                 f"port = {self.fake.port}", 'auth = "basic"', 'username = "svc-ups"']
        if vmm_host:
            lines.append(f'vmm_host = "{vmm_host}"')
        lines += ["[maintenance]", f'state_dir = "{self.tmp / "state"}"']
        lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
        self.config = self.tmp / "handler.toml"
        self.config.write_text("\n".join(lines) + "\n" + ups)
        self.env["DELL_UPS_SCVMM_PASSWORD"] = password

    def run(self, *args: str, ups: str = "ups-a", state: str = "CRITICAL",
            perfdata: str | None = LONG, state_type: str = "HARD") -> subprocess.CompletedProcess:
        argv = [*PROGRAM, "--config", str(self.config)]
        if args and args[0] in ("--status", "--retry-pending"):
            argv += list(args)
        else:
            argv += ["--ups", ups, "--state", state, "--state-type", state_type, "--attempt",
                     "1"]
            if perfdata is not None:
                argv += ["--perfdata", perfdata]
            argv += list(args)
        result = subprocess.run(argv, capture_output=True, text=True, env=self.env,
                                timeout=TIMEOUT, check=False)
        assert result.stderr == "", result.stderr  # never a traceback
        assert result.stdout.count("\n") <= 1 or "--status" in args, result.stdout
        assert PASSWORD not in result.stdout
        return result

    def status(self) -> dict[str, Any]:
        result = self.run("--status", "--json")
        assert result.returncode == 0, result.stdout
        return json.loads(result.stdout)

    def hosts(self) -> dict[str, dict[str, Any]]:
        return self.fake.snapshot()["hosts"]

    def vms(self) -> dict[str, dict[str, Any]]:
        return self.fake.snapshot()["vms"]

    def jobs(self, cmdlet: str) -> Counter:
        """Jobs per target host (or VM) of one cmdlet."""
        return Counter(job["target"] for job in self.fake.snapshot()["jobs"].values()
                       if job["cmdlet"] == cmdlet)

    def cmdlet_calls(self, cmdlet: str) -> list[dict[str, Any]]:
        return [call for call in self.fake.calls if call["cmdlet"] == cmdlet]

    def log(self) -> str:
        path = self.tmp / "state" / "maintenance.log"
        return path.read_text() if path.exists() else ""


@pytest.fixture
def site(tmp_path: Path, clean_env):
    fakes: list[FakeScvmm] = []

    def make(inv: dict[str, Any] | None = None, *, job_seconds: float = 0.3,
             latency: float = 0.0) -> Site:
        fake = FakeScvmm(inv or inventory(), username="svc-ups", password=PASSWORD,
                         job_seconds=job_seconds, latency=latency).start()
        fakes.append(fake)
        return Site(fake=fake, tmp=tmp_path, env=dict(clean_env))

    yield make
    for fake in fakes:
        fake.stop()


UPS_A = f'[ups."ups-a"]\nhosts = ["{H1}", "{H2}"]\n'


def test_full_outage_on_a_three_node_cluster(site) -> None:
    s = site()
    s.write_config(UPS_A)
    result = s.run(state="WARNING", perfdata=SHORT)
    assert result.returncode == 0 and "no maintenance yet" in result.stdout
    assert s.fake.calls == []  # nothing due: SCVMM not contacted

    result = s.run()
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("ups-a: on battery 412s, calls for maintenance")
    hosts, vms = s.hosts(), s.vms()
    assert hosts[H1]["maintenance"] and hosts[H2]["maintenance"]
    assert not hosts[H3]["maintenance"]
    assert vms["web01"]["host"] == H3 and vms["web02"]["host"] == H3  # HA VMs moved
    assert vms["app01"]["status"] == "Saved" and vms["db02"]["status"] == "Saved"
    assert vms["off01"]["status"] == "PowerOff"
    assert s.jobs("Disable-SCVMHost") == {H1: 1, H2: 1}
    assert all(call["parameters"].get("MoveWithinCluster")
               for call in s.cmdlet_calls("Disable-SCVMHost"))
    status = s.status()["ups"]["ups-a"]
    assert status["power"] == "battery" and status["on_battery_since"].endswith("+00:00")
    assert {h: e["phase"] for h, e in status["hosts"].items()} == {H1: "maintenance",
                                                                   H2: "maintenance"}
    assert all(entry["ours"] for entry in status["hosts"].values())

    calls = len(s.fake.calls)
    result = s.run(perfdata=LONG.replace("412s", "530s"))
    assert result.returncode == 0
    assert len(s.fake.calls) == calls  # repeated CRITICAL: no new action

    result = s.run(state="OK", perfdata=MAINS)
    assert result.returncode == 0, result.stdout
    hosts = s.hosts()
    assert not hosts[H1]["maintenance"] and not hosts[H2]["maintenance"]
    assert s.jobs("Enable-SCVMHost") == {H1: 1, H2: 1}
    assert s.jobs("Start-SCVirtualMachine") == {}  # on_power_restored = exit
    log = s.log()
    assert f"ups=ups-a host={H1} job=" in log and "Disable-SCVMHost" in log
    assert "decision: ups-a: on_battery=412s" in log
    assert PASSWORD not in log


def test_save_mode(site) -> None:
    s = site()
    s.write_config(UPS_A, mode="save")
    assert s.run().returncode == 0
    assert not any(call["parameters"].get("MoveWithinCluster")
                   for call in s.cmdlet_calls("Disable-SCVMHost"))
    vms = s.vms()
    assert vms["web01"] == {**vms["web01"], "host": H1, "status": "Saved"}
    assert vms["web02"]["host"] == H2 and vms["web02"]["status"] == "Saved"


def test_stand_alone_host_is_saved(site) -> None:
    s = site()
    s.write_config(f'[ups."ups-a"]\nhosts = ["{H4}"]\n')
    assert s.run().returncode == 0
    assert s.hosts()[H4]["maintenance"]
    assert s.vms()["solo01"]["status"] == "Saved"
    assert not s.cmdlet_calls("Disable-SCVMHost")[0]["parameters"].get("MoveWithinCluster")


def test_host_in_admin_maintenance_is_left_alone(site) -> None:
    inv = inventory()
    inv["hosts"][H2]["maintenance"] = True
    s = site(inv)
    s.write_config(UPS_A)
    assert s.run().returncode == 0
    assert s.jobs("Disable-SCVMHost") == {H1: 1}
    entry = s.status()["ups"]["ups-a"]["hosts"][H2]
    assert (entry["phase"], entry["ours"]) == ("admin", False)
    assert s.run(state="OK", perfdata=MAINS).returncode == 0
    assert s.jobs("Enable-SCVMHost") == {H1: 1}
    assert s.hosts()[H2]["maintenance"] is True


def test_failed_migration_falls_back_to_save(site) -> None:
    s = site()
    s.write_config(UPS_A)
    s.fake.set_faults(fail_migration_vms=("web01",))
    result = s.run()
    assert result.returncode == 0, result.stdout
    assert s.jobs("Disable-SCVMHost") == {H1: 2, H2: 1}
    moves = [bool(call["parameters"].get("MoveWithinCluster"))
             for call in s.cmdlet_calls("Disable-SCVMHost")]
    assert sorted(moves) == [False, True, True]
    assert s.hosts()[H1]["maintenance"] and s.vms()["web01"]["status"] == "Saved"
    assert "falling back to save mode" in s.log()


def test_scvmm_down_then_up(site) -> None:
    s = site()
    s.write_config(UPS_A, budget=10)
    s.fake.set_faults(refuse_connections=True)
    result = s.run()
    assert result.returncode == 1
    assert "SCVMM unreachable" in result.stdout and result.stdout.count("\n") == 1
    assert s.status()["ups"]["ups-a"]["hosts"][H1]["phase"] == "entering"
    s.fake.set_faults(refuse_connections=False)
    result = s.run(perfdata=LONG.replace("412s", "480s"))
    assert result.returncode == 0, result.stdout
    assert s.hosts()[H1]["maintenance"] and s.hosts()[H2]["maintenance"]



def test_a_hung_scvmm_cannot_hold_the_handler_past_its_budget(site) -> None:
    """Synchronous VMM cmdlets have no timeout and pypsrp polls a pipeline until it ends:
    a VMM that never answers Get-SCVMMServer must not keep the handler (or a
    --retry-pending holding the lock) running until the monitoring core kills it."""
    s = site(latency=600)
    s.write_config(UPS_A, budget=4)
    started = time.monotonic()
    result = subprocess.run(
        [*PROGRAM, "--config", str(s.config), "--ups", "ups-a", "--state", "CRITICAL",
         "--state-type", "HARD", "--perfdata", LONG],
        capture_output=True, text=True, env=s.env, timeout=30, check=False)
    elapsed = time.monotonic() - started
    assert result.returncode == 1 and result.stderr == "", result
    assert "no answer within the handler's budget" in result.stdout
    assert result.stdout.count("\n") == 1 and PASSWORD not in result.stdout
    assert elapsed < 4 + 3, elapsed
    # The work is kept as pending for the next call or --retry-pending.
    assert s.status()["ups"]["ups-a"]["hosts"][H1]["phase"] == "entering"

def test_wrong_password_is_one_line_exit_1(site) -> None:
    s = site()
    s.write_config(UPS_A, password="not-the-password")
    result = s.run()
    assert result.returncode == 1
    assert result.stdout.count("\n") == 1 and "authentication" in result.stdout.lower()
    assert "not-the-password" not in result.stdout and "not-the-password" not in s.log()
    assert s.jobs("Disable-SCVMHost") == {}


def test_password_file(site, tmp_path: Path) -> None:
    s = site()
    secret = tmp_path / "scvmm.password"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    s.write_config(UPS_A)
    s.config.write_text(s.config.read_text().replace(
        '[maintenance]', f'password_file = "{secret}"\n[maintenance]', 1))
    s.env["DELL_UPS_SCVMM_PASSWORD"] = ""  # empty counts as unset
    assert s.run().returncode == 0
    secret.chmod(0o644)
    result = s.run(state="OK", perfdata=MAINS)
    assert result.returncode == 1 and "scvmm.password_file" in result.stdout


def test_eight_concurrent_invocations_disable_each_host_once(site) -> None:
    s = site(job_seconds=1.0)
    s.write_config(UPS_A)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: s.run(), range(8)))
    assert [r.returncode for r in results] == [0] * 8, [r.stdout for r in results]
    assert len(s.cmdlet_calls("Disable-SCVMHost")) == 2
    assert s.jobs("Disable-SCVMHost") == {H1: 1, H2: 1}


@pytest.mark.parametrize("hostile", ["hv01.example.com; Stop-Computer", "$(whoami)",
                                     "hv01'\"", "hv01.example.com\nhv02", "-Force"])
def test_hostile_host_names_are_refused_by_config(site, hostile: str) -> None:
    s = site()
    s.write_config(f'[ups."ups-a"]\nhosts = [{json.dumps(hostile)}]\n')
    result = s.run()
    assert result.returncode == 1 and result.stdout.startswith("dell_ups_maintenance: ups.")
    assert "not a valid DNS host name" in result.stdout
    assert s.fake.calls == []


def test_dry_run_changes_nothing(site) -> None:
    s = site()
    s.write_config(UPS_A)
    result = s.run("--dry-run")
    assert result.returncode == 0 and result.stdout.startswith("dry-run:")
    assert "would disable" in result.stdout
    assert s.cmdlet_calls("Disable-SCVMHost") == [] and s.jobs("Disable-SCVMHost") == {}
    state = s.tmp / "state"
    # Lock files only (DESIGN: a dry run may create a lock file): no state written.
    written = sorted(str(p.relative_to(state)) for p in state.rglob("*")
                     if p.is_file() and not p.name.endswith(".lock"))
    assert written == ["maintenance.log"]
    assert "dry-run: would Disable-SCVMHost" in s.log()


def test_vmm_host_last_in_first_out(site) -> None:
    s = site()
    s.write_config(f'[ups."ups-a"]\nhosts = ["{H3}", "{H1}", "{H2}"]\n', vmm_host=H3)
    # The order alone: the last-node rule (its fallback) is tested on its own below.
    s.fake.set_faults(last_node_fails=False)
    result = s.run()
    assert result.returncode == 0, result.stdout
    # The vmm_host's Disable comes after the others' jobs were polled to their end.
    calls = [call["cmdlet"] for call in s.fake.calls]
    disables = [i for i, name in enumerate(calls) if name == "Disable-SCVMHost"]
    assert len(disables) == 3
    assert "Get-SCJob" in calls[disables[1]:disables[2]]
    assert s.jobs("Disable-SCVMHost") == {H1: 1, H2: 1, H3: 1}
    log = s.log()
    assert log.index(f"host={H3} job=") > log.index(f"host={H1} job=")
    assert all(s.hosts()[h]["maintenance"] for h in (H1, H2, H3))

    assert s.run(state="OK", perfdata=MAINS).returncode == 0
    enables = [line for line in s.log().splitlines() if "Enable-SCVMHost" in line
               and "started" in line]
    assert H3 in enables[0]


def test_timer_minus_one_never_acts(site) -> None:
    s = site()
    s.write_config(UPS_A, timer=-1)
    result = s.run(perfdata="on_battery=5000s runtime=60s charge=3%")
    assert result.returncode == 0 and "never calls for maintenance" in result.stdout
    assert s.fake.calls == []


def test_jobs_slower_than_the_budget_are_finished_by_later_calls(site) -> None:
    s = site(job_seconds=4.0)
    s.write_config(UPS_A, budget=2)
    result = s.run()
    assert result.returncode == 0 and "in progress" in result.stdout, result.stdout
    entry = s.status()["ups"]["ups-a"]["hosts"][H1]
    assert entry["phase"] == "entering" and entry["job"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        result = s.run()
        assert result.returncode == 0, result.stdout
        if "in progress" not in result.stdout:
            break
        time.sleep(1)
    assert s.jobs("Disable-SCVMHost") == {H1: 1, H2: 1}
    assert s.status()["ups"]["ups-a"]["hosts"][H1]["phase"] == "maintenance"


def test_ups_that_stops_answering_mid_outage(site) -> None:
    s = site()
    s.write_config(UPS_A, timer=2)
    assert s.run(state="WARNING", perfdata="on_battery=1s;;2").returncode == 0
    assert s.fake.calls == []
    time.sleep(2.2)
    result = s.run(state="UNKNOWN", perfdata="")
    assert result.returncode == 0, result.stdout
    assert "timer keeps running" in s.log()
    assert s.jobs("Disable-SCVMHost") == {H1: 1, H2: 1}


def test_host_on_two_ups(site) -> None:
    s = site()
    s.write_config(UPS_A + f'[ups."ups-b"]\nhosts = ["{H2}", "{H4}"]\n')
    assert s.run(ups="ups-a").returncode == 0
    assert s.jobs("Disable-SCVMHost") == {H1: 1}  # H2's other UPS is not heard from
    assert s.run(ups="ups-b").returncode == 0
    assert s.jobs("Disable-SCVMHost") == {H1: 1, H2: 1, H4: 1}
    assert s.run(ups="ups-a", state="OK", perfdata=MAINS).returncode == 0
    assert s.jobs("Enable-SCVMHost") == {H1: 1, H2: 1}  # leaves when any UPS is back
    assert s.hosts()[H4]["maintenance"] is True


def test_retry_pending_after_a_failed_restore(site) -> None:
    s = site()
    s.write_config(UPS_A, budget=10, on_power_restored="exit-and-start")
    assert s.run().returncode == 0
    s.fake.set_faults(refuse_connections=True)
    result = s.run(state="OK", perfdata=MAINS)
    assert result.returncode == 1 and "SCVMM unreachable" in result.stdout
    assert s.status()["ups"]["ups-a"]["hosts"][H1]["phase"] == "leaving"
    s.fake.set_faults(refuse_connections=False)
    result = s.run("--retry-pending")
    assert result.returncode == 0, result.stdout
    assert s.jobs("Enable-SCVMHost") == {H1: 1, H2: 1}
    # exit-and-start: only the VMs we saved; off01 was off before and stays off.
    assert s.jobs("Start-SCVirtualMachine") == {"app01": 1, "db02": 1}
    assert s.vms()["off01"]["status"] == "PowerOff"
    result = s.run("--retry-pending")
    assert result.returncode == 0 and "nothing pending" in result.stdout


def test_exit_and_start_starts_the_vm_we_saved_not_its_namesake(site) -> None:
    """VM names are not unique in VMM: the handler keeps the ID of each VM it saved and
    starts that one (Get-SCVirtualMachine -ID), never another VM of the same name."""
    world = inventory()
    world["vms"]["app01-twin"] = {"host": H4, "status": "Saved", "ha": False, "name": "app01"}
    s = site(world)
    s.write_config(UPS_A, on_power_restored="exit-and-start")
    assert s.run().returncode == 0
    assert s.vms()["app01"]["status"] == "Saved"
    result = s.run(state="OK", perfdata=MAINS)
    assert result.returncode == 0, result.stdout
    deadline = time.monotonic() + 30
    while s.jobs("Start-SCVirtualMachine") != {"app01": 1, "db02": 1}:
        assert time.monotonic() < deadline, s.jobs("Start-SCVirtualMachine")
        s.run("--retry-pending")
        time.sleep(0.3)
    assert s.vms()["app01-twin"]["status"] == "Saved"  # the namesake stays as it was
    by_id = [call["parameters"] for call in s.cmdlet_calls("Get-SCVirtualMachine")
             if "ID" in call["parameters"]]
    assert len(by_id) == 2 and not [call for call in s.cmdlet_calls("Get-SCVirtualMachine")
                                    if "Name" in call["parameters"]]


def test_killed_mid_work_leaves_a_readable_state(site) -> None:
    s = site(latency=0.05, job_seconds=0.5)
    s.write_config(UPS_A)
    for delay in (0.4, 0.8, 1.2):
        argv = [*PROGRAM, "--config", str(s.config), "--ups", "ups-a", "--state", "CRITICAL",
                "--state-type", "HARD", "--perfdata", LONG]
        process = subprocess.Popen(argv, env=s.env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True)
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=TIMEOUT)
        status = s.status()  # parses every state file
        assert set(status["ups"]["ups-a"]["hosts"]) == {H1, H2}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        result = s.run()
        if result.returncode == 0 and "in progress" not in result.stdout:
            break
        time.sleep(0.5)
    assert s.hosts()[H1]["maintenance"] and s.hosts()[H2]["maintenance"]
    phases = {h: e["phase"] for h, e in s.status()["ups"]["ups-a"]["hosts"].items()}
    assert phases == {H1: "maintenance", H2: "maintenance"}


def test_status_table_and_json_shape(site) -> None:
    s = site()
    s.write_config(UPS_A + f'[ups."ups-b"]\nhosts = ["{H4}"]\n')
    assert s.run().returncode == 0
    document = s.status()
    assert set(document) == {"ups"} and set(document["ups"]) == {"ups-a", "ups-b"}
    never_heard = document["ups"]["ups-b"]
    assert never_heard == {"power": "unknown", "on_battery_since": None, "hosts": {
        H4: {"phase": "normal", "since": None, "job": None, "error": None, "ours": False}}}
    entry = document["ups"]["ups-a"]["hosts"][H1]
    assert set(entry) == {"phase", "since", "job", "error", "ours"}
    table = s.run("--status")
    assert table.returncode == 0
    assert "ups-a" in table.stdout and H1 in table.stdout and "maintenance" in table.stdout


def test_usage_and_config_errors_are_one_line(site, tmp_path: Path) -> None:
    s = site()
    s.write_config(UPS_A)
    result = s.run(ups="ups-unknown")
    assert result.returncode == 1 and "not configured" in result.stdout
    result = s.run(state="PURPLE")
    assert result.returncode == 1 and "--state" in result.stdout
    s.config.write_text("[scvmm]\nserver = 'x'\nbogus = 1\n")
    result = s.run()
    assert result.returncode == 1 and result.stdout.startswith("dell_ups_maintenance: scvmm.")


def test_last_node_of_the_cluster_enters_by_the_save_fallback(site) -> None:
    """Failover Clustering keeps the last node (the fake's default, as on a real cluster):
    its migrate-mode Disable fails and the one save-mode fallback puts it in."""
    s = site()
    s.write_config(f'[ups."ups-a"]\nhosts = ["{H1}", "{H2}", "{H3}"]\n')
    result = s.run()
    assert result.returncode == 0, result.stdout
    assert all(s.hosts()[h]["maintenance"] for h in (H1, H2, H3))
    disables = s.jobs("Disable-SCVMHost")
    (last,) = [host for host, count in disables.items() if count == 2]  # migrate, then save
    assert sorted(disables.values()) == [1, 1, 2]
    assert "last node" in s.log() and "falling back to save mode" in s.log()
    # Every running VM ended on a host in maintenance: saved, wherever it was moved first.
    assert {vm["status"] for name, vm in s.vms().items()
            if name != "off01" and vm["host"] in (H1, H2, H3)} == {"Saved"}
    result = s.run(perfdata=LONG.replace("412s", "500s"))
    assert result.returncode == 0 and s.jobs("Disable-SCVMHost")[last] == 2  # no storm
    result = s.run(state="OK", perfdata=MAINS)
    assert result.returncode == 0, result.stdout
    assert s.jobs("Enable-SCVMHost") == dict.fromkeys((H1, H2, H3), 1)
    assert not any(s.hosts()[h]["maintenance"] for h in (H1, H2, H3))
    assert s.status()["ups"]["ups-a"]["hosts"][last]["phase"] == "normal"


def test_power_back_while_a_disable_whose_job_id_was_lost_still_runs(site) -> None:
    """The connection drops after SCVMM started our Disable job, before its id reached
    us; power returns while that job still runs. When it ends, the host is in
    maintenance by our doing, and must be taken out again."""
    s = site(job_seconds=3.0)
    s.write_config(f'[ups."ups-a"]\nhosts = ["{H4}"]\n', budget=10)
    s.fake.set_faults(drop_connection_mid_job=True)
    result = s.run()
    assert result.returncode == 1 and "SCVMM unreachable" in result.stdout, result.stdout
    assert s.jobs("Disable-SCVMHost") == {H4: 1}
    result = s.run(state="OK", perfdata=MAINS)
    assert result.returncode == 0, result.stdout
    time.sleep(3.5)  # our Disable job ends: the host is in maintenance
    assert s.hosts()[H4]["maintenance"]
    result = s.run("--retry-pending")
    assert result.returncode == 0, result.stdout
    deadline = time.monotonic() + 15
    while s.hosts()[H4]["maintenance"] and time.monotonic() < deadline:
        time.sleep(0.5)
        s.run("--retry-pending")
    assert not s.hosts()[H4]["maintenance"]
    assert s.status()["ups"]["ups-a"]["hosts"][H4]["phase"] == "normal"


def drill(s: Site, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PROGRAM, "--config", str(s.config), "--drill", *args],
                          capture_output=True, text=True, env=s.env, timeout=TIMEOUT,
                          check=False)


def test_drill_takes_one_host_into_maintenance_and_back_on_the_fake(site) -> None:
    s = site()
    s.write_config(UPS_A, on_power_restored="exit-and-start")
    assert s.run(state="OK", perfdata=MAINS).returncode == 0  # the UPS is on mains
    ups_record = (s.tmp / "state" / "ups" / "ups-a.json").read_bytes()

    result = drill(s, H1)
    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    assert result.stdout.splitlines()[-1] == "nothing done: add --yes to run the drill"
    assert {call["cmdlet"] for call in s.fake.calls} <= {
        "Get-SCVMMServer", "Get-SCVMHost", "Get-SCVirtualMachine"}

    result = drill(s, H1, "--yes")
    out = result.stdout
    assert (result.returncode, result.stderr) == (0, ""), out
    lines = out.splitlines()
    assert lines[:3] == [
        f"drill of {H1} (UPS ups-a, cluster cl01, mode migrate, on_power_restored "
        "exit-and-start)",
        f"  VMs running on {H1}: web01, app01",
        "  1. Disable-SCVMHost -MoveWithinCluster: live-migrate HA VMs, save the rest; a "
        "failed migration falls back to saving"]
    assert re.search(r"Disable-SCVMHost .* started \[job [0-9a-f-]{36}\]", out)
    assert re.search(r"job ended: Completed \(after [0-9.]+s\)", out)
    assert "Start-SCVirtualMachine" in out
    assert lines[-1].startswith("drill passed in ")
    assert s.jobs("Disable-SCVMHost") == Counter({H1: 1})
    assert s.jobs("Enable-SCVMHost") == Counter({H1: 1})
    assert not s.hosts()[H1]["maintenance"]
    vms = s.vms()
    assert vms["web01"]["host"] != H1 and vms["app01"]["status"] == "Running"
    assert s.status()["ups"]["ups-a"]["hosts"][H1]["phase"] == "normal"
    assert (s.tmp / "state" / "ups" / "ups-a.json").read_bytes() == ups_record
    assert "drill: drill passed" in s.log()


def test_drill_refuses_while_a_ups_is_on_battery_and_a_host_in_maintenance(site) -> None:
    world = inventory()
    world["hosts"][H2]["maintenance"] = True  # an admin's
    s = site(world)
    s.write_config(UPS_A)
    assert s.run(state="WARNING", perfdata=SHORT).returncode == 0  # on battery, timer running
    result = drill(s, H1, "--yes")
    assert (result.returncode, result.stdout) == (
        1, f"dell_ups_maintenance: drill of {H1} refused: UPS ups-a is on battery: no drill "
           "during an outage\n")
    assert s.run(state="OK", perfdata=MAINS).returncode == 0
    result = drill(s, H2, "--yes")
    assert (result.returncode, result.stdout) == (
        1, f"dell_ups_maintenance: drill of {H2} refused: {H2} is in maintenance already "
           "(OverallState MaintenanceMode): no drill\n")
    assert s.jobs("Disable-SCVMHost") == Counter()
    assert "refused" in s.log()
