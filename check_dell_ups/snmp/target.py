"""Where and how to reach one SNMP agent."""

from __future__ import annotations

from dataclasses import dataclass, field

VERSIONS = ("1", "2c", "3")
SECURITY_LEVELS = ("noAuthNoPriv", "authNoPriv", "authPriv")
AUTH_PROTOCOLS = ("MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")
PRIV_PROTOCOLS = ("DES", "AES", "AES192", "AES256")


@dataclass(frozen=True)
class SnmpTarget:
    """One agent and the credentials to read it.

    Secrets (community, passphrases) are left out of repr() so that a target can
    be logged or shown in a traceback without leaking them.
    """

    host: str
    port: int = 161
    version: str = "2c"
    community: str = field(default="public", repr=False)
    user: str | None = None
    security_level: str = "noAuthNoPriv"
    auth_protocol: str | None = None
    auth_passphrase: str | None = field(default=None, repr=False)
    priv_protocol: str | None = None
    priv_passphrase: str | None = field(default=None, repr=False)
    timeout: float = 10.0  # seconds for the whole exchange, retries included

    @property
    def address(self) -> str:
        """HOST:PORT as used in messages."""
        return f"{self.host}:{self.port}"
