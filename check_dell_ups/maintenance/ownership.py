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
            f"{user_name(uid)}: run it as {user_name(owner)} (sudo -u {user_name(owner)} ...)")


def access_problems(state_dir: Path, uid: int | None = None, *,
                    writer: bool = True) -> list[str]:
    """Why the handler, running as uid, could not keep its state in state_dir: paths it
    cannot read or write, files of another user than state_dir's owner, and (writer)
    a state_dir that belongs to somebody else. The readiness check and --status report
    these."""
    uid = os.geteuid() if uid is None else uid
    who = user_name(uid)
    if not state_dir.exists():
        parent = next((p for p in state_dir.parents if p.exists()), Path("/"))
        if not os.access(parent, os.W_OK | os.X_OK):
            return [f"state_dir {state_dir} does not exist and {who} cannot create it "
                    f"in {parent}"]
        return []
    if not state_dir.is_dir():
        return [f"state_dir {state_dir} is not a directory"]
    problems = []
    refusal = foreign_owner(state_dir, uid)
    if refusal and writer:
        problems.append(refusal)
    owner = state_dir.stat().st_uid
    directories = [state_dir, state_dir / "ups", state_dir / "hosts"]
    files = [state_dir / "lock", state_dir / "maintenance.log"]
    for folder in directories[1:]:
        if folder.is_dir() and os.access(folder, os.R_OK | os.X_OK):
            files += sorted(folder.glob("*.json"))
    for path in directories + files:
        try:
            path_owner = path.stat().st_uid
        except OSError:
            continue  # absent: the handler creates it
        is_dir = path in directories
        # Directories, the lock and the log are written in place. Records are replaced
        # by rename; one that cannot be read is reported by whoever loads it.
        needed = os.R_OK | os.W_OK | (os.X_OK if is_dir else 0)
        if path.suffix != ".json" and not os.access(path, needed):
            problems.append(f"{path} is not readable and writable by {who}")
        elif path_owner != owner:
            problems.append(f"{path} belongs to {user_name(path_owner)}, not to "
                            f"{user_name(owner)} who owns state_dir (written by a manual "
                            f"run as {user_name(path_owner)}?): chown {user_name(owner)} it")
    return problems
