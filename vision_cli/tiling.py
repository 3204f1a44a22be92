"""PURE: the ``--tile`` arithmetic. How an image is cut into overlapping tiles that each fit the
model, when it needs them, and where each tile sits. No Pillow, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, NamedTuple

from vision_cli import limits
from vision_cli.policy import Size, SizePolicy
from vision_cli.units import parse_size

#: ``--tile auto`` tiles an image whose whole fit would be under this many pixels on its short
#: edge (``limits.MIN_USEFUL_DIMENSION``) ...
#: ... or would keep less than this share of its resolution along an edge.
TILE_AUTO_MIN_SCALE: Final = Fraction(1, 4)


#: ``--tile auto`` uses at most this many tiles for one image.
TILE_AUTO_MAX_TILES: Final = 8


#: The default overlap between neighbouring tiles: this share of a tile's length on that axis,
#: and at least one patch (28 px), so that a line of text cut by one border is whole in a tile.
TILE_OVERLAP_SHARE: Final = Fraction(3, 100)


@dataclass(frozen=True)
class Tile:
    """One tile: a rectangle of the original image, in reading order (left to right, top down).

    ``left``/``top`` are its offset in the original, in pixels; ``row``/``column`` count from 1.
    """

    index: int
    row: int
    column: int
    left: int
    top: int
    width: int
    height: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        """``(left, top, right, bottom)``, right and bottom exclusive (Pillow's crop box)."""
        return (self.left, self.top, self.left + self.width, self.top + self.height)


class TileGrid(NamedTuple):
    """How an image of ``width`` x ``height`` is cut: ``rows`` x ``columns`` tiles that overlap by
    exactly ``overlap_x`` (side by side) and ``overlap_y`` (one above the other) pixels."""

    width: int
    height: int
    rows: int
    columns: int
    overlap_x: int
    overlap_y: int
    tiles: tuple[Tile, ...]

    def __len__(self) -> int:
        return len(self.tiles)

    def position(self, tile: Tile) -> str:
        """Where a tile sits, in words: ``top``, ``bottom left``, ``row 2, column 3``."""
        vertical = _place(tile.row, self.rows, ("top", "bottom"), "row")
        horizontal = _place(tile.column, self.columns, ("left", "right"), "column")
        if vertical and horizontal and ("row" in vertical or "column" in horizontal):
            return f"{vertical}, {horizontal}"
        return " ".join(part for part in (vertical, horizontal) if part) or "whole"

    def label(self, tile: Tile) -> str:
        """``tile 1 of 4, top``: what goes after ``Image N`` in a request."""
        return f"tile {tile.index} of {len(self.tiles)}, {self.position(tile)}"


def _place(n: int, count: int, ends: tuple[str, str], word: str) -> str:
    if count == 1:
        return ""
    if n == 1:
        return ends[0]
    if n == count:
        return ends[1]
    return "middle" if count == 3 else f"{word} {n}"


def _spans(length: int, parts: int, overlap: int | None) -> tuple[list[tuple[int, int]], int]:
    """``parts`` spans ``(start, size)`` covering ``0..length``, neighbours sharing exactly
    ``overlap`` pixels (the default: :data:`TILE_OVERLAP_SHARE` of a span, at least 28 px)."""
    if parts == 1:
        return [(0, length)], 0
    if overlap is None:
        overlap = max(limits.PATCH_SIZE, math.ceil(TILE_OVERLAP_SHARE * length / parts))
    size = -(-(length + (parts - 1) * overlap) // parts)
    step = size - overlap
    last = (parts - 1) * step
    if step < 1 or length - last <= overlap:  # (checked before any span is made)
        raise ValueError(
            f"{length} px cannot be cut into {parts} tiles overlapping by {overlap} px: use fewer "
            "tiles or a smaller --tile-overlap"
        )
    return [*((i * step, size) for i in range(parts - 1)), (last, length - last)], overlap


def tile_grid(
    width: int, height: int, rows: int, columns: int, overlap: int | None = None
) -> TileGrid:
    """Cut ``width`` x ``height`` into ``rows`` x ``columns`` tiles in reading order.

    Neighbours overlap by exactly ``overlap`` pixels (None: the default share); every tile but
    the last of a row or column has the same size, and the last ends at the image's edge, so the
    tiles cover the image. ValueError (a sentence) when the grid does not fit the image.
    """
    if width < 1 or height < 1:
        raise ValueError("dimensions must be positive")
    if rows < 1 or columns < 1:
        raise ValueError("a grid has at least one row and one column")
    if overlap is not None and overlap < 0:
        raise ValueError("the overlap cannot be negative")
    xs, ox = _spans(width, columns, overlap)
    ys, oy = _spans(height, rows, overlap)
    tiles = tuple(
        Tile(r * columns + c + 1, r + 1, c + 1, left, top, w, h)
        for r, (top, h) in enumerate(ys)
        for c, (left, w) in enumerate(xs)
    )
    return TileGrid(width, height, rows, columns, ox, oy, tiles)


def _largest_tile(grid: TileGrid) -> Size:
    return (max(t.width for t in grid.tiles), max(t.height for t in grid.tiles))


def _fit_scale(size: Size, target: Size) -> Fraction:
    return min(Fraction(target[0], size[0]), Fraction(target[1], size[1]))


def needs_tiles(width: int, height: int, size_policy: SizePolicy) -> bool:
    """Whether ``--tile auto`` tiles this image: fitted whole, its short edge would fall below
    200 px (from 200 or more: tiles of a 3 px wide needle are 3 px wide too, and only cost more)
    or it would keep less than :data:`TILE_AUTO_MIN_SCALE` of its resolution."""
    fitted = size_policy.target(width, height)
    short = min(width, height)
    if min(fitted) >= short:
        return False  # not shrunk at all (or not below its own short edge)
    return (
        min(fitted) < limits.MIN_USEFUL_DIMENSION <= short
        or _fit_scale((width, height), fitted) < TILE_AUTO_MIN_SCALE
    )


def auto_grid(
    width: int,
    height: int,
    size_policy: SizePolicy,
    *,
    overlap: int | None = None,
    max_tiles: int = TILE_AUTO_MAX_TILES,
) -> TileGrid:
    """The grid ``--tile auto`` uses: a single tile when :func:`needs_tiles` says no; else the
    fewest tiles that each fit ``size_policy`` unshrunk, or, when more than ``max_tiles`` would
    be needed, the grid of at most ``max_tiles`` that shrinks its tiles least (fewer on ties)."""
    if not needs_tiles(width, height, size_policy):
        return tile_grid(width, height, 1, 1)
    best: tuple[Fraction, int, TileGrid] | None = None
    for count in range(2, max_tiles + 1):
        for rows in range(1, count + 1):
            if count % rows:
                continue
            try:
                grid = tile_grid(width, height, rows, count // rows, overlap)
            except ValueError:
                continue
            largest = _largest_tile(grid)
            scale = _fit_scale(largest, size_policy.target(*largest))
            if best is None or scale > best[0]:
                best = (scale, count, grid)
        if best is not None and best[0] >= 1:
            break
    return best[2] if best is not None else tile_grid(width, height, 1, 1)


#: The most tiles a forced grid may hold: what the largest request can carry (600 images).
MAX_TILES: Final = 600


def parse_grid(text: str) -> tuple[int, int]:
    """Parse ``--tile ROWSxCOLS`` (``3x1``: three tiles one above the other), at most
    :data:`MAX_TILES` tiles."""
    try:
        rows, columns = parse_size(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a grid: use auto or ROWSxCOLS, e.g. 3x1 for three tiles one above "
            "the other"
        ) from None
    if rows * columns > MAX_TILES:
        raise ValueError(
            f"{text!r} is {rows * columns:,} tiles, more than the {MAX_TILES} images the largest "
            "request can hold: use a coarser grid, or auto"
        )
    return rows, columns


class TileSpec(NamedTuple):
    """``--tile`` and ``--tile-overlap``: a forced ``grid`` (rows, columns), or None for auto."""

    grid: tuple[int, int] | None = None
    overlap: int | None = None

    @classmethod
    def parse(cls, text: str, overlap: int | None = None) -> TileSpec:
        """``auto`` (or empty) or ``ROWSxCOLS``; ValueError with a sentence otherwise."""
        if text.strip().lower() in ("", "auto"):
            return cls(None, overlap)
        return cls(parse_grid(text), overlap)

    def grid_for(self, width: int, height: int, size_policy: SizePolicy) -> TileGrid:
        """The tiles of an image of ``width`` x ``height`` (ValueError when the grid cannot be
        cut from it)."""
        if self.grid is None:
            return auto_grid(width, height, size_policy, overlap=self.overlap)
        return tile_grid(width, height, *self.grid, self.overlap)


@dataclass(frozen=True)
class TilePlacement:
    """Where a tile sent at ``width`` x ``height`` sits in the original image: a point ``(x, y)``
    in the tile as sent is ``(left + x * scale_x, top + y * scale_y)`` in the original.

    This is what ``NAME.tiles.json`` records for each tile, so that coordinates a model gives for
    one tile can be mapped back (``scale`` > 1 when the tile was shrunk to fit).
    """

    index: int
    label: str
    left: int
    top: int
    width: int
    height: int
    scale_x: Fraction
    scale_y: Fraction

    def to_original(self, x: float, y: float) -> tuple[float, float]:
        return (self.left + x * float(self.scale_x), self.top + y * float(self.scale_y))

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "label": self.label,
            "offset": [self.left, self.top],
            "size": [self.width, self.height],
            "scale": [float(self.scale_x), float(self.scale_y)],
        }


def placement(
    grid: TileGrid, tile: Tile, sent: Size, origin: tuple[int, int] = (0, 0)
) -> TilePlacement:
    """The placement of ``tile`` (from ``grid``) once it is sent at ``sent`` pixels; ``origin``
    is where the grid's image lies in the original (``--trim``: the trim box's top left)."""
    return TilePlacement(
        tile.index,
        grid.label(tile),
        origin[0] + tile.left,
        origin[1] + tile.top,
        sent[0],
        sent[1],
        Fraction(tile.width, sent[0]),
        Fraction(tile.height, sent[1]),
    )
