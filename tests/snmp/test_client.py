"""fetch(): argument checks, and what the v1/v2c path keeps out of the process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from check_dell_ups.snmp.client import fetch
from check_dell_ups.snmp.errors import SnmpError
from check_dell_ups.snmp.target import SnmpTarget


@pytest.mark.parametrize(("target", "oids", "message"), [
    (SnmpTarget("127.0.0.1", version="4"), ["1.3.6"], "unknown SNMP version"),
    (SnmpTarget("127.0.0.1", timeout=0), ["1.3.6"], "timeout must be positive"),
    (SnmpTarget("127.0.0.1", port=70000), ["1.3.6"], "not a UDP port"),
    (SnmpTarget("127.0.0.1"), ["sysDescr.0"], "not a numeric OID"),
    (SnmpTarget("127.0.0.1"), ["1"], "not a numeric OID"),
    (SnmpTarget("127.0.0.1", version="3"), ["1.3.6"], "needs a user"),
    (SnmpTarget("127.0.0.1", version="3", user="u", security_level="authPriv",
                auth_protocol="SHA", auth_passphrase="secret-pass"), ["1.3.6"],
     "needs a privacy protocol"),
    (SnmpTarget("127.0.0.1", version="3", user="u", security_level="authNoPriv",
                auth_protocol="SHA1", auth_passphrase="secret-pass"), ["1.3.6"],
     "needs an auth protocol"),
    (SnmpTarget("127.0.0.1", version="3", user="u", security_level="authNoPriv",
                auth_protocol="SHA"), ["1.3.6"], "needs an auth passphrase"),
    (SnmpTarget("127.0.0.1", version="3", user="u", security_level="paranoid"), ["1.3.6"],
     "unknown SNMPv3 security level"),
])
def test_bad_requests_are_snmp_errors(target, oids, message):
    with pytest.raises(SnmpError, match=message) as caught:
        fetch(target, oids)
    assert "secret-pass" not in str(caught.value)


LOADED = """
import sys
from check_dell_ups.snmp.client import fetch
from check_dell_ups.snmp.errors import SnmpError
from check_dell_ups.snmp.target import SnmpTarget
try:
    fetch(SnmpTarget("127.0.0.1", port=9, version=sys.argv[1], user="u", timeout=0.2),
          ["1.3.6.1.2.1.1.1.0"], ["1.3.6.1.2.1.2.2.1.2"])
except SnmpError:
    pass
print(" ".join(sorted(sys.modules)))
"""
HEAVY = ("check_dell_ups.snmp.usm", "cryptography", "pysnmp.entity", "pysnmp.hlapi",
         "pysnmp.smi.builder", "pysnmp.smi.view", "asyncio", "nagiosplugin")


@pytest.mark.parametrize("version", ["1", "2c"])
def test_community_path_loads_no_v3_or_engine_code(version):
    modules = subprocess.run(
        [sys.executable, "-c", LOADED, version], capture_output=True, text=True, timeout=60,
        check=True,
    ).stdout.split()
    assert "check_dell_ups.snmp.community" in modules
    for heavy in HEAVY:
        assert not any(name == heavy or name.startswith(heavy + ".") for name in modules), heavy


def test_v3_loads_the_usm_module_only_then():
    modules = subprocess.run(
        [sys.executable, "-c", LOADED, "3"], capture_output=True, text=True, timeout=60,
        check=True,
    ).stdout.split()
    assert "check_dell_ups.snmp.usm" in modules
    assert "pysnmp.entity" not in modules
