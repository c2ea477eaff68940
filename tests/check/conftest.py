"""Fixtures of the check's tests: agent answers (OID -> value) as fetch() returns them,
and helpers to run the installed plugin as a subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

UPS = "1.3.6.1.2.1.33.1"
DELL = "1.3.6.1.4.1.674.10902.2"
WELL_KNOWN = f"{UPS}.6.3"
ALARM_DESCR = f"{UPS}.6.2.1.2"
DATA = Path(__file__).parent / "data"


def _rfc1628_on_mains() -> dict[str, object]:
    values: dict[str, object] = {
        "1.3.6.1.2.1.1.1.0": "Generic UPS",
        "1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.99999.1",
        f"{UPS}.1.1.0": "ACME",
        f"{UPS}.1.2.0": "ACME 1500",
        f"{UPS}.1.3.0": "2.1",
        f"{UPS}.1.4.0": "agent 1.0",
        f"{UPS}.1.5.0": "ups1",
        f"{UPS}.2.1.0": 2,
        f"{UPS}.2.2.0": 0,
        f"{UPS}.2.3.0": 40,
        f"{UPS}.2.4.0": 100,
        f"{UPS}.2.5.0": 545,
        f"{UPS}.2.6.0": 0,
        f"{UPS}.2.7.0": 25,
        f"{UPS}.3.2.0": 1,
        f"{UPS}.3.3.1.2.1": 500,
        f"{UPS}.3.3.1.3.1": 230,
        f"{UPS}.4.1.0": 3,
        f"{UPS}.4.2.0": 500,
        f"{UPS}.4.3.0": 1,
        f"{UPS}.4.4.1.2.1": 230,
        f"{UPS}.4.4.1.3.1": 25,
        f"{UPS}.4.4.1.4.1": 500,
        f"{UPS}.4.4.1.5.1": 30,
        f"{UPS}.6.1.0": 0,
        f"{UPS}.7.3.0": 1,
    }
    return values


def _dell_on_mains() -> dict[str, object]:
    values = _rfc1628_on_mains()
    values.update({
        "1.3.6.1.2.1.1.1.0": "Dell UPS Rack 1920W HV",
        "1.3.6.1.2.1.1.2.0": DELL,
        f"{UPS}.1.1.0": "DELL",
        f"{UPS}.1.2.0": "Dell UPS Rack 1920W HV",
        f"{DELL}.100.1.0": "Dell UPS Rack 1920W HV",
        f"{DELL}.100.4.0": "01.14",
        f"{DELL}.100.5.0": "0006",
        f"{DELL}.110.1.0": 3,
        f"{DELL}.120.1.2.0": "CN-TEST-0001",
        f"{DELL}.120.4.2.0": "",
        f"{DELL}.120.4.3.0": 2147483647,
        f"{DELL}.120.5.1.0": 3,
        f"{DELL}.120.5.2.0": 1,
        f"{DELL}.120.5.3.0": 1800,
        f"{DELL}.120.7.1.0": 0,
    })
    return values


@pytest.fixture
def rfc1628_raw() -> dict[str, object]:
    """A plain RFC 1628 UPS on mains, all well."""
    return _rfc1628_on_mains()


@pytest.fixture
def dell_raw() -> dict[str, object]:
    """A Dell card on mains, all well (UPS-MIB + DELL-SNMP-UPS-MIB)."""
    return _dell_on_mains()


def program_path(name: str) -> str:
    """The console script beside this interpreter, as tests/conftest.py installed_program()
    finds it (conftest modules are not importable under --import-mode=importlib)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed: run 'pip install -e .[test]'")
    return found


@pytest.fixture(scope="session")
def check_program() -> str:
    return program_path("check_dell_ups")


@pytest.fixture
def run_check(check_program: str, clean_env: dict[str, str]):
    """run_check(*args, env=None, timeout=30) -> CompletedProcess of the plugin."""

    def run(*args: str, env: dict[str, str] | None = None,
            timeout: float = 30) -> subprocess.CompletedProcess[str]:
        environment = dict(clean_env)
        environment.update(env or {})
        return subprocess.run([check_program, *args], capture_output=True, text=True,
                              env=environment, timeout=timeout, check=False)

    return run


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


@pytest.fixture(scope="session")
def snmpsim_port(tmp_path_factory: pytest.TempPathFactory, snmpsim_launcher) -> Iterator[int]:
    """snmpsim serving tests/check/data: the community selects the .snmprec file."""
    from check_dell_ups.snmp.client import fetch
    from check_dell_ups.snmp.errors import SnmpError
    from check_dell_ups.snmp.target import SnmpTarget

    def answers(port: int) -> bool:
        probe = SnmpTarget("127.0.0.1", port, community="not-a-ups", timeout=1.0)
        try:
            return bool(fetch(probe, ["1.3.6.1.2.1.1.1.0"]))
        except SnmpError:
            return False

    work_dir = tmp_path_factory.mktemp("snmpsim")
    with snmpsim_launcher(DATA, work_dir, answers, ["--logging-method=null"]) as port:
        yield port
