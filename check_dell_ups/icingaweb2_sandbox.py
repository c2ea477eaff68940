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

import base64
import contextlib
import http.client
import json
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from check_dell_ups.mariadb_sandbox import Database, MariaDbSandbox
from check_dell_ups.process_group import stop_groups

ICINGACLI = "/usr/bin/icingacli"
WEB_ROOT = Path("/usr/share/icingaweb2")
MODULES = WEB_ROOT / "modules"
PHP = "/usr/bin/php"
SCHEMA_WEB = WEB_ROOT / "schema" / "mysql.schema.sql"
SCHEMA_IDO = Path("/usr/share/icinga2-ido-mysql/schema/mysql.sql")


class IcingaWebError(Exception):
    """One-line reason Icinga Web 2 or one of its modules could not be set up or run."""


def icingaweb2_installed(*modules: str) -> bool:
    return Path(ICINGACLI).exists() and all((MODULES / name).is_dir() for name in modules)


def ido_mysql_installed() -> bool:
    return SCHEMA_IDO.exists()


def php_has_mysql() -> bool:
    if not Path(PHP).exists():
        return False
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

    def set_up_web(self, ido: Database, graphite_url: str, templates: list[Path],
                   user: str = "admin", graph_minutes: int = 10) -> str:
        """Icinga Web 2 with the monitoring module over Icinga 2's IDO database `ido`
        (its schema loaded here; the caller's Icinga 2 writes it through an
        IdoMysqlConnection), the graphite module over graphite_url with the given
        template files, and one user with every permission. Returns its password."""
        web_db = self.mariadb.create_database("icingaweb")
        self.mariadb.sql("", web_db.name, stdin=SCHEMA_WEB.read_text())
        self.mariadb.sql("", ido.name, stdin=SCHEMA_IDO.read_text())
        self.write_base_config(config_resource="icingaweb_db")
        self.add_db_resource("icingaweb_db", web_db)
        self.add_db_resource("icinga_ido", ido)
        password = secrets.token_hex(12)
        hashed = subprocess.run(
            [PHP, "-r", "echo password_hash(trim(fgets(STDIN)), PASSWORD_DEFAULT);"],
            input=password + "\n", capture_output=True, text=True, check=True).stdout
        self.mariadb.sql(f"INSERT INTO icingaweb_user (name, active, password_hash) "
                         f"VALUES ('{user}', 1, '{hashed}')", web_db.name)
        _write(self.config_dir / "authentication.ini",
               _ini({"icingaweb2": {"backend": "db", "resource": "icingaweb_db"}}))
        _write(self.config_dir / "roles.ini",
               _ini({"admins": {"users": user, "permissions": "*"}}))
        for module in ("monitoring", "graphite"):
            self.enable_module(module)
        self.write_module_config("monitoring", "backends.ini",
                                 {"icinga": {"type": "ido", "resource": "icinga_ido"}})
        self.write_module_config("monitoring", "config.ini",
                                 {"security": {"protected_customvars": "*pw*,*pass*,community"}})
        self.write_module_config("graphite", "config.ini", {
            "graphite": {"url": graphite_url},
            # the graphs' default span: a test's outage, not an hour's mostly empty chart
            "ui": {"default_time_range": str(graph_minutes),
                   "default_time_range_unit": "minutes"},
        })
        for template in templates:
            _write(self.config_dir / "modules" / "graphite" / "templates" / template.name,
                   template.read_text(encoding="utf-8"), mode=0o644)
        return password


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
            with contextlib.suppress(OSError):
                # 302 to its cookie check: PHP and Icinga Web 2 answer
                if self.status("/authentication/login") in (200, 302):
                    return self.url
            if time.monotonic() > deadline:
                raise IcingaWebError(f"Icinga Web 2 did not answer within {timeout:.0f} s")
            time.sleep(0.3)

    def status(self, path: str) -> int:
        """The HTTP status of a GET, redirects not followed."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path)
            return connection.getresponse().status
        finally:
            connection.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            stop_groups([self._server])
        self._server = None
        if self._server_log is not None:
            self._server_log.close()
            self._server_log = None

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


# ---- a headless Chromium driven through chromedriver's WebDriver protocol ------------------
# (plain HTTP and JSON, W3C WebDriver: no client library needed)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# As root Chromium needs --no-sandbox; the rest keeps it from calling home and from
# reading anything of a profile but the fresh one given.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars")
_ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C WebDriver element key


def chromium_installed() -> bool:
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


class HeadlessChromium(contextlib.AbstractContextManager):
    def __init__(self, root: Path, width: int = 1400, height: int = 1800) -> None:
        self.root = Path(root)
        self.size = (width, height)
        self._driver: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._session = ""
        self.port = 0

    def start(self, timeout: float = 60.0) -> HeadlessChromium:
        self.root.mkdir(parents=True, exist_ok=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._log = open(self.root / "chromedriver.log", "wb")  # noqa: SIM115 - closed by stop()
        self._driver = subprocess.Popen([CHROMEDRIVER, f"--port={self.port}"],
                                        stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError, IcingaWebError):
                if self._call("GET", "/status").get("ready"):
                    break
            if self._driver.poll() is not None or time.monotonic() > deadline:
                raise IcingaWebError(f"chromedriver did not start: see {self.root}")
            time.sleep(0.2)
        width, height = self.size
        args = [*CHROMIUM_FLAGS, f"--user-data-dir={self.root / 'profile'}",
                f"--window-size={width},{height}"]
        answer = self._call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args}}}})
        self._session = f"/session/{answer['sessionId']}"
        return self

    def _call(self, method: str, path: str, body: object = None) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request(method, path, None if body is None else json.dumps(body),
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            answer = json.loads(response.read() or b"{}")
        finally:
            connection.close()
        if response.status != 200:
            error = answer.get("value", {})
            raise IcingaWebError(f"WebDriver {path}: {error.get('error')}: "
                                 f"{str(error.get('message', '')).splitlines()[0][:200]}")
        return answer.get("value")

    def open(self, url: str) -> None:
        self._call("POST", f"{self._session}/url", {"url": url})

    def element(self, css: str) -> str:
        return self._call("POST", f"{self._session}/element",
                          {"using": "css selector", "value": css})[_ELEMENT]

    def type(self, css: str, text: str) -> None:
        self._call("POST", f"{self._session}/element/{self.element(css)}/value", {"text": text})

    def click(self, css: str) -> None:
        self._call("POST", f"{self._session}/element/{self.element(css)}/click", {})

    def run(self, script: str) -> Any:
        return self._call("POST", f"{self._session}/execute/sync",
                          {"script": script, "args": []})

    def current_url(self) -> str:
        return self._call("GET", f"{self._session}/url")

    def cookies(self) -> dict[str, str]:
        return {cookie["name"]: cookie["value"]
                for cookie in self._call("GET", f"{self._session}/cookie")}

    def resize(self, width: int, height: int) -> None:
        self._call("POST", f"{self._session}/window/rect", {"width": width, "height": height})

    def screenshot(self) -> bytes:
        return base64.b64decode(self._call("GET", f"{self._session}/screenshot"))

    def stop(self) -> None:
        if self._session:
            with contextlib.suppress(OSError, IcingaWebError):
                self._call("DELETE", self._session)
            self._session = ""
        if self._driver is not None:
            stop_groups([self._driver])
        self._driver = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> HeadlessChromium:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
