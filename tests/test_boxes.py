"""The arithmetic of ``locate``: boxes from sent pixels back to the original, for every EXIF
orientation. The oracle for orientation is Pillow itself (``ImageOps.exif_transpose`` of a mask
holding the box), never the code under test."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.imagekit import upright_box
from vision_cli import boxes

orientations = st.integers(1, 8)
sizes = st.tuples(st.integers(4, 60), st.integers(4, 60))


@st.composite
def box_in(draw: st.DrawFn, size: tuple[int, int]) -> tuple[int, int, int, int]:
    w, h = size
    x1 = draw(st.integers(0, w - 1))
    y1 = draw(st.integers(0, h - 1))
    return (x1, y1, draw(st.integers(x1 + 1, w)), draw(st.integers(y1 + 1, h)))


@settings(max_examples=300, deadline=None)
@given(sizes.flatmap(lambda s: st.tuples(st.just(s), box_in(s))), orientations)
def test_orientation_matches_pillow(case: tuple[tuple[int, int], tuple[int, ...]], o: int) -> None:
    size, box = case
    b = (box[0], box[1], box[2], box[3])
    expected, _ = upright_box(b, size, o)
    got = boxes.stored_to_upright(b, o, size)
    assert boxes.rounded(got) == expected
    assert boxes.upright_size(size, o) == (size if o < 5 else (size[1], size[0]))


@settings(max_examples=300, deadline=None)
@given(sizes.flatmap(lambda s: st.tuples(st.just(s), box_in(s))), orientations)
def test_upright_to_stored_undoes_stored_to_upright(
    case: tuple[tuple[int, int], tuple[int, ...]], o: int
) -> None:
    size, box = case
    b = (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
    there = boxes.stored_to_upright(b, o, size)
    assert boxes.upright_to_stored(there, o, size) == b


@settings(max_examples=300, deadline=None)
@given(
    st.tuples(st.integers(100, 5000), st.integers(100, 5000)),
    st.floats(0.05, 1.0),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_scaling_back_is_exact(
    upright: tuple[int, int], scale: float, a: float, b: float, c: float, d: float
) -> None:
    sent = (max(1, round(upright[0] * scale)), max(1, round(upright[1] * scale)))
    # A box known on the original, as it falls on the sent image ...
    original = (a * upright[0], b * upright[1], c * upright[0], d * upright[1])
    on_sent = (
        original[0] * sent[0] / upright[0],
        original[1] * sent[1] / upright[1],
        original[2] * sent[0] / upright[0],
        original[3] * sent[1] / upright[1],
    )
    # ... comes back where it was (up to float rounding), corners in order.
    back = boxes.View.whole(sent, upright).to_upright(on_sent)
    assert back == pytest.approx(boxes.normalise(original), abs=1e-6)


@settings(max_examples=300, deadline=None)
@given(
    st.tuples(st.integers(1, 500), st.integers(1, 500)),
    st.tuples(*[st.floats(-1000, 1500, allow_nan=False)] * 4),
    orientations,
    st.sampled_from(boxes.FRAMES),
)
def test_clamped_boxes_stay_inside_and_are_ordered(
    stored: tuple[int, int], box: boxes.Box, o: int, frame: boxes.Frame
) -> None:
    upright = boxes.upright_size(stored, o)
    view = boxes.View.whole(upright, upright)
    mapped = boxes.to_original(box, view, orientation=o, stored=stored, frame=frame)
    w, h = stored if frame == "stored" else upright
    x1, y1, x2, y2 = mapped.box
    assert 0 <= x1 <= x2 <= w and 0 <= y1 <= y2 <= h
    inside = boxes.normalise(box)
    fits = inside[0] >= 0 and inside[1] >= 0 and inside[2] <= upright[0] and inside[3] <= upright[1]
    assert mapped.clamped is not fits


@given(st.tuples(st.integers(1, 500), st.integers(1, 500)), orientations)
def test_clamping_is_idempotent(stored: tuple[int, int], o: int) -> None:
    once = boxes.clamp((-5.0, -5.0, 1e6, 1e6), stored)
    assert once == (0.0, 0.0, float(stored[0]), float(stored[1]))
    assert boxes.clamp(once, stored) == once


def test_a_tile_maps_through_its_offset() -> None:
    # The seam for tiles: a view of the region (1000, 500)-(2000, 1500), sent at 500 x 500.
    tile = boxes.View((500, 500), (1000.0, 500.0, 2000.0, 1500.0))
    assert tile.to_upright((0, 0, 250, 500)) == (1000.0, 500.0, 1500.0, 1500.0)


def test_an_orientation_outside_1_to_8_is_refused() -> None:
    with pytest.raises(ValueError, match="not 1 to 8"):
        boxes.stored_to_upright_point((0, 0), 9, (10, 10))


originals = st.tuples(st.integers(1, 9000), st.integers(1, 9000))


@st.composite
def sent_of(draw: st.DrawFn, upright: tuple[int, int]) -> tuple[int, int]:
    """A size the image may be sent at: each axis rounded on its own, never larger."""
    return (draw(st.integers(1, upright[0])), draw(st.integers(1, upright[1])))


@settings(max_examples=500, deadline=None)
@given(originals.flatmap(lambda u: st.tuples(st.just(u), sent_of(u))), orientations)
def test_the_whole_sent_image_is_the_whole_original_never_clamped(
    case: tuple[tuple[int, int], tuple[int, int]], o: int
) -> None:
    upright, sent = case
    stored = upright if o < 5 else (upright[1], upright[0])
    view = boxes.View.whole(sent, upright)
    whole = (0.0, 0.0, float(sent[0]), float(sent[1]))
    for frame in boxes.Frame:
        mapped = boxes.to_original(whole, view, orientation=o, stored=stored, frame=frame)
        size = stored if frame == "stored" else upright
        assert boxes.rounded(mapped.box) == (0, 0, *size) and not mapped.clamped


@settings(max_examples=500, deadline=None)
@given(
    originals.flatmap(lambda u: st.tuples(st.just(u), sent_of(u))),
    st.lists(st.integers(0, 9000), min_size=2, max_size=2),
)
def test_mapping_an_edge_is_monotonic_within_bounds_and_halves_go_to_even(
    case: tuple[tuple[int, int], tuple[int, int]], edges: list[int]
) -> None:
    upright, sent = case
    a, b = sorted(min(e, sent[0]) for e in edges)
    view = boxes.View.whole(sent, upright)
    mapped = boxes.to_original((a, 0, b, sent[1]), view, orientation=1, stored=upright)
    x1, _, x2, _ = boxes.rounded(mapped.box)
    assert 0 <= x1 <= x2 <= upright[0] and not mapped.clamped
    # Each edge is exactly ``edge * original / sent``, rounded once, halves to even.
    exact = (Fraction(a * upright[0], sent[0]), Fraction(b * upright[0], sent[0]))
    assert (x1, x2) == (round(exact[0]), round(exact[1]))


def test_a_box_on_the_whole_image_sent_a_pixel_smaller_is_not_clamped() -> None:
    view = boxes.View.whole((2576, 400), (2577, 400))
    mapped = boxes.to_original((0, 0, 2576, 400), view, orientation=1, stored=(2577, 400))
    assert boxes.rounded(mapped.box) == (0, 0, 2577, 400) and not mapped.clamped
    # Half a pixel: 1 of 2 sent is 1.5 of 3, and rounds to even (2), as 2.5 of 5 does (2).
    view = boxes.View.whole((2, 1), (3, 1))
    half = boxes.to_original((1, 0, 2, 1), view, orientation=1, stored=(3, 1))
    assert boxes.rounded(half.box)[0] == 2
