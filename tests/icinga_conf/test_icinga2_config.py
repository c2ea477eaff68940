"""The shipped Icinga 2 configuration, loaded by a real `icinga2 daemon -C`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from check_dell_ups.icinga_sandbox import IcingaSandbox

pytestmark = pytest.mark.skipif(shutil.which("icinga2") is None,
                                reason="icinga2 is not installed")


def dedent(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


DESIGNED_CHECK_VARIABLES = {
    "dell_ups_address", "dell_ups_port", "dell_ups_snmp_version", "dell_ups_community",
    "dell_ups_snmpv3_user", "dell_ups_snmpv3_seclevel", "dell_ups_snmpv3_auth_alg",
    "dell_ups_snmpv3_auth_passphrase", "dell_ups_snmpv3_priv_alg",
    "dell_ups_snmpv3_priv_passphrase", "dell_ups_maintenance_timer", "dell_ups_warning",
    "dell_ups_critical", "dell_ups_timeout",
    # Beyond DESIGN.md's list: secrets from an ini file for Director users (no env there).
    "dell_ups_extra_opts",
}
SECRET_VARIABLES = {
    "dell_ups_community", "dell_ups_snmpv3_auth_passphrase", "dell_ups_snmpv3_priv_passphrase",
}

GENERIC_HOST = 'template Host "generic-host" { check_command = "dummy" }\n'

HOSTS = dedent("""
    object Host "ups-a" {
        check_command = "dummy"
        address = "127.0.0.1"
        vars.dell_ups = true
        vars.dell_ups_automation_interval = 7s
    }
    object Host "ups-people-only" {
        check_command = "dummy"
        address = "127.0.0.1"
        vars.dell_ups = true
        vars.dell_ups_automation = false
    }
    object Host "not-a-ups" {
        check_command = "dummy"
        address = "127.0.0.1"
    }
    object Host "icinga-master" {
        check_command = "dummy"
        address = "127.0.0.1"
        vars.dell_ups_readiness = true
        vars.dell_ups_readiness_config = "/etc/check_dell_ups/site.toml"
    }
""")


def object_list(sandbox: IcingaSandbox, object_type: str) -> dict[str, dict]:
    """Objects as `icinga2 object list` prints them after a `daemon -C`."""
    output = subprocess.run(
        ["icinga2", "object", "list", "--type", object_type,
         f"-DCacheDir={sandbox.dirs['CacheDir']}"],
        env=sandbox.env, capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    objects: dict[str, dict] = {}
    current: dict | None = None
    for line in output.splitlines():
        header = re.match(r"^Object '([^']+)' of type", line)
        if header:
            current = objects.setdefault(header.group(1), {})
            continue
        attribute = re.match(r"^\s+\* (\w+) = (.*)$", line)
        if attribute and current is not None:
            current[attribute.group(1)] = attribute.group(2).strip()
    return objects


def test_shipped_config_and_example_host_validate(tmp_path: Path, icinga_conf: Path):
    example = (icinga_conf / "examples" / "dell_ups_hosts.conf").read_text()
    sandbox = IcingaSandbox(tmp_path, GENERIC_HOST + example + HOSTS)
    output = sandbox.validate()
    assert "Finished validating the configuration file(s)" in output
    assert "warning/" not in output


def test_apply_rules_give_every_ups_both_services_with_the_designed_settings(tmp_path: Path):
    sandbox = IcingaSandbox(tmp_path, HOSTS)
    sandbox.validate()
    services = object_list(sandbox, "Service")
    assert set(services) == {"ups-a!ups", "ups-a!ups-maintenance", "ups-people-only!ups",
                             "icinga-master!ups-readiness"}

    readiness = services["icinga-master!ups-readiness"]
    assert readiness["check_command"] == '"dell_ups_readiness"'
    assert readiness["enable_notifications"] == "true"  # people hear of it
    assert readiness["volatile"] == "false"
    assert float(readiness["check_interval"]) == 300

    automation = services["ups-a!ups-maintenance"]
    assert automation["volatile"] == "true"
    assert automation["enable_notifications"] == "false"
    assert automation["enable_event_handler"] == "true"
    assert automation["enable_flapping"] == "false"
    assert automation["max_check_attempts"] == "1"
    assert automation["event_command"] == '"dell_ups_maintenance"'
    assert automation["check_command"] == '"dell_ups"'
    # The host's override reaches both intervals.
    assert float(automation["check_interval"]) == 7
    assert float(automation["retry_interval"]) == 7

    people = services["ups-a!ups"]
    assert people["volatile"] == "false"
    assert people["enable_notifications"] == "true"
    assert people["check_command"] == '"dell_ups"'
    assert people["event_command"] == '""'


def test_check_command_has_the_designed_variables_and_secrets_only_in_env(
    tmp_path: Path, icinga_conf: Path
):
    text = (icinga_conf / "dell_ups_commands.conf").read_text()
    check_command = text.split('object CheckCommand "dell_ups"')[1].split("\nobject ")[0]
    arguments = check_command.split("arguments = {")[1].split("\n\t}\n")[0]
    env = check_command.split("env = {")[1].split("}")[0]
    used = set(re.findall(r"\$(dell_ups_\w+)\$", check_command))
    assert used == DESIGNED_CHECK_VARIABLES
    in_arguments = set(re.findall(r"\$(dell_ups_\w+)\$", arguments))
    assert not in_arguments & SECRET_VARIABLES
    assert set(re.findall(r"\$(dell_ups_\w+)\$", env)) == SECRET_VARIABLES
    for argument in re.findall(r'"(-[-\w]+)" = \{(.*?)\n\t\t\}', arguments, re.S):
        assert "description = " in argument[1], argument[0]


def test_event_command_passes_the_designed_macros(icinga_conf: Path):
    text = (icinga_conf / "dell_ups_commands.conf").read_text()
    event_command = text.split('object EventCommand "dell_ups_maintenance"')[1]
    for option, macro in [
        ("--config", "$dell_ups_maintenance_config$"), ("--ups", "$host.name$"),
        ("--state", "$service.state$"), ("--state-type", "$service.state_type$"),
        ("--attempt", "$service.check_attempt$"), ("--perfdata", "$service.perfdata$"),
    ]:
        assert re.search(rf'"{option}" = {{\s+value = "{re.escape(macro)}"', event_command)
    assert re.search(r'"--dry-run" = \{\s+set_if = "\$dell_ups_maintenance_dry_run\$"',
                     event_command)
    timeout = int(re.search(r"timeout = (\d+)s", event_command).group(1))
    assert timeout > 50  # the handler's default budget


def test_zones_example_validates(tmp_path: Path, icinga_conf: Path):
    zones = icinga_conf / "zones" / "zones.conf.example"
    sandbox = IcingaSandbox(tmp_path, f'include "{zones}"\n')
    assert "Finished validating" in sandbox.validate()


def test_a_real_icinga_passes_secrets_in_the_environment_only(
    tmp_path: Path, recording_plugins: tuple[Path, Path]
):
    plugins, calls = recording_plugins
    secrets = {"community": "Comm-4711-x", "auth": "Auth-4711-x", "priv": "Priv-4711-x"}
    host = dedent(f"""
        object Host "ups-secret" {{
            check_command = "dummy"
            address = "127.0.0.1"
            vars.dell_ups = true
            vars.dell_ups_automation_interval = 1s
            vars.dell_ups_check_interval = 1s
            vars.dell_ups_port = 1161
            vars.dell_ups_snmp_version = "3"
            vars.dell_ups_snmpv3_user = "monitor"
            vars.dell_ups_snmpv3_seclevel = "authPriv"
            vars.dell_ups_community = "{secrets['community']}"
            vars.dell_ups_snmpv3_auth_passphrase = "{secrets['auth']}"
            vars.dell_ups_snmpv3_priv_passphrase = "{secrets['priv']}"
            vars.dell_ups_warning = [ "charge=50:", "load=80" ]
            vars.dell_ups_maintenance_config = "/etc/example.toml"
        }}
    """)
    sandbox = IcingaSandbox(tmp_path / "icinga", host, plugins=plugins)
    with sandbox:
        deadline = time.monotonic() + 60
        while "[--ups]" not in _text(calls) or _text(calls).count("ARGV") < 3:
            assert time.monotonic() < deadline, "Icinga ran neither check nor handler"
            time.sleep(0.3)
        main_log = sandbox.main_log.read_text()
    recorded = _text(calls)
    argv_lines = [line for line in recorded.splitlines() if line.startswith("ARGV")]
    check_argv = next(line for line in argv_lines if "-H" in line)
    handler_argv = next(line for line in argv_lines if "--ups" in line)
    # Icinga orders arguments by key; each value must follow its own option.
    for pair in ("[-H] [127.0.0.1]", "[-p] [1161]", "[-P] [3]", "[-U] [monitor]",
                 "[-L] [authPriv]"):
        assert pair in check_argv
    assert "[-w] [charge=50:] [-w] [load=80]" in check_argv
    assert (f"ENV community=[{secrets['community']}] auth=[{secrets['auth']}] "
            f"priv=[{secrets['priv']}]") in recorded
    for secret in secrets.values():
        assert secret not in "\n".join(argv_lines)
        assert secret not in main_log  # Icinga logs every command line it runs
    assert "[--config] [/etc/example.toml]" in handler_argv
    assert "[--ups] [ups-secret]" in handler_argv
    assert "[--state] [OK]" in handler_argv
    assert "[--state-type] [HARD]" in handler_argv
    assert "[--perfdata] [on_battery=0s]" in handler_argv
    assert "--dry-run" not in handler_argv
    events = sandbox.events()
    assert any(e.kind == "handler" and e.service == "ups-maintenance" for e in events)
    assert not any(e.kind == "handler" and e.service == "ups" for e in events)


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_handler_example_config_is_accepted_by_the_handler(icinga_conf: Path):
    config = pytest.importorskip("check_dell_ups.maintenance.config")
    loaded = config.load_config(icinga_conf / "dell_ups_maintenance.toml.example")
    assert loaded.maintenance.budget < 30  # below the automation interval and timeouts
    assert set(loaded.ups) == {"ups-rack1", "ups-rack2"}
    json.dumps(str(loaded))  # plain data


def test_argument_descriptions_are_the_checks_own_help(icinga_conf: Path):
    check = Path(sys.executable).parent / "check_dell_ups"
    if not check.exists():
        pytest.skip("check_dell_ups is not installed")
    help_text = " ".join(subprocess.run(
        [str(check), "--help"], capture_output=True, text=True, timeout=60, check=False,
    ).stdout.split())
    text = (icinga_conf / "dell_ups_commands.conf").read_text()
    check_command = text.split('object CheckCommand "dell_ups"')[1].split("\nobject ")[0]
    descriptions = re.findall(r'description = "([^"]+)"', check_command)
    assert len(descriptions) == 12
    for description in descriptions:
        assert description in help_text


def test_event_command_descriptions_are_the_handlers_own_help(icinga_conf: Path):
    handler = Path(sys.executable).parent / "dell_ups_maintenance"
    if not handler.exists():
        pytest.skip("dell_ups_maintenance is not installed")
    help_text = " ".join(subprocess.run(
        [str(handler), "--help"], capture_output=True, text=True, timeout=60, check=False,
    ).stdout.split())
    text = (icinga_conf / "dell_ups_commands.conf").read_text()
    event_command = text.split('object EventCommand "dell_ups_maintenance"')[1]
    event_command = event_command.split("\nobject ")[0]
    descriptions = re.findall(r'description = "([^"]+)"', event_command)
    assert len(descriptions) == 7
    for description in descriptions:
        assert description in help_text


def test_readiness_command_descriptions_are_the_plugins_own_help(icinga_conf: Path):
    plugin = Path(sys.executable).parent / "check_dell_ups_readiness"
    help_text = " ".join(subprocess.run(
        [str(plugin), "--help"], capture_output=True, text=True, timeout=60, check=False,
    ).stdout.split())
    text = (icinga_conf / "dell_ups_commands.conf").read_text()
    command = text.split('object CheckCommand "dell_ups_readiness"')[1].split("\nobject ")[0]
    descriptions = re.findall(r'description = "([^"]+)"', command)
    assert len(descriptions) == 2
    for description in descriptions:
        assert description in help_text
    assert set(re.findall(r"\$(dell_ups_\w+)\$", command)) == {
        "dell_ups_readiness_config", "dell_ups_readiness_timeout"}
