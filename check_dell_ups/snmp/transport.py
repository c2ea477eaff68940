"""Send a batch of SNMP datagrams to one agent and collect the matching answers.

Plain UDP with a hard deadline: every request of a batch goes out at once, the
ones still unanswered are retransmitted at a fixed interval, and waiting never
goes past the deadline. The caller's ``decode`` turns a datagram into
``(key, answer)``; a datagram it cannot decode, that matches no outstanding
request, or that comes from another address or port is ignored (counted, so a
broken agent is told apart from a silent one).
"""

from __future__ import annotations

import math
import select
import socket
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

from .errors import SnmpError, SnmpProtocolError, SnmpTimeout
from .resolve import resolve

Key = TypeVar("Key", bound=Hashable)

MAX_DATAGRAM = 65535
MAX_DRAIN = 64
# Retransmit this often (bounded below and above) within the whole timeout.
MIN_RETRY_INTERVAL = 0.5
MAX_RETRY_INTERVAL = 2.0


class RejectedDatagramError(Exception):
    """Raised by a decode callback: this datagram is not an answer (reason given)."""


class UdpChannel:
    """One UDP socket towards one agent, shared by every round of a fetch."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.datagrams_sent = 0
        self.ignored = 0  # datagrams from the agent that were not a usable answer
        self.ignored_reason = ""
        family, address = resolve(host, port, self.deadline)
        self.peer = address[:2]
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self._poller = select.poll()  # not select(): no limit on the descriptor number
        self._poller.register(self.sock, select.POLLIN)
        # Keys of answered requests and of earlier exchanges: a late or duplicate
        # answer to one of them (after a retransmission) is no news, and no junk.
        self._finished: set[Hashable] = set()
        self.retry_interval = min(
            MAX_RETRY_INTERVAL, max(MIN_RETRY_INTERVAL, timeout / 5)
        )

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> UdpChannel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def timeout_error(self) -> SnmpError:
        """What to raise at the deadline: junk answers are not silence."""
        if self.ignored:
            return SnmpProtocolError(
                f"no valid SNMP response from {self.host}:{self.port} within "
                f"{self.timeout:g} s ({self.ignored} unusable datagram(s): "
                f"{self.ignored_reason})"
            )
        return SnmpTimeout(self.host, self.port, self.timeout)

    def _send(self, payload: bytes) -> None:
        try:
            self.sock.sendto(payload, self.peer)
        except BlockingIOError:
            return  # the socket buffer is full: the retransmission will try again
        except OSError as error:
            raise SnmpError(
                f"cannot send to {self.host}:{self.port}: {error.strerror or error}"
            ) from None
        self.datagrams_sent += 1

    def exchange(
        self,
        requests: Mapping[Key, bytes],
        decode: Callable[[bytes], tuple[Key, Any] | None],
    ) -> dict[Key, Any]:
        """Send every request, return {key: answer} once all are answered.

        ``decode`` may raise SnmpError to end the whole exchange (e.g. an SNMPv3
        report); any other exception from it means "not an answer, ignore".
        Raises the timeout error when the deadline passes first.
        """
        try:
            return self._collect(dict(requests), decode)
        finally:
            self._finished.update(requests)

    def _collect(
        self,
        outstanding: dict[Key, bytes],
        decode: Callable[[bytes], tuple[Key, Any] | None],
    ) -> dict[Key, Any]:
        answers: dict[Key, Any] = {}
        for payload in outstanding.values():
            self._send(payload)
        next_retry = time.monotonic() + self.retry_interval
        while outstanding:
            now = time.monotonic()
            if now >= self.deadline:
                raise self.timeout_error()
            if now >= next_retry:
                for payload in outstanding.values():
                    self._send(payload)
                next_retry = now + self.retry_interval
            wait = min(self.deadline, next_retry) - now
            # poll() takes milliseconds: round up, or it spins just before the deadline.
            if not self._poller.poll(max(0, math.ceil(wait * 1000))):
                continue
            for datagram in self._drain():
                try:
                    decoded = decode(datagram)
                except SnmpError:
                    raise
                except RejectedDatagramError as error:
                    self._ignore(str(error))
                    continue
                except Exception as error:  # hostile input must never escape
                    self._ignore(f"undecodable ({type(error).__name__})")
                    continue
                if decoded is not None and decoded[0] in self._finished:
                    continue
                if decoded is None or decoded[0] not in outstanding:
                    self._ignore("unknown request-id")
                    continue
                key, answer = decoded
                del outstanding[key]
                answers[key] = answer
                self._finished.add(key)
        return answers

    def _drain(self) -> list[bytes]:
        """Every datagram waiting on the socket that comes from the agent."""
        datagrams: list[bytes] = []
        while len(datagrams) < MAX_DRAIN:  # bounded: a flood cannot stall the deadline
            try:
                data, source = self.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return datagrams
            except OSError:
                # e.g. ICMP port unreachable surfacing as ECONNREFUSED: the agent
                # may be restarting, keep waiting until the deadline.
                return datagrams
            if source[:2] != self.peer:
                continue  # not from the agent's address and port: stray or spoofed
            datagrams.append(data)
        return datagrams

    def _ignore(self, reason: str) -> None:
        self.ignored += 1
        self.ignored_reason = reason
