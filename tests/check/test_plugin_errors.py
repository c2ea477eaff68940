"""The installed plugin when things go wrong: silent and misbehaving agents, bad arguments.
Always exit 3 with one line on stdout, never a traceback."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from check_dell_ups import __version__


def assert_one_line_unknown(result) -> None:
    assert result.returncode == 3, result.stdout
    assert result.stdout.startswith("DELL UPS UNKNOWN - ")
    assert result.stdout.count("\n") == 1
    assert result.stderr == ""
    assert "Traceback" not in result.stdout


class UdpResponder:
    """A tiny UDP server on 127.0.0.1 answering each datagram with reply(datagram)."""

    def __init__(self, reply: Callable[[bytes], list[bytes]]):
        self.reply = reply
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            self.received += 1
            for answer in self.reply(data):
                self.sock.sendto(answer, peer)

    def __enter__(self) -> UdpResponder:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


GARBAGE: dict[str, Callable[[bytes], list[bytes]]] = {
    "silent": lambda data: [],
    "random bytes": lambda data: [os.urandom(64), os.urandom(3)],
    "broken BER": lambda data: [b"\x30\x82\xff\xff\x02\x01\x01\x04", b"\x30\x00"],
    "echo of the request": lambda data: [data],
    "truncated answer": lambda data: [data[: len(data) // 2]],
    "huge length": lambda data: [b"\x30\x84\x7f\xff\xff\xff" + os.urandom(40)],
}


@pytest.fixture(params=sorted(GARBAGE))
def misbehaving_agent(request: pytest.FixtureRequest) -> Iterator[UdpResponder]:
    with UdpResponder(GARBAGE[request.param]) as agent:
        yield agent


def test_misbehaving_agent_is_unknown_without_traceback(run_check, misbehaving_agent) -> None:
    result = run_check("-H", "127.0.0.1", "-p", str(misbehaving_agent.port), "-t", "1.5",
                       "-vvv")
    assert_one_line_unknown(result)
    assert f"127.0.0.1:{misbehaving_agent.port}" in result.stdout
    assert misbehaving_agent.received >= 1


def test_silent_port_times_out_within_the_timeout(run_check) -> None:
    with UdpResponder(GARBAGE["silent"]) as agent:
        started = time.monotonic()
        result = run_check("-H", "127.0.0.1", "-p", str(agent.port), "-t", "2")
        elapsed = time.monotonic() - started
    assert_one_line_unknown(result)
    assert result.stdout == (
        f"DELL UPS UNKNOWN - no SNMP response from 127.0.0.1:{agent.port} within 2 s\n")
    # -t bounds the run (plus interpreter start-up): a bound, not a speed benchmark.
    assert elapsed < 2 + 8
    print(f"silent agent, -t 2: plugin ended after {elapsed:.2f} s")


def test_nothing_listening_is_unknown(run_check) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_check("-H", "127.0.0.1", "-p", str(port), "-t", "1")
    assert_one_line_unknown(result)


def test_unresolvable_host_is_unknown(run_check) -> None:
    result = run_check("-H", "no-such-host.invalid", "-t", "1")
    assert_one_line_unknown(result)


@pytest.mark.parametrize("argv", [
    [], ["-H"], ["-H", "127.0.0.1", "-P", "5"], ["-H", "127.0.0.1", "-w", "bogus=1"],
    ["-H", "127.0.0.1", "-t", "-1"], ["-H", "127.0.0.1", "--no-such-option"],
])
def test_bad_arguments_exit_3_with_one_line(run_check, argv: list[str]) -> None:
    result = run_check(*argv)
    assert_one_line_unknown(result)
    assert result.stdout.startswith("DELL UPS UNKNOWN - bad arguments: ")


def test_version_and_help(run_check) -> None:
    result = run_check("-V")
    assert (result.returncode, result.stdout) == (3, f"check_dell_ups v{__version__}\n")
    result = run_check("--help")
    assert result.returncode == 3
    for option in ("--maintenance-timer", "-w LABEL=RANGE", "DELL_UPS_COMMUNITY", "-P"):
        assert option in result.stdout


def test_python_dash_m_works(python, clean_env) -> None:
    import subprocess

    result = subprocess.run([python, "-m", "check_dell_ups", "-V"], capture_output=True,
                            text=True, env=clean_env, timeout=30, check=False)
    assert (result.returncode, result.stdout) == (3, f"check_dell_ups v{__version__}\n")
