"""Reading a small file without surprises: bounded in size, never blocking on a FIFO or
a device, optionally never following a symlink. Shared by the config, the password file
and the state store (the handler runs unattended: a file that is not what it should be
gives one line, never a hang or a traceback)."""

from __future__ import annotations

import errno
import os
import stat


class UnreadableFileError(Exception):
    """One-line reason, without the path (the caller names the file)."""


def read_small_file(path: str | os.PathLike[str], limit: int, *,
                    follow_symlinks: bool = True) -> bytes:
    """The bytes of a regular file of at most limit bytes. FileNotFoundError passes
    through (a missing file often means 'empty'); everything else is UnreadableFileError.
    O_NONBLOCK: opening a FIFO would otherwise wait for a writer forever."""
    if "\0" in os.fspath(path):
        raise UnreadableFileError("the path contains a NUL character")
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as error:
        if error.errno == errno.ELOOP and not follow_symlinks:
            raise UnreadableFileError("it is a symbolic link: not followed") from None
        raise UnreadableFileError(error.strerror or str(error)) from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFileError("it is not a regular file: not read")
        if info.st_size > limit:
            raise UnreadableFileError(f"{info.st_size} bytes, more than {limit}: not read")
        chunks: list[bytes] = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        raw = b"".join(chunks)
        if len(raw) > limit:
            raise UnreadableFileError(f"it grew past {limit} bytes while read: not read")
        return raw
    except OSError as error:
        raise UnreadableFileError(error.strerror or str(error)) from None
    finally:
        os.close(descriptor)
