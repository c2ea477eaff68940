"""Failures that happen before the handler's log is open (bad arguments, a config that
cannot be read, state the user may not write) still go to syslog and to a log file.

Which log file: the one the config names, read as far as the file can be read (a typo
further down must not hide the log); else the default in the default state_dir. Only
into a directory this user owns: a root-owned log in the Icinga user's state_dir would
make every later call fail to log.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from check_dell_ups.maintenance.config import DEFAULT_STATE_DIR, MAX_CONFIG_BYTES
from check_dell_ups.maintenance.files import UnreadableFileError, read_small_file
from check_dell_ups.maintenance.log import HandlerLog
from check_dell_ups.maintenance.ownership import foreign_owner

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

FALLBACK_LOG_FILE = str(Path(DEFAULT_STATE_DIR) / "maintenance.log")


def log_file_of(config_path: str | None) -> str:
    """The log_file a config names (or implies through state_dir), else the default."""
    try:
        # Bounded and non-blocking like load_config: the config may be the very thing
        # that is wrong (a FIFO, binary, nested thousands deep).
        raw: Any = tomllib.loads(read_small_file(config_path or "", MAX_CONFIG_BYTES)
                                 .decode("utf-8"))
        maintenance = raw.get("maintenance", {})
        if isinstance(maintenance.get("log_file"), str) and maintenance["log_file"]:
            return maintenance["log_file"]
        if isinstance(maintenance.get("state_dir"), str) and maintenance["state_dir"].strip():
            return str(Path(maintenance["state_dir"]) / "maintenance.log")
    except (OSError, ValueError, AttributeError, RecursionError, UnreadableFileError):
        pass
    return FALLBACK_LOG_FILE


def record_failure(message: str, *, config_path: str | None = None,
                   log_file: str | None = None, ups: str | None = None) -> None:
    """One error line to syslog and, where this user may write it, to the log file."""
    target = log_file or log_file_of(config_path)
    directory = Path(target).parent
    usable = directory.is_dir() and foreign_owner(directory) is None
    log = HandlerLog(target if usable else None)
    try:
        log.error(message, ups=ups)
    finally:
        log.close()
