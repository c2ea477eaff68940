"""What can go wrong when reading an SNMP agent: one exception family.

Every message is one line and free of secrets (no community, no passphrase), so
the check can print it as it is.
"""

from __future__ import annotations


class SnmpError(Exception):
    """Base of every error that check_dell_ups.snmp.client.fetch raises."""


class SnmpTimeout(SnmpError):  # noqa: N818 (name fixed by the interface)
    """No usable answer arrived within the target's timeout."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        super().__init__(f"no SNMP response from {host}:{port} within {timeout:g} s")


class SnmpAuthError(SnmpError):
    """SNMPv3 security failed; the message names the cause."""


class SnmpProtocolError(SnmpError):
    """The agent answered, but with something that is not a usable SNMP response."""
