"""Debian's Graphite in a throw-away directory: carbon-cache receiving Icinga 2's
GraphiteWriter, graphite-web answering the render API, both on 127.0.0.1 ports of
their own. A test bed for the shipped graph templates and dashboards, never touching
/etc/carbon, /etc/graphite or /var/lib/graphite.

graphite-web is a Django application installed for the system's Python
(/usr/bin/python3, package graphite-web), not for the venv: it runs as a subprocess of
that interpreter with a settings module written here.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from check_dell_ups.process_group import stop_groups

CARBON_CACHE = "/usr/bin/carbon-cache"
SYSTEM_PYTHON = "/usr/bin/python3"
# Icinga checks every few seconds in the tests: keep every point for two hours.
RETENTION = "1s:2h"


class GraphiteError(Exception):
    """One-line reason the Graphite sandbox could not start or answer."""


def graphite_installed() -> bool:
    if not (Path(CARBON_CACHE).exists() and Path(SYSTEM_PYTHON).exists()):
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import graphite.settings, django"],
                           capture_output=True, check=False,
                           env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": ""})
    return probe.returncode == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GraphiteSandbox(contextlib.AbstractContextManager):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.whisper_dir = root / "whisper"
        self.line_port = _free_port()
        self.pickle_port = _free_port()
        self.query_port = _free_port()
        self.web_port = _free_port()
        self._processes: list[subprocess.Popen[bytes]] = []
        self._logs: list[Any] = []  # the daemons' output files, closed by stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    # ---- set-up ------------------------------------------------------------------------

    def _write_carbon_config(self) -> Path:
        conf = self.root / "carbon"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "storage-schemas.conf").write_text(
            f"[everything]\npattern = .*\nretentions = {RETENTION}\n")
        (conf / "carbon.conf").write_text(
            "[cache]\n"
            f"STORAGE_DIR = {self.root}/\n"
            f"LOCAL_DATA_DIR = {self.whisper_dir}/\n"
            f"CONF_DIR = {conf}/\n"
            f"LOG_DIR = {self.root}/log/\n"
            f"PID_DIR = {self.root}/\n"
            "DATABASE = whisper\n"
            "MAX_CACHE_SIZE = inf\nMAX_UPDATES_PER_SECOND = 5000\n"
            "MAX_CREATES_PER_MINUTE = inf\n"
            "LINE_RECEIVER_INTERFACE = 127.0.0.1\n"
            f"LINE_RECEIVER_PORT = {self.line_port}\n"
            "ENABLE_UDP_LISTENER = False\n"
            "PICKLE_RECEIVER_INTERFACE = 127.0.0.1\n"
            f"PICKLE_RECEIVER_PORT = {self.pickle_port}\n"
            "CACHE_QUERY_INTERFACE = 127.0.0.1\n"
            f"CACHE_QUERY_PORT = {self.query_port}\n"
            "WHISPER_AUTOFLUSH = True\n"
        )
        return conf / "carbon.conf"

    def _write_web_settings(self) -> Path:
        web = self.root / "web"
        web.mkdir(parents=True, exist_ok=True)
        (web / "dell_ups_graphite_settings.py").write_text(
            "from graphite.settings import *  # noqa: F401,F403 - Debian's defaults\n"
            f"SECRET_KEY = {os.urandom(16).hex()!r}\n"
            f"STORAGE_DIR = {str(self.root)!r}\n"
            f"WHISPER_DIR = {str(self.whisper_dir)!r}\n"
            "STANDARD_DIRS = [WHISPER_DIR]\n"
            f"LOG_DIR = {str(self.root / 'log')!r}\n"
            f"INDEX_FILE = {str(self.root / 'index')!r}\n"
            f"CARBONLINK_HOSTS = ['127.0.0.1:{self.query_port}']\n"
            "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', "
            f"'NAME': {str(self.root / 'graphite.db')!r}}}}}\n"
            "TAGDB = ''\n"
            "ALLOWED_HOSTS = ['127.0.0.1', 'localhost']\n"
        )
        return web

    def start(self, timeout: float = 60.0) -> GraphiteSandbox:
        (self.root / "log").mkdir(parents=True, exist_ok=True)
        self.whisper_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_carbon_config()
        self._spawn([CARBON_CACHE, f"--config={config}", f"--pidfile={self.root}/carbon.pid",
                     f"--logdir={self.root}/log", "--nodaemon", "start"], "carbon")
        web = self._write_web_settings()
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(web),
               "DJANGO_SETTINGS_MODULE": "dell_ups_graphite_settings",
               "GRAPHITE_SETTINGS_MODULE": "dell_ups_graphite_settings"}
        migrate = subprocess.run([SYSTEM_PYTHON, "-m", "django", "migrate", "--run-syncdb",
                                  "-v", "0"], capture_output=True, text=True, env=env,
                                 timeout=timeout, check=False)
        if migrate.returncode != 0:
            raise GraphiteError(f"graphite-web migrate failed: {_last_line(migrate.stderr)}")
        self._spawn([SYSTEM_PYTHON, "-m", "django", "runserver", "--noreload",
                     f"127.0.0.1:{self.web_port}"], "web", env=env)
        self._wait_for_port(self.line_port, timeout, "carbon-cache")
        self._wait_for_port(self.web_port, timeout, "graphite-web")
        return self

    def _spawn(self, argv: list[str], name: str, env: dict[str, str] | None = None) -> None:
        log = open(self.root / "log" / f"{name}.out", "wb")  # noqa: SIM115 - closed by stop()
        self._logs.append(log)
        self._processes.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                                env=env, start_new_session=True))

    def _wait_for_port(self, port: int, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self._processes):
                raise GraphiteError(f"{what} exited: see {self.root / 'log'}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port),
                                                                         timeout=1):
                return
            time.sleep(0.2)
        raise GraphiteError(f"{what} did not listen on port {port} within {timeout:.0f} s")

    # ---- the render API ------------------------------------------------------------------

    def render(self, target: str | list[str], *, since: str = "-2h", fmt: str = "json",
               **params: str) -> Any:
        """The render API's answer: parsed JSON, or the image's bytes (fmt="png")."""
        targets = [target] if isinstance(target, str) else target
        query = urllib.parse.urlencode([*(("target", t) for t in targets), ("from", since),
                                        ("format", fmt), *params.items()])
        with urllib.request.urlopen(f"{self.url}/render?{query}", timeout=30) as response:
            body = response.read()
        return json.loads(body) if fmt == "json" else body

    def values(self, target: str) -> list[float]:
        """The non-null datapoints of every series the target names, oldest first."""
        points = []
        for series in self.render(target):
            points += [value for value, _ in series["datapoints"] if value is not None]
        return points

    def metric_names(self, query: str = "*") -> list[str]:
        names = []
        pending = [query]
        while pending:
            pattern = pending.pop()
            url = f"{self.url}/metrics/find?{urllib.parse.urlencode({'query': pattern})}"
            with urllib.request.urlopen(url, timeout=30) as response:
                for node in json.loads(response.read()):
                    if node.get("leaf"):
                        names.append(node["id"])
                    else:
                        pending.append(node["id"] + ".*")
        return sorted(names)

    # ---- tear-down ---------------------------------------------------------------------

    def stop(self) -> None:
        stop_groups(self._processes)
        self._processes = []
        for log in self._logs:
            log.close()
        self._logs = []

    def __enter__(self) -> GraphiteSandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
