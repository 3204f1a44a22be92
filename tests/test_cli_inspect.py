"""``vision-cli inspect`` through its real entry points, on real files made with Pillow."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from tests.conftest import (
    POOLED_CLI,
    MakeImage,
    Run,
    encode,
    fifo_giving,
    imported_by,
    once_ended,
    picture,
    records,
    wait_for,
    with_a_worker_sending,
    workers_of,
)
from vision_cli import inspecting, judging, names

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def standard_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests were written for a standard-tier default at $3/$15 (Sonnet 4.5, now retired):
    they name such a model through the environment. The default itself: test_models.py."""
    monkeypatch.setenv("VISION_CLI_MODEL", "claude-sonnet-4-6")


def codes_of(rec: dict[str, object]) -> list[str]:
    return [f["code"] for f in rec["findings"]]  # type: ignore[attr-defined]


def inspect_one(run: Run, path: Path, *extra: str) -> dict[str, object]:
    result = run("inspect", path, "--format", "jsonl", *extra)
    assert result.exit_code in (0, 1), result.output
    (rec,) = records(result)
    return rec


def png_bomb(path: Path, side: int = 40_000) -> Path:
    """A real 1-bit PNG of side x side pixels (zeros), a few hundred KB on disk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\0" * (1 + side // 8)
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


@pytest.fixture(scope="session")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return png_bomb(tmp_path_factory.mktemp("bomb") / "bomb.png")


# --------------------------------------------------------------------------------------------------
# The record
# --------------------------------------------------------------------------------------------------


def test_record_has_exactly_the_documented_fields(run: Run, make_image: MakeImage) -> None:
    rec = inspect_one(run, make_image("a.png", (1920, 1080)))
    assert list(rec) == [
        "path", "format", "media_type", "width", "height", "orientation", "frames", "mode",
        "bytes", "base64_bytes", "model", "api_width", "api_height", "tokens", "status",
        "findings",
    ]  # fmt: skip
    path = Path(str(rec["path"]))
    assert rec["format"] == "PNG" and rec["media_type"] == "image/png"
    assert (rec["width"], rec["height"]) == (1920, 1080)
    assert (rec["api_width"], rec["api_height"], rec["tokens"]) == (1456, 819, 1560)
    assert rec["bytes"] == path.stat().st_size
    assert rec["base64_bytes"] == len(__import__("base64").b64encode(path.read_bytes()))
    assert rec["model"] == "claude-sonnet-4-6"
    assert rec["status"] == "warning" and codes_of(rec) == ["will-be-downscaled"]
    finding = rec["findings"][0]  # type: ignore[index]
    assert set(finding) == {"code", "severity", "message"} and finding["severity"] == "warning"


def test_high_res_model_does_not_downscale(run: Run, make_image: MakeImage) -> None:
    rec = inspect_one(run, make_image("a.png", (1920, 1080)), "--model", "claude-opus-4-7")
    assert (rec["api_width"], rec["tokens"], rec["status"]) == (1920, 2691, "ok")
    assert rec["model"] == "claude-opus-4-7"


def test_model_from_environment(
    run: Run, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VISION_CLI_MODEL", "claude-sonnet-5")
    assert inspect_one(run, make_image("a.png"))["model"] == "claude-sonnet-5"


# --------------------------------------------------------------------------------------------------
# Every finding code, from a real file
# --------------------------------------------------------------------------------------------------


def test_ok_image(run: Run, make_image: MakeImage) -> None:
    rec = inspect_one(run, make_image("ok.jpg", (1092, 1092)))
    assert rec["status"] == "ok" and rec["findings"] == [] and rec["tokens"] == 1521


def test_not_found(run: Run, tmp_path: Path) -> None:
    rec = inspect_one(run, tmp_path / "missing.png")
    assert codes_of(rec) == ["not-found"] and rec["format"] is None


def test_a_folder_where_a_file_was_expected_is_said_so(tmp_path: Path) -> None:
    """(A file replaced by a folder between the walk and the read: the words are fsutil's.)"""
    from vision_cli.imaging import probe

    with pytest.raises(probe.ProbeError) as caught:
        probe.probe_path(tmp_path)
    assert caught.value.code is judging.Code.NOT_FOUND
    assert caught.value.message == "this is a folder, not a file."


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.png", b""),
        ("text.png", b"hello, this is not an image\n"),
        ("noise.jpg", b"\xff\xd8\xff" + bytes(range(256)) * 4),
    ],
)
def test_unreadable(run: Run, tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    rec = inspect_one(run, path)
    assert codes_of(rec) == ["unreadable"] and rec["status"] == "error"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("cut.jpg", "JPEG"), ("cut.png", "PNG"), ("cut.gif", "GIF"), ("cut.webp", "WEBP")],
)
def test_truncated_found_without_verify(run: Run, tmp_path: Path, name: str, fmt: str) -> None:
    data = encode(picture((600, 400)), fmt)
    path = tmp_path / name
    path.write_bytes(data[: len(data) * 2 // 3])
    rec = inspect_one(run, path)
    assert codes_of(rec) == ["unreadable"], rec
    assert "truncated" in rec["findings"][0]["message"]  # type: ignore[index]


def test_truncated_jpeg_with_an_end_marker_in_its_header(run: Run, tmp_path: Path) -> None:
    """An EOI inside a comment (or an EXIF thumbnail) before the image data is not the end."""
    data = encode(picture((600, 400)), "JPEG", comment=b"x\xff\xd9y")
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    assert codes_of(inspect_one(run, path)) == ["unreadable"]


def test_jpeg_with_a_trailer_after_its_end_is_fine(run: Run, tmp_path: Path) -> None:
    """Motion photos append a video after the JPEG's end marker."""
    path = tmp_path / "motion.jpg"
    path.write_bytes(encode(picture((600, 400)), "JPEG") + os.urandom(200_000))
    assert inspect_one(run, path)["status"] == "ok"


def test_damage_inside_the_data_needs_verify(run: Run, tmp_path: Path) -> None:
    data = bytearray(encode(Image.effect_noise((800, 600), 40).convert("RGB"), "JPEG"))
    rng = random.Random(7)
    mid = len(data) // 2
    data[mid : mid + 2000] = bytes(rng.randrange(256) for _ in range(2000))
    path = tmp_path / "damaged.jpg"
    path.write_bytes(bytes(data))
    assert inspect_one(run, path)["status"] == "ok"  # the header and the end are intact
    rec = inspect_one(run, path, "--verify")
    assert codes_of(rec) == ["unreadable"] and rec["width"] == 800


def test_verify_shares_a_few_images_out_with_the_same_records(
    run: Run, tmp_path: Path, pools: list[int]
) -> None:
    for i in range(6):
        (tmp_path / f"{i}.png").write_bytes(encode(picture((300 + i, 200)), "PNG"))
    damaged = bytearray((tmp_path / "3.png").read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (tmp_path / "3.png").write_bytes(bytes(damaged))
    one = run("inspect", tmp_path, "--verify", "-f", "jsonl", "-j", "1")
    two = run("inspect", tmp_path, "--verify", "-f", "jsonl", "-j", "2")
    assert pools == [1]  # only -j 2 started workers, for six images
    assert one.exit_code == two.exit_code == 1 and two.stdout == one.stdout
    assert [codes_of(r) for r in records(two)] == [[], [], [], ["unreadable"], [], []]


def test_verify_decodes_a_fifo_from_the_one_read(run: Run, tmp_path: Path) -> None:
    """``--verify`` on a FIFO decodes the bytes the check read: a second open waited for ever
    for a writer (here it would find the FIFO empty)."""
    fifo = tmp_path / "piped.png"
    with fifo_giving(fifo, encode(picture((300, 200)), "PNG")):
        rec = inspect_one(run, fifo, "--verify")
    assert rec["status"] == "ok" and rec["width"] == 300, rec


def test_verify_checks_png_crcs(run: Run, tmp_path: Path) -> None:
    data = bytearray(encode(picture((300, 300)), "PNG"))
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "flipped.png"
    path.write_bytes(bytes(data))
    assert codes_of(inspect_one(run, path, "--verify")) == ["unreadable"]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("scan.bmp", "BMP"), ("scan.tiff", "TIFF"), ("icon.ico", "ICO"), ("photo.avif", "AVIF")],
)
def test_unsupported_format(run: Run, make_image: MakeImage, name: str, fmt: str) -> None:
    rec = inspect_one(
        run,
        make_image(name, (400, 300), fmt=fmt)
        if fmt != "ICO"
        else make_image(name, (64, 64), fmt=fmt),
    )
    assert "unsupported-format" in codes_of(rec)
    assert rec["media_type"] is None and rec["format"] == fmt
    assert "vision-cli resize" in rec["findings"][0]["message"]  # type: ignore[index]


def test_heic_without_the_extra_names_it(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "phone.heic"
    path.write_bytes(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64)
    rec = inspect_one(run, path)
    if rec["format"] == "HEIF" and codes_of(rec) == ["unsupported-format"]:
        assert "pip install pillow-heif" in rec["findings"][0]["message"]  # type: ignore[index]
    else:  # pillow-heif installed: the fake file is then simply unreadable
        assert codes_of(rec) == ["unreadable"]


def test_file_too_large(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    noise = Image.frombytes("RGBA", (1092, 1092), random.Random(3).randbytes(1092 * 1092 * 4))
    path.write_bytes(encode(noise, "PNG"))
    rec = inspect_one(run, path)
    assert rec["base64_bytes"] > 5_242_880  # type: ignore[operator]
    assert codes_of(rec) == ["file-too-large"]
    assert inspect_one(run, path, "--max-bytes", "10MB")["status"] == "ok"


def test_bomb_is_judged_from_its_header(run: Run, bomb: Path) -> None:
    assert bomb.stat().st_size < 1_000_000
    rec = inspect_one(run, bomb, "--verify")
    assert (rec["width"], rec["height"]) == (40_000, 40_000)
    assert codes_of(rec) == ["dimensions-too-large"]


def test_bomb_does_not_allocate(bomb: Path) -> None:
    """Probe the bomb in a child process whose address space is capped at 1 GB."""
    code = (
        "import resource,sys;"
        "resource.setrlimit(resource.RLIMIT_AS,(1<<30,1<<30));"
        "from vision_cli.cli.app import entrypoint;"
        f"entrypoint(['inspect','--verify','--json',{str(bomb)!r}])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["images"][0]["findings"][0]["code"] == "dimensions-too-large"


def test_many_image_dimensions_only_with_request(
    run: Run, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    for i in range(20):
        make_image(f"{i:02}.png", (64, 64), folder=folder)
    make_image("big.png", (2100, 600), folder=folder)
    plain = run("inspect", folder, "--json")
    assert json.loads(plain.stdout)["summary"]["error"] == 0
    result = run("inspect", folder, "--json", "--request")
    doc = json.loads(result.stdout)
    big = next(r for r in doc["images"] if r["path"].endswith("big.png"))
    assert "many-image-dimensions" in codes_of(big)
    assert result.exit_code == 1
    # with 20 images in all, the 2000 px rule does not apply
    (folder / "00.png").unlink()
    assert run("inspect", folder, "--request", "--json").exit_code == 0


def test_request_too_many_images(run: Run, make_image: MakeImage, tmp_path: Path) -> None:
    folder = tmp_path / "lots"
    for i in range(101):
        make_image(f"{i:03}.png", (210, 210), folder=folder)
    doc = json.loads(run("inspect", folder, "--request", "--json", "-m", "claude-haiku-4-5").stdout)
    assert [f["code"] for f in doc["summary"]["request_findings"]] == ["too-many-images"]
    doc = json.loads(run("inspect", folder, "--request", "--json", "-m", "claude-opus-4-7").stdout)
    assert doc["summary"]["request_findings"] == []


def test_a_request_counts_only_the_inputs_that_are_images(
    run: Run, make_image: MakeImage, tmp_path: Path
) -> None:
    """A missing file, or one that is not an image, sends nothing: 20 images and two such
    inputs are a request of 20 images, under the 2000 px rule of larger ones; 100 images and
    one such input are within a 100-image model's limit."""
    folder = tmp_path / "twenty"
    for i in range(19):
        make_image(f"{i:02}.png", (210, 210), folder=folder)
    make_image("big.png", (2100, 600), folder=folder)
    (tmp_path / "notes.png").write_text("not an image")
    result = run(
        "inspect", folder, tmp_path / "notes.png", tmp_path / "gone.png", "--request", "--json"
    )
    doc = json.loads(result.stdout)
    big = next(r for r in doc["images"] if r["path"].endswith("big.png"))
    assert "many-image-dimensions" not in codes_of(big), big
    assert doc["summary"]["error"] == 2 and doc["summary"]["request_findings"] == []
    for i in range(19, 99):  # 100 images with big.png
        make_image(f"{i:02}.png", (210, 210), folder=folder)
    result = run("inspect", folder, tmp_path / "gone.png", "--request", "-m", "claude-haiku-4-5")
    assert "too-many-images" not in result.stdout and "not-found" in result.stdout


def test_request_too_large(run: Run, tmp_path: Path) -> None:
    jpeg = encode(picture((640, 480)), "JPEG")
    for i in range(8):  # 8 x 3.5 MB raw: each under 5 MB of base64, 37 MB together
        (tmp_path / f"{i}.jpg").write_bytes(jpeg + b"\0" * 3_500_000)
    result = run("inspect", tmp_path, "--request", "--json")
    doc = json.loads(result.stdout)
    assert doc["summary"]["error"] == 0
    assert [f["code"] for f in doc["summary"]["request_findings"]] == ["request-too-large"]
    assert result.exit_code == 1


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_request_findings_in_jsonl_or_csv_are_said_on_stderr(
    run: Run, make_image: MakeImage, tmp_path: Path, fmt: str
) -> None:
    """JSONL and CSV hold only the images' records: why the request fails is one line on
    standard error, not a bare exit 1."""
    folder = tmp_path / "lots"
    for i in range(101):
        make_image(f"{i:03}.png", (210, 210), folder=folder)
    result = run("inspect", folder, "--request", "-f", fmt, "-m", "claude-haiku-4-5")
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: as one request, these images fail (too-many-images): 101 ")


def test_png_orientation_after_the_image_data(run: Run, tmp_path: Path) -> None:
    from tests import imagekit as k

    png = encode(picture((800, 600)), "PNG")
    late = tmp_path / "late.png"
    late.write_bytes(k.with_late_exif(png, k.exif_bytes(6)))
    rec = inspect_one(run, late)
    assert rec["orientation"] == 6 and codes_of(rec) == ["exif-rotated"]
    # Farther than the last 4 KB from the end (a big text chunk after it): not read, as documented.
    far = tmp_path / "far.png"
    text = k.png_chunk(b"tEXt", b"Comment\0" + b"x" * 5000)
    far.write_bytes(k.with_late_exif(png, k.exif_bytes(6))[:-12] + text + png[-12:])
    assert inspect_one(run, far)["orientation"] == 1


def test_warnings(run: Run, make_image: MakeImage, tmp_path: Path) -> None:
    assert codes_of(inspect_one(run, make_image("small.png", (150, 400)))) == ["too-small"]
    assert codes_of(inspect_one(run, make_image("turned.jpg", orientation=6))) == ["exif-rotated"]
    rec = inspect_one(run, make_image("turned.png", orientation=8))
    assert rec["orientation"] == 8 and codes_of(rec) == ["exif-rotated"]
    frames = [picture((300, 300)).rotate(90 * i).quantize(16) for i in range(3)]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100)
    rec = inspect_one(run, gif)
    assert rec["frames"] == 3 and codes_of(rec) == ["animated"]
    rec = inspect_one(run, make_image("really.png", fmt="JPEG"))
    assert rec["media_type"] == "image/jpeg" and codes_of(rec) == ["extension-mismatch"]


@pytest.mark.parametrize(
    ("name", "mode", "fmt"),
    [("cmyk.jpg", "CMYK", "JPEG"), ("deep.png", "I;16", "PNG"), ("gray.png", "LA", "PNG")],
)
def test_odd_modes_are_read(
    run: Run, make_image: MakeImage, name: str, mode: str, fmt: str
) -> None:
    rec = inspect_one(run, make_image(name, (400, 300), fmt=fmt, mode=mode))
    assert rec["mode"] == mode
    # a CMYK JPEG is read, and said to need converting: many decoders show CMYK wrong
    assert codes_of(rec) == (["cmyk"] if mode == "CMYK" else [])


def test_a_cmyk_jpeg_is_a_warning_until_resized(run: Run, tmp_path: Path) -> None:
    src = tmp_path / "print.jpg"
    src.write_bytes(encode(Image.new("CMYK", (400, 300), (0, 255, 255, 0)), "JPEG"))
    rec = inspect_one(run, src)
    assert rec["status"] == "warning" and "to RGB" in str(rec["findings"])
    assert run("inspect", src, "--strict").exit_code == 1  # CI can hold print work back
    assert codes_of(inspect_one(run, src, "--ignore", "cmyk")) == []
    assert run("resize", src, "--out", tmp_path / "out").exit_code == 0
    fixed = inspect_one(run, tmp_path / "out" / "print.jpg")
    assert fixed["status"] == "ok" and fixed["mode"] == "RGB"


def test_palette_png_with_transparency(run: Run, tmp_path: Path) -> None:
    im = picture((400, 300)).quantize(32)
    path = tmp_path / "pal.png"
    im.save(path, transparency=0)
    rec = inspect_one(run, path)
    assert rec["mode"] == "P" and rec["status"] == "ok"


def test_odd_file_names(run: Run, make_image: MakeImage) -> None:
    path = make_image("photo été 1 [draft].jpg")
    rec = inspect_one(run, path)
    assert rec["path"] == str(path) and rec["status"] == "ok"
    table = run("inspect", path)
    assert "photo été 1 [draft].jpg" in table.stdout


def without_root_bypass(args: list[str]) -> list[str]:
    """Root reads any file: run the check without the capabilities that let it (uid stays 0, so
    the interpreter and the test's folders stay reachable wherever they live)."""
    if os.geteuid() != 0:
        return args
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("running as root without setpriv: cannot test permissions honestly")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", *args]


def test_permission_denied_file_and_folder(tmp_path: Path) -> None:
    data = encode(picture((300, 300)), "PNG")
    (tmp_path / "ok.png").write_bytes(data)
    locked = tmp_path / "locked.png"
    locked.write_bytes(data)
    locked.chmod(0o000)
    closed = tmp_path / "closed"
    closed.mkdir()
    (closed / "inner.png").write_bytes(data)
    closed.chmod(0o000)
    try:
        proc = subprocess.run(
            without_root_bypass(
                [sys.executable, "-m", "vision_cli", "inspect", str(tmp_path), "-f", "jsonl"]
            ),
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    finally:
        closed.chmod(0o755)
    assert proc.returncode == 1, proc.stderr
    recs = {Path(r["path"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    assert codes_of(recs["locked.png"]) == ["not-found"]
    assert "permission" in recs["locked.png"]["findings"][0]["message"]
    assert codes_of(recs["closed"]) == ["not-found"]
    assert recs["ok.png"]["status"] == "ok"
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------


def test_folder_walk_is_sorted_and_skips_hidden_and_non_images(
    run: Run, make_image: MakeImage, tmp_path: Path
) -> None:
    root = tmp_path / "assets"
    for name in ("b.png", "a/c.jpg", "a/b/d.gif", ".hidden/x.png", "y/.z.png"):
        make_image(name, (210, 210), folder=root) if not name.endswith(".gif") else make_image(
            name, (210, 210), folder=root, fmt="GIF"
        )
    (root / "notes.txt").write_text("not an image")
    got = [
        Path(r["path"]).relative_to(root).as_posix()
        for r in records(run("inspect", root, "-f", "jsonl"))
    ]
    assert got == ["a/b/d.gif", "a/c.jpg", "b.png"]
    got = [
        Path(r["path"]).relative_to(root).as_posix()
        for r in records(run("inspect", root, "-f", "jsonl", "--hidden"))
    ]
    assert got == [".hidden/x.png", "a/b/d.gif", "a/c.jpg", "b.png", "y/.z.png"]


def test_explicit_non_image_is_reported(run: Run, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert codes_of(inspect_one(run, notes)) == ["unreadable"]


def test_glob_exclude_and_files_from(
    run: Run, make_image: MakeImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("docs/a.png", "docs/drafts/b.png", "docs/c.jpg"):
        make_image(name, (210, 210))
    names = [r["path"] for r in records(run("inspect", "docs/**/*.png", "-f", "jsonl"))]
    assert names == ["docs/a.png", "docs/drafts/b.png"]
    names = [
        r["path"] for r in records(run("inspect", "docs", "--exclude", "drafts", "-f", "jsonl"))
    ]
    assert names == ["docs/a.png", "docs/c.jpg"]
    names = [
        r["path"] for r in records(run("inspect", "docs", "--exclude", "*.png", "-f", "jsonl"))
    ]
    assert names == ["docs/c.jpg"]
    nomatch = records(run("inspect", "nothing/*.png", "-f", "jsonl"))
    assert codes_of(nomatch[0]) == ["not-found"]
    listing = "docs/a.png\n\ndocs/c.jpg\n"
    names = [
        r["path"]
        for r in records(run("inspect", "--files-from", "-", "-f", "jsonl", input=listing))
    ]
    assert names == ["docs/a.png", "docs/c.jpg"]
    (tmp_path / "list0").write_bytes(b"docs/c.jpg\0docs/with\nnewline.png\0")
    make_image("docs/with\nnewline.png", (210, 210))
    names = [
        r["path"] for r in records(run("inspect", "--files-from", "list0", "-0", "-f", "jsonl"))
    ]
    assert names == ["docs/c.jpg", "docs/with\nnewline.png"]


def test_stdin_image(run: Run) -> None:
    result = run("inspect", "-", "-f", "jsonl", input=encode(picture((500, 400)), "WEBP"))
    (rec,) = records(result)
    assert rec["path"] == "-" and rec["media_type"] == "image/webp" and rec["status"] == "ok"


def test_stdin_twice_is_a_usage_error(run: Run) -> None:
    assert run("inspect", "-", "--files-from", "-").exit_code == 2
    assert run("inspect", "x.png", "-0").exit_code == 2


@pytest.mark.parametrize("listing", [None, "a.png\n".encode("utf-16")], ids=["missing", "utf-16"])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_list_found_unusable_once_reading_leaves_stdout_empty(
    run: Run, tmp_path: Path, listing: bytes | None, fmt: str
) -> None:
    """A --files-from list found unusable once the report has begun (its header waiting for
    the first row): a usage error there printed CSV's header first, so a script took it for an
    empty report."""
    listed = tmp_path / "list.txt"
    if listing is not None:
        listed.write_bytes(listing)
    result = run("inspect", "--files-from", listed, "-f", fmt)
    assert result.exit_code == 2 and result.stdout == ""
    assert "--files-from" in result.stderr


# --------------------------------------------------------------------------------------------------
# Output formats and exit codes
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def mixed(make_image: MakeImage, tmp_path: Path) -> Path:
    folder = tmp_path / "mixed"
    make_image("good.png", (800, 600), folder=folder)
    make_image("big, wide: 100%.jpg", (3000, 2000), folder=folder)
    make_image("scan.bmp", (300, 300), folder=folder, fmt="BMP")
    return folder


def test_json(run: Run, mixed: Path) -> None:
    result = run("inspect", mixed, "--json")
    doc = json.loads(result.stdout)
    assert doc["summary"] == {
        "count": 3, "ok": 1, "warning": 1, "error": 1,
        "tokens": sum(r["tokens"] for r in doc["images"]), "request_findings": [],
    }  # fmt: skip
    assert result.exit_code == 1


def test_csv(run: Run, mixed: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(run("inspect", mixed, "-f", "csv").stdout)))
    assert len(rows) == 3
    by_name = {Path(r["path"]).name: r for r in rows}
    assert by_name["scan.bmp"]["codes"] == "unsupported-format"
    assert by_name["big, wide: 100%.jpg"]["codes"] == "will-be-downscaled"
    assert by_name["good.png"]["tokens"] == "638"


def test_github_annotations(run: Run, mixed: Path) -> None:
    lines = run("inspect", mixed, "-f", "github").stdout.splitlines()
    assert len(lines) == 2
    warning = next(line for line in lines if line.startswith("::warning "))
    assert "big%2C wide%3A 100%25.jpg" in warning and warning.count("::") == 2
    assert any(
        line.startswith("::error file=") and "title=unsupported-format::" in line for line in lines
    )


def test_github_says_how_many_annotations_github_does_not_show(
    run: Run, make_image: MakeImage, tmp_path: Path
) -> None:
    """GitHub shows 10 warning annotations of a step and drops the rest without a word: past
    10, a notice at the end says how many are not shown and where every one is."""
    folder = tmp_path / "small"
    for i in range(10):
        make_image(f"i{i:02}.png", (16, 16), folder=folder)  # too-small: a warning each
    ten = run("inspect", folder, "-f", "github").stdout.splitlines()
    assert len(ten) == 10 and all(line.startswith("::warning ") for line in ten)
    for i in range(10, 13):
        make_image(f"i{i:02}.png", (16, 16), folder=folder)
    lines = run("inspect", folder, "-f", "github").stdout.splitlines()
    assert len(lines) == 14 and lines[-1].startswith("::notice title=")
    assert "3 of the 13 warnings are not shown" in lines[-1]
    assert "--format markdown" in lines[-1] and "GITHUB_STEP_SUMMARY" in lines[-1]


def test_table_and_quiet(run: Run, mixed: Path) -> None:
    table = run("inspect", mixed).stdout
    assert "✓ ok" in table and "! warning" in table and "✗ error" in table
    assert "3 images: 1 ok, 1 warning, 1 error" in table
    quiet = run("inspect", mixed, "--quiet").stdout
    assert "good.png" not in quiet and "scan.bmp" in quiet


def test_exit_codes(run: Run, make_image: MakeImage, mixed: Path) -> None:
    good = make_image("fine.png", (800, 600))
    warn = make_image("small.png", (100, 100))
    assert run("inspect", good).exit_code == 0
    assert run("inspect", warn).exit_code == 0
    assert run("inspect", warn, "--strict").exit_code == 1
    assert run("inspect", mixed).exit_code == 1
    assert run("inspect").exit_code == 2
    assert run("inspect", good, "--model", "gpt-4o").exit_code == 2
    assert run("inspect", good, "--max-bytes", "lots").exit_code == 2
    assert run("inspect", good, "--max-bytes", "20MB").exit_code == 2
    assert run("inspect", good, "--format", "xml").exit_code == 2


def test_unknown_model_lists_the_known_ones(run: Run, make_image: MakeImage) -> None:
    result = run("inspect", make_image("a.png"), "--model", "gpt-4o")
    assert "claude-sonnet-4-6" in result.stderr and "claude-opus-4-7" in result.stderr
    assert "VISION_CLI_MODEL" not in result.stderr  # typed on the command line


@pytest.mark.parametrize("command", [("inspect",), ("estimate",), ("ask", "--dry-run")])
def test_an_unknown_model_from_the_environment_says_so(
    run: Run, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    """The value is wrong in $VISION_CLI_MODEL, not on the command line: the error says where."""
    monkeypatch.setenv("VISION_CLI_MODEL", "gpt-4o")
    result = run(*command, make_image("a.png"))
    assert result.exit_code == 2
    said = " ".join(result.stderr.replace("│", " ").split())
    assert "--model (from $VISION_CLI_MODEL): unknown model 'gpt-4o'" in said


#: The number of ``read`` in /proc/PID/syscall: x86-64, then arm64.
_READ_SYSCALLS = {"0", "63"}


def reading_stdin(proc: subprocess.Popen[str]) -> None:
    """Until ``proc`` is blocked reading its standard input (started, signal handlers in
    place), as /proc/PID/syscall shows; a second where /proc does not say."""
    syscall = Path(f"/proc/{proc.pid}/syscall")
    bound = time.monotonic() + 60
    while time.monotonic() < bound and proc.poll() is None:
        try:
            fields = syscall.read_text().split()
        except OSError:
            time.sleep(1.0)
            return
        if len(fields) > 1 and fields[0] in _READ_SYSCALLS and fields[1] == "0x0":
            return
        time.sleep(0.01)


@pytest.mark.parametrize("command", ["inspect", "estimate"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_exits_130(tmp_path: Path, command: str, sig: signal.Signals) -> None:
    """SIGINT or SIGTERM while inspect (or estimate) waits on --files-from - : exit 130, no
    traceback, as for the commands that write or send."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vision_cli", command, "--files-from", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reading_stdin(proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err


def test_inspect_never_imports_the_sdk(make_image: MakeImage) -> None:
    imported = imported_by("inspect", make_image("a.png"))
    assert "vision_cli.cli.inspect" in imported  # the measurement works
    assert not {m for m in imported if m.split(".")[0] in ("anthropic", "httpx", "httpx2")}


def test_internal_error_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], make_image: MakeImage
) -> None:
    from vision_cli import inspecting
    from vision_cli.cli.app import entrypoint

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaput")

    monkeypatch.setattr(inspecting, "check_keeping_data", boom)
    with pytest.raises(SystemExit) as exc:
        entrypoint(["inspect", str(make_image("a.png"))])
    assert exc.value.code == 70
    err = capsys.readouterr().err
    assert "internal error (RuntimeError: kaput)" in err and "Traceback" not in err
    monkeypatch.setenv("VISION_CLI_DEBUG", "1")
    with pytest.raises(RuntimeError):
        entrypoint(["inspect", str(make_image("b.png"))])


def test_version(run: Run) -> None:
    out = run("--version").stdout
    assert (
        out.startswith("vision-cli ") and "Pillow" in out and "anthropic" in out and "Python" in out
    )


def test_examples_folder_shows_every_status(run: Run) -> None:
    doc = json.loads(run("inspect", ROOT / "examples", "--json").stdout)
    statuses = {r["status"] for r in doc["images"]}
    assert statuses == {"ok", "warning", "error"}
    assert all(Path(r["path"]).stat().st_size < 200_000 for r in doc["images"])


def test_markdown_totals_first_then_problem_rows(run: Run, mixed: Path) -> None:
    text = run("inspect", mixed, "-f", "markdown").stdout
    assert text.startswith("### ❌ vision-cli inspect: 3 images, 1 error, 1 warning")
    lines = text.splitlines()
    assert "| 3 | 1 | 1 | 1 |" in text
    rows = [line for line in lines if line.startswith(("| ✗", "| !"))]
    assert len(rows) == 2 and rows[0].startswith("| ✗ error")  # errors first
    assert "good.png" not in text  # rows without findings are left out
    assert all(line.count(" | ") == 4 for line in rows)  # no cell broke the table


def test_output_file(run: Run, mixed: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    result = run("inspect", mixed, "-f", "jsonl", "-o", target)
    assert result.stdout == "" and result.exit_code == 1
    assert len(target.read_text().splitlines()) == 3


@pytest.fixture(scope="module")
def crowd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough small images for inspect to use its worker pool (inspecting.PARALLEL_FROM)."""
    from vision_cli import inspecting

    folder = tmp_path_factory.mktemp("crowd")
    data = [encode(picture((100 + i, 250)), "PNG") for i in range(7)]
    for i in range(inspecting.PARALLEL_FROM + 40):
        (folder / f"{i:04}.png").write_bytes(data[i % 7])
    (folder / "0100.png").write_bytes(b"broken")
    return folder


def test_worker_processes_give_the_same_records_in_order(
    run: Run, crowd: Path, pooled: list[int]
) -> None:
    one = run("inspect", crowd, "-f", "jsonl", "-j", "1")
    two = run("inspect", crowd, "-f", "jsonl", "-j", "2")
    assert pooled == [1]  # only -j 2 used workers
    assert one.exit_code == two.exit_code == 1
    assert two.stdout == one.stdout
    recs = records(two)
    assert [Path(r["path"]).name for r in recs] == sorted(p.name for p in crowd.iterdir())
    assert recs[100]["findings"][0]["code"] == "unreadable"


@pytest.mark.parametrize(
    "extra",
    [("-f", "json"), ("-f", "csv"), ("-f", "table"), ("-f", "jsonl", "-q"), ("-f", "markdown")],
    ids=lambda a: " ".join(a),
)
def test_worker_processes_give_the_same_output_in_every_format(
    run: Run, crowd: Path, extra: tuple[str, ...], pooled: list[int]
) -> None:
    """JSONL lines are made in the workers; every other format from the records they send."""
    one = run("inspect", crowd, *extra, "-j", "1")
    two = run("inspect", crowd, *extra, "-j", "2")
    assert pooled == [1]
    assert one.exit_code == two.exit_code == 1
    assert two.stdout == one.stdout and two.stderr == one.stderr


def test_worker_processes_after_an_input_that_is_not_an_image(
    run: Run, crowd: Path, tmp_path: Path, pooled: list[int]
) -> None:
    """The main process checks the first input itself before starting the workers: a first
    input that is missing or broken changes nothing in the records, their order or the status."""
    listing = tmp_path / "list.txt"
    crowded = sorted(str(p) for p in crowd.iterdir())
    listing.write_text("\n".join([str(tmp_path / "missing.png"), crowded[100], *crowded]) + "\n")
    one = run("inspect", "--files-from", listing, "-f", "jsonl", "-j", "1")
    two = run("inspect", "--files-from", listing, "-f", "jsonl", "-j", "2")
    assert pooled == [1]
    assert one.exit_code == two.exit_code == 1 and two.stdout == one.stdout
    recs = records(two)
    assert len(recs) == len(crowded) + 2
    assert [codes_of(r) for r in recs[:2]] == [["not-found"], ["unreadable"]]


def test_cheap_checks_stay_in_the_main_process(
    run: Run, crowd: Path, monkeypatch: pytest.MonkeyPatch, pools: list[int]
) -> None:
    """Without --verify the workers start only once checks take POOL_FROM_SECONDS each on
    average: checks far cheaper than that never start them, whatever -j says."""
    from vision_cli import inspecting

    monkeypatch.setattr(inspecting, "POOL_FROM_SECONDS", 3600.0)
    one = run("inspect", crowd, "-f", "jsonl", "-j", "1")
    two = run("inspect", crowd, "-f", "jsonl", "-j", "2")
    assert pools == [] and two.stdout == one.stdout and two.exit_code == 1


def _decided(costs: list[float], limit: float = 100e-6) -> tuple[int, int]:
    """How many of len(costs) inputs ``_while_cheap`` checks here, and how many it leaves to
    the workers, when input i takes costs[i] seconds (on a clock that only checks move)."""
    from vision_cli import inspecting

    now = [0.0]

    def check(i: Any) -> Any:
        now[0] += costs[i]
        return i

    inputs: Any = iter(range(len(costs)))  # (indexes stand for inputs)
    decision = inspecting._while_cheap(inputs, check, limit, lambda: now[0])
    here = 0
    try:
        while True:
            next(decision)
            here += 1
    except StopIteration as stop:
        return here, len(list(stop.value))


def test_the_pool_decision_follows_what_checks_cost() -> None:
    from vision_cli.inspecting import _RESAMPLE, _SAMPLE, _WARM_UP

    first = _WARM_UP + _SAMPLE
    cheap, dear = 50e-6, 200e-6
    assert _decided([cheap] * 2000) == (2000, 0)  # never worth it: all here
    assert _decided([dear] * 2000) == (first, 2000 - first)  # at the first decision
    # the warm-up is not timed: a slow first few change nothing
    assert _decided([1.0] * _WARM_UP + [cheap] * 2000) == (_WARM_UP + 2000, 0)
    # a tree that turns dear is handed over at the end of the first window that costs
    turn = first + 2 * _RESAMPLE
    assert _decided([cheap] * turn + [dear] * 2000) == (turn + _RESAMPLE, 2000 - _RESAMPLE)
    # the average over a window decides: one input 40 times dearer is not enough, one whose
    # time alone is more than the window may take is
    window = [cheap] * first + [cheap] * (_RESAMPLE - 1)
    assert _decided([*window, 2e-3, *[cheap] * 100]) == (len(window) + 101, 0)
    assert _decided([*window, _RESAMPLE * 1e-4, *[cheap] * 100]) == (len(window) + 1, 100)


def _processes_running(needle: str) -> list[int]:
    """The processes whose command line holds ``needle`` (a forked worker keeps its parent's)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and needle in (entry / "cmdline").read_text():
                found.append(int(entry.name))
        except OSError:  # ended meanwhile
            continue
    return found


@contextlib.contextmanager
def _pooled_inspect(
    tmp_path: Path, paths: list[str]
) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    """``inspect -j 2 -f jsonl`` over ``paths`` (given in a list), its workers started at once
    (``POOLED_CLI``), in a session of its own; yields the process, its output and the list."""
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(paths) + "\n")
    out = tmp_path / "out.jsonl"
    with out.open("w") as fh:
        yield (
            subprocess.Popen(
                [*POOLED_CLI, "inspect", "--files-from", str(listing), "-f", "jsonl", "-j", "2"],
                stdout=fh,
                stderr=subprocess.PIPE,
                start_new_session=True,
            ),
            out,
            listing,
        )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_the_workers(crowd: Path, tmp_path: Path, sig: signal.Signals) -> None:
    names = [str(p) for p in sorted(crowd.iterdir())]
    with _pooled_inspect(tmp_path, names * 300) as (proc, out, listing):  # long enough to stop
        while out.stat().st_size < 100_000 and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    # SIGTERM stops inspect as Ctrl-C does, as it stops every command (exitcodes.ExitStatus)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and b"BrokenPipe" not in err
    deadline = time.monotonic() + 10
    while _processes_running(str(listing)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_running(str(listing)) == []  # no worker left behind
    lines = out.read_text().splitlines()
    assert 0 < len(lines) < 300 * len(names)
    assert all(json.loads(line)["path"] for line in lines)  # every line whole


DIED = "the worker process preparing it died (out of memory?): run again with fewer --jobs."


def _checking(pid: int) -> bool:
    """Whether every worker of ``pid`` has run for a clock tick at least (it is checking)."""
    try:
        children = workers_of(pid)
        stats = [Path(f"/proc/{child}/stat").read_text() for child in children]
    except OSError:
        return False
    # utime and stime, the 14th and 15th fields: the 12th and 13th after the name's ")"
    ticks = [sum(map(int, stat.rsplit(")", 1)[1].split()[11:13])) for stat in stats]
    return len(ticks) == 2 and all(ticks)


def _died(record: dict[str, Any]) -> bool:
    return [(f["code"], f["message"]) for f in record["findings"]] == [("unreadable", DIED)]


@pytest.mark.slow
def test_a_worker_that_dies_fails_the_inputs_it_lost(tmp_path: Path) -> None:
    """The kernel's out-of-memory killer ends a worker with SIGKILL: the pool replaced it and
    the run waited for its inputs' records for ever. Every input not reported yet fails (as
    ``resize`` fails the images of a worker that died), once and in its place; the run ends
    with 1, and the summary counts every input."""
    folder = tmp_path / "large"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.png").write_bytes(encode(picture((1200 + i, 900)), "PNG"))
    paths = [str(p) for p in sorted(folder.iterdir())] * 1000  # --verify decodes every one
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(paths) + "\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vision_cli", "inspect", "--files-from", str(listing), "--verify",
         "-j", "2", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    wait_for(lambda: _checking(proc.pid), proc)
    os.kill(workers_of(proc.pid)[0], signal.SIGKILL)
    out, err = once_ended(proc, "the run waited for ever for the records of a worker that died")
    assert proc.returncode == 1, err
    assert b"Traceback" not in err
    doc = json.loads(out)
    recs = doc["images"]
    assert [r["path"] for r in recs] == paths  # every input once, in order
    died = [r for r in recs if _died(r)]
    assert died and _died(recs[-1])  # and every one after the worker died
    assert all(r["status"] == "error" and r["width"] is None for r in died)
    assert all(r["status"] != "error" for r in recs if not _died(r))
    assert doc["summary"]["count"] == len(paths) and doc["summary"]["error"] == len(died)


@pytest.mark.slow
def test_a_worker_killed_while_it_sends_its_result(crowd: Path, tmp_path: Path) -> None:
    """A worker killed halfway through sending its records leaves the pool's thread waiting
    for the rest of them, and the other worker waiting for the lock the dead one held: the run
    still ends, with the lost inputs failed."""
    paths = [str(p) for p in sorted(crowd.iterdir())] * 40
    with _pooled_inspect(tmp_path, paths) as (proc, out, _):
        wait_for(lambda: out.stat().st_size > 200_000, proc)  # records come from the workers
        with_a_worker_sending(proc, lambda writer: os.kill(writer, signal.SIGKILL))
        _, err = once_ended(proc, "the run hung after a worker died sending its result")
    assert proc.returncode == 1, err
    assert b"Traceback" not in err
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["path"] for r in recs] == paths
    assert any(_died(r) for r in recs) and _died(recs[-1])


@pytest.mark.slow
def test_workers_stopped_before_the_main_process_stop_the_run(crowd: Path, tmp_path: Path) -> None:
    """systemd, ``pkill`` and ``kill PID...`` signal each process of a run in turn: workers
    ended by SIGTERM before the main process hears of it (here, it never does) stop the run,
    130, as Ctrl-C does; none of their inputs failed."""
    names = [str(p) for p in sorted(crowd.iterdir())]
    with _pooled_inspect(tmp_path, names * 300) as (proc, out, _):
        wait_for(lambda: out.stat().st_size > 100_000, proc)
        for worker in workers_of(proc.pid):
            with contextlib.suppress(ProcessLookupError):  # the pool may have ended it first
                os.kill(worker, signal.SIGTERM)
        _, err = once_ended(proc, "the run waited for ever for workers that were stopped")
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    assert DIED not in out.read_text()


# ---- --ignore CODE


def test_ignore_leaves_a_finding_out_of_the_record_and_the_status(
    run: Run, make_image: MakeImage
) -> None:
    icon = make_image("icon.png", (64, 64))
    strict = run("inspect", icon, "--strict", "--json")
    assert strict.exit_code == 1
    assert [f["code"] for f in json.loads(strict.stdout)["images"][0]["findings"]] == ["too-small"]
    result = run("inspect", icon, "--strict", "--json", "--ignore", "too-small")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["images"][0]["findings"] == [] and doc["images"][0]["status"] == "ok"
    assert doc["summary"]["ok"] == 1


def test_ignore_is_repeatable_and_covers_errors_and_request_findings(
    run: Run, make_image: MakeImage
) -> None:
    scan = make_image("scan.bmp", (300, 300), fmt="BMP")
    small = make_image("small.png", (64, 64))
    assert run("inspect", scan, small).exit_code == 1
    args = ["--ignore", "unsupported-format", "--ignore", "too-small", "--strict"]
    assert run("inspect", scan, small, *args).exit_code == 0
    many = run("inspect", scan, "--request", "--json", "-m", "claude-opus-4-7", *args)
    assert many.exit_code == 0


def test_ignore_an_unknown_or_unignorable_code_is_a_usage_error(
    run: Run, make_image: MakeImage
) -> None:
    image = make_image("a.png")
    bad = run("inspect", image, "--ignore", "too-smol")
    assert bad.exit_code == 2
    assert "unknown finding code 'too-smol'" in bad.stderr and "too-small" in bad.stderr
    unreadable = run("inspect", image, "--ignore", "unreadable")
    assert unreadable.exit_code == 2 and "cannot be ignored" in unreadable.stderr


def test_ignore_in_the_configuration_file(run: Run, make_image: MakeImage, chdir_tmp: Path) -> None:
    icon = make_image("icon.png", (64, 64))
    (chdir_tmp / "vision-cli.toml").write_text('[inspect]\nstrict = true\nignore = ["too-small"]\n')
    assert run("inspect", icon).exit_code == 0
    (chdir_tmp / "vision-cli.toml").write_text('ignore = ["too-smol"]\n')
    bad = run("inspect", icon)
    assert bad.exit_code == 2 and "ignore" in bad.stderr and "too-smol" in bad.stderr


def test_ignore_reaches_the_worker_processes(
    run: Run, make_image: MakeImage, tmp_path: Path, pooled: list[int]
) -> None:
    folder = tmp_path / "icons"
    first = make_image("000.png", (64, 64), folder=folder)
    for index in range(1, 520):  # from 500 inputs on, inspect checks in worker processes
        shutil.copyfile(first, folder / f"{index:03}.png")
    assert run("inspect", folder, "--strict", "-q", "-j", "2").exit_code == 1
    assert (
        run("inspect", folder, "--strict", "-q", "-j", "2", "--ignore", "too-small").exit_code == 0
    )
    assert pooled == [1, 1]


def test_estimate_ignores_too(run: Run, make_image: MakeImage) -> None:
    scan = make_image("scan.bmp", (300, 300), fmt="BMP")
    assert run("estimate", scan).exit_code == 1
    result = run("estimate", scan, "--ignore", "unsupported-format", "--json")
    assert result.exit_code == 0
    wide = run("estimate", "--size", "9000x100", "--ignore", "dimensions-too-large", "--json")
    assert wide.exit_code == 0


def test_worker_hand_off_keeps_every_field(crowd: Path) -> None:
    """What a worker sends back (plain values) makes the same record, findings included, and its
    JSON line is the one the main process would have written."""
    from vision_cli import inspecting, judging, names, policy, sources

    opts = inspecting.CheckOptions(
        model="claude-opus-4-7", limits=judging.Limits(tier=policy.tier("high-res"))
    )
    paths = [crowd / "0000.png", crowd / "0100.png", crowd / "missing.png"]
    items: list[sources.Input | sources.Problem] = [
        sources.Input(str(p), path=p, root=crowd) for p in paths
    ]
    items.append(sources.Problem("nothing/*.png", judging.Code.NOT_FOUND, "no match"))
    chunk = inspecting._packed(items)
    with_lines = inspecting._checked_chunk(chunk, opts, lines=True)
    plain = inspecting._checked_chunk(chunk, opts, lines=False)
    assert len(with_lines) == len(plain) == len(items)
    for item, packed, bare in zip(items, with_lines, plain, strict=True):
        record, data = inspecting.check_keeping_data(item, opts)
        assert inspecting._unpack_record(packed[0]) == record and packed[1] == data
        assert packed[2] == names.dumps(record.as_dict())
        assert bare[2] is None
    assert inspecting.check(items[1], opts).findings[0].code is judging.Code.UNREADABLE  # exercised


_ANY_TEXT = st.text(alphabet=st.sampled_from(["a", ".", "/", " ", '"', "\\", "\n", "é", "\udcff"]))
_MAYBE_TEXT = st.none() | _ANY_TEXT | st.sampled_from(["JPEG", "image/jpeg", "RGB"])
_MAYBE_NUMBER = st.none() | st.integers(min_value=0, max_value=2**40)
_FINDINGS = st.lists(
    st.builds(judging.Finding, st.sampled_from(list(judging.Code)), _ANY_TEXT), max_size=2
)


@given(
    st.builds(
        inspecting.Record,
        path=_ANY_TEXT,
        model=_ANY_TEXT | st.just("claude-sonnet-5-5"),
        format=_MAYBE_TEXT,
        media_type=_MAYBE_TEXT,
        width=_MAYBE_NUMBER,
        height=_MAYBE_NUMBER,
        orientation=st.integers(min_value=1, max_value=8),
        frames=st.integers(min_value=1, max_value=1000),
        mode=_MAYBE_TEXT,
        bytes=_MAYBE_NUMBER,
        base64_bytes=_MAYBE_NUMBER,
        api_width=_MAYBE_NUMBER,
        api_height=_MAYBE_NUMBER,
        tokens=_MAYBE_NUMBER,
        findings=_FINDINGS.map(tuple),
    )
)
def test_a_record_s_json_line_is_its_dict_encoded(record: inspecting.Record) -> None:
    """The line ``--format jsonl`` writes, made directly for the common record, is the text of
    the documented dict as ``names.dumps`` writes it, whatever the record holds: names that are
    not UTF-8, quotes, control characters, findings, missing values."""
    assert inspecting.json_line(record) == names.dumps(record.as_dict())


def test_markdown_title_of_one_image_is_singular(run: Run, make_image: MakeImage) -> None:
    text = run("inspect", make_image("a.png", (300, 200)), "-f", "markdown").stdout
    assert text.startswith("### ✅ vision-cli inspect: 1 image, 0 error, 0 warning")


@pytest.mark.parametrize("how", ["named", "walked", "globbed", "listed"], ids=lambda how: str(how))
def test_the_report_never_replaces_an_image_it_reads(
    run: Run, make_image: MakeImage, tmp_path: Path, how: str
) -> None:
    """``inspect victim.png -o victim.png`` (or ``inspect imgs -f html -o imgs/a.png``) replaced
    the image with the report, exit 0. Refused now, the image untouched, however it was found."""
    victim = make_image("imgs/a.png", (300, 200))
    make_image("imgs/b.png", (300, 200))
    before = victim.read_bytes()
    listing = tmp_path / "list.txt"
    listing.write_text(f"{tmp_path / 'imgs' / 'b.png'}\n{victim}\n")
    args = {
        "named": [str(victim)],
        "walked": [str(tmp_path / "imgs")],
        "globbed": [str(tmp_path / "imgs" / "*.png")],
        "listed": ["--files-from", str(listing)],
    }[how]
    result = run(
        "inspect", *args, "-f", "html", "-o", str(tmp_path / "imgs" / ".." / "imgs" / "a.png")
    )
    assert result.exit_code == 2
    assert "a report never replaces one" in " ".join(result.stderr.split())
    assert victim.read_bytes() == before


def test_the_report_makes_its_folder(run: Run, make_image: MakeImage, tmp_path: Path) -> None:
    """``-o new/dir/r.json`` failed with "No such file or directory: check the free space and the
    permissions there"; every other command makes an output's folder, and so does inspect."""
    out = tmp_path / "new" / "dir" / "r.json"
    result = run("inspect", make_image("a.png", (300, 200)), "--json", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text())["images"][0]["status"] == "ok"


def test_every_report_writes_its_figures_with_thousands_separators(
    run: Run, make_image: MakeImage, tmp_path: Path
) -> None:
    """The Markdown title and totals, the HTML totals and a row's tokens in both were written as
    Python prints an int (1234), beside the table's ``1,234 tokens``: each writes ``1,234``."""
    from vision_cli.formats import Format
    from vision_cli.render import html
    from vision_cli.render.inspect import InspectReport, inspect_markdown

    s = inspecting.InspectSummary(count=1234, ok=100, warning=100, error=1034, tokens=1234567)
    markdown = inspect_markdown(s, [])
    assert markdown.startswith("### ❌ vision-cli inspect: 1,234 images, 1,034 error, 100 warning")
    assert "| 1,234 | 100 | 100 | 1,034 | 1,234,567 |" in markdown
    table = io.StringIO()
    InspectReport(Format.table, stream=table).finish(s)
    assert (
        table.getvalue() == "\n1,234 images: 100 ok, 100 warning, 1,034 error; 1,234,567 tokens\n"
    )
    page = io.StringIO()
    html.write([], s, "claude-sonnet-5-5", page, "now")
    assert "<b>1,234</b>images" in page.getvalue() and "<b>1,034</b>error" in page.getvalue()
    assert "<title>vision-cli inspect: 1,034 error, 100 warning</title>" in page.getvalue()

    big = make_image("big.png", (2400, 1600))  # a row with a finding (will-be-downscaled)
    tokens = json.loads(run("inspect", big, "--json").stdout)["images"][0]["tokens"]
    assert tokens >= 1000
    assert f"| {tokens:,} |" in run("inspect", big, "-f", "markdown").stdout
    run("inspect", big, "-f", "html", "-o", tmp_path / "r.html")
    assert f'<td class="num">{tokens:,}</td>' in (tmp_path / "r.html").read_text()
    assert f"{tokens:,} tokens" in run("inspect", big).stdout
