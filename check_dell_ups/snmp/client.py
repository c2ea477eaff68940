"""fetch(): read scalars and table columns from one SNMP agent.

The SNMPv1/v2c path is kept light on purpose (it runs every 30 s against
hundreds of UPSes): pysnmp's message-level API and pyasn1 over a plain UDP
socket, no SNMP engine. The SNMPv3 machinery (USM, hashing, ciphers) is
imported only when a v3 target is read.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import SnmpError
from .target import AUTH_PROTOCOLS, PRIV_PROTOCOLS, SECURITY_LEVELS, VERSIONS, SnmpTarget
from .values import SnmpValue

__all__ = ["SnmpValue", "fetch"]


def fetch(
    target: SnmpTarget,
    scalars: Sequence[str],
    columns: Sequence[str] = (),
    max_rows: int = 32,
) -> dict[str, SnmpValue]:
    """OID -> value for every scalar the agent has and the rows under each column.

    OIDs are dotted strings without a leading dot. Absent values are missing keys.
    The whole exchange, retransmissions included, ends within target.timeout.
    Raises only SnmpError (SnmpTimeout, SnmpAuthError, SnmpProtocolError).
    """
    _check_target(target)
    scalars = [_normal_oid(oid) for oid in scalars]
    columns = [_normal_oid(oid) for oid in columns]
    # Imported here so that a bad target costs nothing and v1/v2c never loads v3.
    from .retrieval import retrieve
    from .transport import UdpChannel

    try:
        with UdpChannel(target.host, target.port, target.timeout) as channel:
            if target.version == "3":
                from .usm import UsmSession

                session = UsmSession(target, channel)
                session.discover()
            else:
                from .community import CommunitySession

                session = CommunitySession(target, channel)  # type: ignore[assignment]
            return retrieve(session, scalars, columns, max_rows)
    except SnmpError:
        raise
    except OSError as error:  # e.g. no socket left: still one line, still an SnmpError
        raise SnmpError(f"SNMP socket error: {error.strerror or error}") from None
    except Exception as error:  # the last guard: fetch raises only SnmpError
        raise SnmpError(f"SNMP failure ({type(error).__name__})") from None


def _normal_oid(oid: str) -> str:
    text = oid.strip().lstrip(".")
    arcs = text.split(".")
    if len(arcs) < 2 or not all(arc.isdigit() for arc in arcs):
        raise SnmpError(f"not a numeric OID: {oid!r}")
    return ".".join(str(int(arc)) for arc in arcs)


def _check_target(target: SnmpTarget) -> None:
    if target.version not in VERSIONS:
        raise SnmpError(f"unknown SNMP version {target.version!r} (use 1, 2c or 3)")
    if not 0 < target.port < 65536:
        raise SnmpError(f"not a UDP port: {target.port}")
    if not target.timeout > 0:
        raise SnmpError("the SNMP timeout must be positive")
    if target.version != "3":
        return
    if not target.user:
        raise SnmpError("SNMPv3 needs a user (security name)")
    if target.security_level not in SECURITY_LEVELS:
        raise SnmpError(f"unknown SNMPv3 security level {target.security_level!r}")
    if target.security_level != "noAuthNoPriv":
        if (target.auth_protocol or "").upper() not in AUTH_PROTOCOLS:
            raise SnmpError(f"SNMPv3 {target.security_level} needs an auth protocol "
                            f"({', '.join(AUTH_PROTOCOLS)})")
        if not target.auth_passphrase:
            raise SnmpError(f"SNMPv3 {target.security_level} needs an auth passphrase")
    if target.security_level == "authPriv":
        if (target.priv_protocol or "").upper() not in PRIV_PROTOCOLS:
            raise SnmpError(f"SNMPv3 authPriv needs a privacy protocol "
                            f"({', '.join(PRIV_PROTOCOLS)})")
        if not target.priv_passphrase:
            raise SnmpError("SNMPv3 authPriv needs a privacy passphrase")
