"""--trim beyond resize and ask: priced by estimate (which then decodes each image), and combined
with --tile (trim first, then tile the trimmed image; offsets stay in the original)."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.conftest import Run, picture, records
from tests.fakeapi import FakeClaudeAPI
from tests.test_tiles import STANDARD, STANDARD_MODEL, standard_tier_model  # noqa: F401
from vision_cli import inspecting, judging, limits, policy, sources, tiling
from vision_cli.estimating import choosing, costing, tallying, trimming
from vision_cli.imaging import tiles

FUZZ = 25  # --trim-fuzz's default 10%, in levels


def framed(
    path: Path, content: tuple[int, int], border: tuple[int, int, int, int], colour: object
) -> Path:
    """``picture(content)`` inside borders (left, top, right, bottom) of one colour, saved."""
    left, top, right, bottom = border
    im = Image.new("RGB", (content[0] + left + right, content[1] + top + bottom), colour)  # type: ignore[arg-type]
    im.paste(picture(content), (left, top))
    im.save(path)
    return path


def noisy_scan(path: Path) -> Path:
    """A 1000x1400 scan: a 80 px margin of paper noise around the page's content."""
    rng = random.Random(11)
    im = Image.new("L", (1000, 1400))
    im.putdata([max(0, min(255, round(rng.gauss(242, 4)))) for _ in range(1000 * 1400)])
    im = im.convert("RGB")
    im.paste(picture((840, 1240)), (80, 80))
    im.save(path)
    return path


def _plan(
    trim_fuzz: int | None = FUZZ, tile: tiling.TileSpec | None = None
) -> costing.EstimatePlan:
    models = choosing.choose_models([STANDARD_MODEL])
    return costing.EstimatePlan(models=models, trim_fuzz=trim_fuzz, tile=tile)


def _row(path: Path, plan: costing.EstimatePlan) -> costing.EstimateRow:
    item = sources.Input(path.name, path=path)
    lim = judging.Limits(tier=plan.models[0].tier)
    rec = inspecting.check(item, inspecting.CheckOptions(model=STANDARD_MODEL, limits=lim))
    return trimming.trimmed_row(item, rec, None, plan, limits.PIXEL_BUDGET)


def _tokens(w: int, h: int) -> int:
    return policy.predict(w, h, policy.tier("standard")).tokens


@pytest.mark.parametrize(
    ("colour", "border"),
    [
        ("black", (0, 300, 0, 300)),  # letterboxing
        ("white", (120, 90, 150, 240)),  # scanner margins
        ((40, 44, 52), (0, 56, 0, 0)),  # one-colour window chrome
    ],
)
def test_estimate_core_prices_the_trimmed_image(
    tmp_path: Path, colour: object, border: tuple[int, int, int, int]
) -> None:
    src = framed(tmp_path / "framed.png", (1400, 700), border, colour)
    plan = _plan()
    row = _row(src, plan)
    width, height = Image.open(src).size
    assert (row.width, row.height) == (width, height)  # the image as it is
    assert row.trim == (border[0], border[1], border[0] + 1400, border[1] + 700)
    assert row.reference is not None and row.reference.tokens == _tokens(1400, 700)
    assert row.untrimmed_tokens == _tokens(width, height) > row.reference.tokens
    doc = row.as_dict(plan)
    assert doc["trim"] == list(row.trim) and doc["untrimmed_tokens"] == row.untrimmed_tokens
    assert doc["tokens"] == _tokens(1400, 700)


def test_estimate_core_a_noisy_margin_is_trimmed_and_no_border_is_left_alone(
    tmp_path: Path,
) -> None:
    plan = _plan()
    scan = _row(noisy_scan(tmp_path / "scan.png"), plan)
    assert scan.trim == (80, 80, 920, 1320)
    plain = _row(framed(tmp_path / "plain.png", (900, 600), (0, 0, 0, 0), "white"), plan)
    assert plain.trim is None and plain.untrimmed_tokens == plain.costs[0].tokens
    totals = tallying.total([scan, plain], plan)
    assert totals.trimmed == 1
    assert totals.tokens == scan.costs[0].tokens + plain.costs[0].tokens
    assert totals.untrimmed_tokens == _tokens(1000, 1400) + _tokens(900, 600)
    assert totals.as_dict(plan)["untrimmed_tokens"] == totals.untrimmed_tokens
    assert totals.as_dict(plan)["trimmed"] == 1
    assert "untrimmed_tokens" not in totals.as_dict(_plan(trim_fuzz=None))


def test_estimate_core_an_image_it_cannot_decode_is_flagged_not_priced(tmp_path: Path) -> None:
    src = framed(tmp_path / "cut.png", (600, 400), (0, 50, 0, 50), "black")
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2] + data[-12:])  # the header is fine, the data is not
    row = _row(src, _plan())
    assert not row.priced and row.trim is None
    assert any(f.code is judging.Code.UNREADABLE for f in row.errors)


def test_estimate_core_prices_trim_then_tile(tmp_path: Path) -> None:
    src = framed(tmp_path / "long.png", (1080, 9000), (200, 400, 200, 600), (255, 0, 255))
    plan = _plan(tile=tiling.TileSpec())
    row = _row(src, plan)
    ref = row.reference
    assert row.trim == (200, 400, 1280, 9400) and ref is not None
    grid = tiling.auto_grid(1080, 9000, STANDARD)
    assert ref.tiles == len(grid) > 1
    assert ref.tokens == sum(_tokens(t.width, t.height) for t in grid.tiles)
    assert ref.whole_tokens == _tokens(1080, 9000)


def _bordered_scroll(path: Path, marker: tuple[int, int]) -> Path:
    """A 1080x12000 scroll inside a grey frame (150 px left, 500 px top, 90 px right, 700 px
    bottom), with a 40 px black marker at ``marker`` in the framed image's pixels."""
    im = Image.new("RGB", (1080 + 240, 12000 + 1200), (90, 90, 90))
    page = Image.new("RGB", (1080, 12000), "white")
    draw = ImageDraw.Draw(page)
    for y in range(0, 12000, 40):
        draw.line([(20, y), (1060, y)], fill=(200, 200, 200), width=2)
    im.paste(page, (150, 500))
    x, y = marker
    ImageDraw.Draw(im).rectangle([x, y, x + 39, y + 39], fill="black")
    im.save(path)
    return path


def _dark_box(im: Image.Image) -> tuple[int, int, int, int] | None:
    return im.convert("L").point(lambda v: 255 if v < 60 else 0).getbbox()


def test_trim_then_tile_offsets_are_in_the_original(tmp_path: Path) -> None:
    marker = (650, 7500)
    data = _bordered_scroll(tmp_path / "scroll.png", marker).read_bytes()
    tiled = tiles.prepare_tiles(data, tiling.TileSpec(), size_policy=STANDARD, trim_fuzz=FUZZ)
    assert tiled is not None
    assert tiled.trim == (150, 500, 1230, 12500)
    assert (tiled.width, tiled.height) == (1320, 13200)  # the original's size
    assert (tiled.grid.width, tiled.grid.height) == (1080, 12000)  # the trimmed image is cut
    found = []
    for where, tile in zip(tiled.placements(), tiled.tiles, strict=True):
        box = _dark_box(Image.open(io.BytesIO(tile.data)))
        if box is not None:
            found.append(where.to_original(box[0], box[1]))
    assert found
    for x, y in found:
        assert abs(x - marker[0]) <= 3 and abs(y - marker[1]) <= 3
    first = tiled.placements()[0]
    assert (first.left, first.top) == (150, 500)


# -- through the commands --------------------------------------------------------------------


def _inputs(folder: Path) -> list[Path]:
    folder.mkdir()
    photo = folder / "photo.jpg"
    Image.open(framed(folder / "tmp.png", (1600, 900), (0, 180, 0, 180), "black")).save(
        photo, quality=92
    )
    (folder / "tmp.png").unlink()
    return [
        framed(folder / "letterbox.png", (1400, 700), (0, 300, 0, 300), "black"),
        framed(folder / "margins.png", (900, 1200), (120, 90, 150, 240), "white"),
        framed(folder / "chrome.png", (1200, 800), (0, 56, 0, 0), (40, 44, 52)),
        noisy_scan(folder / "scan.png"),
        framed(folder / "plain.png", (900, 600), (0, 0, 0, 0), "white"),
        photo,
    ]


def test_estimate_trim_equals_what_resize_trim_writes(run: Run, tmp_path: Path) -> None:
    srcs = _inputs(tmp_path / "in")
    doc = json.loads(run("estimate", *srcs, "--trim", "--json").stdout)
    rows = {Path(r["path"]).name: r for r in doc["images"]}
    result = run("resize", *srcs, "--out", tmp_path / "out", "--trim", "-f", "jsonl")
    assert result.exit_code == 0, result.stderr
    written = {Path(r["input"]).name: r for r in records(result)}
    for name, rec in written.items():
        out = Image.open(rec["output"])
        assert rows[name]["tokens"] == _tokens(*out.size), name  # the tokens of the written file
        assert rows[name]["trim"] == rec["trim"], name
        assert rows[name]["untrimmed_tokens"] == _tokens(rec["width_before"], rec["height_before"])
    assert rows["plain.png"]["trim"] is None
    assert rows["photo.jpg"]["trim"] is not None
    summary = doc["summary"]
    assert summary["tokens"] == sum(r["tokens"] for r in doc["images"])
    assert summary["untrimmed_tokens"] == sum(r["untrimmed_tokens"] for r in doc["images"])
    assert summary["untrimmed_tokens"] > summary["tokens"]
    assert summary["trimmed"] == 5


def test_estimate_trim_in_every_format(run: Run, tmp_path: Path) -> None:
    src = framed(tmp_path / "letterbox.png", (1400, 700), (0, 300, 0, 300), "black")
    plain = framed(tmp_path / "plain.png", (900, 600), (0, 0, 0, 0), "white")
    trimmed, untrimmed = _tokens(1400, 700), _tokens(1400, 1300)
    whole = _tokens(900, 600)
    table = run("estimate", src, plain, "--trim")
    assert table.exit_code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[5:7] == ["trimmed", "untrimmed"]
    assert f"1400x700 {untrimmed:,}" in " ".join(lines[1].split())
    assert f"- {whole:,}" in " ".join(lines[2].split())
    saved = untrimmed - trimmed
    footer = (
        f"With --trim (fuzz 26 of 255 levels): {trimmed + whole:,} tokens; untrimmed "
        f"{untrimmed + whole:,} ({saved:,} fewer; borders cut on 1 of 2 images)."
    )
    assert footer in table.stdout
    md = run("estimate", src, plain, "--trim", "-f", "markdown")
    assert footer in md.stdout
    csv_rows = list(csv.DictReader(io.StringIO(run("estimate", src, "--trim", "-f", "csv").stdout)))
    assert csv_rows[0]["trim"] == "[0, 300, 1400, 1000]"
    assert csv_rows[0]["untrimmed_tokens"] == str(untrimmed)
    assert csv_rows[0]["tokens"] == str(trimmed)
    jsonl = records(run("estimate", src, "--trim", "-f", "jsonl"))
    assert jsonl[0]["trim"] == [0, 300, 1400, 1000]
    nothing = run("estimate", plain, "--trim")
    assert "With --trim (fuzz 26 of 255 levels): no borders to cut." in nothing.stdout


def test_estimate_reads_headers_only_without_trim(run: Run, tmp_path: Path) -> None:
    src = framed(tmp_path / "cut.png", (600, 400), (0, 50, 0, 50), "black")
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2] + data[-12:])
    plain = run("estimate", src, "--json")
    assert plain.exit_code == 0  # the header is fine: nothing was decoded
    row = json.loads(plain.stdout)["images"][0]
    assert "trim" not in row and "untrimmed_tokens" not in row
    trimmed = run("estimate", src, "--trim", "--json")
    assert trimmed.exit_code == 1 and "unreadable" in trimmed.stderr and "cut.png" in trimmed.stderr


def test_resize_trim_then_tile_marker_maps_back_to_the_original(run: Run, tmp_path: Path) -> None:
    marker = (650, 7500)
    src = _bordered_scroll(tmp_path / "scroll.png", marker)
    out = tmp_path / "out"
    result = run("resize", src, "--out", out, "--tile", "--trim", "-f", "jsonl")
    assert result.exit_code == 0, result.stderr
    (rec,) = records(result)
    assert rec["action"] == "tiled" and rec["trim"] == [150, 500, 1230, 12500]
    assert (rec["width_before"], rec["height_before"]) == (1320, 13200)
    doc = json.loads((out / "scroll.tiles.json").read_text())
    assert (doc["width"], doc["height"], doc["trim"]) == (1320, 13200, [150, 500, 1230, 12500])
    assert doc["tiles"][0]["offset"] == [150, 500]
    found = []
    for tile in doc["tiles"]:
        box = _dark_box(Image.open(out / tile["file"]))
        if box is not None:
            (ox, oy), (sx, sy) = tile["offset"], tile["scale"]
            found.append((tile["index"], ox + box[0] * sx, oy + box[1] * sy))
    assert found
    for _, x, y in found:
        assert abs(x - marker[0]) <= 3 and abs(y - marker[1]) <= 3
    grid = tiling.auto_grid(1080, 12000, STANDARD)
    inside = [t.index for t in grid.tiles if t.top <= marker[1] - 500 < t.top + t.height]
    assert [i for i, _, _ in found] == inside  # the right tile(s): those holding its place
    estimate = json.loads(run("estimate", src, "--tile", "--trim", "--json").stdout)["images"][0]
    assert estimate["tokens"] == rec["tokens_after"] and estimate["tiles"] == rec["tiles"]
    assert estimate["trim"] == rec["trim"]
    table = run("estimate", src, "--tile", "--trim").stdout
    change = estimate["untrimmed_tokens"] - estimate["tokens"]
    said = f"{change:,} fewer" if change >= 0 else f"{-change:,} more"
    assert f"untrimmed {estimate['untrimmed_tokens']:,} ({said};" in table


def test_ask_and_compare_trim_then_tile(run: Run, api: FakeClaudeAPI, tmp_path: Path) -> None:
    src = _bordered_scroll(tmp_path / "scroll.png", (650, 7500))
    assert run("ask", src, "--tile", "--trim", "-p", "Read it.").exit_code == 0
    (request,) = api.messages_requests()
    grid = tiling.auto_grid(1080, 12000, STANDARD)
    assert len(request.images) == len(grid)
    assert sum(i.tokens for i in request.images) == sum(
        _tokens(t.width, t.height) for t in grid.tiles
    )
    photo = framed(tmp_path / "photo.png", (800, 600), (0, 0, 0, 0), "white")
    both = run("compare", photo, src, "--tile", "--trim")
    assert both.exit_code == 0, both.stderr
    assert len(api.messages_requests()[-1].images) == 1 + len(grid)


def test_ask_each_trims_then_tiles_each_image(run: Run, api: FakeClaudeAPI, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _bordered_scroll(folder / "a.png", (650, 7500))
    framed(folder / "b.png", (640, 480), (0, 60, 0, 60), "black")
    result = run("ask", folder, "--each", "--tile", "--trim", "-o", tmp_path / "out.jsonl")
    assert result.exit_code == 0, result.stderr
    sent = sorted(
        ([(i.width, i.height) for i in r.images] for r in api.messages_requests()), key=len
    )
    assert sent[0] == [(640, 480)]  # trimmed, and too small to tile
    assert len(sent[1]) == len(tiling.auto_grid(1080, 12000, STANDARD))
