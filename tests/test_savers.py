"""Token savers through the commands: --snap in resize, ask and estimate."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import MakeImage, Run, records
from tests.fakeapi import FakeClaudeAPI
from tests.test_tiles import standard_tier_model  # noqa: F401 (autouse: the standard tier)
from vision_cli import policy, tiling


def test_resize_snap_drops_the_partial_patch_row_and_column(
    run: Run, make_image: MakeImage, tmp_path: Path
) -> None:
    src = make_image("square.png", (1000, 1000))
    plain = records(run("resize", src, "--out", tmp_path / "plain", "-f", "jsonl"))
    assert (plain[0]["width_after"], plain[0]["tokens_after"]) == (1000, 1296)
    snapped = run("resize", src, "--out", tmp_path / "snap", "--snap", "-f", "jsonl")
    assert snapped.exit_code == 0, snapped.stderr
    (rec,) = records(snapped)
    assert (rec["width_after"], rec["height_after"]) == (980, 980)
    assert (rec["tokens_before"], rec["tokens_after"]) == (1296, 1225)
    table = run("resize", src, "--out", tmp_path / "t", "--snap")
    assert "1,296 → 1,225 tokens" in table.stdout
    strict = records(
        run("resize", src, "--out", tmp_path / "s", "--snap", "--snap-max", "1%", "-f", "jsonl")
    )
    assert strict[0]["width_after"] == 1000  # 20 px of 1000 is 2%: over the limit


def test_a_bad_snap_max_is_a_usage_error(run: Run, make_image: MakeImage, tmp_path: Path) -> None:
    src = make_image("a.png")
    for command in (["resize", src, "--out", tmp_path / "o"], ["ask", src, "--dry-run"]):
        result = run(*command, "--snap", "--snap-max", "lots")
        assert result.exit_code == 2 and "--snap-max" in result.stderr


def test_ask_snap_sends_the_snapped_size(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    src = make_image("square.png", (1000, 1000))
    assert run("ask", src, "--snap").exit_code == 0
    assert run("ask", src).exit_code == 0
    snapped, plain = api.messages_requests()
    assert [(i.width, i.height, i.tokens) for i in snapped.images] == [(980, 980, 1225)]
    assert [(i.width, i.height, i.tokens) for i in plain.images] == [(1000, 1000, 1296)]


def test_estimate_shows_what_snap_would_save_and_prices_it_when_asked(run: Run) -> None:
    plain = run("estimate", "--size", "1000x1000", "--size", "1120x840")
    assert plain.exit_code == 0
    assert "With --snap: 2,425 tokens (71 fewer)." in plain.stdout  # 1,225 + 1,200
    snapped = json.loads(run("estimate", "--size", "1000x1000", "--snap", "--json").stdout)
    (row,) = snapped["images"]
    assert (row["api_width"], row["api_height"], row["tokens"]) == (980, 980, 1225)
    assert "With --snap" not in run("estimate", "--size", "1000x1000", "--snap").stdout
    assert "With --snap" not in run("estimate", "--size", "1120x840").stdout  # nothing to gain


def test_estimate_tile_prices_the_tiles_next_to_the_whole(run: Run) -> None:
    result = run("estimate", "--size", "9000x300", "--size", "640x480", "--tile", "auto", "--json")
    assert result.exit_code == 0, result.stderr  # 9000 px wide is over 8000, but its tiles are not
    panorama, small = json.loads(result.stdout)["images"]
    standard = policy.SizePolicy.native(policy.tier("standard"))
    grid = tiling.auto_grid(9000, 300, standard)
    assert panorama["tiles"] == len(grid) == 6
    tier = policy.tier("standard")
    assert panorama["tokens"] == sum(
        policy.predict(t.width, t.height, tier).tokens for t in grid.tiles
    )
    assert panorama["whole_tokens"] == policy.predict(9000, 300, tier).tokens
    assert (small["tiles"], small["tokens"], small["whole_tokens"]) == (1, 414, 414)
    forced = json.loads(run("estimate", "--size", "640x480", "--tile", "1x2", "--json").stdout)
    assert forced["images"][0]["tiles"] == 2
    table = run("estimate", "--size", "9000x300", "--tile", "auto")
    assert "Tiled (--tile):" in table.stdout and "whole" in table.stdout.splitlines()[0]
    assert run("estimate", "--size", "640x480", "--tile-overlap", "10").exit_code == 2
    assert run("estimate", "--size", "640x480", "--tile=three").exit_code == 2
    as_input = run("estimate", "--size", "640x480", "--tile", "three")  # a bare --tile, an input
    assert as_input.exit_code == 1 and "three" in as_input.stdout + as_input.stderr
