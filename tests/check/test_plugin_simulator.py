"""The installed plugin as a subprocess against the simulated Dell UPS (a real SNMP agent):
the dynamic states. The simulator runs on a hand-driven clock, so every figure is exact."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from check_dell_ups.simulator.agent import UpsSimulator, V3User

PERF_ON_MAINS = ("on_battery=0s;0;299;0 runtime=1800s;;;0 charge=100%;50:;25:;0;100 "
                 "load=35%;80;90;0 temperature=24.5;35;40 input_voltage=230V "
                 "output_voltage=230V alarms=0;;;0")
OK_ON_MAINS = ("DELL UPS OK - on mains, charge 100%, runtime 30m00s, load 35% | "
               + PERF_ON_MAINS)
AUTH_PASSPHRASE = "auth-Secret-4711"
PRIV_PASSPHRASE = "priv-Secret-0815"
COMMUNITY = "comm-Secret-42"


class ManualClock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def simulator(clock: ManualClock) -> Iterator[UpsSimulator]:
    with UpsSimulator(port=0, clock=clock) as sim:
        yield sim


def check(run_check, sim: UpsSimulator, *args: str, **options):
    return run_check("-H", "127.0.0.1", "-p", str(sim.port), "-t", "5", *args, **options)


def test_on_mains_ok(run_check, simulator) -> None:
    result = check(run_check, simulator)
    assert (result.returncode, result.stdout, result.stderr) == (0, OK_ON_MAINS + "\n", "")


def test_one_round_trip_for_v2c(run_check, simulator) -> None:
    before = simulator.state()["request_count"]
    assert check(run_check, simulator).returncode == 0
    # One GET for the scalars and one GETBULK for the alarm column, sent together.
    assert simulator.state()["request_count"] - before <= 2


def test_mains_cut_is_warning_then_critical_at_the_timer(run_check, simulator, clock) -> None:
    simulator.cut_mains()
    clock.advance(125)
    result = check(run_check, simulator)
    assert result.returncode == 1
    assert result.stdout == (
        "DELL UPS WARNING - on battery for 2m05s of 5m00s maintenance timer, charge 93%, "
        "runtime 27m55s, load 35% | on_battery=125s;0;299;0 runtime=1675s;600:;300:;0 "
        "charge=93%;50:;25:;0;100 load=35%;80;90;0 temperature=24.5;35;40 input_voltage=0V "
        "output_voltage=230V alarms=1;;;0\n")
    clock.advance(175)
    result = check(run_check, simulator)
    assert result.returncode == 2
    assert result.stdout == (
        "DELL UPS CRITICAL - on battery for 5m00s of 5m00s maintenance timer, charge 83%, "
        "runtime 25m00s, load 35%; CRITICAL: maintenance timer reached | "
        "on_battery=300s;0;299;0 runtime=1500s;600:;300:;0 charge=83%;50:;25:;0;100 "
        "load=35%;80;90;0 temperature=24.5;35;40 input_voltage=0V output_voltage=230V "
        "alarms=1;;;0\n")
    simulator.restore_mains()
    result = check(run_check, simulator)
    assert result.returncode == 0
    assert result.stdout.startswith("DELL UPS OK - on mains, charge 83%, runtime 25m00s, ")
    assert " | on_battery=0s;0;299;0 runtime=1500s;;;0 " in result.stdout


def test_maintenance_timer_option(run_check, simulator, clock) -> None:
    simulator.cut_mains()
    clock.advance(61)
    result = check(run_check, simulator, "--maintenance-timer", "60")
    assert result.returncode == 2
    assert result.stdout.startswith(
        "DELL UPS CRITICAL - on battery for 1m01s of 1m00s maintenance timer, ")
    assert " on_battery=61s;0;59;0 " in result.stdout


def test_card_reboot_during_the_outage_stays_on_battery(run_check, simulator, clock) -> None:
    simulator.cut_mains()
    clock.advance(400)
    simulator.reboot_card()
    result = check(run_check, simulator)
    assert result.returncode == 1
    assert result.stdout.startswith(
        "DELL UPS WARNING - on battery for 1s of 5m00s maintenance timer "
        "(the card's counter reads 0), charge 77%, runtime 23m20s, load 35% | "
        "on_battery=1s;0;299;0 ")
    clock.advance(30)
    result = check(run_check, simulator)
    assert result.returncode == 1
    assert " | on_battery=30s;0;299;0 " in result.stdout


def test_low_battery_is_critical(run_check, simulator) -> None:
    simulator.cut_mains()
    simulator.set_charge(10)
    result = check(run_check, simulator)
    assert result.returncode == 2
    first = result.stdout.splitlines()[0]
    assert "; CRITICAL: runtime 3m00s below 5m00s, charge 10% below 25%" in first
    assert " charge=10%;50:;25:;0;100 " in first


@pytest.mark.parametrize(("alarm", "exitcode", "problem"), [
    ("replace_battery", 1, "WARNING: replace battery"),
    ("fan_failure", 1, "WARNING: fan failure"),
    ("bypass", 1, "WARNING: on bypass"),
    ("self_test_failed", 1, "WARNING: self-test failed"),
    ("overload", 2, "CRITICAL: overload"),
    ("shutdown_imminent", 2, "CRITICAL: shutdown imminent"),
])
def test_alarms(run_check, simulator, alarm: str, exitcode: int, problem: str) -> None:
    simulator.set_alarm(alarm, True)
    result = check(run_check, simulator)
    assert result.returncode == exitcode
    assert result.stdout.startswith(
        f"DELL UPS {['OK', 'WARNING', 'CRITICAL'][exitcode]} - on mains, charge 100%, "
        f"runtime 30m00s, load 35%; {problem} | ")
    assert result.stdout.rstrip().endswith(" alarms=1;;;0")


def test_verbose_names_the_ups_and_its_alarms(run_check, simulator) -> None:
    simulator.set_alarm("replace_battery", True)
    result = check(run_check, simulator, "-v")
    lines = result.stdout.splitlines()
    assert result.returncode == 1
    assert lines[0].endswith(PERF_ON_MAINS.replace("alarms=0", "alarms=1"))
    text = "\n".join(lines[1:])
    assert "Dell UPS Rack 1920W HV" in text and "serial " in text and "firmware " in text
    assert "upsAlarmBatteryBad (UPS-MIB 1): replace battery [WARNING]" in text
    assert "trapBatteryNeedReplacement (Dell 63): replace battery [WARNING]" in text


def test_snmpv1(run_check, simulator) -> None:
    simulator.set_alarm("fan_failure", True)
    result = check(run_check, simulator, "-P", "1")
    assert result.returncode == 1
    assert result.stdout == OK_ON_MAINS.replace("OK", "WARNING", 1).replace(
        "load 35% |", "load 35%; WARNING: fan failure |").replace(
        "alarms=0", "alarms=1") + "\n"


def test_load_override(run_check, simulator) -> None:
    result = check(run_check, simulator, "-w", "load=30", "-c", "load=34")
    assert result.returncode == 2
    assert "CRITICAL: load 35% above 34%" in result.stdout
    assert " load=35%;30;34;0 " in result.stdout


def test_community_from_the_environment_and_never_printed(run_check, clock) -> None:
    with UpsSimulator(port=0, community=COMMUNITY, clock=clock) as sim:
        result = check(run_check, sim, "-vvv", env={"DELL_UPS_COMMUNITY": COMMUNITY})
        assert result.returncode == 0
        assert result.stdout.startswith(OK_ON_MAINS.split(" | ")[0])
        assert COMMUNITY not in result.stdout + result.stderr
        # An empty variable is unset: the default community gets no answer.
        result = check(run_check, sim, "-t", "1", env={"DELL_UPS_COMMUNITY": ""})
        assert result.returncode == 3
        assert result.stdout == (f"DELL UPS UNKNOWN - no SNMP response from "
                                 f"127.0.0.1:{sim.port} within 1 s\n")


def test_community_from_an_extra_opts_file_not_argv(run_check, clock, tmp_path) -> None:
    """For Icinga Director, which cannot set env: argv names only the ini section."""
    ini = tmp_path / "snmp.ini"
    ini.write_text(f"[ups-rack1]\ncommunity = {COMMUNITY}\n")
    ini.chmod(0o640)
    with UpsSimulator(port=0, community=COMMUNITY, clock=clock) as sim:
        argv = ["-H", "127.0.0.1", "-p", str(sim.port), "-t", "5",
                f"--extra-opts=ups-rack1@{ini}"]
        result = run_check(*argv)
        assert (result.returncode, result.stdout, result.stderr) == (0, OK_ON_MAINS + "\n", "")
        assert COMMUNITY not in " ".join(argv)
        result = run_check(*argv[:-1], "-t", "1")  # without it: public, no answer
        assert result.returncode == 3


@pytest.fixture
def v3_simulator(clock: ManualClock) -> Iterator[UpsSimulator]:
    users = (V3User("monitor", "SHA", AUTH_PASSPHRASE, "AES", PRIV_PASSPHRASE),)
    with UpsSimulator(port=0, v3_users=users, clock=clock) as sim:
        yield sim


def test_snmpv3_auth_priv_with_secrets_from_the_environment(run_check, v3_simulator) -> None:
    env = {"DELL_UPS_AUTH_PASSPHRASE": AUTH_PASSPHRASE,
           "DELL_UPS_PRIV_PASSPHRASE": PRIV_PASSPHRASE}
    result = check(run_check, v3_simulator, "-P", "3", "-U", "monitor", "-L", "authPriv",
                   "-a", "SHA", "-x", "AES", "-vvv", env=env)
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith(OK_ON_MAINS + "\n")
    for secret in (AUTH_PASSPHRASE, PRIV_PASSPHRASE):
        assert secret not in result.stdout + result.stderr


def test_snmpv3_secrets_on_the_command_line_work_too(run_check, v3_simulator) -> None:
    result = check(run_check, v3_simulator, "-P", "3", "-U", "monitor",
                   "-A", AUTH_PASSPHRASE, "-X", PRIV_PASSPHRASE)
    assert (result.returncode, result.stdout) == (0, OK_ON_MAINS + "\n")


@pytest.mark.parametrize("wrong", ["auth", "user"])
def test_snmpv3_auth_failure_is_unknown_naming_the_cause(run_check, v3_simulator,
                                                         wrong: str) -> None:
    user = "nobody" if wrong == "user" else "monitor"
    auth = "wrong-passphrase" if wrong == "auth" else AUTH_PASSPHRASE
    result = check(run_check, v3_simulator, "-P", "3", "-U", user, "-L", "authPriv",
                   env={"DELL_UPS_AUTH_PASSPHRASE": auth,
                        "DELL_UPS_PRIV_PASSPHRASE": PRIV_PASSPHRASE})
    assert result.returncode == 3
    assert result.stdout.startswith(f"DELL UPS UNKNOWN - 127.0.0.1:{v3_simulator.port}: ")
    assert len(result.stdout.splitlines()) == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert auth not in result.stdout and PRIV_PASSPHRASE not in result.stdout
    cause = "usmStatsUnknownUserNames" if wrong == "user" else "usmStatsWrongDigests"
    assert "SNMPv3" in result.stdout and cause in result.stdout


# --- battery tests and runtime calibrations (DESIGN.md "States") --------------------------

def test_a_calibration_longer_than_the_timer_is_ok_and_no_outage(run_check, simulator,
                                                                 clock) -> None:
    """A 10-minute runtime calibration against the default 5-minute timer: the load is on
    battery all along with the mains present; never on_battery > 0, never CRITICAL."""
    simulator.start_test("calibration", 600)
    clock.advance(120)
    result = check(run_check, simulator)
    assert (result.returncode, result.stdout) == (0, (
        "DELL UPS OK - battery test in progress (load on battery, mains present), charge 93%, "
        "runtime 28m00s, load 35% | on_battery=0s;0;299;0 runtime=1680s;;;0 "
        "charge=93%;50:;25:;0;100 load=35%;80;90;0 temperature=24.5;35;40 input_voltage=230V "
        "output_voltage=230V alarms=2;;;0\n"))
    clock.advance(420)  # 9 minutes in: past the timer, the battery still carries the load
    result = check(run_check, simulator)
    assert (result.returncode, result.stdout) == (0, (
        "DELL UPS OK - battery test in progress (load on battery, mains present), charge 70%, "
        "runtime 21m00s, load 35% | on_battery=0s;0;299;0 runtime=1260s;;;0 "
        "charge=70%;50:;25:;0;100 load=35%;80;90;0 temperature=24.5;35;40 input_voltage=230V "
        "output_voltage=230V alarms=2;;;0\n"))
    clock.advance(100)  # ended at 10 minutes, recharging since
    result = check(run_check, simulator)
    assert (result.returncode, result.stdout) == (0, (
        "DELL UPS OK - on mains, charge 67%, runtime 20m20s, load 35% | on_battery=0s;0;299;0 "
        "runtime=1220s;;;0 charge=67%;50:;25:;0;100 load=35%;80;90;0 temperature=24.5;35;40 "
        "input_voltage=230V output_voltage=230V alarms=0;;;0\n"))


def test_a_power_cut_during_a_test_is_an_outage_with_its_timer(run_check, simulator,
                                                               clock) -> None:
    """The UPS aborts the test and keeps the load on the battery; its counter goes on from
    when the load went to battery (RFC 1628), so the timer counts the whole discharge."""
    simulator.start_test("self-test", 600)
    clock.advance(60)
    simulator.cut_mains()
    clock.advance(65)
    result = check(run_check, simulator)
    assert (result.returncode, result.stdout) == (1, (
        "DELL UPS WARNING - on battery for 2m05s of 5m00s maintenance timer, charge 93%, "
        "runtime 27m55s, load 35% | on_battery=125s;0;299;0 runtime=1675s;600:;300:;0 "
        "charge=93%;50:;25:;0;100 load=35%;80;90;0 temperature=24.5;35;40 input_voltage=0V "
        "output_voltage=230V alarms=1;;;0\n"))
    clock.advance(175)
    result = check(run_check, simulator)
    assert result.returncode == 2
    assert result.stdout.startswith(
        "DELL UPS CRITICAL - on battery for 5m00s of 5m00s maintenance timer, charge 83%, "
        "runtime 25m00s, load 35%; CRITICAL: maintenance timer reached | on_battery=300s;")


def test_the_result_of_a_test_is_judged_when_it_ends(run_check, simulator, clock) -> None:
    simulator.start_test("self-test", 10, fails=True)
    clock.advance(5)
    assert check(run_check, simulator).returncode == 0
    clock.advance(10)
    result = check(run_check, simulator)
    assert (result.returncode, result.stdout) == (1, (
        "DELL UPS WARNING - on mains, charge 99%, runtime 29m52s, load 35%; WARNING: self-test "
        "failed | on_battery=0s;0;299;0 runtime=1792s;;;0 charge=99%;50:;25:;0;100 "
        "load=35%;80;90;0 temperature=24.5;35;40 input_voltage=230V output_voltage=230V "
        "alarms=1;;;0\n"))
