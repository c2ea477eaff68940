"""Agents for the SNMP transport tests: snmpsim (a real agent), a scriptable fake
agent that can misbehave, and a counting/mutating UDP proxy."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.proto.api import decodeMessageVersion, v1, v2c

from check_dell_ups.snmp.client import fetch
from check_dell_ups.snmp.errors import SnmpError
from check_dell_ups.snmp.target import SnmpTarget

DATA_DIR = Path(__file__).parent / "data"
AUTH_PASSPHRASE = "auth-secret-1"
PRIV_PASSPHRASE = "priv-secret-2"


@dataclass(frozen=True)
class SimUser:
    name: str
    auth: str | None
    priv: str | None

    @property
    def level(self) -> str:
        return "authPriv" if self.priv else "authNoPriv" if self.auth else "noAuthNoPriv"


SNMPSIM_USERS = (
    SimUser("usr-none", None, None),
    SimUser("usr-md5", "MD5", None),
    SimUser("usr-sha", "SHA", None),
    SimUser("usr-md5-des", "MD5", "DES"),
    SimUser("usr-sha-des", "SHA", "DES"),
    SimUser("usr-md5-aes", "MD5", "AES"),
    SimUser("usr-sha-aes", "SHA", "AES"),
    SimUser("usr-sha224-aes192", "SHA224", "AES192"),
    SimUser("usr-md5-aes192", "MD5", "AES192"),
    SimUser("usr-sha-aes256", "SHA", "AES256"),
    SimUser("usr-sha256-aes256", "SHA256", "AES256"),
    SimUser("usr-sha384-aes", "SHA384", "AES"),
    SimUser("usr-sha512-aes256", "SHA512", "AES256"),
)


@dataclass
class Snmpsim:
    port: int
    users: tuple[SimUser, ...]

    def target(self, version: str = "2c", **options: Any) -> SnmpTarget:
        options.setdefault("timeout", 5.0)
        return SnmpTarget("127.0.0.1", self.port, version=version, **options)

    def v3_target(self, user: SimUser, **options: Any) -> SnmpTarget:
        return self.target(
            "3",
            user=user.name,
            security_level=user.level,
            auth_protocol=user.auth,
            auth_passphrase=AUTH_PASSPHRASE if user.auth else None,
            priv_protocol=user.priv,
            priv_passphrase=PRIV_PASSPHRASE if user.priv else None,
            **options,
        )


@pytest.fixture(scope="session")
def snmpsim(tmp_path_factory: pytest.TempPathFactory, snmpsim_launcher) -> Iterator[Snmpsim]:
    """snmpsim serving tests/snmp/data (public.snmprec for v1/v2c, self.snmprec
    for the empty SNMPv3 context) with one v3 user per auth/priv combination."""
    arguments = []
    for user in SNMPSIM_USERS:
        arguments.append(f"--v3-user={user.name}")
        if user.auth:
            arguments += [f"--v3-auth-key={AUTH_PASSPHRASE}", f"--v3-auth-proto={user.auth}"]
        if user.priv:
            arguments += [f"--v3-priv-key={PRIV_PASSPHRASE}", f"--v3-priv-proto={user.priv}"]

    def answers(port: int) -> bool:
        try:
            fetch(Snmpsim(port, SNMPSIM_USERS).target(timeout=0.5), ["1.3.6.1.2.1.1.1.0"])
        except SnmpError:
            return False
        return True

    work_dir = tmp_path_factory.mktemp("snmpsim-cache")
    with snmpsim_launcher(DATA_DIR, work_dir, answers, arguments) as port:
        yield Snmpsim(port, SNMPSIM_USERS)


# --- a scriptable agent ---------------------------------------------------------

Reply = list[tuple[bytes, bool]]  # (datagram, sent from another port = spoofed)


def _value_of(value: Any) -> Any:
    """Test MIB values may be given as plain Python: int -> Integer, str -> OctetString."""
    if isinstance(value, bool):
        raise TypeError("no booleans in SNMP")
    if isinstance(value, int):
        return rfc1902.Integer32(value)
    if isinstance(value, str):
        return rfc1902.OctetString(value)
    return value


class FakeAgent:
    """A small SNMPv1/v2c agent over a dict MIB, in a thread, that can be told to
    misbehave: ``behaviour(request, correct_answer) -> [(datagram, spoofed)]``."""

    def __init__(self, mib: dict[str, Any], community: str = "public") -> None:
        self.mib = {tuple(int(a) for a in oid.split(".")): _value_of(v) for oid, v in mib.items()}
        self.order = sorted(self.mib)
        self.community = community.encode()
        self.behaviour: Callable[[bytes, bytes | None], Reply] | None = None
        self.requests: list[bytes] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.other.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def target(self, version: str = "2c", **options: Any) -> SnmpTarget:
        options.setdefault("timeout", 3.0)
        return SnmpTarget("127.0.0.1", self.port, version=version, **options)

    def start(self) -> FakeAgent:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
        self.other.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self.sock], [], [], 0.05)
            if not readable:
                continue
            data, source = self.sock.recvfrom(65535)
            self.requests.append(data)
            try:
                answer = self.answer(data)
            except Exception:  # the test agent's own decoding of junk
                answer = None
            replies = self.behaviour(data, answer) if self.behaviour else (
                [(answer, False)] if answer is not None else []
            )
            for datagram, spoofed in replies:
                (self.other if spoofed else self.sock).sendto(datagram, source)

    # A correct agent: the answer to a request, or None to stay silent.
    def answer(self, data: bytes) -> bytes | None:
        api = {0: v1, 1: v2c}.get(int(decodeMessageVersion(data)))
        if api is None:
            return None
        message, _ = decoder.decode(data, asn1Spec=api.Message())
        if api.apiMessage.get_community(message).asOctets() != self.community:
            return None
        request = api.apiMessage.get_pdu(message)
        response = api.apiPDU.get_response(request)
        asked = [oid.asTuple() for oid, _ in api.apiPDU.get_varbinds(request)]
        tag = request.tagSet
        if tag == api.GetRequestPDU.tagSet:
            found = [(oid, self.mib.get(oid)) for oid in asked]
        elif tag == api.GetNextRequestPDU.tagSet:
            found = [self._next(oid) for oid in asked]
        else:
            repetitions = int(v2c.apiBulkPDU.get_max_repetitions(request))
            found, cursor = [], asked
            for _ in range(repetitions):
                row = [self._next(oid) for oid in cursor]
                found += row
                cursor = [oid for oid, _ in row]
        if api is v1 and any(value is None for _, value in found):
            bad = next(i for i, (_, value) in enumerate(found) if value is None)
            api.apiPDU.set_error_status(response, 2)
            api.apiPDU.set_error_index(response, bad + 1)
            api.apiPDU.set_varbinds(response, [(v1.ObjectIdentifier(o), v1.null) for o in asked])
        else:
            missing = rfc1905.noSuchObject if tag == api.GetRequestPDU.tagSet else (
                rfc1905.endOfMibView
            )
            api.apiPDU.set_varbinds(response, [
                (v2c.ObjectIdentifier(oid), missing if value is None else value)
                for oid, value in found
            ])
        reply = api.apiMessage.get_response(message)
        api.apiMessage.set_pdu(reply, response)
        return encoder.encode(reply)

    def _next(self, oid: tuple[int, ...]) -> tuple[tuple[int, ...], Any]:
        for candidate in self.order:
            if candidate > oid:
                return candidate, self.mib[candidate]
        return oid, None


@pytest.fixture
def fake_agent() -> Iterator[Callable[..., FakeAgent]]:
    """Factory: fake_agent(mib, community="public") -> a started FakeAgent."""
    agents: list[FakeAgent] = []

    def make(mib: dict[str, Any], community: str = "public") -> FakeAgent:
        agent = FakeAgent(mib, community).start()
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        agent.stop()


# --- a proxy in front of a real agent --------------------------------------------


class UdpProxy:
    """Forwards datagrams to an agent and back, counting requests; ``mutate``
    (answer -> extra datagram sent before the real answer) injects junk."""

    def __init__(self, agent_port: int) -> None:
        self.agent = ("127.0.0.1", agent_port)
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.bind(("127.0.0.1", 0))
        self.port = self.front.getsockname()[1]
        self.requests = 0
        self.mutate: Callable[[bytes], bytes | None] | None = None
        self._client: tuple[str, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> UdpProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.front.close()
        self.back.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select([self.front, self.back], [], [], 0.05)
            for sock in readable:
                data, source = sock.recvfrom(65535)
                if sock is self.front:
                    self.requests += 1
                    self._client = source
                    self.back.sendto(data, self.agent)
                elif self._client is not None:
                    junk = self.mutate(data) if self.mutate else None
                    if junk is not None:
                        self.front.sendto(junk, self._client)
                    self.front.sendto(data, self._client)


@pytest.fixture
def udp_proxy() -> Iterator[Callable[[int], UdpProxy]]:
    proxies: list[UdpProxy] = []

    def make(agent_port: int) -> UdpProxy:
        proxy = UdpProxy(agent_port).start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``v3_user``: one test per SNMPv3 user (auth/priv combination) of snmpsim."""
    if "v3_user" in metafunc.fixturenames:
        metafunc.parametrize("v3_user", SNMPSIM_USERS, ids=[u.name for u in SNMPSIM_USERS])
