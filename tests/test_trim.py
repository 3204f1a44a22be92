"""--trim: near-uniform borders are cut, content never is."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from tests.conftest import Run, picture, records
from tests.fakeapi import FakeClaudeAPI
from vision_cli.imaging.trim import trim_box

FUZZ = 25  # the default 10%, in levels


def framed(
    content: tuple[int, int], border: tuple[int, int, int, int], colour: object
) -> Image.Image:
    """``picture(content)`` inside borders (left, top, right, bottom) of one colour."""
    left, top, right, bottom = border
    size = (content[0] + left + right, content[1] + top + bottom)
    im = Image.new("RGB", size, colour)  # type: ignore[arg-type]
    im.paste(picture(content), (left, top))
    return im


@pytest.mark.parametrize(
    ("colour", "border"),
    [
        ("black", (0, 60, 0, 60)),  # letterboxing
        ("white", (40, 30, 50, 80)),  # scanner margins
        ((128, 128, 140), (0, 28, 0, 0)),  # one-colour window chrome on top
    ],
)
def test_borders_of_one_colour_are_cut_exactly(colour: object, border: tuple[int, ...]) -> None:
    im = framed((400, 300), border, colour)  # type: ignore[arg-type]
    assert trim_box(im, FUZZ) == (border[0], border[1], border[0] + 400, border[1] + 300)


def test_a_noisy_scan_margin_is_cut_and_a_dot_in_it_stops_the_cut() -> None:
    rng = random.Random(7)
    im = framed((300, 200), (50, 50, 50, 50), "white")
    px = im.load()
    assert px is not None
    for y in range(im.height):
        for x in range(im.width):
            if not (50 <= x < 350 and 50 <= y < 250):
                v = max(0, min(255, round(rng.gauss(244, 4))))
                px[x, y] = (v, v, v)
    assert trim_box(im, FUZZ) == (50, 50, 350, 250)
    ImageDraw.Draw(im).point((10, 12), fill="black")  # a speck of content in the margin
    left, top, right, bottom = trim_box(im, FUZZ)
    assert left <= 10 and top <= 12 and (right, bottom) == (350, 250)


def test_uniform_and_borderless_images_keep_their_box() -> None:
    assert trim_box(Image.new("RGB", (50, 40), "white"), FUZZ) == (0, 0, 50, 40)
    assert trim_box(picture((64, 48)), FUZZ) == (0, 0, 64, 48)


@settings(max_examples=40, deadline=None)
@given(
    st.tuples(*[st.integers(min_value=0, max_value=20)] * 4),
    st.tuples(*[st.integers(min_value=0, max_value=255)] * 3),
    st.integers(min_value=2, max_value=40),
    st.integers(min_value=2, max_value=40),
)
def test_trim_never_cuts_content(
    border: tuple[int, int, int, int], colour: tuple[int, int, int], w: int, h: int
) -> None:
    # content with two colours on every line (a checkerboard of the border's colour and one far
    # from it): no line of it is uniform, so none may be cut, whatever touches an edge
    far = tuple(255 if c < 128 else 0 for c in colour)
    im = Image.new("RGB", (w + border[0] + border[2], h + border[1] + border[3]), colour)
    px = im.load()
    assert px is not None
    for y in range(h):
        for x in range(w):
            if (x + y) % 2 == 0:
                px[border[0] + x, border[1] + y] = far
    left, top, right, bottom = trim_box(im, FUZZ)
    assert left <= border[0] and top <= border[1]
    assert right >= border[0] + w and bottom >= border[1] + h
    # and with a border on a side, exactly the border is cut there
    assert (left, top, right, bottom) == (border[0], border[1], border[0] + w, border[1] + h)


def test_resize_and_ask_trim(run: Run, api: FakeClaudeAPI, tmp_path: Path) -> None:
    src = tmp_path / "letterboxed.png"
    framed((1200, 500), (0, 250, 0, 250), "black").save(src)
    plain = records(run("resize", src, "--out", tmp_path / "plain", "-f", "jsonl"))[0]
    rec = records(run("resize", src, "--out", tmp_path / "t", "--trim", "-f", "jsonl"))[0]
    assert plain["trim"] is None
    assert rec["trim"] == [0, 250, 1200, 750]
    assert (rec["width_after"], rec["height_after"]) == (1200, 500)
    assert rec["tokens_after"] < plain["tokens_after"]
    table = run("resize", src, "--out", tmp_path / "t2", "--trim")
    assert "trimmed to 1200x500" in table.stdout
    assert run("ask", src, "--trim").exit_code == 0
    (request,) = api.messages_requests()
    assert [(i.width, i.height) for i in request.images] == [(1200, 500)]
    for bad in (["--trim-fuzz", "much"], ["--no-resize"]):
        assert run("ask", src, "--trim", *bad, "--dry-run").exit_code == 2, bad
    photo = tmp_path / "photo.jpg"
    framed((800, 600), (0, 100, 0, 100), "black").save(photo, quality=90)
    jpg = records(run("resize", photo, "--out", tmp_path / "j", "--trim", "-f", "jsonl"))[0]
    assert jpg["format_after"] == "JPEG" and jpg["height_after"] <= 602
