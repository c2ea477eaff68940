"""The handler's clock: wall time that NTP cannot step.

Durations (time on battery, a job's age) and the order of events come from
CLOCK_BOOTTIME, which counts seconds since boot, suspend included, and which no one can
set. It is turned into wall time through an anchor kept in state_dir/clock.json: the
boot id and (wall time - boot time) at the first call of this boot. Within a boot the
handler's "now" is anchor + CLOCK_BOOTTIME, so a 90 s backward or 10 min forward step
of the system clock changes nothing; only across a reboot (a new boot id) is the wall
clock read again. Where CLOCK_BOOTTIME or a boot id is missing (not Linux) the wall
clock is used as before.

The price: timestamps this handler stores are off by whatever error the wall clock had
when the anchor was taken (NTP may step it right after boot); durations are right.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


@dataclass(frozen=True)
class Anchor:
    boot_id: str
    wall_minus_boottime: float  # seconds

    def to_json(self) -> dict[str, object]:
        return {"boot_id": self.boot_id, "wall_minus_boottime": self.wall_minus_boottime}

    @classmethod
    def from_json(cls, data: object) -> Anchor | None:
        if not isinstance(data, dict):
            return None
        boot_id, offset = data.get("boot_id"), data.get("wall_minus_boottime")
        if not isinstance(boot_id, str) or isinstance(offset, bool) \
                or not isinstance(offset, (int, float)) or not 0 < offset < 1e11:
            return None
        return cls(boot_id, float(offset))


def boottime() -> float | None:
    try:
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    except (AttributeError, OSError):
        return None


def boot_id(path: str = BOOT_ID_PATH) -> str | None:
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read(100).strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


class SteadyClock:
    """now() -> an aware UTC datetime that only moves forward within a boot."""

    def __init__(self, anchor: Anchor | None,
                 wall: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 read_boottime: Callable[[], float | None] = boottime) -> None:
        self.anchor = anchor
        self._wall = wall
        self._boottime = read_boottime

    def now(self) -> datetime:
        since_boot = self._boottime()
        if self.anchor is None or since_boot is None:
            return self._wall()
        return datetime.fromtimestamp(self.anchor.wall_minus_boottime + since_boot,
                                      timezone.utc)


def current_anchor(stored: Anchor | None, current_boot: str | None, wall: datetime,
                   since_boot: float | None) -> tuple[Anchor | None, bool]:
    """The anchor to use now, and whether it is new (to be stored). Pure."""
    if current_boot is None or since_boot is None:
        return None, False
    if stored is not None and stored.boot_id == current_boot:
        return stored, False
    return Anchor(current_boot, wall.timestamp() - since_boot), True
