"""Decoded SNMP values to the plain values of the fetch contract."""

from __future__ import annotations

import pytest
from pysnmp.proto import rfc1155, rfc1902, rfc1905

from check_dell_ups.snmp.values import to_python


@pytest.mark.parametrize(("value", "expected"), [
    (rfc1902.Integer32(-5), -5),
    (rfc1902.Counter32(4294967295), 4294967295),
    (rfc1902.Gauge32(7), 7),
    (rfc1902.Unsigned32(8), 8),
    (rfc1902.TimeTicks(123456), 123456),
    (rfc1902.Counter64(2**64 - 1), 2**64 - 1),
    (rfc1155.Counter(3), 3),
    (rfc1902.OctetString(b"DELL"), "DELL"),
    (rfc1902.OctetString(b"caf\xc3\xa9 \xff"), "caf\u00e9 \ufffd"),
    (rfc1902.OctetString(b"padded\x00\x00"), "padded"),
    (rfc1902.ObjectIdentifier("1.3.6.1.4.1.674.10902.2"), "1.3.6.1.4.1.674.10902.2"),
    (rfc1902.IpAddress("192.0.2.10"), "192.0.2.10"),
    (rfc1155.IpAddress("192.0.2.11"), "192.0.2.11"),
])
def test_values(value, expected):
    converted = to_python(value)
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize("value", [
    rfc1905.noSuchObject, rfc1905.noSuchInstance, rfc1905.endOfMibView,
    rfc1902.Null(""), rfc1902.Opaque(b"\x9f\x78"),
])
def test_absent_values(value):
    assert to_python(value) is None
