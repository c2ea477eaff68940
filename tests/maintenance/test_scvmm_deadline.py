"""Issue 10: every SCVMM request ends by the budget as a whole, not per socket read."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from check_dell_ups.maintenance.driver import ScvmmEndpoint, ScvmmUnreachable
from check_dell_ups.maintenance.scvmm import open_driver


class TricklingPeer:
    """Answers every request with headers, then one body byte every 0.5 s (for at most
    `for_seconds`, so that a handler without a whole-request deadline still ends)."""

    def __init__(self, for_seconds: float = 20.0, trickle_headers: bool = False) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.for_seconds = for_seconds
        self.trickle_headers = trickle_headers
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection: socket.socket) -> None:
        ends = time.monotonic() + self.for_seconds
        with connection:
            try:
                connection.recv(65536)
                head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\n"
                        b"Content-Length: 100000\r\n\r\n")
                if not self.trickle_headers:
                    connection.sendall(head)
                    head = b""
                payload = head + b" " * 100000
                for byte in payload:
                    if self.stopped.is_set() or time.monotonic() > ends:
                        return
                    connection.sendall(bytes([byte]))
                    time.sleep(0.5)
            except OSError:
                return

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


@pytest.mark.parametrize("trickle_headers", [False, True])
def test_a_trickling_peer_cannot_hold_a_call_past_its_budget(trickle_headers: bool) -> None:
    """Old code: with budget 6 s the call ran past 45 s (the deadline only shortened each
    read, and each 0.5 s byte restarted it)."""
    peer = TricklingPeer(for_seconds=20.0, trickle_headers=trickle_headers)
    endpoint = ScvmmEndpoint(server="127.0.0.1", port=peer.port, use_tls=False, auth="basic",
                             username="svc", password="pw", operation_timeout=3.0)
    started = time.monotonic()
    try:
        with pytest.raises(ScvmmUnreachable, match="budget") as caught:
            open_driver(endpoint, deadline=started + 3.0)
    finally:
        peer.close()
    elapsed = time.monotonic() - started
    assert elapsed < 4.5, elapsed
    assert "pw" not in str(caught.value) and "\n" not in str(caught.value)
