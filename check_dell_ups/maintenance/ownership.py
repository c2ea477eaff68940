"""Who may write the state: only the owner of state_dir.

A manual run as root once left root-owned 0640 state files behind, and every later call
by the Icinga user failed. The handler therefore refuses to write state as anybody but
the state directory's owner, and the readiness check reports the same condition.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def foreign_owner(state_dir: str | os.PathLike[str], uid: int | None = None) -> str | None:
    """One-line reason why this user must not write state in state_dir, or None.

    A state_dir that does not exist yet is no reason: whoever creates it owns it."""
    uid = os.geteuid() if uid is None else uid
    try:
        owner = Path(state_dir).stat().st_uid
    except FileNotFoundError:
        return None
    except OSError as error:
        return f"cannot stat state_dir {state_dir}: {error.strerror or error}"
    if owner == uid:
        return None
    return (f"state_dir {state_dir} belongs to {user_name(owner)}, this runs as "
            f"{user_name(uid)}: run it as {user_name(owner)} (e.g. sudo -u "
            f"{user_name(owner)} ...), state written by another user breaks later calls")
