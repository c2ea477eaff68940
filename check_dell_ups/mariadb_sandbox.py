"""Debian's MariaDB in a throw-away directory: its own datadir, a unix socket there and
no TCP port, never touching /var/lib/mysql or /etc/mysql. A test bed for Icinga Director's
database and Icinga 2's IDO (check_dell_ups.icingaweb2_sandbox).

The server runs as the caller (root in CI); MariaDB's `root` is the caller over the socket
(unix_socket authentication), the databases made here get users with passwords.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from check_dell_ups.process_group import stop_groups

INSTALL_DB = "/usr/bin/mariadb-install-db"
SERVER = "/usr/sbin/mariadbd"
CLIENT = "/usr/bin/mariadb"


class MariaDbError(Exception):
    """One-line reason the MariaDB sandbox could not start or run a statement."""


def mariadb_installed() -> bool:
    return all(Path(path).exists() for path in (INSTALL_DB, SERVER, CLIENT))


@dataclass(frozen=True)
class Database:
    name: str
    user: str
    password: str


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise MariaDbError(f"not a plain identifier: {name!r}")
    return name


class MariaDbSandbox(contextlib.AbstractContextManager):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.datadir = self.root / "data"
        # A unix socket's path has at most 107 bytes: pytest's tmp_path can be longer.
        self._socket_dir = Path(tempfile.mkdtemp(prefix="dell_ups_mdb-"))
        self.socket = self._socket_dir / "mysqld.sock"
        self.log = self.root / "mariadb.err"
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    def start(self, timeout: float = 60.0) -> MariaDbSandbox:
        self.root.mkdir(parents=True, exist_ok=True)
        me = pwd.getpwuid(os.getuid()).pw_name
        if not (self.datadir / "mysql").is_dir():
            install = subprocess.run(
                [INSTALL_DB, "--no-defaults", f"--datadir={self.datadir}", f"--user={me}",
                 "--auth-root-authentication-method=socket", f"--auth-root-socket-user={me}",
                 "--skip-test-db"],
                capture_output=True, text=True, timeout=timeout, check=False)
            if install.returncode != 0:
                raise MariaDbError(f"mariadb-install-db failed: {_last_line(install.stderr)}")
        self._output = open(self.root / "mariadb.out", "wb")  # noqa: SIM115 - closed by stop()
        self._process = subprocess.Popen(
            [SERVER, "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
             "--skip-networking", f"--user={me}", f"--pid-file={self.root / 'mariadb.pid'}",
             f"--log-error={self.log}", "--skip-log-bin", "--innodb-buffer-pool-size=32M",
             # Small and quick: a test database, nothing to recover after a crash.
             "--innodb-flush-log-at-trx-commit=0", "--skip-name-resolve"],
            stdout=self._output, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise MariaDbError(f"mariadbd exited: {_last_line(_read(self.log))}")
            if self.socket.exists() and self._ping():
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise MariaDbError(f"mariadbd did not answer within {timeout:.0f} s")
            time.sleep(0.2)

    def _ping(self) -> bool:
        return subprocess.run([CLIENT, "--no-defaults", "-S", str(self.socket), "-u", "root",
                               "-e", "SELECT 1"], capture_output=True, timeout=10,
                              check=False).returncode == 0

    def sql(self, statements: str, database: str = "", stdin: str | None = None) -> str:
        """Run statements as root (or, with stdin, a script); their tab-separated output."""
        argv = [CLIENT, "--no-defaults", "-S", str(self.socket), "-u", "root", "-N", "-B"]
        if database:
            argv.append(database)
        if statements:
            argv += ["-e", statements]
        result = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                timeout=120, check=False)
        if result.returncode != 0:
            raise MariaDbError(f"SQL failed: {_last_line(result.stderr)}")
        return result.stdout

    def create_database(self, name: str, user: str | None = None) -> Database:
        """A database and a user with a fresh password that may do anything in it."""
        database = Database(_identifier(name), _identifier(user or name),
                            secrets.token_hex(12))
        self.sql(f"CREATE DATABASE IF NOT EXISTS {database.name} CHARACTER SET utf8mb4;"
                 f"CREATE USER IF NOT EXISTS '{database.user}'@'localhost' "
                 f"IDENTIFIED BY '{database.password}';"
                 f"GRANT ALL ON {database.name}.* TO '{database.user}'@'localhost';")
        return database

    def stop(self) -> None:
        if self._process is not None:
            stop_groups([self._process], grace=30)
        self._process = None
        if self._output is not None:
            self._output.close()
            self._output = None

    def __enter__(self) -> MariaDbSandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self._socket_dir, ignore_errors=True)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
