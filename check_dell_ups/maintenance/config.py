"""The handler's TOML configuration: load, validate, and give back plain frozen data.

Every error is one line that names the offending key, so an admin can fix the file
from the event handler's output alone. Nothing here touches SCVMM or the state.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from check_dell_ups.maintenance.files import UnreadableFileError, read_small_file
from check_dell_ups.maintenance.state import MAX_ENCODED_NAME, name_fits

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PASSWORD_ENV = "DELL_UPS_SCVMM_PASSWORD"

TRANSPORTS = ("https", "http")
AUTH_METHODS = ("negotiate", "kerberos", "ntlm", "credssp", "basic")
MODES = ("migrate", "save")
ON_POWER_RESTORED = ("exit", "exit-and-start", "none")
DEFAULT_STATE_DIR = "/var/lib/check_dell_ups"
MAX_CONFIG_BYTES = 1 << 20
MAX_PASSWORD_BYTES = 64 << 10

# RFC 1123 host names: labels of letters, digits and hyphens, no leading/trailing hyphen.
_DNS_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


class ConfigError(Exception):
    """One-line reason the configuration cannot be used."""


@dataclass(frozen=True)
class ScvmmConfig:
    server: str
    transport: str
    port: int
    auth: str
    username: str
    password_file: str | None
    cert_validation: bool | str
    vmm_host: str | None
    # The VMM server Get-SCVMMServer connects to, as seen from where WinRM lands: the
    # VMM server itself, so "localhost" (no second hop, no CredSSP).
    vmm_server: str = "localhost"


@dataclass(frozen=True)
class UpsConfig:
    name: str
    hosts: tuple[str, ...]
    timer: int
    mode: str


@dataclass(frozen=True)
class MaintenanceConfig:
    timer: int
    mode: str
    on_power_restored: str
    runtime_floor: int
    charge_floor: int
    budget: float
    state_dir: str
    log_file: str


@dataclass(frozen=True)
class IcingaConfig:
    """The optional [icinga] table: downtimes and a comment through Icinga 2's REST API."""

    host: str  # of the API URL (a DNS name, or an IP address without brackets)
    port: int
    username: str
    password_file: str
    ca_file: str | None  # None: the system's CAs
    downtime_hours: float
    # UPS name (as the event names it) -> its Icinga host name; absent: the same name.
    ups_hosts: Mapping[str, str]
    # SCVMM host name or VM ID -> Icinga host name; absent: the same name.
    host_names: Mapping[str, str]

    def ups_host(self, ups: str) -> str:
        return self.ups_hosts.get(ups, ups)

    def icinga_name(self, scvmm_name: str) -> str:
        return self.host_names.get(scvmm_name.lower(), scvmm_name)


@dataclass(frozen=True)
class Config:
    scvmm: ScvmmConfig
    maintenance: MaintenanceConfig
    ups: Mapping[str, UpsConfig]
    icinga: IcingaConfig | None = None  # off when the table is absent

    def ups_of_host(self, host: str) -> tuple[str, ...]:
        """Every configured UPS that feeds this host (redundant feeds give several)."""
        return tuple(name for name, ups in self.ups.items() if host in ups.hosts)

    def all_hosts(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for ups in self.ups.values():
            for host in ups.hosts:
                seen.setdefault(host, None)
        return tuple(seen)


def is_dns_name(name: str) -> bool:
    if not name or len(name) > 253:
        return False
    labels = name.lower().rstrip(".").split(".")
    return all(_DNS_LABEL.fullmatch(label) for label in labels)


def load_config(path: str | os.PathLike[str]) -> Config:
    shown = repr(os.fspath(path)) if "\0" in os.fspath(path) else os.fspath(path)
    try:
        data = read_small_file(path, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        raise ConfigError(f"cannot read config {shown}: No such file or directory") from None
    except UnreadableFileError as error:
        raise ConfigError(f"cannot read config {shown}: {error}") from None
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(f"config {shown} is not valid TOML: not UTF-8 text (byte "
                          f"{error.start})") from None
    except RecursionError:
        raise ConfigError(f"config {shown} is not valid TOML: nested too deeply") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config {shown} is not valid TOML: {error}") from None
    except ValueError as error:  # e.g. an integer of thousands of digits
        raise ConfigError(f"config {shown} is not valid TOML: "
                          f"{str(error).splitlines()[0][:120]}") from None
    return parse_config(raw)


def parse_config(raw: Mapping[str, Any]) -> Config:
    _reject_unknown(raw, "", {"scvmm", "maintenance", "ups", "icinga"})
    scvmm = _parse_scvmm(_table(raw, "scvmm", required=True))
    maintenance = _parse_maintenance(_table(raw, "maintenance", required=False))
    ups_tables = _table(raw, "ups", required=True)
    if not ups_tables:
        raise ConfigError("ups: at least one [ups.\"NAME\"] table is required")
    ups = {
        name: _parse_ups(name, _table(ups_tables, name, required=True, prefix="ups"),
                         maintenance)
        for name in ups_tables
    }
    icinga = _parse_icinga(raw["icinga"], ups) if "icinga" in raw else None
    config = Config(scvmm=scvmm, maintenance=maintenance, ups=ups, icinga=icinga)
    if scvmm.vmm_host is not None and scvmm.vmm_host not in config.all_hosts():
        raise ConfigError(
            f"scvmm.vmm_host: {scvmm.vmm_host!r} is not among the hosts of any [ups] table"
        )
    return config


def _parse_scvmm(table: Mapping[str, Any]) -> ScvmmConfig:
    _reject_unknown(table, "scvmm", {
        "server", "transport", "port", "auth", "username", "password_file",
        "cert_validation", "vmm_host", "vmm_server",
    })
    server = _host_name(_get(table, "scvmm", "server", str, required=True), "scvmm.server")
    transport = _choice(table, "scvmm", "transport", TRANSPORTS, "https")
    port = _get(table, "scvmm", "port", int, default=5986 if transport == "https" else 5985)
    if not 1 <= port <= 65535:
        raise ConfigError(f"scvmm.port: {port} is not a TCP port (1-65535)")
    auth = _choice(table, "scvmm", "auth", AUTH_METHODS, "negotiate")
    username = _get(table, "scvmm", "username", str, required=True)
    if not username.strip():
        raise ConfigError("scvmm.username: must not be empty")
    password_file = _get(table, "scvmm", "password_file", str, default=None)
    if password_file is not None:
        _check_password_file(_path(password_file, "scvmm.password_file"))
    cert_validation = table.get("cert_validation", True)
    if not isinstance(cert_validation, (bool, str)) or cert_validation == "":
        raise ConfigError("scvmm.cert_validation: must be true, false or a CA bundle path")
    if isinstance(cert_validation, str):
        _path(cert_validation, "scvmm.cert_validation")
    vmm_host = _get(table, "scvmm", "vmm_host", str, default=None)
    if vmm_host is not None:
        vmm_host = _host_name(vmm_host, "scvmm.vmm_host")
    vmm_server = _host_name(_get(table, "scvmm", "vmm_server", str, default="localhost"),
                            "scvmm.vmm_server")
    return ScvmmConfig(
        server=server, transport=transport, port=port, auth=auth, username=username,
        password_file=password_file, cert_validation=cert_validation, vmm_host=vmm_host,
        vmm_server=vmm_server,
    )


def _parse_maintenance(table: Mapping[str, Any]) -> MaintenanceConfig:
    _reject_unknown(table, "maintenance", {
        "timer", "mode", "on_power_restored", "runtime_floor", "charge_floor", "budget",
        "state_dir", "log_file",
    })
    timer = _timer(table.get("timer", 300), "maintenance.timer")
    mode = _choice(table, "maintenance", "mode", MODES, "migrate")
    on_power_restored = _choice(table, "maintenance", "on_power_restored",
                                ON_POWER_RESTORED, "exit")
    runtime_floor = _get(table, "maintenance", "runtime_floor", int, default=300)
    charge_floor = _get(table, "maintenance", "charge_floor", int, default=20)
    if runtime_floor < -1:
        raise ConfigError("maintenance.runtime_floor: must be seconds >= 0, or -1 for off")
    if not -1 <= charge_floor <= 100:
        raise ConfigError("maintenance.charge_floor: must be a percentage 0-100, or -1 for off")
    budget = table.get("budget", 50)
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 1 <= budget <= 3600:
        raise ConfigError("maintenance.budget: must be seconds between 1 and 3600")
    state_dir = _path(_get(table, "maintenance", "state_dir", str, default=DEFAULT_STATE_DIR),
                      "maintenance.state_dir")
    if not state_dir.strip():
        raise ConfigError("maintenance.state_dir: must not be empty")
    log_file = _path(_get(table, "maintenance", "log_file", str,
                          default=str(Path(state_dir) / "maintenance.log")),
                     "maintenance.log_file")
    return MaintenanceConfig(
        timer=timer, mode=mode, on_power_restored=on_power_restored,
        runtime_floor=runtime_floor, charge_floor=charge_floor, budget=float(budget),
        state_dir=state_dir, log_file=log_file,
    )


def _parse_ups(name: str, table: Mapping[str, Any], defaults: MaintenanceConfig) -> UpsConfig:
    where = f'ups."{name}"'
    if not name or any(ord(char) < 32 for char in name) or len(name) > 255:
        raise ConfigError(f"{where}: a UPS name must be 1-255 printable characters")
    if not name_fits(name):
        # Its state file name is the name percent-encoded: it must fit the file system.
        raise ConfigError(f"{where}: a UPS name must fit a state file name once "
                          f"percent-encoded (at most {MAX_ENCODED_NAME} bytes; use a "
                          "shorter or ASCII name)")
    _reject_unknown(table, where, {"hosts", "timer", "mode"})
    hosts_raw = table.get("hosts")
    if not isinstance(hosts_raw, list) or not hosts_raw:
        raise ConfigError(f"{where}.hosts: a UPS needs a non-empty list of host names")
    hosts: list[str] = []
    for host in hosts_raw:
        if not isinstance(host, str):
            raise ConfigError(f"{where}.hosts: {host!r} is not a string")
        normalised = _host_name(host, f"{where}.hosts")
        if normalised in hosts:
            raise ConfigError(f"{where}.hosts: {host!r} is listed twice")
        hosts.append(normalised)
    timer = _timer(table.get("timer", defaults.timer), f"{where}.timer")
    mode = _choice(table, where, "mode", MODES, defaults.mode)
    return UpsConfig(name=name, hosts=tuple(hosts), timer=timer, mode=mode)


def _check_password_file(path: str, key: str = "scvmm.password_file") -> None:
    """A password file others can read is refused; a missing one is not a config error
    (the environment variable may carry the password)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise ConfigError(
            f"{key}: cannot stat {path}: {error.strerror or error}"
        ) from None
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise ConfigError(
            f"{key}: {path} is accessible by others (mode "
            f"{stat.S_IMODE(mode):04o}); run chmod o-rwx on it"
        )


def read_password(scvmm: ScvmmConfig, environ: Mapping[str, str] | None = None) -> str:
    """The SCVMM password: env DELL_UPS_SCVMM_PASSWORD when non-empty, else the file."""
    environ = os.environ if environ is None else environ
    from_env = environ.get(PASSWORD_ENV, "")
    if from_env:
        return from_env
    if scvmm.password_file is None:
        raise ConfigError(f"no SCVMM password: {PASSWORD_ENV} is empty and "
                          "scvmm.password_file is not set")
    return _read_password_file(
        scvmm.password_file, "scvmm.password_file",
        unreadable=f"no SCVMM password: {PASSWORD_ENV} is empty and scvmm.password_file")


def _read_password_file(path: str, key: str, *, unreadable: str) -> str:
    """A password file's one line (trailing newline stripped), checked for its mode;
    `unreadable` starts the error line when it cannot be read."""
    _check_password_file(path, key)
    try:
        # Bounded and non-blocking: a FIFO here would otherwise hang the handler.
        password = read_small_file(path, MAX_PASSWORD_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError, UnreadableFileError) as error:
        reason = getattr(error, "strerror", None) or (
            str(error) if isinstance(error, UnreadableFileError) else type(error).__name__)
        raise ConfigError(f"{unreadable} {path} cannot be read: {reason}") from None
    password = password.removesuffix("\n").removesuffix("\r")
    if not password:
        raise ConfigError(f"{key}: {path} is empty")
    return password


ICINGA_DEFAULT_PORT = 5665
# Long, because the handler removes its downtimes itself when power returns; it only
# bounds how long a downtime outlives a handler that is never called again.
ICINGA_DOWNTIME_HOURS = 24


def _parse_icinga(value: Any, ups: Mapping[str, UpsConfig]) -> IcingaConfig:
    if not isinstance(value, dict):
        raise ConfigError("icinga: must be a table")
    table: Mapping[str, Any] = value
    _reject_unknown(table, "icinga", {
        "url", "username", "password_file", "ca_file", "downtime_hours", "ups_hosts",
        "host_names",
    })
    host, port = _icinga_url(_get(table, "icinga", "url", str, required=True))
    username = _get(table, "icinga", "username", str, required=True)
    if not username.strip() or any(ord(char) < 32 for char in username) or ":" in username:
        raise ConfigError("icinga.username: must be a non-empty ApiUser name without ':'")
    password_file = _path(_get(table, "icinga", "password_file", str, required=True),
                          "icinga.password_file")
    _check_password_file(password_file, "icinga.password_file")
    ca_file = _get(table, "icinga", "ca_file", str, default=None)
    if ca_file is not None:
        if not ca_file.strip():
            raise ConfigError("icinga.ca_file: must not be empty (leave it out for the "
                              "system's CAs)")
        _path(ca_file, "icinga.ca_file")
    hours = table.get("downtime_hours", ICINGA_DOWNTIME_HOURS)
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) \
            or not 1 <= hours <= 24 * 366:
        raise ConfigError("icinga.downtime_hours: must be hours between 1 and 8784")
    ups_hosts = _name_map(table, "ups_hosts")
    for name in ups_hosts:
        if name not in ups:
            raise ConfigError(f"icinga.ups_hosts: {name!r} is not a configured UPS (no "
                              f"[ups.\"{name}\"] table)")
    host_names = {key.lower().rstrip("."): icinga
                  for key, icinga in _name_map(table, "host_names").items()}
    return IcingaConfig(host=host, port=port, username=username, password_file=password_file,
                        ca_file=ca_file, downtime_hours=float(hours), ups_hosts=ups_hosts,
                        host_names=host_names)


def _icinga_url(url: str) -> tuple[str, int]:
    """https://HOST[:PORT][/]: Icinga 2's API speaks only HTTPS, so nothing else."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError as error:
        raise ConfigError(f"icinga.url: {url!r} is not a URL: {error}") from None
    if parts.scheme != "https":
        raise ConfigError(f"icinga.url: {url!r} must start with https:// (Icinga 2's API "
                          "speaks only HTTPS)")
    if parts.username is not None or parts.password is not None:
        raise ConfigError("icinga.url: must not carry a user or password (use "
                          "icinga.username and icinga.password_file)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"icinga.url: {url!r} must be only https://HOST[:PORT]")
    if not host:
        raise ConfigError(f"icinga.url: {url!r} names no host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        host = _host_name(host, "icinga.url")
    return host, port or ICINGA_DEFAULT_PORT


def _name_map(table: Mapping[str, Any], key: str) -> dict[str, str]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"icinga.{key}: must be a table of \"name\" = \"Icinga host name\"")
    names: dict[str, str] = {}
    for name, icinga in value.items():
        if not isinstance(icinga, str) or not icinga or "!" in icinga \
                or any(ord(char) < 32 for char in icinga):
            raise ConfigError(f"icinga.{key}.{name}: must be an Icinga host name (a "
                              "non-empty string without '!' or control characters)")
        names[name] = icinga
    return names


def read_icinga_password(icinga: IcingaConfig) -> str:
    """The Icinga ApiUser's password, from icinga.password_file only (its trailing
    newline stripped), checked as the SCVMM password file is."""
    return _read_password_file(icinga.password_file, "icinga.password_file",
                               unreadable="icinga.password_file")


# --- small validators -------------------------------------------------------------------

def _table(raw: Mapping[str, Any], key: str, *, required: bool, prefix: str = "") -> Mapping:
    name = f'{prefix}."{key}"' if prefix else key
    if key not in raw:
        if required:
            raise ConfigError(f"{name}: missing table [{name}]")
        return {}
    value = raw[key]
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: must be a table")
    return value


def _reject_unknown(table: Mapping[str, Any], where: str, known: set[str]) -> None:
    for key in table:
        if key not in known:
            name = f"{where}.{key}" if where else key
            raise ConfigError(f"{name}: unknown key (known: {', '.join(sorted(known))})")


def _get(table: Mapping[str, Any], where: str, key: str, kind: type, *,
         required: bool = False, default: Any = None) -> Any:
    if key not in table:
        if required:
            raise ConfigError(f"{where}.{key}: missing")
        return default
    value = table[key]
    # bool is an int in Python: refuse true/false where a number is meant.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}.{key}: must be {'an integer' if kind is int else 'a string'}")
    return value


def _choice(table: Mapping[str, Any], where: str, key: str, choices: tuple[str, ...],
            default: str) -> str:
    value = table.get(key, default)
    if value not in choices:
        raise ConfigError(f"{where}.{key}: {value!r} is not one of {', '.join(choices)}")
    return value


def _timer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < -1:
        raise ConfigError(f"{name}: must be seconds >= 0, or -1 for never")
    return value


def _path(value: str, name: str) -> str:
    if "\0" in value:
        raise ConfigError(f"{name}: contains a NUL character")
    return value


def _host_name(value: str, name: str) -> str:
    if not is_dns_name(value):
        raise ConfigError(f"{name}: {value!r} is not a valid DNS host name")
    return value.lower().rstrip(".")
