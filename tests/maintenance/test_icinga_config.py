"""The optional [icinga] table: defaults, and one clear line for each mistake."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from check_dell_ups.maintenance.config import (
    ConfigError,
    load_config,
    parse_config,
    read_icinga_password,
)

BASE = {
    "scvmm": {"server": "vmm01.example.com", "username": "svc-ups"},
    "ups": {"ups-rack1": {"hosts": ["hv01.example.com"]}},
    "icinga": {"url": "https://icinga01.example.com:5665", "username": "dell-ups",
               "password_file": "/nonexistent/icinga.password"},
}


def with_icinga(**changes) -> dict:
    raw = copy.deepcopy(BASE)
    raw["icinga"].update(changes)
    for key, value in changes.items():
        if value is None:
            del raw["icinga"][key]
    return raw


def test_absent_means_off() -> None:
    raw = copy.deepcopy(BASE)
    del raw["icinga"]
    assert parse_config(raw).icinga is None


def test_defaults() -> None:
    icinga = parse_config(with_icinga(url="https://Icinga01.example.com")).icinga
    assert icinga is not None
    assert (icinga.host, icinga.port) == ("icinga01.example.com", 5665)
    assert icinga.ca_file is None  # the system's CAs
    assert icinga.downtime_hours == 24
    assert icinga.ups_host("ups-rack1") == "ups-rack1"  # the name the event gives
    assert icinga.icinga_name("hv01.example.com") == "hv01.example.com"


def test_name_maps() -> None:
    icinga = parse_config(with_icinga(
        ups_hosts={"ups-rack1": "UPS Rack 1"},
        host_names={"HV01.example.com.": "hv01", "6F1E-ABC": "web01"})).icinga
    assert icinga is not None
    assert icinga.ups_host("ups-rack1") == "UPS Rack 1"
    assert icinga.icinga_name("hv01.example.com") == "hv01"
    assert icinga.icinga_name("6f1e-abc") == "web01"  # VM IDs in any case
    assert icinga.icinga_name("6F1E-ABC") == "web01"


@pytest.mark.parametrize("url, host, port", [
    ("https://127.0.0.1:15665", "127.0.0.1", 15665),
    ("https://[::1]:5665/", "::1", 5665),
])
def test_ip_addresses(url: str, host: str, port: int) -> None:
    icinga = parse_config(with_icinga(url=url)).icinga
    assert icinga is not None and (icinga.host, icinga.port) == (host, port)


@pytest.mark.parametrize("changes, message", [
    ({"url": None}, r"^icinga\.url: missing$"),
    ({"url": "http://127.0.0.1:5665"}, r"^icinga\.url: .* must start with https:// "),
    ({"url": "icinga01:5665"}, r"^icinga\.url: .* must start with https://"),
    ({"url": "https://user:pw@icinga01:5665"}, r"^icinga\.url: must not carry a user"),
    ({"url": "https://icinga01:5665/v1"}, r"^icinga\.url: .* only https://HOST\[:PORT\]$"),
    ({"url": "https://icinga01:99999"}, r"^icinga\.url: .* is not a URL"),
    ({"url": "https://"}, r"^icinga\.url: .* names no host$"),
    ({"url": "https://bad_name:5665"}, r"^icinga\.url: 'bad_name' is not a valid DNS"),
    ({"url": 5665}, r"^icinga\.url: must be a string$"),
    ({"username": None}, r"^icinga\.username: missing$"),
    ({"username": " "}, r"^icinga\.username: must be a non-empty ApiUser name"),
    ({"username": "a:b"}, r"^icinga\.username: .* without ':'$"),
    ({"password_file": None}, r"^icinga\.password_file: missing$"),
    ({"ca_file": ""}, r"^icinga\.ca_file: must not be empty"),
    ({"downtime_hours": 0}, r"^icinga\.downtime_hours: must be hours between 1 and 8784$"),
    ({"downtime_hours": True}, r"^icinga\.downtime_hours: "),
    ({"ups_hosts": {"ups-other": "x"}}, r"^icinga\.ups_hosts: 'ups-other' is not a "
                                        r"configured UPS"),
    ({"ups_hosts": "x"}, r"^icinga\.ups_hosts: must be a table"),
    ({"host_names": {"hv01.example.com": ""}}, r"^icinga\.host_names\.hv01\.example\.com: "
                                               r"must be an Icinga host name"),
    ({"host_names": {"hv01.example.com": "a!b"}}, r"^icinga\.host_names\..*without '!'"),
    ({"password": "secret"}, r"^icinga\.password: unknown key \(known: ca_file, "),
])
def test_mistakes_are_one_line_naming_the_key(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_config(with_icinga(**changes))
    assert "\n" not in str(caught.value)


def test_not_a_table() -> None:
    raw = copy.deepcopy(BASE)
    raw["icinga"] = "https://icinga01"
    with pytest.raises(ConfigError, match=r"^icinga: must be a table$"):
        parse_config(raw)


def test_a_password_file_others_can_read_is_refused_as_scvmm_s_is(tmp_path: Path) -> None:
    secret = tmp_path / "icinga.password"
    secret.write_text("pw\n")
    os.chmod(secret, 0o644)
    with pytest.raises(ConfigError, match=r"^icinga\.password_file: .* accessible by others "
                                          r"\(mode 0644\); run chmod o-rwx on it$"):
        parse_config(with_icinga(password_file=str(secret)))
    os.chmod(secret, 0o600)
    icinga = parse_config(with_icinga(password_file=str(secret))).icinga
    assert icinga is not None
    assert read_icinga_password(icinga) == "pw"  # its trailing newline stripped


def test_password_problems_are_one_line(tmp_path: Path) -> None:
    icinga = parse_config(with_icinga(password_file=str(tmp_path / "absent"))).icinga
    assert icinga is not None
    with pytest.raises(ConfigError, match=r"^icinga\.password_file .*absent cannot be read: "
                                          r"No such file or directory$"):
        read_icinga_password(icinga)
    empty = tmp_path / "empty"
    empty.write_text("\n")
    os.chmod(empty, 0o600)
    icinga = parse_config(with_icinga(password_file=str(empty))).icinga
    assert icinga is not None
    with pytest.raises(ConfigError, match=r"^icinga\.password_file: .* is empty$"):
        read_icinga_password(icinga)


def test_the_shipped_example_is_off_and_parses_once_uncommented(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "icinga-conf" / \
        "dell_ups_maintenance.toml.example"
    assert load_config(example).icinga is None  # off until the admin turns it on
    text = example.read_text()
    head, tail = text.split("# Uncomment from here:\n")
    uncommented = tmp_path / "example.toml"
    uncommented.write_text(head + "".join(line.removeprefix("# ") + "\n"
                                          for line in tail.splitlines()))
    config = load_config(uncommented)
    assert config.icinga is not None
    assert config.icinga.ca_file == "/var/lib/icinga2/certs/ca.crt"
    assert config.icinga.ups_host("ups-rack2") == "ups-rack2.example.com"
    assert config.icinga.icinga_name("hv01.example.com") == "hv01"
