"""A real Icinga 2 or Nagios 4 daemon in a throw-away directory.

Used by the demo (``dell_ups_demo --icinga``) and by the end-to-end tests. The daemon
loads the shipped configuration from icinga-conf/ plus the objects the caller passes,
runs with the caller's user (root in CI: ICINGA2_USER/ICINGA2_GROUP, nagios_user), and
writes its state changes and event handler runs to a log in the Nagios/Icinga 1.x
format ("SERVICE ALERT: ..." / "SERVICE EVENT HANDLER: ..."), which both daemons share
and which is what we watch.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

ICINGA2 = "icinga2"
NAGIOS4 = "nagios4"

_EVENT_LINE = re.compile(
    r"^\[(?P<timestamp>\d+)\] (?P<kind>SERVICE ALERT|SERVICE EVENT HANDLER): "
    r"(?P<host>[^;]*);(?P<service>[^;]*);(?P<state>[^;]*);(?P<state_type>[^;]*);"
    r"(?P<attempt>\d+);(?P<text>.*)$"
)


class SandboxError(Exception):
    """One-line reason a sandboxed daemon could not be set up, started or stopped."""


@dataclass(frozen=True)
class ServiceEvent:
    """One SERVICE ALERT (a state change) or SERVICE EVENT HANDLER (a handler run)."""

    timestamp: int
    kind: str  # "alert" | "handler"
    host: str
    service: str
    state: str
    state_type: str
    attempt: int
    text: str  # the plugin output for an alert, the command name for a handler run


def parse_events(lines: list[str]) -> list[ServiceEvent]:
    events = []
    for line in lines:
        match = _EVENT_LINE.match(line.rstrip("\n"))
        if match is None:
            continue
        events.append(ServiceEvent(
            timestamp=int(match["timestamp"]),
            kind="alert" if match["kind"] == "SERVICE ALERT" else "handler",
            host=match["host"], service=match["service"], state=match["state"],
            state_type=match["state_type"], attempt=int(match["attempt"]),
            text=match["text"].strip(),
        ))
    return events


# Never named like a file of Debian's conf.d/ samples: copying them there overwrites none.
SHIPPED_ICINGA_FILES = ("dell_ups_commands.conf", "dell_ups_templates.conf",
                        "dell_ups_services.conf")


def conf_dir() -> Path:
    """icinga-conf/ of the source tree this package runs from."""
    candidate = Path(__file__).resolve().parent.parent / "icinga-conf"
    if not (candidate / "dell_ups_commands.conf").is_file():
        raise SandboxError(f"the shipped configuration is not at {candidate}")
    return candidate


def plugin_dir() -> Path:
    """Where check_dell_ups and dell_ups_maintenance are installed (the venv's bin)."""
    beside_python = Path(sys.executable).parent
    if (beside_python / "check_dell_ups").exists():
        return beside_python
    found = shutil.which("check_dell_ups")
    if found is None:
        raise SandboxError("check_dell_ups is not installed: run 'pip install -e .'")
    return Path(found).parent


def daemon_installed(name: str) -> bool:
    return shutil.which(name) is not None


def _current_user_and_group() -> tuple[str, str]:
    return pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name


class _Sandbox:
    """What both daemons share: a process group, a log of service events, waits."""

    name = "daemon"

    def __init__(self, root: Path, objects: str, plugins: Path | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.root = Path(root)
        self.objects = objects
        self.plugins = plugins or plugin_dir()
        self.env = dict(os.environ if env is None else env)
        self.process: subprocess.Popen[bytes] | None = None
        self.output_path = self.root / f"{self.name}.out"
        self._offset = 0  # where this run's part of the daemon's own log begins

    # -- to be provided by each daemon ---------------------------------------------------
    def write_config(self) -> None:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def validate_command(self) -> list[str]:
        raise NotImplementedError

    def event_log_files(self) -> list[Path]:
        raise NotImplementedError

    def started(self) -> bool:
        """True once the daemon has loaded its config and is scheduling checks."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------
    def validate(self) -> str:
        """Validate the config with the daemon itself; its output, or SandboxError."""
        self.write_config()
        result = subprocess.run(
            self.validate_command(), env=self.env, capture_output=True, text=True,
            timeout=120, check=False,
        )
        output = result.stdout + result.stderr
        if result.returncode != 0:
            errors = [line for line in output.splitlines()
                      if "critical/" in line or "Error" in line]
            raise SandboxError(
                f"{self.name} rejected the configuration: "
                + ("; ".join(errors[:3]) or output.strip()[-300:])
            )
        return output

    def start(self, timeout: float = 60.0) -> None:
        if self.running():
            return
        self.write_config()
        with open(self.output_path, "ab") as output:
            # A new session: the daemon and its helpers form one process group of ours.
            self.process = subprocess.Popen(
                self.command(), cwd=self.root, env=self.env, stdin=subprocess.DEVNULL,
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self.started():
            if self.process.poll() is not None:
                tail = self.output_path.read_text(errors="replace").strip()[-400:]
                self.process = None
                raise SandboxError(f"{self.name} exited at start: {tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise SandboxError(f"{self.name} did not start within {timeout:.0f} s")
            time.sleep(0.2)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to the daemon (it saves its state and stops its workers), then
        SIGKILL to whatever is left of its process group."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            # Icinga 2's worker obeys only signals from its umbrella process: signal
            # the umbrella (our child), never the whole group, for a clean shutdown.
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
        self._kill_group(process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        self.process = None

    def _kill_group(self, pgid: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            except PermissionError:  # only zombies left
                return
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)

    def restart(self, timeout: float = 60.0) -> None:
        self.stop()
        self.start(timeout)

    def log_lines(self) -> list[str]:
        """Every line of the daemon's Nagios-format log, oldest first."""
        lines: list[str] = []
        for path in self.event_log_files():
            with contextlib.suppress(FileNotFoundError):
                lines.extend(path.read_text(errors="replace").splitlines())
        return lines

    def events(self) -> list[ServiceEvent]:
        return parse_events(self.log_lines())

    def wait_for(self, predicate: Callable[[ServiceEvent], bool], timeout: float,
                 start: int = 0, what: str = "event") -> tuple[int, ServiceEvent]:
        """The first event at index >= start that satisfies predicate: (index, event).
        Raises SandboxError after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.events()
            for index in range(start, len(events)):
                if predicate(events[index]):
                    return index, events[index]
            if time.monotonic() > deadline:
                raise SandboxError(f"{self.name}: no {what} within {timeout:.0f} s")
            if not self.running():
                raise SandboxError(f"{self.name} stopped while waiting for {what}")
            time.sleep(0.25)

    def __enter__(self) -> _Sandbox:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class IcingaSandbox(_Sandbox):
    """Icinga 2 with the shipped dell_ups_commands.conf, dell_ups_templates.conf and
    dell_ups_services.conf.

    api=True adds its REST API: an ApiListener on 127.0.0.1 (a free port: api_port),
    node name "localhost", certificates from `icinga2 pki` in DataDir/certs (the CA:
    api_ca_file). The caller's objects define the ApiUser(s)."""

    name = ICINGA2
    API_NODE = "localhost"  # the certificate's name: https://localhost:PORT verifies

    def __init__(self, root: Path, objects: str, plugins: Path | None = None,
                 env: Mapping[str, str] | None = None, conf: Path | None = None, *,
                 api: bool = False) -> None:
        super().__init__(root, objects, plugins, env)
        self.api = api
        self.api_port = _free_port() if api else None
        self.conf = conf or conf_dir()
        user, group = _current_user_and_group()
        self.env.setdefault("ICINGA2_USER", user)
        self.env.setdefault("ICINGA2_GROUP", group)
        self.dirs = {name: self.root / name.lower().removesuffix("dir")
                     for name in ("ConfigDir", "DataDir", "LogDir", "CacheDir",
                                  "SpoolDir", "InitRunDir")}
        self.config_file = self.dirs["ConfigDir"] / "icinga2.conf"
        self.compat_dir = self.dirs["LogDir"] / "compat"
        self.main_log = self.dirs["LogDir"] / "icinga2.log"
        self.api_ca_file = self.dirs["DataDir"] / "certs" / "ca.crt"

    @property
    def api_url(self) -> str:
        return f"https://{self.API_NODE}:{self.api_port}"

    def _api_objects(self) -> str:
        if not self.api:
            return ""
        self._make_certificates()
        return (f'const NodeName = "{self.API_NODE}"\n'
                "object Endpoint NodeName { }\n"
                'object Zone "master" { endpoints = [ NodeName ] }\n'
                'object ApiListener "api" {\n\tbind_host = "127.0.0.1"\n'
                f"\tbind_port = {self.api_port}\n}}\n")

    def _make_certificates(self) -> None:
        """A CA and the node's certificate, as `icinga2 node setup` would make them."""
        certs = self.api_ca_file.parent
        node = certs / f"{self.API_NODE}.crt"
        if node.exists():
            return
        certs.mkdir(parents=True, exist_ok=True)
        data_dir = f"-DDataDir={self.dirs['DataDir']}"
        key, csr = certs / f"{self.API_NODE}.key", certs / f"{self.API_NODE}.csr"
        for command in (
                [ICINGA2, "pki", "new-ca", data_dir],
                [ICINGA2, "pki", "new-cert", "--cn", self.API_NODE, "--key", str(key),
                 "--csr", str(csr)],
                [ICINGA2, "pki", "sign-csr", data_dir, "--csr", str(csr), "--cert",
                 str(node)]):
            result = subprocess.run(command, env=self.env, capture_output=True, text=True,
                                    timeout=60, check=False)
            if result.returncode != 0:
                raise SandboxError(f"icinga2 pki {command[2]} failed: "
                                   f"{(result.stdout + result.stderr).strip()[-300:]}")
        shutil.copyfile(self.dirs["DataDir"] / "ca" / "ca.crt", self.api_ca_file)

    def write_config(self) -> None:
        for directory in self.dirs.values():
            directory.mkdir(parents=True, exist_ok=True)
        (self.compat_dir / "archives").mkdir(parents=True, exist_ok=True)
        includes = "\n".join(
            f'include "{self.conf / name}"'
            for name in SHIPPED_ICINGA_FILES
        )
        self.config_file.write_text(
            f'const PluginDir = "{self.plugins}"\n'
            'include <itl>\ninclude <plugins>\n'
            f"{includes}\n"
            'object CheckerComponent "checker" { }\n'
            'object CompatLogger "compatlog" {\n'
            f'\tlog_dir = "{self.compat_dir}"\n\trotation_method = "DAILY"\n}}\n'
            'object FileLogger "main-log" {\n'
            f'\tseverity = "notice"\n\tpath = "{self.main_log}"\n}}\n'
            f"{self._api_objects()}"
            f"{self.objects}\n"
        )

    def _defines(self) -> list[str]:
        return [f"-D{name}={path}" for name, path in self.dirs.items()]

    def command(self) -> list[str]:
        return [ICINGA2, "daemon", "-c", str(self.config_file), *self._defines()]

    def validate_command(self) -> list[str]:
        return [ICINGA2, "daemon", "-C", "-c", str(self.config_file), *self._defines()]

    def event_log_files(self) -> list[Path]:
        archives = sorted((self.compat_dir / "archives").glob("*"),
                          key=lambda path: path.stat().st_mtime)
        return [*archives, self.compat_dir / "icinga.log"]

    def started(self) -> bool:
        # Written by this run's CheckerComponent once all objects are active.
        return _log_mentions_since(self.main_log, "Activated all objects", self._offset)

    def start(self, timeout: float = 60.0) -> None:
        self._offset = self.main_log.stat().st_size if self.main_log.exists() else 0
        super().start(timeout)


class NagiosSandbox(_Sandbox):
    """Nagios 4 with the shipped nagios/dell_ups_commands.cfg and nagios/dell_ups_templates.cfg; the
    caller's objects define the hosts and services (intervals in seconds)."""

    name = NAGIOS4

    BASE_OBJECTS = """
define timeperiod {
    timeperiod_name     24x7
    alias               24x7
    sunday              00:00-24:00
    monday              00:00-24:00
    tuesday             00:00-24:00
    wednesday           00:00-24:00
    thursday            00:00-24:00
    friday              00:00-24:00
    saturday            00:00-24:00
}
define command {
    command_name        notify-nobody
    command_line        /bin/true
}
define contact {
    contact_name                    nobody
    host_notifications_enabled      0
    service_notifications_enabled   0
    host_notification_period        24x7
    service_notification_period     24x7
    host_notification_options       n
    service_notification_options    n
    host_notification_commands      notify-nobody
    service_notification_commands   notify-nobody
}
define contactgroup {
    contactgroup_name   admins
    alias               admins
    members             nobody
}
"""

    def __init__(self, root: Path, objects: str, plugins: Path | None = None,
                 env: Mapping[str, str] | None = None, conf: Path | None = None, *,
                 config_files: tuple[str, ...] = ("dell_ups_commands.cfg",
                                                  "dell_ups_templates.cfg")) -> None:
        super().__init__(root, objects, plugins, env)
        self.conf = (conf or conf_dir()) / "nagios"
        self.config_files = config_files
        self.var = self.root / "var"
        self.config_file = self.root / "nagios.cfg"
        self.log_file = self.var / "nagios.log"

    def write_config(self) -> None:
        (self.var / "checkresults").mkdir(parents=True, exist_ok=True)
        user, group = _current_user_and_group()
        (self.root / "resource.cfg").write_text(f"$USER1$={self.plugins}\n")
        (self.root / "objects.cfg").write_text(self.BASE_OBJECTS + self.objects + "\n")
        shipped = "\n".join(f"cfg_file={self.conf / name}" for name in self.config_files)
        settings = {
            "log_file": self.log_file,
            "resource_file": self.root / "resource.cfg",
            "status_file": self.var / "status.dat",
            "state_retention_file": self.var / "retention.dat",
            "object_cache_file": self.var / "objects.cache",
            "precached_object_file": self.var / "objects.precache",
            "lock_file": self.var / "nagios.lock",
            "temp_file": self.var / "nagios.tmp",
            "temp_path": self.var,
            "check_result_path": self.var / "checkresults",
            "command_file": self.var / "nagios.cmd",
            "query_socket": self.var / "nagios.qh",
            "nagios_user": user,
            "nagios_group": group,
            "check_external_commands": 1,
            "retain_state_information": 1,
            "retention_update_interval": 1,
            "use_retained_program_state": 1,
            "use_retained_scheduling_info": 0,
            "interval_length": 1,
            "enable_environment_macros": 1,
            "enable_event_handlers": 1,
            "enable_notifications": 0,
            "log_event_handlers": 1,
            "log_service_retries": 1,
            "log_rotation_method": "n",
            "event_handler_timeout": 60,
            "service_check_timeout": 60,
            "use_syslog": 0,
            "check_result_reaper_frequency": 1,
            "max_service_check_spread": 2,
            "max_host_check_spread": 2,
            "service_inter_check_delay_method": "n",
            "host_inter_check_delay_method": "n",
            "status_update_interval": 1,
            "check_for_updates": 0,
            "illegal_macro_output_chars": "`~$&|'\"<>",
        }
        self.config_file.write_text(
            f"{shipped}\ncfg_file={self.root / 'objects.cfg'}\n"
            + "".join(f"{key}={value}\n" for key, value in settings.items())
        )

    def command(self) -> list[str]:
        return [NAGIOS4, str(self.config_file)]

    def validate_command(self) -> list[str]:
        return [NAGIOS4, "-v", str(self.config_file)]

    def event_log_files(self) -> list[Path]:
        return [self.log_file]

    def started(self) -> bool:
        return _log_mentions_since(self.log_file, "Successfully launched command file worker",
                                   self._offset)

    def start(self, timeout: float = 60.0) -> None:
        self._offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        super().start(timeout)


def wait_for_commands_mentioning(text: str, timeout: float = 90.0) -> bool:
    """Wait until no process's command line mentions text (e.g. a handler config path):
    event handlers run in process groups of their own and may outlive the daemon.
    True when none is left, False after timeout."""
    deadline = time.monotonic() + timeout
    needle = text.encode()
    while time.monotonic() < deadline:
        if not any(needle in cmdline for cmdline in _command_lines()):
            return True
        time.sleep(0.2)
    return False


def _command_lines() -> list[bytes]:
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                lines.append((entry / "cmdline").read_bytes())
    return lines


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _log_mentions_since(path: Path, text: str, offset: int) -> bool:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return text.encode() in handle.read()
    except FileNotFoundError:
        return False
