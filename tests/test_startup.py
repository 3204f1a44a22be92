"""Start-up: a run imports what its command needs and nothing else.

Never timed (``benchmarks/startup_bench.py`` times it against a bare typer app): these tests
check what a fresh process has in ``sys.modules`` when it exits, which is what start-up pays
for. The listing (``--help``) imports no command's module, a command imports only its own,
``inspect`` never imports the SDK, and rich's progress machinery is loaded only for a terminal.
"""

from __future__ import annotations

import pytest

from tests import imagekit as k
from tests.conftest import MakeImage, imported_by
from vision_cli.cli.commands import COMMANDS, GROUPS

#: Every command's (and group's) module of ``cli/``.
COMMAND_MODULES = {f"vision_cli.cli.{entry[0]}" for entry in [*COMMANDS.values(), *GROUPS.values()]}
SDK = ("anthropic", "httpx", "httpx2")
PROGRESS = {"rich.progress", "rich.live", "rich.progress_bar"}


def sdk(imported: set[str]) -> set[str]:
    return {m for m in imported if m.split(".")[0] in SDK}


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_the_listing_imports_no_command(args: list[str]) -> None:
    imported = imported_by(*args)
    assert "vision_cli.cli.commands" in imported  # the measurement works
    assert not imported & COMMAND_MODULES
    assert not {m for m in imported if m.split(".")[0] == "PIL"}
    assert not sdk(imported)


def test_inspect_imports_its_own_command_only_and_never_the_sdk(make_image: MakeImage) -> None:
    imported = imported_by("inspect", make_image("one.png"))
    assert imported & COMMAND_MODULES == {"vision_cli.cli.inspect"}
    assert "PIL.Image" in imported  # the image was read
    assert not sdk(imported)
    assert not imported & PROGRESS  # stderr is a pipe here: no bar, so none of its machinery


def test_a_piped_inspect_over_a_folder_loads_no_progress_bar(make_image: MakeImage) -> None:
    folder = make_image("a.png").parent
    for i in range(3):
        k.write(folder / f"p{i}.jpg", k.photo((64, 48)))
    imported = imported_by("inspect", folder, "--format", "jsonl")
    assert "vision_cli.inspecting" in imported  # the measurement works
    assert not imported & PROGRESS
    assert not sdk(imported)


def test_compare_help_builds_compare_from_the_ask_module_only() -> None:
    imported = imported_by("compare", "--help")
    assert imported & COMMAND_MODULES == {"vision_cli.cli.ask"}
    assert not sdk(imported)
