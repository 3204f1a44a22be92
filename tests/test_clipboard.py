"""``clip:`` and ``--clipboard``: stub ``wl-paste`` and ``xclip`` programs first on PATH."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import Result

from tests.conftest import Run, encode, picture, records
from tests.fakeapi import FakeClaudeAPI
from vision_cli import sources

PNG = encode(picture((900, 300)), "PNG")


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of stub programs, alone on PATH (so no real clipboard tool is found)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return folder


def said(result: Result) -> str:
    """Standard error as one line (a usage error comes in a box, wrapped)."""
    return " ".join(result.stderr.replace("│", " ").split())


def stub(folder: Path, name: str, script: str) -> Path:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def png_file(tmp_path: Path) -> Path:
    path = tmp_path / "clip-source.png"
    path.write_bytes(PNG)
    return path


@pytest.mark.parametrize("tool", ["xclip", "wl-paste"])
def test_a_tool_that_prints_a_png(bin_dir: Path, png_file: Path, tool: str) -> None:
    stub(bin_dir, tool, f"echo \"$@\" > '{bin_dir}/args'; /bin/cat '{png_file}'")
    assert sources.read_clipboard("linux") == PNG
    args = (bin_dir / "args").read_text()
    assert "image/png" in args


def test_wayland_session_prefers_wl_paste(
    bin_dir: Path, png_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub(bin_dir, "xclip", "exit 1")
    stub(bin_dir, "wl-paste", f"/bin/cat '{png_file}'")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert sources.read_clipboard("linux") == PNG
    monkeypatch.delenv("WAYLAND_DISPLAY")
    with pytest.raises(sources.ClipboardError, match="holds no image"):
        sources.read_clipboard("linux")  # X11: xclip first, and it fails


def test_a_tool_that_prints_nothing(bin_dir: Path, run: Run) -> None:
    stub(bin_dir, "xclip", "exit 0")
    result = run("inspect", "clip:")
    assert result.exit_code == 2
    assert "the clipboard holds no image" in said(result)
    assert "Traceback" not in result.output


def test_a_tool_that_fails_says_why(bin_dir: Path, run: Run) -> None:
    stub(bin_dir, "xclip", "echo 'Error: target image/png not available' >&2; exit 1")
    result = run("estimate", "--clipboard")
    assert result.exit_code == 2
    assert "xclip: Error: target image/png not available" in said(result)


def test_no_tool_names_what_to_install(bin_dir: Path, run: Run) -> None:
    for command in (
        ["inspect", "clip:"],
        ["ask", "clip:", "--dry-run"],
        ["resize", "clip:", "--out", "o"],
    ):
        result = run(*command)
        assert result.exit_code == 2, command
        assert "install wl-clipboard (Wayland) or xclip (X11)" in said(result)
        assert len([line for line in said(result).splitlines() if "clip" in line]) >= 1


def test_clip_given_twice_is_a_usage_error(bin_dir: Path, run: Run) -> None:
    result = run("inspect", "clip:", "clip:")
    assert result.exit_code == 2 and "only once" in said(result)


@pytest.fixture
def clipboard(bin_dir: Path, png_file: Path) -> Path:
    stub(bin_dir, "xclip", f"/bin/cat '{png_file}'")
    return bin_dir


def test_inspect_and_estimate_read_the_clipboard(clipboard: Path, run: Run) -> None:
    (rec,) = records(run("inspect", "clip:", "-f", "jsonl"))
    assert rec["path"] == "clip:" and (rec["width"], rec["height"]) == (900, 300)
    result = run("estimate", "--clipboard", "--json")
    assert result.exit_code == 0, result.stderr
    assert "clip:" in result.stdout


def test_resize_writes_clipboard_png(clipboard: Path, run: Run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("resize", "clip:", "--out", out, "--max-edge", "450")
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in out.iterdir()] == ["clipboard.png"]
    refused = run("resize", "--clipboard", "--in-place")
    assert refused.exit_code == 2 and "the clipboard" in said(refused)


def test_ask_clip_is_the_screenshot_one_liner(
    clipboard: Path, run: Run, api: FakeClaudeAPI
) -> None:
    result = run("ask", "clip:", "-p", "What is in this screenshot?")
    assert result.exit_code == 0, result.stderr
    (request,) = api.messages_requests()
    assert [(i.width, i.height) for i in request.images] == [(900, 300)]
    both = run("compare", "clip:", "--clipboard", "-p", "x", "--dry-run", "--json")
    assert both.exit_code == 2  # --clipboard does not add clip: twice, and compare needs two
    assert "at least two" in said(both)
    dry = json.loads(run("ask", "--clipboard", "--dry-run", "--json").stdout)
    assert dry
