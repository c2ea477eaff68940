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


def test_version_is_one_line_and_exits_unknown() -> None:
    # The Monitoring Plugins interface: --version exits UNKNOWN (3), as check_ping does.
    assert run(["-V"]) == (f"check_dell_ups v{__version__}\n", 3)
    assert run(["-H", "ups1", "-vV"]) == (f"check_dell_ups v{__version__}\n", 3)


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


def test_safety_net_ends_a_hanging_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import check_dell_ups.snmp.client as client

    monkeypatch.setattr(client, "fetch", lambda *args, **kwargs: time.sleep(30))
    started = time.monotonic()
    output, code = run(["-H", "ups1", "-p", "1161", "-t", "0.5"])
    assert time.monotonic() - started < 10
    assert (output, code) == (
        "DELL UPS UNKNOWN - no SNMP response from ups1:1161 within 0.5 s\n", 3)


def test_an_unexpected_error_is_one_line_without_details(monkeypatch: pytest.MonkeyPatch,
                                                         dell_raw: dict) -> None:
    import check_dell_ups.reading as reading
    import check_dell_ups.snmp.client as client

    monkeypatch.setattr(client, "fetch", lambda *args, **kwargs: dell_raw)

    def explode(raw: object) -> None:
        raise RuntimeError("internal detail that might hold a secret")

    monkeypatch.setattr(reading, "normalise", explode)
    output, code = run(["-H", "ups1"])
    assert (output, code) == ("DELL UPS UNKNOWN - internal error (RuntimeError)\n", 3)


def test_run_in_process_with_a_faked_agent(monkeypatch: pytest.MonkeyPatch,
                                           dell_raw: dict) -> None:
    import check_dell_ups.snmp.client as client

    asked: list[tuple] = []

    def fake_fetch(target, scalars, columns=(), max_rows=32):
        asked.append((target, list(scalars), list(columns)))
        return dell_raw

    monkeypatch.setattr(client, "fetch", fake_fetch)
    output, code = run(["-H", "ups1", "-C", "c0mmunity"])
    assert code == 0 and output.startswith("DELL UPS OK - on mains, charge 100%")
    assert len(asked) == 1  # one fetch() call: one round trip
    target, scalars, columns = asked[0]
    assert target.community == "c0mmunity" and "c0mmunity" not in output
    assert columns == ["1.3.6.1.2.1.33.1.6.2.1.2"] and "1.3.6.1.2.1.33.1.4.1.0" in scalars
