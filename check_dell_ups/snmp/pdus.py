"""Build request PDUs and read response PDUs with pysnmp's message-level API.

No SNMP engine here: pysnmp.proto.api gives the ASN.1 types (v1 for SNMPv1, v2c
for SNMPv2c and SNMPv3 scoped PDUs) and pyasn1 does the BER. A response is only
accepted as the answer to a request when the request-id matches.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pysnmp.proto.api import v1, v2c

from .errors import SnmpProtocolError

# pysnmp's name for each error-status value, for readable messages.
ERROR_STATUS_NAMES = (
    "noError", "tooBig", "noSuchName", "badValue", "readOnly", "genErr", "noAccess",
    "wrongType", "wrongLength", "wrongEncoding", "wrongValue", "noCreation",
    "inconsistentValue", "resourceUnavailable", "commitFailed", "undoFailed",
    "authorizationError", "notWritable", "inconsistentName",
)  # fmt: skip
TOO_BIG = 1
NO_SUCH_NAME = 2
AUTHORIZATION_ERROR = 16


def protocol_module(version: str) -> ModuleType:
    """pysnmp's protocol API module for an SNMP version ("1", "2c" or "3")."""
    return v1 if version == "1" else v2c


def new_request_id() -> int:
    """A random positive 31-bit id: hard to guess for a spoofer."""
    return int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF or 1


def _with_varbinds(api: ModuleType, pdu: Any, oids: list[str]) -> Any:
    api.apiPDU.set_defaults(pdu)
    api.apiPDU.set_request_id(pdu, new_request_id())
    api.apiPDU.set_varbinds(pdu, [(api.ObjectIdentifier(oid), api.null) for oid in oids])
    return pdu


def build_get(api: ModuleType, oids: list[str]) -> Any:
    return _with_varbinds(api, api.GetRequestPDU(), oids)


def build_get_next(api: ModuleType, oids: list[str]) -> Any:
    return _with_varbinds(api, api.GetNextRequestPDU(), oids)


def build_get_bulk(oids: list[str], max_repetitions: int) -> Any:
    pdu = v2c.GetBulkRequestPDU()
    v2c.apiBulkPDU.set_defaults(pdu)
    v2c.apiBulkPDU.set_request_id(pdu, new_request_id())
    v2c.apiBulkPDU.set_non_repeaters(pdu, 0)
    v2c.apiBulkPDU.set_max_repetitions(pdu, max_repetitions)
    v2c.apiBulkPDU.set_varbinds(pdu, [(v2c.ObjectIdentifier(oid), v2c.null) for oid in oids])
    return pdu


def request_id(pdu: Any) -> int:
    return int(v2c.apiPDU.get_request_id(pdu))


@dataclass
class Response:
    """What the agent said to one request, in plain terms."""

    error_status: int
    error_index: int
    varbinds: list[tuple[tuple[int, ...], Any]]  # (OID arcs, decoded value)

    def error_name(self) -> str:
        if 0 <= self.error_status < len(ERROR_STATUS_NAMES):
            return ERROR_STATUS_NAMES[self.error_status]
        return f"error-status {self.error_status}"


def read_response(pdu: Any, response_tags: Any) -> Response:
    """Plain view of a response PDU; SnmpProtocolError when it is not one."""
    if pdu.tagSet != response_tags:
        raise SnmpProtocolError("the agent answered with a PDU that is not a response")
    varbinds = [
        (oid.asTuple(), value) for oid, value in v2c.apiPDU.get_varbinds(pdu)
    ]
    return Response(
        error_status=int(pdu.getComponentByPosition(1)),
        error_index=int(pdu.getComponentByPosition(2)),
        varbinds=varbinds,
    )


def oid_tuple(oid: str) -> tuple[int, ...]:
    return tuple(int(arc) for arc in oid.split("."))


def oid_text(arcs: tuple[int, ...]) -> str:
    return ".".join(str(arc) for arc in arcs)
