"""The durable state in state_dir: one JSON file per UPS and per host, and a lock.

  state_dir/lock               fcntl.flock'd by every handler that reads SCVMM and acts
  state_dir/ups/<name>.json    UpsRecord (the name percent-encoded into a safe file name)
  state_dir/hosts/<host>.json  HostRecord (host names are validated DNS names)

Writes are atomic (temp file, fsync, rename, fsync of the directory), so a handler
killed at any moment leaves either the old or the new file. A file that cannot be
parsed is copied aside, never overwritten, and reported as CorruptStateError.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from check_dell_ups.maintenance.records import HostRecord, RecordError, UpsRecord

FORMAT_VERSION = 1
_FILE_MODE = 0o640
_DIR_MODE = 0o750

Record = TypeVar("Record", UpsRecord, HostRecord)


class StateError(Exception):
    """One-line reason the state cannot be used."""


class CorruptStateError(StateError):
    """A state file exists but cannot be read or parsed; it was copied aside."""


class LockTimeoutError(StateError):
    """Another handler held the lock for longer than we may wait."""


class StateStore:
    def __init__(self, state_dir: str | os.PathLike[str], *, dry_run: bool = False) -> None:
        self.root = Path(state_dir)
        self.dry_run = dry_run

    # --- paths ---------------------------------------------------------------------------

    def ups_path(self, ups: str) -> Path:
        return self.root / "ups" / f"{_safe_name(ups)}.json"

    def host_path(self, host: str) -> Path:
        return self.root / "hosts" / f"{_safe_name(host)}.json"

    @property
    def lock_path(self) -> Path:
        return self.root / "lock"

    # --- locking -------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, wait_seconds: float) -> Iterator[None]:
        """Hold the exclusive lock; wait at most wait_seconds for it."""
        self._make_dir(self.root)
        try:
            descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                                 _FILE_MODE)
        except OSError as error:
            raise StateError(f"cannot open lock file {self.lock_path}: "
                             f"{error.strerror or error}") from None
        try:
            deadline = time.monotonic() + max(0.0, wait_seconds)
            pause = 0.02
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as error:
                    if error.errno not in (errno.EAGAIN, errno.EACCES):
                        raise StateError(f"cannot lock {self.lock_path}: "
                                         f"{error.strerror or error}") from None
                if time.monotonic() >= deadline:
                    raise LockTimeoutError(
                        f"another dell_ups_maintenance held {self.lock_path} for more than "
                        f"{wait_seconds:.0f}s; nothing done (the next call resumes)"
                    )
                time.sleep(pause)
                pause = min(pause * 2, 0.25)
            yield
        finally:
            os.close(descriptor)  # closing releases the flock

    # --- records -------------------------------------------------------------------------

    def load_ups(self, ups: str, *, keep_aside: bool = True) -> UpsRecord:
        return self._load(self.ups_path(ups), UpsRecord.from_json, UpsRecord, keep_aside)

    def load_host(self, host: str, *, keep_aside: bool = True) -> HostRecord:
        return self._load(self.host_path(host), HostRecord.from_json, HostRecord, keep_aside)

    def save_ups(self, ups: str, record: UpsRecord) -> None:
        self._save(self.ups_path(ups), {"ups": ups, "record": record.to_json()})

    def save_host(self, host: str, record: HostRecord) -> None:
        self._save(self.host_path(host), {"host": host, "record": record.to_json()})

    def _load(self, path: Path, parse: Callable[[Any], Record], empty: Callable[[], Record],
              keep_aside: bool) -> Record:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return empty()
        except OSError as error:
            raise CorruptStateError(f"state file {path} cannot be read: "
                               f"{error.strerror or error}") from None
        try:
            document = json.loads(raw.decode("utf-8"))
            if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
                raise RecordError(f"not a version {FORMAT_VERSION} state document")
            return parse(document.get("record"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecordError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            where = ""
            if keep_aside and not self.dry_run:
                where = f"; copied to {self._copy_aside(path, raw)}"
            raise CorruptStateError(f"state file {path} is corrupt ({reason}){where}") from None

    def _copy_aside(self, path: Path, raw: bytes) -> str:
        """Keep the bad file for a human; one copy per distinct content."""
        digest = hashlib.sha256(raw).hexdigest()[:12]
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        for existing in path.parent.glob(f"{path.name}.corrupt-*-{digest}"):
            return str(existing)
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{digest}")
        try:
            shutil.copy2(path, target)
        except OSError as error:
            return f"nowhere ({error.strerror or error})"
        return str(target)

    def _save(self, path: Path, document: dict[str, Any]) -> None:
        if self.dry_run:
            return
        document = {"version": FORMAT_VERSION, **document}
        payload = (json.dumps(document, indent=1, sort_keys=True) + "\n").encode("utf-8")
        self._make_dir(path.parent)
        try:
            atomic_write(path, payload)
        except OSError as error:
            raise StateError(f"cannot write state file {path}: "
                             f"{error.strerror or error}") from None

    def _make_dir(self, directory: Path) -> None:
        try:
            directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        except OSError as error:
            raise StateError(f"cannot create state directory {directory}: "
                             f"{error.strerror or error}") from None


def atomic_write(path: Path, payload: bytes) -> None:
    """Write, fsync, rename over the old file, fsync the directory."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), _FILE_MODE)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _safe_name(name: str) -> str:
    encoded = quote(name, safe="-_.@")
    return encoded if encoded not in (".", "..") else encoded.replace(".", "%2E")
