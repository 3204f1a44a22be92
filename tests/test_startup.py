"""Start-up: a run imports what its command needs and nothing else.

Never timed (``benchmarks/startup_bench.py`` times it against a bare typer app): these tests
check what a fresh process has in ``sys.modules`` when it exits, which is what start-up pays
for. The listing (``--help``) imports no command's module, a command imports only its own,
``inspect`` never imports the SDK, and rich's progress machinery is loaded only for a terminal.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from tests import imagekit as k
from tests.conftest import MakeImage, imported_by
from tests.test_environment import run_in_process
from vision_cli.cli import common, launch
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


def test_inspect_over_plain_jpegs_never_imports_pillow(tmp_path: Path) -> None:
    """A plain JPEG's header is read without Pillow (imaging.jpeghead): a run over such files
    pays nothing for importing it (about 20 ms); one over a PNG does."""
    for i in range(3):
        k.write(tmp_path / f"p{i}.jpg", k.photo((64, 48)))
    imported = imported_by("inspect", tmp_path, "--format", "jsonl")
    assert "vision_cli.imaging.jpeghead" in imported  # the measurement works
    assert not {m for m in imported if m.split(".")[0] == "PIL"}
    k.write(tmp_path / "shot.png", k.encode(k.gradient((64, 48)), "PNG"))
    assert "PIL.Image" in imported_by("inspect", tmp_path, "--format", "jsonl")


def test_a_piped_resize_loads_no_progress_bar_and_never_the_sdk(
    make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_image("a.png").parent
    for i in range(3):
        k.write(folder / f"p{i}.jpg", k.photo((640, 480)))
    imported = imported_by("resize", folder, "--out", tmp_path / "out", "--max-edge", "100")
    assert "vision_cli.resizing" in imported  # the measurement works
    assert len(list((tmp_path / "out").iterdir())) == 4  # and the images were written
    assert not imported & PROGRESS
    assert not sdk(imported)


def test_compare_help_builds_compare_from_the_ask_module_only() -> None:
    imported = imported_by("compare", "--help")
    assert imported & COMMAND_MODULES == {"vision_cli.cli.ask"}
    assert not sdk(imported)


# --------------------------------------------------------------------------------------------------
# The cyclic collector rests while the app starts (vision_cli.cli.launch)
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def collector() -> Iterator[None]:
    """Leave the collector as it was found: on, nothing frozen, no pause pending."""
    yield
    launch.resume()
    gc.unfreeze()
    gc.enable()


def test_a_command_runs_with_the_collector_on_after_a_paused_start(collector: None) -> None:
    launch.pause()
    assert not gc.isenabled()
    during = common.quiet_on_closed_pipe(gc.isenabled)  # how every command is wrapped
    assert during() is True
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0  # what start-up made is out of the collector's sight


def test_main_turns_the_collector_back_on_when_no_command_runs(collector: None) -> None:
    launch.pause()
    ran = run_in_process("--version")
    assert ran.status == 0 and "vision-cli" in ran.stdout
    assert gc.isenabled()


def test_an_embedder_who_turned_the_collector_off_keeps_it_off(
    collector: None, make_image: MakeImage
) -> None:
    gc.disable()
    assert run_in_process("inspect", make_image("one.png")).status == 0
    assert not gc.isenabled()


def test_the_console_script_pauses_the_collector_before_importing_the_app() -> None:
    probe = (
        "import gc, sys\n"
        "from vision_cli.cli import launch\n"
        "seen = []\n"
        "class Watch:\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'typer': seen.append(gc.isenabled())\n"
        "sys.meta_path.insert(0, Watch())\n"
        "sys.argv = ['vision-cli', '--version']\n"
        "try:\n"
        "    launch.entrypoint()\n"
        "except SystemExit as end:\n"
        "    print(seen, gc.isenabled(), end.code)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.stdout.strip().splitlines()[-1] == "[False] True 0", proc.stderr


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGINT"])
def test_a_signal_while_the_app_is_imported_ends_quietly_with_130(signum: str) -> None:
    """``kill`` right after launch (a cancelled job, ``timeout``) met SIGTERM's default, status
    143, and Ctrl-C a traceback from inside typer's import. The signal is sent by the process to
    itself as typer is being imported, so the test does not depend on timing."""
    probe = (
        "import os, signal, sys\n"
        "from vision_cli.cli import launch\n"
        "class Signal:\n"
        "    def find_spec(self, name, path, target=None):\n"
        f"        if name == 'typer': os.kill(os.getpid(), signal.{signum})\n"
        "sys.meta_path.insert(0, Signal())\n"
        "sys.argv = ['vision-cli', '--version']\n"
        "launch.entrypoint()\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr == "" and proc.stdout == ""


def test_a_groups_command_runs_with_the_collector_on(
    collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``files list``, a group's command, starts its work with the collector on too (the
    group's commands are wrapped by ``quiet_on_closed_pipe`` as the top-level ones are)."""
    from vision_cli.cli import files

    seen: list[bool] = []

    def connect(**_: object) -> None:
        seen.append(gc.isenabled())
        raise typer.Exit()

    monkeypatch.setattr(files, "_connect", connect)
    launch.pause()
    run_in_process("files", "list")
    assert seen == [True]


_SDK_IMPORT = """
import gc, sys
during = []

class Watch:  # notes whether the collector is on when the SDK's types are imported
    def find_spec(self, name, path=None, target=None):
        if name == "anthropic.types":
            during.append(gc.isenabled())

sys.meta_path.insert(0, Watch())
{before}
from vision_cli.client import connect
connect.load_sdk()
import anthropic
print(during, gc.isenabled(), gc.get_freeze_count() > 100_000, anthropic.Anthropic.__name__)
"""


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        ("", "[False] True True Anthropic"),  # paused for the import, then frozen and back on
        ("gc.disable()", "[False] False False Anthropic"),  # an embedder's choice is kept
    ],
)
def test_the_sdk_is_imported_with_the_collector_paused(before: str, expected: str) -> None:
    """The SDK's import makes hundreds of thousands of long-lived objects: the collector rests
    while it runs and they are frozen after it (0.7 s of a 1.9 s import, docs/performance.md)."""
    done = subprocess.run(
        [sys.executable, "-c", _SDK_IMPORT.format(before=before)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected
