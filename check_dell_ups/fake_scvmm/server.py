"""FakeScvmm: a real WinRM/PSRP endpoint (HTTP, Basic auth) in front of a fake VMM.

    with FakeScvmm(inventory, username="svc-ups", password="pw") as fake:
        ... connect pypsrp to fake.url ...
        fake.snapshot(); fake.calls; fake.set_faults(fail_migration_vms=("web01",))

The HTTP server is threaded (one thread per connection), so slow pipelines of one or
many clients overlap. Control endpoints on the same server: GET /fake/state,
GET /fake/calls, POST /fake/faults.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import ssl
import threading
import uuid
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from check_dell_ups.fake_scvmm import soap
from check_dell_ups.fake_scvmm.model import Faults, VmmModel
from check_dell_ups.fake_scvmm.session import Shell

# A Receive with nothing to return waits this long (or the request's OperationTimeout
# if shorter) before "nothing yet"; real WinRM waits the whole OperationTimeout, shorter
# keeps the fake responsive on shutdown.
RECEIVE_WAIT_SECONDS = 1.0

_FAULT_KEYWORDS = {
    "fail_migration_vms",
    "last_node_fails",
    "job_seconds",
    "latency",
    "refuse_connections",
    "drop_connection_mid_job",
}


class FakeScvmm:
    """A fake VMM server reached over WinRM/PSRP. See the module docstring."""

    def __init__(
        self,
        inventory: Mapping[str, Any],
        *,
        username: str = "svc-ups",
        password: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        job_seconds: float = 1.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.model = VmmModel.from_inventory(inventory, job_seconds)
        self.username = username
        self._password = password
        self.host = host
        self._requested_port = port
        self.latency = latency
        self._ssl_context = ssl_context  # HTTPS instead of HTTP (to test TLS clients)
        self._calls: list[dict[str, Any]] = []
        self._calls_lock = threading.Lock()
        self._shells: dict[str, Shell] = {}
        self._shells_lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeScvmm:
        server = ThreadingHTTPServer((self.host, self._requested_port), _handler_for(self))
        server.daemon_threads = True
        if self._ssl_context is not None:
            server.socket = self._ssl_context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
            name="fake-scvmm",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeScvmm:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeScvmm is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}/wsman"

    # ---- inspection and faults ---------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        state = self.model.snapshot()
        faults = self.model.faults
        state["faults"] = {
            "fail_migration_vms": sorted(faults.fail_migration_vms),
            "last_node_fails": faults.last_node_fails,
            "refuse_connections": faults.refuse_connections,
            "drop_connection_mid_job": faults.drop_connection_mid_job,
            "job_seconds": self.model.job_seconds,
            "latency": self.latency,
        }
        return state

    @property
    def calls(self) -> list[dict[str, Any]]:
        with self._calls_lock:
            return [dict(call, parameters=dict(call["parameters"])) for call in self._calls]

    def set_faults(
        self,
        *,
        fail_migration_vms: Iterable[str] = (),
        last_node_fails: bool = True,
        job_seconds: float | None = None,
        latency: float | None = None,
        refuse_connections: bool = False,
        drop_connection_mid_job: bool = False,
    ) -> None:
        """Replace the faults. job_seconds and latency change only when given.
        drop_connection_mid_job fires once: the first pipeline that starts a job then
        loses its connection (the job goes on)."""
        with self.model.lock:
            self.model.faults = Faults(
                frozenset(fail_migration_vms),
                bool(last_node_fails),
                bool(refuse_connections),
                bool(drop_connection_mid_job),
            )
            if job_seconds is not None:
                self.model.job_seconds = float(job_seconds)
        if latency is not None:
            self.latency = float(latency)

    # ---- used by the request handler ---------------------------------------------------

    def check_credentials(self, header: str | None) -> bool:
        if not header or not header.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, _, password = decoded.partition(":")
        return user.lower() == self.username.lower() and hmac.compare_digest(
            password.encode(), self._password.encode()
        )

    def record(self, cmdlet: str, parameters: dict[str, Any]) -> None:
        with self._calls_lock:
            self._calls.append({"cmdlet": cmdlet, "parameters": parameters})

    def _take_drop_fault(self) -> bool:
        with self.model.lock:
            if not self.model.faults.drop_connection_mid_job:
                return False
            self.model.faults.drop_connection_mid_job = False
            return True

    def new_shell(self) -> Shell:
        shell = Shell(
            str(uuid.uuid4()).upper(),
            self.model,
            self.record,
            lambda: self.latency,
            self._take_drop_fault,
        )
        with self._shells_lock:
            self._shells[shell.shell_id] = shell
        return shell

    def shell(self, shell_id: str | None) -> Shell | None:
        with self._shells_lock:
            return self._shells.get(shell_id or "")

    def forget_shell(self, shell_id: str | None) -> None:
        with self._shells_lock:
            self._shells.pop(shell_id or "", None)


class _DropConnectionError(Exception):
    """Answer nothing: close the TCP connection."""


def _handler_for(fake: FakeScvmm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes
        server_version = "Microsoft-HTTPAPI/2.0"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests and the CLI print their own lines

        # ---- control endpoints ---------------------------------------------------------

        def do_GET(self) -> None:
            if self.path == "/fake/state":
                self._json(200, fake.snapshot())
            elif self.path == "/fake/calls":
                self._json(200, fake.calls)
            else:
                self._json(404, {"error": "unknown path"})

        def do_POST(self) -> None:
            body = self._read_body()
            if self.path == "/fake/faults":
                self._post_faults(body)
            elif self.path.lower() == "/wsman":
                self._wsman(body)
            else:
                self._json(404, {"error": "unknown path"})

        def _post_faults(self, body: bytes) -> None:
            try:
                faults = json.loads(body or b"{}")
                unknown = set(faults) - _FAULT_KEYWORDS
                if not isinstance(faults, dict) or unknown:
                    raise ValueError(f"unknown fault keywords: {sorted(unknown)}")
                fake.set_faults(**faults)
            except (ValueError, TypeError) as problem:
                self._json(400, {"error": str(problem)})
                return
            self._json(200, fake.snapshot()["faults"])

        # ---- WSMan ---------------------------------------------------------------------

        def _wsman(self, body: bytes) -> None:
            if fake.model.faults.refuse_connections:
                self.close_connection = True
                return  # answer nothing
            if not fake.check_credentials(self.headers.get("Authorization")):
                self._send(401, b"", "text/plain", {"WWW-Authenticate": 'Basic realm="WSMAN"'})
                return
            try:
                request = soap.Request.parse(body)
            except (ValueError, SyntaxError):
                self._send(400, b"", "text/plain")
                return
            try:
                status, reply = _dispatch(fake, request, fake.url)
            except _DropConnectionError:
                self.close_connection = True
                return
            except Exception as problem:  # a message we cannot handle: a fault, not a dead thread
                status, reply = (
                    500,
                    soap.fault(
                        request,
                        soap.ACTION_NOT_SUPPORTED,
                        f"fake SCVMM cannot handle this: {problem}",
                    ),
                )
            self._send(status, reply, "application/soap+xml;charset=UTF-8")

        # ---- plumbing ------------------------------------------------------------------

        def _read_body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _json(self, status: int, value: Any) -> None:
            self._send(status, json.dumps(value, indent=1).encode(), "application/json")

        def _send(
            self,
            status: int,
            body: bytes,
            content_type: str,
            headers: Mapping[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _dispatch(fake: FakeScvmm, request: soap.Request, endpoint: str) -> tuple[int, bytes]:
    """(HTTP status, SOAP reply) for one WSMan request."""
    if request.action == "Create":
        shell = fake.new_shell()
        try:
            shell.receive_data(request.creation_payload())
        except Exception:
            fake.forget_shell(shell.shell_id)
            raise
        return 200, soap.create_response(request, shell.shell_id, endpoint)

    shell = fake.shell(request.shell_id)
    if shell is None:
        if request.action == "Delete":
            return 200, soap.empty_response(request, "DeleteResponse")
        return 500, soap.fault(
            request,
            soap.INVALID_SELECTORS,
            "The request for the Windows Remote Shell with ShellId "
            f"{request.shell_id} failed because the shell was not found on the server.",
        )

    if request.action == "Command":
        command_id, data = request.command()
        shell.receive_data(data, command_id)
        return 200, soap.command_response(request, command_id)
    if request.action == "Send":
        command_id, data = request.sent_data()
        shell.receive_data(data, command_id)
        return 200, soap.empty_response(request, "SendResponse", "SendResponse")
    if request.action == "Receive":
        command_id = request.receive_command_id()
        wait = min(RECEIVE_WAIT_SECONDS, request.operation_timeout or RECEIVE_WAIT_SECONDS)
        chunks, done, drop = shell.take_output(command_id, wait)
        if drop:
            fake.forget_shell(shell.shell_id)  # the client's session is gone; its job is not
            raise _DropConnectionError
        if not chunks:
            return 500, soap.fault(
                request,
                soap.OPERATION_TIMED_OUT,
                "The WS-Management service cannot complete "
                "the operation within the time specified in OperationTimeout.",
            )
        return 200, soap.receive_response(request, command_id, chunks, done)
    if request.action == "Signal":
        command_id = request.signal_command_id()
        if command_id:
            shell.close_pipeline(command_id)
        return 200, soap.empty_response(request, "SignalResponse", "SignalResponse")
    if request.action == "Delete":
        fake.forget_shell(shell.shell_id)
        return 200, soap.empty_response(request, "DeleteResponse")
    return 500, soap.fault(
        request, soap.ACTION_NOT_SUPPORTED, f"unsupported action {request.action}"
    )
