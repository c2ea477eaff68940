"""SnmpTarget: defaults of the contract, and secrets kept out of repr()."""

from __future__ import annotations

import dataclasses

import pytest

from check_dell_ups.snmp.target import SnmpTarget


def test_defaults_are_those_of_the_contract():
    target = SnmpTarget("ups1")
    assert (target.port, target.version, target.community, target.timeout) == (
        161, "2c", "public", 10.0,
    )
    assert target.security_level == "noAuthNoPriv"
    assert target.address == "ups1:161"


def test_repr_hides_community_and_passphrases():
    target = SnmpTarget("ups1", community="c0mmunity", version="3", user="monitor",
                        auth_passphrase="auth-secret", priv_passphrase="priv-secret")
    shown = repr(target)
    assert "monitor" in shown
    for secret in ("c0mmunity", "auth-secret", "priv-secret"):
        assert secret not in shown


def test_targets_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        SnmpTarget("ups1").host = "ups2"  # type: ignore[misc]
