"""Which requests read a set of scalars and table columns, and what the answers mean.

Shared by every SNMP version; a session only wraps PDUs into messages.
Round 1 sends a GET of all scalars and, for the columns, a GETBULK (v2c, v3) or
a GETNEXT (v1) together. Further rounds are needed only when:
- an SNMPv1 agent answers noSuchName: it names one bad varbind per answer (by
  error-index), which is dropped before the rest is asked again;
- a column has more rows than one GETBULK brought (BULK_REPETITIONS), or the
  agent truncated the GETBULK answer;
- SNMPv1, which has no GETBULK: one GETNEXT per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pysnmp.proto.rfc1905 import EndOfMibView

from .errors import SnmpAuthError, SnmpError, SnmpProtocolError
from .pdus import (
    AUTHORIZATION_ERROR,
    NO_SUCH_NAME,
    TOO_BIG,
    Response,
    build_get,
    build_get_bulk,
    build_get_next,
    oid_text,
    oid_tuple,
    protocol_module,
)
from .values import SnmpValue, to_python

# Rows asked per column per GETBULK: UPS tables have 1-3 lines and a few alarms;
# every repetition past a table's end costs decoding time for nothing.
BULK_REPETITIONS = 8


class Session(Protocol):
    version: str

    def exchange(self, pdus: list[Any]) -> list[Response]: ...


@dataclass
class _Column:
    prefix: tuple[int, ...]
    last: tuple[int, ...]
    rows: int = 0
    done: bool = False


def retrieve(
    session: Session, scalars: Sequence[str], columns: Sequence[str], max_rows: int
) -> dict[str, SnmpValue]:
    """Every scalar the agent has and up to max_rows rows under each column."""
    api = protocol_module(session.version)
    bulk = session.version != "1"
    result: dict[str, SnmpValue] = {}
    wanted_scalars = list(dict.fromkeys(scalars))
    scalar_batches = [wanted_scalars] if wanted_scalars else []
    walks = [] if max_rows <= 0 else [
        _Column(oid_tuple(column), oid_tuple(column)) for column in dict.fromkeys(columns)
    ]
    # Each round either drops a scalar or advances a column: this bounds the loop
    # even against an agent that misbehaves in a way the checks below miss.
    for _ in range(len(wanted_scalars) + len(walks) * max_rows + 3):
        active = [walk for walk in walks if not walk.done]
        if not scalar_batches and not active:
            return result
        pdus = [build_get(api, batch) for batch in scalar_batches]
        if active:
            oids = [oid_text(walk.last) for walk in active]
            if bulk:
                fewest = min(walk.rows for walk in active)
                pdus.append(build_get_bulk(oids, min(BULK_REPETITIONS, max_rows - fewest)))
            else:
                pdus.append(build_get_next(api, oids))
        responses = session.exchange(pdus)
        next_batches: list[list[str]] = []
        for batch, response in zip(scalar_batches, responses, strict=False):
            next_batches += _take_scalars(batch, response, result)
        scalar_batches = next_batches
        if active:
            _take_rows(active, responses[-1], result, max_rows)
    raise SnmpProtocolError("the agent never finished answering (request loop)")


def _take_scalars(
    batch: list[str], response: Response, result: dict[str, SnmpValue]
) -> list[list[str]]:
    """Store a GET answer; the batches still to ask."""
    if response.error_status == 0:
        if [oid for oid, _ in response.varbinds] != [oid_tuple(oid) for oid in batch]:
            raise SnmpProtocolError("the agent answered other OIDs than were asked")
        for oid, (_, value) in zip(batch, response.varbinds, strict=True):
            converted = to_python(value)
            if converted is not None:
                result[oid] = converted
        return []
    index = response.error_index
    if response.error_status == NO_SUCH_NAME and 1 <= index <= len(batch):
        rest = batch[: index - 1] + batch[index:]
        return [rest] if rest else []
    if response.error_status == TOO_BIG and len(batch) > 1:
        half = len(batch) // 2
        return [batch[:half], batch[half:]]
    raise _error(response, batch)


def _take_rows(
    active: list[_Column], response: Response, result: dict[str, SnmpValue], max_rows: int
) -> None:
    """Store a GETNEXT/GETBULK answer and move each column on (or end it)."""
    if response.error_status:
        index = response.error_index
        # SNMPv1 end of MIB view: noSuchName names the column that ran off the end.
        if response.error_status == NO_SUCH_NAME and 1 <= index <= len(active):
            active[index - 1].done = True
            return
        raise _error(response, [oid_text(walk.last) for walk in active])
    if not response.varbinds:
        raise SnmpProtocolError("the agent answered a table walk with no values")
    progressed = False
    width = len(active)
    for position, (oid, value) in enumerate(response.varbinds):
        walk = active[position % width]
        if walk.done:
            continue
        in_column = len(oid) > len(walk.prefix) and oid[: len(walk.prefix)] == walk.prefix
        # An OID that does not grow would make the walk loop: end the column.
        if not in_column or isinstance(value, EndOfMibView) or oid <= walk.last:
            walk.done = True
            continue
        progressed = True
        walk.last = oid
        walk.rows += 1
        converted = to_python(value)
        if converted is not None:
            result[oid_text(oid)] = converted
        if walk.rows >= max_rows:
            walk.done = True
    if not progressed:
        for walk in active:
            walk.done = True


def _error(response: Response, oids: list[str]) -> SnmpError:
    """The exception for an error-status that no retry can fix."""
    if response.error_status == AUTHORIZATION_ERROR:
        return SnmpAuthError(
            "the agent denied read access (authorizationError): check the access rights "
            "of the SNMPv3 user or community, and the security level"
        )
    index = response.error_index
    where = f" for {oids[index - 1]}" if 1 <= index <= len(oids) else ""
    return SnmpProtocolError(f"the agent answered {response.error_name()}{where}")
