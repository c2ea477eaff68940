"""SNMPv3 User-based Security Model cryptography (RFC 3414, 3826, 7860).

Key localization, message authentication (HMAC) and privacy (DES-CBC,
AES-CFB-128/192/256). hashlib and hmac come with Python; the ciphers need the
'cryptography' package, imported only when privacy is used.

AES-192/AES-256 are not IETF standards; their key is extended as pysnmp's
"AES192"/"AES256" and Cisco do it (Reeder draft: repeat password-to-key on the
localized key), the form that pysnmp agents and snmpsim use.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from .errors import SnmpAuthError

# auth protocol -> (hashlib name, length of the truncated HMAC in the message)
AUTH_ALGORITHMS = {
    "MD5": ("md5", 12),
    "SHA": ("sha1", 12),
    "SHA224": ("sha224", 16),
    "SHA256": ("sha256", 24),
    "SHA384": ("sha384", 32),
    "SHA512": ("sha512", 48),
}
# priv protocol -> key length in bytes
PRIV_KEY_SIZES = {"DES": 8, "AES": 16, "AES192": 24, "AES256": 32}

_PASSWORD_EXPANSION = 1048576  # RFC 3414 A.2.1: hash one megabyte of the repeated passphrase


def password_to_key(passphrase: bytes, hash_name: str) -> bytes:
    """Ku: the digest of the passphrase repeated to one megabyte."""
    repeated = passphrase * (_PASSWORD_EXPANSION // len(passphrase) + 1)
    return hashlib.new(hash_name, repeated[:_PASSWORD_EXPANSION]).digest()


def localize_key(key: bytes, engine_id: bytes, hash_name: str) -> bytes:
    """Kul: a key bound to one authoritative engine."""
    return hashlib.new(hash_name, key + engine_id + key).digest()


@dataclass(frozen=True)
class Authenticator:
    """HMAC of whole messages with a localized key."""

    hash_name: str
    mac_length: int
    key: bytes

    @classmethod
    def create(cls, protocol: str, passphrase: str, engine_id: bytes) -> Authenticator:
        hash_name, mac_length = AUTH_ALGORITHMS[protocol]
        key = localize_key(password_to_key(passphrase.encode(), hash_name), engine_id, hash_name)
        return cls(hash_name, mac_length, key)

    def sign(self, message: bytes) -> bytes:
        """The MAC of a message whose authentication parameters are zeroed."""
        return hmac.new(self.key, message, self.hash_name).digest()[: self.mac_length]

    def placeholder(self) -> bytes:
        return bytes(self.mac_length)


class Cipher:
    """Encrypts and decrypts scoped PDUs for one user and engine."""

    def __init__(self, protocol: str, passphrase: str, auth_hash: str, engine_id: bytes) -> None:
        try:
            from cryptography.hazmat.primitives.ciphers import Cipher as CipherFactory
            from cryptography.hazmat.primitives.ciphers import algorithms, modes
        except ImportError:
            raise SnmpAuthError(
                "SNMPv3 privacy needs the Python 'cryptography' package, which is missing "
                "(ciphering services not available)"
            ) from None
        try:  # cryptography >= 47 keeps CFB (and DES) under "decrepit"
            from cryptography.hazmat.decrepit.ciphers.modes import CFB
        except ImportError:
            CFB = modes.CFB  # noqa: N806
        self._factory = CipherFactory
        self._cbc = modes.CBC
        self._cfb = CFB
        self.protocol = protocol
        key = localize_key(password_to_key(passphrase.encode(), auth_hash), engine_id, auth_hash)
        size = PRIV_KEY_SIZES[protocol]
        while len(key) < size:  # AES-192/256 with SHA-1 or MD5: extend (Reeder)
            key += localize_key(password_to_key(key, auth_hash), engine_id, auth_hash)
        if protocol == "DES":
            try:  # cryptography >= 43 keeps DES under "decrepit"
                from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
            except ImportError:
                TripleDES = algorithms.TripleDES  # noqa: N806

            # DES is TripleDES with three equal keys; the next 8 bytes are the pre-IV.
            self._algorithm = TripleDES(key[:8] * 3)
            self._pre_iv = key[8:16]
        else:
            self._algorithm = algorithms.AES(key[:size])
        self._salt = int.from_bytes(os.urandom(8), "big")

    def _next_salt(self) -> int:
        self._salt = (self._salt + 1) & 0xFFFFFFFFFFFFFFFF
        return self._salt

    def encrypt(self, plaintext: bytes, boots: int, engine_time: int) -> tuple[bytes, bytes]:
        """(ciphertext, msgPrivacyParameters)."""
        if self.protocol == "DES":
            salt = boots.to_bytes(4, "big") + (self._next_salt() & 0xFFFFFFFF).to_bytes(4, "big")
            iv = bytes(a ^ b for a, b in zip(self._pre_iv, salt, strict=True))
            padded = plaintext + bytes(-len(plaintext) % 8)
            mode = self._cbc(iv)
            data = padded
        else:
            salt = self._next_salt().to_bytes(8, "big")
            iv = boots.to_bytes(4, "big") + engine_time.to_bytes(4, "big") + salt
            mode = self._cfb(iv)
            data = plaintext
        encryptor = self._factory(self._algorithm, mode).encryptor()
        return encryptor.update(data) + encryptor.finalize(), salt

    def decrypt(self, ciphertext: bytes, salt: bytes, boots: int, engine_time: int) -> bytes:
        """Plaintext (for DES still padded); ValueError when the input cannot be right."""
        if len(salt) != 8:
            raise ValueError("privacy parameters are not 8 bytes")
        if self.protocol == "DES":
            if len(ciphertext) % 8:
                raise ValueError("DES ciphertext is not a multiple of 8 bytes")
            mode = self._cbc(bytes(a ^ b for a, b in zip(self._pre_iv, salt, strict=True)))
        else:
            iv = (boots & 0xFFFFFFFF).to_bytes(4, "big") + (engine_time & 0xFFFFFFFF).to_bytes(
                4, "big"
            ) + salt
            mode = self._cfb(iv)
        decryptor = self._factory(self._algorithm, mode).decryptor()
        return decryptor.update(ciphertext) + decryptor.finalize()
