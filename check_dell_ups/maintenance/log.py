"""Where every decision and every SCVMM action goes: syslog and log_file.

One line per entry, with the UPS, host and job as key=value fields so they can be
grepped. Logging never stops the handler: a log file it cannot open is reported once in
the summary, a missing syslog socket is ignored.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
from pathlib import Path

PROGRAM = "dell_ups_maintenance"
_SYSLOG_SOCKETS = ("/dev/log", "/var/run/syslog")


class HandlerLog:
    def __init__(self, log_file: str | None, *, use_syslog: bool = True,
                 prefix: str = "") -> None:
        self.problem: str | None = None
        self.prefix = prefix  # e.g. "dry-run: "
        self._logger = logging.getLogger(f"{PROGRAM}.{id(self)}")
        self._logger.setLevel(logging.INFO)
        self._logger.propagate = False
        self._handlers: list[logging.Handler] = []
        # Without any handler, logging would fall back to stderr ("lastResort").
        self._attach(logging.NullHandler())
        if log_file:
            self._add_file(log_file)
        if use_syslog:
            self._add_syslog()

    def _add_file(self, log_file: str) -> None:
        try:
            Path(log_file).parent.mkdir(mode=0o750, parents=True, exist_ok=True)
            # Create it private before logging.FileHandler opens it for appending.
            descriptor = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            os.close(descriptor)
            handler: logging.Handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as error:
            self.problem = f"log_file {log_file} unusable: {error.strerror or error}"
            return
        handler.setFormatter(logging.Formatter(
            f"%(asctime)s {PROGRAM}[{os.getpid()}] %(levelname)s %(message)s",
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        ))
        self._attach(handler)

    def _add_syslog(self) -> None:
        for address in _SYSLOG_SOCKETS:
            if not os.path.exists(address):
                continue
            try:
                handler = logging.handlers.SysLogHandler(
                    address=address, facility=logging.handlers.SysLogHandler.LOG_DAEMON)
            except OSError:
                continue
            handler.setFormatter(logging.Formatter(f"{PROGRAM}[{os.getpid()}]: %(message)s"))
            self._attach(handler)
            return

    def _attach(self, handler: logging.Handler) -> None:
        self._logger.addHandler(handler)
        self._handlers.append(handler)

    def info(self, message: str, *, ups: str | None = None, host: str | None = None,
             job: str | None = None) -> None:
        self._emit(logging.INFO, message, ups, host, job)

    def error(self, message: str, *, ups: str | None = None, host: str | None = None,
              job: str | None = None) -> None:
        self._emit(logging.ERROR, message, ups, host, job)

    def _emit(self, level: int, message: str, ups: str | None, host: str | None,
              job: str | None) -> None:
        fields = [f"{key}={value}" for key, value in (("ups", ups), ("host", host),
                                                       ("job", job)) if value]
        line = " ".join([*fields, self.prefix + " ".join(message.split())])
        with contextlib.suppress(Exception):  # logging must never break the handler
            self._logger.log(level, line)
        for handler in self._handlers:
            # A FileHandler that could not write (disk full) says so once, in the summary.
            stream = getattr(handler, "stream", None)
            if stream is not None and self.problem is None:
                try:
                    stream.flush()
                except OSError as error:
                    self.problem = f"log_file unusable: {error.strerror or error}"

    def close(self) -> None:
        for handler in self._handlers:
            self._logger.removeHandler(handler)
            # Closing flushes: on a full disk that raises ENOSPC, which must not turn a
            # call whose SCVMM work was done into "internal error".
            try:
                handler.close()
            except Exception as error:  # logging never breaks the handler
                self.problem = self.problem or (
                    f"log_file unusable: {getattr(error, 'strerror', None) or error}")
        self._handlers.clear()
