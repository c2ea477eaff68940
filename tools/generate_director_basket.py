#!/usr/bin/env python3
"""Write director/dell_ups-basket*.json, Icinga Director baskets, from icinga-conf/.

    python3 tools/generate_director_basket.py          # rewrite director/
    python3 tools/generate_director_basket.py --check  # exit 1 if the file is not up to date

The basket holds what a Director user needs to run the plugin and the event handler: the
CheckCommands, the EventCommand, the service templates, and one data field per command
variable. It is read from the shipped icinga-conf/dell_ups_commands.conf and
dell_ups_templates.conf (a reader for the small part of the Icinga 2 DSL those files use:
objects, templates, dictionaries, arrays, strings, numbers, durations, booleans,
`{{ }}` functions) and translated as Director 1.10 stores objects (its basket format:
modules/director/library/Director/DirectorObject/Automation/BasketSnapshot.php,
Data/Exporter.php; IcingaArguments::mungeCommandArgument for arguments).

What Director cannot hold, and what the basket does instead (docs/director.md):
- `env`: Director cannot set a command's environment, and our secrets travel only there.
  The basket leaves env out; a Director user gives the secrets in an --extra-opts file
  (the `dell_ups_extra_opts` field). The secret variables get no data field.
- `import "ipv4-or-ipv6"` (an ITL template the Director does not know: kickstart imports
  objects, not templates): dropped, and `$check_address$`, which that template defines,
  becomes `$address$`.
- `{{ }}` set_if functions: kept as Director "expression" arguments (set_if_format).
Two files: dell_ups-basket.json without UUIDs, for Debian 12's Director 1.10 (which
refuses them), and dell_ups-basket-uuids.json with one per command and service template
(uuid5 over a fixed namespace and the object's type and name: stable across runs) for
newer Directors, which match basket objects by UUID; only the first is imported in the
tests (no newer Director here). Data fields carry none: Director 1.10's have no UUID
column, and what newer ones expect there is not known here.
Never edit the outputs by hand: tests/director checks they match this script.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "icinga-conf"
SOURCES = ("dell_ups_commands.conf", "dell_ups_templates.conf")
OUT = ROOT / "director" / "dell_ups-basket.json"
# The same with a "uuid" per command and service template, for Directors that match
# basket objects by UUID (newer than Debian 12's 1.10.2, which refuses the key: its
# column is binary; Director's ObjectImporter::loadExistingObject reads a UUID string).
OUT_UUIDS = ROOT / "director" / "dell_ups-basket-uuids.json"
BASKET_NAME = "check_dell_ups"
# Fixed for this project: changing it changes every UUID in the basket.
NAMESPACE = uuid.UUID("5f0c2a8e-6d1b-4c8e-9a57-3b2f4d1c7e90")

# ---- a reader for the Icinga 2 DSL subset of icinga-conf/ --------------------------------


@dataclass(frozen=True)
class Function:
    """A `{{ ... }}` lambda: its body, as written."""

    body: str


@dataclass(frozen=True)
class Duration:
    text: str  # "30s", "1m"

    def seconds(self) -> int:
        units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
        number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", self.text).groups()  # type: ignore[union-attr]
        return round(float(number) * units[unit])


@dataclass(frozen=True)
class Expression:
    """Something the basket keeps as text, e.g. `PluginDir + "/check_dell_ups"`."""

    parts: tuple[Any, ...]


@dataclass
class ConfObject:
    kind: str  # "object" | "template"
    type: str  # CheckCommand, EventCommand, Service
    name: str
    imports: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)


_TOKEN = re.compile(r"""
    (?P<space>\s+|//[^\n]*|/\*.*?\*/)
  | (?P<function>\{\{.*?\}\})
  | (?P<string>"(?:\\.|[^"\\])*")
  | (?P<duration>\d+(?:\.\d+)?(?:ms|s|m|h|d)\b)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<punct>[{}\[\]=+,])
""", re.VERBOSE | re.DOTALL)


class DslError(ValueError):
    """The shipped config uses DSL this reader does not know: extend the reader."""


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise DslError(f"cannot read {text[position:position + 40]!r}")
        position = match.end()
        if match.lastgroup != "space":
            tokens.append((match.lastgroup or "", match.group()))
    return tokens


class _Reader:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.index] if self.index < len(self.tokens) else ("end", "")

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if expected is not None and token[1] != expected:
            raise DslError(f"expected {expected!r}, found {token[1]!r}")
        self.index += 1
        return token

    def objects(self) -> Iterator[ConfObject]:
        while self.peek()[0] != "end":
            kind = self.take()[1]
            if kind not in ("object", "template"):
                raise DslError(f"only objects and templates are read, not {kind!r}")
            type_name = self.take()[1]
            item = ConfObject(kind, type_name, json.loads(self.take()[1]))
            self.take("{")
            while self.peek()[1] != "}":
                key = self.take()[1]
                if key == "import":
                    item.imports.append(json.loads(self.take()[1]))
                    continue
                self.take("=")
                value = self.value()
                if key.startswith("vars."):
                    item.attributes.setdefault("vars", {})[key[5:]] = value
                else:
                    item.attributes[key] = value
            self.take("}")
            yield item

    def value(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            first: Any = json.loads(text)
        elif kind == "function":
            return Function(text[2:-2].strip())
        elif kind == "duration":
            return Duration(text)
        elif kind == "number":
            return float(text) if "." in text else int(text)
        elif kind == "name" and text in ("true", "false"):
            return text == "true"
        elif kind == "name":
            first = ("name", text)
        elif text == "[":
            items = []
            while self.peek()[1] != "]":
                items.append(self.value())
                if self.peek()[1] == ",":
                    self.take(",")
            self.take("]")
            return items
        elif text == "{":
            entries = {}
            while self.peek()[1] != "}":
                key_kind, key = self.take()
                key = json.loads(key) if key_kind == "string" else key
                self.take("=")
                entries[key] = self.value()
            self.take("}")
            return entries
        else:
            raise DslError(f"unexpected {text!r}")
        if self.peek()[1] != "+":
            return first
        parts = [first]
        while self.peek()[1] == "+":
            self.take("+")
            parts.append(self.value())
        return Expression(tuple(parts))


def read_conf(paths: list[Path]) -> list[ConfObject]:
    found: list[ConfObject] = []
    for path in paths:
        found += _Reader(path.read_text(encoding="utf-8")).objects()
    return found


# ---- Icinga objects -> Director basket objects ----------------------------------------------

# What Director knows of each field's type (the options' types in check_dell_ups --help,
# dell_ups_maintenance --help); a variable missing here is a string.
DATATYPE = "Icinga\\Module\\Director\\DataType\\DataType"
FIELD_TYPES = {
    "dell_ups_port": "Number",
    "dell_ups_maintenance_timer": "Number",
    "dell_ups_timeout": "Number",
    "dell_ups_readiness_timeout": "Number",
    "dell_ups_warning": "Array",
    "dell_ups_critical": "Array",
    "dell_ups_maintenance_dry_run": "Boolean",
}
COMMAND_TYPES = {"CheckCommand": "PluginCheck", "EventCommand": "PluginEvent"}
# The ITL template that defines $check_address$: not in a Director (see the docstring).
DROPPED_IMPORTS = {"ipv4-or-ipv6": ("$check_address$", "$address$")}
_MACRO = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)\$")


def _uuid(kind: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}/{name}"))


def _program(command: Any) -> str:
    """`[ PluginDir + "/check_dell_ups" ]` -> "check_dell_ups": Director renders a
    relative command as PluginDir + "/check_dell_ups"."""
    if (isinstance(command, list) and len(command) == 1 and isinstance(command[0], Expression)
            and command[0].parts[0] == ("name", "PluginDir")):
        return str(command[0].parts[1]).lstrip("/")
    raise DslError(f"command {command!r}: only [ PluginDir + \"/program\" ] is translated")


def _argument(spec: Any) -> dict[str, Any]:
    if isinstance(spec, str):
        return {"value": spec}
    argument: dict[str, Any] = {}
    for key, value in spec.items():
        if key == "set_if" and isinstance(value, Function):
            argument["set_if"] = value.body
            argument["set_if_format"] = "expression"
        elif key in ("value", "description", "required", "repeat_key", "skip_key", "set_if",
                     "order"):
            argument[key] = value
        else:
            raise DslError(f"argument attribute {key!r} is not translated")
    return argument


def _variables(arguments: dict[str, Any]) -> list[str]:
    """The command's own variables its arguments use, in order of first use."""
    names: list[str] = []
    for argument in arguments.values():
        text = json.dumps(argument)
        names += [name for name in _MACRO.findall(text)
                  if name.startswith("dell_ups") and name not in names]
    return names


def _rewrite(value: Any, old: str, new: str) -> Any:
    return json.loads(json.dumps(value).replace(old, new))


def command(item: ConfObject) -> tuple[dict[str, Any], dict[str, str]]:
    """The Director command and {variable: description} of its data fields."""
    attributes = dict(item.attributes)
    arguments = {key: _argument(spec) for key, spec in attributes.pop("arguments").items()}
    variables = dict(attributes.pop("vars", {}))
    attributes.pop("env", None)  # Director cannot set env: secrets via --extra-opts
    plain: dict[str, Any] = {
        "object_name": item.name,
        "object_type": "object",
        "methods_execute": COMMAND_TYPES[item.type],
        "command": _program(attributes.pop("command")),
        "timeout": str(attributes.pop("timeout").seconds()),
        "arguments": arguments,
        "vars": variables,
    }
    for imported in item.imports:
        if imported not in DROPPED_IMPORTS:
            raise DslError(f"{item.name}: import {imported!r} is not translated")
        plain = _rewrite(plain, *DROPPED_IMPORTS[imported])
    if attributes:
        raise DslError(f"{item.name}: {sorted(attributes)} not translated")
    descriptions = {}
    for name in _variables(plain["arguments"]):
        used_by = [spec for spec in plain["arguments"].values()
                   if f"${name}$" in json.dumps(spec)]
        descriptions[name] = used_by[0].get("description", name) if used_by else name
    return plain, descriptions


SERVICE_ATTRIBUTES = {  # Icinga attribute -> Director column, and how the value is written
    "check_command": "check_command",
    "event_command": "event_command",
    "max_check_attempts": "max_check_attempts",
    "check_interval": "check_interval",
    "retry_interval": "retry_interval",
    "volatile": "volatile",
    "enable_notifications": "enable_notifications",
    "enable_flapping": "enable_flapping",
    "enable_event_handler": "enable_event_handler",
}


def service_template(item: ConfObject) -> dict[str, Any]:
    plain: dict[str, Any] = {"object_name": item.name, "object_type": "template"}
    for key, value in item.attributes.items():
        if key not in SERVICE_ATTRIBUTES:
            raise DslError(f"{item.name}: service attribute {key!r} is not translated")
        plain[SERVICE_ATTRIBUTES[key]] = _director_value(value)
    if item.imports:
        plain["imports"] = item.imports
    return plain


def _director_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "y" if value else "n"  # Director's booleans
    if isinstance(value, Duration):
        return str(value.seconds())
    return value


def basket(objects: list[ConfObject], uuids: bool = False) -> dict[str, Any]:
    commands: dict[str, dict[str, Any]] = {}
    fields: dict[str, str] = {}  # variable -> description, first seen
    command_fields: dict[str, list[str]] = {}
    templates: dict[str, dict[str, Any]] = {}
    for item in objects:
        if item.kind == "object" and item.type in COMMAND_TYPES:
            plain, descriptions = command(item)
            commands[item.name] = plain
            command_fields[item.name] = list(descriptions)
            for name, description in descriptions.items():
                fields.setdefault(name, description)
        elif item.kind == "template" and item.type == "Service":
            templates[item.name] = service_template(item)
        else:
            raise DslError(f"{item.kind} {item.type} {item.name!r} is not translated")
    ids = {name: index for index, name in enumerate(sorted(fields), start=1)}

    def field_refs(names: list[str]) -> list[dict[str, Any]]:
        return [{"datafield_id": ids[name], "is_required": "n", "var_filter": None}
                for name in sorted(names)]

    for name, plain in commands.items():
        plain["fields"] = field_refs(command_fields[name])
        if uuids:
            plain["uuid"] = _uuid("Command", name)
    for name, plain in templates.items():
        if uuids:
            plain["uuid"] = _uuid("ServiceTemplate", name)
        # A template's fields: those of the commands it runs, so Director's service form
        # shows them where the template is imported.
        used = [*command_fields.get(plain.get("check_command", ""), []),
                *command_fields.get(plain.get("event_command", ""), [])]
        plain["fields"] = field_refs(sorted(set(used)))
    datafields = {
        str(ids[name]): {
            "varname": name,
            "caption": name.removeprefix("dell_ups_").replace("_", " "),
            "description": description,
            "datatype": DATATYPE + FIELD_TYPES.get(name, "String"),
            "format": None,
            "settings": {},
            "category": None,
        }
        for name, description in sorted(fields.items(), key=lambda pair: ids[pair[0]])
    }
    return {
        "Command": {name: _sorted(plain) for name, plain in sorted(commands.items())},
        "ServiceTemplate": {name: _sorted(plain) for name, plain in sorted(templates.items())},
        "Datafield": {key: _sorted(value) for key, value in datafields.items()},
    }


def _sorted(plain: dict[str, Any]) -> dict[str, Any]:
    return dict(sorted(plain.items()))  # Director's exporter sorts properties too


def outputs() -> dict[Path, str]:
    objects = read_conf([CONF / name for name in SOURCES])

    def as_json(document: dict[str, Any]) -> str:
        return json.dumps(document, indent=4, ensure_ascii=False) + "\n"

    return {OUT: as_json(basket(objects)),
            OUT_UUIDS: as_json(basket(objects, uuids=True))}


def main(argv: list[str]) -> int:
    stale = []
    for path, text in outputs().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if "--check" in argv:
            stale.append(str(path.relative_to(ROOT)))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)  # never a half-written basket
        print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"not up to date (run tools/generate_director_basket.py): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
