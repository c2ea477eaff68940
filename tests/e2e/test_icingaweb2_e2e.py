"""Icinga Director and Icinga Web 2, for real, end to end.

Director: the basket restored into Debian's Director, a UPS host and its service made by
a Director user (icingacli, as the web form would), Director's rendered config run by a
real Icinga 2 against the UPS simulator. The community comes from an --extra-opts file
and is in no process's command line, nor in Icinga's logs.

Icinga Web 2: the monitoring module over the IDO database Icinga 2 writes, the graphite
module over the Graphite sandbox with our template; through a power cut and back the
UPS's service page shows our graphs (PNGs from the module's render URL), photographed by
a headless Chromium.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from check_dell_ups.demo_world import UPS_NAME
from check_dell_ups.graphite_sandbox import GraphiteSandbox, graphite_installed
from check_dell_ups.icinga_sandbox import SHIPPED_ICINGA_FILES, IcingaSandbox, ServiceEvent
from check_dell_ups.icingaweb2_sandbox import (
    HeadlessChromium,
    IcingaWeb2Sandbox,
    chromium_installed,
    icingaweb2_installed,
    ido_mysql_installed,
    php_has_mysql,
)
from check_dell_ups.mariadb_sandbox import MariaDbSandbox, mariadb_installed

ROOT = Path(__file__).resolve().parents[2]
BASKET = ROOT / "director" / "dell_ups-basket.json"
TEMPLATE = ROOT / "dashboards" / "icingaweb2-graphite" / "dell_ups.ini"
UPS = "ups-rack1"
TIMER = 15  # the world's handler timer (tests/e2e/conftest.py)
OUR_GRAPHS = ("dell_ups-charge", "dell_ups-runtime", "dell_ups-on_battery", "dell_ups-load",
              "dell_ups-temperature", "dell_ups-voltage")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("icinga2") is None, reason="icinga2 is not installed"),
    pytest.mark.skipif(
        not (icingaweb2_installed("director", "incubator") and mariadb_installed()
             and php_has_mysql()),
        reason="needs Debian's icingacli, icingaweb2-module-director, mariadb-server, "
               "php-mysql"),
]


@pytest.fixture
def director(tmp_path: Path) -> Iterator[IcingaWeb2Sandbox]:
    with MariaDbSandbox(tmp_path / "db") as mariadb, \
            IcingaWeb2Sandbox(tmp_path / "web", mariadb) as web:
        web.set_up_director()
        web.restore_basket(BASKET)
        yield web


class CommandLineWatch(threading.Thread):
    """Reads every process's command line, again and again, while the check runs:
    the ones that ran check_dell_ups, and any that held the secret."""

    def __init__(self, secret: str, port: int) -> None:
        super().__init__(daemon=True)
        self.secret = secret.encode()
        self.port = str(port)  # ours: other checks may run on this machine
        self.checks: list[list[str]] = []
        self.leaks: list[bytes] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        me = str(os.getpid())
        while not self.stopping.is_set():
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit() or entry.name == me:
                    continue
                try:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                        cmdline = handle.read()
                except OSError:
                    continue
                if self.secret in cmdline:
                    self.leaks.append(cmdline)
                argv = cmdline.decode(errors="replace").split("\0")
                if any(part.endswith("/check_dell_ups") for part in argv[:2]) \
                        and self.port in argv and argv not in self.checks:
                    self.checks.append(argv)
            time.sleep(0.01)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


def test_the_command_line_watch_sees_a_secret_in_argv_and_a_check_by_its_port(tmp_path):
    secret = "leak-" + secrets.token_hex(8)
    check = tmp_path / "check_dell_ups"  # a script: its cmdline is "/bin/sh PATH ARGS"
    check.write_text("#!/bin/sh\nsleep 1.5\n")
    check.chmod(0o755)
    watch = CommandLineWatch(secret, 4242)
    watch.start()
    try:
        subprocess.run([sys.executable, "-c", "import time; time.sleep(1.5)", secret],
                       check=True)
        subprocess.run([str(check), "-p", "4242"], check=True)
        subprocess.run([str(check), "-p", "4343"], check=True)  # not ours
    finally:
        watch.stop()
    assert watch.leaks and secret.encode() in watch.leaks[0]
    assert watch.checks == [["/bin/sh", str(check), "-p", "4242", ""]]


def icinga_running(rendered: dict[str, str], tmp_path: Path,
                   env: dict[str, str] | None = None) -> IcingaSandbox:
    """An Icinga 2 sandbox with Director's rendered config in place of the shipped files
    (they define the same objects)."""
    shipped = tmp_path / "no-shipped-conf"
    shipped.mkdir(exist_ok=True)
    for name in SHIPPED_ICINGA_FILES:
        (shipped / name).write_text("/* Director's rendered config instead */\n")
    return IcingaSandbox(tmp_path / "icinga", "\n".join(rendered.values()), conf=shipped,
                         env=env)


def director_command(director: IcingaWeb2Sandbox, kind: str, name: str, plain: dict) -> None:
    director.icingacli("director", kind, "create", name, "--json", json.dumps(plain))


def alert(state: str):
    def matches(event: ServiceEvent) -> bool:
        return event.kind == "alert" and event.service == "ups" and event.state == state
    return matches


def test_a_director_users_check_takes_the_community_from_extra_opts_and_argv_has_none(
        director: IcingaWeb2Sandbox, tmp_path: Path):
    from check_dell_ups.simulator.agent import UpsSimulator

    community = "dir-" + secrets.token_hex(8)
    options = tmp_path / "snmp.ini"
    options.write_text(f"[{UPS}]\ncommunity = {community}\n")
    options.chmod(0o600)  # docs/director.md: 0600 or 0640, owned by the Icinga user
    with UpsSimulator(community=community, full_runtime=1800, load=35.0) as ups:
        # What a Director user does in the web form, through icingacli.
        director_command(director, "command", "dummy", {  # as kickstart imports the ITL's
            "object_type": "external_object", "methods_execute": "PluginCheck",
            "command": "dummy"})
        director_command(director, "host", UPS, {
            "object_type": "object", "check_command": "dummy", "address": "127.0.0.1",
            "vars": {"dell_ups_port": ups.port, "dell_ups_timeout": 5,
                     "dell_ups_extra_opts": f"{UPS}@{options}"}})
        director_command(director, "service", "ups", {
            "object_type": "object", "host": UPS, "imports": ["dell-ups"],
            "check_interval": "2", "retry_interval": "2"})
        rendered = director.render_config()
        assert community not in json.dumps(rendered)
        icinga = icinga_running(rendered, tmp_path)
        assert ups.port is not None
        watch = CommandLineWatch(community, ups.port)
        watch.start()
        try:
            with icinga:
                # On mains the check is OK and logs nothing: cut the power for an alert
                # that carries the check's output.
                time.sleep(3)
                ups.cut_mains()
                _, warning = icinga.wait_for(alert("WARNING"), 60, what="WARNING on battery")
                assert "on battery" in warning.text.lower(), warning.text
                # A file others may read is refused, through Director's command too.
                options.chmod(0o644)
                _, unknown = icinga.wait_for(alert("UNKNOWN"), 60, what="UNKNOWN for the file")
                assert "chmod o-rwx" in unknown.text, unknown.text
        finally:
            watch.stop()
    assert watch.checks, "no check_dell_ups process was seen: the watch proves nothing"
    assert all(f"--extra-opts={UPS}@{options}" in argv for argv in watch.checks), watch.checks
    assert watch.leaks == []
    logs = [path for path in (tmp_path / "icinga").rglob("*") if path.is_file()]
    assert logs and not [path for path in logs if community.encode() in path.read_bytes()]
    assert re.search(r"^\s*env\b", rendered["zones.d/director-global/commands.conf"],
                     re.MULTILINE) is None


def ups_host(world, graphite: GraphiteSandbox, mariadb: MariaDbSandbox, ido) -> str:
    """The UPS host with the shipped services (short intervals), Icinga 2's IDO into the
    sandbox's MariaDB and its GraphiteWriter into the Graphite sandbox."""
    return f"""
library "db_ido_mysql"
object IdoMysqlConnection "ido-mysql" {{
    socket_path = "{mariadb.socket}"
    user = "{ido.user}"
    password = "{ido.password}"
    database = "{ido.name}"
}}
object GraphiteWriter "graphite" {{
    host = "127.0.0.1"
    port = {graphite.line_port}
    enable_send_thresholds = true
}}
object Host "{UPS_NAME}" {{
    check_command = "dummy"
    check_interval = 2s
    address = "127.0.0.1"
    vars.dell_ups = true
    vars.dell_ups_port = {world.ups.port}
    vars.dell_ups_timeout = 5
    vars.dell_ups_maintenance_timer = {TIMER}
    vars.dell_ups_automation_interval = 4s
    vars.dell_ups_check_interval = 3s
    vars.dell_ups_retry_interval = 3s
    vars.dell_ups_maintenance_config = "{world.config}"
}}
"""


def log_in(browser: HeadlessChromium, url: str, user: str, password: str) -> None:
    browser.open(f"{url}/authentication/login")
    browser.type("input[name=username]", user)
    browser.type("input[name=password]", password)
    browser.click("[type=submit]")
    deadline = time.monotonic() + 30
    while "/authentication/login" in browser.current_url():
        assert time.monotonic() < deadline, "Icinga Web 2 did not log the user in"
        time.sleep(0.3)


def fetch(url: str, cookies: dict[str, str]) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers={
        "Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


@pytest.mark.skipif(not graphite_installed(),
                    reason="Debian's graphite-carbon and graphite-web are not installed")
@pytest.mark.skipif(not (ido_mysql_installed() and icingaweb2_installed("monitoring",
                                                                         "graphite")),
                    reason="needs Debian's icinga2-ido-mysql, icingaweb2-module-monitoring, "
                           "icingaweb2-module-graphite")
@pytest.mark.skipif(not chromium_installed(),
                    reason="Debian's chromium and chromium-driver are not installed")
def test_icinga_web_shows_our_graphs_of_the_outage(world, tmp_path: Path):
    with MariaDbSandbox(tmp_path / "db") as mariadb, \
            IcingaWeb2Sandbox(tmp_path / "web", mariadb) as web, \
            GraphiteSandbox(tmp_path / "graphite") as graphite:
        ido = mariadb.create_database("icinga")
        password = web.set_up_web(ido, graphite.url, [TEMPLATE], graph_minutes=2)
        icinga = IcingaSandbox(tmp_path / "icinga2", ups_host(world, graphite, mariadb, ido),
                               env=world.env)
        icinga.validate()
        with icinga, HeadlessChromium(tmp_path / "chromium", height=2700) as browser:
            url = web.serve()
            prefix = f"icinga2.{UPS_NAME}.services.ups.dell_ups.perfdata"
            world.wait(lambda: len(graphite.values(f"{prefix}.charge.value")) >= 3, 60,
                       "the first charge values in Graphite")
            world.ups.cut_mains()
            world.wait(lambda: max(graphite.values(f"{prefix}.on_battery.value"), default=0)
                       >= TIMER + 6,
                       90, "the outage past the timer in Graphite")
            world.wait(lambda: all(world.fed_hosts_in_maintenance()), 60,
                       "the fed hosts in maintenance")
            world.ups.restore_mains()
            world.wait(lambda: graphite.values(f"{prefix}.on_battery.value")[-1] == 0, 60,
                       "on_battery back to 0 in Graphite",
                       while_waiting=world.retry_pending_now)
            time.sleep(8)  # a few points on mains after the outage
            # The IDO knows the service (the monitoring module reads it from there).
            assert mariadb.sql("SELECT COUNT(*) FROM icinga_services", ido.name).strip() != "0"

            log_in(browser, url, "admin", password)
            browser.open(f"{url}/monitoring/service/show?host={UPS_NAME}&service=ups"
                         "&graphs_limit=-1")
            deadline = time.monotonic() + 60
            while True:
                images = browser.run("return Array.from(document.images).map("
                                     "i => [i.src, i.complete && i.naturalWidth > 0])")
                graphs = {parse_qs(urlsplit(src).query).get("template", [""])[0]: (src, done)
                          for src, done in images if "/graphite/graph/service" in src}
                if set(OUR_GRAPHS) <= set(graphs) and all(
                        graphs[name][1] for name in OUR_GRAPHS):
                    break
                assert time.monotonic() < deadline, f"graphs on the page: {sorted(graphs)}"
                time.sleep(0.5)
            cookies = browser.cookies()
            for name in OUR_GRAPHS:
                status, content_type, body = fetch(graphs[name][0], cookies)
                assert status == 200, name
                assert content_type.startswith("image/png"), (name, content_type)
                assert body.startswith(b"\x89PNG\r\n\x1a\n") and len(body) > 2000, name
            # The picture ends below our last graph (below: the module's default template
            # for `alarms`, and the service's details).
            bottom = browser.run("return Math.max(...Array.from(document.images).filter("
                                 "i => i.src.includes('template=dell_ups-')).map("
                                 "i => i.getBoundingClientRect().bottom))")
            frame = browser.run("return window.outerHeight - window.innerHeight")
            browser.resize(1400, int(bottom) + 30 + int(frame))
            time.sleep(1)
            shot = browser.screenshot()
            assert shot.startswith(b"\x89PNG")
            if os.environ.get("CHECK_DELL_UPS_GRAPHS_TO"):  # docs/img: see docs/graphs.md
                Path(os.environ["CHECK_DELL_UPS_GRAPHS_TO"],
                     "icingaweb2-dell_ups.png").write_bytes(shot)
        world.settle_with_retry_pending()


def test_a_director_users_automation_service_puts_the_fed_hosts_into_maintenance(
        world, director: IcingaWeb2Sandbox, tmp_path: Path):
    """The basket's EventCommand and automation template, as Director renders them, run
    the handler through a power cut and back (tests/e2e/conftest.py's world)."""
    director_command(director, "command", "dummy", {
        "object_type": "external_object", "methods_execute": "PluginCheck",
        "command": "dummy"})
    director_command(director, "host", UPS_NAME, {
        "object_type": "object", "check_command": "dummy", "address": "127.0.0.1",
        "vars": {"dell_ups_port": world.ups.port, "dell_ups_timeout": 5,
                 "dell_ups_maintenance_timer": TIMER,
                 "dell_ups_maintenance_config": str(world.config)}})
    director_command(director, "service", "ups-maintenance", {
        "object_type": "object", "host": UPS_NAME, "imports": ["dell-ups-maintenance"],
        "check_interval": "4", "retry_interval": "4"})
    with icinga_running(director.render_config(), tmp_path, env=world.env) as icinga:
        world.ups.cut_mains()
        icinga.wait_for(lambda e: e.kind == "alert" and e.service == "ups-maintenance"
                        and e.state == "CRITICAL", TIMER + 40, what="CRITICAL")
        world.wait(lambda: all(world.fed_hosts_in_maintenance()), 60,
                   "maintenance of every host fed by the UPS")
        world.assert_maintenance_done_right()
        world.ups.restore_mains()
        world.wait(lambda: not any(world.fed_hosts_in_maintenance()), 60,
                   "the hosts leaving maintenance", while_waiting=world.retry_pending_now)
        handler_runs = [e for e in icinga.events()
                        if e.kind == "handler" and e.service == "ups-maintenance"]
        assert handler_runs and {e.text for e in handler_runs} == {"dell_ups_maintenance"}
    world.settle_with_retry_pending()
