"""The pure core: size arithmetic and token rules.

Findings live in :mod:`vision_cli.judging`, tiles in :mod:`vision_cli.tiling`, the units a user
types and reads in :mod:`vision_cli.units`; like this module, they are pure.

No Pillow, no I/O, nothing heavier than the standard library: every function here is a function of
its arguments, which is what lets the property tests in ``tests/test_policy.py`` pin it down.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Final, Literal, NamedTuple

from vision_cli import limits

Size = tuple[int, int]
Rule = Literal["current", "legacy"]


# --------------------------------------------------------------------------------------------------
# Tiers and token rules
# --------------------------------------------------------------------------------------------------


class Tier(NamedTuple):
    """A resize tier of the current rule: the API shrinks anything beyond either bound."""

    name: str
    max_edge: int
    max_tokens: int


#: The token rules ``estimate --rule`` takes.
RULES: Final = ("current", "legacy")


def parse_rule(text: str) -> Rule:
    """``--rule``'s value; ValueError saying which rules there are."""
    for rule in ("current", "legacy"):
        if text == rule:
            return rule
    raise ValueError(f"use {' or '.join(RULES)}")


def tier_name(text: str) -> str:
    """``--tier``'s value, a tier's name; ValueError saying which tiers there are."""
    if text not in limits.TIERS:
        raise ValueError(f"use {' or '.join(limits.TIERS)}")
    return text


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


class Prediction(NamedTuple):
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


class SizePolicy(NamedTuple):
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
# Sizes in bytes and dollars
# --------------------------------------------------------------------------------------------------


def base64_length(n_bytes: int) -> int:
    """Length of the base64 encoding of ``n_bytes`` bytes (padded)."""
    return 4 * -(-n_bytes // 3)


def cost_usd(tokens: int, price_per_mtok: float) -> float:
    """Dollars for ``tokens`` at ``price_per_mtok`` dollars per million tokens."""
    return tokens * price_per_mtok / 1_000_000


def aspect_error(original: Size, resized: Size) -> float:
    """How far (in pixels of the short side) ``resized`` strays from ``original``'s aspect ratio."""
    (w, h), (rw, rh) = original, resized
    if w >= h:
        return abs(rh - rw * h / w)
    return abs(rw - rh * w / h)
