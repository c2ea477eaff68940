"""Turn decoded SNMP values into plain Python values (the fetch contract).

int for every integer type, str for OCTET STRING (UTF-8, errors replaced),
dotted str for OBJECT IDENTIFIER and IpAddress. Exception values
(noSuchObject, noSuchInstance, endOfMibView), NULL and Opaque are "absent":
None here, a missing key in the fetch result.
"""

from __future__ import annotations

from pyasn1.type import univ
from pysnmp.proto import rfc1902

SnmpValue = int | str

_IP_ADDRESS_TAGS = rfc1902.IpAddress.tagSet
_OPAQUE_TAGS = rfc1902.Opaque.tagSet


def to_python(value: object) -> SnmpValue | None:
    """The contract value of one decoded varbind value, or None when absent."""
    if isinstance(value, univ.Null):  # pyasn1's Null is an OctetString: test it first
        return None
    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(str(arc) for arc in value.asTuple())
    if isinstance(value, univ.OctetString):
        tags = value.tagSet
        if tags == _IP_ADDRESS_TAGS:
            return ".".join(str(octet) for octet in value.asOctets())
        if tags == _OPAQUE_TAGS:
            return None
        # Trailing NULs are C-string padding some firmwares send, not text.
        return value.asOctets().decode("utf-8", errors="replace").rstrip("\x00")
    return None  # Null, noSuchObject, noSuchInstance, endOfMibView
