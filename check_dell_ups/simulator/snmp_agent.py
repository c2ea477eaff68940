"""The SNMP plumbing: a pysnmp command responder serving a live `MibView`.

pysnmp's responders ask a "MIB instrumentation controller" for values; ours builds the
view from the model on every request, so values are never a frozen snapshot. The engine
runs its own asyncio loop in a background thread.
"""

from __future__ import annotations

import asyncio
import bisect
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.carrier.asyncio.dispatch import AsyncioDispatcher
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import cmdrsp, context
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.smi import error as smi_error

from check_dell_ups.simulator.mib import Kind, MibView, Oid

AUTH_PROTOCOLS = {
    None: config.USM_AUTH_NONE,
    "MD5": config.USM_AUTH_HMAC96_MD5,
    "SHA": config.USM_AUTH_HMAC96_SHA,
    "SHA224": config.USM_AUTH_HMAC128_SHA224,
    "SHA256": config.USM_AUTH_HMAC192_SHA256,
    "SHA384": config.USM_AUTH_HMAC256_SHA384,
    "SHA512": config.USM_AUTH_HMAC384_SHA512,
}
PRIV_PROTOCOLS = {
    None: config.USM_PRIV_NONE,
    "DES": config.USM_PRIV_CBC56_DES,
    "AES": config.USM_PRIV_CFB128_AES,
    # AES-192/256 as most vendors (and pysnmp's usmAesCfb192Protocol) do it: the
    # Reeder key extension; net-snmp calls these AES192C / AES256C.
    "AES192": config.USM_PRIV_CFB192_AES,
    "AES256": config.USM_PRIV_CFB256_AES,
}

_WIRE_TYPES = {
    Kind.INTEGER: rfc1902.Integer32,
    Kind.GAUGE: rfc1902.Gauge32,
    Kind.COUNTER: rfc1902.Counter32,
    Kind.TIMETICKS: rfc1902.TimeTicks,
    Kind.STRING: rfc1902.OctetString,
    Kind.OID: rfc1902.ObjectIdentifier,
}


@dataclass(frozen=True)
class UsmUser:
    """An SNMPv3 user as the engine needs it (protocol names as in SnmpTarget)."""

    name: str
    auth_protocol: str | None
    auth_passphrase: str | None
    priv_protocol: str | None
    priv_passphrase: str | None


class LiveMibController:
    """Answers GET / GETNEXT (and so GETBULK) from a view built at request time.

    One view serves one request PDU, so the repetitions of a GETBULK answer agree with
    each other; the next PDU gets a fresh view.
    """

    def __init__(self, view_source: Callable[[], MibView]) -> None:
        self._view_source = view_source
        self._view: MibView | None = None
        self._ordered: list[Oid] = []

    def new_request(self) -> None:
        self._view = None

    def _current(self) -> MibView:
        if self._view is None:
            self._view = self._view_source()
            self._ordered = sorted(self._view.values)  # tuple order = SNMP OID order
        return self._view

    def read_variables(self, *var_binds, **_context):
        view = self._current()
        answers = []
        for name, _value in var_binds:
            oid = tuple(name)
            entry = view.values.get(oid)
            if entry is not None:
                answers.append((name, _wire_value(entry)))
            elif any(oid[:length] in view.objects for length in range(1, len(oid))):
                answers.append((name, rfc1905.noSuchInstance))
            else:
                answers.append((name, rfc1905.noSuchObject))
        return answers

    def read_next_variables(self, *var_binds, **_context):
        view = self._current()
        answers = []
        for name, _value in var_binds:
            position = bisect.bisect_right(self._ordered, tuple(name))
            if position < len(self._ordered):
                next_oid = self._ordered[position]
                answers.append((rfc1902.ObjectName(next_oid), _wire_value(view.values[next_oid])))
            else:
                answers.append((name, rfc1905.endOfMibView))
        return answers

    def write_variables(self, *var_binds, **_context):
        """The card is read-only here: SET is refused with notWritable."""
        name = var_binds[0][0] if var_binds else None
        raise smi_error.NotWritableError(name=name, idx=0)


def _wire_value(entry: tuple[Kind, int | str | Oid]):
    kind, value = entry
    return _WIRE_TYPES[kind](value)


def _counting(responder: type) -> type:
    """A responder class that reports every request PDU it receives."""

    class Counting(responder):
        def __init__(self, snmp_engine, snmp_context, on_request: Callable[[], None]):
            super().__init__(snmp_engine, snmp_context)
            self._on_request = on_request

        def process_pdu(self, *args, **kwargs):
            self._on_request()
            return super().process_pdu(*args, **kwargs)

    Counting.__name__ = f"Counting{responder.__name__}"
    return Counting


_RESPONDERS = [
    _counting(responder)
    for responder in (
        cmdrsp.GetCommandResponder,
        cmdrsp.NextCommandResponder,
        cmdrsp.BulkCommandResponder,
        cmdrsp.SetCommandResponder,
    )
]


class SnmpAgentThread:
    """A pysnmp agent on its own asyncio loop in a background thread."""

    def __init__(
        self,
        *,
        view_source: Callable[[], MibView],
        on_request: Callable[[], None],
        host: str,
        port: int,
        community: str,
        users: tuple[UsmUser, ...],
    ) -> None:
        for user in users:
            if user.auth_protocol not in AUTH_PROTOCOLS:
                raise ValueError(f"unknown SNMPv3 auth protocol {user.auth_protocol!r}")
            if user.priv_protocol not in PRIV_PROTOCOLS:
                raise ValueError(f"unknown SNMPv3 privacy protocol {user.priv_protocol!r}")
        self._view_source = view_source
        self._on_request = on_request
        self._host = host
        self._requested_port = port
        self._community = community
        self._users = users
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dispatcher: AsyncioDispatcher | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.port: int | None = None

    def start(self, timeout: float = 30.0) -> None:
        # Bind here, in the caller's thread: a busy port fails at once and clearly,
        # and port 0 gives the real port before the loop starts.
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self._host, self._requested_port))
        except OSError as error:
            sock.close()
            where = f"{self._host}:{self._requested_port}"
            raise OSError(f"cannot listen on UDP {where}: {error.strerror or error}") from None
        sock.setblocking(False)
        self._socket = sock
        self._ready.clear()
        self._failure = None
        self.port = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, name="ups-sim-snmp", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("SNMP agent did not start in time")
        if self._failure is not None:
            self._thread.join(timeout)
            raise RuntimeError(f"SNMP agent failed to start: {self._failure}")

    def stop(self, timeout: float = 30.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._shutdown()))
            thread.join(timeout)
        self._thread = None

    # ----- inside the agent thread ---------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._open())
        except BaseException as error:  # reported to start() in the caller's thread
            self._failure = error
            self._ready.set()
            if self._socket is not None:
                self._socket.close()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        snmp_engine = engine.SnmpEngine()
        self._dispatcher = AsyncioDispatcher(loop=loop)
        snmp_engine.register_transport_dispatcher(self._dispatcher)
        transport = udp.UdpTransport(loop=loop).open_server_mode(sock=self._socket)
        config.add_transport(snmp_engine, udp.DOMAIN_NAME, transport)
        await transport._lport  # the datagram endpoint exists once this is done
        config.add_v1_system(snmp_engine, "ups-sim-area", self._community)
        for user in self._users:
            config.add_v3_user(
                snmp_engine,
                user.name,
                AUTH_PROTOCOLS[user.auth_protocol],
                user.auth_passphrase,
                PRIV_PROTOCOLS[user.priv_protocol],
                user.priv_passphrase,
            )
        controller = LiveMibController(self._view_source)
        snmp_context = context.SnmpContext(snmp_engine)
        snmp_context.unregister_context_name(b"")
        snmp_context.register_context_name(b"", controller)

        def on_request() -> None:
            controller.new_request()
            self._on_request()

        for responder in _RESPONDERS:
            responder(snmp_engine, snmp_context, on_request)

    async def _shutdown(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.close_dispatcher()  # closes the UDP transport and its socket
        # Let the transports' close callbacks run before the loop stops.
        for _ in range(3):
            await asyncio.sleep(0)
        asyncio.get_running_loop().stop()
