"""Keep the README and the pages in docs/ equal to the real commands and their ``--help``.

    python scripts/make_readme.py          # rewrite what is stale; add a page for a new command
    python scripts/make_readme.py --check  # exit 1 if anything is stale or missing (CI and tests)

What it writes, all taken from the app itself:

- each block between ``<!-- BEGIN help: NAME -->`` and ``<!-- END help: NAME -->``, where NAME
  is a command (``inspect``, or ``models list`` for a subcommand) or ``vision-cli`` for the
  top-level help: the real ``--help`` output, 100 columns wide, without colour;
- each block between ``<!-- BEGIN commands -->`` and ``<!-- END commands -->``: a table of the
  commands, linked to their pages, with the first line of their help;
- ``docs/COMMAND.md`` for a command that has no page yet: a title, the command's summary, and
  help blocks for it and its subcommands. Write the rest of the page by hand (the tests ask that
  every option be described in prose somewhere in the docs).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _script import parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
BLOCK = re.compile(
    r"(<!-- BEGIN help: (?P<name>[\w][\w -]*) -->\n)(?P<body>.*?)(<!-- END help: (?P=name) -->)",
    re.S,
)
COMMANDS = re.compile(r"(<!-- BEGIN commands -->\n)(?P<body>.*?)(<!-- END commands -->)", re.S)
WIDTH = "100"
TOP = "vision-cli"


def app_group() -> Any:
    """The click group behind the app (imported here, not at the top: ``--help`` of this script
    needs nothing)."""
    import typer.main

    from vision_cli.cli.app import app

    return typer.main.get_command(app)


def command_names(group: Any | None = None) -> list[str]:
    """Every visible top-level command, in the order ``--help`` lists them."""
    group = group or app_group()
    return [name for name, cmd in group.commands.items() if not getattr(cmd, "hidden", False)]


def help_names(name: str, group: Any | None = None) -> Iterator[str]:
    """``name`` and, when it is a group of subcommands, ``name sub`` for each of them."""
    group = group or app_group()
    yield name
    for sub, cmd in getattr(group.commands[name], "commands", {}).items():
        if not getattr(cmd, "hidden", False):
            yield f"{name} {sub}"


def summary(name: str, group: Any | None = None) -> str:
    """The first paragraph of a command's help, on one line, safe in a Markdown table."""
    group = group or app_group()
    text = (group.commands[name].help or "").split("\n\n")[0]
    return " ".join(text.split()).replace("|", "\\|")


def page(name: str) -> Path:
    return DOCS / f"{name}.md"


def help_text(name: str) -> str:
    args = ["--help"] if name == TOP else [*name.split(), "--help"]
    env = {
        **os.environ,
        "TERMINAL_WIDTH": WIDTH,
        "COLUMNS": WIDTH,
        "NO_COLOR": "1",
        "_TYPER_FORCE_DISABLE_TERMINAL": "1",
    }
    env.pop("FORCE_COLOR", None)
    env.pop("GITHUB_ACTIONS", None)
    out = subprocess.run(
        [sys.executable, "-m", "vision_cli", *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
    ).stdout
    lines = [line.rstrip() for line in out.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def commands_table(link_prefix: str) -> str:
    group = app_group()
    rows = [
        f"| [`{name}`]({link_prefix}{name}.md) | {summary(name, group)} |"
        for name in command_names(group)
    ]
    return "| command | what it does |\n|---|---|\n" + "\n".join(rows) + "\n"


def render(text: str, link_prefix: str = "docs/") -> str:
    """``text`` with every generated block brought up to date; links in the commands table start
    with ``link_prefix`` (``docs/`` from the README, nothing from a page in docs/)."""

    def block(match: re.Match[str]) -> str:
        command = "" if match["name"] == TOP else match["name"] + " "
        body = f"```text\n$ vision-cli {command}--help\n"
        body += help_text(match["name"]) + "\n```\n"
        return match.group(1) + body + match.group(4)

    text = BLOCK.sub(block, text)
    if COMMANDS.search(text):
        table = commands_table(link_prefix)
        text = COMMANDS.sub(lambda m: m.group(1) + table + m.group(3), text)
    return text


def new_page(name: str) -> str:
    """The start of a page for a command that has none: fill in the prose by hand."""
    group = app_group()
    blocks = "\n".join(
        f"<!-- BEGIN help: {sub} -->\n<!-- END help: {sub} -->\n" for sub in help_names(name, group)
    )
    return render(
        f"# {name}\n\n{summary(name, group)}\n\n"
        "<!-- Describe here what it does, each option, and an example or two. -->\n\n"
        f"## `--help`\n\n{blocks}",
        "",
    )


def documents() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def fresh_files() -> dict[Path, str]:
    """What every generated file should hold: the README, each page, and new pages."""
    files = {
        path: render(path.read_text(), "docs/" if path == README else "") for path in documents()
    }
    for name in command_names():
        if page(name) not in files:
            files[page(name)] = new_page(name)
    return files


def main() -> None:
    args = parser(__doc__)
    args.add_argument(
        "--check", action="store_true", help="exit 1 if anything is stale, without writing it"
    )
    check = args.parse_args().check
    fresh = fresh_files()
    stale = [path for path, text in fresh.items() if not path.exists() or path.read_text() != text]
    if check:
        if stale:
            names = ", ".join(str(p.relative_to(ROOT)) for p in stale)
            sys.exit(f"stale or missing: {names}: run python scripts/make_readme.py")
        return
    for path in stale:
        path.write_text(fresh[path])
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
