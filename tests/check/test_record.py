"""Record: the check's light value type."""

from __future__ import annotations

from typing import ClassVar

import pytest

from check_dell_ups.record import Record


class Point(Record):
    x: int
    y: int = 0
    label: str | None = None
    registry: ClassVar[dict[str, int]] = {}


class Point3(Point):
    z: int = 0


def test_fields_in_order_defaults_and_inheritance() -> None:
    assert Point.fields() == ("x", "y", "label")
    assert Point3.fields() == ("x", "y", "label", "z")
    point = Point(1, label="a")
    assert (point.x, point.y, point.label) == (1, 0, "a")
    assert Point3(1, 2, z=3).values() == (1, 2, None, 3)


def test_immutable_equal_hashable_and_readable() -> None:
    point = Point(1, 2)
    with pytest.raises(AttributeError):
        point.x = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.y
    assert point == Point(1, 2) and point != Point(2, 1) and point != Point3(1, 2)
    assert hash(point) == hash(Point(1, 2))
    assert repr(point) == "Point(x=1, y=2, label=None)"


@pytest.mark.parametrize(("args", "kwargs"), [
    ((), {}), ((1, 2, "a", 4), {}), ((1,), {"x": 2}), ((1,), {"w": 2}),
])
def test_wrong_construction_is_a_type_error(args: tuple, kwargs: dict) -> None:
    with pytest.raises(TypeError):
        Point(*args, **kwargs)
