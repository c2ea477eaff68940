"""What the demo prints: time-stamped progress lines, the handler's SCVMM actions from
its log file, and SCVMM's view of hosts and VMs whenever it changes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from check_dell_ups.demo_world import maintenance_flags, scvmm_view


class Narrator:
    """Readable progress lines: wall clock, seconds since the start, the message."""

    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self.started = time.monotonic()
        self.write = write or self._print

    @staticmethod
    def _print(text: str) -> None:
        print(text, flush=True)

    def say(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        self.write(f"{time.strftime('%H:%M:%S')} +{elapsed:5.1f}s  {message}")

    def heading(self, title: str) -> None:
        self.write("")
        self.say(f"== {title} ==")

    def block(self, lines: list[str]) -> None:
        for line in lines:
            self.write(f"{'':20}{line}")


class HandlerLog:
    """The new lines of the handler's log_file that report SCVMM actions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def new_actions(self) -> list[str]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            handle.seek(self.offset)
            text = handle.read()
            self.offset = handle.tell()
        actions = []
        for line in text.splitlines():
            if " host=" not in line:
                continue
            message = line.split(" ups=", 1)[-1]  # drop the time stamp and pid
            actions.append(_shorten_job_ids(message.split(" ", 1)[-1]))
        return actions


def _shorten_job_ids(message: str) -> str:
    return " ".join(
        word[:12] + "..." if word.startswith("job=") and len(word) > 12 else word
        for word in message.split(" ")
    )


class ScvmmWatcher:
    """Prints the fake SCVMM's view whenever hosts or VMs changed."""

    def __init__(self, fake: Any, narrator: Narrator) -> None:
        self.fake = fake
        self.narrator = narrator
        self.last: list[str] | None = None

    def show(self, why: str, force: bool = False) -> None:
        snapshot = self.fake.snapshot()
        view = scvmm_view(snapshot)
        if force or view != self.last:
            self.narrator.say(f"SCVMM {why}:")
            self.narrator.block(view)
            self.last = view

    def flags(self) -> dict[str, bool]:
        return maintenance_flags(self.fake.snapshot())
