"""--snap and the commands' --tile: the pure --snap arithmetic, then --tile through resize, ask,
compare and --each (the grid arithmetic itself is in test_tiling.py)."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from tests.conftest import Run, records
from tests.fakeapi import FakeClaudeAPI
from vision_cli import policy
from vision_cli.policy import SizePolicy

STANDARD = SizePolicy.native(policy.tier("standard"))
HIGH_RES = SizePolicy.native(policy.tier("high-res"))
#: An active model of the standard tier.
STANDARD_MODEL = "claude-sonnet-4-6"


@pytest.fixture(autouse=True)
def standard_tier_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The counts here are for a model of the standard tier (1568 px); the default model (the
    newest of its line in the table) may be of another tier."""
    monkeypatch.setenv("VISION_CLI_MODEL", STANDARD_MODEL)


lengths = st.integers(min_value=1, max_value=12000)
shares = st.fractions(min_value=0, max_value=Fraction(99, 100))


# -- snap ------------------------------------------------------------------------------------


def test_snap_known_answer_from_the_issue() -> None:
    # 1000x1000 costs 36 x 36 = 1,296 tokens; 980x980 costs 35 x 35 = 1,225
    assert policy.snap(1000, 1000) == (980, 980)
    assert policy.patch_tokens(980, 980) == 1225


def test_snap_leaves_what_would_shrink_too_much() -> None:
    assert policy.snap(500, 1010) == (500, 1008)  # 476 would take 4.8%, 1008 takes 0.2%
    assert policy.snap(1010, 1010, Fraction(0)) == (1010, 1010)
    assert policy.snap(29, 29) == (29, 29)  # 28 would take 3.4%


@given(lengths, lengths, shares)
@example(1000, 1000, Fraction(3, 100))
def test_snap_never_shrinks_more_than_allowed_never_costs_more(
    w: int, h: int, most: Fraction
) -> None:
    sw, sh = policy.snap(w, h, most)
    assert sw <= w and sh <= h
    assert Fraction(w - sw, w) <= most and Fraction(h - sh, h) <= most
    assert policy.patch_tokens(sw, sh) <= policy.patch_tokens(w, h)


@given(lengths, lengths, shares)
def test_snap_is_idempotent(w: int, h: int, most: Fraction) -> None:
    once = policy.snap(w, h, most)
    assert policy.snap(*once, most) == once


@given(lengths, lengths)
def test_snap_saves_a_patch_whenever_it_changes_an_edge(w: int, h: int) -> None:
    sw, sh = policy.snap(w, h)
    if (sw, sh) != (w, h):
        assert policy.patch_tokens(sw, sh) < policy.patch_tokens(w, h)
        assert sw % 28 == 0 or sw == w
        assert sh % 28 == 0 or sh == h


@given(lengths, lengths)
def test_size_policy_with_snap_stays_within_the_policy(w: int, h: int) -> None:
    snapped = SizePolicy(1568, max_tokens=1568, snap_max=Fraction(3, 100))
    tw, th = snapped.target(w, h)
    fw, fh = STANDARD.target(w, h)
    assert tw <= fw and th <= fh
    assert policy.patch_tokens(tw, th) <= policy.patch_tokens(fw, fh)


@pytest.mark.parametrize(
    ("text", "value"),
    [("3%", Fraction(3, 100)), ("2.5%", Fraction(1, 40)), ("0.05", Fraction(1, 20))],
)
def test_parse_share(text: str, value: Fraction) -> None:
    assert policy.parse_share(text) == value


@pytest.mark.parametrize("text", ["", "abc", "100%", "-1%", "1.5"])
def test_parse_share_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="percentage"):
        policy.parse_share(text)


# -- resize --tile ---------------------------------------------------------------------------


def _scroll_with_marker(path: Path, size: tuple[int, int], marker: tuple[int, int]) -> Path:
    im = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(im)
    for y in range(0, size[1], 40):  # lines of "text", so there is something to read
        draw.line([(20, y), (size[0] - 20, y)], fill=(200, 200, 200), width=2)
    x, y = marker
    draw.rectangle([x, y, x + 39, y + 39], fill="black")
    im.save(path)
    return path


def _dark_box(path: Path) -> tuple[int, int, int, int] | None:
    grey = Image.open(path).convert("L")
    return grey.point(lambda v: 255 if v < 60 else 0).getbbox()


def test_a_sidecar_names_tiles_of_a_name_that_is_not_utf8_as_json_records_do(
    run: Run, tmp_path: Path
) -> None:
    """Names are bytes: the tiles keep the original's bytes, and the sidecar gives each name
    with ``\\udcff`` escapes and its bytes in base64 (``source_bytes``, ``file_bytes``)."""
    import base64
    import os

    raw = b"scan\xff"
    src = _scroll_with_marker(tmp_path / os.fsdecode(raw + b".png"), (600, 6000), (100, 100))
    out = tmp_path / "out"
    result = run("resize", src, "--out", out, "--tile", "2x1")
    assert result.exit_code == 0, result.stderr
    written = sorted(os.listdir(os.fsencode(out)))
    assert written == [raw + b".tile-01.png", raw + b".tile-02.png", raw + b".tiles.json"]
    doc = json.loads((out / os.fsdecode(raw + b".tiles.json")).read_bytes().decode("utf-8"))
    assert os.fsencode(doc["source"]).endswith(raw + b".png")
    assert base64.b64decode(doc["source_bytes"]) == os.fsencode(doc["source"])
    for tile, name in zip(doc["tiles"], written, strict=False):
        assert os.fsencode(tile["file"]) == name
        assert base64.b64decode(tile["file_bytes"]) == name


def test_resize_tile_auto_writes_tiles_and_a_sidecar_that_maps_back(
    run: Run, tmp_path: Path
) -> None:
    src = _scroll_with_marker(tmp_path / "scroll.png", (1080, 12000), (500, 7000))
    out = tmp_path / "out"
    result = run("resize", src, "--out", out, "--tile", "auto", "-f", "jsonl")
    assert result.exit_code == 0, result.stderr
    (rec,) = records(result)
    assert rec["action"] == "tiled" and rec["tiles"] == 8
    assert rec["output"] == str(out / "scroll.tiles.json")
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"scroll.tile-0{n}.png" for n in range(1, 9)] + ["scroll.tiles.json"]
    doc = json.loads((out / "scroll.tiles.json").read_text())
    assert (doc["width"], doc["height"], doc["rows"], doc["columns"]) == (1080, 12000, 8, 1)
    tiles = doc["tiles"]
    assert [t["file"] for t in tiles] == names[:-1]
    assert tiles[0]["label"] == "tile 1 of 8, top" and tiles[-1]["label"] == "tile 8 of 8, bottom"
    overlap = doc["overlap"][1]
    for upper, lower in itertools.pairwise(tiles):  # exact overlap, in original pixels
        bottom = upper["offset"][1] + upper["size"][1] * upper["scale"][1]
        assert bottom - lower["offset"][1] == pytest.approx(overlap)
    found = []
    for tile in tiles:
        w, h = Image.open(out / tile["file"]).size
        assert [w, h] == tile["size"]
        assert max(w, h) <= 1568 and policy.patch_tokens(w, h) <= 1568
        box = _dark_box(out / tile["file"])
        if box is not None:
            sx, sy = tile["scale"]
            ox, oy = tile["offset"]
            found.append((ox + box[0] * sx, oy + box[1] * sy))
    assert found  # the marker is in a tile, at its place in the original (within a pixel or two)
    for x, y in found:
        assert abs(x - 500) <= 3 and abs(y - 7000) <= 3
    assert rec["tokens_after"] == sum(
        policy.patch_tokens(*Image.open(out / t["file"]).size) for t in tiles
    )


def test_resize_tile_grid_photo_and_refusals(run: Run, tmp_path: Path, make_image: Any) -> None:
    photo = make_image("photo.jpg", (3000, 2000))
    out = tmp_path / "out"
    grid = records(run("resize", photo, "--out", out, "--tile", "2x2", "-f", "jsonl"))
    assert grid[0]["tiles"] == 4 and grid[0]["format_after"] == "JPEG"
    assert (out / "photo.tile-04.jpg").exists()
    labels = [t["label"] for t in json.loads((out / "photo.tiles.json").read_text())["tiles"]]
    assert labels[0] == "tile 1 of 4, top left" and labels[3] == "tile 4 of 4, bottom right"
    again = records(run("resize", photo, "--out", out, "--tile", "2x2", "-f", "jsonl"))
    assert again[0]["action"] == "failed" and "exists" in again[0]["error"]
    # a set not written has no output figures (they counted as if written) and no findings of
    # tiles that do not exist (the table showed the first's code after the error)
    assert again[0]["bytes_before"] == photo.stat().st_size and again[0]["findings"] == []
    assert all(again[0][f] is None for f in ("bytes_after", "tokens_after", "width_after"))
    auto = records(
        run("resize", photo, "--out", tmp_path / "auto", "--tile", "auto", "-f", "jsonl")
    )
    assert auto[0]["action"] == "resized" and auto[0]["tiles"] is None  # a photo needs no tiles
    dry = run("resize", photo, "--out", tmp_path / "dry", "--tile", "3x1", "--dry-run")
    assert dry.exit_code == 0 and not (tmp_path / "dry").exists()
    assert "3 tiles" in dry.stdout
    for bad in (["--tile", "3"], ["--tile", "2x2", "--in-place"], ["--tile-overlap", "10"]):
        result = run(
            "resize",
            photo,
            *(["--out", str(tmp_path / "o")] if "--in-place" not in bad else []),
            *bad,
        )
        assert result.exit_code == 2, bad
    too_fine = records(
        run("resize", photo, "--out", tmp_path / "f", "--tile", "1x200", "-f", "jsonl")
    )
    assert too_fine[0]["action"] == "failed" and "--tile-overlap" in too_fine[0]["error"]


def test_tile_auto_leaves_a_needle_whole_and_tiles_say_what_is_wrong_with_them(
    run: Run, tmp_path: Path
) -> None:
    """A 3 px wide needle was cut into 4 tiles as thin as itself (twice the tokens), since its
    fit is under 200 px wide; and the tiled record dropped its tiles' ``too-small`` warning."""
    needle = tmp_path / "needle.png"
    Image.new("RGB", (3, 5000), (200, 10, 10)).save(needle)
    (auto,) = records(
        run("resize", needle, "--out", tmp_path / "a", "--tile", "auto", "-f", "jsonl")
    )
    assert auto["action"] == "resized" and auto["tiles"] is None
    (grid,) = records(
        run("resize", needle, "--out", tmp_path / "g", "--tile", "2x1", "-f", "jsonl")
    )
    assert grid["action"] == "tiled" and grid["tiles"] == 2
    assert [f["code"] for f in grid["findings"]] == ["too-small"]  # once for both tiles


def test_a_grid_the_image_cannot_take_fails_it_in_estimate_as_in_resize_and_ask(
    run: Run, tmp_path: Path
) -> None:
    """estimate priced an image whose --tile grid cannot be cut as one whole tile, with exit 0,
    while resize and ask fail it: now it is listed, not priced, with the same sentence."""
    image = tmp_path / "k.png"
    Image.new("RGB", (1000, 1000), "white").save(image)
    grid = ["--tile", "2x2", "--tile-overlap", "100000"]
    sentence = "1000 px cannot be cut into 2 tiles overlapping by 100000 px"
    estimate = run("estimate", image, *grid, "--json")
    assert estimate.exit_code == 1, estimate.stderr
    (row,) = json.loads(estimate.stdout)["images"]
    assert row["tokens"] is None and row["tiles"] is None
    assert f"Error: too-small ({image}): {sentence}" in " ".join(estimate.stderr.split())
    resized = records(run("resize", image, "--out", tmp_path / "o", *grid, "-f", "jsonl"))
    assert resized[0]["action"] == "failed" and resized[0]["error"].startswith(sentence)
    asked = run("ask", image, *grid, "--dry-run")
    assert asked.exit_code == 1 and sentence in " ".join(asked.stderr.split())
    for command in (["estimate"], ["ask", "--dry-run"], ["resize", "--out", str(tmp_path / "h")]):
        huge = run(*command, image, "--tile", "999999999999x1")
        assert huge.exit_code == 2 and "more than the 600 images" in " ".join(
            huge.stderr.replace("│", " ").split()
        ), command


# -- ask / compare --tile --------------------------------------------------------------------


def _labels(body: dict[str, Any]) -> list[str]:
    content = body["messages"][-1]["content"]
    return [b["text"] for b in content if b["type"] == "text"]


def test_ask_tile_sends_the_tiles_of_one_image_together_labelled(
    run: Run, api: FakeClaudeAPI, tmp_path: Path, make_image: Any
) -> None:
    scroll = _scroll_with_marker(tmp_path / "scroll.png", (1080, 12000), (500, 7000))
    result = run("ask", scroll, "--tile", "auto", "-p", "Read it.")
    assert result.exit_code == 0, result.stderr
    (request,) = api.messages_requests()
    assert _labels(request.body) == [
        "Image 1 (tile 1 of 8, top):",
        *[f"Image 1 (tile {n} of 8, row {n}):" for n in range(2, 8)],
        "Image 1 (tile 8 of 8, bottom):",
        "Read it.",
    ]
    for image in request.images:
        assert image.width is not None and image.height is not None
        assert max(image.width, image.height) <= 1568 and image.tokens <= 1568
        assert image.width > 800  # readable, where the whole image would be 141 px wide
    photo = make_image("photo.png", (800, 600))
    both = run("compare", photo, scroll, "--tile", "auto")
    assert both.exit_code == 0, both.stderr
    labels = _labels(api.messages_requests()[-1].body)
    assert labels[:3] == [
        "Image 1:",
        "Image 2 (tile 1 of 8, top):",
        "Image 2 (tile 2 of 8, row 2):",
    ]


def test_ask_tile_respects_the_many_image_rules(
    run: Run, api: FakeClaudeAPI, tmp_path: Path
) -> None:
    tall = [
        _scroll_with_marker(tmp_path / f"tall{n}.png", (600, 8000), (100, 100)) for n in range(6)
    ]
    result = run("ask", *tall, "--tile", "auto", "-m", "claude-opus-4-7")
    assert result.exit_code == 0, result.stderr
    (request,) = api.messages_requests()
    assert len(request.images) > 20  # so the fake checked every image against 2000 px
    assert all(max(i.width or 0, i.height or 0) <= 2000 for i in request.images)
    few = run("ask", *tall[:2], "--tile", "auto", "-m", "claude-opus-4-7", "--dry-run", "--json")
    sizes = json.loads(few.stdout)["estimate"]
    assert sizes["image_blocks"] < 20


def test_ask_tile_dry_run_says_how_many_blocks_and_the_whole_cost(run: Run, tmp_path: Path) -> None:
    scroll = _scroll_with_marker(tmp_path / "scroll.png", (1080, 12000), (500, 7000))
    dry = run("ask", scroll, "--tile", "auto", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.stderr
    doc = json.loads(dry.stdout)
    est = doc["estimate"]
    standard = policy.tier("standard")
    assert est["image_blocks"] == 8
    assert est["whole_image_tokens"] == policy.predict(1080, 12000, standard).tokens
    assert est["image_tokens"] > 7 * est["whole_image_tokens"]
    human = run("ask", scroll, "--tile", "auto", "--dry-run")
    assert "Tiled: 8 image blocks" in human.stderr
    assert run("ask", scroll, "--tile", "auto", "--no-resize", "--dry-run").exit_code == 2


def test_ask_each_tiles_each_image_in_its_own_request(
    run: Run, api: FakeClaudeAPI, tmp_path: Path, make_image: Any
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _scroll_with_marker(folder / "a.png", (9000, 300), (4000, 100))
    make_image("b.png", (640, 480), folder=folder)
    out = tmp_path / "results.jsonl"
    result = run("ask", folder, "--each", "--tile", "auto", "-o", out)
    assert result.exit_code == 0, result.stderr
    counts = sorted(len(r.images) for r in api.messages_requests())
    assert counts == [1, 6]


# -- a bare --tile means auto ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["a.png", "--tile"], ["a.png", "--tile=auto"]),
        (["--tile", "a.png"], ["--tile=auto", "a.png"]),
        (["--tile", "--json", "a.png"], ["--tile=auto", "--json", "a.png"]),
        (["--tile", "3x1", "a.png"], ["--tile", "3x1", "a.png"]),
        (["--tile", "AUTO"], ["--tile", "AUTO"]),
        (["--tile", "0x3"], ["--tile", "0x3"]),  # refused later as a grid, not read as a file
        (["--tile", "3"], ["--tile", "3"]),
        (["--tile", "3x1.png"], ["--tile=auto", "3x1.png"]),
        (["--tile", "clip:"], ["--tile=auto", "clip:"]),
        (["--tile", "-"], ["--tile=auto", "-"]),
        (["--tile=2x2", "a.png"], ["--tile=2x2", "a.png"]),
        (["-p", "--tile", "a.png"], ["-p", "--tile", "a.png"]),  # the prompt is "--tile"
        (["a.png", "--", "--tile"], ["a.png", "--", "--tile"]),  # after --, an input
    ],
)
def test_bare_tile_means_auto(args: list[str], expected: list[str]) -> None:
    from vision_cli.cli.common import bare_tile_means_auto

    assert bare_tile_means_auto(args, frozenset({"--tile", "-p"})) == expected


def test_a_bare_tile_tiles_in_every_command(run: Run, tmp_path: Path) -> None:
    """``--tile`` alone, before an input or last, is ``--tile auto`` for estimate and resize (and
    ask and compare, which share the command class); a grid after it is still its value."""
    wide = tmp_path / "wide.png"
    Image.new("RGB", (9000, 300), "white").save(wide)
    before = run("estimate", "--tile", wide, "--json")
    assert before.exit_code == 0, before.stderr
    last = run("estimate", wide, "--json", "--tile")
    assert json.loads(before.stdout)["images"][0]["tiles"] > 1
    assert json.loads(last.stdout) == json.loads(before.stdout)
    out = tmp_path / "out"
    resized = run("resize", wide, "--out", out, "-f", "jsonl", "--tile")
    assert resized.exit_code == 0, resized.stderr
    assert records(resized)[0]["action"] == "tiled"
    grid = run("estimate", "--tile", "1x2", wide, "--json")
    assert json.loads(grid.stdout)["images"][0]["tiles"] == 2
    bad = run("estimate", "--tile", "0x3", wide)
    assert bad.exit_code == 2 and "grid" in bad.stderr
    dry = run("ask", "--tile", wide, "-p", "Read it", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert "tile 1 of" in dry.stdout


def test_nothing_the_gate_refuses_is_tiled_written_or_sent(
    run: Run, api: FakeClaudeAPI, tmp_path: Path
) -> None:
    """Tiles go through the one gate: a long image whose bytes are cut short is refused with the
    gate's code and sentence by resize and ask alike, no tile is written and nothing is sent."""
    whole = _scroll_with_marker(tmp_path / "whole.png", (1080, 12000), (500, 7000))
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    out = tmp_path / "out"
    resized = run("resize", cut, "--out", out, "--tile", "--verify", "-f", "jsonl")
    assert resized.exit_code == 1, resized.stderr
    (rec,) = records(resized)
    assert rec["action"] == "failed" and rec["findings"][0]["code"] == "unreadable"
    assert not out.exists() or not any(out.iterdir())
    asked = run("ask", cut, "--tile", "-p", "Read it.")
    assert asked.exit_code == 1
    assert "cut.png" in asked.stderr and "unreadable" in asked.stderr
    assert api.messages_requests() == []


# -- resize --skip-existing --tile -----------------------------------------------------------


def test_skip_existing_with_tiles(run: Run, tmp_path: Path, make_image: Any) -> None:
    """A set is up to date when its sidecar and every tile it lists are newer than the input;
    an incomplete set is tiled again, replacing what is left of it only with --overwrite."""
    import os

    src = _scroll_with_marker(tmp_path / "scroll.png", (600, 6000), (100, 100))
    out = tmp_path / "out"
    args = ["resize", src, "--out", out, "--tile", "2x1", "--skip-existing", "-f", "jsonl"]
    assert records(run(*args))[0]["action"] == "tiled"
    files = sorted(out.iterdir())
    stamps = [p.stat().st_mtime_ns for p in files]
    again = run(*args)
    assert again.exit_code == 0, again.stderr
    (rec,) = records(again)
    assert (rec["action"], rec["output"]) == ("skipped", str(out / "scroll.tiles.json"))
    assert [p.stat().st_mtime_ns for p in files] == stamps  # nothing read, nothing written

    (out / "scroll.tile-02.png").unlink()  # a tile missing: the set is tiled again
    refused = run(*args)
    assert refused.exit_code == 1
    assert "scroll.tile-01.png exists: pass --overwrite" in records(refused)[0]["error"]
    assert records(run(*args, "--overwrite"))[0]["action"] == "tiled"
    assert (out / "scroll.tile-02.png").exists()

    (out / "scroll.tiles.json").unlink()  # a run cut short before its sidecar
    assert records(run(*args))[0]["action"] == "failed"
    assert records(run(*args, "--overwrite"))[0]["action"] == "tiled"
    assert records(run(*args))[0]["action"] == "skipped"

    later = (out / "scroll.tiles.json").stat().st_mtime + 10
    os.utime(src, (later, later))  # the input changed since: not up to date
    assert records(run(*args, "--overwrite"))[0]["action"] == "tiled"

    photo = make_image("photo.png", (800, 600))  # --tile auto needs no tiles: a whole output
    auto = ["resize", photo, "--out", out, "--tile", "auto", "--skip-existing", "-f", "jsonl"]
    assert records(run(*auto))[0]["action"] == "copied"
    (rec,) = records(run(*auto))
    assert (rec["action"], rec["output"]) == ("skipped", str(out / "photo.png"))


def test_the_resize_summary_says_tiles_cost_more_not_a_negative_saving(
    run: Run, tmp_path: Path
) -> None:
    """Tiles can cost more tokens than the image whole: the summary said "(-304 saved:
    $-0.61 ...)"; it says how many more, as it does for bytes."""
    image = tmp_path / "k.png"
    Image.new("RGB", (1000, 1000), "white").save(image)
    result = run("resize", image, "--tile", "4x4", "--out", tmp_path / "o")
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert " tokens (" in said and " more: $" in said and " more per 1,000 sends" in said
    assert "saved: $-" not in said and "(-" not in said  # no negative figure


def test_re_tiling_with_overwrite_removes_the_earlier_sets_extra_tiles(
    run: Run, tmp_path: Path
) -> None:
    """Tiled into 8, then into 3 with --overwrite: tiles 4 to 8 of the first set stayed, and a
    folder of tiles is sent whole. The tiles the earlier sidecar listed and the new set does not
    replace are removed; any other file is left alone."""
    image = tmp_path / "scroll.png"
    Image.new("RGB", (1080, 12000), "white").save(image)
    out = tmp_path / "tiles"
    assert run("resize", image, "--tile", "8x1", "--out", out).exit_code == 0
    (out / "scroll.tile-99.png").write_bytes(b"mine")  # not in the sidecar: not ours to remove
    (out / "notes.txt").write_text("mine")
    again = run("resize", image, "--tile", "3x1", "--out", out, "--overwrite")
    assert again.exit_code == 0, again.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "notes.txt",
        "scroll.tile-01.png",
        "scroll.tile-02.png",
        "scroll.tile-03.png",
        "scroll.tile-99.png",
        "scroll.tiles.json",
    ]
    dry = run("resize", image, "--tile", "2x1", "--out", out, "--overwrite", "--dry-run")
    assert dry.exit_code == 0 and (out / "scroll.tile-03.png").exists()  # a dry run removes none


def test_ask_and_estimate_agree_on_what_tiled_images_would_cost_whole_with_snap(
    run: Run, tmp_path: Path
) -> None:
    """With --snap, ask's "sent whole they would be" left the snap out (1,780 against
    estimate's 1,666 in the sweep): both fit and snap the whole image as it would be sent."""
    flat, noisy = tmp_path / "flat.png", tmp_path / "noisy.png"
    Image.new("RGB", (1000, 1000), "white").save(flat)
    Image.effect_noise((900, 700), 60).convert("RGB").save(noisy)
    for extra in ((), ("--snap",), ("--snap", "--trim")):
        args = [flat, noisy, "--tile", "2x2", *extra]
        asked = json.loads(run("compare", *args, "--dry-run", "--json").stdout)["estimate"]
        priced = json.loads(run("estimate", *args, "--json").stdout)["summary"]
        assert asked["whole_image_tokens"] == priced["whole_tokens"], extra
        assert asked["image_tokens"] == priced["tokens"], extra
