"""Record: a small immutable value object whose fields are its class annotations.

Used instead of @dataclass for the check's value types: a dataclass generates and compiles
code when its module is imported (about 0.5 ms each, 2 ms for a wide one), and the check
is a process started every minute for every UPS, so import time is CPU time.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Record:
    """Fields = the annotated class attributes in order; a class value is the default.

    Record(a, b, c=...) like a dataclass; immutable; equal when type and values are.
    """

    _field_names: ClassVar[tuple[str, ...] | None] = None

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        names = cls.__dict__.get("_field_names")
        if names is None:
            ordered: dict[str, None] = {}
            for klass in reversed(cls.__mro__):
                for name, annotation in vars(klass).get("__annotations__", {}).items():
                    if "ClassVar" not in str(annotation):
                        ordered[name] = None
            names = tuple(ordered)
            type.__setattr__(cls, "_field_names", names)
        return names

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self.fields()
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__} takes at most {len(names)} values")
        values = dict(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name not in names or name in values:
                raise TypeError(f"{type(self).__name__}: unexpected or repeated field {name!r}")
            values[name] = value
        missing = [name for name in names if name not in values and not hasattr(type(self), name)]
        if missing:
            raise TypeError(f"{type(self).__name__} needs {', '.join(missing)}")
        self.__dict__.update(values)

    def values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.fields())

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.values() == other.values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.values()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.fields())
        return f"{type(self).__name__}({shown})"
