"""Stopping the daemons the test sandboxes start (each in a process group of its own,
`start_new_session=True`): SIGTERM to the group, then SIGKILL to what outlives the grace.
One routine for the Graphite, MariaDB and Icinga Web 2 sandboxes and their browser."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence


def stop_groups(processes: Sequence[subprocess.Popen], grace: float = 15.0) -> None:
    """Stop every process's group: all are asked first, so their graces overlap."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
