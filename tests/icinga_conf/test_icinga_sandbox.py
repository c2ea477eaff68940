"""The sandbox's parsing of the Nagios/Icinga 1.x log lines it watches."""

from __future__ import annotations

from check_dell_ups.icinga_sandbox import ServiceEvent, parse_events


def test_alerts_and_handler_runs_are_parsed_and_the_rest_ignored():
    lines = [
        "[1795681295] LOG ROTATION: HOURLY",
        "[1795681295] CURRENT SERVICE STATE: ups1;ups-maintenance;UNKNOWN;SOFT;1;",
        "[1795681302] SERVICE ALERT: ups1;ups-maintenance;CRITICAL;HARD;1;"
        "DELL UPS CRITICAL - on battery for 21s; timer reached ",
        "[1795681302] SERVICE EVENT HANDLER: ups1;ups-maintenance;CRITICAL;HARD;1;"
        "dell_ups_maintenance",
        "[1795681303] SERVICE ALERT: ups1;ups;WARNING;SOFT;2;DELL UPS WARNING - x\n",
    ]
    assert parse_events(lines) == [
        ServiceEvent(1795681302, "alert", "ups1", "ups-maintenance", "CRITICAL", "HARD", 1,
                     "DELL UPS CRITICAL - on battery for 21s; timer reached"),
        ServiceEvent(1795681302, "handler", "ups1", "ups-maintenance", "CRITICAL", "HARD", 1,
                     "dell_ups_maintenance"),
        ServiceEvent(1795681303, "alert", "ups1", "ups", "WARNING", "SOFT", 2,
                     "DELL UPS WARNING - x"),
    ]
