"""Write the man pages of the three programs from their own --help, with help2man.

    python tools/build_man_pages.py BIN_DIR OUT_DIR

BIN_DIR holds the installed programs (a venv's bin/), OUT_DIR receives NAME.1 for each.
help2man (Debian package help2man) reads `NAME --help` and `NAME --version`; it refuses
a program that exits non-zero, and the two plugins exit 3 (UNKNOWN) after --help and
--version as the Monitoring Plugins guidelines ask: each is run through a two-line
wrapper named like it that exits 0. One line per failure, exit 1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from importlib import import_module
from pathlib import Path

# program -> where its ProgramText lives (the man page's NAME line is its summary)
PROGRAMS = {
    "check_dell_ups": "check_dell_ups.cli:PROGRAM",
    "dell_ups_maintenance": "check_dell_ups.maintenance.cli:HELP",
    "check_dell_ups_readiness": "check_dell_ups.readiness.cli:HELP",
}


def summary(program: str) -> str:
    module, name = PROGRAMS[program].split(":")
    return getattr(import_module(module), name).summary


def build(bin_dir: Path, out_dir: Path) -> list[Path]:
    help2man = shutil.which("help2man")
    if help2man is None:
        raise SystemExit("build_man_pages: help2man is not installed "
                         "(apt-get install help2man)")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as wrappers:
        for program in PROGRAMS:
            real = bin_dir / program
            if not os.access(real, os.X_OK):
                raise SystemExit(f"build_man_pages: {real} is not an installed program")
            wrapper = Path(wrappers) / program
            wrapper.write_text(f'#!/bin/sh\n"{real}" "$@"\nexit 0\n')
            wrapper.chmod(0o755)
            page = out_dir / f"{program}.1"
            done = subprocess.run(
                [help2man, "--no-info", "--section=1", f"--name={summary(program)}",
                 "--source=check_dell_ups", f"--output={page}", str(wrapper)],
                capture_output=True, text=True, timeout=60, check=False)
            if done.returncode != 0:
                reason = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
                raise SystemExit(f"build_man_pages: {program}: {reason}")
            written.append(page)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: build_man_pages.py BIN_DIR OUT_DIR", file=sys.stderr)
        return 2
    for page in build(Path(argv[0]), Path(argv[1])):
        print(page)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
