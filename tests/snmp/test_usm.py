"""SNMPv3 reports and answer checks against a scripted v3 agent.

snmpsim covers the ordinary failures (unknown user, wrong digest, decryption
error); this agent produces the rarer ones: unsupported security level, a clock
out of the time window, an unknown context, and forged answers.
"""

from __future__ import annotations

import select
import socket
import threading

import pytest
from pyasn1.codec.ber import decoder
from pysnmp.proto import rfc1905
from pysnmp.proto.api import v2c

from check_dell_ups.snmp.client import fetch
from check_dell_ups.snmp.errors import SnmpAuthError, SnmpProtocolError
from check_dell_ups.snmp.target import SnmpTarget
from check_dell_ups.snmp.usm import (
    FLAG_AUTH,
    REPORT_NOT_IN_TIME_WINDOW,
    REPORT_UNKNOWN_CONTEXT,
    REPORT_UNKNOWN_ENGINE_ID,
    REPORT_UNSUPPORTED_LEVEL,
    SnmpV3Message,
    UsmSecurityParameters,
    encode_message,
)
from check_dell_ups.snmp.usm_crypto import Authenticator

ENGINE_ID = bytes.fromhex("80001f8804") + b"fake-ups"
USER, PASSPHRASE = "monitor", "auth-pass-123"
NAME = "1.3.6.1.2.1.1.5.0"


class FakeV3Agent:
    """Answers discovery with its engine; then ``behaviour(request) -> reply`` where
    request is a dict (msg_id, pdu, boots, flags) and reply an (kind, ...) tuple."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.authenticator = Authenticator.create("SHA", PASSPHRASE, ENGINE_ID)
        self.boots = 5
        self.seen: list[dict] = []
        self.behaviour = lambda request: ("response", True)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def target(self, **options) -> SnmpTarget:
        options = {"user": USER, "security_level": "authNoPriv", "auth_protocol": "SHA",
                   "auth_passphrase": PASSPHRASE, "timeout": 2.0, **options}
        return SnmpTarget("127.0.0.1", self.port, version="3", **options)

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not select.select([self.sock], [], [], 0.05)[0]:
                continue
            data, source = self.sock.recvfrom(65535)
            message, _ = decoder.decode(data, asn1Spec=SnmpV3Message())
            params, _ = decoder.decode(message["msgSecurityParameters"].asOctets(),
                                       asn1Spec=UsmSecurityParameters())
            request = {
                "msg_id": int(message["msgGlobalData"]["msgID"]),
                "pdu": message["msgData"]["plaintext"]["data"].getComponent(),
                "boots": int(params["msgAuthoritativeEngineBoots"]),
                "user": params["msgUserName"].asOctets(),
            }
            self.seen.append(request)
            if not request["user"]:  # discovery
                reply = self._report(request, REPORT_UNKNOWN_ENGINE_ID, authenticated=False)
            else:
                reply = self._reply(request, *self.behaviour(request))
            if reply:
                self.sock.sendto(reply, source)

    def _reply(self, request, kind, authenticated=True, forge_mac=False):
        if kind == "silence":
            return None
        if kind == "response":
            pdu = v2c.apiPDU.get_response(request["pdu"])
            v2c.apiPDU.set_varbinds(pdu, [
                (oid, v2c.OctetString("ups-1")) for oid, _ in
                v2c.apiPDU.get_varbinds(request["pdu"])
            ])
            reply = self._encode(request, pdu, authenticated)
        else:
            reply = self._report(request, kind, authenticated)
        if forge_mac:  # flip the last byte of the MAC inside the message
            mac = self._mac_of(reply)
            at = reply.find(mac)
            reply = reply[: at + len(mac) - 1] + bytes([mac[-1] ^ 1]) + reply[at + len(mac):]
        return reply

    @staticmethod
    def _mac_of(datagram: bytes) -> bytes:
        message, _ = decoder.decode(datagram, asn1Spec=SnmpV3Message())
        params, _ = decoder.decode(message["msgSecurityParameters"].asOctets(),
                                   asn1Spec=UsmSecurityParameters())
        return params["msgAuthenticationParameters"].asOctets()

    def _report(self, request, oid, authenticated):
        pdu = rfc1905.ReportPDU()
        v2c.apiPDU.set_defaults(pdu)
        v2c.apiPDU.set_request_id(pdu, v2c.apiPDU.get_request_id(request["pdu"]))
        v2c.apiPDU.set_varbinds(pdu, [(v2c.ObjectIdentifier(oid), v2c.Counter32(1))])
        return self._encode(request, pdu, authenticated)

    def _encode(self, request, pdu, authenticated):
        return encode_message(
            request["msg_id"], pdu, flags=FLAG_AUTH if authenticated else 0,
            engine_id=ENGINE_ID, boots=self.boots, engine_time=100,
            user=request["user"], authenticator=self.authenticator if authenticated else None,
            cipher=None,
        )


@pytest.fixture
def agent():
    fake = FakeV3Agent()
    yield fake
    fake.stop()


def test_authenticated_get_works(agent):
    assert fetch(agent.target(), [NAME]) == {NAME: "ups-1"}
    assert [seen["boots"] for seen in agent.seen] == [0, 5]  # discovery, then the GET


def test_unsupported_security_level_is_named(agent):
    agent.behaviour = lambda request: (REPORT_UNSUPPORTED_LEVEL, False)
    with pytest.raises(SnmpAuthError, match="security level authNoPriv is not supported for "
                                            "SNMPv3 user 'monitor'"):
        fetch(agent.target(), [NAME])


def test_out_of_the_time_window_resynchronises_once(agent):
    def rebooted_since_discovery(request):
        if request["boots"] == 5:
            agent.boots = 6
            return (REPORT_NOT_IN_TIME_WINDOW, True)
        return ("response", True)

    agent.behaviour = rebooted_since_discovery
    assert fetch(agent.target(), [NAME]) == {NAME: "ups-1"}
    assert [seen["boots"] for seen in agent.seen] == [0, 5, 6]


def test_a_clock_that_never_fits_is_an_auth_error(agent):
    agent.behaviour = lambda request: (REPORT_NOT_IN_TIME_WINDOW, True)
    with pytest.raises(SnmpAuthError, match="not in the agent's time window"):
        fetch(agent.target(), [NAME])


def test_an_unknown_context_is_a_protocol_error(agent):
    agent.behaviour = lambda request: (REPORT_UNKNOWN_CONTEXT, False)
    with pytest.raises(SnmpProtocolError, match="empty SNMPv3 context"):
        fetch(agent.target(), [NAME])


def test_an_unauthenticated_response_is_ignored(agent):
    agent.behaviour = lambda request: ("response", False)
    with pytest.raises(SnmpProtocolError, match="unauthenticated answer"):
        fetch(agent.target(timeout=0.8), [NAME])


def test_a_forged_mac_is_ignored(agent):
    agent.behaviour = lambda request: ("response", True, True)
    with pytest.raises(SnmpProtocolError, match="failed authentication"):
        fetch(agent.target(timeout=0.8), [NAME])


def test_no_auth_no_priv_needs_no_keys(agent):
    agent.behaviour = lambda request: ("response", False)
    target = agent.target(security_level="noAuthNoPriv", auth_protocol=None,
                          auth_passphrase=None)
    assert fetch(target, [NAME]) == {NAME: "ups-1"}


def test_silence_after_discovery_points_at_the_security_settings(agent):
    agent.behaviour = lambda request: ("silence",)
    with pytest.raises(SnmpAuthError, match=r"^no SNMPv3 answer from 127\.0\.0\.1:\d+ within "
                                            r"0\.8 s after a successful engine discovery: "
                                            r"most likely a user who may not use authNoPriv$"):
        fetch(agent.target(timeout=0.8), [NAME])


def test_resynchronising_two_requests_at_once(agent):
    """Both the GET and the GETBULK meet the old clock; the second report arrives
    after the resynchronisation and must not spoil the new exchange."""
    def rebooted_since_discovery(request):
        if request["boots"] == 5:
            agent.boots = 6
            return (REPORT_NOT_IN_TIME_WINDOW, True)
        return ("response", True)

    agent.behaviour = rebooted_since_discovery
    assert fetch(agent.target(), [NAME], ["1.3.6.1.2.1.2.2.1.2"]) == {NAME: "ups-1"}
    assert sorted(seen["boots"] for seen in agent.seen) == [0, 5, 5, 6, 6]
