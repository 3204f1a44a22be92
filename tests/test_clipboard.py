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


def test_a_clipboard_over_the_input_limit_is_cut_off_and_fails_alone(
    bin_dir: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tool's whole output was held in memory (``cat /dev/zero`` grew until the timeout or
    the memory ran out): it is read up to the limit every input has, the tool killed there, and
    the clipboard is that input's ``file-too-large`` error, the others going on."""
    from vision_cli import limits

    monkeypatch.setattr(limits, "MAX_INPUT_BYTES", 1_000_000)
    done = tmp_path / "wrote-it-all"
    stub(bin_dir, "xclip", f"/usr/bin/head -c 3000000 /dev/zero; : > '{done}'")
    good = tmp_path / "good.png"
    good.write_bytes(PNG)
    result = run("inspect", "clip:", good, "-f", "jsonl")
    assert result.exit_code == 1, result.output
    clip, other = records(result)
    assert clip["path"] == "clip:" and clip["findings"][0]["code"] == "file-too-large"
    assert "more than 1,000,000 bytes" in clip["findings"][0]["message"]
    assert other["status"] == "ok"
    assert not done.exists()  # killed at the cap, not read to the end


def test_a_failing_tool_shows_the_first_line_of_what_it_said(bin_dir: Path, run: Run) -> None:
    """Its whole error output landed in the message (200,000 bytes of it, escape sequences and
    all): the first line is shown, cut short, escaped."""
    stub(bin_dir, "xclip", "printf '\\033[31mRED\\nsecond line\\n' >&2; exit 1")
    result = run("inspect", "clip:")
    assert result.exit_code == 2
    assert "(xclip: \\x1b[31mRED)" in said(result) and "second" not in said(result)
    stub(bin_dir, "xclip", "/usr/bin/head -c 100000 /dev/zero | /usr/bin/tr '\\0' e >&2; exit 1")
    result = run("inspect", "clip:")
    assert result.exit_code == 2
    assert "e" * 150 in said(result).replace(" ", "") and "e" * 300 not in said(result)


def test_a_file_copied_on_macos_or_windows_is_read_up_to_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pillow's ``grabclipboard()`` gives the files copied in the file manager: the first image
    among them was read whole, whatever its size (``/dev/zero`` named ``zero.png``)."""
    from PIL import ImageGrab

    from vision_cli import limits
    from vision_cli.judging import Code

    monkeypatch.setattr(limits, "MAX_INPUT_BYTES", 1_000_000)
    big = tmp_path / "big.png"
    big.write_bytes(PNG + bytes(1_000_000))
    copied = [str(tmp_path / "gone.png"), str(big)]
    monkeypatch.setattr(ImageGrab, "grabclipboard", lambda: copied)
    with pytest.raises(sources.SourceError) as caught:
        sources.read_clipboard("darwin")
    assert caught.value.code is Code.FILE_TOO_LARGE
    big.write_bytes(PNG)
    assert sources.read_clipboard("win32") == PNG  # the missing file is passed over


def test_a_jpeg_on_the_clipboard_is_no_extension_mismatch(
    bin_dir: Path, run: Run, tmp_path: Path
) -> None:
    """``clip:`` claimed ``.png``: a copied JPEG got an ``extension-mismatch`` warning (rename
    the file, of a clipboard), and its resized output, ``clipboard.jpg``, was not the
    ``clipboard.png`` the documentation named."""
    jpeg = tmp_path / "photo.jpg"
    jpeg.write_bytes(encode(picture((900, 300)), "JPEG"))
    stub(bin_dir, "xclip", f"/bin/cat '{jpeg}'")
    (rec,) = records(run("inspect", "clip:", "-f", "jsonl"))
    assert rec["format"] == "JPEG" and rec["findings"] == [] and rec["status"] == "ok"
    out = tmp_path / "out"
    result = run("resize", "clip:", "--out", out, "--max-edge", "450")
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in out.iterdir()] == ["clipboard.jpg"]
