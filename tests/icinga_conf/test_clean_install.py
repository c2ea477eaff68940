"""The documented install, run exactly as docs/icinga.md gives it, into a copy of this
machine's Debian-layout /etc/icinga2 (the package's sample conf.d/ kept): it must pass
`icinga2 daemon -C`, and the verification as the Icinga user must say OK."""

from __future__ import annotations

import filecmp
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from check_dell_ups.fake_scvmm.server import FakeScvmm

REPO = Path(__file__).resolve().parents[2]
DEBIAN_ICINGA = Path("/etc/icinga2")
USER = "nagios"
PASSWORD = "install-Pa55"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("icinga2") is None, reason="icinga2 is not installed"),
    pytest.mark.skipif(not (DEBIAN_ICINGA / "conf.d" / "hosts.conf").is_file(),
                       reason="no Debian-layout /etc/icinga2 to copy"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the documented install runs as root"),
    pytest.mark.skipif(shutil.which("runuser") is None, reason="runuser is not installed"),
    pytest.mark.skipif(shutil.which("help2man") is None,
                       reason="help2man is not installed (the install's man-page step)"),
]


def documented_block(name: str) -> str:
    """The shell block between <!-- NAME:begin --> and <!-- NAME:end --> of docs/icinga.md."""
    text = (REPO / "docs" / "icinga.md").read_text()
    part = text.split(f"<!-- {name}:begin -->")[1].split(f"<!-- {name}:end -->")[0]
    return part.split("```sh\n")[1].split("```")[0]


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture
def root() -> Iterator[Path]:
    """A root for the installed tree that the Icinga user can traverse (pytest's tmp_path
    is private to root)."""
    if not user_exists(USER):
        pytest.skip(f"no user {USER}")
    path = Path(tempfile.mkdtemp(prefix="dell_ups_install-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sandboxed(script: str, root: Path) -> str:
    """The documented commands with every system path under root; sudo as runuser
    (no sudo on a bare Debian), icinga2 -C on the copied configuration."""
    icinga = root / "etc" / "icinga2"
    dirs = {name: root / "icinga2-run" / name.lower() for name in
            ("DataDir", "LogDir", "CacheDir", "SpoolDir", "InitRunDir")}
    for directory in dirs.values():
        directory.mkdir(parents=True, exist_ok=True)
    defines = " ".join(f"-D{name}={path}" for name, path in dirs.items())
    for system_path in ("/opt/check_dell_ups", "/usr/lib/nagios/plugins", "/etc/icinga2",
                        "/etc/check_dell_ups", "/var/lib/check_dell_ups",
                        "/etc/systemd/system", "/etc/cron.d", "/usr/local/share/man"):
        script = script.replace(system_path, f"{root}{system_path}")
    script = script.replace(
        "icinga2 daemon -C",
        f"ICINGA2_USER=root ICINGA2_GROUP=root icinga2 daemon -C -c {icinga}/icinga2.conf "
        f"-DConfigDir={icinga} {defines}")
    return script.replace(f"sudo -u {USER} ", f"runuser -u {USER} -- ")


def run_script(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-e", "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=600, check=False)


def test_the_documented_install_passes_icinga2_and_the_verification(root: Path) -> None:
    shutil.copytree(DEBIAN_ICINGA, root / "etc" / "icinga2", symlinks=True)
    for directory in ("usr/lib/nagios/plugins", "etc/systemd/system", "etc/cron.d",
                      "var/lib", "opt"):
        (root / directory).mkdir(parents=True, exist_ok=True)

    installed = run_script(sandboxed(documented_block("install"), root))
    assert installed.returncode == 0, installed.stderr[-3000:]
    manual = root / "usr" / "local" / "share" / "man" / "man1"
    assert sorted(page.name for page in manual.iterdir()) == [
        "check_dell_ups.1", "check_dell_ups_readiness.1", "dell_ups_maintenance.1"]

    conf_d = root / "etc" / "icinga2" / "conf.d"
    for sample in ("commands.conf", "templates.conf", "services.conf", "groups.conf"):
        assert filecmp.cmp(conf_d / sample, DEBIAN_ICINGA / "conf.d" / sample, shallow=False)
    etc = root / "etc" / "check_dell_ups"
    modes = {path: (pwd.getpwuid(path.stat().st_uid).pw_name, oct(path.stat().st_mode & 0o777))
             for path in (etc, etc / "dell_ups_maintenance.toml", etc / "scvmm.password",
                          root / "var" / "lib" / "check_dell_ups")}
    assert list(modes.values()) == [("root", "0o750"), ("root", "0o640"), (USER, "0o400"),
                                    (USER, "0o750")]

    # The edits the docs leave to the admin: the config (here for the fake SCVMM) and
    # the password, typed into the existing file (which keeps owner and mode).
    with FakeScvmm({"hosts": {"hv01.example.com": {"cluster": "cl01"},
                              "hv02.example.com": {"cluster": "cl01"},
                              "hv03.example.com": {"cluster": "cl01"}},
                    "vms": {}, "vmm_server": "vmm01.example.com"},
                   username="svc-ups", password=PASSWORD) as fake:
        example = (etc / "dell_ups_maintenance.toml").read_text()
        config = example.split("[scvmm]")[0] + f"""[scvmm]
server = "127.0.0.1"
transport = "http"
port = {fake.port}
auth = "basic"
username = "svc-ups"
password_file = "{etc}/scvmm.password"

[maintenance]
state_dir = "{root}/var/lib/check_dell_ups"

[ups."ups-rack1"]
hosts = ["hv01.example.com", "hv02.example.com"]
"""
        (etc / "dell_ups_maintenance.toml").write_text(config)
        with open(etc / "scvmm.password", "w") as handle:
            handle.write(PASSWORD + "\n")

        verified = run_script(sandboxed(documented_block("verify"), root))
        assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-3000:]
        out = verified.stdout
        assert "Finished validating the configuration file(s)" in out
        assert "\nDELL UPS READINESS OK - 2 host(s) of 1 UPS ready" in out
        assert "ups-rack1: dry-run: " in out or "dry-run: ups-rack1" in out
        # (a dry run stores nothing: the power is still unknown)
        assert re.search(r"^ups-rack1 +unknown +- +hv01\.example\.com +normal", out, re.M)
        # Every verification ran as the Icinga user: what it wrote is theirs.
        for path in (root / "var" / "lib" / "check_dell_ups").rglob("*"):
            assert pwd.getpwuid(path.stat().st_uid).pw_name == USER, path

        # Issue 9's incident: a manual run as root. The handler now refuses it...
        plugins = root / "usr" / "lib" / "nagios" / "plugins"
        handler = [str(plugins / "dell_ups_maintenance"), "--config",
                   str(etc / "dell_ups_maintenance.toml")]
        event = [*handler, "--ups", "ups-rack1", "--state", "OK", "--perfdata", "on_battery=0s"]
        as_root = subprocess.run(event, capture_output=True, text=True, timeout=120,
                                 check=False)
        assert as_root.returncode == 1 and "this runs as root: run it as nagios" in \
            as_root.stdout
        as_nagios = subprocess.run(["runuser", "-u", USER, "--", *event],
                                   capture_output=True, text=True, timeout=120, check=False)
        assert as_nagios.returncode == 0, as_nagios.stdout
        # ... and a file an older root run left behind shows, to the Icinga user, in the
        # readiness check and in --status (it was "unknown", exit 0).
        record = root / "var" / "lib" / "check_dell_ups" / "ups" / "ups-rack1.json"
        os.chown(record, 0, 0)
        record.chmod(0o640)
        readiness = subprocess.run(
            ["runuser", "-u", USER, "--", str(plugins / "check_dell_ups_readiness"),
             "--config", str(etc / "dell_ups_maintenance.toml")],
            capture_output=True, text=True, timeout=120, check=False)
        assert readiness.returncode == 2
        unreadable = f"UPS ups-rack1: state file {record} cannot be read: Permission denied"
        foreign = (f"{record} belongs to root, not to nagios who owns state_dir (written by a "
                   "manual run as root?): chown nagios it")
        assert readiness.stdout.splitlines()[1:] == [f"CRITICAL: state: {foreign}",
                                                     f"CRITICAL: {unreadable}"]
        status = subprocess.run(["runuser", "-u", USER, "--", *handler, "--status"],
                                capture_output=True, text=True, timeout=120, check=False)
        assert status.returncode == 1
        assert status.stdout.splitlines()[-2:] == [f"ERROR: {foreign}", f"ERROR: {unreadable}"]
        os.chown(record, pwd.getpwnam(USER).pw_uid, -1)

        # The cron schedule works where systemd is absent: its line, as cron runs it.
        cron = (root / "etc" / "cron.d" / "dell-ups-maintenance-retry").read_text()
        line = next(line for line in cron.splitlines() if line and line[0] in "*0123456789")
        fields = line.split(None, 6)
        assert fields[5] == USER
        retried = subprocess.run(["runuser", "-u", USER, "--", "sh", "-c",
                                  sandboxed(fields[6], root)], capture_output=True,
                                 text=True, timeout=120, check=False)
        assert retried.returncode == 0, retried

    # The unit's Documentation= points at files the install put there.
    unit = (root / "etc" / "systemd" / "system" / "dell-ups-maintenance-retry.service")
    documents = re.findall(r"^Documentation=file://(\S+)$", unit.read_text(), re.M)
    assert documents
    for document in documents:
        assert Path(sandboxed(document, root)).is_file(), document
