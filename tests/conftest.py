"""Fixtures shared by every test folder. Folder-specific fixtures live in each
folder's own conftest.py."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
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


# snmpsim 1.2 imports pysmi only to print its version, without declaring it as a
# dependency: stand in for it when it is missing (with pysmi installed, pysnmp also
# attaches its MIB compiler, which none of our tests needs).
SNMPSIM_RUNNER = """
import sys, types
try:
    import pysmi
except ImportError:
    sys.modules["pysmi"] = types.SimpleNamespace(__version__="absent")
from snmpsim.commands.responder import main
sys.argv[0] = "snmpsim-command-responder"
sys.exit(main())
"""


@contextlib.contextmanager
def running_snmpsim(
    data_dir: Path,
    work_dir: Path,
    is_ready: Callable[[int], bool],
    extra_args: Sequence[str] = (),
) -> Iterator[int]:
    """Run a real snmpsim agent serving data_dir on a free UDP port of 127.0.0.1 and
    yield the port once is_ready(port) says it answers (at most 60 s); stop it after."""
    if importlib.util.find_spec("snmpsim") is None:
        pytest.skip("snmpsim is not installed (pip install -e .[test])")
    port = free_port(socket.SOCK_DGRAM)
    log_path = work_dir / "snmpsim.log"
    command = [
        sys.executable, "-c", SNMPSIM_RUNNER,
        f"--data-dir={data_dir}", f"--cache-dir={work_dir}",
        f"--agent-udpv4-endpoint=127.0.0.1:{port}", *extra_args,
    ]
    # snmpsim refuses to run as root (CI is root) unless told it may.
    env = dict(os.environ, SNMPSIM_ALLOW_ROOT="true")
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + 60
            while not is_ready(port):
                if process.poll() is not None:
                    raise RuntimeError(f"snmpsim exited: {log_path.read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError("snmpsim did not answer within 60 s")
                time.sleep(0.2)
            yield port
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture(scope="session")
def snmpsim_launcher() -> Callable[..., contextlib.AbstractContextManager[int]]:
    """running_snmpsim for the folders' conftest files (importlib mode cannot import
    this module, but fixtures reach every folder)."""
    return running_snmpsim


# ---- VMM's object model as evidence (docs/scvmm-objects, copied from the VMM module) -----

SCVMM_OBJECTS = REPO_ROOT / "docs" / "scvmm-objects"
_VMM = "Microsoft.SystemCenter.VirtualMachineManager"
# Base types whose properties a type inherits (docs/scvmm-objects/README.md: ClientObject
# declares ID and Name; Get-SCVirtualMachine returns VM, a VMBase).
VMM_BASES = {
    f"{_VMM}.Host": [f"{_VMM}.ClientObject"],
    f"{_VMM}.Task": [f"{_VMM}.ClientObject"],
    f"{_VMM}.VM": [f"{_VMM}.VMBase", f"{_VMM}.PhysicalObjectBase", f"{_VMM}.ClientObject"],
    f"{_VMM}.Remoting.ServerConnection": [],
}


class VmmEvidence:
    """The VMM module's declared types: properties with .NET types, and enums."""

    def __init__(self, folder: Path) -> None:
        self.properties: dict[str, dict[str, str]] = {}
        for name in ("host-properties.txt", "other-types-properties.txt"):
            current: dict[str, str] = {}
            for line in (folder / name).read_text(encoding="utf-8").splitlines():
                if line.startswith("== "):
                    current = self.properties.setdefault(line.split()[1], {})
                elif line.startswith("  ") and ": " in line:
                    prop, _, dotnet = line.strip().partition(": ")
                    current[prop] = dotnet
        self.enums: dict[str, dict[str, int]] = {}
        for line in (folder / "enums.txt").read_text(encoding="utf-8").splitlines():
            head, bracket, rest = line.partition(" [")
            if bracket and len(head.split()) == 2:
                import ast

                self.enums[head.split()[1]] = dict(ast.literal_eval("[" + rest))

    def type_properties(self, type_name: str) -> dict[str, str]:
        """A type's properties with those it inherits."""
        merged: dict[str, str] = {}
        for name in [*VMM_BASES[type_name][::-1], type_name]:
            merged.update(self.properties[name])
        return merged


@pytest.fixture(scope="session")
def vmm_evidence() -> VmmEvidence:
    return VmmEvidence(SCVMM_OBJECTS)
