"""The pure core: size arithmetic, token rules and findings.

No Pillow, no I/O, nothing heavier than the standard library: every function here is a function of
its arguments, which is what lets the property tests in ``tests/test_policy.py`` pin it down.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Final, Literal

from vision_cli import limits

Size = tuple[int, int]
Rule = Literal["current", "legacy"]


# --------------------------------------------------------------------------------------------------
# Tiers and token rules
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    """A resize tier of the current rule: the API shrinks anything beyond either bound."""

    name: str
    max_edge: int
    max_tokens: int


def tier(name: str) -> Tier:
    """The tier called ``name`` (``standard`` or ``high-res``)."""
    edge, tokens = limits.TIERS[name]
    return Tier(name, edge, tokens)


def patch_tokens(width: int, height: int) -> int:
    """Tokens of an image the API does not resize: one per 28 x 28 patch (padded bottom, right)."""
    p = limits.PATCH_SIZE
    return -(-width // p) * -(-height // p)


def legacy_tokens(width: int, height: int) -> int:
    """The seed's estimate: ``ceil(w * h / 750)``."""
    return -(-(width * height) // limits.LEGACY_PIXELS_PER_TOKEN)


def _scaled(length: int, scale: Fraction) -> int:
    """``length * scale`` rounded up, at least 1 (exact: no floating point)."""
    return max(1, math.ceil(length * scale))


def _apply(size: Size, scale: Fraction) -> Size:
    if scale >= 1:
        return size
    return (_scaled(size[0], scale), _scaled(size[1], scale))


def fit_patches(width: int, height: int, max_edge: int, max_tokens: int) -> Size:
    """The largest aspect-preserving size within ``max_edge`` and ``max_tokens`` patch tokens.

    This is the API's own downscale under the current rule. The largest scale ``s`` is found
    exactly: the token count ``ceil(w*s/28) * ceil(h*s/28)`` only steps up just after ``w*s`` or
    ``h*s`` passes a multiple of 28, so the best scale is the edge limit or one of those break
    points. The dimension that binds lands on its bound exactly and the other is rounded up, which
    never adds a patch. Never upscales; an image already within both bounds comes back unchanged.
    """
    if width < 1 or height < 1:
        raise ValueError("dimensions must be positive")
    if max_edge < 1 or max_tokens < 1:
        raise ValueError("limits must be positive")
    if max(width, height) <= max_edge and patch_tokens(width, height) <= max_tokens:
        return (width, height)  # the common case, without fractions (inspect calls this a lot)
    p = limits.PATCH_SIZE
    cap = min(Fraction(1), Fraction(max_edge, max(width, height)))
    if patch_tokens(*_apply((width, height), cap)) <= max_tokens:
        return _apply((width, height), cap)
    best = Fraction(0)
    # Break points of one side: s = 28k / side. The token count at s = 28k/w is
    # k * ceil(h*k/w); it grows with k, so the largest k within budget is found by bisection.
    for side, other in ((width, height), (height, width)):
        lo, hi = 0, math.floor(cap * side / p)
        while lo < hi:
            k = (lo + hi + 1) // 2
            if k * -(-(other * k) // side) <= max_tokens:
                lo = k
            else:
                hi = k - 1
        if lo:
            best = max(best, Fraction(p * lo, side))
    if best == 0:  # not even one patch row fits: the smallest possible image
        best = Fraction(1, max(width, height))
    return _apply((width, height), best)


def fit_pixels(width: int, height: int, max_edge: int, max_pixels: int) -> Size:
    """The largest aspect-preserving size within ``max_edge`` per edge and ``max_pixels`` in area.

    The long edge is rounded down and the short edge follows it to the nearest pixel (rounded down
    instead where nearest would pass the area limit), so the aspect ratio holds within one pixel.
    """
    if width < 1 or height < 1:
        raise ValueError("dimensions must be positive")
    if width <= max_edge and height <= max_edge and width * height <= max_pixels:
        return (width, height)
    long_side, short_side = max(width, height), min(width, height)
    # Largest long edge L with L <= max_edge and L * (L * short / long) <= max_pixels.
    new_long = min(max_edge, long_side, math.isqrt(max_pixels * long_side // short_side))
    while new_long > 1 and new_long * Fraction(new_long * short_side, long_side) > max_pixels:
        new_long -= 1
    new_long = max(1, new_long)
    exact_short = Fraction(new_long * short_side, long_side)
    new_short = max(1, round(exact_short))
    if new_long * new_short > max_pixels:
        new_short = max(1, math.floor(exact_short))
    new_long = max(1, min(new_long, max_pixels // new_short))  # a 1 px short side caps the long one
    return (new_long, new_short) if width >= height else (new_short, new_long)


def legacy_api_size(width: int, height: int) -> Size:
    """The seed's description of the API's downscale: within 1568 px and about 1,600 tokens."""
    return fit_pixels(
        width,
        height,
        limits.LEGACY_MAX_EDGE,
        limits.LEGACY_MAX_TOKENS * limits.LEGACY_PIXELS_PER_TOKEN,
    )


@dataclass(frozen=True)
class Prediction:
    """What the API will do with an image: the size it processes and what it costs."""

    api_width: int
    api_height: int
    tokens: int

    @property
    def api_size(self) -> Size:
        return (self.api_width, self.api_height)


def predict(width: int, height: int, tier_: Tier, rule: Rule = "current") -> Prediction:
    """The API's downscale and token cost for an image of ``width`` x ``height``."""
    if rule == "legacy":
        w, h = legacy_api_size(width, height)
        return Prediction(w, h, legacy_tokens(w, h))
    w, h = fit_patches(width, height, tier_.max_edge, tier_.max_tokens)
    return Prediction(w, h, patch_tokens(w, h))


@dataclass(frozen=True)
class SizePolicy:
    """A local resize target: every bound that is set must hold; unset bounds do not apply."""

    max_edge: int
    max_pixels: int | None = None
    max_tokens: int | None = None
    #: ``--snap``: after fitting, drop a partly filled patch row or column when an edge shrinks
    #: by at most this share (None: off).
    snap_max: Fraction | None = None

    @classmethod
    def recommended(cls) -> SizePolicy:
        """The seed's 1568 px / 1.15 MP policy (never resized again by the API, in any tier)."""
        return cls(limits.RECOMMENDED_MAX_EDGE, max_pixels=limits.RECOMMENDED_MAX_PIXELS)

    @classmethod
    def native(cls, tier_: Tier) -> SizePolicy:
        """Exactly the largest size the API processes for ``tier_`` without shrinking it."""
        return cls(tier_.max_edge, max_tokens=tier_.max_tokens)

    def target(self, width: int, height: int) -> Size:
        """The size an image of ``width`` x ``height`` is brought to (never larger than it was).

        Each bound is fitted from the original size, and the smaller of the fits is taken edge by
        edge: fitting one fit again would round twice and could miss the aspect ratio by more
        than a pixel. The edge-wise minimum stays within every bound (each bound is monotonic)
        and within a pixel of the aspect ratio (each fit is).
        """
        fitted = self._fit(width, height)
        return fitted if self.snap_max is None else snap(*fitted, self.snap_max)

    def _fit(self, width: int, height: int) -> Size:
        if self.max_tokens is None:
            pixels = width * height if self.max_pixels is None else self.max_pixels
            return fit_pixels(width, height, self.max_edge, pixels)
        by_tokens = fit_patches(width, height, self.max_edge, self.max_tokens)
        if self.max_pixels is None:
            return by_tokens  # exactly what the API itself would do within these bounds
        by_pixels = fit_pixels(width, height, self.max_edge, self.max_pixels)
        return (min(by_pixels[0], by_tokens[0]), min(by_pixels[1], by_tokens[1]))


# --------------------------------------------------------------------------------------------------
# Token savers: --snap
# --------------------------------------------------------------------------------------------------

#: ``--snap-max`` when not given: an edge shrinks by at most 3%.
DEFAULT_SNAP_MAX: Final = Fraction(3, 100)


def snap(width: int, height: int, max_shrink: Fraction = DEFAULT_SNAP_MAX) -> Size:
    """The size that drops a partly filled row or column of 28 px patches, if that costs at most
    ``max_shrink`` of the edge.

    The API pads an image to a multiple of 28 and charges every patch, so the last column of a
    1000 px wide image (20 px of picture, 8 px of padding) costs as much as a full one. Each edge
    is brought down to the multiple of 28 below it when that shrinks it by at most
    ``max_shrink``; an edge that is already a multiple, or that would shrink more, stays. Edges
    are judged apart (the aspect ratio shifts by at most ``max_shrink``), which makes the result
    idempotent: a snapped size snaps to itself. Never enlarges, never adds a token.
    """
    if width < 1 or height < 1:
        raise ValueError("dimensions must be positive")
    if not 0 <= max_shrink < 1:
        raise ValueError("the largest shrink must be at least 0% and under 100%")

    def edge(length: int) -> int:
        lower = length - length % limits.PATCH_SIZE
        if lower and lower != length and Fraction(length - lower, length) <= max_shrink:
            return lower
        return length

    return (edge(width), edge(height))


def parse_share(text: str) -> Fraction:
    """Parse ``3%``, ``2.5%`` or ``0.03`` into a fraction in [0, 1). ValueError with a sentence."""
    s = text.strip()
    try:
        value = Fraction(s[:-1].strip()) / 100 if s.endswith("%") else Fraction(s)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{text!r} is not a share: use a percentage such as 3%") from None
    if not 0 <= value < 1:
        raise ValueError(f"{text!r} is out of range: use a percentage from 0% to under 100%")
    return value


# --------------------------------------------------------------------------------------------------
# Tiles
# --------------------------------------------------------------------------------------------------

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


@dataclass(frozen=True)
class TileGrid:
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
    spans = [(i * step, size) for i in range(parts - 1)]
    last = (parts - 1) * step
    spans.append((last, length - last))
    if step < 1 or length - last <= overlap:
        raise ValueError(
            f"{length} px cannot be cut into {parts} tiles overlapping by {overlap} px: use fewer "
            "tiles or a smaller --tile-overlap"
        )
    return spans, overlap


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
    """Whether ``--tile auto`` tiles this image: fitted whole, it would be under 200 px on its
    short edge or keep less than :data:`TILE_AUTO_MIN_SCALE` of its resolution."""
    fitted = size_policy.target(width, height)
    if min(fitted) >= min(width, height):
        return False  # not shrunk at all (or not below its own short edge)
    return (
        min(fitted) < limits.MIN_USEFUL_DIMENSION
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


def parse_grid(text: str) -> tuple[int, int]:
    """Parse ``--tile ROWSxCOLS`` (``3x1``: three tiles one above the other)."""
    try:
        return parse_size(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a grid: use auto or ROWSxCOLS, e.g. 3x1 for three tiles one above "
            "the other"
        ) from None


@dataclass(frozen=True)
class TileSpec:
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


def placement(grid: TileGrid, tile: Tile, sent: Size) -> TilePlacement:
    """The placement of ``tile`` (from ``grid``) once it is sent at ``sent`` pixels."""
    return TilePlacement(
        tile.index,
        grid.label(tile),
        tile.left,
        tile.top,
        sent[0],
        sent[1],
        Fraction(tile.width, sent[0]),
        Fraction(tile.height, sent[1]),
    )


def base64_length(n_bytes: int) -> int:
    """Length of the base64 encoding of ``n_bytes`` bytes (padded)."""
    return 4 * -(-n_bytes // 3)


def cost_usd(tokens: int, price_per_mtok: float) -> float:
    """Dollars for ``tokens`` at ``price_per_mtok`` dollars per million tokens."""
    return tokens * price_per_mtok / 1_000_000


# --------------------------------------------------------------------------------------------------
# Findings
# --------------------------------------------------------------------------------------------------


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Code(StrEnum):
    NOT_FOUND = "not-found"
    UNREADABLE = "unreadable"
    UNSUPPORTED_FORMAT = "unsupported-format"
    FILE_TOO_LARGE = "file-too-large"
    DIMENSIONS_TOO_LARGE = "dimensions-too-large"
    MANY_IMAGE_DIMENSIONS = "many-image-dimensions"
    WILL_BE_DOWNSCALED = "will-be-downscaled"
    TOO_SMALL = "too-small"
    EXIF_ROTATED = "exif-rotated"
    ANIMATED = "animated"
    EXTENSION_MISMATCH = "extension-mismatch"
    # request-level (``inspect --request``)
    TOO_MANY_IMAGES = "too-many-images"
    REQUEST_TOO_LARGE = "request-too-large"


SEVERITY: dict[Code, Severity] = {
    Code.NOT_FOUND: Severity.ERROR,
    Code.UNREADABLE: Severity.ERROR,
    Code.UNSUPPORTED_FORMAT: Severity.ERROR,
    Code.FILE_TOO_LARGE: Severity.ERROR,
    Code.DIMENSIONS_TOO_LARGE: Severity.ERROR,
    Code.MANY_IMAGE_DIMENSIONS: Severity.ERROR,
    Code.WILL_BE_DOWNSCALED: Severity.WARNING,
    Code.TOO_SMALL: Severity.WARNING,
    Code.EXIF_ROTATED: Severity.WARNING,
    Code.ANIMATED: Severity.WARNING,
    Code.EXTENSION_MISMATCH: Severity.WARNING,
    Code.TOO_MANY_IMAGES: Severity.ERROR,
    Code.REQUEST_TOO_LARGE: Severity.ERROR,
}


#: Findings ``--ignore`` cannot hide: the input was not read, so nothing about it was checked.
UNIGNORABLE: frozenset[Code] = frozenset({Code.NOT_FOUND, Code.UNREADABLE})
IGNORABLE: tuple[str, ...] = tuple(c.value for c in Code if c not in UNIGNORABLE)


def ignorable_code(text: str) -> Code:
    """The finding code ``--ignore`` names; ValueError listing the codes for anything else."""
    try:
        code = Code(text.strip().lower())
    except ValueError:
        raise ValueError(
            f"unknown finding code {text!r}; codes that can be ignored: {', '.join(IGNORABLE)}"
        ) from None
    if code in UNIGNORABLE:
        raise ValueError(
            f"{code.value} cannot be ignored: the input was not read, so nothing about it was "
            f"checked; codes that can be ignored: {', '.join(IGNORABLE)}"
        )
    return code


#: Codes of problems `resize` fixes (by converting, shrinking, turning, taking the first frame,
#: re-encoding), unless the finding is ``final``.
FIXABLE: frozenset[Code] = frozenset(
    {
        Code.UNSUPPORTED_FORMAT,
        Code.FILE_TOO_LARGE,
        Code.DIMENSIONS_TOO_LARGE,
        Code.MANY_IMAGE_DIMENSIONS,
        Code.WILL_BE_DOWNSCALED,
        Code.EXIF_ROTATED,
        Code.ANIMATED,
        Code.EXTENSION_MISMATCH,
    }
)


@dataclass(frozen=True)
class Finding:
    code: Code
    message: str
    #: No command can fix it (the bytes cannot be read, or not within the budget), whatever the
    #: code usually means.
    final: bool = field(default=False, compare=False)

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.code]

    @property
    def fixable(self) -> bool:
        """Whether ``resize`` fixes it (the gate lets such an image through to the transform)."""
        return not self.final and self.code in FIXABLE

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code.value, "severity": self.severity.value, "message": self.message}


Status = Literal["ok", "warning", "error"]


def status_of(findings: Iterable[Finding]) -> Status:
    severities = {f.severity for f in findings}
    if Severity.ERROR in severities:
        return "error"
    if Severity.WARNING in severities:
        return "warning"
    return "ok"


#: File-name extensions (lower case, with the dot) and the Pillow formats they name.
EXTENSION_FORMATS: dict[str, frozenset[str]] = {
    ".jpg": frozenset({"JPEG", "MPO"}),
    ".jpeg": frozenset({"JPEG", "MPO"}),
    ".jpe": frozenset({"JPEG", "MPO"}),
    ".png": frozenset({"PNG"}),
    ".gif": frozenset({"GIF"}),
    ".webp": frozenset({"WEBP"}),
    ".bmp": frozenset({"BMP", "DIB"}),
    ".tif": frozenset({"TIFF"}),
    ".tiff": frozenset({"TIFF"}),
    ".heic": frozenset({"HEIF", "HEIC"}),
    ".heif": frozenset({"HEIF", "HEIC"}),
    ".avif": frozenset({"AVIF", "HEIF"}),
    ".ico": frozenset({"ICO"}),
    ".dib": frozenset({"DIB", "BMP"}),
    ".tga": frozenset({"TGA"}),
    ".ppm": frozenset({"PPM"}),
    ".pgm": frozenset({"PPM"}),
    ".pbm": frozenset({"PPM"}),
    ".pnm": frozenset({"PPM"}),
    ".pcx": frozenset({"PCX"}),
    ".dds": frozenset({"DDS"}),
    ".jp2": frozenset({"JPEG2000"}),
    ".j2k": frozenset({"JPEG2000"}),
    ".jpx": frozenset({"JPEG2000"}),
    ".psd": frozenset({"PSD"}),
    ".sgi": frozenset({"SGI"}),
    ".rgb": frozenset({"SGI"}),
    ".qoi": frozenset({"QOI"}),
}
IMAGE_EXTENSIONS: frozenset[str] = frozenset(EXTENSION_FORMATS)

#: What a user should do about a format the API refuses; the optional-extra hint comes from imaging.
CONVERT_HINT = "run `vision-cli resize` to convert it to PNG or JPEG"


@dataclass(frozen=True)
class ImageFacts:
    """What was read from one file's header: the input of :func:`judge`."""

    format: str
    width: int
    height: int
    bytes: int
    orientation: int = 1
    frames: int = 1
    extension: str = ""
    #: Pixels a decode of it allocates at the least (0: not known, judged as width x height).
    decode_pixels: int = 0

    @property
    def media_type(self) -> str | None:
        return limits.FORMAT_MEDIA_TYPES.get(self.format)

    @property
    def base64_bytes(self) -> int:
        return base64_length(self.bytes)


@dataclass(frozen=True)
class Limits:
    """The limits one check is made against (command-line options resolved)."""

    tier: Tier
    max_bytes: int = limits.DEFAULT_MAX_BYTES
    max_dimension: int = limits.MAX_DIMENSION
    many_images: bool = False  # the request holds more than 20 images


def judge(facts: ImageFacts, lim: Limits, prediction: Prediction | None = None) -> list[Finding]:
    """Every finding for one readable image, errors first."""
    found: list[Finding] = []
    w, h = facts.width, facts.height
    unbudgeted = (facts.decode_pixels or w * h) > limits.PIXEL_BUDGET
    if unbudgeted:
        found.append(over_budget(facts))
    if facts.media_type is None:
        found.append(
            Finding(
                Code.UNSUPPORTED_FORMAT,
                f"{facts.format} is not accepted by the API (JPEG, PNG, GIF or WebP only): "
                f"{CONVERT_HINT}.",
            )
        )
    if facts.base64_bytes > lim.max_bytes:
        found.append(
            Finding(
                Code.FILE_TOO_LARGE,
                f"base64 size {facts.base64_bytes:,} bytes is over the "
                f"{format_bytes(lim.max_bytes)} "
                f"limit ({lim.max_bytes:,} bytes): run `vision-cli resize`, or pass "
                "`--max-bytes 10MB` if you only use the direct API.",
            )
        )
    if max(w, h) > lim.max_dimension and not unbudgeted:
        found.append(
            Finding(
                Code.DIMENSIONS_TOO_LARGE,
                f"{w}x{h} is over the API's {lim.max_dimension} px limit and will be rejected, "
                "not resized: run `vision-cli resize`.",
            )
        )
    elif max(w, h) > lim.max_dimension:
        pass  # over the budget, said above
    elif lim.many_images and max(w, h) > limits.MANY_IMAGES_MAX_DIMENSION:
        found.append(
            Finding(
                Code.MANY_IMAGE_DIMENSIONS,
                f"{w}x{h} is over {limits.MANY_IMAGES_MAX_DIMENSION} px, the limit when a request "
                f"holds more than {limits.MANY_IMAGES_THRESHOLD} images: resize it or send fewer "
                "images.",
            )
        )
    pred = prediction or predict(w, h, lim.tier)
    if pred.api_size != (w, h) and max(w, h) <= lim.max_dimension:
        found.append(
            Finding(
                Code.WILL_BE_DOWNSCALED,
                f"the API will shrink {w}x{h} to {pred.api_width}x{pred.api_height} for the "
                f"{lim.tier.name} tier (slower first token, no better answer): run "
                "`vision-cli resize`.",
            )
        )
    small = too_small(w, h, pred.api_size)
    if small is not None:
        found.append(small)
    if facts.orientation != 1:
        found.append(
            Finding(
                Code.EXIF_ROTATED,
                f"EXIF orientation is {facts.orientation}, which Claude ignores, so it will see "
                "the image as stored: run `vision-cli resize` to rotate the pixels.",
            )
        )
    # An MPO's further pictures are a phone's previews or depth maps, not animation frames.
    if facts.frames > 1 and facts.format != "MPO":
        found.append(
            Finding(
                Code.ANIMATED,
                f"{facts.frames} frames, and Claude sees only the first: send the frame that "
                "matters (`vision-cli resize` keeps the first).",
            )
        )
    ext = facts.extension.lower()
    if ext in EXTENSION_FORMATS and facts.format not in EXTENSION_FORMATS[ext]:
        found.append(
            Finding(
                Code.EXTENSION_MISMATCH,
                f"the name says {ext} but the bytes are {facts.format}: rename the file "
                "(vision-cli always sends the real media type).",
            )
        )
    found.sort(key=lambda f: f.severity != Severity.ERROR)
    return found


def too_small(width: int, height: int, api_size: Size) -> Finding | None:
    """``too-small`` when the image, or the size the API shrinks it to, is under 200 px on an edge
    (a 9000x300 panorama becomes a 1568x53 sliver): None otherwise."""
    if min(api_size) >= limits.MIN_USEFUL_DIMENSION:
        return None
    long_thin = max(api_size) >= 4 * min(api_size)
    advice = (
        "crop it, or split it into tiles" if long_thin else "use a larger original if you have one"
    )
    if api_size != (width, height) and min(width, height) >= limits.MIN_USEFUL_DIMENSION:
        what = f"{width}x{height} is shrunk to {api_size[0]}x{api_size[1]} for the API, "
    else:
        what = f"{width}x{height} is "
    return Finding(
        Code.TOO_SMALL,
        f"{what}under {limits.MIN_USEFUL_DIMENSION} px on an edge, which may hurt accuracy: "
        f"{advice}.",
    )


def too_large_input(cap: int = limits.MAX_INPUT_BYTES) -> str:
    """The one sentence for an input over the byte limit, whatever kind of input it is."""
    return (
        f"it holds more than {cap:,} bytes, the most vision-cli reads from one input: "
        "shrink it with another tool first."
    )


def over_budget(facts: ImageFacts, budget: int = limits.PIXEL_BUDGET) -> Finding:
    """An image no command decodes: what decoding it would allocate is over the pixel budget."""
    w, h = facts.width, facts.height
    pixels = facts.decode_pixels or w * h
    why = ""
    if facts.format in ("JPEG", "MPO"):
        why = " (a progressive JPEG decodes at full size)"
    elif facts.format == "WEBP":
        why = " (the WebP decoder holds four image-sized buffers)"
    elif pixels > w * h:
        why = " (its decoder is slow, so each pixel counts many times)"
    return Finding(
        Code.DIMENSIONS_TOO_LARGE,
        f"{w}x{h} would need {pixels:,} pixels decoded{why}, over the "
        f"{budget:,}-pixel budget vision-cli decodes, so no command reads or "
        "converts it: shrink it with another tool if it is genuine.",
        final=True,
    )


def judge_request(images: int, base64_bytes: int, max_images: int) -> list[Finding]:
    """Findings about all inputs sent as one request."""
    found: list[Finding] = []
    if images > max_images:
        found.append(
            Finding(
                Code.TOO_MANY_IMAGES,
                f"{images} images in one request, and the model takes at most {max_images}: "
                "split them over several requests.",
            )
        )
    # The request body also carries JSON around the base64 strings; the images alone must fit.
    if base64_bytes > limits.MESSAGES_REQUEST_MAX_BYTES:
        found.append(
            Finding(
                Code.REQUEST_TOO_LARGE,
                f"the images add up to {base64_bytes:,} bytes of base64, over the "
                f"{format_bytes(limits.MESSAGES_REQUEST_MAX_BYTES)} request limit: resize them, "
                "send fewer, or upload them (`--source file`).",
            )
        )
    return found


# --------------------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------------------

_BYTE_UNITS = {
    "": 1,
    "B": 1,
    "K": 1024,
    "KB": 1024,
    "KIB": 1024,
    "M": 1024**2,
    "MB": 1024**2,
    "MIB": 1024**2,
    "G": 1024**3,
    "GB": 1024**3,
    "GIB": 1024**3,
}


#: The smallest size that may be written without a unit: below it, a unit was surely forgotten.
MIN_BARE_BYTES = 1024


def parse_bytes(text: str) -> int:
    """Parse ``5MB``, ``10 MiB``, ``750KB`` or ``5242880`` into bytes (1 MB = 1,048,576 bytes,
    as the API counts). A number without a unit is bytes and must be at least 1 KB. Raises
    ValueError with a sentence on anything else."""
    s = text.strip().upper().replace("_", "").replace(",", "")
    number = s.rstrip("KMGIB ")
    unit = s[len(number) :].strip()
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{text!r} is not a size: use a number of bytes or e.g. 5MB") from None
    if unit not in _BYTE_UNITS or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{text!r} is not a size: use a number of bytes or e.g. 5MB")
    if not unit and value < MIN_BARE_BYTES:  # `--max-bytes 5` is surely not five bytes
        raise ValueError(
            f"{text!r} without a unit is {text.strip()} bytes, below 1 KB: write the unit, "
            f"e.g. {number}MB (a bare number must be at least {MIN_BARE_BYTES})"
        )
    return int(value * _BYTE_UNITS[unit])


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> int:
    """Parse ``7d``, ``12h``, ``90m``, ``2w``, ``3600s`` or ``3600`` into whole seconds.
    Raises ValueError with a sentence on anything else."""
    s = text.strip().lower().replace(" ", "")
    unit = s[-1:] if s[-1:] in _DURATION_UNITS else "s"
    number = s[:-1] if s[-1:] in _DURATION_UNITS else s
    try:
        value = Fraction(number)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{text!r} is not a duration: use e.g. 7d, 12h, 90m or 3600s") from None
    if value <= 0:
        raise ValueError(f"{text!r} is not a duration: use e.g. 7d, 12h, 90m or 3600s")
    return math.ceil(value * _DURATION_UNITS[unit])


def format_duration(seconds: int) -> str:
    """``7d``, ``36h``, ``90m``, ``45s``: the largest unit that divides it."""
    for unit in ("d", "h", "m"):
        if seconds and seconds % _DURATION_UNITS[unit] == 0:
            return f"{seconds // _DURATION_UNITS[unit]}{unit}"
    return f"{seconds}s"


def format_bytes(n: int) -> str:
    """``5 MB``, ``1.5 MB``, ``730 KB``, ``12 B`` (binary units, as the API counts)."""
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            value = n / size
            return (
                f"{value:.0f} {unit}"
                if value == int(value) or value >= 100
                else f"{value:.1f} {unit}"
            )
    return f"{n} B"


def format_usd(amount: float) -> str:
    """Money for people: cents from $0.01 up, else at least two significant digits ($0.00016)."""
    if amount == 0:
        return "$0.00"
    if abs(amount) >= 0.01:
        return f"${amount:,.2f}"
    digits = 1 - math.floor(math.log10(abs(amount)))
    text = f"{amount:.{digits}f}".rstrip("0")
    return "$" + (text if not text.endswith(".") else text + "0")


def parse_size(text: str) -> Size:
    """Parse ``1920x1080`` (also ``1920X1080``, ``1920*1080``)."""
    for sep in ("x", "X", "*", "×"):
        if sep in text:
            left, _, right = text.partition(sep)
            try:
                w, h = int(left), int(right)
            except ValueError:
                break
            if w >= 1 and h >= 1:
                return (w, h)
            break
    raise ValueError(f"{text!r} is not a size: use WIDTHxHEIGHT, e.g. 1920x1080")


def aspect_error(original: Size, resized: Size) -> float:
    """How far (in pixels of the short side) ``resized`` strays from ``original``'s aspect ratio."""
    (w, h), (rw, rh) = original, resized
    if w >= h:
        return abs(rh - rw * h / w)
    return abs(rw - rh * w / h)
