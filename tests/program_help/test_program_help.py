"""--help and --version of the three programs as the Monitoring Plugins interface asks
(check_dell_ups/program_help.py), and the man pages help2man writes from them
(tools/build_man_pages.py)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from check_dell_ups import __version__
from check_dell_ups import cli as check_cli
from check_dell_ups.maintenance import cli as handler_cli
from check_dell_ups.readiness import cli as readiness_cli

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# program -> (its ProgramText, its parser, the exit code after --help/--version)
PROGRAMS = {
    "check_dell_ups": (check_cli.PROGRAM, check_cli.make_parser, 3),
    "check_dell_ups_readiness": (readiness_cli.HELP, readiness_cli.make_parser, 3),
    "dell_ups_maintenance": (handler_cli.HELP, handler_cli.build_parser, 0),
}


def run(program: str, *argv: str) -> subprocess.CompletedProcess[str]:
    if not (BIN / program).exists():
        pytest.skip(f"{program} is not installed")
    return subprocess.run([str(BIN / program), *argv], capture_output=True, text=True,
                          timeout=60, check=False)


def options_of(parser) -> list[str]:
    return [flag for action in parser._actions for flag in action.option_strings]


@pytest.mark.parametrize("program", PROGRAMS)
def test_version_is_one_line_with_the_plugin_exit_code(program: str) -> None:
    expected_code = PROGRAMS[program][2]
    for flag in ("-V", "--version"):
        result = run(program, flag)
        assert (result.returncode, result.stdout, result.stderr) == (
            expected_code, f"{program} v{__version__}\n", "")


@pytest.mark.parametrize("program", PROGRAMS)
def test_help_wins_over_every_other_option_even_bad_ones(program: str) -> None:
    expected_code = PROGRAMS[program][2]
    for argv in (["--help"], ["-h"], ["--port", "not-a-port", "-t", "-5", "--help"],
                 ["--no-such-option", "-h", "-V"]):
        result = run(program, *argv)
        assert result.returncode == expected_code, argv
        assert result.stdout.startswith(f"{program} v{__version__}\nCopyright"), argv
        assert result.stderr == ""


@pytest.mark.parametrize("program", PROGRAMS)
def test_help_lists_every_option_examples_and_fits_80_columns(program: str) -> None:
    text, make_parser, _ = PROGRAMS[program]
    shown = run(program, "--help").stdout
    for option in options_of(make_parser()):
        assert re.search(rf"(^|[ ,]){re.escape(option)}\b", shown, re.MULTILINE), option
    for heading in ("Usage: ", "Options:", "Examples:"):
        assert heading in shown
    for command, _ in text.examples:
        assert f"  {command}\n" in shown
    assert max(len(line) for line in shown.splitlines()) <= 79
    assert f"man {program}" in shown


def test_after_a_double_dash_help_is_a_value_not_a_request() -> None:
    text, code = check_cli.run(["-H", "ups1", "--", "--help"])
    assert code == 3 and text.startswith("DELL UPS UNKNOWN - bad arguments: ")


@pytest.mark.skipif(shutil.which("help2man") is None, reason="help2man is not installed")
def test_man_pages_are_written_from_the_help_and_render_cleanly(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, str(ROOT / "tools" / "build_man_pages.py"),
                            str(BIN), str(tmp_path)], capture_output=True, text=True,
                           timeout=300, check=False)
    assert built.returncode == 0, built.stderr
    for program, (text, make_parser, _) in PROGRAMS.items():
        page = tmp_path / f"{program}.1"
        # groff's own warnings (-ww) on the page source: none
        lint = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(page)],
                              capture_output=True, text=True, timeout=60, check=False)
        assert (lint.returncode, lint.stderr) == (0, ""), program
        rendered = subprocess.run(["groff", "-man", "-rHY=0", "-Tascii", "-P-cbou", str(page)],
                                  capture_output=True, text=True, timeout=60,
                                  check=True).stdout
        flat = " ".join(rendered.split())  # HY=0: no hyphenated line breaks
        assert f"{program} - {text.summary}" in flat
        for section in ("SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXAMPLES"):
            assert f"\n{section}\n" in rendered, (program, section)
        for option in options_of(make_parser()):
            assert option in flat, (program, option)


def test_an_uninstalled_program_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_man_pages.py"),
                             str(tmp_path), str(tmp_path / "out")], capture_output=True,
                            text=True, timeout=60, check=False)
    if shutil.which("help2man") is None:
        assert "help2man is not installed" in result.stderr
    else:
        assert result.stderr == f"build_man_pages: {tmp_path}/check_dell_ups is not an " \
                                "installed program\n"
    assert result.returncode == 1


def test_an_abbreviation_argparse_finds_ambiguous_is_no_request() -> None:
    # --ver is --verbose or --version for the check: argparse's own error, not the version.
    text, code = check_cli.run(["--ver"])
    assert code == 3 and text.startswith("DELL UPS UNKNOWN - bad arguments: ambiguous option")
    assert check_cli.run(["--vers"]) == (f"check_dell_ups v{__version__}\n", 3)
