"""Keep the user guides (``docs/guide.zh.md``, ``docs/guide.en.md``) true to the code.

- every ``perfmodel <command>`` line written in a code block names a command of
  :func:`perfmodel.cli.build_parser`, and every ``--option`` on it is an option
  of that command;
- every reason code in a reason-code table is in :data:`perfmodel.validation.REASONS`,
  and every flag code in a flag table is in :data:`perfmodel.flags.FLAG_CODES`;
- both guides have the same section structure (the same number of ``##`` and
  ``###`` headings).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from perfmodel.cli import build_parser
from perfmodel.flags import FLAG_CODES
from perfmodel.validation import REASONS

DOCS = Path(__file__).resolve().parent.parent / "docs"
GUIDES = (DOCS / "guide.zh.md", DOCS / "guide.en.md")

# A shell line that runs perfmodel: "perfmodel …", "$ perfmodel …", ".venv/bin/perfmodel …".
COMMAND_LINE = re.compile(r"^\s*(?:\$\s+)?(?:\S*/)?perfmodel(?:\s+(?P<args>.*))?$")
# First header cells of the tables checked against the code.
REASON_TABLE_HEADERS = {"原因代码", "reason code"}
FLAG_TABLE_HEADERS = {"提示代码", "flag code"}


def code_blocks(text: str) -> list[str]:
    """The fenced code blocks of a markdown text."""
    return re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S)


def command_lines(text: str) -> list[str]:
    """The arguments of every ``perfmodel`` command in the code blocks, continuation lines joined."""
    commands = []
    for block in code_blocks(text):
        joined = re.sub(r"\\\n", " ", block)
        for line in joined.splitlines():
            match = COMMAND_LINE.match(line.split(" #")[0])
            if match is None:
                continue
            args = (match.group("args") or "").strip()
            if args.split(" ", 1)[0].endswith(":"):  # a message quoted ("perfmodel: error: …"), not a command
                continue
            commands.append(args)
    return commands


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of ``parser`` (empty when it has none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string (``--out``, ``-h`` …) that ``parser`` accepts."""
    return {s for action in parser._actions for s in action.option_strings}


def check_command(args: str) -> list[str]:
    """Problems of one command line: unknown subcommands and options."""
    parser = build_parser()
    tokens = args.split()
    problems = []
    positionals = [t for t in tokens if not t.startswith("-")]
    # Options before the subcommand belong to the top-level parser (--version, --debug).
    target = parser
    if positionals:
        commands = subparsers(parser)
        if positionals[0] not in commands:
            return [f"'perfmodel {positionals[0]}' is not a command (commands: {', '.join(commands)})"]
        target = commands[positionals[0]]
        nested = subparsers(target)
        if nested and len(positionals) > 1 and positionals[1] in nested:
            target = nested[positionals[1]]
        elif nested and len(positionals) > 1 and not positionals[1].isupper():
            problems.append(f"'perfmodel {positionals[0]} {positionals[1]}' is not a command")
    allowed = option_strings(target) | option_strings(parser)
    for token in tokens:
        if token.startswith("-") and not re.fullmatch(r"-?\d.*", token):
            option = token.split("=")[0].rstrip(",;")
            if option not in allowed:
                problems.append(f"{option} is not an option of 'perfmodel {args.split()[0] if tokens else ''}'")
    return problems


def command_shape(args: str) -> tuple[str, ...]:
    """A command without its values: the subcommand words and the options (file names may be translated)."""
    tokens = args.split()
    words = [t for t in tokens[:2] if re.fullmatch(r"[a-z_]+", t)]
    return (*words, *(t.split("=")[0] for t in tokens if t.startswith("--")))


def table_first_cells(text: str, headers: set[str]) -> list[str]:
    """The first cells of the rows of every table whose first header cell is in ``headers``."""
    cells: list[str] = []
    inside = False
    for line in text.splitlines():
        if not line.startswith("|"):
            inside = False
            continue
        first = line.strip("|").split("|")[0].strip()
        if first in headers:
            inside = True
        elif inside and not set(first) <= set("-: "):
            cells.append(first.strip("`"))
    return cells


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_commands_and_options_exist(guide: Path) -> None:
    commands = command_lines(guide.read_text(encoding="utf-8"))
    # The guide teaches install, template, validate, score, report, audit and frameworks show.
    used = {c.split()[0] for c in commands if c and not c.startswith("-")}
    assert {"template", "validate", "score", "report", "frameworks", "audit"} <= used
    problems = [f"perfmodel {c}: {p}" for c in commands for p in check_command(c)]
    assert problems == []


def test_the_command_check_catches_what_it_should() -> None:
    assert check_command("report --period 2025Q2 --format html,pdf") == []
    assert check_command("frameworks show station_quadrant") == []
    assert check_command("lab sensitivity --help") == []
    assert check_command("report --perod 2025Q2") == ["--perod is not an option of 'perfmodel report'"]
    assert check_command("evaluate --period 2025Q2")[0].startswith("'perfmodel evaluate' is not a command")
    assert check_command("lab sensitivty") == ["'perfmodel lab sensitivty' is not a command"]
    text = "```bash\nperfmodel score --out a.csv \\\n  --lang en   # comment --nope\n```\n"
    assert command_lines(text) == ["score --out a.csv    --lang en"]


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_reason_and_flag_codes_exist(guide: Path) -> None:
    text = guide.read_text(encoding="utf-8")
    reasons = table_first_cells(text, REASON_TABLE_HEADERS)
    flags = table_first_cells(text, FLAG_TABLE_HEADERS)
    assert len(reasons) >= 10 and len(flags) >= 5
    assert sorted(set(reasons) - set(REASONS)) == []
    assert sorted(set(flags) - set(FLAG_CODES)) == []


def test_both_guides_have_the_same_structure() -> None:
    def headings(path: Path) -> list[int]:
        text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
        return [len(h) for h in re.findall(r"^(#{1,4}) ", text, flags=re.M)]

    zh, en = (headings(p) for p in GUIDES)
    assert zh.count(2) >= 5
    assert zh == en


def test_both_guides_name_the_same_codes_and_commands() -> None:
    zh, en = (p.read_text(encoding="utf-8") for p in GUIDES)
    assert table_first_cells(zh, REASON_TABLE_HEADERS) == table_first_cells(en, REASON_TABLE_HEADERS)
    assert table_first_cells(zh, FLAG_TABLE_HEADERS) == table_first_cells(en, FLAG_TABLE_HEADERS)
    assert [command_shape(c) for c in command_lines(zh)] == [command_shape(c) for c in command_lines(en)]
