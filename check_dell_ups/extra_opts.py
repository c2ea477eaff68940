"""--extra-opts=[section][@file]: options from an ini file, the Monitoring Plugins way.

Lets Icinga Director users (Director cannot put variables into a command's env) keep the
SNMP community and the v3 passphrases out of argv: the command line carries only
`--extra-opts=ups-rack1@/etc/check_dell_ups/snmp.ini`.

The convention, as the Monitoring Plugins' C library (lib/parse_ini.c, lib/extra_opts.c)
implements it:
- the locator is `[section][@file]`; no section: the plugin's name; no file: the first
  of the default files that exists;
- in the section each line `name = value` becomes `--name=value` (a one-letter name,
  `-n value`), `name` alone on a line is refused, `#` and `;` start comment lines;
- the ini's options come before those of the command line, in the order of the
  --extra-opts given, so that the command line wins;
- a section that is not in the file falls back to the plugin's own section, and when
  neither is there, the plugin stops with UNKNOWN (as monitoring-plugins >= 2.2 do).
Ours differs in two points, both for a file of secrets: a file that others may read or
write is refused (as the handler refuses such a password file), and a `#` inside a value
is part of it (the C library cuts the value there, which would cut a passphrase).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping, Sequence

OPTION = "--extra-opts"
# Searched in this order when the locator names no file (the C library's defaults,
# monitoring-plugins and the older nagios-plugins names).
DEFAULT_FILES = (
    "/etc/monitoring-plugins/monitoring-plugins.ini",
    "/usr/local/etc/monitoring-plugins/monitoring-plugins.ini",
    "/etc/nagios/plugins.ini",
    "/etc/nagios-plugins/plugins.ini",
    "/usr/local/etc/nagios/plugins.ini",
)
PATH_VARIABLES = ("MP_CONFIG_PATH", "NAGIOS_CONFIG_PATH")
PATH_FILE_NAMES = ("monitoring-plugins.ini", "plugins.ini", "nagios-plugins.ini")
MAX_BYTES = 1 << 20  # an ini of options, not a data file


class ExtraOptsError(ValueError):
    """One line: why the --extra-opts could not be used (the plugin exits UNKNOWN)."""


def expand(argv: Sequence[str], plugin: str,
           environ: Mapping[str, str] | None = None) -> list[str]:
    """argv with every --extra-opts[=LOCATOR] replaced: the ini's options first (in the
    order of the --extra-opts), then the rest of the command line."""
    from_files: list[str] = []
    rest: list[str] = []
    arguments = iter(argv)
    for argument in arguments:
        if argument == OPTION:
            from_files += options_for("", plugin, environ)
        elif argument.startswith(OPTION + "="):
            from_files += options_for(argument[len(OPTION) + 1:], plugin, environ)
        else:
            rest.append(argument)
    return [*from_files, *rest]


def options_for(locator: str, plugin: str,
                environ: Mapping[str, str] | None = None) -> list[str]:
    section, _, path = locator.partition("@")
    section = section.strip() or plugin
    path = path or default_file(environ if environ is not None else os.environ)
    if not path:
        raise ExtraOptsError(f"{OPTION}: no ini file given and none of the default files "
                             f"exists ({DEFAULT_FILES[0]}, ...)")
    sections = parse(read_private(path), path)
    for wanted in dict.fromkeys((section, plugin)):
        if wanted in sections:
            return sections[wanted]
    raise ExtraOptsError(f"{OPTION}: no section [{section}] in {path}")


def default_file(environ: Mapping[str, str]) -> str | None:
    for variable in PATH_VARIABLES:
        for directory in filter(None, environ.get(variable, "").split(":")):
            for name in PATH_FILE_NAMES:
                candidate = os.path.join(directory, name)
                if os.path.isfile(candidate):
                    return candidate
    return next((path for path in DEFAULT_FILES if os.path.isfile(path)), None)


def read_private(path: str) -> str:
    """The file's text; refused when it is no regular file or others may use it."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as error:
        raise ExtraOptsError(f"{OPTION}: cannot read {path}: "
                             f"{error.strerror or error}") from None
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise ExtraOptsError(f"{OPTION}: {path} is not a regular file")
        if status.st_mode & 0o007:
            raise ExtraOptsError(
                f"{OPTION}: {path} is accessible by others (mode "
                f"{stat.S_IMODE(status.st_mode):04o}): it holds secrets, chmod o-rwx")
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ExtraOptsError(f"{OPTION}: {path} is larger than {MAX_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ExtraOptsError(f"{OPTION}: {path} is not UTF-8 text") from None


def parse(text: str, path: str) -> dict[str, list[str]]:
    """section -> its options as command-line arguments."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            if not line.endswith("]") or not line[1:-1].strip():
                raise ExtraOptsError(f"{OPTION}: {path}:{number}: not a [section] line")
            current = sections.setdefault(line[1:-1].strip(), [])
            continue
        if current is None:
            raise ExtraOptsError(f"{OPTION}: {path}:{number}: an option before any [section]")
        name, equals, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name or " " in name:
            raise ExtraOptsError(f"{OPTION}: {path}:{number}: not a 'name = value' line")
        current += _as_arguments(name, value)
    return sections


def _as_arguments(name: str, value: str) -> Iterable[str]:
    if len(name) == 1:
        return [f"-{name}", value]
    return [f"--{name}={value}"]
