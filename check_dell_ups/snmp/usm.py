"""SNMPv3 messages with the User-based Security Model, at message level.

Why not pysnmp's SNMP engine: building one costs about half a second of CPU per
check (MIB loading), more than the whole v3 budget. This module speaks the
RFC 3412/3414 wire format itself with pyasn1 types:
1. discovery: an empty, unauthenticated request; the agent's usmStatsUnknownEngineIDs
   report carries its engine ID, boots and time;
2. the real requests, authenticated (HMAC) and, for authPriv, encrypted;
3. a report instead of a response names why the agent refused: mapped to
   SnmpAuthError (unknown user, wrong digest, decryption error, unsupported
   security level); a notInTimeWindow report resynchronises the clock once.
The empty context is used, as real cards do. Passphrases live only in this
session's derived keys and are never logged or put into a message.
"""

from __future__ import annotations

import hmac
import os
import time
from typing import Any

from pyasn1.codec.ber import decoder, encoder
from pyasn1.type import namedtype, univ
from pysnmp.proto import rfc1905
from pysnmp.proto.api import v2c

from .errors import SnmpAuthError, SnmpError, SnmpProtocolError, SnmpTimeout
from .pdus import Response, build_get, oid_text, read_response, request_id
from .target import SnmpTarget
from .transport import RejectedDatagramError, UdpChannel
from .usm_crypto import AUTH_ALGORITHMS, Authenticator, Cipher

MESSAGE_VERSION = 3
USM_SECURITY_MODEL = 3
MAX_MESSAGE_SIZE = 65507
FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE = 0x01, 0x02, 0x04

# usmStats counters (RFC 3414) and SNMP-MPD/target counters an agent may report.
USM_STATS = "1.3.6.1.6.3.15.1.1."
REPORT_UNSUPPORTED_LEVEL = USM_STATS + "1.0"
REPORT_NOT_IN_TIME_WINDOW = USM_STATS + "2.0"
REPORT_UNKNOWN_USER = USM_STATS + "3.0"
REPORT_UNKNOWN_ENGINE_ID = USM_STATS + "4.0"
REPORT_WRONG_DIGEST = USM_STATS + "5.0"
REPORT_DECRYPTION_ERROR = USM_STATS + "6.0"
REPORT_UNKNOWN_CONTEXT = "1.3.6.1.6.3.12.1.5.0"
REPORT_UNAVAILABLE_CONTEXT = "1.3.6.1.6.3.12.1.4.0"


class HeaderData(univ.Sequence):
    componentType = namedtype.NamedTypes(  # noqa: N815 (pyasn1 API)
        namedtype.NamedType("msgID", univ.Integer()),
        namedtype.NamedType("msgMaxSize", univ.Integer()),
        namedtype.NamedType("msgFlags", univ.OctetString()),
        namedtype.NamedType("msgSecurityModel", univ.Integer()),
    )


class ScopedPDU(univ.Sequence):
    componentType = namedtype.NamedTypes(  # noqa: N815 (pyasn1 API)
        namedtype.NamedType("contextEngineId", univ.OctetString()),
        namedtype.NamedType("contextName", univ.OctetString()),
        namedtype.NamedType("data", rfc1905.PDUs()),
    )


class ScopedPduData(univ.Choice):
    componentType = namedtype.NamedTypes(  # noqa: N815 (pyasn1 API)
        namedtype.NamedType("plaintext", ScopedPDU()),
        namedtype.NamedType("encryptedPDU", univ.OctetString()),
    )


class SnmpV3Message(univ.Sequence):
    componentType = namedtype.NamedTypes(  # noqa: N815 (pyasn1 API)
        namedtype.NamedType("msgVersion", univ.Integer()),
        namedtype.NamedType("msgGlobalData", HeaderData()),
        namedtype.NamedType("msgSecurityParameters", univ.OctetString()),
        namedtype.NamedType("msgData", ScopedPduData()),
    )


class UsmSecurityParameters(univ.Sequence):
    componentType = namedtype.NamedTypes(  # noqa: N815 (pyasn1 API)
        namedtype.NamedType("msgAuthoritativeEngineId", univ.OctetString()),
        namedtype.NamedType("msgAuthoritativeEngineBoots", univ.Integer()),
        namedtype.NamedType("msgAuthoritativeEngineTime", univ.Integer()),
        namedtype.NamedType("msgUserName", univ.OctetString()),
        namedtype.NamedType("msgAuthenticationParameters", univ.OctetString()),
        namedtype.NamedType("msgPrivacyParameters", univ.OctetString()),
    )


class _TimeWindowError(SnmpError):
    """The agent's clock moved on (e.g. it rebooted since discovery)."""

    def __init__(self, boots: int, engine_time: int) -> None:
        super().__init__("SNMPv3 message not in the agent's time window")
        self.boots = boots
        self.engine_time = engine_time


def _security_parameters(
    *,
    engine_id: bytes, boots: int, engine_time: int, user: bytes, auth: bytes, priv: bytes
) -> bytes:
    params = UsmSecurityParameters()
    params["msgAuthoritativeEngineId"] = engine_id
    params["msgAuthoritativeEngineBoots"] = boots
    params["msgAuthoritativeEngineTime"] = engine_time
    params["msgUserName"] = user
    params["msgAuthenticationParameters"] = auth
    params["msgPrivacyParameters"] = priv
    return encoder.encode(params)


def _in_31_bits(value: int) -> bool:
    return 0 <= value <= 0x7FFFFFFF


def encode_message(
    msg_id: int,
    pdu: Any,
    *,
    flags: int,
    engine_id: bytes,
    boots: int,
    engine_time: int,
    user: bytes,
    authenticator: Authenticator | None,
    cipher: Cipher | None,
) -> bytes:
    """One SNMPv3 message: scoped PDU, encrypted and signed as the security asks."""
    scoped = ScopedPDU()
    scoped["contextEngineId"] = engine_id
    scoped["contextName"] = b""
    scoped["data"].setComponentByType(pdu.tagSet, pdu, innerFlag=True)
    message = SnmpV3Message()
    message["msgVersion"] = MESSAGE_VERSION
    header = message["msgGlobalData"]
    header["msgID"] = msg_id
    header["msgMaxSize"] = MAX_MESSAGE_SIZE
    header["msgFlags"] = bytes([flags])
    header["msgSecurityModel"] = USM_SECURITY_MODEL
    priv_params = b""
    if cipher:
        ciphertext, priv_params = cipher.encrypt(encoder.encode(scoped), boots, engine_time)
        message["msgData"]["encryptedPDU"] = ciphertext
    else:
        message["msgData"]["plaintext"] = scoped
    placeholder = authenticator.placeholder() if authenticator else b""
    security = {"engine_id": engine_id, "boots": boots, "engine_time": engine_time,
                "user": user, "priv": priv_params}
    unsigned_params = _security_parameters(**security, auth=placeholder)
    message["msgSecurityParameters"] = unsigned_params
    whole = encoder.encode(message)
    if not authenticator:
        return whole
    signed_params = _security_parameters(**security, auth=authenticator.sign(whole))
    # Same length, so the outer lengths stay valid; the parameters come first.
    return whole.replace(unsigned_params, signed_params, 1)


class UsmSession:
    """Exchanges PDUs with one agent over SNMPv3/USM."""

    version = "3"

    def __init__(self, target: SnmpTarget, channel: UdpChannel) -> None:
        self.target = target
        self.channel = channel
        self.user = (target.user or "").encode("utf-8")
        self.level = target.security_level
        self.engine_id = b""
        self.boots = 0
        self._engine_time = 0
        self._time_base = time.monotonic()
        self.authenticator: Authenticator | None = None
        self.cipher: Cipher | None = None
        self._pending: dict[int, int] = {}  # msgID -> request-id of the PDU it carries
        self._retired: set[int] = set()  # msgIDs of earlier exchanges
        self._response_tags = v2c.ResponsePDU.tagSet
        self._report_tags = rfc1905.ReportPDU.tagSet

    # --- discovery -------------------------------------------------------------

    def discover(self) -> None:
        """Learn the agent's engine ID, boots and time; derive the keys."""
        probe = build_get(v2c, [])
        msg_id = self._new_msg_id()
        self._pending = {msg_id: request_id(probe)}
        payload = encode_message(
            msg_id, probe, flags=FLAG_REPORTABLE, engine_id=b"", boots=0, engine_time=0,
            user=b"", authenticator=None, cipher=None,
        )
        answers = self.channel.exchange({msg_id: payload}, self._decode_discovery)
        engine_id, boots, engine_time = answers[msg_id]
        if not engine_id or not _in_31_bits(boots) or not _in_31_bits(engine_time):
            raise SnmpProtocolError("SNMPv3 engine discovery returned no usable engine ID")
        self.engine_id = engine_id
        self._set_clock(boots, engine_time)
        if self.level != "noAuthNoPriv":
            auth_protocol = (self.target.auth_protocol or "").upper()
            self.authenticator = Authenticator.create(
                auth_protocol, self.target.auth_passphrase or "", engine_id
            )
            if self.level == "authPriv":
                self.cipher = Cipher(
                    (self.target.priv_protocol or "").upper(),
                    self.target.priv_passphrase or "",
                    AUTH_ALGORITHMS[auth_protocol][0],
                    engine_id,
                )

    def _decode_discovery(self, datagram: bytes) -> tuple[int, tuple[bytes, int, int]] | None:
        message, params, _ = self._decode_outer(datagram)
        msg_id = int(message["msgGlobalData"]["msgID"])
        if msg_id not in self._pending:
            return None
        engine_id = params["msgAuthoritativeEngineId"].asOctets()
        return msg_id, (
            engine_id,
            int(params["msgAuthoritativeEngineBoots"]),
            int(params["msgAuthoritativeEngineTime"]),
        )

    def _set_clock(self, boots: int, engine_time: int) -> None:
        self.boots = boots
        self._engine_time = engine_time
        self._time_base = time.monotonic()

    def _engine_time_now(self) -> int:
        return min(0x7FFFFFFF, self._engine_time + int(time.monotonic() - self._time_base))

    # --- requests --------------------------------------------------------------

    def exchange(self, pdus: list[Any]) -> list[Response]:
        """Send the PDUs together; their responses in the same order."""
        try:
            return self._exchange_resynchronised(pdus)
        except SnmpTimeout:
            # The agent answered the discovery a moment ago, so it is alive and
            # speaks SNMPv3: silence now means it dropped our requests. Agents
            # such as net-snmp drop what they cannot decrypt without a report.
            if self.level == "authPriv":
                likely = ("a wrong privacy passphrase or privacy protocol (the agent drops "
                          "what it cannot decrypt), or a user without authPriv")
            else:
                likely = f"a user who may not use {self.level}"
            raise SnmpAuthError(
                f"no SNMPv3 answer from {self.target.address} within "
                f"{self.channel.timeout:g} s after a successful engine discovery: "
                f"most likely {likely}"
            ) from None

    def _exchange_resynchronised(self, pdus: list[Any]) -> list[Response]:
        try:
            return self._exchange_once(pdus)
        except _TimeWindowError as report:
            self._set_clock(report.boots, report.engine_time)
            try:
                return self._exchange_once(pdus)
            except _TimeWindowError:
                raise SnmpAuthError(
                    "SNMPv3 messages are not in the agent's time window "
                    "(notInTimeWindows, even after resynchronising)"
                ) from None

    def _exchange_once(self, pdus: list[Any]) -> list[Response]:
        flags = FLAG_REPORTABLE
        if self.authenticator:
            flags |= FLAG_AUTH
        if self.cipher:
            flags |= FLAG_PRIV
        by_msg_id = {self._new_msg_id(): pdu for pdu in pdus}
        self._retired.update(self._pending)
        self._pending = {msg_id: request_id(pdu) for msg_id, pdu in by_msg_id.items()}
        boots, engine_time = self.boots, self._engine_time_now()
        requests = {
            msg_id: encode_message(
                msg_id, pdu, flags=flags, engine_id=self.engine_id, boots=boots,
                engine_time=engine_time, user=self.user,
                authenticator=self.authenticator, cipher=self.cipher,
            )
            for msg_id, pdu in by_msg_id.items()
        }  # fmt: skip
        answers = self.channel.exchange(requests, self._decode_answer)
        return [read_response(answers[msg_id], self._response_tags) for msg_id in by_msg_id]

    @staticmethod
    def _new_msg_id() -> int:
        return int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF or 1

    # --- answers ---------------------------------------------------------------

    def _decode_outer(self, datagram: bytes) -> tuple[Any, Any, bytes]:
        message, _ = decoder.decode(datagram, asn1Spec=SnmpV3Message())
        if int(message["msgVersion"]) != MESSAGE_VERSION:
            raise RejectedDatagramError("not an SNMPv3 message")
        if int(message["msgGlobalData"]["msgSecurityModel"]) != USM_SECURITY_MODEL:
            raise RejectedDatagramError("not a USM message")
        raw_params = message["msgSecurityParameters"].asOctets()
        params, _ = decoder.decode(raw_params, asn1Spec=UsmSecurityParameters())
        return message, params, raw_params

    def _decode_answer(self, datagram: bytes) -> tuple[int, Any] | None:
        message, params, raw_params = self._decode_outer(datagram)
        msg_id = int(message["msgGlobalData"]["msgID"])
        if msg_id in self._retired:
            return msg_id, None  # a late answer from an earlier exchange: the channel drops it
        if msg_id not in self._pending:
            return None
        flags_octets = message["msgGlobalData"]["msgFlags"].asOctets()
        flags = flags_octets[0] if flags_octets else 0
        authenticated = bool(flags & FLAG_AUTH)
        if authenticated:
            self._verify(datagram, params, raw_params)
        data = message["msgData"]
        if data.getName() == "encryptedPDU":
            if not (authenticated and flags & FLAG_PRIV and self.cipher):
                raise RejectedDatagramError("encrypted answer that cannot be decrypted")
            scoped = self._decrypt(data["encryptedPDU"].asOctets(), params)
        else:
            scoped = data["plaintext"]
        pdu = scoped["data"].getComponent()
        if pdu.tagSet == self._report_tags:
            self._raise_for_report(pdu, params, authenticated)
        # Everything but a report must carry the security we asked for.
        if self.authenticator and not authenticated:
            raise RejectedDatagramError("unauthenticated answer")
        if self.cipher and data.getName() != "encryptedPDU":
            raise RejectedDatagramError("unencrypted answer")
        if request_id(pdu) != self._pending[msg_id]:
            raise RejectedDatagramError("request-id does not match msgID")
        return msg_id, pdu

    def _verify(self, datagram: bytes, params: Any, raw_params: bytes) -> None:
        if not self.authenticator:
            raise RejectedDatagramError("authenticated answer to an unauthenticated request")
        if params["msgAuthoritativeEngineId"].asOctets() != self.engine_id:
            raise RejectedDatagramError("answer from another SNMP engine")
        mac = params["msgAuthenticationParameters"].asOctets()
        if len(mac) != self.authenticator.mac_length:
            raise RejectedDatagramError("authentication parameters of the wrong length")
        params_at = datagram.find(raw_params)
        mac_at = datagram.find(mac, params_at)
        if params_at < 0 or not params_at <= mac_at < params_at + len(raw_params):
            raise RejectedDatagramError("authentication parameters not found")
        zeroed = datagram[:mac_at] + bytes(len(mac)) + datagram[mac_at + len(mac):]
        if not hmac.compare_digest(self.authenticator.sign(zeroed), mac):
            raise RejectedDatagramError("answer failed authentication")

    def _decrypt(self, ciphertext: bytes, params: Any) -> Any:
        assert self.cipher is not None
        try:
            plaintext = self.cipher.decrypt(
                ciphertext,
                params["msgPrivacyParameters"].asOctets(),
                int(params["msgAuthoritativeEngineBoots"]),
                int(params["msgAuthoritativeEngineTime"]),
            )
            # DES padding follows the scoped PDU: decode() leaves it as the remainder.
            scoped, _ = decoder.decode(plaintext, asn1Spec=ScopedPDU())
        except Exception:
            raise RejectedDatagramError("answer could not be decrypted") from None
        return scoped

    def _raise_for_report(self, pdu: Any, params: Any, authenticated: bool) -> None:
        varbinds = v2c.apiPDU.get_varbinds(pdu)
        reported = oid_text(varbinds[0][0].asTuple()) if varbinds else ""
        user = self.target.user
        if reported == REPORT_NOT_IN_TIME_WINDOW and authenticated:
            raise _TimeWindowError(
                int(params["msgAuthoritativeEngineBoots"]),
                int(params["msgAuthoritativeEngineTime"]),
            )
        causes = {
            REPORT_UNKNOWN_USER: f"unknown SNMPv3 user name '{user}' (usmStatsUnknownUserNames)",
            REPORT_WRONG_DIGEST: "wrong digest: the SNMPv3 auth passphrase or auth protocol "
            "is wrong (usmStatsWrongDigests)",
            REPORT_DECRYPTION_ERROR: "decryption error: the SNMPv3 privacy passphrase or "
            "privacy protocol is wrong (usmStatsDecryptionErrors)",
            REPORT_UNSUPPORTED_LEVEL: f"security level {self.level} is not supported for "
            f"SNMPv3 user '{user}' (usmStatsUnsupportedSecLevels)",
            REPORT_NOT_IN_TIME_WINDOW: "SNMPv3 messages are not in the agent's time window "
            "(usmStatsNotInTimeWindows)",
            REPORT_UNKNOWN_ENGINE_ID: "the agent does not know the engine ID it announced "
            "(usmStatsUnknownEngineIDs)",
        }
        if reported in causes:
            raise SnmpAuthError(causes[reported])
        if reported in (REPORT_UNKNOWN_CONTEXT, REPORT_UNAVAILABLE_CONTEXT):
            raise SnmpProtocolError("the agent does not serve the empty SNMPv3 context")
        raise SnmpProtocolError(f"the agent refused the request with report {reported or '?'}")
