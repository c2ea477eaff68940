#!/usr/bin/env python3
"""Benchmark of the whole check_dell_ups command against the UPS simulator.

Measures, per run of the command as a child process: CPU (user+sys of the child
and its own children, from RUSAGE_CHILDREN deltas), wall time, and the SNMP
requests it sent (datagrams counted by a UDP proxy in front of the agent, and
the simulator's own request_count). The same for the C reference
/usr/lib/nagios/plugins/check_snmp reading the same scalar OIDs. Prints figures;
asserts nothing.

    .venv/bin/python bench/bench_check.py [--runs 50] [--no-reference]

Without check_dell_ups/cli.py it times a direct `python -c` call of fetch();
without the simulator it serves tests/snmp/data with snmpsim.
"""

from __future__ import annotations

import argparse
import os
import resource
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
C_CHECK_SNMP = "/usr/lib/nagios/plugins/check_snmp"
V3_USER, V3_AUTH, V3_PRIV = "bench", "bench-auth-pass", "bench-priv-pass"
V3_ENV = {"DELL_UPS_AUTH_PASSPHRASE": V3_AUTH, "DELL_UPS_PRIV_PASSPHRASE": V3_PRIV}


class CountingProxy:
    """UDP proxy between the check and the agent; counts request datagrams."""

    def __init__(self, agent_port: int) -> None:
        self.agent = ("127.0.0.1", agent_port)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.port = self.front.getsockname()[1]
        self.requests = 0
        self._backs: dict[tuple[str, int], socket.socket] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            sockets = [self.front, *self._backs.values()]
            readable, _, _ = select.select(sockets, [], [], 0.05)
            for sock in readable:
                data, source = sock.recvfrom(65535)
                if sock is self.front:
                    self.requests += 1
                    back = self._backs.get(source)
                    if back is None:  # one back socket per client, to route answers
                        back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        back.bind(("127.0.0.1", 0))
                        self._backs[source] = back
                    back.sendto(data, self.agent)
                else:
                    client = next(k for k, v in self._backs.items() if v is sock)
                    self.front.sendto(data, client)
            if len(self._backs) > 64:  # finished clients: forget old routes
                for old in list(self._backs)[:32]:
                    self._backs.pop(old).close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.front.close()
        for back in self._backs.values():
            back.close()


@dataclass
class Agent:
    port: int
    request_count: object  # () -> int | None
    description: str


@contextmanager
def simulator_agent() -> Iterator[Agent]:
    from check_dell_ups.simulator.agent import UpsSimulator, V3User

    user = V3User(V3_USER, "SHA", V3_AUTH, "AES", V3_PRIV)
    with UpsSimulator(v3_users=(user,)) as sim:
        yield Agent(sim.port, lambda: sim.state()["request_count"], "UpsSimulator")


@contextmanager
def snmpsim_agent() -> Iterator[Agent]:
    """Fallback: snmpsim with the Dell-like fixture of the transport tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cache = tempfile.mkdtemp(prefix="bench-snmpsim-")
    # snmpsim 1.2 imports pysmi (undeclared) only for its banner: stand in if missing.
    runner = ("import sys, types\ntry:\n    import pysmi\nexcept ImportError:\n"
              "    sys.modules['pysmi'] = types.SimpleNamespace(__version__='absent')\n"
              "from snmpsim.commands.responder import main\nsys.exit(main())\n")
    command = [
        sys.executable, "-c", runner, f"--data-dir={REPO / 'tests/snmp/data'}",
        f"--cache-dir={cache}", f"--agent-udpv4-endpoint=127.0.0.1:{port}",
        f"--v3-user={V3_USER}", f"--v3-auth-key={V3_AUTH}", "--v3-auth-proto=SHA",
        f"--v3-priv-key={V3_PRIV}", "--v3-priv-proto=AES",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=dict(os.environ, SNMPSIM_ALLOW_ROOT="true"))
    try:
        time.sleep(3)
        yield Agent(port, lambda: None, "snmpsim (tests/snmp/data)")
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(cache, ignore_errors=True)


def requested_oids() -> tuple[list[str], list[str]]:
    try:
        from check_dell_ups.reading import request

        scalars, columns = request()
        return list(scalars), list(columns)
    except ImportError:
        return (["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.33.1.1.1.0", "1.3.6.1.2.1.33.1.2.2.0",
                 "1.3.6.1.2.1.33.1.2.4.0", "1.3.6.1.2.1.33.1.4.1.0"],
                ["1.3.6.1.2.1.33.1.4.4.1.5", "1.3.6.1.2.1.33.1.6.2.1.2"])


@dataclass
class Scenario:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def scenarios(port: int, with_reference: bool) -> list[Scenario]:
    v3_options = ["-U", V3_USER, "-L", "authPriv", "-a", "SHA", "-x", "AES"]
    check = BIN / "check_dell_ups"
    found = []
    if (REPO / "check_dell_ups/cli.py").exists() and check.exists():
        base = [str(check), "-H", "127.0.0.1", "-p", str(port)]
        found += [
            Scenario("check_dell_ups v2c", [*base, "-P", "2c"]),
            Scenario("check_dell_ups v3 authPriv SHA/AES", [*base, "-P", "3", *v3_options],
                     V3_ENV),
        ]
    # The transport alone in a fresh process (also the fallback while there is no check).
    scalars, columns = requested_oids()
    code = (
        "import sys; from check_dell_ups.snmp.client import fetch; "
        "from check_dell_ups.snmp.target import SnmpTarget; "
        f"print(len(fetch(SnmpTarget(**eval(sys.argv[1])), {scalars!r}, {columns!r})))"
    )
    v3 = dict(version="3", user=V3_USER, security_level="authPriv", auth_protocol="SHA",
              auth_passphrase=V3_AUTH, priv_protocol="AES", priv_passphrase=V3_PRIV)
    found += [
        Scenario("transport alone: python -c fetch() v2c",
                 [sys.executable, "-c", code, repr(dict(host="127.0.0.1", port=port))]),
        Scenario("transport alone: python -c fetch() v3",
                 [sys.executable, "-c", code, repr(dict(host="127.0.0.1", port=port, **v3))]),
    ]
    if with_reference and Path(C_CHECK_SNMP).exists():
        scalars, _ = requested_oids()
        oids = ["-o", ",".join(scalars)]
        reference = [C_CHECK_SNMP, "-H", "127.0.0.1", "-p", str(port), "-e", "0"]
        found += [
            Scenario("C check_snmp v2c", [*reference, "-P", "2c", "-C", "public", *oids]),
            Scenario("C check_snmp v3 authPriv SHA/AES",
                     [*reference, "-P", "3", *v3_options, "-A", V3_AUTH, "-X", V3_PRIV, *oids]),
        ]
    found += [
        Scenario("python -c pass (interpreter alone)", [sys.executable, "-c", "pass"]),
        Scenario("python -c 'import nagiosplugin'", [sys.executable, "-c", "import nagiosplugin"]),
    ]
    return found


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(scenario: Scenario, runs: int, proxy: CountingProxy, agent: Agent) -> dict:
    env = dict(os.environ, **scenario.env)
    cpu, wall, requests, agent_requests, exits = [], [], [], [], set()
    first_line = ""
    for _ in range(runs):
        proxy_before, agent_before = proxy.requests, agent.request_count()
        cpu_before, started = child_cpu(), time.perf_counter()
        done = subprocess.run(scenario.argv, env=env, capture_output=True, text=True,
                              timeout=60, check=False)
        wall.append(time.perf_counter() - started)
        cpu.append(child_cpu() - cpu_before)
        time.sleep(0.02)  # let the proxy thread count the last datagram
        requests.append(proxy.requests - proxy_before)
        agent_after = agent.request_count()
        if agent_after is not None:
            agent_requests.append(agent_after - agent_before)
        exits.add(done.returncode)
        first_line = (done.stdout.splitlines() or [done.stderr.strip()[:120]])[0]
    return {
        "cpu_median": statistics.median(cpu) * 1000, "cpu_p90": percentile(cpu, 0.9) * 1000,
        "wall_median": statistics.median(wall) * 1000, "wall_p90": percentile(wall, 0.9) * 1000,
        "requests": statistics.median(requests), "requests_max": max(requests),
        "agent_requests": statistics.median(agent_requests) if agent_requests else None,
        "exits": sorted(exits), "first_line": first_line,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--no-reference", action="store_true", help="skip the C check_snmp")
    parser.add_argument("--snmpsim", action="store_true", help="use snmpsim, not the simulator")
    options = parser.parse_args()
    try:
        if options.snmpsim:
            raise ImportError("asked for snmpsim")
        import check_dell_ups.simulator.agent  # noqa: F401

        make_agent = simulator_agent
    except ImportError:
        make_agent = snmpsim_agent
    with make_agent() as agent:
        proxy = CountingProxy(agent.port)
        try:
            print(f"agent: {agent.description}; {options.runs} runs each; "
                  f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
            header = (f"{'command':42} {'CPU med':>8} {'CPU p90':>8} {'wall med':>9} "
                      f"{'wall p90':>9} {'req/check':>9} {'agent req':>9}  exit")
            print(header)
            print("-" * len(header))
            for scenario in scenarios(proxy.port, not options.no_reference):
                result = measure(scenario, options.runs, proxy, agent)
                agent_requests = ("-" if result["agent_requests"] is None
                                  else f"{result['agent_requests']:g}")
                print(f"{scenario.name:42} {result['cpu_median']:6.1f}ms "
                      f"{result['cpu_p90']:6.1f}ms {result['wall_median']:7.1f}ms "
                      f"{result['wall_p90']:7.1f}ms {result['requests']:>9g} "
                      f"{agent_requests:>9}  {','.join(map(str, result['exits']))}"
                      f"   {result['first_line'][:60]}", flush=True)
        finally:
            proxy.stop()


if __name__ == "__main__":
    main()
