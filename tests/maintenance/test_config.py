"""Config validation: every refusal names the key, in one line."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from check_dell_ups.maintenance.config import (
    ConfigError,
    is_dns_name,
    load_config,
    parse_config,
    read_password,
)

BASE = {
    "scvmm": {"server": "vmm01.example.com", "username": "EXAMPLE\\svc-ups"},
    "ups": {"ups-rack1": {"hosts": ["hv01.example.com", "HV02.example.com"]}},
}


def with_change(path: str, value) -> dict:
    raw = copy.deepcopy(BASE)
    node = raw
    keys = path.split("/")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    if value is _DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return raw


_DELETE = object()


def test_defaults() -> None:
    config = parse_config(copy.deepcopy(BASE))
    assert config.scvmm.transport == "https" and config.scvmm.port == 5986
    assert config.scvmm.auth == "negotiate" and config.scvmm.cert_validation is True
    # WinRM lands on the VMM server: Get-SCVMMServer connects to itself.
    assert config.scvmm.vmm_server == "localhost"
    maintenance = config.maintenance
    assert (maintenance.timer, maintenance.mode, maintenance.on_power_restored) == (
        300, "migrate", "exit")
    assert (maintenance.runtime_floor, maintenance.charge_floor, maintenance.budget) == (
        300, 20, 50.0)
    assert maintenance.state_dir == "/var/lib/check_dell_ups"
    assert maintenance.log_file == "/var/lib/check_dell_ups/maintenance.log"
    ups = config.ups["ups-rack1"]
    assert ups.hosts == ("hv01.example.com", "hv02.example.com")  # lower-cased
    assert (ups.timer, ups.mode) == (300, "migrate")


def test_vmm_server_names_another_vmm_server() -> None:
    config = parse_config(with_change("scvmm/vmm_server", "VMM02.example.com"))
    assert config.scvmm.vmm_server == "vmm02.example.com"


def test_http_port_default_and_overrides() -> None:
    raw = with_change("scvmm/transport", "http")
    raw["ups"]["ups-rack1"].update(timer=-1, mode="save")
    config = parse_config(raw)
    assert config.scvmm.port == 5985
    assert (config.ups["ups-rack1"].timer, config.ups["ups-rack1"].mode) == (-1, "save")


@pytest.mark.parametrize(("path", "value", "names"), [
    ("scvmm/colour", "blue", "scvmm.colour"),
    ("maintenance/timeout", 5, "maintenance.timeout"),
    ("ups/ups-rack1/feeds", ["x"], 'ups."ups-rack1".feeds'),
    ("extra", {}, "extra"),
    ("ups/ups-rack1/hosts", [], 'ups."ups-rack1".hosts'),
    ("ups/ups-rack1/hosts", _DELETE, 'ups."ups-rack1".hosts'),
    ("ups/ups-rack1/hosts", "hv01.example.com", 'ups."ups-rack1".hosts'),
    ("ups/ups-rack1/hosts", ["hv01;rm -rf /"], 'ups."ups-rack1".hosts'),
    ("ups/ups-rack1/hosts", ["$(Stop-Computer)"], 'ups."ups-rack1".hosts'),
    ("ups/ups-rack1/hosts", ["hv01.example.com'; Remove-Item"], 'ups."ups-rack1".hosts'),
    ("ups/ups-rack1/hosts", ["-hv01.example.com"], 'ups."ups-rack1".hosts'),
    ("ups/ups-rack1/hosts", ["a" * 64 + ".example.com"], 'ups."ups-rack1".hosts'),
    ("ups/ups-rack1/hosts", ["hv01.example.com", "hv01.example.com"],
     'ups."ups-rack1".hosts'),
    ("ups/ups-rack1/mode", "teleport", 'ups."ups-rack1".mode'),
    ("ups/ups-rack1/timer", -2, 'ups."ups-rack1".timer'),
    ("maintenance/mode", "fast", "maintenance.mode"),
    ("maintenance/on_power_restored", "reboot", "maintenance.on_power_restored"),
    ("maintenance/timer", "300", "maintenance.timer"),
    ("maintenance/timer", True, "maintenance.timer"),
    ("maintenance/budget", 0, "maintenance.budget"),
    ("maintenance/charge_floor", 101, "maintenance.charge_floor"),
    ("scvmm/transport", "ftp", "scvmm.transport"),
    ("scvmm/auth", "plain", "scvmm.auth"),
    ("scvmm/port", 70000, "scvmm.port"),
    ("scvmm/server", "vmm 01", "scvmm.server"),
    ("scvmm/server", _DELETE, "scvmm.server"),
    ("scvmm/username", _DELETE, "scvmm.username"),
    ("scvmm/vmm_host", "hv09.example.com", "scvmm.vmm_host"),
    ("scvmm/vmm_server", "vmm01; Stop-Computer", "scvmm.vmm_server"),
    ("scvmm/vmm_server", 5, "scvmm.vmm_server"),
    ("scvmm/cert_validation", 1, "scvmm.cert_validation"),
    ("ups", {}, "ups"),
])
def test_refusals_name_the_key(path: str, value, names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(with_change(path, value))
    message = str(caught.value)
    assert message.startswith(names), message
    assert "\n" not in message


def test_password_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "scvmm.password"
    secret.write_text("s3cret\n")
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match=r"^scvmm.password_file: .*others") as caught:
        parse_config(with_change("scvmm/password_file", str(secret)))
    assert "s3cret" not in str(caught.value)
    secret.chmod(0o640)
    config = parse_config(with_change("scvmm/password_file", str(secret)))
    assert read_password(config.scvmm, environ={}) == "s3cret"  # trailing newline stripped


def test_password_from_env_wins_when_non_empty(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    secret.chmod(0o600)
    config = parse_config(with_change("scvmm/password_file", str(secret)))
    assert read_password(config.scvmm, {"DELL_UPS_SCVMM_PASSWORD": "from-env"}) == "from-env"
    assert read_password(config.scvmm, {"DELL_UPS_SCVMM_PASSWORD": ""}) == "from-file"


def test_missing_password_is_not_a_config_error_but_fails_on_use(tmp_path: Path) -> None:
    config = parse_config(with_change("scvmm/password_file", str(tmp_path / "absent")))
    with pytest.raises(ConfigError, match="no SCVMM password"):
        read_password(config.scvmm, environ={})
    config = parse_config(copy.deepcopy(BASE))
    with pytest.raises(ConfigError, match="DELL_UPS_SCVMM_PASSWORD"):
        read_password(config.scvmm, environ={})


def test_load_config_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[scvmm\nserver = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load_config(bad)
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.toml")


def test_example_config_of_the_icinga_folder_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "icinga-conf" / \
        "dell_ups_maintenance.toml.example"
    if not example.exists():
        pytest.skip("icinga-conf example not present")
    config = load_config(example)
    assert config.ups


@pytest.mark.parametrize(("name", "valid"), [
    ("hv01", True), ("hv01.example.com", True), ("HV01.Example.COM.", True),
    ("", False), ("hv_01", False), ("hv01..example.com", False), ("-hv", False),
    ("hv-", False), ("hv 01", False), ("hv01\n", False), ("a" * 254, False),
])
def test_dns_names(name: str, valid: bool) -> None:
    assert is_dns_name(name) is valid


def test_state_dir_default_log_file(tmp_path: Path) -> None:
    raw = with_change("maintenance/state_dir", str(tmp_path))
    assert parse_config(raw).maintenance.log_file == os.path.join(tmp_path, "maintenance.log")
