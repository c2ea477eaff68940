"""End to end with a real Icinga 2: power cut -> WARNING -> CRITICAL when the timer runs
out -> event handler -> hosts in maintenance in (fake) SCVMM -> power back -> hosts out.
And: Icinga restarted in the middle of an outage still gets the hosts into maintenance;
a runtime calibration longer than the timer triggers no Disable, a power cut during a
test does.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from check_dell_ups.demo_world import FED_HOSTS, SMALL_CLUSTER, UPS_NAME
from check_dell_ups.graphite_sandbox import GraphiteSandbox, graphite_installed
from check_dell_ups.icinga_sandbox import IcingaSandbox, ServiceEvent
from check_dell_ups.influxdb_sandbox import DATABASE, InfluxSandbox, influxdb_installed

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("icinga2") is None, reason="icinga2 is not installed"),
]

TIMER = 15
DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
AUTOMATION_INTERVAL = 4
AUTOMATION = "ups-maintenance"


def ups_host(ups_port: int, config: Path) -> str:
    """The UPS host; the shipped apply rules add both services, host variables shorten
    their intervals (the shipped defaults are 30 s and 1 min)."""
    return f"""
object Host "{UPS_NAME}" {{
    check_command = "dummy"
    address = "127.0.0.1"
    vars.dell_ups = true
    vars.dell_ups_port = {ups_port}
    vars.dell_ups_timeout = 5
    vars.dell_ups_maintenance_timer = {TIMER}
    vars.dell_ups_automation_interval = {AUTOMATION_INTERVAL}s
    vars.dell_ups_check_interval = 4s
    vars.dell_ups_retry_interval = 2s
    vars.dell_ups_maintenance_config = "{config}"
}}
"""


# People get notified (here: a command that does nothing, logged by the CompatLogger).
NOTIFICATIONS = """
object NotificationComponent "notification" { }
object User "admin" { }
object NotificationCommand "notify-nobody" { command = [ "/bin/true" ] }
apply Notification "to-admin" to Service {
    command = "notify-nobody"
    users = [ "admin" ]
    assign where true
}
"""


def notified_services(sandbox: IcingaSandbox) -> list[tuple[str, str]]:
    """(service, state) of every notification sent: 'SERVICE NOTIFICATION: user;host;
    service;state;command;output'."""
    found = []
    for line in sandbox.log_lines():
        if "] SERVICE NOTIFICATION: " in line:
            fields = line.split(": ", 1)[1].split(";")
            found.append((fields[2], fields[3]))
    return found


def automation_alert(state: str):
    def matches(event: ServiceEvent) -> bool:
        return event.kind == "alert" and event.service == AUTOMATION and event.state == state
    return matches


def automation_handler_run(state: str):
    def matches(event: ServiceEvent) -> bool:
        return event.kind == "handler" and event.service == AUTOMATION and event.state == state
    return matches


@pytest.fixture
def icinga(world, tmp_path: Path):
    sandbox = IcingaSandbox(tmp_path / "icinga2",
                            ups_host(world.ups.port, world.config) + NOTIFICATIONS,
                            env=world.env)
    sandbox.validate()
    sandbox.start()
    yield sandbox
    sandbox.stop()


def test_power_cut_puts_the_fed_hosts_into_maintenance_and_back(world, icinga):
    sandbox = icinga
    sandbox.wait_for(automation_alert("OK"), 60, what="a first OK result")

    cut_at = time.time()
    world.ups.cut_mains()
    index, _ = sandbox.wait_for(automation_alert("WARNING"), 30, what="WARNING on battery")
    assert not any(world.fed_hosts_in_maintenance())  # the timer has not run out yet

    index, critical = sandbox.wait_for(automation_alert("CRITICAL"), TIMER + 30, start=index,
                                       what="CRITICAL when the timer runs out")
    assert critical.state_type == "HARD"
    assert critical.timestamp >= int(cut_at) + TIMER - 1  # not before the timer ran out
    assert "timer" in critical.text
    sandbox.wait_for(automation_handler_run("CRITICAL"), 10, start=index,
                     what="the handler run on CRITICAL")

    world.wait(lambda: all(world.fed_hosts_in_maintenance()), 60,
               "maintenance of every host fed by the UPS")
    world.assert_maintenance_done_right()
    # Maintenance began when the timer ran out (by the handler's clock, which may run a
    # second ahead of the UPS's counter), at the latest one automation interval after
    # the CRITICAL alert (generous margin for a loaded machine).
    first_disable = world.first_disable_started()
    print(f"first Disable-SCVMHost {first_disable - cut_at:.1f} s after the power cut, "
          f"{first_disable - critical.timestamp:.1f} s after the CRITICAL alert")
    assert first_disable >= cut_at + TIMER - 2
    assert first_disable <= critical.timestamp + AUTOMATION_INTERVAL + 10
    # Called again and again while on battery, it disabled each host exactly once.
    time.sleep(2 * AUTOMATION_INTERVAL)
    assert world.disable_and_enable_calls() == (world.DISABLES, 0)

    world.ups.restore_mains()
    sandbox.wait_for(automation_alert("OK"), 30, start=index, what="recovery")
    world.wait(lambda: not any(world.fed_hosts_in_maintenance()), 60,
               "the hosts leaving maintenance",
                   # as the shipped retry timer does, should the one recovery call's
                   # budget end before every Enable (five hosts, a loaded machine)
                   while_waiting=world.retry_pending_now)
    world.settle_with_retry_pending()
    assert world.disable_and_enable_calls() == (world.DISABLES, len(FED_HOSTS))

    events = sandbox.events()
    # People's service alerts but never runs the handler; the automation service runs
    # it on every result while on battery (volatile) and on recovery.
    assert not [e for e in events if e.kind == "handler" and e.service == "ups"]
    assert any(e.kind == "alert" and e.service == "ups" and e.state == "CRITICAL"
               for e in events)
    on_battery_runs = [e for e in events if e.kind == "handler" and e.service == AUTOMATION
                       and e.state in ("WARNING", "CRITICAL")]
    assert len(on_battery_runs) >= TIMER // 4

    # No notification storm: the volatile automation service notifies nobody; people
    # hear once per state change of their service (on battery, timer, back on mains).
    sandbox.wait_for(lambda e: e.kind == "alert" and e.service == "ups" and e.state == "OK",
                     30, what="the people's service back to OK")
    time.sleep(1)
    notified = notified_services(sandbox)
    assert not [n for n in notified if n[0] == AUTOMATION]
    # (RECOVERY is the CompatLogger's word for OK; on a slow machine the people's
    # service may reach HARD only after the timer ran out, skipping WARNING.)
    assert [state for service, state in notified if service == "ups"] in (
        ["WARNING", "CRITICAL", "RECOVERY"], ["CRITICAL", "RECOVERY"])


def test_icinga_restarted_mid_outage_still_puts_the_hosts_into_maintenance(world, icinga):
    sandbox = icinga
    sandbox.wait_for(automation_alert("OK"), 60, what="a first OK result")
    # SCVMM is out of reach when the timer runs out: the handler runs but cannot act.
    world.fake.set_faults(refuse_connections=True)
    world.ups.cut_mains()
    index, _ = sandbox.wait_for(automation_alert("CRITICAL"), TIMER + 40,
                                what="CRITICAL when the timer runs out")
    sandbox.wait_for(automation_handler_run("CRITICAL"), 20, start=index,
                     what="a handler run on CRITICAL")
    time.sleep(1)  # let that run fail
    assert not any(world.fed_hosts_in_maintenance())

    # Icinga goes down with the HARD CRITICAL state retained; SCVMM comes back meanwhile.
    sandbox.stop()
    world.fake.set_faults(refuse_connections=False)
    before_restart = len(sandbox.events())
    sandbox.start()

    # No state change after the restart (still CRITICAL), yet the volatile service runs
    # the handler again on its next result.
    sandbox.wait_for(automation_handler_run("CRITICAL"), 30, start=before_restart,
                     what="a handler run after the restart")
    world.wait(lambda: all(world.fed_hosts_in_maintenance()), 60,
               "maintenance after the restart")
    world.assert_maintenance_done_right()
    after_restart = sandbox.events()[before_restart:]
    assert not [e for e in after_restart if e.kind == "alert" and e.service == AUTOMATION]

    world.ups.restore_mains()
    sandbox.wait_for(automation_alert("OK"), 30, start=before_restart, what="recovery")
    world.wait(lambda: not any(world.fed_hosts_in_maintenance()), 60,
               "the hosts leaving maintenance",
                   # as the shipped retry timer does, should the one recovery call's
                   # budget end before every Enable (five hosts, a loaded machine)
                   while_waiting=world.retry_pending_now)
    world.settle_with_retry_pending()


READINESS = "ups-readiness"
READINESS_INTERVAL = 2


def readiness_host(config: Path) -> str:
    """The endpoint that runs the handler, with the readiness service (shipped apply rule)."""
    return f"""
object Host "icinga-master" {{
    check_command = "dummy"
    address = "127.0.0.1"
    vars.dell_ups_readiness = true
    vars.dell_ups_readiness_config = "{config}"
    vars.dell_ups_readiness_interval = {READINESS_INTERVAL}s
}}
"""


def readiness_alert(state: str, cause: str = ""):
    def matches(event: ServiceEvent) -> bool:
        return (event.kind == "alert" and event.service == READINESS and event.state == state
                and cause in event.text)
    return matches


def test_readiness_turns_critical_for_each_cause_and_ok_when_fixed(world, tmp_path: Path):
    """Issue 9: a wrong password, a host unknown to SCVMM, a corrupt state file and a config
    typo each turn the readiness service CRITICAL within one check interval, naming the
    cause; fixing it turns it back to what it was. That is a WARNING in this world: both
    nodes of cl02 are fed by the one UPS in migrate mode, so Failover Clustering keeps the
    last one out of maintenance (the world is built to show that), and the readiness check
    says so from SCVMM's list of the cluster's nodes."""
    sandbox = IcingaSandbox(tmp_path / "icinga2", ups_host(world.ups.port, world.config)
                            + readiness_host(world.config) + NOTIFICATIONS, env=world.env)
    sandbox.validate()
    sandbox.start()
    try:
        baseline = readiness_alert("WARNING", f"cluster {SMALL_CLUSTER}: all its nodes")
        index, _ = sandbox.wait_for(baseline, 60, what=f"readiness WARNING for {SMALL_CLUSTER}")
        config_text = world.config.read_text()
        password_file = world.workspace.password_file
        password = password_file.read_text()
        record = world.workspace.state_dir / "hosts" / f"{FED_HOSTS[0]}.json"

        def corrupt() -> None:
            record.parent.mkdir(parents=True, exist_ok=True)
            record.write_text("{not json")

        causes = [
            ("wrong password", lambda: password_file.write_text("expired\n"),
             lambda: password_file.write_text(password), "rejected the credentials"),
            ("unknown host", lambda: world.config.write_text(config_text.replace(
                f'"{FED_HOSTS[0]}"', f'"{FED_HOSTS[0]}", "hv77.example.com"')),
             lambda: world.config.write_text(config_text), "host hv77.example.com"),
            ("corrupt state", corrupt, record.unlink, "is corrupt"),
            ("config typo", lambda: world.config.write_text(
                config_text.replace("timer =", "timre =")),
             lambda: world.config.write_text(config_text), "maintenance.timre: unknown key"),
        ]
        for what, break_it, fix_it, cause in causes:
            break_it()
            broken_at = time.time()
            index, alert = sandbox.wait_for(readiness_alert("CRITICAL", cause),
                                            4 * READINESS_INTERVAL + 20, start=index,
                                            what=f"readiness CRITICAL for {what}")
            print(f"{what}: CRITICAL {alert.timestamp - broken_at:.1f} s after: {alert.text}")
            fix_it()
            index, _ = sandbox.wait_for(baseline, 4 * READINESS_INTERVAL + 20, start=index,
                                        what=f"readiness as before after fixing {what}")
        assert not [e for e in sandbox.events() if e.service == READINESS and e.kind == "alert"
                    and (e.state in ("OK", "UNKNOWN")
                         or (e.state == "WARNING" and not baseline(e)))]
    finally:
        sandbox.stop()


# ---- graphs: Icinga 2's GraphiteWriter into Debian's Graphite, drawn by our templates ----


def _graph_targets(template_file: Path, service_prefix: str
                   ) -> dict[str, tuple[list[str], dict[str, str]]]:
    """graph template -> the render targets the Icinga Web 2 graphite module would ask
    for (each curve's metric path, macros substituted, inside its functions) and the
    template's URL parameters."""
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign] - keep areaAlpha's case
    parser.read(template_file, encoding="utf-8")
    targets: dict[str, tuple[list[str], dict[str, str]]] = {}
    for section in parser.sections():
        template, _, topic = section.rpartition(".")
        if topic != "metrics_filters":
            continue
        assert parser[f"{template}.graph"]["check_command"].strip('"') == "dell_ups"
        functions = parser[f"{template}.functions"]
        for curve, path in parser[section].items():
            metric = path.strip('"').replace("$service_name_template$", service_prefix)
            function = functions[curve].strip('"')
            params = {key: value.strip('"')
                      for key, value in parser[f"{template}.urlparams"].items()}
            targets.setdefault(template, ([], params))[0].append(
                function.replace("$metric$", metric))
    return targets


@pytest.mark.skipif(not graphite_installed(),
                    reason="Debian's graphite-carbon and graphite-web are not installed")
def test_graphite_writer_feeds_graphite_and_the_templates_draw_the_outage(world, tmp_path):
    """The values the simulator served reach graphite-web's render API through Icinga's
    GraphiteWriter, and every curve of the shipped graph templates and Grafana dashboard
    finds its series there."""
    with GraphiteSandbox(tmp_path / "graphite") as graphite:
        writer = (f'object GraphiteWriter "graphite" {{\n\thost = "127.0.0.1"\n'
                  f"\tport = {graphite.line_port}\n\tenable_send_thresholds = true\n}}\n")
        sandbox = IcingaSandbox(tmp_path / "icinga2",
                                ups_host(world.ups.port, world.config) + writer, env=world.env)
        sandbox.validate()
        sandbox.start()
        started = int(time.time())
        try:
            prefix = f"icinga2.{UPS_NAME}.services.ups.dell_ups"
            served = world.ups.state()
            world.wait(lambda: graphite.values(f"{prefix}.perfdata.charge.value"), 60,
                       "the first charge value in Graphite")
            assert set(graphite.values(f"{prefix}.perfdata.load.value")) == {served["load"]}
            assert set(graphite.values(f"{prefix}.perfdata.temperature.value")) == {
                served["temperature"]}
            assert set(graphite.values(f"{prefix}.perfdata.on_battery.value")) == {0.0}

            world.ups.cut_mains()
            sandbox.wait_for(automation_alert("CRITICAL"), TIMER + 30, what="CRITICAL")
            world.wait(lambda: max(graphite.values(f"{prefix}.perfdata.on_battery.value"))
                       >= TIMER, 30, "the outage past the timer in Graphite")
            # The maintenance timer travels as on_battery's critical threshold, printed as
            # the range "timer - 1" (alert above it): the graphs add the 1 back.
            assert set(graphite.values(f"{prefix}.perfdata.on_battery.crit")) == {TIMER - 1}
            timer_line = f"offset({prefix}.perfdata.on_battery.crit, 1)"
            assert set(graphite.values(timer_line)) == {TIMER}
            assert min(graphite.values(f"{prefix}.perfdata.charge.value")) < served["charge"]
            world.ups.restore_mains()
            sandbox.wait_for(automation_alert("OK"), 30, what="recovery")
            world.wait(lambda: graphite.values(f"{prefix}.perfdata.on_battery.value")[-1] == 0,
                       30, "on_battery back to 0 in Graphite")

            templates = _graph_targets(DASHBOARDS / "icingaweb2-graphite" / "dell_ups.ini",
                                       prefix)
            assert set(templates) == {"dell_ups-charge", "dell_ups-runtime",
                                      "dell_ups-on_battery", "dell_ups-load",
                                      "dell_ups-temperature", "dell_ups-voltage"}
            for template, (targets, params) in templates.items():
                for target in targets:
                    series = graphite.render(target)
                    assert series and any(v is not None for v, _ in series[0]["datapoints"]), \
                        (template, target)
                png = graphite.render(targets, fmt="png", since=str(started), width="800",
                                      height="250", **params)
                assert png.startswith(b"\x89PNG")
                (tmp_path / f"{template}.png").write_bytes(png)
                if os.environ.get("CHECK_DELL_UPS_GRAPHS_TO"):  # docs/img: see docs/graphs.md
                    Path(os.environ["CHECK_DELL_UPS_GRAPHS_TO"], f"{template}.png").write_bytes(
                        png)
            dashboard = json.loads((DASHBOARDS / "grafana" / "dell_ups-graphite.json")
                                   .read_text(encoding="utf-8"))
            for panel in dashboard["panels"]:
                for target in panel["targets"]:
                    expression = target["target"].replace("$host", UPS_NAME).replace(
                        "$service", "ups")
                    assert graphite.values(expression), (panel["title"], expression)
        finally:
            sandbox.stop()


def _influx_query(query: str) -> str:
    """A Grafana InfluxQL target as Grafana would send it for this UPS's service."""
    return (query.replace("$host", UPS_NAME).replace("$service", "ups")
            .replace("$timeFilter", "time > now() - 1h").replace("$__interval", "1s"))


@pytest.mark.skipif(not influxdb_installed(), reason="Debian's influxdb is not installed")
def test_influxdb_writer_feeds_influxdb_and_the_grafana_dashboard_draws_the_outage(
        world, tmp_path):
    """Icinga 2's InfluxdbWriter with its default templates into Debian's InfluxDB 1.x:
    every query of the shipped Grafana (InfluxDB) dashboard, its template variables
    included, finds the values the simulator served, through a power cut."""
    with InfluxSandbox(tmp_path / "influxdb") as influx:
        writer = (f'object InfluxdbWriter "influxdb" {{\n\thost = "127.0.0.1"\n'
                  f'\tport = {influx.http_port}\n\tdatabase = "{DATABASE}"\n'
                  "\tflush_threshold = 1\n\tflush_interval = 1s\n"
                  "\tenable_send_thresholds = true\n}\n")
        sandbox = IcingaSandbox(tmp_path / "icinga2",
                                ups_host(world.ups.port, world.config) + writer, env=world.env)
        sandbox.validate()
        sandbox.start()
        try:
            served = world.ups.state()
            charge = _influx_query("SELECT \"value\" FROM \"dell_ups\" WHERE \"hostname\" = "
                                   "'$host' AND \"metric\" = 'charge' AND $timeFilter")
            world.wait(lambda: influx.values(charge), 60, "the first charge value in InfluxDB")
            assert set(influx.values(charge)) == {served["charge"]}
            world.ups.cut_mains()
            sandbox.wait_for(automation_alert("CRITICAL"), TIMER + 30, what="CRITICAL")
            on_battery = charge.replace("'charge'", "'on_battery'")
            world.wait(lambda: max(influx.values(on_battery), default=0) >= TIMER, 30,
                       "the outage past the timer in InfluxDB")
            # The timer travels as on_battery's critical threshold ("timer - 1").
            assert set(influx.values(on_battery.replace('"value"', '"crit"'))) == {TIMER - 1}
            world.ups.restore_mains()
            sandbox.wait_for(automation_alert("OK"), 30, what="recovery")
            world.wait(lambda: influx.values(on_battery)[-1] == 0, 30,
                       "on_battery back to 0 in InfluxDB")

            dashboard = json.loads((DASHBOARDS / "grafana" / "dell_ups-influxdb.json")
                                   .read_text(encoding="utf-8"))
            for variable in dashboard["templating"]["list"]:
                shown = [row[1] for result in influx.query(_influx_query(variable["query"]))
                         for series in result.get("series") or [] for row in series["values"]]
                # Both services of the UPS run the dell_ups command: both are offered.
                assert shown == {"host": [UPS_NAME], "service": ["ups", AUTOMATION]}[
                    variable["name"]], variable
            for panel in dashboard["panels"]:
                for target in panel["targets"]:
                    assert influx.values(_influx_query(target["query"])), (
                        panel["title"], target["query"])
        finally:
            sandbox.stop()


def test_a_calibration_longer_than_the_timer_is_shown_and_triggers_no_disable(world, icinga):
    """Time-compressed: a 35 s calibration against the 15 s timer is the same property as
    a 10-minute calibration against a 5-minute timer (the load on battery, the mains
    present, for more than twice the timer). The charge starts at 50.5 % so that the
    calibration drains it below the 50 % warning: the people's service alerts WARNING
    naming the test, and the volatile automation service runs the handler on each of its
    WARNING results, which must never disable a host."""
    sandbox = icinga
    index, _ = sandbox.wait_for(automation_alert("OK"), 60, what="a first OK result")
    world.ups.set_charge(50.5)
    calibration = 2 * TIMER + 5
    world.ups.start_test("calibration", calibration)
    started = time.monotonic()
    _, shown = sandbox.wait_for(
        lambda e: e.kind == "alert" and e.service == "ups" and e.state == "WARNING",
        calibration, start=index, what="the people's service showing the test")
    assert shown.text.startswith(
        "DELL UPS WARNING - battery test in progress (load on battery, mains present), "
        "charge 49%"), shown.text
    sandbox.wait_for(automation_handler_run("WARNING"), 30, start=index,
                     what="the handler run on a WARNING during the test")
    while time.monotonic() - started < calibration + 2 * AUTOMATION_INTERVAL:
        assert world.disable_and_enable_calls() == (0, 0)
        time.sleep(1)
    assert world.ups.state()["test"] is None  # the calibration is over
    assert world.disable_and_enable_calls() == (0, 0)
    assert not any(world.fed_hosts_in_maintenance())
    events = sandbox.events()
    assert not [e for e in events if e.service in ("ups", AUTOMATION) and e.state == "CRITICAL"]


def test_a_power_cut_during_a_test_puts_the_hosts_into_maintenance(world, icinga):
    sandbox = icinga
    index, _ = sandbox.wait_for(automation_alert("OK"), 60, what="a first OK result")
    test_started = time.time()
    world.ups.start_test("self-test", 60)
    time.sleep(AUTOMATION_INTERVAL)
    world.ups.cut_mains()  # the UPS aborts the test; the load stays on the battery
    index, _ = sandbox.wait_for(automation_alert("CRITICAL"), TIMER + 30, start=index,
                                what="CRITICAL when the timer runs out")
    world.wait(lambda: all(world.fed_hosts_in_maintenance()), 60,
               "maintenance of every host fed by the UPS")
    world.assert_maintenance_done_right()
    # The timer counts from when the load went to battery (the card's counter, RFC 1628):
    # maintenance comes no later than in an ordinary outage, and never at once.
    first_disable = world.first_disable_started()
    assert first_disable is not None and first_disable >= test_started + TIMER - 2
