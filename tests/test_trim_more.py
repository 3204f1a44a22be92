"""--trim beyond resize and ask: priced by estimate (which then decodes each image), and combined
with --tile (trim first, then tile the trimmed image; offsets stay in the original)."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.conftest import picture
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
