"""--extra-opts: options from an ini file's section, the Monitoring Plugins convention."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from check_dell_ups.cli import run
from check_dell_ups.extra_opts import ExtraOptsError, expand, parse

INI = """\
# secrets of the UPS checks, mode 0600
[check_dell_ups]
community = default-community

[ups-rack1]
community = rack#1-Secret
t = 7
   maintenance-timer = 600

; the v3 UPS
[ups-v3]
protocol = 3
secname = monitor
authpasswd = auth pass phrase
"""


@pytest.fixture
def ini(tmp_path: Path) -> Path:
    path = tmp_path / "snmp.ini"
    path.write_text(INI)
    path.chmod(0o600)
    return path


def test_a_section_becomes_arguments_before_the_command_line(ini: Path) -> None:
    argv = expand(["-H", "ups1", f"--extra-opts=ups-rack1@{ini}", "-t", "3"], "check_dell_ups")
    assert argv == ["--community=rack#1-Secret", "-t", "7", "--maintenance-timer=600",
                    "-H", "ups1", "-t", "3"]  # the command line comes last: it wins


def test_no_section_means_the_plugins_own(ini: Path) -> None:
    assert expand([f"--extra-opts=@{ini}"], "check_dell_ups") == [
        "--community=default-community"]


def test_an_unknown_section_falls_back_to_the_plugins_own(ini: Path) -> None:
    assert expand([f"--extra-opts=nope@{ini}"], "check_dell_ups") == [
        "--community=default-community"]


def test_values_keep_spaces_and_hashes(ini: Path) -> None:
    assert expand([f"--extra-opts=ups-v3@{ini}"], "check_dell_ups")[-1] == (
        "--authpasswd=auth pass phrase")


def test_the_default_file_from_mp_config_path(ini: Path) -> None:
    (ini.parent / "monitoring-plugins.ini").write_text(INI)
    (ini.parent / "monitoring-plugins.ini").chmod(0o600)
    argv = expand(["--extra-opts=ups-rack1"], "check_dell_ups",
                  environ={"MP_CONFIG_PATH": f"/nonexistent:{ini.parent}"})
    assert argv[0] == "--community=rack#1-Secret"


@pytest.mark.parametrize(("text", "reason"), [
    ("community = x\n", "an option before any [section]"),
    ("[s]\ncommunity\n", "not a 'name = value' line"),
    ("[s]\n= x\n", "not a 'name = value' line"),
    ("[s\n", "not a [section] line"),
])
def test_malformed_files_are_one_line_errors(text: str, reason: str) -> None:
    with pytest.raises(ExtraOptsError, match=re.escape(reason)):
        parse(text, "f.ini")


def test_a_file_others_may_read_is_refused(ini: Path) -> None:
    ini.chmod(0o644)
    output, code = run(["-H", "ups1", f"--extra-opts=ups-rack1@{ini}"])
    assert code == 3
    assert output == (f"DELL UPS UNKNOWN - --extra-opts: {ini} is accessible by others "
                      "(mode 0644): it holds secrets, chmod o-rwx\n")


@pytest.mark.parametrize("locator", ["nope@{dir}/missing.ini", "nothere@{ini}"])
def test_missing_file_or_sections_are_unknown_in_one_line(ini: Path, tmp_path: Path,
                                                          locator: str) -> None:
    ini.write_text("[other]\nt = 1\n")
    output, code = run(["-H", "ups1", "--extra-opts=" + locator.format(dir=tmp_path, ini=ini)])
    assert code == 3 and output.count("\n") == 1
    assert output.startswith("DELL UPS UNKNOWN - --extra-opts: ")


def test_a_fifo_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.ini"
    os.mkfifo(fifo, 0o600)
    output, code = run(["-H", "ups1", f"--extra-opts=@{fifo}"])
    assert code == 3 and "is not a regular file" in output


def test_bad_options_from_the_file_are_bad_arguments(ini: Path) -> None:
    ini.write_text("[check_dell_ups]\nfrobnicate = 1\n")
    output, code = run(["-H", "ups1", f"--extra-opts=@{ini}"])
    assert code == 3 and "unrecognized arguments: --frobnicate=1" in output
