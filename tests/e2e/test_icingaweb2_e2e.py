"""Icinga Director and Icinga Web 2, for real, end to end.

Director: the basket restored into Debian's Director, a UPS host and its service made by
a Director user (icingacli, as the web form would), Director's rendered config run by a
real Icinga 2 against the UPS simulator. The community comes from an --extra-opts file
and is in no process's command line, nor in Icinga's logs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from check_dell_ups.icinga_sandbox import SHIPPED_ICINGA_FILES, IcingaSandbox, ServiceEvent
from check_dell_ups.icingaweb2_sandbox import (
    IcingaWeb2Sandbox,
    icingaweb2_installed,
    php_has_mysql,
)
from check_dell_ups.mariadb_sandbox import MariaDbSandbox, mariadb_installed

ROOT = Path(__file__).resolve().parents[2]
BASKET = ROOT / "director" / "dell_ups-basket.json"
UPS = "ups-rack1"

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
        director.icingacli("director", "command", "create", "dummy", "--json", json.dumps(
            {"object_type": "external_object", "methods_execute": "PluginCheck",
             "command": "dummy"}))  # kickstart imports the ITL's commands like this
        director.icingacli("director", "host", "create", UPS, "--json", json.dumps({
            "object_type": "object", "check_command": "dummy", "address": "127.0.0.1",
            "vars": {"dell_ups_port": ups.port, "dell_ups_timeout": 5,
                     "dell_ups_extra_opts": f"{UPS}@{options}"}}))
        director.icingacli("director", "service", "create", "ups", "--json", json.dumps({
            "object_type": "object", "host": UPS, "imports": ["dell-ups"],
            "check_interval": "2", "retry_interval": "2"}))
        rendered = director.render_config()
        assert community not in json.dumps(rendered)
        # Director's config in place of the shipped files (same object names).
        shipped = tmp_path / "no-shipped-conf"
        shipped.mkdir()
        for name in SHIPPED_ICINGA_FILES:
            (shipped / name).write_text("/* Director's rendered config instead */\n")
        icinga = IcingaSandbox(tmp_path / "icinga", "\n".join(rendered.values()), conf=shipped)
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
