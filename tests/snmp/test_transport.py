"""UdpChannel: matching, ignoring, retransmitting, and the hard deadline."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from check_dell_ups.snmp.errors import SnmpError, SnmpProtocolError, SnmpTimeout
from check_dell_ups.snmp.transport import RejectedDatagramError, UdpChannel


class EchoServer:
    """Answers each datagram with the given replies (callable of the datagram)."""

    def __init__(self, replies):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.replies = replies
        self.received = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopped.is_set():
            try:
                data, source = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            self.received += 1
            for reply in self.replies(data):
                self.sock.sendto(reply, source)

    def close(self):
        self.stopped.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def server():
    servers = []

    def make(replies):
        servers.append(EchoServer(replies))
        return servers[-1]

    yield make
    for each in servers:
        each.close()


def decode_key(datagram: bytes):
    if datagram.startswith(b"boom"):
        raise ValueError("hostile")
    if datagram.startswith(b"nope"):
        raise RejectedDatagramError("not for us")
    return datagram[:1], datagram


def test_answers_are_matched_by_key_whatever_their_order(server):
    echo = server(lambda data: [b"junk", b"boom", data[::-1]])
    with UdpChannel("127.0.0.1", echo.port, 2.0) as channel:
        answers = channel.exchange({b"a": b"xa", b"b": b"yb"}, decode_key)
    assert answers == {b"a": b"ax", b"b": b"by"}
    assert channel.ignored >= 2  # "junk" matched no request, "boom" failed to decode


def test_late_duplicates_are_no_junk(server):
    echo = server(lambda data: [data[::-1]] * 2 if data[:1] in b"xy" else [])  # twice
    with UdpChannel("127.0.0.1", echo.port, 2.0) as channel:
        assert channel.exchange({b"a": b"xa"}, decode_key) == {b"a": b"ax"}
        assert channel.exchange({b"b": b"yb"}, decode_key) == {b"b": b"by"}
        time.sleep(0.2)
        with pytest.raises(SnmpTimeout):  # silence now: only duplicates arrive
            channel.exchange({b"c": b"zc"}, decode_key)
    assert channel.ignored == 0


def test_only_junk_is_a_protocol_error_at_the_deadline(server):
    echo = server(lambda data: [b"nope"])
    started = time.monotonic()
    with UdpChannel("127.0.0.1", echo.port, 0.6) as channel, pytest.raises(
        SnmpProtocolError, match="not for us"
    ):
        channel.exchange({b"a": b"a"}, decode_key)
    assert 0.6 <= time.monotonic() - started < 1.4


def test_silence_is_a_timeout_with_retransmissions(server):
    echo = server(lambda data: [])
    with UdpChannel("127.0.0.1", echo.port, 1.2) as channel, pytest.raises(SnmpTimeout):
        channel.exchange({b"a": b"a"}, decode_key)
    assert channel.datagrams_sent >= 2
    assert echo.received == channel.datagrams_sent


def test_a_flood_cannot_hold_the_deadline(server):
    echo = server(lambda data: [b"junk"] * 2000)
    started = time.monotonic()
    with UdpChannel("127.0.0.1", echo.port, 0.5) as channel, pytest.raises(SnmpError):
        channel.exchange({b"a": b"a"}, decode_key)
    assert time.monotonic() - started < 1.5


def test_an_unresolvable_host_is_an_snmp_error():
    with pytest.raises(SnmpError, match="cannot resolve"):
        UdpChannel("no-such-host.invalid", 161, 1.0)
