"""The shipped Nagios 4 configuration, checked by a real `nagios4 -v` and a real run."""

from __future__ import annotations

import re
import shutil
import textwrap
import time
from pathlib import Path

import pytest

from check_dell_ups.icinga_sandbox import NagiosSandbox

pytestmark = pytest.mark.skipif(shutil.which("nagios4") is None,
                                reason="nagios4 is not installed")

ALL_SHIPPED = ("dell_ups_commands.cfg", "dell_ups_templates.cfg", "dell_ups_services.cfg",
               "dell_ups_example_host.cfg")


def definitions(text: str, kind: str) -> list[dict[str, str]]:
    found = []
    for body in re.findall(rf"define {kind} \{{(.*?)\}}", text, re.S):
        directives = {}
        for line in body.splitlines():
            parts = line.strip().split(None, 1)
            if parts and not parts[0].startswith("#"):
                directives[parts[0]] = parts[1] if len(parts) > 1 else ""
        found.append(directives)
    return found


def test_shipped_config_with_the_example_host_passes_nagios4_v(tmp_path: Path):
    sandbox = NagiosSandbox(tmp_path, "", config_files=ALL_SHIPPED)
    output = sandbox.validate()
    assert "Things look okay" in output
    assert "Total Warnings: 0" in output
    assert "Checked 3 services." in output  # ups, ups-maintenance, ups-readiness


def test_automation_template_is_volatile_with_the_handler(icinga_conf: Path):
    templates = definitions((icinga_conf / "nagios" / "dell_ups_templates.cfg").read_text(),
                            "service")
    by_name = {template["name"]: template for template in templates}
    automation = by_name["dell-ups-maintenance"]
    assert automation["is_volatile"] == "1"
    assert automation["max_check_attempts"] == "1"
    assert automation["notifications_enabled"] == "0"
    assert automation["event_handler_enabled"] == "1"
    assert automation["event_handler"] == "dell_ups_maintenance"
    assert automation["check_command"] == by_name["dell-ups"]["check_command"]
    assert by_name["dell-ups"]["notifications_enabled"] == "1"
    assert "event_handler" not in by_name["dell-ups"]


def test_secrets_are_never_macros_in_a_command_line(icinga_conf: Path):
    commands = definitions((icinga_conf / "nagios" / "dell_ups_commands.cfg").read_text(),
                           "command")
    for command in commands:
        line = command["command_line"]
        # $_HOSTDELL_UPS_COMMUNITY$ would put the value into argv; only the shell's
        # reference to the environment variable may appear.
        assert not re.search(r"\$_HOSTDELL_UPS_(COMMUNITY|AUTH|PRIV)", line)
    check = next(c for c in commands if c["command_name"] == "check_dell_ups")
    for variable in ("COMMUNITY", "AUTH_PASSPHRASE", "PRIV_PASSPHRASE"):
        assert f'DELL_UPS_{variable}="$$NAGIOS__HOSTDELL_UPS_{variable}"' in check["command_line"]


def test_a_real_nagios_passes_secrets_in_the_environment_only(
    tmp_path: Path, recording_plugins: tuple[Path, Path]
):
    plugins, calls = recording_plugins
    secrets = {"community": "Comm-4711-y", "auth": "Auth-4711-y", "priv": "Priv-4711-y"}
    objects = textwrap.dedent(f"""
        define host {{
            use                             dell-ups-host
            host_name                       ups-secret
            alias                           ups-secret
            address                         127.0.0.1
            contact_groups                  admins
            _DELL_UPS_COMMUNITY             {secrets['community']}
            _DELL_UPS_AUTH_PASSPHRASE       {secrets['auth']}
            _DELL_UPS_PRIV_PASSPHRASE       {secrets['priv']}
            _DELL_UPS_OPTIONS               -p 1161 --maintenance-timer 15
            _DELL_UPS_MAINTENANCE_CONFIG    /etc/example.toml
        }}
        define service {{
            use                             dell-ups-maintenance
            host_name                       ups-secret
            service_description             ups-maintenance
            check_interval                  1
            retry_interval                  1
            contact_groups                  admins
        }}
    """)
    sandbox = NagiosSandbox(tmp_path / "nagios", objects, plugins=plugins)
    with sandbox:
        deadline = time.monotonic() + 60
        # An OK result calls no handler in Nagios: wait for two checks.
        while _text(calls).count("ARGV") < 2:
            assert time.monotonic() < deadline, "Nagios ran no check"
            time.sleep(0.3)
    recorded = _text(calls)
    assert "ARGV [-H] [127.0.0.1] [-p] [1161] [--maintenance-timer] [15]" in recorded
    assert (f"ENV community=[{secrets['community']}] auth=[{secrets['auth']}] "
            f"priv=[{secrets['priv']}]") in recorded
    for secret in secrets.values():
        # Neither the plugin's argv nor that of the shell Nagios started it with.
        assert secret not in "\n".join(
            line for line in recorded.splitlines() if not line.startswith("ENV")
        )
    assert "PARENT /bin/sh -c DELL_UPS_COMMUNITY=" in recorded


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""
