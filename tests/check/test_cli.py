"""The command line in-process: arguments, secrets from the environment, SNMP targets."""

from __future__ import annotations

import pytest

from check_dell_ups import __version__
from check_dell_ups.cli import make_parser, make_target, run

BAD = "DELL UPS UNKNOWN - bad arguments: "


@pytest.fixture(autouse=True)
def no_secret_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DELL_UPS_COMMUNITY", "DELL_UPS_AUTH_PASSPHRASE", "DELL_UPS_PRIV_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)


def target(*argv: str):
    return make_target(make_parser().parse_args(["-H", "ups1", *argv]))


@pytest.mark.parametrize(("argv", "reason"), [
    ([], "the following arguments are required: -H/--hostname"),
    (["-H", "u", "-P", "4"], "argument -P/--protocol: '4' is not one of 1, 2c, 3"),
    (["-H", "u", "-p", "http"], "argument -p/--port: not a port number: 'http'"),
    (["-H", "u", "-p", "70000"], "argument -p/--port: not a port number: '70000'"),
    (["-H", "u", "-t", "0"], "argument -t/--timeout: must be between 0 and 3600 seconds"),
    (["-H", "u", "-t", "soon"], "argument -t/--timeout: not a number: 'soon'"),
    (["-H", "u", "--maintenance-timer", "-5"], "must be -1 (never) or a number of seconds"),
    (["-H", "u", "-w", "humidity=50"], "unknown label 'humidity'"),
    (["-H", "u", "-c", "charge=abc"], "invalid range 'abc'"),
    (["-H", "u", "-w", "charge"], "'charge' is not LABEL=RANGE"),
    (["-H", "u", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["-H", "u", "-P", "3"], "SNMPv3 needs a user: -U SECNAME"),
    (["-H", "u", "-P", "3", "-U", "m", "-L", "authNoPriv"], "needs an auth passphrase"),
    (["-H", "u", "-P", "3", "-U", "m", "-L", "authPriv", "-A", "12345678"],
     "needs a privacy passphrase"),
    (["-H", "u", "-P", "3", "-U", "m", "-A", "short"], "at least 8 characters"),
    (["-H", "u", "-P", "3", "-U", "m", "-a", "SHA1024", "-A", "12345678"],
     "'SHA1024' is not one of MD5"),
])
def test_bad_arguments_are_one_line_and_exit_3(argv: list[str], reason: str) -> None:
    output, code = run(argv)
    assert code == 3
    assert output.startswith(BAD) and reason in output
    assert output.endswith(" (see --help)\n") and output.count("\n") == 1


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as leave:
        run(["-V"])
    assert leave.value.code == 0
    assert capsys.readouterr().out == f"check_dell_ups {__version__}\n"


def test_defaults_of_the_design() -> None:
    args = make_parser().parse_args(["-H", "ups1"])
    assert (args.port, args.protocol, args.timeout, args.maintenance_timer) == (
        161, "2c", 10.0, 300)
    snmp = target()
    assert (snmp.host, snmp.port, snmp.version, snmp.community, snmp.timeout) == (
        "ups1", 161, "2c", "public", 10.0)


def test_community_from_argv_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELL_UPS_COMMUNITY", "from-env")
    assert target().community == "from-env"
    assert target("-C", "from-argv").community == "from-argv"
    monkeypatch.setenv("DELL_UPS_COMMUNITY", "")
    assert target().community == "public"  # empty = unset (Icinga's undefined macro)


def test_v3_level_and_protocols_follow_the_passphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DELL_UPS_AUTH_PASSPHRASE", "auth-pass-1")
    snmp = target("-P", "3", "-U", "mon")
    assert (snmp.security_level, snmp.auth_protocol, snmp.priv_protocol) == (
        "authNoPriv", "SHA", None)
    monkeypatch.setenv("DELL_UPS_PRIV_PASSPHRASE", "priv-pass-1")
    snmp = target("-P", "3", "-U", "mon", "-a", "sha256", "-x", "aes256")
    assert (snmp.security_level, snmp.auth_protocol, snmp.priv_protocol) == (
        "authPriv", "SHA256", "AES256")
    assert (snmp.auth_passphrase, snmp.priv_passphrase) == ("auth-pass-1", "priv-pass-1")
    assert "auth-pass-1" not in repr(snmp) and "priv-pass-1" not in repr(snmp)
    snmp = target("-P", "3", "-U", "mon", "-L", "noAuthNoPriv")
    assert (snmp.auth_passphrase, snmp.priv_passphrase) == (None, None)


def test_bad_arguments_never_echo_a_secret() -> None:
    output, code = run(["-H", "u", "-P", "3", "-U", "m", "-A", "s3cr", "-X", "anothersecret"])
    assert code == 3 and "s3cr" not in output and "anothersecret" not in output
