"""dell_ups_simulator as a program: serve mode, signals, ctl, bad arguments."""

from __future__ import annotations

import json
import signal
import socket

import pytest

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
OUTPUT_SOURCE = "1.3.6.1.2.1.33.1.4.1.0"


def test_serves_announces_once_and_exits_cleanly_on_sigterm(start_program, net_snmp):
    program = start_program("--port", "0", "--control-port", "0")
    assert program.listening_line.startswith("dell_ups_simulator listening on udp 127.0.0.1:")
    assert program.control_port is not None
    values = net_snmp.values(
        "snmpget", "-v2c", "-c", "public", f"127.0.0.1:{program.port}", SYS_DESCR
    )
    assert values[SYS_DESCR] == 'STRING: "Dell UPS Rack 1920W HV"'
    code, rest_of_stdout, stderr = program.stop(signal.SIGTERM)
    assert code == 0
    assert rest_of_stdout == ""  # exactly one line in all
    assert stderr == ""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", program.port))  # the port is free again


def test_exits_cleanly_on_sigint(start_program):
    program = start_program("--port", "0")
    assert program.control_port is None
    code, _stdout, stderr = program.stop(signal.SIGINT)
    assert code == 0
    assert "Traceback" not in stderr


def test_ctl_drives_a_running_simulator(start_program, run_simulator_program, net_snmp):
    program = start_program("--port", "0", "--control-port", "0", "--community", "s3cret")
    ctl = ("ctl", "--control-port", str(program.control_port))

    result = run_simulator_program(*ctl, "mains-off")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: mains off")
    values = net_snmp.values(
        "snmpget", "-v2c", "-c", "s3cret", f"127.0.0.1:{program.port}", OUTPUT_SOURCE
    )
    assert values[OUTPUT_SOURCE] == "INTEGER: 5"

    assert run_simulator_program(*ctl, "set-load", "70").returncode == 0
    assert run_simulator_program(*ctl, "set-charge", "40").returncode == 0
    assert run_simulator_program(*ctl, "alarm", "replace_battery", "on").returncode == 0
    assert run_simulator_program(*ctl, "set-temperature", "41.5").returncode == 0
    assert run_simulator_program(*ctl, "card-reboot").returncode == 0

    status = run_simulator_program(*ctl, "status")
    assert status.returncode == 0
    state = json.loads(status.stdout)
    assert state["mains"] is False
    assert state["load"] == 70
    assert state["charge"] == pytest.approx(40, abs=1)
    assert state["alarms"] == ["on_battery", "replace_battery"]
    assert state["dell_alarms"] == "57,63"
    # the card rebooted during the outage and restarted its counter
    assert state["card_uptime"] < state["outage_seconds"]
    assert state["seconds_on_battery"] <= state["card_uptime"] + 1
    assert state["request_count"] == 1
    assert state["temperature"] == 41.5

    assert run_simulator_program(*ctl, "alarm", "replace_battery", "off").returncode == 0
    assert run_simulator_program(*ctl, "mains-on").returncode == 0
    state = json.loads(run_simulator_program(*ctl, "status").stdout)
    assert state["mains"] is True
    assert state["alarms"] == []

    result = run_simulator_program(*ctl, "calibrate", "--seconds", "600")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: mains on, ") and "calibration running" in result.stdout
    stale = run_simulator_program(*ctl, "stale-counter", "5000", "--for-seconds", "5")
    assert stale.returncode == 0, stale.stderr
    refused = run_simulator_program(*ctl, "self-test")
    assert (refused.returncode, refused.stderr) == (
        1, "dell_ups_simulator ctl: error: a calibration is already running\n")
    assert program.stop()[0] == 0


def test_v3_user_with_passphrases_from_the_environment(start_program, clean_env, net_snmp):
    env = {
        **clean_env,
        "DELL_UPS_SIM_AUTH_PASSPHRASE": "auth-secret-9",
        "DELL_UPS_SIM_PRIV_PASSPHRASE": "priv-secret-9",
    }
    program = start_program(
        "--port", "0", "--v3-user", "monitor", "--v3-auth", "SHA", "--v3-priv", "AES", env=env
    )
    assert "secret" not in program.listening_line
    values = net_snmp.values(
        "snmpget", "-v3", "-l", "authPriv", "-u", "monitor", "-a", "SHA", "-A", "auth-secret-9",
        "-x", "AES", "-X", "priv-secret-9", f"127.0.0.1:{program.port}", SYS_DESCR,
    )  # fmt: skip
    assert SYS_DESCR in values
    assert program.stop()[0] == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((), "--port"),
        (("--port", "http"), "not a port number"),
        (("--port", "70000"), "port out of range"),
        (("--port", "0", "--v3-priv", "ROT13"), "invalid choice"),
        (("--port", "0", "--drain-speed", "0"), "--drain-speed must be positive"),
        (("--port", "0", "--v3-user", "monitor"), "DELL_UPS_SIM_AUTH_PASSPHRASE"),
        (("--port", "0", "--bogus"), "unrecognized arguments"),
        (("ctl",), "--control-port"),
        (("ctl", "--control-port", "1", "explode"), "invalid choice"),
        (("ctl", "--control-port", "1", "alarm", "fan_failure", "maybe"), "invalid choice"),
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(run_simulator_program, arguments, message):
    result = run_simulator_program(*arguments)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]


def test_busy_port_is_a_one_line_error(run_simulator_program):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        result = run_simulator_program("--port", str(taken.getsockname()[1]))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "cannot listen on UDP 127.0.0.1" in result.stderr


def test_ctl_without_a_simulator_is_a_one_line_error(run_simulator_program):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, not listening: connections are refused
        result = run_simulator_program("ctl", "--control-port", str(port), "status")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "cannot reach" in result.stderr


def test_ctl_reports_a_refused_change_in_one_line(start_program, run_simulator_program):
    program = start_program("--port", "0", "--control-port", "0")
    result = run_simulator_program(
        "ctl", "--control-port", str(program.control_port), "alarm", "gremlins", "on"
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "unknown alarm 'gremlins'" in result.stderr


def test_no_dell_mib_serves_a_plain_rfc1628_ups(start_program, net_snmp):
    program = start_program("--port", "0", "--no-dell-mib")
    dell_status = "1.3.6.1.4.1.674.10902.2.110.1.0"
    values = net_snmp.values(
        "snmpget", "-v2c", "-c", "public", f"127.0.0.1:{program.port}", dell_status, OUTPUT_SOURCE
    )
    assert values[dell_status].startswith("No Such Object")
    assert values[OUTPUT_SOURCE] == "INTEGER: 3"
    assert program.stop()[0] == 0
