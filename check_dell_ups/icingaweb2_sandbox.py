"""Debian's Icinga Web 2 (icingacli, its modules) over a private configuration directory:
Icinga Director with its database in a MariaDbSandbox, and the web front-end (monitoring
module over Icinga 2's IDO, the graphite module) served by PHP's built-in server on a
127.0.0.1 port of its own. Never touches /etc/icingaweb2.

ICINGAWEB_CONFIGDIR points Icinga Web 2 at the private directory. PHP finds the sandbox's
database through pdo_mysql.default_socket, set in an ini file of ours that PHP reads
after Debian's own (PHP_INI_SCAN_DIR with a leading ":" keeps the default directory):
Icinga Web 2's database resources name a host and a port, never a socket.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from check_dell_ups.mariadb_sandbox import Database, MariaDbSandbox

ICINGACLI = "/usr/bin/icingacli"
WEB_ROOT = Path("/usr/share/icingaweb2")
MODULES = WEB_ROOT / "modules"
PHP = "/usr/bin/php"


class IcingaWebError(Exception):
    """One-line reason Icinga Web 2 or one of its modules could not be set up or run."""


def icingaweb2_installed(*modules: str) -> bool:
    return Path(ICINGACLI).exists() and all((MODULES / name).is_dir() for name in modules)


def php_has_mysql() -> bool:
    probe = subprocess.run([PHP, "-r", "exit(extension_loaded('pdo_mysql') ? 0 : 1);"],
                           capture_output=True, check=False)
    return probe.returncode == 0


def _ini(sections: Mapping[str, Mapping[str, str]]) -> str:
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f'{key} = "{value}"' for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


def _write(path: Path, text: str, mode: int = 0o600) -> None:
    """Temp file and rename: Icinga Web 2 never reads half a file; 0600, it holds
    database passwords."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(mode)
    temporary.replace(path)


class IcingaWeb2Sandbox(contextlib.AbstractContextManager):
    def __init__(self, root: Path, mariadb: MariaDbSandbox) -> None:
        self.root = Path(root)
        self.config_dir = self.root / "etc"
        self.mariadb = mariadb
        self.resources: dict[str, dict[str, str]] = {}
        self._server: subprocess.Popen[bytes] | None = None
        self._server_log: IO[bytes] | None = None
        self.port = 0

    # ---- the configuration directory ---------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        return {"PATH": "/usr/bin:/bin", "ICINGAWEB_CONFIGDIR": str(self.config_dir),
                "PHP_INI_SCAN_DIR": f":{self.root / 'php'}", "HOME": str(self.root)}

    def write_base_config(self, config_resource: str = "") -> None:
        _write(self.root / "php" / "zz-dell-ups-sandbox.ini",
               f"pdo_mysql.default_socket = {self.mariadb.socket}\n"
               f"mysqli.default_socket = {self.mariadb.socket}\n", mode=0o644)
        settings = {"module_path": str(MODULES), "show_stacktraces": "0"}
        if config_resource:  # where user preferences live
            settings["config_resource"] = config_resource
        _write(self.config_dir / "config.ini", _ini({
            "global": settings,
            "logging": {"log": "file", "level": "ERROR",
                        "file": str(self.root / "icingaweb2.log")},
        }))
        self._write_resources()

    def add_db_resource(self, name: str, database: Database) -> None:
        self.resources[name] = {"type": "db", "db": "mysql", "host": "localhost",
                                "dbname": database.name, "username": database.user,
                                "password": database.password, "charset": "utf8mb4"}
        self._write_resources()

    def _write_resources(self) -> None:
        _write(self.config_dir / "resources.ini", _ini(self.resources))

    def enable_module(self, name: str) -> None:
        link = self.config_dir / "enabledModules" / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(MODULES / name)

    def write_module_config(self, module: str, file: str,
                            sections: Mapping[str, Mapping[str, str]]) -> Path:
        path = self.config_dir / "modules" / module / file
        _write(path, _ini(sections))
        return path

    # ---- icingacli ---------------------------------------------------------------------------

    def icingacli(self, *args: str, stdin: str | None = None,
                  timeout: float = 300) -> str:
        result = subprocess.run([ICINGACLI, *args], input=stdin, capture_output=True,
                                text=True, env=self.env, timeout=timeout, check=False)
        if result.returncode != 0 or "ERROR:" in result.stdout + result.stderr:
            text = result.stderr.strip() or result.stdout.strip() or f"exit {result.returncode}"
            raise IcingaWebError(f"icingacli {' '.join(args[:3])}: {text.splitlines()[0]}")
        return result.stdout

    # ---- Icinga Director -----------------------------------------------------------------------

    def set_up_director(self) -> None:
        """Director's database, schema (its own migrations) and module config."""
        self.write_base_config()
        self.add_db_resource("director_db", self.mariadb.create_database("director"))
        for module in ("incubator", "director"):  # Director 1.10 needs incubator's libraries
            self.enable_module(module)
        self.write_module_config("director", "config.ini", {"db": {"resource": "director_db"}})
        self.icingacli("director", "migration", "run")
        if self.mariadb.sql("SHOW TABLES LIKE 'icinga_command'", "director").strip() == "":
            raise IcingaWebError("director migration run made no schema")

    def restore_basket(self, basket: Path) -> str:
        return self.icingacli("director", "basket", "restore",
                              stdin=basket.read_text(encoding="utf-8"))

    def render_config(self) -> dict[str, str]:
        """Director's rendered Icinga 2 config: {file path: content}, from its database
        (what a deployment would send to Icinga 2's API)."""
        said = self.icingacli("director", "config", "render")
        found = re.search(r"checksum ([0-9a-f]{40})", said)
        if found is None:
            raise IcingaWebError(f"director config render said: {said.strip()[:200]}")
        rows = self.mariadb.sql(
            "SELECT cf.file_path, HEX(f.content) FROM director_generated_config_file cf "
            "JOIN director_generated_file f ON f.checksum = cf.file_checksum "
            f"WHERE cf.config_checksum = UNHEX('{found[1]}') ORDER BY cf.file_path",
            "director")
        files = {}
        for row in rows.splitlines():
            path, content = row.split("\t")
            files[path] = bytes.fromhex(content).decode("utf-8")
        return files

    # ---- the web front-end ------------------------------------------------------------------

    def serve(self, timeout: float = 60.0) -> str:
        """Icinga Web 2 through `icingacli web serve` (PHP's built-in server); its URL."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._server_log = open(self.root / "web-serve.log", "wb")  # noqa: SIM115 - closed by stop()
        self._server = subprocess.Popen(
            [ICINGACLI, "web", "serve", "--listen", f"127.0.0.1:{self.port}"],
            env=self.env, stdout=self._server_log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self._server.poll() is not None:
                raise IcingaWebError(f"icingacli web serve exited: see {self.root}/web-serve.log")
            with contextlib.suppress(urllib.error.URLError, OSError), \
                    urllib.request.urlopen(f"{self.url}/authentication/login", timeout=5):
                return self.url
            if time.monotonic() > deadline:
                raise IcingaWebError(f"Icinga Web 2 did not answer within {timeout:.0f} s")
            time.sleep(0.3)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        server = self._server
        if server is not None and server.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=5)
        self._server = None
        if self._server_log is not None:
            self._server_log.close()
            self._server_log = None

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
