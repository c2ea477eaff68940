"""The HTTP edge to Icinga's API: every request ends by the handler's deadline whatever
the peer does, failures are one line without the password, and the permissions the
code asks for are exactly those the shipped ApiUser and the docs list.

The peers here are real sockets on 127.0.0.1 (a TLS server that trickles its reply, one
that never finishes the handshake, a closed port); the real Icinga 2 API is in
tests/e2e/test_icinga_api_e2e.py."""

from __future__ import annotations

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

import pytest

from check_dell_ups.maintenance.config import Config, IcingaConfig, parse_config
from check_dell_ups.maintenance.icinga_api import (
    NO_TIME,
    PERMISSIONS,
    IcingaApi,
    IcingaError,
    update_icinga,
)
from check_dell_ups.maintenance.log import HandlerLog
from check_dell_ups.maintenance.state import StateStore

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-Icinga"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class Peer:
    """A TCP listener on 127.0.0.1 whose connections `serve` handles, one thread each."""

    def __init__(self, serve) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.serve = serve
        self.connections = 0
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        try:
            self.serve(connection, self.stopped)
        except OSError:
            pass
        finally:
            connection.close()

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


@pytest.fixture
def trickling(certificate) -> Iterator[Peer]:
    """Answers over TLS with headers at once, then one byte of the body every 0.1 s:
    no single read ever waits long, only the whole reply does."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, certificate))

    def serve(connection: socket.socket, stopped: threading.Event) -> None:
        with context.wrap_socket(connection, server_side=True) as tls:
            tls.recv(65536)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 100000\r\n\r\n{")
            while not stopped.is_set():
                tls.sendall(b" ")
                time.sleep(0.1)

    peer = Peer(serve)
    yield peer
    peer.close()


@pytest.fixture
def silent() -> Iterator[Peer]:
    """Accepts, then says nothing: the TLS handshake never completes."""
    peer = Peer(lambda connection, stopped: stopped.wait(30))
    yield peer
    peer.close()


def icinga_config(port: int, ca_file: Path | None = None, **changes) -> IcingaConfig:
    values = dict(host="localhost", port=port, username="dell-ups",
                  password_file="/nonexistent", ca_file=str(ca_file) if ca_file else None,
                  downtime_hours=24.0, ups_hosts={}, host_names={})
    values.update(changes)
    return IcingaConfig(**values)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ask(api: IcingaApi) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(IcingaError) as caught:
        api.ours()
    return str(caught.value), time.monotonic() - started


def test_a_trickled_reply_ends_at_the_deadline(trickling: Peer, certificate) -> None:
    # A per-read socket timeout (the budget left, 1.5 s) would never fire: each byte
    # comes 0.1 s after the last. The whole request must still end by the deadline.
    api = IcingaApi(icinga_config(trickling.port, certificate[0]), PASSWORD,
                    time.monotonic() + 1.5)
    reason, elapsed = ask(api)
    assert reason == NO_TIME
    assert 1.3 <= elapsed <= 2.5, elapsed  # 1 s of slack for a loaded machine


def test_a_handshake_that_never_ends_ends_at_the_deadline(silent: Peer) -> None:
    api = IcingaApi(icinga_config(silent.port), PASSWORD, time.monotonic() + 1.0)
    reason, elapsed = ask(api)
    assert reason == NO_TIME
    assert 0.8 <= elapsed <= 2.0, elapsed


def test_no_request_starts_without_time_left(silent: Peer) -> None:
    api = IcingaApi(icinga_config(silent.port), PASSWORD, time.monotonic() + 0.05)
    assert ask(api)[0] == NO_TIME
    time.sleep(0.2)
    assert silent.connections == 0


def test_a_closed_port_is_one_clear_line() -> None:
    api = IcingaApi(icinga_config(closed_port()), PASSWORD, time.monotonic() + 5)
    assert ask(api)[0] == "connection refused (is the ApiListener running?)"


def test_an_unknown_ca_is_refused_with_a_hint(trickling: Peer) -> None:
    api = IcingaApi(icinga_config(trickling.port), PASSWORD, time.monotonic() + 5)
    reason = ask(api)[0]
    assert reason.startswith("TLS: self-signed certificate")
    assert "icinga.ca_file" in reason


def test_an_unusable_ca_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(IcingaError, match=r"^icinga\.ca_file .*absent\.pem: cannot be used: "
                                          r"No such file or directory$"):
        IcingaApi(icinga_config(1, tmp_path / "absent.pem"), PASSWORD, time.monotonic() + 5)


# --- update_icinga: what the handler sees ------------------------------------------------

def handler_config(tmp_path: Path, port: int, icinga: bool = True,
                   ca_file: Path | None = None) -> Config:
    password_file = tmp_path / "icinga.password"
    password_file.write_text(PASSWORD + "\n")
    os.chmod(password_file, 0o600)
    raw = {
        "scvmm": {"server": "vmm01.example.com", "username": "svc-ups"},
        "maintenance": {"state_dir": str(tmp_path / "state")},
        "ups": {"ups-a": {"hosts": ["hv01.example.com"]}},
    }
    if icinga:
        raw["icinga"] = {"url": f"https://localhost:{port}", "username": "dell-ups",
                         "password_file": str(password_file)}
        if ca_file:
            raw["icinga"]["ca_file"] = str(ca_file)
    return parse_config(raw)


def run_update(tmp_path: Path, config: Config, seconds: float) -> tuple[str | None, list[str]]:
    log_file = tmp_path / "maintenance.log"
    log = HandlerLog(str(log_file), use_syslog=False)
    try:
        note = update_icinga(config, StateStore(config.maintenance.state_dir), log,
                             deadline=time.monotonic() + seconds)
    finally:
        log.close()
    return note, log_file.read_text().splitlines() if log_file.exists() else []


def test_icinga_down_is_one_log_line_and_a_note(tmp_path: Path) -> None:
    note, lines = run_update(tmp_path, handler_config(tmp_path, closed_port()), 5)
    assert note == "Icinga not updated: connection refused (is the ApiListener running?)"
    assert len(lines) == 1 and lines[0].endswith(note)
    assert PASSWORD not in "\n".join(lines)


def test_a_trickling_icinga_is_one_line_within_the_budget(tmp_path: Path, trickling: Peer,
                                                          certificate) -> None:
    config = handler_config(tmp_path, trickling.port, ca_file=certificate[0])
    started = time.monotonic()
    note, lines = run_update(tmp_path, config, 1.5)
    assert time.monotonic() - started <= 2.5  # 1 s of slack for a loaded machine
    assert note == f"Icinga not updated: {NO_TIME}"
    assert len(lines) == 1 and PASSWORD not in lines[0]


def test_off_when_absent(tmp_path: Path) -> None:
    note, lines = run_update(tmp_path, handler_config(tmp_path, 1, icinga=False), 5)
    assert note is None and lines == []


def test_a_missing_password_file_is_one_line(tmp_path: Path) -> None:
    config = handler_config(tmp_path, closed_port())
    (tmp_path / "icinga.password").unlink()
    note, lines = run_update(tmp_path, config, 5)
    assert note is not None and note.startswith(
        "Icinga not updated: icinga.password_file ")
    assert note.endswith("cannot be read: No such file or directory")
    assert len(lines) == 1


# --- permissions: code, shipped ApiUser and docs agree ----------------------------------

def test_the_permissions_are_those_shipped_and_documented() -> None:
    example = (ROOT / "icinga-conf" / "examples" / "api-user-dell-ups.conf").read_text()
    block = re.search(r"permissions = \[(.*?)\]", example, re.S)
    assert block is not None
    shipped = re.findall(r'"([^"]+)"', re.sub(r"//[^\n]*", "", block[1]))
    assert sorted(shipped) == sorted(PERMISSIONS)
    docs = (ROOT / "docs" / "icinga.md").read_text()
    section = docs.split("### The ApiUser's permissions", 1)[1].split("\n#", 1)[0]
    assert sorted(re.findall(r"^- `([a-z/A-Z-]+)`", section, re.M)) == sorted(PERMISSIONS)
