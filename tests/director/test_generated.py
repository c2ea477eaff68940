"""director/dell_ups-basket.json is generated from icinga-conf/ and holds what a Director
user needs: every command and service template, a data field per command variable, and
no secret variable (Director cannot set env: secrets go through --extra-opts)."""

from __future__ import annotations

import json
import re
import runpy
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "tools" / "generate_director_basket.py"
BASKET = json.loads((ROOT / "director" / "dell_ups-basket.json").read_text())
TOOL = runpy.run_path(str(GENERATOR))
SECRETS = ("dell_ups_community", "dell_ups_snmpv3_auth_passphrase",
           "dell_ups_snmpv3_priv_passphrase")


def shipped(kind: str, type_name: str) -> set[str]:
    """Names declared in the shipped files, read with a regex (not the generator's reader)."""
    text = "".join((ROOT / "icinga-conf" / name).read_text() for name in TOOL["SOURCES"])
    return set(re.findall(rf'^{kind} {type_name} "([^"]+)"', text, re.MULTILINE))


def test_the_basket_is_up_to_date_with_the_shipped_config():
    result = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_every_shipped_command_and_service_template_is_in_the_basket():
    commands = shipped("object", "CheckCommand") | shipped("object", "EventCommand")
    assert set(BASKET["Command"]) == commands == {"dell_ups", "dell_ups_readiness",
                                                  "dell_ups_maintenance"}
    assert set(BASKET["ServiceTemplate"]) == shipped("template", "Service")
    assert BASKET["Command"]["dell_ups_maintenance"]["methods_execute"] == "PluginEvent"
    assert BASKET["ServiceTemplate"]["dell-ups-maintenance"]["event_command"] == \
        "dell_ups_maintenance"
    assert BASKET["ServiceTemplate"]["dell-ups-maintenance"]["volatile"] == "y"


def test_every_command_variable_has_a_data_field_and_no_secret_does():
    fields = {key: field["varname"] for key, field in BASKET["Datafield"].items()}
    for name, command in BASKET["Command"].items():
        used = set(re.findall(r"\$(dell_ups\w*)\$", json.dumps(command["arguments"])))
        linked = {fields[str(ref["datafield_id"])] for ref in command["fields"]}
        assert used == linked, name
    assert "dell_ups_extra_opts" in fields.values()
    assert not set(SECRETS) & set(fields.values())
    assert all("env" not in command for command in BASKET["Command"].values())
    assert not any(secret in json.dumps(BASKET) for secret in SECRETS)


def test_the_extra_opts_argument_keeps_its_set_if_function_as_an_expression():
    argument = BASKET["Command"]["dell_ups"]["arguments"]["--extra-opts"]
    assert argument["set_if_format"] == "expression"
    assert argument["set_if"] == 'macro("$dell_ups_extra_opts$") != ""'


def test_the_itl_address_template_is_replaced_by_the_host_address():
    # Director does not know ITL templates: $check_address$ is defined by one of them.
    assert BASKET["Command"]["dell_ups"]["vars"] == {"dell_ups_address": "$address$"}
    assert "check_address" not in json.dumps(BASKET)


def test_the_reader_refuses_what_it_does_not_translate():
    reader = TOOL["_Reader"]
    with pytest.raises(TOOL["DslError"]):
        list(reader('apply Service "x" { }').objects())
    item = next(reader('object CheckCommand "x" { command = [ "/bin/x" ] arguments = { } '
                       'timeout = 1m }').objects())
    with pytest.raises(TOOL["DslError"]):
        TOOL["command"](item)
    item = next(reader('template Service "x" { check_period = "24x7" }').objects())
    with pytest.raises(TOOL["DslError"]):
        TOOL["service_template"](item)


def test_the_uuid_basket_is_the_same_basket_with_a_stable_uuid_per_object():
    with_uuids = json.loads((ROOT / "director" / "dell_ups-basket-uuids.json").read_text())
    seen = set()
    for kind in ("Command", "ServiceTemplate"):
        for name, plain in with_uuids[kind].items():
            stripped = dict(plain)
            value = stripped.pop("uuid")
            assert stripped == BASKET[kind][name]
            assert uuid.UUID(value) == uuid.uuid5(TOOL["NAMESPACE"], f"{kind}/{name}")
            seen.add(value)
    assert len(seen) == len(BASKET["Command"]) + len(BASKET["ServiceTemplate"])
    assert with_uuids["Datafield"] == BASKET["Datafield"]
