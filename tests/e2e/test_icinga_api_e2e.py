"""End to end with Icinga 2's real REST API: during an outage the moved Hyper-V hosts and
the VMs the handler saved are in downtime and the UPS host carries the handler's
comment; after power returns both are gone. The ApiUser has exactly the permissions of
the shipped icinga-conf/examples/api-user-dell-ups.conf. And: Icinga's API refusing
the password, or down, or trickling its reply, never stops or delays the SCVMM work.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from check_dell_ups.demo_world import FED_HOSTS, UPS_NAME
from check_dell_ups.fake_scvmm.model import object_id
from check_dell_ups.icinga_sandbox import IcingaSandbox, ServiceEvent

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("icinga2") is None, reason="icinga2 is not installed"),
]

TIMER = 15
AUTOMATION = "ups-maintenance"
EXAMPLE_USER = Path(__file__).resolve().parents[2] / "icinga-conf" / "examples" / \
    "api-user-dell-ups.conf"
API_PASSWORD = "api-Passw0rd"  # throw-away, for the sandbox only
ADMIN_PASSWORD = "admin-Passw0rd"
# Icinga host objects of the world's machines: hv09 under another name (the name map),
# hv06 not in Icinga at all; two of the VMs the handler saves: build01 under its own
# name (the default: no map entry), file09 under another (mapped by its VM ID).
ICINGA_HYPERV = {"hv01.example.com": "hv01.example.com", "hv02.example.com":
                 "hv02.example.com", "hv05.example.com": "hv05.example.com",
                 "hv09.example.com": "hv09"}
ICINGA_VMS = {"build01": "build01", "file09": "file09.example.com"}


def shipped_permissions() -> list[str]:
    text = EXAMPLE_USER.read_text()
    block = re.search(r"permissions = \[(.*?)\]", text, re.S)
    assert block is not None
    return re.findall(r'"([^"]+)"', re.sub(r"//[^\n]*", "", block[1]))


def icinga_objects(ups_port: int, config: Path) -> str:
    permissions = ", ".join(f'"{permission}"' for permission in shipped_permissions())
    hosts = "".join(f'object Host "{name}" {{ check_command = "dummy" }}\n'
                    for name in [*ICINGA_HYPERV.values(), *ICINGA_VMS.values()])
    return f"""
object Host "{UPS_NAME}" {{
    check_command = "dummy"
    address = "127.0.0.1"
    vars.dell_ups = true
    vars.dell_ups_port = {ups_port}
    vars.dell_ups_timeout = 5
    vars.dell_ups_maintenance_timer = {TIMER}
    vars.dell_ups_automation_interval = 4s
    vars.dell_ups_check_interval = 4s
    vars.dell_ups_retry_interval = 2s
    vars.dell_ups_maintenance_config = "{config}"
}}
{hosts}
object Service "ping" {{ host_name = "hv01.example.com"
    check_command = "dummy" }}
object ApiUser "dell-ups" {{ password = "{API_PASSWORD}"
    permissions = [ {permissions} ] }}
object ApiUser "test-admin" {{ password = "{ADMIN_PASSWORD}"
    permissions = [ "*" ] }}
"""


def icinga_table(url: str, ca_file: Path, password_file: Path) -> str:
    host_names = {"hv09.example.com": "hv09"}
    host_names.update({object_id("vm", vm): name for vm, name in ICINGA_VMS.items()
                       if name != vm})
    lines = "".join(f'"{key}" = "{value}"\n' for key, value in host_names.items())
    return (f'\n[icinga]\nurl = "{url}"\nusername = "dell-ups"\n'
            f'password_file = "{password_file}"\nca_file = "{ca_file}"\n'
            f"[icinga.host_names]\n{lines}")


def write_secret(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text + "\n")


class AdminApi:
    """The test's own view of Icinga (an ApiUser with every permission)."""

    def __init__(self, sandbox: IcingaSandbox) -> None:
        self.port = sandbox.api_port
        self.context = ssl.create_default_context(cafile=str(sandbox.api_ca_file))
        token = base64.b64encode(f"test-admin:{ADMIN_PASSWORD}".encode()).decode()
        self.headers = {"Accept": "application/json", "Authorization": f"Basic {token}",
                        "X-HTTP-Method-Override": "GET"}

    def query(self, collection: str, attrs: list[str]) -> list[dict[str, Any]]:
        connection = http.client.HTTPSConnection("localhost", self.port, timeout=10,
                                                 context=self.context)
        try:
            connection.request("POST", f"/v1/objects/{collection}",
                               body=json.dumps({"attrs": attrs}), headers=self.headers)
            reply = json.loads(connection.getresponse().read())
        finally:
            connection.close()
        return [item["attrs"] for item in reply["results"]]

    def ready(self) -> bool:
        try:
            self.query("hosts", ["name"])
        except (OSError, ValueError, KeyError, http.client.HTTPException):
            return False
        return True

    def downtimes(self) -> list[tuple[str, str]]:
        """(host, service) of every downtime by the handler."""
        return sorted((item["host_name"], item["service_name"])
                      for item in self.query("downtimes", ["host_name", "service_name",
                                                           "author"])
                      if item["author"] == "check_dell_ups")

    def comments(self) -> list[tuple[str, str]]:
        return sorted((item["host_name"], item["text"])
                      for item in self.query("comments", ["host_name", "text", "author"])
                      if item["author"] == "check_dell_ups")


def automation_alert(state: str):
    def matches(event: ServiceEvent) -> bool:
        return event.kind == "alert" and event.service == AUTOMATION and event.state == state
    return matches


@pytest.fixture
def icinga(world, tmp_path: Path) -> Iterator[IcingaSandbox]:
    sandbox = IcingaSandbox(tmp_path / "icinga2", icinga_objects(world.ups.port, world.config),
                            env=world.env, api=True)
    password_file = world.workspace.path / "icinga-api.password"
    write_secret(password_file, API_PASSWORD)
    with open(world.config, "a") as config:
        config.write(icinga_table(sandbox.api_url, sandbox.api_ca_file, password_file))
    sandbox.validate()
    sandbox.start()
    admin = AdminApi(sandbox)
    world.wait(admin.ready, 30, "Icinga's API answering")
    yield sandbox
    sandbox.stop()


def test_outage_shows_in_icinga_as_downtimes_and_a_comment_then_goes(world, icinga):
    admin = AdminApi(icinga)
    icinga.wait_for(automation_alert("OK"), 60, what="a first OK result")
    assert admin.downtimes() == [] and admin.comments() == []

    world.ups.cut_mains()
    world.wait(lambda: all(world.fed_hosts_in_maintenance()), TIMER + 90,
               "maintenance of every host fed by the UPS")
    world.assert_maintenance_done_right()
    # The Hyper-V hosts Icinga knows (hv06 it does not), hv01's service through
    # all_services, and the two saved VMs it knows.
    expected = sorted([*((name, "") for name in ICINGA_HYPERV.values()),
                       ("hv01.example.com", "ping"),
                       *((name, "") for name in ICINGA_VMS.values())])
    world.wait(lambda: admin.downtimes() == expected, 60, "the downtimes in Icinga",
               while_waiting=world.retry_pending_now)
    world.wait(lambda: len(admin.comments()) == 1 and all(
        f"{host} (" in admin.comments()[0][1] for host in FED_HOSTS), 30,
        "the comment naming every host in maintenance")
    (commented, text), = admin.comments()
    assert commented == UPS_NAME
    assert text.startswith(f"[check_dell_ups] UPS {UPS_NAME} on battery: ")
    assert re.search(r"hv06\.example\.com \(save after a failed migration, job [0-9a-f-]+ "
                     r"[0-9a-f-]+\)", text), text  # cl02's last node: its two jobs
    assert re.search(r"hv01\.example\.com \(migrate, job [0-9a-f-]+\)", text), text
    # Called again and again while on battery: nothing added twice.
    time.sleep(10)
    assert admin.downtimes() == expected and len(admin.comments()) == 1
    assert "downtime added on hv01.example.com:" in world.workspace.handler_log.read_text()

    world.ups.restore_mains()
    world.wait(lambda: not any(world.fed_hosts_in_maintenance()), 60,
               "the hosts leaving maintenance", while_waiting=world.retry_pending_now)
    world.settle_with_retry_pending()
    # The timer's --retry-pending (or the recovery call) removes them once no host is ours.
    world.wait(lambda: admin.downtimes() == [] and admin.comments() == [], 30,
               "downtimes and comment gone", while_waiting=world.retry_pending_now)

    # A wrong password: the call still does its work and exits 0, with a one-line note.
    write_secret(world.workspace.path / "icinga-api.password", "wrong")
    result = world.handler("--retry-pending")
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("\n") == 1
    assert result.stdout.startswith("retry-pending: nothing pending; Icinga not updated: "
                                    "authentication refused (HTTP 401)"), result.stdout
    assert "wrong" not in world.workspace.handler_log.read_text()


# --- Icinga's API failing never stops or delays the SCVMM work --------------------------

BUDGET = 6  # room for the SCVMM work and then for Icinga's part


class TricklingApi:
    """A TLS server that answers headers at once, then one byte every 0.1 s, forever."""

    def __init__(self, directory: Path) -> None:
        self.cert, key = directory / "trickle.crt", directory / "trickle.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost", "-keyout", str(key), "-out",
                        str(self.cert)], check=True, capture_output=True, timeout=60)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(self.cert), str(key))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection: socket.socket) -> None:
        try:
            with self.context.wrap_socket(connection, server_side=True) as tls:
                tls.recv(65536)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{")
                while not self.stopped.wait(0.1):
                    tls.sendall(b" ")
        except OSError:
            pass
        finally:
            connection.close()

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("failure, reason", [
    ("down", "connection refused (is the ApiListener running?)"),
    ("trickling", "no answer within the handler's budget"),
])
def test_icinga_failing_leaves_the_scvmm_work_and_its_result_alone(world, tmp_path: Path,
                                                                   failure: str,
                                                                   reason: str) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    trickling = TricklingApi(tmp_path)
    try:
        port = closed_port() if failure == "down" else trickling.port
        password_file = world.workspace.path / "icinga-api.password"
        write_secret(password_file, API_PASSWORD)
        world.workspace.write_handler_config(world.fake.port, timer=TIMER, budget=BUDGET,
                                             with_password_file=True)
        with open(world.config, "a") as config:
            config.write(icinga_table(f"https://localhost:{port}", trickling.cert,
                                      password_file))
        started = time.monotonic()
        result = world.handler("--ups", UPS_NAME, "--state", "CRITICAL",
                               "--perfdata", f"on_battery={TIMER + 60}s charge=90%")
        elapsed = time.monotonic() - started
    finally:
        trickling.close()
    # The SCVMM work was done: every fed host was sent its Disable (the vmm_host last).
    assert world.disable_and_enable_calls()[0] >= len(FED_HOSTS), world.fake.calls
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("\n") == 1
    assert result.stdout.rstrip("\n").endswith(f"; Icinga not updated: {reason}"), \
        result.stdout
    print(f"{failure}: {elapsed:.1f} s: {result.stdout.strip()}")
    assert elapsed <= BUDGET + 2.5, elapsed  # the budget, and slack for process start-up
    log = world.workspace.handler_log.read_text()
    assert [line for line in log.splitlines() if "Icinga" in line] == [
        line for line in log.splitlines() if line.endswith(f"Icinga not updated: {reason}")]
    assert log.count("Icinga not updated") == 1
    assert API_PASSWORD not in log and API_PASSWORD not in result.stdout
