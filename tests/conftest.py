"""Fixtures shared by every test folder. Folder-specific fixtures live in each
folder's own conftest.py."""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent


def installed_program(name: str) -> str:
    """Path of a console script installed beside this interpreter (the venv)."""
    candidate = BIN_DIR / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed: run 'pip install -e .[test]'")
    return found


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port that is free on 127.0.0.1 right now (TCP by default, UDP on request)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def clean_env() -> dict[str, str]:
    """The environment for a subprocess, without any of our secret variables."""
    env = dict(os.environ)
    for name in list(env):
        if name.startswith("DELL_UPS_"):
            del env[name]
    return env
