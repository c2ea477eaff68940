"""The examples that ship beside the Icinga/Nagios config agree with it and each other."""

from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_CONFIG = "/etc/check_dell_ups/dell_ups_maintenance.toml"


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(path)
    return parser


def example_budget(icinga_conf: Path) -> float:
    with open(icinga_conf / "dell_ups_maintenance.toml.example", "rb") as handle:
        return tomllib.load(handle)["maintenance"]["budget"]


def test_retry_timer_runs_retry_pending_on_the_config_the_event_command_uses(
    icinga_conf: Path,
):
    service = unit(icinga_conf / "systemd" / "dell-ups-maintenance-retry.service")
    timer = unit(icinga_conf / "systemd" / "dell-ups-maintenance-retry.timer")
    exec_start = service["Service"]["ExecStart"]
    assert exec_start.split()[0].endswith("/dell_ups_maintenance")
    assert f"--config {DEFAULT_CONFIG} --retry-pending" in exec_start
    assert service["Service"]["Type"] == "oneshot"
    assert float(service["Service"]["TimeoutStartSec"]) > example_budget(icinga_conf)
    assert "OnUnitActiveSec" in timer["Timer"]
    assert timer["Install"]["WantedBy"] == "timers.target"
    commands = (icinga_conf / "dell_ups_commands.conf").read_text()
    assert f'vars.dell_ups_maintenance_config = "{DEFAULT_CONFIG}"' in commands
    nagios_host = (icinga_conf / "nagios" / "dell_ups_templates.cfg").read_text()
    assert re.search(rf"_DELL_UPS_MAINTENANCE_CONFIG\s+{re.escape(DEFAULT_CONFIG)}", nagios_host)


def test_handler_budget_fits_below_the_automation_interval_and_the_timeouts(
    icinga_conf: Path,
):
    budget = example_budget(icinga_conf)
    templates = (icinga_conf / "dell_ups_templates.conf").read_text()
    automation = templates.split('template Service "dell-ups-maintenance"')[1]
    interval = int(re.search(r"check_interval = (\d+)s", automation).group(1))
    assert budget < interval  # two calls never overlap
    commands_text = (icinga_conf / "dell_ups_commands.conf").read_text()
    event_command = commands_text.split("object EventCommand")[1]
    assert budget < int(re.search(r"timeout = (\d+)s", event_command).group(1))
    snippet = (icinga_conf / "nagios" / "nagios.cfg.snippet").read_text()
    assert "enable_environment_macros=1" in snippet
    assert budget < int(re.search(r"^event_handler_timeout=(\d+)", snippet, re.M).group(1))
    assert budget < 30  # also below Debian's default event_handler_timeout


def test_toml_example_hosts_and_vmm_host_are_consistent(icinga_conf: Path):
    with open(icinga_conf / "dell_ups_maintenance.toml.example", "rb") as handle:
        config = tomllib.load(handle)
    all_hosts = {host for ups in config["ups"].values() for host in ups["hosts"]}
    assert config["scvmm"]["vmm_host"] in all_hosts
    example_host = (icinga_conf / "examples" / "dell_ups_hosts.conf").read_text()
    assert 'object Host "ups-rack1"' in example_host
    assert "ups-rack1" in config["ups"]


# What Debian's icinga2 and nagios4 packages ship as samples (checked on Debian 12);
# the installed lists are added where the packages are installed.
DEBIAN_ICINGA_CONF_D = {"app.conf", "apt.conf", "commands.conf", "downtimes.conf",
                        "groups.conf", "hosts.conf", "notifications.conf", "services.conf",
                        "templates.conf", "timeperiods.conf", "users.conf"}
DEBIAN_NAGIOS_OBJECTS = {"commands.cfg", "contacts.cfg", "localhost.cfg", "printer.cfg",
                         "switch.cfg", "templates.cfg", "timeperiods.cfg", "windows.cfg"}


def _installed(directory: str) -> set[str]:
    path = Path(directory)
    return {entry.name for entry in path.iterdir()} if path.is_dir() else set()


def test_no_shipped_file_is_named_like_a_debian_sample(icinga_conf: Path):
    samples = DEBIAN_ICINGA_CONF_D | _installed("/etc/icinga2/conf.d") | \
        DEBIAN_NAGIOS_OBJECTS | _installed("/etc/nagios4/objects")
    shipped = {path.name for path in icinga_conf.rglob("*") if path.is_file()}
    assert shipped and not shipped & samples
