"""MIB knowledge as declarative tables.

Each MIB module (ups_mib, dell_mib) is a tuple of `Field`s: where a value lives, what it
is called here, how to scale it, which raw values mean "not reported" or "at least".
`decode()` is the one generic routine that turns an agent's answer into plain values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from check_dell_ups.record import Record

# The raw values real cards send for "no sensor / no value" on numeric objects.
NO_VALUE = frozenset({-1, -2147483648, 2147483647, 4294967295})


class Field(Record):
    """One object of a MIB and how to read it.

    kind: "number" (scaled int/float), "text", "enum" (int -> meaning) or "oid".
    line: the input/output line number of a per-line row object, else None.
    not_reported: raw values that mean the agent has no value (besides NO_VALUE).
    saturated: raw values that mean "at least this much" (a counter that ran full).
    valid: (low, high) range of the scaled value; outside it the value is not reported.
    whole_units_below: some firmwares send whole units instead of the MIB's tenths; a raw
        value below this is taken as already in whole units (e.g. 50 Hz, not 5.0 Hz).
    """

    name: str
    oid: str
    kind: str = "number"
    scale: float = 1.0
    unit: str = ""
    enum: Mapping[int, str] = {}
    not_reported: frozenset[int] = frozenset()
    saturated: frozenset[int] = frozenset()
    valid: tuple[float, float] | None = None
    whole_units_below: float | None = None
    tenths_from: float | None = None
    line: int | None = None

    @property
    def key(self) -> str:
        """Name in the decoded dict: "name" or "name.LINE" for per-line objects."""
        return self.name if self.line is None else f"{self.name}.{self.line}"


def per_line(name: str, column_oid: str, lines: int = 3, **options: object) -> tuple[Field, ...]:
    """The fixed row objects column_oid.1 .. column_oid.LINES (asked for by GET)."""
    return tuple(
        Field(name=name, oid=f"{column_oid}.{line}", line=line, **options)  # type: ignore[arg-type]
        for line in range(1, lines + 1)
    )


class Decoded:
    """Plain values of one MIB: key -> value, plus the keys whose value is a lower bound."""

    def __init__(self) -> None:
        self.values: dict[str, object] = {}
        self.at_least: set[str] = set()

    def get(self, key: str) -> object | None:
        return self.values.get(key)


def as_number(raw: object) -> float | int | None:
    """An SNMP value as a number: ints pass, numeric OctetStrings are parsed."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return raw if math.isfinite(raw) else None
    if isinstance(raw, (str, bytes)):
        text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
        text = text.strip().rstrip("\x00").strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def as_text(raw: object) -> str | None:
    """An SNMP value as one line of printable text; empty text is no value."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, (int, float)):
        raw = str(raw)
    if not isinstance(raw, str):
        return None
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in raw).split())
    return text or None


def _decode_number(spec: Field, raw: object,
                   in_tenths: bool = False) -> tuple[float | int | None, bool]:
    number = as_number(raw)
    if number is None:
        return None, False
    if number in NO_VALUE or number in spec.not_reported:
        return None, False
    at_least = number in spec.saturated
    scale = spec.scale * 0.1 if in_tenths else spec.scale
    if spec.whole_units_below is not None and abs(number) < spec.whole_units_below:
        scale = 1.0
    value = number * scale if scale != 1.0 else number
    if isinstance(value, float) and value == int(value) and abs(value) < 2**53:
        value = int(value)
    elif isinstance(value, float):
        value = round(value, 3)
    if spec.valid is not None and not spec.valid[0] <= value <= spec.valid[1]:
        return None, False
    return value, at_least


def decode(table: Sequence[Field], raw: Mapping[str, object]) -> Decoded:
    """Read every field of `table` out of an agent's answer (OID -> value).

    Never raises: a value of an unexpected type or out of range is simply not reported.
    """
    decoded = Decoded()
    in_tenths = _objects_in_tenths(table, raw)
    for spec in table:
        if spec.oid not in raw:
            continue
        value = raw[spec.oid]
        if spec.kind == "number":
            number, at_least = _decode_number(spec, value, spec.name in in_tenths)
            if number is None:
                continue
            decoded.values[spec.key] = number
            if at_least:
                decoded.at_least.add(spec.key)
        elif spec.kind == "enum":
            number = as_number(value)
            if number is None or number != int(number):
                continue
            meaning = spec.enum.get(int(number))
            if meaning is not None:
                decoded.values[spec.key] = meaning
        elif spec.kind == "text":
            text = as_text(value)
            if text is not None:
                decoded.values[spec.key] = text
        elif spec.kind == "oid":
            text = as_text(value)
            if text is not None:
                decoded.values[spec.key] = text.lstrip(".")
    return decoded


def _objects_in_tenths(table: Sequence[Field], raw: Mapping[str, object]) -> set[str]:
    """Names of the `tenths_from` objects whose first non-zero line says "tenths"."""
    decided: dict[str, bool] = {}
    for spec in sorted((s for s in table if s.tenths_from is not None),
                       key=lambda s: s.line or 0):
        if spec.name in decided or spec.oid not in raw:
            continue
        number = as_number(raw[spec.oid])
        if number is None or number == 0 or number in NO_VALUE or number in spec.not_reported:
            continue
        decided[spec.name] = abs(number) >= spec.tenths_from  # type: ignore[operator]
    return {name for name, tenths in decided.items() if tenths}


def scalar_oids(*tables: Sequence[Field]) -> list[str]:
    """Every OID of the tables, for one GET (per-line objects included)."""
    seen: dict[str, None] = {}
    for table in tables:
        for spec in table:
            seen.setdefault(spec.oid, None)
    return list(seen)
