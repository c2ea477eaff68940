"""Judgement: each row of the DESIGN.md state table, the summary and the perfdata."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from check_dell_ups.judgement import build_check, duration
from check_dell_ups.output import perfdata, render
from check_dell_ups.reading import normalise
from check_dell_ups.thresholds import build

UPS = "1.3.6.1.2.1.33.1"
DELL = "1.3.6.1.4.1.674.10902.2"
WELL_KNOWN = f"{UPS}.6.3"
ALARM_DESCR = f"{UPS}.6.2.1.2"


def judge(raw: dict, warnings=(), criticals=(), timer: int = 300, verbosity: int = 0):
    reading = normalise(raw)
    timer_critical = not any(c.startswith("on_battery=") for c in criticals)
    check = build_check(reading, build(warnings, criticals, timer), timer, timer_critical)
    check()
    return check, render(check, reading, verbosity)


def on_battery(raw: dict, seconds: int, charge: int = 90, minutes: int = 25) -> dict:
    raw.update({f"{UPS}.4.1.0": 5, f"{UPS}.2.2.0": seconds, f"{UPS}.2.4.0": charge,
                f"{UPS}.2.3.0": minutes, f"{UPS}.3.3.1.3.1": 0})
    raw.pop(f"{DELL}.120.5.3.0", None)
    return raw


def first_line(output: str) -> str:
    return output.splitlines()[0]


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (45, "45s"), (125, "2m05s"), (300, "5m00s"), (3725, "1h02m05s"),
])
def test_duration(seconds: int, text: str) -> None:
    assert duration(seconds) == text


def test_on_mains_nothing_wrong_is_ok(dell_raw: dict) -> None:
    check, output = judge(dell_raw)
    assert check.exitcode == 0
    assert output == (
        "DELL UPS OK - on mains, charge 100%, runtime 30m00s, load 30% | "
        "on_battery=0s;0;299;0 runtime=1800s;;;0 charge=100%;50:;25:;0;100 load=30%;80;90;0 "
        "temperature=25;35;40 input_voltage=230V output_voltage=230V alarms=0;;;0\n")


def test_on_battery_is_warning(rfc1628_raw: dict) -> None:
    check, output = judge(on_battery(rfc1628_raw, 125))
    assert check.exitcode == 1
    assert first_line(output) == (
        "DELL UPS WARNING - on battery for 2m05s of 5m00s maintenance timer, charge 90%, "
        "runtime 25m00s, load 30% | on_battery=125s;0;299;0 runtime=1500s;600:;300:;0 "
        "charge=90%;50:;25:;0;100 load=30%;80;90;0 temperature=25;35;40 input_voltage=0V "
        "output_voltage=230V alarms=0;;;0")


def test_on_battery_for_the_timer_is_critical(rfc1628_raw: dict) -> None:
    check, output = judge(on_battery(rfc1628_raw, 300))
    assert check.exitcode == 2
    assert first_line(output).startswith(
        "DELL UPS CRITICAL - on battery for 5m00s of 5m00s maintenance timer, charge 90%, "
        "runtime 25m00s, load 30%; CRITICAL: maintenance timer reached | on_battery=300s;0;299;0")
    check, _ = judge(on_battery(rfc1628_raw, 299))
    assert check.exitcode == 1


def test_the_timer_is_the_option(rfc1628_raw: dict) -> None:
    check, output = judge(on_battery(rfc1628_raw, 61), timer=60)
    assert check.exitcode == 2 and "of 1m00s maintenance timer" in output
    assert "on_battery=61s;0;59;0" in output


def test_timer_minus_one_never_critical(rfc1628_raw: dict) -> None:
    check, output = judge(on_battery(rfc1628_raw, 86400), timer=-1)
    assert check.exitcode == 1
    assert "on battery for 24h00m00s, charge" in output
    assert "on_battery=86400s;0;;0" in output


def test_missing_temperature_never_masks_a_known_problem(rfc1628_raw: dict) -> None:
    raw = on_battery(rfc1628_raw, 400)
    raw[f"{UPS}.2.7.0"] = 0  # no sensor
    check, output = judge(raw)
    assert check.exitcode == 2
    assert "temperature" not in output


def test_card_reboot_on_battery_is_still_on_battery(dell_raw: dict) -> None:
    dell_raw.update({f"{UPS}.4.1.0": 5, f"{UPS}.2.2.0": 0, f"{DELL}.120.4.2.0": "57"})
    check, output = judge(dell_raw)
    assert check.exitcode == 1
    assert first_line(output).startswith(
        "DELL UPS WARNING - on battery for 1s of 5m00s maintenance timer "
        "(the card's counter reads 0), ")
    assert "on_battery=1s;" in output


@pytest.mark.parametrize(("oid", "value", "exitcode", "problem"), [
    (f"{UPS}.2.1.0", 3, 2, "CRITICAL: battery low"),
    (f"{UPS}.2.1.0", 4, 2, "CRITICAL: battery depleted"),
    (f"{UPS}.4.1.0", 2, 2, "CRITICAL: output off"),
    (f"{UPS}.4.1.0", 4, 1, "WARNING: on bypass"),
    (f"{ALARM_DESCR}.1", f"{WELL_KNOWN}.8", 2, "CRITICAL: overload"),
    (f"{ALARM_DESCR}.1", f"{WELL_KNOWN}.23", 2, "CRITICAL: shutdown imminent"),
    (f"{ALARM_DESCR}.1", f"{WELL_KNOWN}.14", 2, "CRITICAL: output off"),
    (f"{ALARM_DESCR}.1", f"{WELL_KNOWN}.9", 1, "WARNING: on bypass"),
    (f"{ALARM_DESCR}.1", f"{WELL_KNOWN}.1", 1, "WARNING: replace battery"),
    (f"{ALARM_DESCR}.1", f"{WELL_KNOWN}.16", 1, "WARNING: fan failure"),
    (f"{DELL}.120.4.2.0", "63", 1, "WARNING: replace battery"),
    (f"{DELL}.120.4.2.0", "65", 1, "WARNING: fan failure"),
    (f"{DELL}.120.4.2.0", "21", 2, "CRITICAL: overload"),
    (f"{DELL}.120.4.2.0", "41", 2, "CRITICAL: shutdown imminent"),
    (f"{DELL}.120.4.2.0", "85", 0, None),
    (f"{DELL}.120.5.2.0", 2, 1, "WARNING: self-test warning"),
    (f"{DELL}.120.5.2.0", 3, 1, "WARNING: self-test failed"),
    (f"{DELL}.110.1.0", 4, 1, "WARNING: global status non-critical"),
    (f"{DELL}.110.1.0", 5, 2, "CRITICAL: global status critical"),
    (f"{DELL}.110.1.0", 6, 2, "CRITICAL: global status non-recoverable"),
])
def test_state_rows(dell_raw: dict, oid: str, value: object, exitcode: int,
                    problem: str | None) -> None:
    dell_raw[oid] = value
    check, output = judge(dell_raw)
    assert check.exitcode == exitcode
    head = "on mains, charge 100%, runtime 30m00s, load 30%"
    summary = first_line(output).split(" | ")[0]
    assert summary == f"DELL UPS {['OK', 'WARNING', 'CRITICAL'][exitcode]} - {head}" + (
        f"; {problem}" if problem else "")


def test_global_status_named_only_when_nothing_else_explains_it(dell_raw: dict) -> None:
    dell_raw.update({f"{DELL}.110.1.0": 4, f"{DELL}.120.4.2.0": "63"})
    _, output = judge(dell_raw)
    assert "; WARNING: replace battery |" in output
    dell_raw.update({f"{DELL}.110.1.0": 5})
    _, output = judge(dell_raw)
    assert "; CRITICAL: global status critical; WARNING: replace battery |" in output


def test_a_problem_is_named_once_at_its_worst_state(dell_raw: dict) -> None:
    dell_raw.update({f"{DELL}.120.5.2.0": 3, f"{ALARM_DESCR}.1": f"{WELL_KNOWN}.19",
                     f"{UPS}.2.1.0": 3, f"{DELL}.120.4.2.0": "43"})
    _, output = judge(dell_raw)
    assert "; CRITICAL: battery low; WARNING: self-test failed |" in output


def test_ups_mib_self_test_judged_without_dell(rfc1628_raw: dict) -> None:
    rfc1628_raw[f"{UPS}.7.3.0"] = 2
    check, output = judge(rfc1628_raw)
    assert check.exitcode == 1 and "WARNING: self-test warning" in output


@pytest.mark.parametrize(("charge", "exitcode", "problem"), [
    (51, 0, None), (50, 0, None), (49, 1, "WARNING: charge 49% below 50%"),
    (24, 2, "CRITICAL: charge 24% below 25%"),
])
def test_charge_thresholds(dell_raw: dict, charge: int, exitcode: int,
                           problem: str | None) -> None:
    dell_raw[f"{UPS}.2.4.0"] = charge
    check, output = judge(dell_raw)
    assert check.exitcode == exitcode
    assert (problem in output) if problem else ("below" not in output)


@pytest.mark.parametrize(("load", "exitcode"), [(80, 0), (81, 1), (91, 2)])
def test_load_thresholds(dell_raw: dict, load: int, exitcode: int) -> None:
    dell_raw[f"{UPS}.4.4.1.5.1"] = load
    assert judge(dell_raw)[0].exitcode == exitcode


# Nagios range "40" is 0..40: below freezing is outside it too (and bad for a battery).
@pytest.mark.parametrize(("temperature", "exitcode"), [(35, 0), (36, 1), (41, 2), (-5, 2)])
def test_temperature_thresholds(dell_raw: dict, temperature: int, exitcode: int) -> None:
    dell_raw[f"{UPS}.2.7.0"] = temperature
    assert judge(dell_raw)[0].exitcode == exitcode


def test_runtime_judged_only_on_battery(rfc1628_raw: dict) -> None:
    rfc1628_raw[f"{UPS}.2.3.0"] = 2  # 120 s on mains: a charging battery, not judged
    check, output = judge(rfc1628_raw)
    assert check.exitcode == 0
    assert "runtime=120s;;;0" in output
    check, output = judge(on_battery(rfc1628_raw, 30, minutes=4))
    assert check.exitcode == 2
    assert "CRITICAL: runtime 4m00s below 5m00s" in output
    assert "runtime=240s;600:;300:;0" in output


def test_saturated_runtime_wording(dell_raw: dict) -> None:
    dell_raw[f"{DELL}.120.5.3.0"] = 65535
    _, output = judge(dell_raw)
    assert "runtime at least 18h12m15s" in output and "runtime=65535s;;;0" in output


def test_each_problem_named_once_worst_first(dell_raw: dict) -> None:
    dell_raw.update({
        f"{UPS}.2.1.0": 3, f"{ALARM_DESCR}.1": f"{WELL_KNOWN}.3", f"{ALARM_DESCR}.2":
        f"{WELL_KNOWN}.1", f"{DELL}.120.4.2.0": "43,63,65", f"{UPS}.6.1.0": 2,
    })
    check, output = judge(dell_raw)
    assert check.exitcode == 2
    assert first_line(output).split(" | ")[0].endswith(
        "; CRITICAL: battery low; WARNING: replace battery, fan failure")
    assert "alarms=3;;;0" in output


def test_overrides_change_state_and_perfdata(dell_raw: dict) -> None:
    check, output = judge(dell_raw, warnings=["load=20"], criticals=["charge=101:"])
    assert check.exitcode == 2
    assert "load=30%;20;90;0" in output and "charge=100%;50:;101:;0;100" in output
    check, output = judge(dell_raw, warnings=["alarms=0"])
    assert check.exitcode == 0 and "alarms=0;0;;0" in output


def test_on_battery_critical_override(rfc1628_raw: dict) -> None:
    check, output = judge(on_battery(rfc1628_raw, 61), criticals=["on_battery=60"])
    assert check.exitcode == 2
    assert "CRITICAL: on battery above 1m00s" in output


def test_missing_optional_values_leave_out_their_perfdata(rfc1628_raw: dict) -> None:
    for oid in (f"{UPS}.2.7.0", f"{UPS}.2.3.0", f"{UPS}.6.1.0", f"{UPS}.3.3.1.3.1"):
        del rfc1628_raw[oid]
    check, _output = judge(rfc1628_raw)
    assert check.exitcode == 0
    assert perfdata(check) == ("on_battery=0s;0;299;0 charge=100%;50:;25:;0;100 "
                               "load=30%;80;90;0 output_voltage=230V")


def test_power_source_unknown_is_not_unknown(rfc1628_raw: dict) -> None:
    del rfc1628_raw[f"{UPS}.2.2.0"]
    del rfc1628_raw[f"{UPS}.4.1.0"]
    check, output = judge(rfc1628_raw)
    assert check.exitcode == 0
    assert output.startswith("DELL UPS OK - power source unknown, charge 100%")
    assert "on_battery" not in output


def test_shut_down_without_input_power_is_not_on_mains(rfc1628_raw: dict) -> None:
    rfc1628_raw.update({f"{UPS}.4.1.0": 2, f"{UPS}.3.3.1.3.1": 0, f"{UPS}.2.4.0": 3,
                        f"{ALARM_DESCR}.1": f"{WELL_KNOWN}.21"})
    check, output = judge(rfc1628_raw)
    assert check.exitcode == 2
    assert output.startswith("DELL UPS CRITICAL - output off, no input power, charge 3%, ")
    assert "on_battery" not in output  # never 0: the handler must not see "power restored"
    assert "CRITICAL: charge 3% below 25%, output off, output off awaiting power" in output


def test_a_ups_with_no_values_at_all_is_unknown() -> None:
    check, output = judge({f"{UPS}.1.1.0": "ACME"})
    assert check.exitcode == 3
    assert output == "DELL UPS UNKNOWN - the UPS reported none of the values this check reads\n"


def test_verbose_long_output_names_everything(dell_raw: dict) -> None:
    dell_raw.update({f"{ALARM_DESCR}.1": f"{WELL_KNOWN}.1", f"{DELL}.120.4.2.0": "63",
                     f"{UPS}.6.1.0": 1})
    _check, output = judge(dell_raw, verbosity=1)
    lines = output.splitlines()
    assert " | on_battery=0s" in lines[0]
    text = "\n".join(lines[1:])
    assert "Dell UPS Rack 1920W HV" in text and "serial CN-TEST-0001" in text
    assert "firmware 01.14.0006" in text
    assert "upsAlarmBatteryBad (UPS-MIB 1): replace battery [WARNING]" in text
    assert "trapBatteryNeedReplacement (Dell 63): replace battery [WARNING]" in text
    assert "input line 1: 230 V, 50 Hz" in text
    assert "output line 1: 230 V, 2.5 A, 500 W, load 30%" in text
    assert "SNMP values" not in text
    _, output = judge(dell_raw, verbosity=3)
    assert "1.3.6.1.4.1.674.10902.2.120.1.2.0 = 'CN-TEST-0001'" in output


def test_device_text_cannot_break_the_output(dell_raw: dict) -> None:
    dell_raw[f"{DELL}.100.1.0"] = "evil | model\nsecond line"
    dell_raw[f"{DELL}.110.1.0"] = 4
    _, output = judge(dell_raw, verbosity=1)
    assert output.count("|") == 1
    assert "evil / model second line" in output


_OIDS = [f"{UPS}.2.1.0", f"{UPS}.2.2.0", f"{UPS}.2.3.0", f"{UPS}.2.4.0", f"{UPS}.2.7.0",
         f"{UPS}.4.1.0", f"{UPS}.4.4.1.5.1", f"{UPS}.4.4.1.5.2", f"{UPS}.6.1.0", f"{UPS}.7.3.0",
         f"{ALARM_DESCR}.1", f"{ALARM_DESCR}.2", f"{DELL}.110.1.0", f"{DELL}.120.4.2.0",
         f"{DELL}.120.5.2.0", f"{DELL}.120.5.3.0", f"{DELL}.120.7.3.2.0"]


def test_any_answer_gives_one_well_formed_result() -> None:
    value = st.one_of(st.integers(-5, 70000), st.sampled_from(
        ["", "57,63", "43", "x", f"{WELL_KNOWN}.3", f"{WELL_KNOWN}.23", "0.0.0"]))
    first_line = re.compile(r"^DELL UPS (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+( \| [^\n]+)?$")

    @settings(max_examples=300, deadline=None)
    @given(st.dictionaries(st.sampled_from(_OIDS), value))
    def property_holds(raw: dict) -> None:
        raw[f"{UPS}.1.1.0"] = "ACME"
        check, output = judge(raw, verbosity=1)
        assert check.exitcode in (0, 1, 2, 3)
        lines = output.splitlines()
        assert first_line.match(lines[0]), lines[0]
        state = ["OK", "WARNING", "CRITICAL", "UNKNOWN"][check.exitcode]
        assert lines[0].startswith(f"DELL UPS {state} - ")
        assert output.count("|") <= 1

    property_holds()


# --- a battery test or runtime calibration (DESIGN.md "States") ---------------------------

def load_on_battery(raw: dict, seconds: int = 95, charge: int = 80) -> dict:
    """The load runs from the battery: output source, counter, both on-battery alarms."""
    raw.update({f"{UPS}.4.1.0": 5, f"{UPS}.2.2.0": seconds, f"{UPS}.2.4.0": charge,
                f"{DELL}.120.5.3.0": 1440, f"{ALARM_DESCR}.1": f"{WELL_KNOWN}.2",
                f"{DELL}.120.4.2.0": "57", f"{DELL}.120.5.2.0": 1, f"{UPS}.7.3.0": 1})
    return raw


def dell_alarms(raw: dict, *numbers: int) -> None:
    raw[f"{DELL}.120.4.2.0"] = ",".join(str(n) for n in sorted({57, *numbers}))


TEST_SIGNS = {
    "UPS-MIB upsTestResultsSummary inProgress(5)": lambda raw: raw.update({f"{UPS}.7.3.0": 5}),
    "Dell physicalBatteryTestStatus inProgress(5)": lambda raw: raw.update(
        {f"{DELL}.120.5.2.0": 5}),
    "UPS-MIB alarm TestInProgress(24)": lambda raw: raw.update(
        {f"{ALARM_DESCR}.2": f"{WELL_KNOWN}.24"}),
    "Dell alarm 61": lambda raw: dell_alarms(raw, 61),
}
BATTERY_TEST_PERFDATA = (
    "on_battery=0s;0;299;0 runtime=1440s;;;0 charge=80%;50:;25:;0;100 load=30%;80;90;0 "
    "temperature=25;35;40 input_voltage=230V output_voltage=230V")


@pytest.mark.parametrize("sign", TEST_SIGNS)
def test_a_test_with_mains_present_is_ok_and_no_outage(dell_raw: dict, sign: str) -> None:
    raw = load_on_battery(dell_raw)
    TEST_SIGNS[sign](raw)
    check, output = judge(raw)
    assert check.exitcode == 0, output
    assert first_line(output).startswith(
        "DELL UPS OK - battery test in progress (load on battery, mains present), charge 80%, "
        f"runtime 24m00s, load 30% | {BATTERY_TEST_PERFDATA} alarms=")


def test_the_same_load_on_battery_without_a_test_is_an_outage(dell_raw: dict) -> None:
    # The contrast: mains voltage on the input line alone never hides an outage.
    check, output = judge(load_on_battery(dell_raw))
    assert check.exitcode == 1
    assert first_line(output).startswith(
        "DELL UPS WARNING - on battery for 1m35s of 5m00s maintenance timer, ")
    assert "on_battery=95s;" in output


# Mains fails during a test: an outage as any other, the counter counts, the timer runs.
MAINS_FAILS = {
    "input voltage 0": lambda raw: raw.update({f"{UPS}.3.3.1.3.1": 0}),
    "input voltage not reported": lambda raw: raw.pop(f"{UPS}.3.3.1.3.1"),
    "input voltage 50 V": lambda raw: raw.update({f"{UPS}.3.3.1.3.1": 50}),
    "input frequency 0": lambda raw: raw.update({f"{UPS}.3.3.1.2.1": 0}),
    "upsAlarmInputBad(6)": lambda raw: raw.update({f"{ALARM_DESCR}.3": f"{WELL_KNOWN}.6"}),
    "upsAlarmAwaitingPower(21)": lambda raw: raw.update(
        {f"{ALARM_DESCR}.3": f"{WELL_KNOWN}.21"}),
    "Dell 47 utility not present": lambda raw: dell_alarms(raw, 47, 61),
    "Dell 13 input under voltage": lambda raw: dell_alarms(raw, 13, 61),
    "Dell 11 input over voltage": lambda raw: dell_alarms(raw, 11, 61),
    "Dell 15 input frequency out of range": lambda raw: dell_alarms(raw, 15, 61),
}


@pytest.mark.parametrize("failure", MAINS_FAILS)
def test_mains_failing_during_a_test_is_an_outage(dell_raw: dict, failure: str) -> None:
    raw = load_on_battery(dell_raw, seconds=300)
    raw.update({f"{DELL}.120.5.2.0": 5, f"{ALARM_DESCR}.2": f"{WELL_KNOWN}.24"})
    MAINS_FAILS[failure](raw)
    check, output = judge(raw)
    assert check.exitcode == 2, output
    assert first_line(output).startswith(
        "DELL UPS CRITICAL - on battery for 5m00s of 5m00s maintenance timer "
        "(mains failed during a battery test), charge 80%")
    assert "on_battery=300s;0;299;0" in output


def test_charge_thresholds_apply_during_a_test_as_on_mains(dell_raw: dict) -> None:
    raw = load_on_battery(dell_raw, charge=40)
    raw.update({f"{DELL}.120.5.2.0": 5, f"{DELL}.120.5.3.0": 200})  # runtime below 300 s
    check, output = judge(raw)
    assert check.exitcode == 1
    # Charge is judged; runtime, as on mains, is not (so no "runtime below" either).
    assert first_line(output).startswith(
        "DELL UPS WARNING - battery test in progress (load on battery, mains present), "
        "charge 40%, runtime 3m20s, load 30%; WARNING: charge 40% below 50% | "
        "on_battery=0s;0;299;0 runtime=200s;;;0 charge=40%;50:;25:;0;100")


@pytest.mark.parametrize(("result", "exitcode", "problem"), [
    (1, 0, None), (2, 1, "; WARNING: self-test warning"), (3, 1, "; WARNING: self-test failed"),
])
def test_the_result_is_judged_when_the_test_ends(dell_raw: dict, result: int, exitcode: int,
                                                 problem: str | None) -> None:
    dell_raw[f"{DELL}.120.5.2.0"] = result
    check, output = judge(dell_raw)
    assert check.exitcode == exitcode
    assert first_line(output).split(" | ")[0] == (
        "DELL UPS " + ["OK", "WARNING"][exitcode]
        + " - on mains, charge 100%, runtime 30m00s, load 30%" + (problem or ""))


def test_a_test_that_leaves_the_load_on_mains_says_so(dell_raw: dict) -> None:
    dell_raw[f"{ALARM_DESCR}.1"] = f"{WELL_KNOWN}.24"
    check, output = judge(dell_raw)
    assert check.exitcode == 0
    assert first_line(output).startswith(
        "DELL UPS OK - on mains, battery test in progress, charge 100%")


def test_verbose_says_why_a_test_is_or_is_not_an_outage(dell_raw: dict) -> None:
    raw = load_on_battery(dell_raw)
    raw[f"{DELL}.120.5.2.0"] = 5
    _, output = judge(dict(raw), verbosity=1)
    assert ("power: output source battery, seconds on battery 95, battery test in progress, "
            "load on battery, mains present: no outage") in output.splitlines()
    raw[f"{UPS}.3.3.1.3.1"] = 0
    _, output = judge(raw, verbosity=1)
    assert ("power: output source battery, seconds on battery 95, battery test in progress, "
            "load on battery, mains not present: an outage") in output.splitlines()


def test_voltages_in_tenths_reach_the_perfdata_in_volts(dell_raw: dict) -> None:
    dell_raw.update({f"{UPS}.3.3.1.3.1": 2360, f"{UPS}.4.4.1.2.1": 2360})
    check, output = judge(dell_raw)
    assert check.exitcode == 0
    assert "input_voltage=236V output_voltage=236V" in output


def test_the_global_status_a_test_causes_is_not_a_problem(dell_raw: dict) -> None:
    raw = load_on_battery(dell_raw)
    raw.update({f"{DELL}.120.5.2.0": 5, f"{DELL}.110.1.0": 4})  # non-critical
    check, output = judge(dict(raw))
    assert check.exitcode == 0, output
    raw[f"{DELL}.110.1.0"] = 5  # critical stays critical
    check, output = judge(dict(raw))
    assert check.exitcode == 2 and "CRITICAL: global status critical" in output
    raw.update({f"{DELL}.110.1.0": 4, f"{UPS}.3.3.1.3.1": 0})  # mains failed: as ever
    check, output = judge(raw)
    assert check.exitcode == 1
