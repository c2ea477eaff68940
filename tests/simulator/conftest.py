"""Fixtures for the simulator tests: a fake clock and a running simulator."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator

import pytest

from check_dell_ups.simulator.agent import UpsSimulator, V3User

AUTH_PASSPHRASE = "auth-secret-1"
PRIV_PASSPHRASE = "priv-secret-1"
V3_USERS = (
    V3User("sha-aes", "SHA", AUTH_PASSPHRASE, "AES", PRIV_PASSPHRASE),
    V3User("md5-des", "MD5", AUTH_PASSPHRASE, "DES", PRIV_PASSPHRASE),
    V3User("sha256-aes256", "SHA256", AUTH_PASSPHRASE, "AES256", PRIV_PASSPHRASE),
    V3User("sha512-aes192", "SHA512", AUTH_PASSPHRASE, "AES192", PRIV_PASSPHRASE),
    V3User("sha-only", "SHA", AUTH_PASSPHRASE, None, None),
    V3User("nobody", None, None, None, None),
)
NET_SNMP_TIMEOUT = 30


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def simulator() -> Iterator[UpsSimulator]:
    """A running simulator on a free port with an HTTP control port and v3 users."""
    with UpsSimulator(port=0, control_port=0, v3_users=V3_USERS) as sim:
        yield sim


@pytest.fixture
def clocked_simulator(clock: FakeClock) -> Iterator[tuple[UpsSimulator, FakeClock]]:
    """A running simulator whose model time the test moves by hand."""
    with UpsSimulator(port=0, clock=clock) as sim:
        yield sim, clock


class NetSnmp:
    """Runs net-snmp tools with numeric OIDs, no MIB loading, and a bounded wait."""

    def run(self, tool: str, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [tool, "-On", "-m", "", "-t", "3", "-r", "2", *arguments],
            capture_output=True,
            text=True,
            timeout=NET_SNMP_TIMEOUT,
            check=False,
        )

    def values(self, tool: str, *arguments: str) -> dict[str, str]:
        """{"1.3.6.1.2.1.1.1.0": 'STRING: "x"', ...}; fails the test on a tool error."""
        result = self.run(tool, *arguments)
        assert result.returncode == 0, result.stderr
        return self.parse(result.stdout)

    @staticmethod
    def parse(output: str) -> dict[str, str]:
        values = {}
        for line in output.splitlines():
            if " = " in line:
                oid, value = line.split(" = ", 1)
                values[oid.strip().lstrip(".")] = value.strip()
        return values


@pytest.fixture
def net_snmp() -> NetSnmp:
    if shutil.which("snmpget") is None:
        pytest.skip("net-snmp tools (Debian package snmp) not installed")
    return NetSnmp()
