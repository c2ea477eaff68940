"""USM cryptography: published test vectors, agreement with pysnmp's independent
implementation, and cipher round trips."""

from __future__ import annotations

import hashlib

import pytest
from pysnmp.proto.secmod.rfc3414 import localkey

from check_dell_ups.snmp.errors import SnmpAuthError
from check_dell_ups.snmp.usm_crypto import (
    AUTH_ALGORITHMS,
    Authenticator,
    Cipher,
    localize_key,
    password_to_key,
)

RFC3414_ENGINE = bytes.fromhex("000000000000000000000002")


def test_rfc3414_a3_md5_vectors():
    ku = password_to_key(b"maplesyrup", "md5")
    assert ku.hex() == "9faf3283884e92834ebc9847d8edd963"
    assert localize_key(ku, RFC3414_ENGINE, "md5").hex() == "526f5eed9fcce26f8964c2930787d82b"


def test_rfc3414_a3_sha_vectors():
    ku = password_to_key(b"maplesyrup", "sha1")
    assert ku.hex() == "9fb5cc0381497b3793528939ff788d5d79145211"
    assert localize_key(ku, RFC3414_ENGINE, "sha1").hex() == (
        "6695febc9288e36282235fc7151f128497b38f3f"
    )


@pytest.mark.parametrize("hash_name", ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize("passphrase", [b"maplesyrup", b"x", b"a much longer passphrase " * 5])
def test_password_to_key_agrees_with_pysnmp(hash_name, passphrase):
    constructor = getattr(hashlib, hash_name)
    assert password_to_key(passphrase, hash_name) == localkey.hash_passphrase(
        passphrase, constructor
    ).asOctets()


@pytest.mark.parametrize(("protocol", "mac_length"), [
    ("MD5", 12), ("SHA", 12), ("SHA224", 16), ("SHA256", 24), ("SHA384", 32), ("SHA512", 48),
])
def test_macs_are_truncated_per_rfc7860(protocol, mac_length):
    authenticator = Authenticator.create(protocol, "maplesyrup", RFC3414_ENGINE)
    assert len(authenticator.sign(b"message")) == mac_length
    assert authenticator.placeholder() == bytes(mac_length)
    assert AUTH_ALGORITHMS[protocol][1] == mac_length


@pytest.mark.parametrize("protocol", ["DES", "AES", "AES192", "AES256"])
@pytest.mark.parametrize("auth_hash", ["md5", "sha1", "sha512"])
def test_cipher_round_trip(protocol, auth_hash):
    cipher = Cipher(protocol, "privacy-pass", auth_hash, RFC3414_ENGINE)
    plaintext = b"0\x0b\x04\x00\x04\x00scoped-pdu"
    ciphertext, salt = cipher.encrypt(plaintext, 7, 12345)
    assert len(salt) == 8
    assert ciphertext[: len(plaintext)] != plaintext
    assert cipher.decrypt(ciphertext, salt, 7, 12345)[: len(plaintext)] == plaintext
    again, second_salt = cipher.encrypt(plaintext, 7, 12345)
    assert second_salt != salt and again != ciphertext  # a fresh salt per message


def test_des_rejects_ciphertext_of_a_wrong_length():
    cipher = Cipher("DES", "privacy-pass", "sha1", RFC3414_ENGINE)
    with pytest.raises(ValueError, match="multiple of 8"):
        cipher.decrypt(b"1234567", bytes(8), 0, 0)


def test_missing_cryptography_is_named(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_cryptography(name, *args, **kwargs):
        if name.startswith("cryptography"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cryptography)
    with pytest.raises(SnmpAuthError, match="needs the Python 'cryptography' package"):
        Cipher("AES", "privacy-pass", "sha1", RFC3414_ENGINE)
