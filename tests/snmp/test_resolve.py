"""Host to UDP address: literals, IPv4 first, and DNS bounded by the deadline."""

from __future__ import annotations

import socket
import time

import pytest

from check_dell_ups.snmp import resolve as resolve_module
from check_dell_ups.snmp.errors import SnmpError
from check_dell_ups.snmp.resolve import resolve


def test_literals_are_used_as_they_are_in_canonical_form():
    assert resolve("127.0.0.1", 161, time.monotonic() + 1) == (socket.AF_INET, ("127.0.0.1", 161))
    assert resolve("0:0::1", 1161, time.monotonic() + 1) == (
        socket.AF_INET6, ("::1", 1161, 0, 0)
    )


def test_names_prefer_ipv4(monkeypatch):
    def both(host, port, **kwargs):
        return [
            (socket.AF_INET6, socket.SOCK_DGRAM, 17, "", ("::1", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_DGRAM, 17, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(resolve_module.socket, "getaddrinfo", both)
    assert resolve("ups1.example", 161, time.monotonic() + 1) == (
        socket.AF_INET, ("127.0.0.1", 161)
    )


def test_an_unknown_name_is_an_snmp_error():
    with pytest.raises(SnmpError, match=r"^cannot resolve no-such-host\.invalid: "):
        resolve("no-such-host.invalid", 161, time.monotonic() + 5)


def test_a_slow_dns_cannot_pass_the_deadline(monkeypatch):
    def slow(*args, **kwargs):
        time.sleep(3)
        raise OSError("too late")

    monkeypatch.setattr(resolve_module.socket, "getaddrinfo", slow)
    started = time.monotonic()
    with pytest.raises(SnmpError, match="no answer from DNS in time"):
        resolve("ups1.example", 161, started + 0.3)
    assert time.monotonic() - started < 1.5
