"""SNMPv1 / SNMPv2c messages: community-string wrapping of PDUs over UDP."""

from __future__ import annotations

from typing import Any

from pyasn1.codec.ber import decoder, encoder

from .pdus import Response, protocol_module, read_response, request_id
from .target import SnmpTarget
from .transport import UdpChannel

_MESSAGE_VERSION = {"1": 0, "2c": 1}


class CommunitySession:
    """Exchanges PDUs with one agent using a community string (v1 or v2c)."""

    def __init__(self, target: SnmpTarget, channel: UdpChannel) -> None:
        self.version = target.version
        self.api = protocol_module(target.version)
        self.channel = channel
        self._community = target.community.encode("utf-8")
        self._message_version = _MESSAGE_VERSION[target.version]
        self._response_tags = self.api.GetResponsePDU.tagSet

    def _encode(self, pdu: Any) -> bytes:
        message = self.api.Message()
        self.api.apiMessage.set_defaults(message)
        self.api.apiMessage.set_community(message, self._community)
        self.api.apiMessage.set_pdu(message, pdu)
        return encoder.encode(message)

    def _decode(self, datagram: bytes) -> tuple[int, Any] | None:
        message, _ = decoder.decode(datagram, asn1Spec=self.api.Message())
        if int(message.getComponentByPosition(0)) != self._message_version:
            return None
        if message.getComponentByPosition(1).asOctets() != self._community:
            return None
        pdu = self.api.apiMessage.get_pdu(message)
        return request_id(pdu), pdu

    def exchange(self, pdus: list[Any]) -> list[Response]:
        """Send the PDUs together; their responses in the same order."""
        requests = {request_id(pdu): self._encode(pdu) for pdu in pdus}
        answers = self.channel.exchange(requests, self._decode)
        return [read_response(answers[request_id(pdu)], self._response_tags) for pdu in pdus]
