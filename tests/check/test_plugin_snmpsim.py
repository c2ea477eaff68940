"""The installed plugin against snmpsim serving static devices (tests/check/data/*.snmprec;
the community names the file). See tests/check/data/README.md for what each one models."""

from __future__ import annotations


def check(run_check, port: int, community: str, *args: str):
    return run_check("-H", "127.0.0.1", "-p", str(port), "-t", "5", *args,
                     env={"DELL_UPS_COMMUNITY": community})


def test_dell_card_with_real_device_quirks(run_check, snmpsim_port: int) -> None:
    # Battery temperature 0 (no sensor) -> the probe's 77.0 F = 25 C; lines 2/3 all zero;
    # runtime 65535 s and 1092 min saturated; TimeTicks/Gauge32/OctetString for integers;
    # an empty alarm row; 50 Hz in whole units; consumption 0 in the first hour.
    result = check(run_check, snmpsim_port, "dell-quirks")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        "DELL UPS OK - on mains, charge 100%, runtime at least 18h12m15s, load 33% | "
        "on_battery=0s;0;299;0 runtime=65535s;;;0 charge=100%;50:;25:;0;100 "
        "load=33%;80;90;0 temperature=25;35;40 input_voltage=231V output_voltage=230V "
        "alarms=0;;;0\n")


def test_dell_card_quirks_in_the_long_output(run_check, snmpsim_port: int) -> None:
    result = check(run_check, snmpsim_port, "dell-quirks", "-v")
    lines = result.stdout.splitlines()
    assert result.returncode == 0
    assert "input line 1: 231 V, 3 A, 690 W, 50 Hz" in lines
    assert "output line 1: 230 V, 2.8 A, 640 W, load 33%" in lines
    assert not any(line.startswith(("input line 2", "output line 3")) for line in lines)
    assert "environment: temperature 25 C (probe)" in lines
    assert "active alarms: none" in lines
    assert "consumption" not in result.stdout
    assert "serial CN-0QUIRK-75162-1AB-0007" in lines[1]


def test_plain_rfc1628_ups_on_battery(run_check, snmpsim_port: int) -> None:
    result = check(run_check, snmpsim_port, "rfc1628")
    assert result.returncode == 1
    assert result.stdout == (
        "DELL UPS WARNING - on battery for 42s of 5m00s maintenance timer, charge 85%, "
        "runtime 20m00s, load 40% | on_battery=42s;0;299;0 runtime=1200s;600:;300:;0 "
        "charge=85%;50:;25:;0;100 load=40%;80;90;0 temperature=27;35;40 input_voltage=0V "
        "output_voltage=120V alarms=1;;;0\n")
    verbose = check(run_check, snmpsim_port, "rfc1628", "-v").stdout
    assert "upsAlarmOnBattery (UPS-MIB 2): on battery [OK]" in verbose
    assert "global status not reported" in verbose


def test_three_phase_load_is_the_highest_phase(run_check, snmpsim_port: int) -> None:
    result = check(run_check, snmpsim_port, "three-phase")
    assert result.returncode == 1
    assert result.stdout == (
        "DELL UPS WARNING - on mains, charge 100%, runtime 15m00s, load 82%; "
        "WARNING: load 82% above 80% | on_battery=0s;0;299;0 runtime=900s;;;0 "
        "charge=100%;50:;25:;0;100 load=82%;80;90;0 temperature=29;35;40 "
        "input_voltage=231V output_voltage=230V alarms=0;;;0\n")
    lines = check(run_check, snmpsim_port, "three-phase", "-v").stdout.splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("output line")] == [
        "output line 1", "output line 2", "output line 3"]


def test_not_a_ups(run_check, snmpsim_port: int) -> None:
    result = check(run_check, snmpsim_port, "not-a-ups")
    assert result.returncode == 3
    assert result.stdout == (
        f"DELL UPS UNKNOWN - not a UPS: 127.0.0.1:{snmpsim_port} has no UPS-MIB "
        "(sysDescr: Linux switch01 5.10.0-28-amd64 #1 SMP x86_64)\n")


def test_threshold_overrides_against_a_static_device(run_check, snmpsim_port: int) -> None:
    result = check(run_check, snmpsim_port, "three-phase", "-w", "load=85", "-c", "load=",
                   "-c", "temperature=28", "-w", "input_voltage=220:240")
    assert result.returncode == 2
    first = result.stdout.splitlines()[0]
    assert first.startswith("DELL UPS CRITICAL - on mains, charge 100%, runtime 15m00s, "
                            "load 82%; CRITICAL: temperature 29 C above 28 C | ")
    assert " load=82%;85;;0 temperature=29;35;28 input_voltage=231V;220:240 " in first


def test_hostile_agent_with_wrong_types_everywhere(run_check, snmpsim_port: int) -> None:
    # Every object with a type or value the check does not expect (strings, OIDs, IP
    # addresses, Counter64 maxima, INT_MIN); only one alarm row makes sense: LowBattery.
    for verbosity in ([], ["-vvv"]):
        result = check(run_check, snmpsim_port, "hostile", *verbosity)
        assert result.returncode == 2
        assert result.stderr == "" and "Traceback" not in result.stdout
        assert result.stdout.splitlines()[0] == (
            "DELL UPS CRITICAL - power source unknown; CRITICAL: battery low; "
            "WARNING: alarm 3, alarm 1.3.6.1.2.1.33.1.6.3.999 | alarms=3;;;0")
