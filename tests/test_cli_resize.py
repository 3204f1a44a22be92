"""``vision-cli resize`` through its real entry points: CliRunner, and the installed script."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests import imagekit as k
from tests.conftest import (
    MakeImage,
    Run,
    imported_by,
    once_ended,
    records,
    stderr_once_ended,
    wait_for,
    with_a_worker_sending,
    workers_of,
)
from vision_cli import catalog, policy, units

FORBIDDEN_AFTER = {"will-be-downscaled", "exif-rotated", "cmyk", "animated", "extension-mismatch"}


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def animation(fmt: str) -> bytes:
    frames = [Image.new("RGB", (400, 300), c) for c in ((255, 0, 0), (0, 255, 0))]
    return k.encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)


@pytest.fixture
def zoo(tmp_path: Path) -> Path:
    """One of every kind of trouble resize has to fix, in nested folders."""
    src = tmp_path / "zoo"
    sixteen = Image.linear_gradient("L").resize((1800, 1200)).convert("I")
    sixteen = sixteen.point(lambda v: v * 257).convert("I;16")
    palette = Image.new("P", (2400, 1200), 0)
    palette.putpalette([255, 255, 255, 30, 30, 200] + [0] * 762)
    palette.paste(1, (0, 0, 1200, 1200))
    files = {
        "phone/IMG_0001.JPG": k.photo((4032, 3024), orientation=6),
        "phone/IMG_0002.jpg": k.photo((4032, 3024), orientation=3),
        "phone/small-turned.jpg": k.photo((640, 480), orientation=8),
        "web/anim.gif": animation("GIF"),
        "web/anim.webp": animation("WEBP"),
        "web/really-a-jpeg.png": k.photo((800, 600)),
        "web/wide.png": k.encode(k.flat_drawing((9000, 400)), "PNG"),
        "web/tall.webp": k.encode(k.gradient((1000, 6000)), "WEBP"),
        "scans/deep.png": k.encode(sixteen, "PNG"),
        "scans/cmyk.jpg": k.encode(Image.new("CMYK", (2500, 2500), (0, 255, 255, 0)), "JPEG"),
        "scans/small-cmyk.jpg": k.encode(Image.new("CMYK", (400, 300), (0, 255, 255, 0)), "JPEG"),
        "scans/page.bmp": k.encode(k.flat_drawing((1700, 2200)), "BMP"),
        "scans/photo.tiff": k.encode(k.gradient((2000, 1500)), "TIFF"),
        "scans/palette.png": k.encode(palette, "PNG", transparency=0),
        "scans/icon.ico": k.encode(k.flat_drawing((64, 64)).convert("RGBA"), "ICO"),
        "scans/icc.jpg": k.encode(
            k.gradient((2000, 1500)), "JPEG", icc_profile=k.swapped_profile()
        ),
        "ok/fine.png": k.encode(k.flat_drawing((1000, 700)), "PNG"),
    }
    for name, data in files.items():
        k.write(src / name, data)
    return src


def resize_jsonl(run: Run, *args: str | Path) -> tuple[int, list[dict[str, Any]]]:
    result = run("resize", *args, "--format", "jsonl")
    return result.exit_code, records(result)


def inspect_records(run: Run, folder: Path, *args: str) -> list[dict[str, Any]]:
    result = run("inspect", folder, "--format", "jsonl", *args)
    return records(result)


# --------------------------------------------------------------------------------------------------
# After resize, inspect finds nothing to fix
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model", [None, "claude-sonnet-4-6", "claude-opus-4-7", "claude-haiku-5-5"]
)
def test_every_output_passes_inspect(
    run: Run, zoo: Path, tmp_path: Path, model: str | None
) -> None:
    out = tmp_path / "out"
    model_args = ["--model", model] if model else []
    code, recs = resize_jsonl(run, zoo, "--out", out, *model_args)
    assert code == 0, recs
    assert len(recs) == 17 and all(r["action"] != "failed" for r in recs)
    checked = inspect_records(run, out, *model_args)
    assert len(checked) == 17
    for rec in checked:
        codes = {f["code"] for f in rec["findings"]}
        assert rec["status"] != "error" and not codes & FORBIDDEN_AFTER, rec
        assert rec["orientation"] == 1 and rec["frames"] == 1
    # and a second run copies everything
    code, again = resize_jsonl(run, out, "--out", tmp_path / "again", *model_args)
    assert code == 0 and {r["action"] for r in again} == {"copied"}


def test_model_targets_its_native_size(run: Run, tmp_path: Path) -> None:
    src = k.write(tmp_path / "uhd.png", k.encode(k.gradient((3840, 2160)), "PNG"))
    _, (default,) = resize_jsonl(run, src, "--out", tmp_path / "a")
    _, (opus,) = resize_jsonl(run, src, "--out", tmp_path / "b", "--model", "claude-opus-4-7")
    _, (sonnet,) = resize_jsonl(run, src, "--out", tmp_path / "c", "--model", "claude-sonnet-4-6")
    recommended = policy.SizePolicy.recommended().target(3840, 2160)
    assert (default["width_after"], default["height_after"]) == recommended
    assert recommended[0] * recommended[1] <= 1_150_000
    assert (opus["width_after"], opus["height_after"], opus["tokens_after"]) == (2576, 1449, 4784)
    assert (sonnet["width_after"], sonnet["height_after"]) == (1456, 819)
    assert sonnet["tokens_before"] == sonnet["tokens_after"] == 1560


def test_policy_options(run: Run, tmp_path: Path) -> None:
    src = k.write(tmp_path / "in.png", k.encode(k.gradient((3000, 2000)), "PNG"))
    _, (edge,) = resize_jsonl(run, src, "--out", tmp_path / "a", "--max-edge", "600")
    _, (mp,) = resize_jsonl(run, src, "--out", tmp_path / "b", "--max-megapixels", "0.24")
    _, (tok,) = resize_jsonl(run, src, "--out", tmp_path / "c", "--max-tokens", "100")
    assert (edge["width_after"], edge["height_after"]) == (600, 400)
    assert (mp["width_after"], mp["height_after"]) == (600, 400)
    assert tok["tokens_after"] <= 100 and tok["width_after"] / tok["height_after"] == pytest.approx(
        1.5, abs=0.02
    )


def test_max_edge_above_the_tier_warns(run: Run, tmp_path: Path) -> None:
    src = k.write(tmp_path / "in.png", k.encode(k.gradient((3000, 2000)), "PNG"))
    result = run("resize", src, "--out", tmp_path / "out", "--max-edge", "2600", "--json")
    assert result.exit_code == 0
    assert "Warning: --max-edge 2600" in result.stderr
    assert json.loads(result.stdout)["images"][0]["width_after"] == 1313


def test_to_quality_and_max_bytes(run: Run, tmp_path: Path) -> None:
    src = k.write(tmp_path / "noise.png", k.encode(k.noise((1200, 900)), "PNG"))
    _, (webp,) = resize_jsonl(run, src, "--out", tmp_path / "a", "--to", "webp", "--quality", "50")
    assert (webp["format_after"], webp["quality"], webp["output"]) == (
        "WEBP",
        50,
        str(tmp_path / "a" / "noise.webp"),
    )
    # noise: about 1.1 MB of base64 as JPEG at quality 85, 0.5 MB at 35
    _, (fit,) = resize_jsonl(run, src, "--out", tmp_path / "b", "--max-bytes", "800KB")
    assert fit["format_after"] == "JPEG" and fit["quality"] < 85
    assert len((tmp_path / "b" / "noise.jpg").read_bytes()) * 4 / 3 <= 800 * 1024
    code, (failed,) = resize_jsonl(run, src, "--out", tmp_path / "c", "--max-bytes", "2KB")
    assert code == 1 and failed["action"] == "failed" and "--max-bytes" in failed["error"]


def test_reencode_drops_metadata_of_compliant_files(run: Run, tmp_path: Path) -> None:
    data = k.encode(k.gradient((800, 600)), "JPEG", exif=k.exif_bytes(1, gps=True))
    src = k.write(tmp_path / "gps.jpg", data)
    _, (copied,) = resize_jsonl(run, src, "--out", tmp_path / "a")
    _, (again,) = resize_jsonl(run, src, "--out", tmp_path / "b", "--reencode")
    assert copied["action"] == "copied" and (tmp_path / "a" / "gps.jpg").read_bytes() == data
    assert again["action"] == "converted"
    assert k.metadata_left((tmp_path / "b" / "gps.jpg").read_bytes()) == []


# --------------------------------------------------------------------------------------------------
# Safety
# --------------------------------------------------------------------------------------------------


def test_out_leaves_originals_byte_for_byte(run: Run, zoo: Path, tmp_path: Path) -> None:
    before = digests(zoo)
    assert run("resize", zoo, "--out", tmp_path / "out").exit_code == 0
    assert digests(zoo) == before


def test_existing_outputs_need_overwrite(run: Run, tmp_path: Path) -> None:
    src = k.write(tmp_path / "in" / "big.jpg", k.photo())
    out = tmp_path / "out"
    assert run("resize", src, "--out", out).exit_code == 0
    first = (out / "big.jpg").read_bytes()
    code, (rec,) = resize_jsonl(run, src, "--out", out, "--quality", "40")
    assert code == 1 and "--overwrite" in rec["error"] and (out / "big.jpg").read_bytes() == first
    code, (rec,) = resize_jsonl(run, src, "--out", out, "--quality", "40", "--overwrite")
    assert code == 0 and (out / "big.jpg").read_bytes() != first


def test_in_place_with_backup(run: Run, tmp_path: Path) -> None:
    big = k.write(tmp_path / "big.jpg", k.photo())
    scan = k.write(tmp_path / "scan.bmp", k.encode(k.flat_drawing((400, 300)), "BMP"))
    originals = {p.name: p.read_bytes() for p in (big, scan)}
    code, recs = resize_jsonl(run, tmp_path, "--in-place", "--backup", ".orig")
    assert code == 0 and [r["output"] for r in recs] == [str(big), str(tmp_path / "scan.png")]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "big.jpg",
        "big.jpg.orig",
        "scan.bmp.orig",
        "scan.png",
    ]
    assert (tmp_path / "big.jpg.orig").read_bytes() == originals["big.jpg"]
    assert (tmp_path / "scan.bmp.orig").read_bytes() == originals["scan.bmp"]


def test_in_place_leaves_no_output_when_the_backup_cannot_be_made(run: Run, tmp_path: Path) -> None:
    """A BMP becomes a PNG beside it; its backup's name (255 bytes and the suffix) is longer
    than the file system allows. The input stays as it was, and so does the folder: no PNG
    left beside an input that was not replaced (a later run would take it for an input)."""
    name = "T" * 251 + ".bmp"
    scan = k.write(tmp_path / name, k.encode(k.flat_drawing((400, 300)), "BMP"))
    before = scan.read_bytes()
    code, recs = resize_jsonl(run, tmp_path, "--in-place", "--backup", ".orig")
    assert code == 1
    (rec,) = recs
    assert "file name too long" in rec["error"] and "shorten the name" in rec["error"]
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert scan.read_bytes() == before


def test_in_place_through_a_symbolic_link(run: Run, tmp_path: Path) -> None:
    """The file a link points to is resized and the link kept, as an image editor would; when
    the name changes the new file takes the link's place and the file pointed to is untouched."""
    real = k.write(tmp_path / "store" / "big.jpg", k.photo())
    scan = k.write(tmp_path / "store" / "scan.bmp", k.encode(k.flat_drawing((400, 300)), "BMP"))
    scan_bytes = scan.read_bytes()
    links = tmp_path / "links"
    links.mkdir()
    (links / "big.jpg").symlink_to(real)
    (links / "scan.bmp").symlink_to(scan)
    code, recs = resize_jsonl(run, links / "big.jpg", links / "scan.bmp", "--in-place")
    assert code == 0 and [r["action"] for r in recs] == ["resized", "converted"]
    assert (links / "big.jpg").is_symlink() and (links / "big.jpg").resolve() == real
    assert Image.open(real).size == policy.SizePolicy.recommended().target(3000, 2000)
    assert sorted(p.name for p in links.iterdir()) == ["big.jpg", "scan.png"]
    assert not (links / "scan.png").is_symlink() and Image.open(links / "scan.png").format == "PNG"
    assert scan.read_bytes() == scan_bytes


def test_in_place_replaces_a_file_once_however_many_links_lead_to_it(
    run: Run, tmp_path: Path
) -> None:
    """``b.jpg -> a.jpg`` beside ``a.jpg``: the file was read twice, replaced once, then failed
    "changed since it was read" for the link. A hard link is a name of its own, replaced too."""
    real = k.write(tmp_path / "a.jpg", k.photo())
    (tmp_path / "b.jpg").symlink_to("a.jpg")
    os.link(real, tmp_path / "c.jpg")
    code, recs = resize_jsonl(run, tmp_path, "--in-place", "-j", "1")
    assert code == 0
    assert [(Path(r["input"]).name, r["action"]) for r in recs] == [
        ("a.jpg", "resized"),
        ("c.jpg", "resized"),
    ]
    assert (tmp_path / "b.jpg").is_symlink() and (tmp_path / "b.jpg").resolve() == real
    resized = policy.SizePolicy.recommended().target(3000, 2000)
    assert Image.open(real).size == Image.open(tmp_path / "c.jpg").size == resized


def test_dry_run_prints_the_plan_and_writes_nothing(run: Run, zoo: Path, tmp_path: Path) -> None:
    before = digests(zoo)
    result = run("resize", zoo, "--in-place", "--dry-run")
    assert result.exit_code == 0
    assert digests(zoo) == before
    assert "dry run: nothing written" in result.stdout
    assert "IMG_0001.JPG → " in result.stdout and "4032x3024 → 928x1238" in result.stdout
    assert "scans/page.bmp → " in result.stdout and "scans/page.png" in result.stdout


def test_stdin_and_files_from(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("resize", "-", "--out", out, "--json", input=k.photo())
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["images"][0]["output"] == str(out / "stdin.jpg")
    listed = [
        k.write(tmp_path / f"l{i}.png", k.encode(k.gradient((2000, 900)), "PNG")) for i in (1, 2)
    ]
    lst = k.write(tmp_path / "list.txt", "\n".join(map(str, listed)).encode())
    code, recs = resize_jsonl(run, "--files-from", lst, "--out", out)
    assert code == 0 and [r["input"] for r in recs] == [str(p) for p in listed]


# --------------------------------------------------------------------------------------------------
# Reports and exit codes
# --------------------------------------------------------------------------------------------------


def test_json_report(run: Run, zoo: Path, tmp_path: Path) -> None:
    result = run("resize", zoo, "--out", tmp_path / "out", "--json")
    doc = json.loads(result.stdout)
    assert list(doc) == ["images", "summary"] and len(doc["images"]) == 17
    assert list(doc["images"][0]) == [
        "input", "output", "action", "format_before", "format_after", "width_before",
        "height_before", "width_after", "height_after", "bytes_before", "bytes_after",
        "tokens_before", "tokens_after", "quality", "error", "findings", "tiles", "trim",
    ]  # fmt: skip
    s = doc["summary"]
    assert s["files"] == 17 and s["failed"] == 0
    assert s["resized"] + s["converted"] + s["copied"] == 17
    assert s["tokens_saved"] == sum(r["tokens_before"] - r["tokens_after"] for r in doc["images"])
    assert s["bytes_saved"] == s["bytes_before"] - s["bytes_after"] > 0
    default = catalog.resolve(catalog.load().default)
    assert s["model"] == default.short_name and s["interrupted"] is False
    assert default.input_price is not None
    saved = s["tokens_saved"] * default.input_price / 1000
    assert s["usd_saved_per_1000_sends"] == pytest.approx(saved, rel=1e-4)


def test_csv_report(run: Run, zoo: Path, tmp_path: Path) -> None:
    result = run("resize", zoo, "--out", tmp_path / "out", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 17 and rows[0]["input"].endswith("ok/fine.png")  # folders sorted
    (turned,) = [r for r in rows if r["input"].endswith("IMG_0001.JPG")]
    assert (turned["width_after"], turned["height_after"]) == ("928", "1238")
    assert {r["action"] for r in rows} <= {"resized", "converted", "copied"}
    # the findings are there too, as their codes (as in inspect's CSV): it had no such column
    again = run("resize", zoo, "--out", tmp_path / "again", "--dry-run", "-f", "jsonl")
    records_ = {r["input"]: r for r in records(again) if "input" in r}
    for row in rows:
        expected = ";".join(f["code"] for f in records_[row["input"]]["findings"])
        assert row["codes"] == expected
    assert any(row["codes"] for row in rows)


def test_table_report(run: Run, tmp_path: Path) -> None:
    src = k.write(tmp_path / "in" / "big.jpg", k.photo())
    result = run("resize", src, "--out", tmp_path / "out")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("✓ resized") and "3000x2000 → 1313x875" in lines[0]
    assert "4,704 → 1,504 tokens" in lines[0]  # before: at the default's high-res tier
    assert lines[-2].startswith("1 file: 1 resized, 0 converted, 0 copied, 0 failed")
    assert "3,200 saved: $6.40 per 1,000 sends to claude-sonnet-5-5 at $2/MTok" in lines[-1]
    assert result.stderr == ""  # no progress bar without a terminal


def test_exit_1_when_one_fails_and_the_others_are_done(run: Run, tmp_path: Path) -> None:
    k.write(tmp_path / "in" / "a.jpg", k.photo())
    k.write(tmp_path / "in" / "b.jpg", k.photo()[:3000])
    k.write(tmp_path / "in" / "c.jpg", k.photo())
    code, recs = resize_jsonl(run, tmp_path / "in", "--out", tmp_path / "out", "-j", "2")
    assert code == 1
    assert [r["action"] for r in recs] == ["resized", "failed", "resized"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg", "c.jpg"]
    result = run("resize", tmp_path / "missing.jpg", "--out", tmp_path / "out2")
    assert result.exit_code == 1 and "no such file" in result.stdout


def test_the_totals_cover_only_the_files_done_and_say_so(run: Run, tmp_path: Path) -> None:
    """A failed file has no output, and its size may be unknown (a missing file): the totals
    said "224 B → 224 B (0 B saved)" as if it were there with nothing saved, and "0 B → 0 B"
    when every file failed."""
    good = k.write(tmp_path / "in" / "a.png", k.encode(k.gradient((64, 48)), "PNG"))
    broken = k.write(tmp_path / "in" / "b.png", b"\x89PNG\r\n\x1a\n not really")
    missing = tmp_path / "in" / "missing.png"
    result = run("resize", good, broken, missing, "--out", tmp_path / "out")
    lines = result.stdout.splitlines()
    assert result.exit_code == 1
    failed = [line for line in lines if line.startswith("✗ failed")]
    assert len(failed) == 2 and not any(" B → " in line for line in failed)
    size = units.format_bytes(good.stat().st_size)
    assert lines[-2] == "3 files: 0 resized, 0 converted, 1 copied, 2 failed"
    assert lines[-1].startswith(f"1 of 3 files: {size} → {size} (0 B saved); ")
    none = run("resize", broken, missing, "--out", tmp_path / "out2")
    assert none.stdout.splitlines()[-1] == (
        "no bytes or tokens to total: no file resized, converted or copied"
    )
    markdown = run("resize", broken, good, "--out", tmp_path / "out3", "-f", "markdown")
    assert f"| 1 of 2 files: {size} → {size} |" in markdown.stdout
    doc = json.loads(run("resize", broken, missing, "--out", tmp_path / "out4", "--json").stdout)
    # what is known before stays (the broken file's size), nothing of an output that is not there
    assert [(r["bytes_before"], r["bytes_after"]) for r in doc["images"]] == [
        (broken.stat().st_size, None),
        (None, None),
    ]
    assert (doc["summary"]["bytes_before"], doc["summary"]["bytes_after"]) == (0, 0)


@pytest.mark.parametrize(
    "args",
    [
        ["x.jpg"],
        ["x.jpg", "--out", "o", "--in-place"],
        ["x.jpg", "--out", "o", "--backup", ".orig"],
        ["x.jpg", "--in-place", "--backup", ""],
        ["x.jpg", "--in-place", "--backup", "a/b"],
        ["-", "--in-place"],
        ["https://example.invalid/a.jpg", "--in-place"],
        ["x.jpg", "--out", "o", "--max-bytes", "lots"],
        ["x.jpg", "--out", "o", "--max-bytes", "20MB"],
        ["x.jpg", "--out", "o", "--format", "github"],
        ["x.jpg", "--out", "o", "--model", "gpt-4o"],
        ["x.jpg", "--out", "o", "--quality", "0"],
        ["x.jpg", "--out", "o", "--to", "tiff"],
        ["x.jpg", "--out", "o", "-j", "0"],
        ["--out", "o"],
        ["x.jpg", "--out", ""],  # an unset variable: not the current folder
    ],
)
def test_usage_errors_exit_2(run: Run, chdir_tmp: Path, args: list[str]) -> None:
    k.write(chdir_tmp / "x.jpg", k.photo((300, 200)))
    result = run("resize", *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not (chdir_tmp / "o").exists()


def test_out_must_be_a_folder(run: Run, tmp_path: Path) -> None:
    src = k.write(tmp_path / "x.jpg", k.photo((300, 200)))
    assert run("resize", src, "--out", src).exit_code == 2


def test_help_documents_every_option(run: Run) -> None:
    text = run("resize", "--help").stdout
    for option in (
        "--out", "--in-place", "--max-edge", "--max-megapixels", "--model", "--max-tokens",
        "--to", "--quality", "--max-bytes", "--reencode", "--overwrite", "--backup", "--dry-run",
        "--jobs", "--format", "--json", "Exit status",
    ):  # fmt: skip
        assert option in text, option


# --------------------------------------------------------------------------------------------------
# The installed script: real processes, real signals
# --------------------------------------------------------------------------------------------------


def script() -> str:
    exe = shutil.which("vision-cli", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("the vision-cli script is not installed: pip install -e .")
    return exe


@pytest.fixture
def many(tmp_path: Path) -> Path:
    """Enough work that a run can be stopped in the middle."""
    src = tmp_path / "many"
    base = k.photo((2400, 1800))
    for i in range(60):
        k.write(src / f"p{i:03}.jpg", base)
    return src


def complete_image(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.load()
    except (OSError, SyntaxError):
        return False
    return True


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.startswith(".") or "tmp" in p.name]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_stopped_run_with_out_leaves_only_complete_files(
    many: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    before = digests(many)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [script(), "resize", str(many), "--out", str(out), "-j", "2", "--format", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wait_for(lambda: out.is_dir() and len(list(out.iterdir())) >= 3, proc)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert b"Traceback" not in stderr
    written = sorted(out.iterdir())
    assert 3 <= len(written) < 60  # stopped in the middle
    assert all(complete_image(p) for p in written) and leftovers(out) == []
    assert digests(many) == before
    reported = {Path(json.loads(line)["output"]).name for line in stdout.decode().splitlines()}
    names = {p.name for p in written}
    # every record names a written file; at most the one being written when the signal came
    # may lack its record
    assert reported <= names and len(names - reported) <= 1


@pytest.mark.slow
def test_a_second_ctrl_c_stops_at_once(tmp_path: Path) -> None:
    """Ctrl-C twice while a worker is busy (here reading a FIFO whose writer stays open, so it
    would be busy for ever): the run ends with 130 and no traceback, without waiting for it."""
    k.write(tmp_path / "in" / "a.png", k.encode(k.gradient((64, 48)), "PNG"))
    fifo = tmp_path / "in" / "b.png"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    args = [str(fifo), str(tmp_path / "in" / "a.png"), "--out", str(out), "-j", "2"]
    proc = subprocess.Popen(
        [script(), "resize", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a terminal's Ctrl-C goes to the whole process group
    )
    writer = os.open(fifo, os.O_WRONLY)  # returns once a worker has opened it
    try:
        os.write(writer, k.encode(k.gradient((64, 48)), "PNG")[:40])  # and never the rest
        os.killpg(proc.pid, signal.SIGINT)
        time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        stderr = stderr_once_ended(proc, "the run waited for the busy worker after Ctrl-C")
    finally:
        os.close(writer)
    assert proc.returncode == 130, stderr
    assert b"Traceback" not in stderr
    assert not out.exists() or leftovers(out) == []


@pytest.mark.slow
def test_sigterm_to_the_group_while_a_worker_sends_its_result(tmp_path: Path) -> None:
    """``timeout`` and CI runners signal the whole process group: a worker ended halfway through
    sending a result must not leave the run waiting for the rest of it."""
    noise = k.encode(k.noise((2000, 1500)), "JPEG", quality=95)  # outputs of about 1 MB
    for i in range(6):
        k.write(tmp_path / "in" / f"n{i}.jpg", noise)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [script(), "resize", str(tmp_path / "in"), "--out", str(out), "-j", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    wait_for(lambda: out.is_dir() and any(out.iterdir()), proc)
    with_a_worker_sending(proc, lambda _: os.killpg(proc.pid, signal.SIGTERM))
    stderr = stderr_once_ended(proc, "the run hung after SIGTERM")
    assert proc.returncode == 130, stderr
    assert b"Traceback" not in stderr
    assert leftovers(out) == [] and all(complete_image(p) for p in out.iterdir())


@pytest.mark.slow
def test_a_worker_killed_while_it_sends_its_result(tmp_path: Path) -> None:
    """The out-of-memory killer does not wait for a worker to finish sending its result: the
    pool's thread was left waiting for the rest of it, the other worker for the lock the dead
    one held, and the run for ever. It ends, the images not done failed, exit 1."""
    noise = k.encode(k.noise((2000, 1500)), "JPEG", quality=95)  # outputs of about 1 MB
    for i in range(6):
        k.write(tmp_path / "in" / f"n{i}.jpg", noise)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [script(), "resize", str(tmp_path / "in"), "--out", str(out), "-j", "2", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    wait_for(lambda: out.is_dir() and any(out.iterdir()), proc)
    with_a_worker_sending(proc, lambda writer: os.kill(writer, signal.SIGKILL))
    stdout, stderr = once_ended(proc, "the run hung after a worker died sending its result")
    assert proc.returncode == 1, stderr
    assert b"Traceback" not in stderr
    recs = json.loads(stdout)["images"]
    assert len(recs) == 6
    assert any("worker process preparing it died" in (r["error"] or "") for r in recs)
    assert leftovers(out) == [] and all(complete_image(p) for p in out.iterdir())


@pytest.mark.slow
def test_workers_stopped_before_the_main_process_stop_the_run(many: Path, tmp_path: Path) -> None:
    """systemd, ``pkill`` and ``kill PID...`` signal each process of a run in turn, not the group
    at once: workers ended by SIGTERM before the main process hears of it had their images
    reported as "the worker process preparing it died (out of memory?)" and the run exit 1. The
    run is being stopped: it says so and ends with 130. A worker that dies otherwise (SIGKILL,
    as the kernel's out-of-memory killer ends it) still fails its images."""
    results = []
    for sig in (signal.SIGTERM, signal.SIGKILL):
        out = tmp_path / f"out-{sig.name}"
        args = [str(many), "--out", str(out), "-j", "2", "--json"]
        proc = subprocess.Popen(
            [script(), "resize", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        wait_for(lambda: out.is_dir() and len(list(out.iterdir())) >= 2, proc)  # noqa: B023
        chosen = workers_of(proc.pid)
        for worker in chosen if sig is signal.SIGTERM else chosen[:1]:
            os.kill(worker, sig)
        stdout, stderr = proc.communicate(timeout=120)
        assert b"Traceback" not in stderr
        doc = json.loads(stdout)
        results.append((proc.returncode, doc["summary"]["interrupted"], doc["images"]))
    code, interrupted, recs = results[0]
    assert (code, interrupted) == (130, True)
    assert all(r["action"] != "failed" for r in recs)
    code, interrupted, recs = results[1]
    assert (code, interrupted) == (1, False)
    assert any("worker process preparing it died" in (r["error"] or "") for r in recs)


@pytest.mark.slow
def test_killed_in_place_run_loses_nothing(many: Path) -> None:
    """SIGKILL gives no chance to clean up: every name must still hold a whole image, either the
    original (byte for byte) or its complete replacement, and bmp originals are not lost."""
    originals = digests(many)
    # named to sort between the photos (p000.jpg, p000s.bmp, p001.jpg, ...)
    scans = {f"p{i:03}s": k.encode(k.gradient((1800, 1200)), "BMP") for i in range(20)}
    for stem, data in scans.items():
        k.write(many / f"{stem}.bmp", data)
    proc = subprocess.Popen(
        [script(), "resize", str(many), "--in-place", "-j", "2", "--format", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    def changed() -> int:
        return sum(1 for name, d in originals.items() if _digest(many / name) not in (d, None))

    wait_for(lambda: changed() >= 3, proc)
    proc.kill()
    proc.communicate(timeout=60)
    assert leftovers(many) == []
    resized = policy.SizePolicy.recommended().target(2400, 1800)
    for name, digest in originals.items():
        path = many / name
        whole = complete_image(path) and Image.open(path).size == resized
        assert _digest(path) == digest or whole, name
    for stem, data in scans.items():
        bmp, jpg = many / f"{stem}.bmp", many / f"{stem}.jpg"
        assert (bmp.exists() and bmp.read_bytes() == data) or complete_image(jpg), stem
        if jpg.exists():
            assert complete_image(jpg)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


@pytest.mark.slow
def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    for i in range(4):
        k.write(tmp_path / "in" / f"p{i}.jpg", k.photo())
    piped = subprocess.run(
        [script(), "resize", str(tmp_path / "in"), "--out", str(tmp_path / "a"), "--json"],
        capture_output=True,
        timeout=120,
    )
    assert piped.returncode == 0 and piped.stderr == b""
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [script(), "resize", str(tmp_path / "in"), "--out", str(tmp_path / "b"), "--json"],
        stdout=subprocess.PIPE,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed: the run is over
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = proc.communicate(timeout=60)
    os.close(leader)
    assert proc.returncode == 0
    assert b"resizing" in seen  # the bar, on the terminal
    assert json.loads(stdout)["summary"]["files"] == 4  # results stay on stdout, clean


def test_piped_resize_never_loads_the_progress_bar(tmp_path: Path) -> None:
    """rich's progress machinery (rich.progress, rich.live and what they pull in) costs start-up
    time that a run whose stderr is not a terminal would pay for nothing."""
    for i in range(4):
        k.write(tmp_path / "in" / f"p{i}.jpg", k.photo())
    imported = imported_by(
        "resize", tmp_path / "in", "--out", tmp_path / "out", "-j", "2", "--json"
    )
    assert "vision_cli.resizing" in imported  # the measurement works
    assert not imported & {"rich.progress", "rich.live", "rich.progress_bar"}
    assert not {m for m in imported if m.split(".")[0] in ("anthropic", "httpx", "httpx2")}


def test_markdown_totals_first_then_failures(run: Run, tmp_path: Path) -> None:
    src = tmp_path / "src"
    k.write(src / "big.jpg", k.photo())
    k.write(src / "broken.png", b"\x89PNG\r\n\x1a\n not really")
    result = run("resize", src, "--out", tmp_path / "out", "-f", "markdown")
    text = result.stdout
    assert result.exit_code == 1
    assert text.startswith("### ❌ vision-cli resize: 2 files, 1 failed")
    assert "| resized | converted | copied | failed |" in text
    assert text.index("| failed | why |") > text.index("| resized |")
    assert "`" + str(src / "broken.png") + "`" in text and "big.jpg" not in text


# --------------------------------------------------------------------------------------------------
# --skip-existing: an incremental resize step
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def small_set(tmp_path: Path) -> Path:
    """A JPEG and a PNG (their output's format is known from the header) and a BMP (the content
    decides between PNG and JPEG, so it is checked once prepared)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "photo.jpg").write_bytes(k.photo((2400, 1600)))
    (src / "shot.png").write_bytes(k.encode(k.flat_drawing((900, 600)), "PNG"))
    (src / "scan.bmp").write_bytes(k.encode(k.flat_drawing((300, 200)), "BMP"))
    return src


def test_skip_existing_skips_up_to_date_outputs(run: Run, small_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("resize", small_set, "--out", out).exit_code == 0
    before = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    again = run("resize", small_set, "--out", out)
    assert again.exit_code == 1 and "exists: pass --overwrite" in again.stdout  # as before
    result = run("resize", small_set, "--out", out, "--skip-existing", "--json")
    assert result.exit_code == 0, result.stdout
    doc = json.loads(result.stdout)
    assert [
        (Path(r["input"]).name, r["action"], Path(r["output"]).name) for r in doc["images"]
    ] == [
        ("photo.jpg", "skipped", "photo.jpg"),
        ("scan.bmp", "skipped", "scan.png"),
        ("shot.png", "skipped", "shot.png"),
    ]
    assert doc["summary"]["skipped"] == 3 and doc["summary"]["bytes_after"] == 0
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == before  # nothing written
    table = run("resize", small_set, "--out", out, "--skip-existing")
    assert "- skipped" in table.stdout and "up to date" in table.stdout
    assert "3 skipped, 0 failed" in table.stdout


def test_skip_existing_redoes_an_empty_or_cut_output(
    run: Run, small_set: Path, tmp_path: Path
) -> None:
    """An output emptied or cut short (a copy interrupted, a full disk) is newer than its input,
    and was skipped as up to date."""
    out = tmp_path / "out"
    assert run("resize", small_set, "--out", out).exit_code == 0
    (out / "photo.jpg").write_bytes(b"")
    shot = (out / "shot.png").read_bytes()
    (out / "shot.png").write_bytes(shot[: len(shot) // 2])
    code, recs = resize_jsonl(run, small_set, "--out", out, "--skip-existing", "--overwrite")
    assert code == 0
    assert [(Path(r["input"]).name, r["action"]) for r in recs] == [
        ("photo.jpg", "resized"),
        ("scan.bmp", "skipped"),
        ("shot.png", "copied"),
    ]
    assert (out / "shot.png").read_bytes() == shot and complete_image(out / "photo.jpg")


def test_skip_existing_still_fails_two_inputs_with_one_output(
    run: Run, small_set: Path, tmp_path: Path
) -> None:
    """``scan.bmp`` and ``scan.png`` both become ``scan.png``: the second fails, skipped or not
    (it was "up to date", exit 0, since the first had not claimed the name yet)."""
    (small_set / "scan.png").write_bytes(k.encode(k.flat_drawing((300, 200)), "PNG"))
    out = tmp_path / "out"
    for extra in ([], ["--skip-existing"]):
        code, recs = resize_jsonl(run, small_set, "--out", out, *extra)
        assert code == 1
        assert [(Path(r["input"]).name, r["action"]) for r in recs] == [
            ("photo.jpg", "skipped" if extra else "resized"),
            ("scan.bmp", "skipped" if extra else "converted"),
            ("scan.png", "failed"),
            ("shot.png", "skipped" if extra else "copied"),
        ]
        assert recs[2]["error"] == (
            f"{out / 'scan.png'} is already the output of {small_set / 'scan.bmp'}: rename one "
            "of them or resize them into different folders."
        )


def test_skip_existing_prepares_only_what_it_cannot_tell_from_the_header(
    run: Run, small_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The JPEG and the PNG (output named by their header) are not decoded at all, which is
    what makes the step fast; the BMP (the content decides PNG or JPEG) is prepared, then
    skipped."""
    from vision_cli.imaging import transform

    out = tmp_path / "out"
    assert run("resize", small_set, "--out", out).exit_code == 0
    prepared: list[int] = []
    real = transform.prepare

    def counting(data: bytes, *args: Any, **kwargs: Any) -> transform.PreparedImage:
        prepared.append(len(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(transform, "prepare", counting)  # -j 1: prepared in this process
    result = run("resize", small_set, "--out", out, "--skip-existing", "--json", "-j", "1")
    assert result.exit_code == 0
    assert {r["action"] for r in json.loads(result.stdout)["images"]} == {"skipped"}
    assert prepared == [(small_set / "scan.bmp").stat().st_size]


def test_skip_existing_redoes_what_changed(run: Run, small_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("resize", small_set, "--out", out).exit_code == 0
    future = time.time() + 60
    os.utime(small_set / "shot.png", (future, future))  # edited after its output was made
    os.utime(small_set / "scan.bmp", (future, future))
    stale = run("resize", small_set, "--out", out, "--skip-existing", "--json")
    actions = {Path(r["input"]).name: r["action"] for r in json.loads(stale.stdout)["images"]}
    assert actions == {"photo.jpg": "skipped", "scan.bmp": "failed", "shot.png": "failed"}
    assert stale.exit_code == 1  # an older output is replaced only with --overwrite
    fresh = run("resize", small_set, "--out", out, "--skip-existing", "--overwrite", "--json")
    actions = {Path(r["input"]).name: r["action"] for r in json.loads(fresh.stdout)["images"]}
    assert actions == {"photo.jpg": "skipped", "scan.bmp": "converted", "shot.png": "copied"}
    assert fresh.exit_code == 0


def test_skip_existing_needs_out(run: Run, small_set: Path) -> None:
    result = run("resize", small_set, "--in-place", "--skip-existing")
    assert result.exit_code == 2 and "--skip-existing goes with --out" in result.stderr


def test_the_summary_says_when_outputs_grew(run: Run, tmp_path: Path) -> None:
    """A noisy JPEG written as PNG grows: the summary says by how much, not "0 B saved"."""
    src = tmp_path / "noisy.jpg"
    src.write_bytes(k.encode(k.noise((400, 300)), "JPEG", quality=70))
    result = run("resize", src, "--out", tmp_path / "out", "--to", "png")
    assert result.exit_code == 0, result.stderr
    grown = (tmp_path / "out" / "noisy.png").stat().st_size - src.stat().st_size
    assert grown > 0
    summary = " ".join(result.stdout.split())
    assert f"({units.format_bytes(grown)} more);" in summary, summary
    assert "0 B saved" not in summary


@pytest.mark.parametrize("given", ["imgs", "imgs/*.bmp", "./imgs/"])
def test_out_that_holds_the_inputs_is_refused_before_anything_is_written(
    run: Run, make_image: MakeImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    """``resize imgs --out imgs`` failed the files whose output was themselves, and wrote
    imgs/d.png from imgs/d.bmp into the source tree, where the next run read it as an input."""
    make_image("imgs/a.png", (300, 200))
    make_image("imgs/d.bmp", (300, 200))
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in (tmp_path / "imgs").iterdir())
    result = run("resize", given, "--out", "imgs")
    assert result.exit_code == 2
    assert "holds the inputs" in " ".join(result.stderr.split())
    assert sorted(p.name for p in (tmp_path / "imgs").iterdir()) == before


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["resize", "a.png", "--out", "-"], "resize writes files"),
        (["ask", "a.png", "-p", "hi", "--conversation", "-", "--dry-run"], "- is not one"),
        (["locate", "a.png", "--find", "x", "--draw", "-", "--dry-run"], "--draw writes PNG"),
    ],
)
def test_a_dash_where_a_file_is_written_back_is_a_usage_error(
    run: Run,
    make_image: MakeImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    option: str,
) -> None:
    """``resize --out -`` made a folder named ``-``; ``--conversation -`` tried to read a file
    named ``-``. ``inspect -o -`` is standard output, as without ``-o``."""
    make_image("a.png", (300, 200))
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2
    assert option in " ".join(result.stderr.split())
    assert not (tmp_path / "-").exists()
    shown = run("inspect", "a.png", "-o", "-", "--format", "csv")
    assert shown.exit_code == 0 and shown.stdout.startswith("path,status,")
    assert not (tmp_path / "-").exists()


def test_the_markdown_report_and_the_table_write_counts_alike() -> None:
    """The Markdown title and totals and the table's summary wrote counts as Python prints an
    int (1234), beside ``1,234`` tokens: each writes ``1,234``."""
    from vision_cli.formats import Format
    from vision_cli.render.resize import ResizeReport, resize_markdown
    from vision_cli.resizing.summary import ResizeTotals

    t = ResizeTotals(model="claude-sonnet-5-5", price=3.0, files=2345, tokens_before=1234567)
    t.counts.update(resized=1234, failed=1111)
    markdown = resize_markdown(t, [])
    assert markdown.startswith("### ❌ vision-cli resize: 2,345 files, 1,111 failed")
    assert "| 1,234 | 0 | 0 | 1,111 |" in markdown
    table = io.StringIO()
    ResizeReport(Format.table, stream=table).finish(t)
    assert "2,345 files: 1,234 resized, 0 converted, 0 copied, 1,111 failed" in table.getvalue()
