"""HTTP control interface of the simulator, on 127.0.0.1 only.

GET /state; POST /mains/off, /mains/on, /card/reboot; POST /set {"load", "charge",
"temperature"}; POST /alarm {"name", "active"}; POST /test {"kind", "seconds", "fails"};
POST /stale-counter {"seconds", "for_seconds"}.
Every POST answers with the new state.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

MAX_BODY_BYTES = 64 * 1024


class Controllable(Protocol):
    def cut_mains(self) -> None: ...
    def restore_mains(self) -> None: ...
    def reboot_card(self) -> None: ...
    def set_load(self, percent: float) -> None: ...
    def set_charge(self, percent: float) -> None: ...
    def set_temperature(self, celsius: float) -> None: ...
    def set_alarm(self, name: str, active: bool) -> None: ...
    def start_test(self, kind: str, seconds: float, fails: bool = False) -> None: ...
    def stale_counter(self, seconds: int, for_seconds: float = 5.0) -> None: ...
    def state(self) -> dict[str, Any]: ...


class BadRequestError(Exception):
    """The request cannot be carried out; the message goes back to the client."""


class ControlServer:
    """A small threaded HTTP server that drives a simulator."""

    def __init__(self, simulator: Controllable, host: str, port: int) -> None:
        self._simulator = simulator
        handler = type("BoundControlHandler", (_ControlHandler,), {"simulator": simulator})
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as error:
            raise OSError(
                f"cannot listen on TCP {host}:{port}: {error.strerror or error}"
            ) from None
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="ups-sim-control",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(10)
            self._thread = None
        self._server.server_close()


class _ControlHandler(BaseHTTPRequestHandler):
    simulator: Controllable
    server_version = "dell_ups_simulator"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the simulator prints one line, not one per request."""

    def do_GET(self) -> None:
        if self.path == "/state":
            self._reply(HTTPStatus.OK, self.simulator.state())
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: GET {self.path}"})

    def do_POST(self) -> None:
        actions = {
            "/mains/off": lambda _body: self.simulator.cut_mains(),
            "/mains/on": lambda _body: self.simulator.restore_mains(),
            "/card/reboot": lambda _body: self.simulator.reboot_card(),
            "/set": self._set,
            "/alarm": self._alarm,
            "/test": self._test,
            "/stale-counter": self._stale_counter,
        }
        action = actions.get(self.path)
        if action is None:
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: POST {self.path}"})
            return
        try:
            action(self._body())
        except (BadRequestError, ValueError) as error:
            self._reply(HTTPStatus.BAD_REQUEST, {"error": str(error)})
            return
        self._reply(HTTPStatus.OK, self.simulator.state())

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise BadRequestError("request body too large")
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise BadRequestError(f"body is not JSON: {error}") from None
        if not isinstance(body, dict):
            raise BadRequestError("body must be a JSON object")
        return body

    def _set(self, body: dict[str, Any]) -> None:
        setters = {
            "load": self.simulator.set_load,
            "charge": self.simulator.set_charge,
            "temperature": self.simulator.set_temperature,
        }
        unknown = sorted(set(body) - set(setters))
        if unknown or not body:
            raise BadRequestError(f"/set takes some of {sorted(setters)}; got {sorted(body)}")
        for name, value in body.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BadRequestError(f"{name} must be a number")
            setters[name](value)

    def _alarm(self, body: dict[str, Any]) -> None:
        name, active = body.get("name"), body.get("active", True)
        if not isinstance(name, str) or not isinstance(active, bool):
            raise BadRequestError('/alarm takes {"name": str, "active": bool}')
        self.simulator.set_alarm(name, active)

    def _test(self, body: dict[str, Any]) -> None:
        kind, seconds, fails = body.get("kind"), body.get("seconds"), body.get("fails", False)
        if (not isinstance(kind, str) or isinstance(seconds, bool)
                or not isinstance(seconds, (int, float)) or not isinstance(fails, bool)):
            raise BadRequestError('/test takes {"kind": str, "seconds": number, "fails": bool}')
        self.simulator.start_test(kind, seconds, fails)

    def _stale_counter(self, body: dict[str, Any]) -> None:
        seconds, lasting = body.get("seconds"), body.get("for_seconds", 5.0)
        if (isinstance(seconds, bool) or not isinstance(seconds, int)
                or isinstance(lasting, bool) or not isinstance(lasting, (int, float))):
            raise BadRequestError('/stale-counter takes {"seconds": int, "for_seconds": number}')
        self.simulator.stale_counter(seconds, lasting)

    def _reply(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, sort_keys=True).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
