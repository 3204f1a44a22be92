"""The ``--tile`` arithmetic (:mod:`vision_cli.tiling`): grids, overlaps, placement, pinned by
properties and known answers."""

from __future__ import annotations

import tracemalloc

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from vision_cli import policy, tiling
from vision_cli.policy import SizePolicy

STANDARD = SizePolicy.native(policy.tier("standard"))
HIGH_RES = SizePolicy.native(policy.tier("high-res"))

lengths = st.integers(min_value=1, max_value=12000)


grids = st.integers(min_value=1, max_value=6)
overlaps = st.one_of(st.none(), st.integers(min_value=0, max_value=200))


@given(lengths, lengths, grids, grids, overlaps)
@example(9000, 300, 1, 6, None)
@example(1080, 12000, 8, 1, 40)
def test_tiles_cover_the_image_in_reading_order_with_exact_overlap(
    w: int, h: int, rows: int, cols: int, overlap: int | None
) -> None:
    try:
        grid = tiling.tile_grid(w, h, rows, cols, overlap)
    except ValueError as exc:
        assert "cannot be cut" in str(exc)
        return
    assert len(grid) == rows * cols
    assert [t.index for t in grid.tiles] == list(range(1, rows * cols + 1))
    assert [(t.row, t.column) for t in grid.tiles] == sorted((t.row, t.column) for t in grid.tiles)
    if overlap is not None:
        assert grid.overlap_x == (overlap if cols > 1 else 0)
        assert grid.overlap_y == (overlap if rows > 1 else 0)
    by_place = {(t.row, t.column): t for t in grid.tiles}
    for t in grid.tiles:
        assert t.width >= 1 and t.height >= 1
        assert t.left >= 0 and t.top >= 0 and t.left + t.width <= w and t.top + t.height <= h
        right = by_place.get((t.row, t.column + 1))
        if right is not None:  # neighbours share exactly the overlap
            assert t.left + t.width - right.left == grid.overlap_x
            assert right.top == t.top and right.height == t.height
        below = by_place.get((t.row + 1, t.column))
        if below is not None:
            assert t.top + t.height - below.top == grid.overlap_y
    # the union covers the image: first tiles start at 0, last ones end at the edges
    assert min(t.left for t in grid.tiles) == 0 and min(t.top for t in grid.tiles) == 0
    assert by_place[(rows, cols)].box[2:] == (w, h)


@given(
    st.integers(min_value=1, max_value=9000),
    st.integers(min_value=1, max_value=9000),
    st.sampled_from([STANDARD, HIGH_RES, SizePolicy.recommended()]),
)
@example(9000, 300, STANDARD)
@example(1080, 12000, STANDARD)
def test_auto_grid_tiles_within_limits(w: int, h: int, size_policy: SizePolicy) -> None:
    grid = tiling.auto_grid(w, h, size_policy)
    assert 1 <= len(grid) <= tiling.TILE_AUTO_MAX_TILES
    if not tiling.needs_tiles(w, h, size_policy):
        assert len(grid) == 1
    for tile in grid.tiles:  # each tile, fitted by the policy, is within the policy's limits
        tw, th = size_policy.target(tile.width, tile.height)
        assert max(tw, th) <= size_policy.max_edge
        if size_policy.max_tokens is not None:
            assert policy.patch_tokens(tw, th) <= size_policy.max_tokens


def test_auto_grid_on_the_issues_extreme_shapes() -> None:
    panorama = tiling.auto_grid(9000, 300, STANDARD)
    assert (panorama.rows, panorama.columns) == (1, 6)
    assert all(STANDARD.target(t.width, t.height) == (t.width, t.height) for t in panorama.tiles)
    scroll = tiling.auto_grid(1080, 12000, STANDARD)
    assert scroll.columns == 1 and scroll.rows == tiling.TILE_AUTO_MAX_TILES
    # a tall screenshot fitted whole is 141 px wide; each of its tiles keeps most of its width
    assert STANDARD.target(1080, 12000)[0] < 200
    assert all(STANDARD.target(t.width, t.height)[0] > 800 for t in scroll.tiles)
    assert len(tiling.auto_grid(4032, 3024, STANDARD)) == 1  # a photo is not tiled
    # under 200 px wide already, a strip is tiled only when fitting it whole would keep less
    # than a quarter of its resolution: its tiles are no wider than itself
    assert not tiling.needs_tiles(3, 5000, STANDARD)
    assert tiling.needs_tiles(150, 20000, STANDARD)


def test_labels_and_positions() -> None:
    column = tiling.tile_grid(100, 1000, 4, 1)
    assert [column.label(t) for t in column.tiles] == [
        "tile 1 of 4, top",
        "tile 2 of 4, row 2",
        "tile 3 of 4, row 3",
        "tile 4 of 4, bottom",
    ]
    square = tiling.tile_grid(1000, 1000, 2, 2)
    assert [square.position(t) for t in square.tiles] == [
        "top left",
        "top right",
        "bottom left",
        "bottom right",
    ]
    row = tiling.tile_grid(1000, 100, 1, 3)
    assert [row.position(t) for t in row.tiles] == ["left", "middle", "right"]
    assert tiling.tile_grid(50, 50, 1, 1).position(tiling.tile_grid(50, 50, 1, 1).tiles[0]) == (
        "whole"
    )


def test_a_grid_too_fine_for_the_image_is_a_sentence() -> None:
    with pytest.raises(ValueError, match="use fewer tiles or a smaller --tile-overlap"):
        tiling.tile_grid(100, 100, 1, 5, overlap=100)


@pytest.mark.parametrize(("text", "grid"), [("3x1", (3, 1)), ("2X4", (2, 4))])
def test_parse_grid(text: str, grid: tuple[int, int]) -> None:
    assert tiling.parse_grid(text) == grid


def test_parse_grid_refuses() -> None:
    with pytest.raises(ValueError, match="ROWSxCOLS"):
        tiling.parse_grid("three")
    with pytest.raises(ValueError, match="more than the 600 images the largest request can hold"):
        tiling.parse_grid("999999999999x1")  # it made a list of that many spans, then the OOM
    assert tiling.parse_grid("600x1") == (600, 1)


def test_a_grid_of_far_more_tiles_than_pixels_is_refused_before_any_tile_is_made() -> None:
    """The spans were built before the grid was checked: 10,000,000 rows took 1 GB and 2 s.
    Measured by what the call allocates, not by time."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="cannot be cut into 10000000 tiles"):
            tiling.tile_grid(1000, 1000, 10_000_000, 1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


@given(lengths, lengths, grids, grids, st.integers(min_value=1, max_value=4000))
def test_placement_maps_tile_corners_back(w: int, h: int, rows: int, cols: int, sent: int) -> None:
    try:
        grid = tiling.tile_grid(w, h, rows, cols)
    except ValueError:
        return
    for tile in grid.tiles:
        size = (max(1, min(sent, tile.width)), max(1, min(sent, tile.height)))
        where = tiling.placement(grid, tile, size)
        assert where.to_original(0, 0) == (tile.left, tile.top)
        x, y = where.to_original(*size)
        assert x == pytest.approx(tile.left + tile.width)
        assert y == pytest.approx(tile.top + tile.height)
