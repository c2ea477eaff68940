"""Debian's InfluxDB 1.x in a throw-away directory, on a 127.0.0.1 port of its own: the
test bed for the shipped Grafana (InfluxDB) dashboard, fed by Icinga 2's InfluxdbWriter.
Never touches /etc/influxdb or /var/lib/influxdb."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from check_dell_ups.process_group import stop_groups

INFLUXD = "/usr/bin/influxd"
DATABASE = "icinga2"


class InfluxError(Exception):
    """One-line reason the InfluxDB sandbox could not start or answer."""


def influxdb_installed() -> bool:
    return Path(INFLUXD).exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class InfluxSandbox(contextlib.AbstractContextManager):
    def __init__(self, root: Path) -> None:
        self.root = root
        self.http_port = _free_port()
        self.rpc_port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def __enter__(self) -> InfluxSandbox:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "influxdb.conf"
        config.write_text(
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{self.rpc_port}"\n'
            f'[meta]\n  dir = "{self.root / "meta"}"\n'
            f'[data]\n  dir = "{self.root / "data"}"\n  wal-dir = "{self.root / "wal"}"\n'
            '  query-log-enabled = false\n'
            f'[http]\n  enabled = true\n  bind-address = "127.0.0.1:{self.http_port}"\n'
            "  auth-enabled = false\n  log-enabled = false\n"
            "[monitor]\n  store-enabled = false\n")
        self._log = (self.root / "influxd.log").open("wb")
        self._process = subprocess.Popen([INFLUXD, "-config", str(config)],
                                         stdout=self._log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise InfluxError(f"influxd exited with {self._process.returncode} (see "
                                  f"{self.root / 'influxd.log'})")
            with contextlib.suppress(OSError), \
                    urllib.request.urlopen(f"{self.url}/ping", timeout=2) as reply:
                if reply.status == 204:
                    self.query(f"CREATE DATABASE {DATABASE}", database=None)
                    return
            time.sleep(0.2)
        raise InfluxError(f"influxd did not answer on port {self.http_port} within "
                          f"{timeout:g} s")

    def stop(self) -> None:
        if self._process is not None:
            stop_groups([self._process])
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def query(self, text: str, database: str | None = DATABASE) -> list[dict[str, Any]]:
        """The results of one InfluxQL statement (POST, as writes and CREATE need)."""
        fields = {"q": text, **({"db": database} if database else {})}
        request = urllib.request.Request(f"{self.url}/query",
                                         data=urllib.parse.urlencode(fields).encode())
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                answer = json.load(reply)
        except (OSError, ValueError) as error:
            raise InfluxError(f"query {text!r}: {error}") from None
        results = answer.get("results") or []
        errors = [result["error"] for result in results if "error" in result]
        if errors:
            raise InfluxError(f"query {text!r}: {errors[0]}")
        return results

    def values(self, text: str) -> list[Any]:
        """The non-null values of a query's first value column, over all its series."""
        found = []
        for result in self.query(text):
            for series in result.get("series") or []:
                for row in series["values"]:
                    found.extend(value for value in row[1:2] if value is not None)
        return found
