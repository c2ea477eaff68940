"""Fixtures for the simulator tests: a fake clock and a running simulator."""

from __future__ import annotations

import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

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
STARTUP_TIMEOUT = 60
STOP_TIMEOUT = 30


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


def simulator_program() -> str:
    """The installed dell_ups_simulator console script (beside this interpreter)."""
    candidate = Path(sys.executable).parent / "dell_ups_simulator"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("dell_ups_simulator")
    if found is None:
        pytest.fail("dell_ups_simulator is not installed: run 'pip install -e .[test]'")
    return found


class RunningProgram:
    """A dell_ups_simulator subprocess in serve mode, and its announced ports."""

    def __init__(self, arguments: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [simulator_program(), *arguments],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.listening_line = self._first_line(timeout=STARTUP_TIMEOUT)
        found = re.search(r"udp 127\.0\.0\.1:(\d+)", self.listening_line)
        assert found, f"no listening line: {self.listening_line!r}"
        self.port = int(found.group(1))
        control = re.search(r"http://127\.0\.0\.1:(\d+)", self.listening_line)
        self.control_port = int(control.group(1)) if control else None

    def _first_line(self, timeout: float) -> str:
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(
            target=lambda: lines.put(self.process.stdout.readline()), daemon=True
        )
        reader.start()
        try:
            return lines.get(timeout=timeout)
        except queue.Empty:
            self.process.kill()
            self.process.communicate(timeout=STOP_TIMEOUT)
            pytest.fail("dell_ups_simulator did not announce itself in time")

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Send `sig`, wait for the exit; (exit code, rest of stdout, stderr)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            stdout, stderr = self.process.communicate(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate(timeout=STOP_TIMEOUT)
            pytest.fail(f"dell_ups_simulator ignored signal {sig}")
        return self.process.returncode, stdout, stderr


@pytest.fixture
def start_program(clean_env) -> Iterator[Callable[..., RunningProgram]]:
    """Starts dell_ups_simulator subprocesses; kills any the test left running."""
    started: list[RunningProgram] = []

    def start(*arguments: str, env: dict[str, str] | None = None) -> RunningProgram:
        program = RunningProgram(list(arguments), env if env is not None else clean_env)
        started.append(program)
        return program

    yield start
    for program in started:
        if program.process.poll() is None:
            program.process.kill()
            program.process.communicate(timeout=STOP_TIMEOUT)


def run_program(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [simulator_program(), *arguments],
        capture_output=True,
        text=True,
        timeout=STOP_TIMEOUT,
        env=env,
        check=False,
    )


@pytest.fixture
def run_simulator_program(clean_env) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs dell_ups_simulator to completion (ctl commands, bad arguments)."""

    def run(*arguments: str, env: dict[str, str] | None = None):
        return run_program(*arguments, env=env if env is not None else clean_env)

    return run
