"""The basket restored into a real Icinga Director (Debian 12's icingaweb2-module-director
over a MariaDB of its own): the objects arrive with their arguments and data fields, a
second restore changes nothing, and Director renders them as Icinga 2 config."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from check_dell_ups.icingaweb2_sandbox import (
    IcingaWeb2Sandbox,
    IcingaWebError,
    icingaweb2_installed,
    php_has_mysql,
)
from check_dell_ups.mariadb_sandbox import MariaDbSandbox, mariadb_installed

ROOT = Path(__file__).resolve().parents[2]
BASKET_FILE = ROOT / "director" / "dell_ups-basket.json"
BASKET = json.loads(BASKET_FILE.read_text())

pytestmark = pytest.mark.skipif(
    not (icingaweb2_installed("director", "incubator") and mariadb_installed()
         and php_has_mysql()),
    reason="needs Debian's icingacli, icingaweb2-module-director, mariadb-server, php-mysql")


@pytest.fixture(scope="module")
def director(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IcingaWeb2Sandbox]:
    root = tmp_path_factory.mktemp("director")
    with MariaDbSandbox(root / "db") as mariadb, \
            IcingaWeb2Sandbox(root / "web", mariadb) as web:
        web.set_up_director()
        web.restore_basket(BASKET_FILE)
        yield web


def show(director: IcingaWeb2Sandbox, kind: str, name: str) -> dict:
    return json.loads(director.icingacli("director", kind, "show", name, "--json"))


def field_names(director: IcingaWeb2Sandbox, fields: list[dict]) -> set[str]:
    ids = ",".join(str(int(field["datafield_id"])) for field in fields) or "0"
    rows = director.mariadb.sql(f"SELECT varname FROM director_datafield WHERE id IN ({ids})",
                                "director")
    return set(rows.split())


@pytest.mark.parametrize("name", sorted(BASKET["Command"]))
def test_each_command_arrives_with_its_arguments_and_fields(director, name):
    shown = show(director, "command", name)
    expected = BASKET["Command"][name]
    assert shown["methods_execute"] == expected["methods_execute"]
    assert set(shown["arguments"]) == set(expected["arguments"])
    assert shown["vars"] == expected["vars"]
    wanted = {BASKET["Datafield"][str(ref["datafield_id"])]["varname"]
              for ref in expected["fields"]}
    assert field_names(director, shown["fields"]) == wanted


@pytest.mark.parametrize("name", sorted(BASKET["ServiceTemplate"]))
def test_each_service_template_arrives(director, name):
    shown = show(director, "service", name)
    assert shown["object_type"] == "template"
    assert shown["check_command"] == BASKET["ServiceTemplate"][name]["check_command"]
    assert shown["fields"]


def test_a_second_restore_changes_nothing(director):
    before = director.mariadb.sql("SELECT COUNT(*) FROM director_datafield", "director")
    commands = show(director, "command", "dell_ups")
    director.restore_basket(BASKET_FILE)
    assert director.mariadb.sql("SELECT COUNT(*) FROM director_datafield", "director") == before
    assert show(director, "command", "dell_ups") == commands


def test_director_renders_the_extra_opts_argument_as_the_shipped_config_has_it(director):
    rendered = director.render_config()["zones.d/director-global/commands.conf"]
    assert 'object CheckCommand "dell_ups"' in rendered
    assert 'object EventCommand "dell_ups_maintenance"' in rendered
    assert 'macro("$dell_ups_extra_opts$") != ""' in rendered
    assert not re.search(r"^\s*env\b", rendered, re.MULTILINE)  # Director cannot set env


def test_debian_12s_director_refuses_the_basket_with_uuids(director):
    # Why dell_ups-basket.json carries none (docs/director.md).
    with pytest.raises(IcingaWebError, match="16 characters"):
        director.restore_basket(ROOT / "director" / "dell_ups-basket-uuids.json")
    assert show(director, "command", "dell_ups")["object_name"] == "dell_ups"
