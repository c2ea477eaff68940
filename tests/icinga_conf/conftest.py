"""Fixtures for the tests of the shipped Icinga 2 / Nagios 4 configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from check_dell_ups.icinga_sandbox import conf_dir

RECORDER = """\
#!/bin/sh
# Records how the monitoring core called it: argv, the secret variables, the parent's argv.
{{
  printf 'ARGV'; for arg in "$@"; do printf ' [%s]' "$arg"; done; printf '\\n'
  printf 'ENV community=[%s] auth=[%s] priv=[%s]\\n' \\
    "$DELL_UPS_COMMUNITY" "$DELL_UPS_AUTH_PASSPHRASE" "$DELL_UPS_PRIV_PASSPHRASE"
  printf 'PARENT '; tr '\\0' ' ' < /proc/$PPID/cmdline; printf '\\n'
}} >> {log}
echo "DELL UPS OK - recorded | on_battery=0s"
exit 0
"""


@pytest.fixture
def icinga_conf() -> Path:
    return conf_dir()


@pytest.fixture
def recording_plugins(tmp_path: Path) -> tuple[Path, Path]:
    """A plugin directory whose check_dell_ups and dell_ups_maintenance record their
    calls in a log: (directory, log)."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    log = tmp_path / "calls.log"
    for name in ("check_dell_ups", "dell_ups_maintenance"):
        program = plugins / name
        program.write_text(RECORDER.format(log=log))
        program.chmod(0o755)
    return plugins, log
