"""docs/check.md documents every option and every alarm with the state the code gives it."""

from __future__ import annotations

from pathlib import Path

from check_dell_ups.alarms import DELL_ALARMS, UPS_MIB_ALARMS
from check_dell_ups.cli import make_parser

DOC = (Path(__file__).resolve().parents[2] / "docs" / "check.md").read_text()


def test_every_alarm_row_is_documented_with_its_state() -> None:
    for number, kind in UPS_MIB_ALARMS.items():
        row = f"| {number} | {kind.name} | {kind.problem} | {str(kind.state).upper()} |"
        assert row in DOC
    for number, kind in DELL_ALARMS.items():
        row = f"| {number} | {kind.name} | {kind.problem} | {str(kind.state).upper()} |"
        assert row in DOC


def test_every_option_is_documented() -> None:
    for action in make_parser()._actions:
        for option in action.option_strings:
            assert f"`{option}`" in DOC, option
