"""Turn the target's host into a UDP address, within the fetch's deadline.

An IP literal costs nothing. A name is looked up in a helper thread so that a
slow or dead DNS server cannot hold the check past its timeout (getaddrinfo has
no timeout of its own). IPv4 answers are preferred, as net-snmp does: an agent
on 127.0.0.1 is then reached as "localhost" even where localhost is also ::1.
"""

from __future__ import annotations

import socket
import time

from .errors import SnmpError

Address = tuple[int, tuple]  # (address family, socket address)


def _literal(host: str, port: int) -> Address | None:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            packed = socket.inet_pton(family, host)
        except (OSError, ValueError):
            continue
        # The canonical form: the one recvfrom() reports for the agent's answers.
        canonical = socket.inet_ntop(family, packed)
        return family, (canonical, port) if family == socket.AF_INET else (canonical, port, 0, 0)
    return None


def _lookup(host: str, port: int) -> Address:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    infos.sort(key=lambda info: info[0] != socket.AF_INET)
    family, _, _, _, address = infos[0]
    return family, address


def resolve(host: str, port: int, deadline: float) -> Address:
    """(family, address) of host:port; SnmpError if unknown or not found in time."""
    literal = _literal(host, port)
    if literal is not None:
        return literal
    import threading  # only names need the helper thread

    outcome: list[Address | BaseException] = []

    def look_up() -> None:
        try:
            outcome.append(_lookup(host, port))
        except BaseException as error:  # handed over to the waiting thread
            outcome.append(error)

    helper = threading.Thread(target=look_up, name="snmp-resolve", daemon=True)
    helper.start()
    helper.join(max(0.0, deadline - time.monotonic()))
    if not outcome:
        raise SnmpError(f"cannot resolve {host}: no answer from DNS in time")
    result = outcome[0]
    if isinstance(result, BaseException):
        reason = getattr(result, "strerror", None) or result
        raise SnmpError(f"cannot resolve {host}: {reason}")
    return result
