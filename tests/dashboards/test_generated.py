"""dashboards/ is generated from tools/generate_dashboards.py's table and says so."""

from __future__ import annotations

import configparser
import json
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "tools" / "generate_dashboards.py"
TABLE = runpy.run_path(str(GENERATOR))
LABELS = ("on_battery", "runtime", "charge", "load", "temperature", "input_voltage",
          "output_voltage", "alarms")  # DESIGN.md "Perfdata labels"


def test_the_files_are_up_to_date_with_the_table():
    result = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_every_curve_is_a_perfdata_label_and_field_icinga_sends():
    for panel in TABLE["PANELS"]:
        for curve in panel.curves:
            assert curve.label in LABELS, curve
            assert curve.field in ("value", "warn", "crit", "min", "max"), curve


def test_the_graphite_module_template_has_every_section_the_module_needs():
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(ROOT / "dashboards" / "icingaweb2-graphite" / "dell_ups.ini")
    templates = {section.rpartition(".")[0] for section in parser.sections()}
    assert len(templates) == len(TABLE["PANELS"])
    for template in templates:
        assert parser[f"{template}.graph"]["check_command"] == '"dell_ups"'
        curves = set(parser[f"{template}.metrics_filters"])
        assert curves and curves == set(parser[f"{template}.functions"])
        for path in parser[f"{template}.metrics_filters"].values():
            assert path.startswith('"$service_name_template$.perfdata.')


def test_both_grafana_dashboards_show_the_same_panels():
    documents = [json.loads((ROOT / "dashboards" / "grafana" / name).read_text())
                 for name in ("dell_ups-graphite.json", "dell_ups-influxdb.json")]
    titles = [[panel["title"] for panel in document["panels"]] for document in documents]
    assert titles[0] == titles[1] == [panel.title for panel in TABLE["PANELS"]]
    for document in documents:
        assert {variable["name"] for variable in document["templating"]["list"]} == {
            "host", "service"}
        assert len({panel["id"] for panel in document["panels"]}) == len(document["panels"])
