"""The README documents every command and option, its help blocks are fresh, and CI runs the
README's own test command."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from vision_cli.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
sys.path.insert(0, str(ROOT / "scripts"))

import make_readme  # noqa: E402

GROUP: Any = typer.main.get_command(app)
# The prose, without the generated help blocks: what a person wrote must cover everything.
PROSE = make_readme.BLOCK.sub("", README)


def test_help_blocks_are_fresh() -> None:
    assert make_readme.render(README) == README, "run: python scripts/make_readme.py"


@pytest.mark.parametrize("name", sorted(GROUP.commands))
def test_every_command_is_documented(name: str) -> None:
    command = GROUP.commands[name]
    assert command.help, f"{name} has no --help text"
    assert f"<!-- BEGIN help: {name} -->" in README, f"{name} has no help block in the README"
    assert re.search(rf"^##+ .*\b{name}\b", PROSE, re.M), f"{name} has no README section"
    assert command.epilog and "Examples" in command.epilog, f"{name} --help has no examples"


@pytest.mark.parametrize(
    ("name", "option"),
    sorted(
        (name, opt)
        for name, command in GROUP.commands.items()
        for param in command.params
        if param.param_type_name == "option"
        for opt in param.opts
        if opt.startswith("--")
    ),
)
def test_every_option_is_documented(name: str, option: str) -> None:
    assert f"`{option}" in PROSE, f"{name} {option} is not described in the README"


def test_ci_runs_the_readme_test_command() -> None:
    match = re.search(r"Run the tests.*?```sh\n(.+?)\n```", README, re.S)
    assert match, "the README has no test command"
    command = match.group(1).strip()
    assert command in (ROOT / ".ci" / "run").read_text()


def test_changelog_has_an_unreleased_section() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text and "### Added" in text
