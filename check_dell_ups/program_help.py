"""--help and --version as the Monitoring Plugins interface asks, for all three programs.

The interface (monitoring-plugin-guidelines, "Input Parameters"): --help shows the
parameters, examples and remarks and overrides every other option; --version shows the
version; a plugin exits UNKNOWN (3) after either. The Monitoring Plugins' own programs do
exactly that (`/usr/lib/nagios/plugins/check_ping --help; echo $?` prints 3). The handler
is an event handler, not a plugin: it exits 0 after them, as other commands do.

The help text's layout (version line, copyright, description, Usage:, Options:,
Examples:, a closing pointer) is also what help2man reads to write the man pages
(tools/build_man_pages.py): one text, two readers.

Kept light: the check imports this on every run.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import NamedTuple

from check_dell_ups import __version__

COPYRIGHT = "Copyright (c) 2025-2026 the check_dell_ups developers. License: MIT."
DOCUMENTATION = ("Documentation: man {name}; README.md and docs/ in "
                 "<prefix>/share/doc/check_dell_ups. When reporting a problem, include "
                 "the output of {name} --version.")


class ProgramText(NamedTuple):  # not a dataclass: `dataclasses` costs the check 6 ms a run
    """What --help says beyond the options argparse lists."""

    name: str
    summary: str  # one line: the man page's NAME
    description: str
    synopsis: tuple[str, ...]  # the forms of the command line, each < 72 characters
    examples: tuple[tuple[str, str], ...]  # (command line < 76 characters, what it does)
    notes: tuple[tuple[str, str], ...] = ()  # (heading, paragraph)
    exit_code: int = 3  # after --help/--version: UNKNOWN for plugins


class HelpShown(Exception):  # noqa: N818 (not an error: the way out of argparse)
    """--help or --version was asked for: `text` is to be printed, then exit `code`."""

    def __init__(self, text: str, code: int) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


def version_line(name: str) -> str:
    return f"{name} v{__version__}\n"


def help_text(parser: argparse.ArgumentParser, program: ProgramText) -> str:
    import textwrap  # only when help is asked for

    width = 79
    # "Usage: FORM" then "  or:  FORM", one line each: what help2man makes the SYNOPSIS of
    usage = "\n".join(f"{'Usage:' if index == 0 else '  or: '} {form}"
                      for index, form in enumerate(program.synopsis))
    formatter = parser.formatter_class(prog=parser.prog, width=width - 2)
    for group in parser._action_groups:
        formatter.add_arguments(group._group_actions)
    options = _indented(formatter.format_help().rstrip("\n"))

    def paragraph(text: str, indent: str = "") -> str:
        return textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent)

    parts = [version_line(program.name).rstrip("\n"), COPYRIGHT, "",
             paragraph(program.description), "", usage, "", "Options:", options]
    if program.examples:
        parts += ["", "Examples:"]
        for command, what in program.examples:
            parts += [f"  {command}", paragraph(what, "    ")]
    for heading, text in program.notes:
        parts += ["", f"{heading}:", paragraph(text, "  ")]
    parts += ["", paragraph(DOCUMENTATION.format(name=program.name))]
    return "\n".join(parts) + "\n"


def _indented(text: str) -> str:
    return "\n".join(f"  {line}" if line else line for line in text.splitlines())


def add_help_and_version(parser: argparse.ArgumentParser, program: ProgramText) -> None:
    """-h/--help and -V/--version, listed like the other options; the parser must be
    built with add_help=False."""

    class _Help(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            raise HelpShown(help_text(parser, program), program.exit_code)

    class _Version(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):
            raise HelpShown(version_line(program.name), program.exit_code)

    parser.add_argument("-h", "--help", action=_Help, nargs=0,
                        help="print this help and exit")
    parser.add_argument("-V", "--version", action=_Version, nargs=0,
                        help="print the version and exit")


def asked_for(parser: argparse.ArgumentParser, program: ProgramText,
              arguments: Sequence[str]) -> HelpShown | None:
    """--help wins over every other option, even ones that do not parse; then
    --version. Looked for before parsing, up to a `--`."""
    words = list(arguments)
    if "--" in words:
        words = words[:words.index("--")]
    if _spelled(parser, words, "-h", "--help"):
        return HelpShown(help_text(parser, program), program.exit_code)
    if _spelled(parser, words, "-V", "--version"):
        return HelpShown(version_line(program.name), program.exit_code)
    return None


def _spelled(parser: argparse.ArgumentParser, words: Sequence[str], short: str,
             long: str) -> bool:
    """The option among the words, as argparse reads it: short, long, or an abbreviation
    of the long form that no other long option shares (`--ver` is --verbose or --version:
    argparse calls it ambiguous, and so does this)."""
    others = [option for option in parser._option_string_actions
              if option.startswith("--") and option != long]
    return any(word == short or (len(word) > 2 and long.startswith(word)
                                 and not any(other.startswith(word) for other in others))
               for word in words)
