"""The durable state in state_dir: one JSON file per UPS and per host, and a lock.

  state_dir/events.lock        held for milliseconds: read, decide, write one UPS record
  state_dir/locks/<host>.lock  held by the one handler that works on that host in SCVMM
  state_dir/lock               the old whole-store lock (kept for tools that use it)
  state_dir/ups/<name>.json    UpsRecord (the name percent-encoded into a safe file name)
  state_dir/ups/<name>.reserve the same record, rewritten in place when the disk is full
  state_dir/hosts/<host>.json  HostRecord (host names are validated DNS names)

Writes are atomic (temp file, fsync, rename, fsync of the directory), so a handler
killed at any moment leaves either the old or the new file; temp files a kill left
behind are removed by the next writer. Files are opened without following symlinks
and read only up to MAX_STATE_BYTES. A file that cannot be parsed is copied aside
(hard-linked: costs no space on a full disk), never overwritten, and reported as
CorruptStateError.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from check_dell_ups.maintenance.clock import Anchor
from check_dell_ups.maintenance.files import UnreadableFileError, read_small_file
from check_dell_ups.maintenance.records import HostRecord, RecordError, UpsRecord

FORMAT_VERSION = 1
_FILE_MODE = 0o640
_DIR_MODE = 0o750
# A state record is a few KiB; anything much larger is damage, not state.
MAX_STATE_BYTES = 1 << 20
# Most file systems cap a name at 255 bytes; ".json.corrupt-<stamp>-<digest>" and the
# temp file's ".<name>.XXXXXXXX.tmp" must fit around the encoded name.
MAX_ENCODED_NAME = 255 - len(".json.corrupt-20260101T000000Z-0123456789ab") - 1
# A temp file older than this is a leftover of a killed writer (a live one renames its
# temp file within milliseconds).
_STALE_TEMP_SECONDS = 60.0
_RESERVE_BYTES = 4096

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

    # --- the clock anchor (see clock.py) -------------------------------------------------

    def load_clock_anchor(self) -> Anchor | None:
        """None when missing or unreadable: a new anchor is then taken (harmless)."""
        try:
            raw = read_state_file(self.root / "clock.json")
            return Anchor.from_json(json.loads(raw.decode("utf-8"))) if raw else None
        except (StateError, *_PARSE_ERRORS):
            return None

    def save_clock_anchor(self, anchor: Anchor) -> None:
        if self.dry_run:
            return
        self._make_dir(self.root)
        try:
            atomic_write(self.root / "clock.json",
                         (json.dumps(anchor.to_json()) + "\n").encode())
        except OSError as error:
            raise StateError(f"cannot write {self.root / 'clock.json'}: "
                             f"{error.strerror or error}") from None

    # --- locking -------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, wait_seconds: float) -> Iterator[None]:
        """Hold the whole-store lock; wait at most wait_seconds for it."""
        self._make_dir(self.root)
        descriptor = _take_lock(self.lock_path, time.monotonic() + max(0.0, wait_seconds))
        if descriptor is None:
            raise LockTimeoutError(
                f"another dell_ups_maintenance held {self.lock_path} for more than "
                f"{wait_seconds:.0f}s; nothing done (the next call resumes)")
        try:
            yield
        finally:
            os.close(descriptor)  # closing releases the flock

    @contextlib.contextmanager
    def events_locked(self, wait_seconds: float) -> Iterator[None]:
        """Serialise the read-decide-write of UPS records. Held for file I/O only (never
        while SCVMM is asked anything), so it is never busy for long."""
        self._make_dir(self.root)
        path = self.root / "events.lock"
        descriptor = _take_lock(path, time.monotonic() + max(0.0, wait_seconds))
        if descriptor is None:
            raise LockTimeoutError(f"{path} busy for more than {wait_seconds:.0f}s")
        try:
            yield
        finally:
            os.close(descriptor)

    @contextlib.contextmanager
    def hosts_locked(self, hosts: Iterable[str],
                     wait_seconds: float) -> Iterator[tuple[list[str], list[str]]]:
        """Lock each host for SCVMM work: yields (locked, busy). A host busy with
        another handler is left to it: that handler finishes what it started, and what
        it could not see (an event stored meanwhile) is finished by --retry-pending."""
        directory = self.root / "locks"
        self._make_dir(directory)
        deadline = time.monotonic() + max(0.0, wait_seconds)
        held: list[int] = []
        locked: list[str] = []
        busy: list[str] = []
        try:
            # Sorted: two handlers never wait on each other in opposite orders.
            for host in sorted(set(hosts)):
                descriptor = _take_lock(directory / f"{_safe_name(host)}.lock", deadline)
                if descriptor is None:
                    busy.append(host)
                else:
                    held.append(descriptor)
                    locked.append(host)
            yield locked, busy
        finally:
            for descriptor in held:
                os.close(descriptor)

    # --- records -------------------------------------------------------------------------

    def load_host(self, host: str, *, keep_aside: bool = True) -> HostRecord:
        return self._load(self.host_path(host), HostRecord.from_json, HostRecord, keep_aside)

    def save_ups(self, ups: str, record: UpsRecord) -> None:
        """The UPS record is the event: when the disk is full it still goes into the
        reserve file, preallocated while there was space and rewritten in place."""
        path = self.ups_path(ups)
        document = {"ups": ups, "record": record.to_json()}
        try:
            self._save(path, document)
        except StateError as error:
            if self.dry_run or not self._save_reserve(path, document):
                raise
            self.reserve_note = f"{error}; the event was kept in {_reserve_path(path)}"
            return
        self._ensure_reserve(path)

    def _blank_reserve(self, descriptor: int) -> None:
        if os.pread(descriptor, 16, 0).strip():
            os.pwrite(descriptor, b" " * 16, 0)
            os.fsync(descriptor)

    def load_ups(self, ups: str, *, keep_aside: bool = True) -> UpsRecord:
        record = self._load(self.ups_path(ups), UpsRecord.from_json, UpsRecord, keep_aside)
        # A valid reserve is newer than the file: it is blanked after every good write.
        reserved = self._load_reserve(self.ups_path(ups))
        return reserved if reserved is not None else record

    # Set when a UPS record went to its reserve (a full disk): the summary says so.
    reserve_note: str | None = None

    def _ensure_reserve(self, path: Path) -> None:
        """Preallocate the reserve while there is space (once per UPS)."""
        reserve = _reserve_path(path)
        with contextlib.suppress(OSError):
            descriptor = os.open(reserve, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW
                                 | os.O_CLOEXEC, _FILE_MODE)
            try:
                if os.fstat(descriptor).st_size < _RESERVE_BYTES:
                    os.posix_fallocate(descriptor, 0, _RESERVE_BYTES)
                self._blank_reserve(descriptor)  # the file is newer now
            finally:
                os.close(descriptor)

    def _save_reserve(self, path: Path, document: dict[str, Any]) -> bool:
        """Overwrite the preallocated reserve in place: length, CRC, JSON. A torn write
        fails the CRC and is ignored (the .json file then holds the last good record)."""
        body = json.dumps({"version": FORMAT_VERSION, **document}, sort_keys=True).encode()
        frame = f"{len(body):08x}{zlib.crc32(body):08x}".encode() + body
        if len(frame) > _RESERVE_BYTES:
            return False
        try:
            descriptor = os.open(_reserve_path(path), os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            os.pwrite(descriptor, frame.ljust(_RESERVE_BYTES, b" "), 0)
            os.fsync(descriptor)
            return True
        except OSError:
            return False
        finally:
            os.close(descriptor)

    def _load_reserve(self, path: Path) -> UpsRecord | None:
        try:
            raw = read_state_file(_reserve_path(path))
        except StateError:
            return None
        if not raw or not raw.strip():
            return None
        try:
            length, crc = int(raw[:8], 16), int(raw[8:16], 16)
            body = raw[16:16 + length]
            if len(body) != length or zlib.crc32(body) != crc:
                return None
            return UpsRecord.from_json(_document_record(body))
        except _PARSE_ERRORS:
            return None

    def load_all(self, ups_names: Iterable[str], hosts: Iterable[str]) -> tuple[
            dict[str, UpsRecord | None], dict[str, HostRecord], list[str]]:
        """Every UPS and host record (--retry-pending's input), and a line per file that
        could not be read (a UPS then counts as None, a host is left out)."""
        errors: list[str] = []
        power: dict[str, UpsRecord | None] = {}
        for name in ups_names:
            try:
                power[name] = self.load_ups(name)
            except StateError as error:
                errors.append(str(error))
                power[name] = None
        records: dict[str, HostRecord] = {}
        for host in hosts:
            try:
                records[host] = self.load_host(host)
            except StateError as error:
                errors.append(str(error))
        return power, records, errors

    def save_host(self, host: str, record: HostRecord) -> None:
        self._save(self.host_path(host), {"host": host, "record": record.to_json()})

    def _load(self, path: Path, parse: Callable[[Any], Record], empty: Callable[[], Record],
              keep_aside: bool) -> Record:
        raw = read_state_file(path)
        if raw is None:
            return empty()
        try:
            return parse(_document_record(raw))
        except _PARSE_ERRORS as error:
            reason = _reason(error)
            where = ""
            if keep_aside and not self.dry_run:
                where = f"; copied to {self._copy_aside(path, raw)}"
            raise CorruptStateError(f"state file {path} is corrupt ({reason}){where}") from None

    def _copy_aside(self, path: Path, raw: bytes) -> str:
        """Keep the bad file for a human; one copy per distinct content. A hard link: it
        needs no space (the disk may be full) and keeps the inode when the file is later
        replaced; a copy of the bytes read where linking is not possible."""
        digest = hashlib.sha256(raw).hexdigest()[:12]
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        for existing in path.parent.glob(f"{path.name}.corrupt-*-{digest}"):
            return str(existing)
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{digest}")
        try:
            os.link(path, target, follow_symlinks=False)
        except OSError:
            try:
                atomic_write(target, raw)
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
            remove_stale_temp_files(path.parent)
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


def read_state_file(path: Path, limit: int = MAX_STATE_BYTES) -> bytes | None:
    """A state file's bytes, None when it does not exist. Never follows a symlink (a
    link to /etc/shadow is refused, not read), never blocks on a FIFO or device, never
    reads more than limit bytes. One-line CorruptStateError otherwise."""
    try:
        return read_small_file(path, limit, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except UnreadableFileError as error:
        if "more than" in str(error):
            raise CorruptStateError(f"state file {path} is corrupt ({error})") from None
        raise CorruptStateError(f"state file {path} cannot be read: {error}") from None


def remove_stale_temp_files(directory: Path, now: float | None = None) -> list[str]:
    """Remove the .NAME.json.XXXX.tmp files a killed writer left (never a live one's)."""
    removed: list[str] = []
    now = time.time() if now is None else now
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False) and \
                    now - entry.stat(follow_symlinks=False).st_mtime > _STALE_TEMP_SECONDS:
                os.unlink(entry.path)
                removed.append(entry.name)
    return removed


def name_fits(name: str) -> bool:
    """Whether a UPS or host name, encoded as the store encodes it, fits a file name."""
    return "\0" not in name and len(quote(name, safe="-_.@").encode()) <= MAX_ENCODED_NAME


# What a damaged file can make the parser raise: bad UTF-8, bad JSON, an integer of
# thousands of digits (ValueError), nesting thousands deep (RecursionError).
_PARSE_ERRORS = (ValueError, RecursionError, RecordError)


def _document_record(raw: bytes) -> Any:
    document = json.loads(raw.decode("utf-8"))
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
        raise RecordError(f"not a version {FORMAT_VERSION} state document")
    return document.get("record")


def _reason(error: BaseException) -> str:
    if isinstance(error, RecursionError):
        return "nested too deeply"
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]


def _reserve_path(path: Path) -> Path:
    return path.with_suffix(".reserve")


def _take_lock(path: Path, deadline: float) -> int | None:
    """An flock'd descriptor of path, or None when still busy at the deadline."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                             _FILE_MODE)
    except OSError as error:
        raise StateError(f"cannot open lock file {path}: {error.strerror or error}") from None
    pause = 0.02
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return descriptor
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                os.close(descriptor)
                raise StateError(f"cannot lock {path}: {error.strerror or error}") from None
        if time.monotonic() >= deadline:
            os.close(descriptor)
            return None
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())) or 0.001)
        pause = min(pause * 2, 0.25)


def _safe_name(name: str) -> str:
    if "\0" in name:
        raise StateError(f"name {name!r} contains a NUL character")
    encoded = quote(name, safe="-_.@")
    if len(encoded.encode()) > MAX_ENCODED_NAME:
        raise StateError(f"name {name[:40]!r}... is too long for a state file name "
                         f"({len(encoded)} bytes encoded, at most {MAX_ENCODED_NAME})")
    return encoded if encoded not in (".", "..") else encoded.replace(".", "%2E")
