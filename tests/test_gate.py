"""Hostile inputs, kept together: one gate for every command (issue 12).

- A seeded damaged-file test: a few hundred copies of small valid images (JPEG baseline and
  progressive, CMYK JPEG, PNG RGB / palette / 16-bit grey / with EXIF, GIF and WebP animated,
  WebP, TIFF), cut anywhere, with bits flipped in the header and anywhere, zeroed runs, garbage
  appended and headers claiming huge sizes, through inspect, inspect --verify, resize,
  resize --verify and ask --dry-run, checked against the four contracts (``tests/contracts.py``).
- EPS/PostScript named ``.jpg`` and ``.png``: no process is started (a stub ``gs`` first on PATH
  records being called).
- The allow-list: every format vision-cli reads is converted by resize, and inspect's advice says
  so; a format outside it is unsupported-format with a sentence resize never contradicts.
- Limits: one byte limit for every kind of input, FIFOs skipped by folder walks, frames counted
  up to a cap, pixel budgets from the header (ICO holding a huge PNG, progressive JPEG), PNG
  text chunks, TIFF orientation applied once.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import stat
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, TiffImagePlugin

from tests import contracts
from tests import imagekit as k
from tests.conftest import Run, records
from tests.fakeapi import FakeClaudeAPI
from vision_cli import judging, limits
from vision_cli.imaging import probe, transform

SEED = 12


def _png_ihdr(data: bytes, width: int, height: int) -> bytes:
    """``data`` (a PNG) claiming ``width`` x ``height``, with a correct CRC."""
    body = struct.pack(">II", width, height) + data[24:29]
    return data[:16] + body + struct.pack(">I", zlib.crc32(b"IHDR" + body)) + data[33:]


def _jpeg_sof(data: bytes, width: int, height: int) -> bytes:
    """``data`` (a JPEG) whose frame header claims ``width`` x ``height``."""
    i = 2
    while i < len(data) - 9:
        marker = data[i + 1]
        if marker in (0xC0, 0xC1, 0xC2):
            return data[: i + 5] + struct.pack(">HH", height, width) + data[i + 9 :]
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    raise AssertionError("no SOF")


def _bases() -> dict[str, bytes]:
    grad = k.gradient((96, 64))
    frames = [Image.new("RGB", (80, 60), c) for c in ("red", "green", "blue")]
    gif, webp_anim = io.BytesIO(), io.BytesIO()
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:])
    frames[0].save(webp_anim, "WEBP", save_all=True, append_images=frames[1:])
    sixteen = Image.linear_gradient("L").resize((64, 48)).convert("I").point(lambda v: v * 250)
    return {
        "base.jpg": k.encode(grad, "JPEG"),
        "progressive.jpg": k.encode(grad, "JPEG", progressive=True),
        "cmyk.jpg": k.encode(grad.convert("CMYK"), "JPEG"),
        "rotated.jpg": k.photo((96, 64), orientation=6),
        "rgb.png": k.encode(grad, "PNG"),
        "palette.png": k.encode(grad.convert("P"), "PNG"),
        "grey16.png": k.encode(sixteen.convert("I;16"), "PNG"),
        "anim.gif": gif.getvalue(),
        "still.webp": k.encode(grad, "WEBP"),
        "anim.webp": webp_anim.getvalue(),
        "scan.tif": k.encode(grad, "TIFF"),
    }


def _damaged(rng: random.Random) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for name, data in _bases().items():
        stem, ext = os.path.splitext(name)
        out[name] = data
        for i in range(7):
            out[f"{stem}-cut{i}{ext}"] = data[: rng.randrange(1, len(data))]
        for i in range(5):
            b = bytearray(data)
            pos = rng.randrange(min(64, len(b)))
            b[pos] ^= 1 << rng.randrange(8)
            out[f"{stem}-headflip{i}{ext}"] = bytes(b)
        for i in range(6):
            b = bytearray(data)
            for _ in range(rng.randrange(1, 4)):
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            out[f"{stem}-flip{i}{ext}"] = bytes(b)
        for i in range(3):
            b = bytearray(data)
            start = rng.randrange(len(b))
            b[start : start + rng.randrange(1, 200)] = bytes(len(b[start : start + 200]))[:200]
            out[f"{stem}-zero{i}{ext}"] = bytes(b[: len(data)])
        out[f"{stem}-garbage{ext}"] = data + rng.randbytes(rng.randrange(1, 500))
    png, jpeg = out["rgb.png"], out["base.jpg"]
    out["huge-claim.png"] = _png_ihdr(png, 60000, 60000)
    out["wide-claim.png"] = _png_ihdr(png, 9000, 300)
    out["huge-progressive.jpg"] = _jpeg_sof(out["progressive.jpg"], 65500, 65500)
    out["big-baseline.jpg"] = _jpeg_sof(jpeg, 12000, 9000)
    out["empty.png"] = b""
    return out


def test_damaged_files_keep_the_four_contracts(tmp_path: Path) -> None:
    files = _damaged(random.Random(SEED))
    assert len(files) >= 250
    inputs = []
    for i, (name, data) in enumerate(sorted(files.items())):
        inputs.append(k.write(tmp_path / "in" / f"{i:03}-{name}", data))
    counts = contracts.check_all(inputs, tmp_path / "work")
    print(f"\ndamaged files: {counts}")
    # the run found both sides: damage refused, and repairable files repaired
    assert counts.refused["unreadable"] > 50 and counts.written > 50
    assert counts.refused["dimensions-too-large"] >= 2  # huge-claim.png, huge-progressive.jpg


def _cut_jpeg(path: Path) -> tuple[Path, str]:
    data = k.photo((800, 600))
    cut = k.write(path, data[: len(data) * 2 // 3])
    return (
        cut,
        "truncated: the JPEG end marker is missing, so the file was cut short; copy it again.",
    )


def test_a_cut_jpeg_gets_one_verdict_from_every_command(
    run: Run, tmp_path: Path, api: FakeClaudeAPI
) -> None:
    """The issue's first case: inspect, resize, ask, compare, --each and --batch (run and plan)
    all refuse it with one code and sentence, and nothing is written or sent."""
    cut, sentence = _cut_jpeg(tmp_path / "in" / "cut.jpg")
    (rec,) = records(run("inspect", cut, "--format", "jsonl"))
    assert rec["findings"] == [{"code": "unreadable", "severity": "error", "message": sentence}]
    result = run("resize", cut, "--out", tmp_path / "out", "--format", "jsonl")
    (done,) = [r for r in records(result) if "input" in r]
    assert result.exit_code == 1 and done["findings"] == rec["findings"]
    assert not (tmp_path / "out").exists()
    twin = tmp_path / "twin" / "cut.jpg"  # compare needs two images: the same file is one
    twin.parent.mkdir()
    twin.write_bytes(cut.read_bytes())
    for args in (("ask", cut), ("ask", cut, "--dry-run"), ("compare", cut, twin)):
        result = run(*args)
        assert result.exit_code == 1 and f"{sentence} [unreadable]" in result.stderr, args
    for mode in ("--each", "--batch"):
        for dry in ((), ("--dry-run",)):
            out = tmp_path / f"r{mode}{len(dry)}.jsonl"
            result = run("ask", cut.parent, mode, "-o", out, *dry)
            assert result.exit_code == 1, (mode, dry, result.stderr)
            assert sentence in result.stdout + result.stderr + (
                out.read_text() if out.exists() else ""
            )
    assert api.requests == []  # nothing was ever sent


# --------------------------------------------------------------------------------------------------
# No external program
# --------------------------------------------------------------------------------------------------

EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n0 0 moveto 64 64 lineto stroke\nshowpage\n"
)


@pytest.mark.parametrize("claim", ["cut", "lie"])
def test_a_webp_shorter_than_its_header_says_is_named_with_both_sizes(
    run: Run, tmp_path: Path, claim: str
) -> None:
    """A WebP cut short and one whose RIFF length lies (0xFFFFFFFF) both end before the length
    their header gives: the sentence gives both sizes instead of calling the length missing."""
    data = k.encode(k.gradient((64, 48)), "WEBP")
    bad = data[: len(data) // 2] if claim == "cut" else data[:4] + b"\xff" * 4 + data[8:]
    claimed = int.from_bytes(bad[4:8], "little") + 8
    src = k.write(tmp_path / "w.webp", bad)
    (rec,) = records(run("inspect", src, "--format", "jsonl"))
    (error,) = rec["findings"]
    assert error["code"] == "unreadable"
    assert f"says {claimed:,} bytes and the file holds {len(bad):,}" in error["message"]


def test_eps_never_reaches_ghostscript(tmp_path: Path) -> None:
    """Bytes of an EPS file named .jpg and .png through every command, with a stub ``gs`` first
    on PATH that records being called: it never is."""
    stub_dir, called = tmp_path / "bin", tmp_path / "gs-called"
    stub_dir.mkdir()
    gs = stub_dir / "gs"
    gs.write_text(f'#!/bin/sh\necho "$@" >> {called}\nexit 1\n')
    gs.chmod(gs.stat().st_mode | stat.S_IXUSR)
    photo, shot = k.write(tmp_path / "photo.jpg", EPS), k.write(tmp_path / "shot.png", EPS)
    binary = Path(sys.executable).with_name("vision-cli")
    env = {**os.environ, "PATH": f"{stub_dir}{os.pathsep}{os.environ['PATH']}"}
    for args in (
        ["inspect", photo, shot],
        ["inspect", "--verify", photo, shot],
        ["resize", "--verify", photo, shot, "--out", tmp_path / "out"],
        ["ask", "--dry-run", photo],
        ["estimate", photo],
    ):
        proc = subprocess.run(
            [str(binary), *map(str, args)], env=env, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert "EPS is not a format vision-cli reads" in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
    assert not called.exists()
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------------
# The allow-list
# --------------------------------------------------------------------------------------------------

#: Every converted format Pillow can write, with its extension (PSD only reads: see the corpus).
WRITABLE = {
    "BMP": ".bmp",
    "TIFF": ".tif",
    "ICO": ".ico",
    "AVIF": ".avif",
    "TGA": ".tga",
    "PPM": ".ppm",
    "PCX": ".pcx",
    "DDS": ".dds",
    "JPEG2000": ".jp2",
    "SGI": ".sgi",
    "QOI": ".qoi",
}


def layered_psd(size: tuple[int, int], layers: int) -> bytes:
    """An RGB Photoshop file of ``layers`` plain layers and a merged image, written from the
    format's description (Pillow reads PSD but cannot write one)."""
    w, h = size
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, h, w, 8, 3)
    records, channels = b"", b""
    for n in range(layers):
        records += struct.pack(">iiiiH", 0, 0, h, w, 3)
        records += b"".join(struct.pack(">hI", c, 2 + w * h) for c in range(3))
        name = bytes([3]) + b"L%02d" % n
        extra = struct.pack(">II", 0, 0) + name
        records += b"8BIMnorm" + bytes([255, 0, 0, 0]) + struct.pack(">I", len(extra)) + extra
        channels += b"".join(b"\0\0" + bytes([(40 * c + 70 * n) % 256]) * (w * h) for c in range(3))
    info = struct.pack(">h", layers) + records + channels
    info += b"\0" * (len(info) % 2)
    layer_section = struct.pack(">I", len(info)) + info
    merged = b"".join(bytes([90 * c % 256]) * (w * h) for c in range(3))
    return (
        header
        + struct.pack(">II", 0, 0)  # colour mode data, image resources
        + struct.pack(">I", len(layer_section))
        + layer_section
        + struct.pack(">H", 0)  # raw merged image
        + merged
    )


@pytest.mark.parametrize("layers", [1, 2, 5])
def test_a_photoshop_file_with_layers_is_its_merged_image(
    run: Run, tmp_path: Path, layers: int
) -> None:
    """Pillow numbers a PSD's layers as frames from 1; counting them as frames, then seeking
    back to frame 0, called every PSD of two or more layers damaged. A PSD is one image (its
    merged one), never "animated", and resize converts it."""
    data = layered_psd((300, 200), layers)
    with Image.open(io.BytesIO(data)) as im:  # the file is what Pillow reads as layered
        assert im.format == "PSD" and getattr(im, "n_frames", 1) == layers
    src = k.write(tmp_path / "art.psd", data)
    (rec,) = records(run("inspect", src, "--format", "jsonl"))
    assert rec["frames"] == 1 and [f["code"] for f in rec["findings"]] == ["unsupported-format"]
    result = run("resize", src, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.stdout
    (made,) = (tmp_path / "out").iterdir()
    with Image.open(made) as out:
        assert out.convert("RGB").getpixel((10, 10)) == (0, 90, 180)


def test_the_allow_list_is_the_api_formats_and_what_resize_converts() -> None:
    assert set(probe.READ_FORMATS) == {"JPEG", "PNG", "GIF", "WEBP", "DIB", "PSD", *WRITABLE}
    assert "EPS" not in probe.READ_FORMATS and "ICNS" not in probe.READ_FORMATS
    for ext in WRITABLE.values():
        assert ext in judging.IMAGE_EXTENSIONS  # folder walks find them


@pytest.mark.parametrize("fmt", sorted(WRITABLE))
def test_inspect_advice_holds_for_every_format_read(run: Run, tmp_path: Path, fmt: str) -> None:
    """inspect says resize converts it, and resize does: the output passes inspect."""
    src = k.write(tmp_path / f"pic{WRITABLE[fmt]}", k.encode(k.gradient((300, 240)), fmt))
    first = records(run("inspect", src, "--format", "jsonl"))[0]
    errors = [f for f in first["findings"] if f["severity"] == "error"]
    assert [f["code"] for f in errors] == ["unsupported-format"]
    assert "run `vision-cli resize` to convert it" in errors[0]["message"]
    result = run("resize", src, "--out", tmp_path / "out", "--format", "jsonl")
    (done,) = [r for r in records(result) if "input" in r]
    assert result.exit_code == 0 and done["action"] == "converted", done
    after = records(run("inspect", done["output"], "--format", "jsonl"))[0]
    assert after["status"] != "error" and after["format"] in ("PNG", "JPEG"), after


def test_a_format_outside_the_list_is_named_with_what_can_be_done(run: Run, tmp_path: Path) -> None:
    xbm = k.write(tmp_path / "icon.png", b"#define i_width 8\n#define i_height 8\n")
    im = Image.new("1", (8, 8))
    im.save(xbm, "XBM")
    result = run("inspect", xbm, "--format", "jsonl")
    (finding,) = records(result)[0]["findings"]
    assert finding["code"] == "unsupported-format"
    assert finding["message"].startswith("XBM is not a format vision-cli reads (JPEG, PNG")
    assert "convert it to PNG or JPEG with another program" in finding["message"]
    resized = run("resize", xbm, "--out", tmp_path / "out")
    assert resized.exit_code == 1 and finding["message"] in resized.stdout.replace("\n", " ")


def _png_with_bad_text_crc() -> bytes:
    data = k.encode(k.gradient((64, 48)), "PNG")
    body = b"Comment\0hello"
    chunk = len(body).to_bytes(4, "big") + b"tEXt" + body + b"\0\0\0\0"  # wrong CRC
    return data[:33] + chunk + data[33:]  # just after IHDR, before the image data


def _jpeg_of_12_bit_samples() -> bytes:
    data = bytearray(k.encode(k.gradient((64, 48)), "JPEG"))
    data[data.index(b"\xff\xc0") + 4] = 12  # the frame header's sample precision
    return bytes(data)


PNG_BAD_TEXT_CRC = _png_with_bad_text_crc()
JPEG_12_BIT = _jpeg_of_12_bit_samples()
LFS_POINTER = (
    b"version https://git-lfs.github.com/spec/v1\n"
    b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n"
)


@pytest.mark.parametrize(
    ("content", "code", "words"),
    [
        (LFS_POINTER, "unreadable", "a Git LFS pointer, not the image"),
        (b"<!DOCTYPE html>\n<html><title>404</title></html>", "unreadable", "a web page (HTML)"),
        (b"\n  <HTML><body>Sign in</body></HTML>", "unreadable", "a web page (HTML)"),
        (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<!-- drawn by hand -->\n<svg width="8"/>',
            "unsupported-format",
            "SVG (a vector drawing) is not a format vision-cli reads",
        ),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "unsupported-format", "export it to PNG"),
        (bytes(5000), "unreadable", "its first bytes are all zero"),
        (
            b'{"error": {"type": "not_found_error", "message": "no such object"}}',
            "unreadable",
            'text, not an image (it begins "{"error": {"type": "not_found_error", "m...")',
        ),
        ("caf\u00e9 \u5199\u771f\n".encode(), "unreadable", 'it begins "caf\u00e9 \u5199\u771f"'),
        (b"   \n\t\n", "unreadable", "blank text, not an image"),
        # a terminal's escape sequence is no text to quote: the plain sentence, nothing echoed
        (b"hi \x1b[2J\x1b]0;owned\x07", "unreadable", "not an image vision-cli can read"),
        # the first bytes of a format read, though Pillow cannot open it: named, not "no image"
        (PNG_BAD_TEXT_CRC, "unreadable", "a PNG file whose header cannot be read (damaged"),
        (JPEG_12_BIT, "unreadable", "a JPEG file whose header cannot be read"),
    ],
)
def test_what_stands_where_an_image_should_be_is_named(
    run: Run, tmp_path: Path, content: bytes, code: str, words: str
) -> None:
    """A CI job that checked out a repository without its LFS files, a download that got an
    error page, an SVG icon, a file the disk lost, an API's error saved as .png: each is named
    for what it is, in every command, and nothing of its bytes reaches the terminal raw."""
    src = k.write(tmp_path / "in" / "asset.png", content)
    (rec,) = records(run("inspect", src, "--format", "jsonl"))
    (finding,) = [f for f in rec["findings"] if f["severity"] == "error"]
    assert finding["code"] == code and words in finding["message"], finding
    assert "\x1b" not in finding["message"] and "\x07" not in finding["message"]
    result = run("resize", src, "--out", tmp_path / "out")
    assert result.exit_code == 1 and words in result.stdout.replace("\n", " ")
    result = run("ask", src, "--dry-run")
    assert result.exit_code == 1 and f"{finding['message']} [{code}]" in result.stderr


# --------------------------------------------------------------------------------------------------
# Limits of the reader
# --------------------------------------------------------------------------------------------------


def test_one_byte_limit_for_every_kind_of_input(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_INPUT_BYTES", 1000)
    big = k.write(tmp_path / "big.png", k.encode(k.noise((100, 100)), "PNG"))
    assert big.stat().st_size > 1000
    sentence = judging.too_large_input(1000)
    (rec,) = records(run("inspect", "-", "--format", "jsonl", input=big.read_bytes()))
    assert rec["findings"][0] == {
        "code": "file-too-large",
        "severity": "error",
        "message": sentence,
    }
    result = run("resize", big, "--out", tmp_path / "out")
    assert result.exit_code == 1 and sentence in result.stdout.replace("\n", " ")
    result = run("ask", big, "--dry-run")
    assert result.exit_code == 1 and f"{sentence} [file-too-large]" in result.stderr.replace(
        "\n", " "
    )


def test_dev_zero_is_refused_not_read_forever(run: Run, tmp_path: Path) -> None:
    result = run("resize", "/dev/zero", "--out", tmp_path / "out", "--format", "jsonl")
    (done,) = [r for r in records(result) if "input" in r]
    assert result.exit_code == 1 and done["findings"][0]["code"] == "file-too-large"
    (rec,) = records(run("inspect", "/dev/zero", "--format", "jsonl"))
    assert rec["findings"][0]["code"] == "file-too-large"


def test_folder_walks_read_regular_files_only(run: Run, tmp_path: Path) -> None:
    folder = tmp_path / "shots"
    k.write(folder / "a.png", k.encode(k.gradient((300, 200)), "PNG"))
    os.mkfifo(folder / "pipe.png")
    result = run("inspect", folder, "--format", "jsonl")
    assert [Path(r["path"]).name for r in records(result)] == ["a.png"]
    result = run("resize", folder, "--out", tmp_path / "out", "--format", "jsonl")
    assert [Path(r["input"]).name for r in records(result) if "input" in r] == ["a.png"]


@contextlib.contextmanager
def _unblocked_after(fifo: Path, seconds: float) -> Iterator[None]:
    """After ``seconds``, open and close ``fifo`` for writing whenever a reader holds it, so that
    a read that would wait for ever ends (with nothing) and the test fails instead of hanging."""
    done = threading.Event()

    def unblock() -> None:
        if done.wait(seconds):
            return
        while not done.wait(0.1):
            with contextlib.suppress(OSError):  # ENXIO: no reader has it open
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    watchdog = threading.Thread(target=unblock, daemon=True)
    watchdog.start()
    try:
        yield
    finally:
        done.set()
        watchdog.join()


@pytest.mark.parametrize(
    "command", [("inspect",), ("estimate",), ("resize", "--out", "OUT"), ("ask", "--dry-run")]
)
def test_a_fifo_named_as_an_input_never_holds_the_run(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    """A FIFO that nothing writes into would block a read for ever: it gets its time
    (fsutil.FIFO_WAIT_SECONDS, lowered here), then fails alone, named, and the run goes on."""
    from vision_cli import fsutil

    monkeypatch.setattr(fsutil, "FIFO_WAIT_SECONDS", 0.2)
    good = k.write(tmp_path / "a.png", k.encode(k.gradient((300, 200)), "PNG"))
    os.mkfifo(tmp_path / "pipe.png")
    args = [str(tmp_path / "out") if a == "OUT" else a for a in command]
    started = time.monotonic()
    with _unblocked_after(tmp_path / "pipe.png", 20):  # a run that waits is failed, not hung
        result = run(*args, tmp_path / "pipe.png", good)
    assert time.monotonic() - started < 20
    assert result.exit_code == 1
    said = " ".join((result.stdout + result.stderr).replace("│", " ").split())
    assert "a named pipe (FIFO) that nothing wrote into within 0.2 s" in said
    assert "pipe.png" in said


def test_a_fifo_with_a_writer_is_read(run: Run, tmp_path: Path) -> None:
    """A FIFO whose writer comes along (as with process substitution, ``<(cmd)``) is read."""
    data = k.encode(k.gradient((300, 200)), "PNG")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "wb") as fh:  # blocks until the reader opens it
            fh.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    (rec,) = records(run("inspect", fifo, "--format", "jsonl"))
    writer.join(timeout=30)
    assert (rec["width"], rec["height"], rec["status"]) == (300, 200, "ok")


def test_a_multi_page_tiff_is_said_to_have_pages(run: Run, tmp_path: Path) -> None:
    """A TIFF's pages are a document's, not an animation, and Claude never sees a TIFF: the
    finding (code animated) says how many pages and that resize converts the first."""
    pages = [Image.new("RGB", (300, 200), colour) for colour in ("red", "green", "blue")]
    src = tmp_path / "scan.tif"
    pages[0].save(src, save_all=True, append_images=pages[1:])
    (rec,) = records(run("inspect", src, "--format", "jsonl"))
    (found,) = [f for f in rec["findings"] if f["code"] == "animated"]
    assert found["message"].startswith("3 pages, and `vision-cli resize` converts only the first")
    gif = tmp_path / "moving.gif"
    pages[0].save(gif, save_all=True, append_images=pages[1:])
    (rec,) = records(run("inspect", gif, "--format", "jsonl"))
    (found,) = [f for f in rec["findings"] if f["code"] == "animated"]
    assert found["message"].startswith("3 frames, and Claude sees only the first")


def _tiff(pages: list[tuple[Image.Image, dict[int, Any]]]) -> bytes:
    """A TIFF of ``pages``, each with its own tags (``save_all`` gives every page the same)."""
    out = io.BytesIO()
    with TiffImagePlugin.AppendingTiffWriter(out) as tiff:
        for page, tags in pages:
            page.save(tiff, "TIFF", tiffinfo=tags)
            tiff.newFrame()
    return out.getvalue()


def test_a_tiff_whose_first_page_is_a_thumbnail_is_read_at_its_main_page(
    run: Run, tmp_path: Path
) -> None:
    """A scanner's or a camera's TIFF may store a reduced-resolution copy first (NewSubfileType
    bit 0): every command reads the main page instead, and a thumbnail is not a page of its own."""
    full, thumb = Image.new("RGB", (1200, 800), "red"), Image.new("RGB", (120, 80), "blue")
    src = k.write(tmp_path / "scan.tif", _tiff([(thumb, {254: 1}), (full, {254: 0})]))
    for verify in ((), ("--verify",)):
        (rec,) = records(run("inspect", src, "--format", "jsonl", *verify))
        assert (rec["width"], rec["height"]) == (1200, 800)
        assert [f["code"] for f in rec["findings"]] == ["unsupported-format"]  # no pages, not small
    result = run("resize", src, "--out", tmp_path / "out", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    (out,) = (tmp_path / "out").iterdir()
    converted = Image.open(out)
    assert converted.size == (1200, 800)
    assert k.near(converted.convert("RGB").getpixel((600, 400)), (255, 0, 0))
    result = run("ask", src, "--dry-run", "-p", "What is it?")
    assert result.exit_code == 0 and "1200x800 image/png" in result.stderr, result.stderr


def test_a_tiffs_reduced_copies_and_masks_are_not_pages(tmp_path: Path) -> None:
    """A pyramid (the image, then smaller copies) and a page with its mask are one page each;
    two images of their own after a thumbnail are two pages; a TIFF of only thumbnails is read
    at its first; a subfile type of the wrong type is ignored."""
    big, small = Image.new("RGB", (400, 300), "red"), Image.new("RGB", (100, 75), "blue")
    mask = Image.new("1", (400, 300), 1)

    def facts(pages: list[tuple[Image.Image, dict[int, Any]]]) -> tuple[int, int, int]:
        found = probe.probe_bytes(_tiff(pages), ".tif").facts
        return found.width, found.height, found.frames

    assert facts([(big, {254: 0}), (small, {254: 1}), (small, {254: 1})]) == (400, 300, 1)
    assert facts([(big, {}), (mask, {254: 4})]) == (400, 300, 1)
    assert facts([(small, {254: 1}), (big, {254: 2}), (big, {254: 2})]) == (400, 300, 2)
    assert facts([(small, {255: 2}), (big, {255: 1})]) == (400, 300, 1)
    assert facts([(small, {254: 1}), (small, {254: 1})]) == (100, 75, 1)


def _iphone_png(width: int, height: int) -> bytes:
    """A PNG as Xcode's ``pngcrush -iphone`` writes it: a CgBI chunk first, then BGRA pixels
    compressed as raw deflate (no zlib header or checksum)."""
    rows = b"".join(b"\0" + bytes((40, 90, 200, 255)) * width for _ in range(height))
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = deflate.compress(rows) + deflate.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            k.png_chunk(b"CgBI", b"\x50\x00\x20\x06"),
            k.png_chunk(b"IHDR", header),
            k.png_chunk(b"IDAT", raw),
            k.png_chunk(b"IEND", b""),
        )
    )


def test_an_iphone_optimised_png_is_named_by_every_command(run: Run, tmp_path: Path) -> None:
    """Pillow reads an iPhone-optimised PNG's header but cannot decode it: without a full decode
    inspect called it ok and estimate priced it. Every command now says what it is and what to
    do, from its first bytes."""
    data = _iphone_png(300, 200)
    with pytest.raises(OSError, match="broken data stream"):
        Image.open(io.BytesIO(data)).load()
    src = k.write(tmp_path / "icon@2x.png", data)
    (rec,) = records(run("inspect", src, "--format", "jsonl"))
    (error,) = rec["findings"]
    assert error["code"] == "unreadable"
    assert error["message"].startswith("an iPhone-optimised PNG (Apple's CgBI variant")
    assert "revert-iphone-optimizations" in error["message"]
    result = run("resize", src, "--out", tmp_path / "out")
    assert result.exit_code == 1 and not (tmp_path / "out").exists()
    for args in (("ask", src, "--dry-run"), ("estimate", src)):
        result = run(*args)
        said = " ".join((result.stdout + result.stderr).replace("│", " ").split())
        assert result.exit_code == 1 and "iPhone-optimised PNG" in said, (args, said)


def test_frames_are_counted_up_to_a_cap(tmp_path: Path) -> None:
    pages = [Image.new("L", (4, 4), i % 256) for i in range(probe.FRAME_CAP + 20)]
    out = io.BytesIO()
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:])
    assert probe.probe_bytes(out.getvalue()).facts.frames == probe.FRAME_CAP


def test_ico_holding_a_huge_png_is_refused_from_its_header() -> None:
    """Pillow's ICO opener decodes while opening: a 16x16 directory entry holding a PNG that
    claims 60000x60000 is refused under the budget, never allocated."""
    png = _png_ihdr(k.encode(k.gradient((16, 16)), "PNG"), 60000, 60000)
    entry = struct.pack("<BBBBHHII", 16, 16, 0, 0, 1, 32, len(png), 22)
    ico = struct.pack("<HHH", 0, 1, 1) + entry + png
    with pytest.raises(probe.ProbeError) as caught:
        probe.probe_bytes(ico, ".ico")
    assert caught.value.code is judging.Code.DIMENSIONS_TOO_LARGE
    assert "3,600,000,000 pixels" in caught.value.message


def test_progressive_jpeg_counts_at_full_size(run: Run, tmp_path: Path) -> None:
    """libjpeg holds coefficients for the full size of a progressive JPEG whatever the scale:
    a 541-byte-style file claiming 65500x65500 is refused from its header by every command."""
    data = _jpeg_sof(k.encode(k.gradient((64, 64)), "JPEG", progressive=True), 65500, 65500)
    src = k.write(tmp_path / "claim.jpg", data)
    (rec,) = records(run("inspect", src, "--format", "jsonl"))
    (finding,) = [f for f in rec["findings"] if f["severity"] == "error"]
    assert finding["code"] == "dimensions-too-large" and "progressive" in finding["message"]
    result = run("resize", src, "--out", tmp_path / "out")
    assert result.exit_code == 1 and not (tmp_path / "out").exists()
    baseline = probe.probe_bytes(_jpeg_sof(k.encode(k.gradient((64, 64)), "JPEG"), 9000, 9000))
    assert baseline.facts.decode_pixels == 1125 * 1125  # decodable at 1/8


def with_scans(data: bytes, total: int) -> bytes:
    """``data`` (a progressive JPEG) holding ``total`` scans: copies of its smallest scan after a
    first, whole pass (libjpeg decodes a repeated scan again, warning only)."""
    starts = [i for i in range(len(data) - 1) if data[i : i + 2] == b"\xff\xda"]
    end = data.rindex(b"\xff\xd9")
    scans = [data[a:b] for a, b in zip(starts, [*starts[1:], end], strict=True)]
    assert total >= len(scans)
    smallest = min(scans[1:], key=len)
    return data[: starts[0]] + b"".join(scans) + smallest * (total - len(scans)) + data[end:]


def test_a_progressive_jpeg_of_thousands_of_scans_is_refused_by_every_command(
    run: Run, tmp_path: Path, api: FakeClaudeAPI
) -> None:
    """A progressive JPEG's decoder passes over the whole image for every scan, and a scan can
    be 26 bytes: 20,010 scans over 4000x3000 (591 KB) took libjpeg 173 s. Every
    SCANS_PER_DECODE scans count the pixels once against the budget, so 4,000 scans over
    1500x1000 are refused from the header by every command (decoding it would take seconds
    here, and a bigger one minutes), nothing is written or sent, and the sentence says why."""
    plain = k.encode(Image.new("RGB", (1500, 1000), (120, 60, 200)), "JPEG", progressive=True)
    bomb = with_scans(plain, 4000)
    assert len(bomb) < 150_000
    src = k.write(tmp_path / "in" / "scans.jpg", bomb)
    assert probe.probe_bytes(bomb).facts.scans == 4000
    assert probe.probe_bytes(bomb).facts.decode_pixels == 1500 * 1000 * 63  # ceil(4000 / 64)
    for verify in ((), ("--verify",)):
        (rec,) = records(run("inspect", src, "--format", "jsonl", *verify))
        (error,) = [f for f in rec["findings"] if f["severity"] == "error"]
        assert error["code"] == "dimensions-too-large", verify
        assert "progressive JPEG of 4,000 scans" in error["message"]
        assert "re-save it as a baseline JPEG" in error["message"]
    sentence = error["message"]
    result = run("resize", src, "--out", tmp_path / "out")
    assert result.exit_code == 1 and not (tmp_path / "out").exists()
    assert "4,000 scans" in result.stdout + result.stderr
    result = run("estimate", src)
    assert result.exit_code == 1 and "4,000 scans" in result.stdout + result.stderr
    twin = tmp_path / "twin" / src.name  # compare needs two images: the same file is one
    twin.parent.mkdir()
    twin.write_bytes(src.read_bytes())
    for args in (("ask", src), ("ask", src, "--dry-run"), ("compare", src, twin)):
        result = run(*args)
        assert result.exit_code == 1 and f"{sentence} [dimensions-too-large]" in result.stderr
    for mode in ("--each", "--batch"):
        out = tmp_path / f"r{mode}.jsonl"
        result = run("ask", src.parent, mode, "-o", out)
        assert result.exit_code == 1, (mode, result.stderr)
        assert "4,000 scans" in result.stdout + result.stderr + out.read_text()
    assert api.requests == []


def test_scans_up_to_what_encoders_write_cost_one_decode(run: Run, tmp_path: Path) -> None:
    """libjpeg writes 10 scans; up to SCANS_PER_DECODE cost what any progressive JPEG costs,
    one more counts the pixels twice, and such files are still converted."""
    plain = k.encode(k.gradient((640, 480)), "JPEG", progressive=True)
    assert probe.probe_bytes(plain).facts.scans == 10
    assert probe.probe_bytes(plain).facts.decode_pixels == 640 * 480
    most = with_scans(plain, limits.SCANS_PER_DECODE)
    assert probe.probe_bytes(most).facts.decode_pixels == 640 * 480
    more = with_scans(plain, limits.SCANS_PER_DECODE + 1)
    assert probe.probe_bytes(more).facts.decode_pixels == 2 * 640 * 480
    src = k.write(tmp_path / "more.jpg", more)
    assert run("resize", src, "--out", tmp_path / "out").exit_code == 0
    baseline = probe.probe_bytes(k.encode(k.gradient((640, 480)), "JPEG"))
    assert baseline.facts.scans == 0  # counted for progressive JPEGs only


def test_a_decoder_written_in_python_counts_each_pixel_many_times(run: Run, tmp_path: Path) -> None:
    """Pillow decodes QOI (and uncompressed DDS, RLE BMP ...) in Python, microseconds a pixel:
    a 1200x1200 QOI would take a minute, so the budget refuses it from its header."""
    small = probe.probe_bytes(k.encode(k.gradient((64, 48)), "QOI"))
    assert small.facts.decode_pixels == 64 * 48 * probe.SLOW_DECODER_COST
    src = k.write(tmp_path / "big.qoi", k.encode(Image.new("RGB", (1200, 1200)), "QOI"))
    (rec,) = records(run("inspect", src, "--format", "jsonl"))
    (error,) = [f for f in rec["findings"] if f["code"] == "dimensions-too-large"]
    assert "decoder is slow" in error["message"]
    result = run("resize", src, "--out", tmp_path / "out")
    assert result.exit_code == 1 and not (tmp_path / "out").exists()


def test_a_webp_counts_the_buffers_its_decoder_holds(run: Run, tmp_path: Path) -> None:
    """libwebp's animation decoder, which Pillow uses for every WebP, holds RGBA canvases beside
    the image: a 3 KB lossless 9000x9000 WebP took 1.28 GB to load. It is refused from its
    header by every command; a 3000x2000 WebP is still read and converted."""
    small = probe.probe_bytes(k.encode(k.gradient((64, 48)), "WEBP"))
    assert small.facts.decode_pixels == 64 * 48 * probe.WEBP_DECODE_COST
    data = io.BytesIO()
    Image.new("RGB", (9000, 9000), (10, 20, 30)).save(data, "WEBP", lossless=True)
    assert len(data.getvalue()) < 10_000
    src = k.write(tmp_path / "bomb.webp", data.getvalue())
    (rec,) = records(run("inspect", src, "--format", "jsonl"))
    (error,) = [f for f in rec["findings"] if f["code"] == "dimensions-too-large"]
    assert "WebP decoder" in error["message"]
    result = run("resize", src, "--out", tmp_path / "out")
    assert result.exit_code == 1 and not (tmp_path / "out").exists()
    ok = k.write(tmp_path / "fine.webp", k.encode(k.gradient((3000, 2000)), "WEBP"))
    assert run("resize", ok, "--out", tmp_path / "out").exit_code == 0
    assert any((tmp_path / "out").iterdir())


def png_of_chunks(total: int, *, kind: bytes) -> bytes:
    """A small PNG padded with empty chunks of ``kind`` to ``total`` chunks in all: an unknown
    ancillary chunk goes before the image data, an empty IDAT after it."""
    im = k.encode(k.gradient((64, 48)), "PNG")
    chunks, pos = [], 8
    while pos < len(im):
        end = pos + 12 + int.from_bytes(im[pos : pos + 4], "big")
        chunks.append(im[pos:end])
        pos = end
    (ihdr,) = [c for c in chunks if c[4:8] == b"IHDR"]
    idat = b"".join(c for c in chunks if c[4:8] == b"IDAT")
    padding = k.png_chunk(kind, b"") * (total - 3)
    if kind == b"IDAT":
        return im[:8] + ihdr + idat + padding + k.png_chunk(b"IEND", b"")
    return im[:8] + ihdr + padding + idat + k.png_chunk(b"IEND", b"")


@pytest.mark.parametrize("kind", [b"vcLi", b"IDAT"])
def test_a_png_of_too_many_chunks_is_refused_by_every_command(
    run: Run, tmp_path: Path, kind: bytes
) -> None:
    """Pillow reads a PNG's chunks one at a time in Python, about 7 us each even when empty (a
    4.8 MB file of 400,000 took 2.7 s just to open; the byte limit allows 50 times as many), and
    Pillow's decoder does the same with empty IDAT chunks. Past MAX_PNG_CHUNKS, every command
    refuses the file from its chunk headers, a file or standard input alike."""
    bomb = png_of_chunks(probe.MAX_PNG_CHUNKS + 1, kind=kind)
    src = k.write(tmp_path / "in" / "chunks.png", bomb)
    (rec,) = records(run("inspect", src, "--format", "jsonl"))
    (error,) = [f for f in rec["findings"] if f["severity"] == "error"]
    assert error["code"] == "unreadable" and "more than 100,000 chunks" in error["message"]
    with pytest.raises(probe.ProbeError, match="100,000 chunks"):
        probe.probe_bytes(bomb)
    result = run("resize", src, "--out", tmp_path / "out")
    assert result.exit_code == 1 and not (tmp_path / "out").exists()
    result = run("ask", src, "--dry-run")
    assert result.exit_code == 1 and f"{error['message']} [unreadable]" in result.stderr


def test_a_png_of_as_many_chunks_as_allowed_is_read(run: Run, tmp_path: Path) -> None:
    """The limit is exact, and walking the chunk headers leaves the file to be read as usual."""
    data = png_of_chunks(probe.MAX_PNG_CHUNKS, kind=b"IDAT")
    assert len(k.png_chunks(data)) == probe.MAX_PNG_CHUNKS
    src = k.write(tmp_path / "many.png", data)
    assert probe.probe_bytes(data).facts.width == 64
    assert run("resize", src, "--out", tmp_path / "out").exit_code == 0
    assert any((tmp_path / "out").iterdir())


def _gif_frames(count: int, size: tuple[int, int]) -> bytes:
    frames = [Image.effect_noise(size, 80).convert("P") for _ in range(count)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=40)
    return out.getvalue()


def _tiff_of_tags(tags: int, directories: int) -> bytes:
    """A TIFF of ``directories`` 1x1 pages, each directory also holding ``tags`` copies of a
    private tag (Pillow reads a directory's entries one at a time)."""
    entries = [(256, 4, 1), (257, 4, 1), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8)]
    entries += [(277, 3, 1), (278, 4, 1), (279, 4, 1)] + [(65000, 3, 0)] * tags
    body = b"".join(struct.pack("<HHII", tag, kind, 1, value) for tag, kind, value in entries)
    size = 2 + len(body) + 4
    first = 11  # after the header and the one pixel at 8
    out = b"II*\x00" + struct.pack("<I", first) + b"\x00\x00\x00"
    for n in range(directories):
        following = first + (n + 1) * size if n + 1 < directories else 0
        out += struct.pack("<H", len(entries)) + body + struct.pack("<I", following)
    return out


def _flooded(kind: str) -> bytes:
    """A small image padded with hundreds of thousands of tiny parts that Pillow's parser,
    written in Python, reads one at a time."""
    if kind == "jpeg-segments":  # empty comment segments before the frame header
        data = k.encode(k.gradient((64, 48)), "JPEG")
        return data[:2] + b"\xff\xfe\x00\x02" * 400_000 + data[2:]
    if kind == "jpeg-junk":  # bytes between segments, which Pillow skips one at a time
        data = k.encode(k.gradient((64, 48)), "JPEG")
        return data[:2] + b"\xff\xfe\x00\x02" + b"\x01" * 1_200_000 + data[2:]
    if kind in ("gif-before", "gif-between"):  # comment extensions before the first frame or
        data = _gif_frames(2, (64, 48))  # between the first two, where frames are counted
        at = data.index(b",") if kind == "gif-before" else data.index(b"!\xf9", 800)
        return data[:at] + b"!\xfe\x01x\x00" * 300_000 + data[at:]
    assert kind == "tiff-tags"  # pages whose directories hold 65,000 entries each
    return _tiff_of_tags(65_000, 8)


@pytest.mark.parametrize(
    "kind", ["jpeg-segments", "jpeg-junk", "gif-before", "gif-between", "tiff-tags"]
)
def test_a_file_of_millions_of_tiny_parts_is_refused_by_every_command(
    run: Run, tmp_path: Path, kind: str
) -> None:
    """Pillow's parsers written in Python read a file in small pieces (4 MB of empty JPEG
    segments took 2.6 s to open, 19 MB of GIF comments 2.3 s, and the byte limit allows ten
    times as many): past READS_BASE reads, plus one for every 64 bytes, opening or counting
    frames stops, and every command refuses the file, from a file or standard input alike."""
    data = _flooded(kind)
    src = k.write(tmp_path / "in" / f"flood.{kind.split('-')[0]}", data)
    with pytest.raises(probe.ProbeError, match="far more tiny parts") as caught:
        probe.probe_bytes(data)
    assert f"read it {probe.READS_BASE + len(data) // probe.BYTES_PER_READ:,} times" in str(
        caught.value.finding.message
    )
    (rec,) = records(run("inspect", src, "--format", "jsonl"))
    (error,) = [f for f in rec["findings"] if f["severity"] == "error"]
    assert error["code"] == "unreadable" and "far more tiny parts" in error["message"]
    result = run("resize", src, "--out", tmp_path / "out")
    assert result.exit_code == 1 and not (tmp_path / "out").exists()
    result = run("ask", src, "--dry-run")
    assert result.exit_code == 1 and "far more tiny parts" in result.stderr


def test_genuine_files_read_in_many_pieces_are_read(run: Run, tmp_path: Path) -> None:
    """The counting covers opening and counting frames only: a 100-frame GIF is counted to its
    last frame, and a QOI (Pillow decodes it in Python, a read or two per pixel, within the
    pixel budget) is still converted, though decoding it reads it far more than READS_BASE
    times."""
    gif = _gif_frames(100, (160, 120))
    assert len(gif) > probe.READS_BASE // 4
    assert probe.probe_bytes(gif).facts.frames == 100
    noise = Image.effect_noise((700, 500), 90).convert("RGB")
    qoi = k.encode(noise, "QOI")
    assert len(qoi) > probe.READS_BASE // 4 and probe.READS_BASE + len(qoi) // 64 < 700 * 500
    src = k.write(tmp_path / "noise.qoi", qoi)
    result = run("resize", src, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert any((tmp_path / "out").iterdir())


def _plain_ppm(size: tuple[int, int], comments_per_row: int) -> bytes:
    w, h = size
    row = " ".join(f"{x % 256} {(x * 3) % 256} 128" for x in range(w))
    body = "".join(row + "\n" + "# c\n" * comments_per_row for _ in range(h))
    return f"P3\n# made here\n{w} {h}\n255\n{body}".encode()


def test_a_plain_ppm_full_of_comments_is_refused_by_every_command(run: Run, tmp_path: Path) -> None:
    """Pillow's plain-PPM decoder copies the rest of its buffer to remove each comment among
    the pixels: 270,000 comments in a 1 MB file took 17 s to decode, 89 s at 12 MB. Past
    MAX_PNM_COMMENTS the file is refused from a scan of its bytes; a plain PPM with comments in
    its header is converted as before."""
    flood = k.write(tmp_path / "in" / "flood.ppm", _plain_ppm((200, 200), 30))
    (rec,) = records(run("inspect", flood, "--format", "jsonl"))
    (error,) = [f for f in rec["findings"] if f["severity"] == "error"]
    assert error["code"] == "unreadable" and "more than 1,000 comments" in error["message"]
    result = run("resize", flood, "--out", tmp_path / "out")
    assert result.exit_code == 1 and not (tmp_path / "out").exists()
    result = run("ask", flood, "--dry-run", "-p", "hi")
    assert result.exit_code == 1 and "more than 1,000 comments" in result.stderr
    fine = k.write(tmp_path / "fine.ppm", _plain_ppm((120, 80), 0))
    result = run("resize", fine, "--out", tmp_path / "ok")
    assert result.exit_code == 0 and any((tmp_path / "ok").iterdir())


@pytest.mark.parametrize(
    ("fmt", "ext", "cost", "over", "params"),
    [
        ("JPEG2000", "jp2", probe.JPEG2000_DECODE_COST, 4300, {"irreversible": False}),
        ("AVIF", "avif", probe.AVIF_DECODE_COST, 5500, {"speed": 10}),
    ],
)
def test_jpeg_2000_and_avif_count_the_memory_their_decoders_hold(
    run: Run, tmp_path: Path, fmt: str, ext: str, cost: int, over: int, params: dict[str, Any]
) -> None:
    """OpenJPEG holds about 19 bytes a pixel (a 726 KB 9000x9000 JPEG 2000 took 1.56 GB and
    13 s), libavif about 11 (a 3.8 KB 9400x9400 AVIF, 1.16 GB): each pixel counts as many times
    as that is a normal decode's memory. A file just over the budget so counted is refused from
    its header by every command; a 3000x2000 one is still converted."""
    small = io.BytesIO()
    k.gradient((64, 48)).save(small, fmt, **params)
    assert probe.probe_bytes(small.getvalue()).facts.decode_pixels == 64 * 48 * cost
    assert over * over * cost > probe.PIXEL_BUDGET > over * over
    big = io.BytesIO()
    Image.new("RGB", (over, over), (10, 20, 30)).save(big, fmt, **params)
    src = k.write(tmp_path / f"big.{ext}", big.getvalue())
    (rec,) = records(run("inspect", src, "--format", "jsonl"))
    (error,) = [f for f in rec["findings"] if f["code"] == "dimensions-too-large"]
    assert "decoder holds about" in error["message"]
    result = run("resize", src, "--out", tmp_path / "out")
    assert result.exit_code == 1 and not (tmp_path / "out").exists()
    fine = io.BytesIO()
    k.gradient((3000, 2000)).save(fine, fmt, **params)
    ok = k.write(tmp_path / f"fine.{ext}", fine.getvalue())
    assert run("resize", ok, "--out", tmp_path / "ok").exit_code == 0
    assert any((tmp_path / "ok").iterdir())


def test_png_text_chunks_up_to_the_byte_limit_are_read(tmp_path: Path) -> None:
    png = k.encode(k.gradient((300, 200)), "PNG")
    text = zlib.compress(os.urandom(2 * 1024 * 1024), 0)
    chunk = k.png_chunk(b"zTXt", b"Comment\0\0" + text)
    data = png[:33] + chunk + png[33:]
    facts = probe.probe_bytes(data).facts
    assert (facts.width, facts.height) == (300, 200)
    huge = png[:33] + struct.pack(">I", 20 * 1024 * 1024) + b"tEXt" + png[33:]
    big = png[:33] + struct.pack(">I", 20 * 1024 * 1024) + b"tEXt"
    big += b"x" * (limits.DIRECT_API_MAX_BYTES + 10) + png[33:]
    assert huge  # a lying length alone is damage, read as such below
    with pytest.raises(probe.ProbeError) as caught:
        probe.probe_bytes(big)
    assert caught.value.code is judging.Code.FILE_TOO_LARGE


@pytest.mark.parametrize(
    "chunk",
    [b"iCCP" + b"a profile\0\0", b"zTXt" + b"Comment\0\0"],
    ids=["colour profile", "compressed text"],
)
def test_png_metadata_that_unpacks_past_the_limit_is_file_too_large(chunk: bytes) -> None:
    """20 KB that unpack to 20 MB: too large for any command to carry, so file-too-large (as a
    text chunk large as stored is), said as what it is, not as damage."""
    png = k.encode(k.gradient((300, 200)), "PNG")
    packed = zlib.compress(b"x" * (20 * 1024 * 1024))
    data = png[:33] + k.png_chunk(chunk[:4], chunk[4:] + packed) + png[33:]
    with pytest.raises(probe.ProbeError) as caught:
        probe.probe_bytes(data)
    assert caught.value.code is judging.Code.FILE_TOO_LARGE
    assert caught.value.message.startswith("a PNG metadata chunk (compressed text, or the colour")


@pytest.mark.parametrize("orientation", range(1, 9))
def test_tiff_orientation_is_applied_once(orientation: int) -> None:
    upright = k.marked((60, 40))
    stored = k.stored_for(upright, orientation)
    out = io.BytesIO()
    stored.save(out, "TIFF", compression="tiff_deflate", tiffinfo={0x0112: orientation})
    prepared = transform.prepare(out.getvalue(), size_policy=None)
    assert (prepared.width, prepared.height) == (60, 40)
    got = k.opened(prepared.data).convert("RGB")
    assert k.near(got.getpixel((2, 2)), k.RED) and k.near(got.getpixel((57, 37)), k.BLUE)


def test_panorama_sliver_is_reported_by_resize_and_ask(run: Run, tmp_path: Path) -> None:
    src = k.write(tmp_path / "pano.png", k.encode(k.gradient((6000, 300)), "PNG"))
    (rec,) = records(run("inspect", src, "--format", "jsonl"))
    assert "too-small" in [f["code"] for f in rec["findings"]]
    result = run("resize", src, "--out", tmp_path / "out", "--format", "jsonl")
    (done,) = [r for r in records(result) if "input" in r]
    (warning,) = done["findings"]
    assert warning["code"] == "too-small" and "split it into tiles" in warning["message"]
    after = records(run("inspect", done["output"], "--format", "jsonl"))[0]
    assert after["findings"] == [warning]  # the same sentence from inspect of the output
    asked = run("ask", src, "--dry-run")
    assert asked.exit_code == 0 and "[too-small]" in asked.stderr
    icon = k.write(tmp_path / "icon.png", k.encode(k.gradient((50, 50)), "PNG"))
    asked = run("ask", icon, "--dry-run")
    assert asked.exit_code == 0 and "[too-small]" in asked.stderr
