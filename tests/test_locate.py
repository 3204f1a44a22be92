"""``vision-cli locate`` against the fake API: boxes answered in the pixels of the image as sent
come back on the original's pixel grid, for every EXIF orientation and both tiers.

The oracle is independent of vision-cli's arithmetic: the box is drawn at a known place on the
stored pixels, Pillow's ``ImageOps.exif_transpose`` says where it is upright, and the fake answers
it scaled to the size it received (as a model that saw the image would).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from tests.conftest import ORIENTATION, MakeImage, Run
from tests.fakeapi import FakeClaudeAPI, SeenImage
from tests.imagekit import upright_box
from vision_cli import catalog, drawing, fsutil
from vision_cli.bulk.records import read_records
from vision_cli.cli.locate import COLUMNS
from vision_cli.exitcodes import ExitStatus

Json = dict[str, Any]
Box = tuple[int, int, int, int]
STORED = (4032, 3024)
#: Where the box is drawn on the stored pixels.
DRAWN: Box = (1000, 700, 1600, 1100)
MODELS = {"standard": "claude-sonnet-4-6", "high-res": "claude-opus-4-7"}


def photo(path: Path, orientation: int, size: tuple[int, int] = STORED, box: Box = DRAWN) -> Path:
    """A grey JPEG with a red box on its stored pixels, tagged with an EXIF orientation."""
    im = Image.new("RGB", size, (128, 128, 128))
    im.paste((255, 0, 0), box)
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    im.save(path, "JPEG", quality=80, exif=exif.tobytes())
    return path


def answer_boxes(
    fake: FakeClaudeAPI, upright: Mapping[str, Box], size: tuple[int, int]
) -> list[tuple[int, int]]:
    """The fake answers each label's upright box scaled to the image it received (floats, as
    exact as a perfect model); returns the sizes it saw."""
    seen: list[tuple[int, int]] = []

    def make(_schema: Mapping[str, Any], images: list[SeenImage]) -> Json:
        w, h = images[0].width or 0, images[0].height or 0
        seen.append((w, h))
        sx, sy = w / size[0], h / size[1]
        objects = [
            {"label": label, "box": [b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy]}
            for label, b in upright.items()
        ]
        return {"objects": objects}

    fake.structured = make
    return seen


def boxes_of(result_stdout: str) -> list[Json]:
    doc = json.loads(result_stdout)
    found: list[Json] = doc["images"][0]["boxes"]
    return found


def corners(b: Json) -> tuple[int, int, int, int]:
    return (b["x1"], b["y1"], b["x2"], b["y2"])


def flat(text: str) -> str:
    """typer's boxed usage error as one string, without spaces (its box wraps long lines)."""
    return "".join(c for c in text if c not in "│ \n")


def close(got: tuple[int, ...], want: tuple[int, ...]) -> bool:
    return all(abs(g - w) <= 1 for g, w in zip(got, want, strict=True))


@pytest.mark.parametrize("tier", ["standard", "high-res"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_boxes_come_back_on_the_original_within_a_pixel(
    run: Run, api: FakeClaudeAPI, tmp_path: Path, orientation: int, tier: str
) -> None:
    image = photo(tmp_path / "photo.jpg", orientation)
    upright, size = upright_box(DRAWN, STORED, orientation)
    seen = answer_boxes(api, {"red box": upright}, size)
    out = tmp_path / "boxes.jsonl"
    args = ["locate", image, "--find", "red box", "-m", MODELS[tier], "-o", out, "--json"]
    first = run(*args)
    assert first.exit_code == 0, first.stderr
    # The model saw the upright image, shrunk to the tier (the mapping is not the identity).
    limit = 1568 if tier == "standard" else 2576
    assert max(seen[0]) <= limit and seen[0][0] / seen[0][1] == pytest.approx(
        size[0] / size[1], rel=0.01
    )
    (found,) = boxes_of(first.stdout)
    assert found["frame"] == "upright" and found["label"] == "red box"
    assert close(corners(found), upright), (corners(found), upright)
    assert json.loads(first.stdout)["images"][0]["width"] == size[0]
    # The same results, in the stored frame: no new request (resumed from the file).
    second = run(*args, "--frame", "stored")
    assert second.exit_code == 0, second.stderr
    assert len(api.messages_requests()) == 1
    (stored,) = boxes_of(second.stdout)
    assert stored["frame"] == "stored"
    assert close(corners(stored), DRAWN), (corners(stored), DRAWN)


def red_box_in(data: bytes) -> tuple[int, int, int, int]:
    """Where the red box is in an image, found in its pixels (as a model would see it)."""
    with Image.open(io.BytesIO(data)) as im:
        r, g, b = im.convert("RGB").split()
    red = ImageChops.multiply(
        r.point(lambda v: 255 if v > 160 else 0), g.point(lambda v: 255 if v < 100 else 0)
    )
    found = ImageChops.multiply(red, b.point(lambda v: 255 if v < 100 else 0)).getbbox()
    assert found is not None, "no red box in the image sent"
    return found


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_box_found_in_the_pixels_sent_comes_back_where_it_was_drawn(
    run: Run, api: FakeClaudeAPI, tmp_path: Path, orientation: int
) -> None:
    # The fake finds the box in the very pixels it received, so this holds only if what was sent
    # is the upright picture, and only if the size vision-cli maps from is the size it sent.
    image = photo(tmp_path / "photo.jpg", orientation)
    api.structured = lambda _s, images: {
        "objects": [{"label": "red", "box": list(red_box_in(images[0].data or b""))}]
    }
    result = run("locate", image, "--find", "red box", "--json", "--frame", "stored")
    assert result.exit_code == 0, result.stderr
    (found,) = boxes_of(result.stdout)
    sent = api.messages_requests()[0].images[0]
    # One pixel of the sent image (resampling blurs an edge by about that) in original pixels.
    slack = max(STORED) / max(sent.width or 1, sent.height or 1) + 1
    assert all(abs(g - w) <= slack for g, w in zip(corners(found), DRAWN, strict=True)), (
        corners(found),
        DRAWN,
    )


def test_boxes_outside_the_image_are_clamped(run: Run, api: FakeClaudeAPI, tmp_path: Path) -> None:
    image = photo(tmp_path / "p.jpg", 6, size=(800, 600), box=(10, 10, 20, 20))

    def make(_schema: Mapping[str, Any], images: list[SeenImage]) -> Json:
        w, h = images[0].width or 0, images[0].height or 0
        return {"objects": [{"label": "edge", "box": [-40, h - 10, w + 50, h + 30]}]}

    api.structured = make
    result = run("locate", image, "--find", "edge", "--json")
    assert result.exit_code == 0, result.stderr
    (found,) = boxes_of(result.stdout)
    upright_w, upright_h = 600, 800  # orientation 6 turns it
    assert found["x1"] == 0 and found["x2"] == upright_w and found["y2"] == upright_h
    assert found["clamped"] is True
    stored = run("locate", image, "--find", "edge", "--json", "--frame", "stored")
    (on_stored,) = boxes_of(stored.stdout)
    assert 0 <= on_stored["x1"] <= on_stored["x2"] <= 800
    assert 0 <= on_stored["y1"] <= on_stored["y2"] <= 600


def test_a_box_wholly_outside_is_said_and_one_box_is_singular(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    api.structured = lambda _s, images: {"objects": [{"label": "gone", "box": [500, 5, 600, 9]}]}
    result = run("locate", make_image("a.png", (40, 30)), "--find", "x")
    assert result.exit_code == 0, result.stderr
    assert "the box of 'gone' lies outside the image: clamped to an empty box" in result.stderr
    assert "1 image: 1 box, 0 failed" in result.stderr


def test_csv_and_jsonl_have_one_box_a_line(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    a, b = make_image("a.png", (400, 300)), make_image("b.png", (200, 100))
    api.structured = lambda _s, images: {
        "objects": [
            {"label": "left", "box": [0, 0, 10, 10]},
            {"label": "right, with a comma", "box": [20, 20, 40, 40], "note": "sure"},
        ]
    }
    result = run("locate", a, b, "--find", "thing", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    # The columns, then path_bytes (empty unless a name is not UTF-8), as every CSV has.
    assert list(rows[0]) == ["path", "label", "x1", "y1", "x2", "y2", "frame", "path_bytes"]
    assert [(r["path"], r["label"]) for r in rows] == [
        (str(a), "left"),
        (str(a), "right, with a comma"),
        (str(b), "left"),
        (str(b), "right, with a comma"),
    ]
    lines = run("locate", a, "--find", "thing", "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["x2"] for line in lines] == [10, 40]
    table = run("locate", a, "--find", "thing")
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split() == [*COLUMNS, "note"]
    assert "sure" in table.stdout


def test_the_request_asks_for_coordinates_with_a_schema(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    run("locate", make_image("a.png"), "--find", "cat")
    body = api.messages_requests()[0].body
    prompt = body["messages"][0]["content"][-1]["text"]
    assert prompt.startswith("Find every cat in this image.")
    assert "absolute pixel coordinates" in prompt and "top-left" in prompt
    schema = body["output_config"]["format"]["schema"]
    assert schema["required"] == ["objects"]


def test_a_mismatch_or_an_api_error_fails_that_image_only(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    a, b = make_image("a.png"), make_image("b.png", (300, 200))
    out = tmp_path / "r.jsonl"
    api.structured = lambda _s, images: {"objects": [{"label": "x", "box": [1, 2, 3, 4]}]}
    api.mismatch_next()
    result = run("locate", a, b, "--find", "x", "-j", "1", "-o", out, "--format", "jsonl")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "does not match the schema" in errors[0]
    assert len(result.stdout.splitlines()) == 1  # the other image's box
    again = run("locate", a, b, "--find", "x", "-o", out, "--format", "jsonl")
    assert again.exit_code == 0, again.stderr
    assert len(api.messages_requests()) == 3  # only the failed one asked again
    assert len(again.stdout.splitlines()) == 2
    records, _ = read_records(out)
    assert all("sent" in r for r in records if r["error"] is None)


@pytest.mark.parametrize(("frame", "size"), [("upright", (300, 400)), ("stored", (400, 300))])
def test_an_api_error_is_said_as_ask_says_it_and_the_size_is_kept(
    run: Run, api: FakeClaudeAPI, tmp_path: Path, frame: str, size: tuple[int, int]
) -> None:
    """locate said "Error: a.png: Overloaded" where ask says the status, type and request id,
    and --json gave width and height null for an image it had read fine."""
    image = photo(tmp_path / "a.jpg", 6, (400, 300), (10, 10, 20, 20))  # 6: turned a quarter
    api.fail_next(529, times=3)
    result = run("locate", image, "--find", "x", "--json", "--max-retries", "0", "--frame", frame)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1
    assert errors[0].startswith(f"Error: {image}: HTTP 529 overloaded_error: "), errors[0]
    (shown,) = json.loads(result.stdout)["images"]
    assert (shown["width"], shown["height"]) == size and shown["boxes"] == []
    assert shown["error"].startswith("HTTP 529 overloaded_error: ")


def test_a_refusal_is_said_to_be_one(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    api.refuse_next()
    result = run("locate", make_image("a.png"), "--find", "x", "--json")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "a.png: the model refused to answer" in errors[0]
    (image,) = json.loads(result.stdout)["images"]
    assert "the model refused to answer" in image["error"]


def test_a_box_that_is_not_four_numbers_is_skipped_with_a_warning(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    api.structured = lambda _s, images: {
        "objects": [{"label": "bad", "box": [1, 2]}, {"label": "good", "box": [1, 2, 3, 4]}]
    }
    result = run("locate", make_image("a.png"), "--find", "x", "--format", "jsonl")
    assert result.exit_code == 0
    assert [json.loads(line)["label"] for line in result.stdout.splitlines()] == ["good"]
    assert "answer 1: the box is not four numbers" in result.stderr


def test_a_box_of_nan_or_infinity_is_skipped_and_never_written(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    # The fake writes NaN and Infinity as Python's json does; JSON itself has neither.
    api.structured = lambda _s, images: {
        "objects": [
            {"label": "nan", "box": [math.nan, 1, 2, 3]},
            {"label": "inf", "box": [0, 0, math.inf, 3]},
            {"label": "good", "box": [1, 2, 3, 4]},
        ]
    }
    out = tmp_path / "r.jsonl"
    args = ["locate", make_image("tiny.png", (40, 30)), "--find", "q", "-o", out]
    for _ in range(2):  # the run, then a resume from the file
        result = run(*args, "--format", "jsonl")
        assert result.exit_code == 0, result.stderr
        assert [json.loads(line)["label"] for line in result.stdout.splitlines()] == ["good"]
        assert "answer 1: the box is not four numbers" in result.stderr
        assert "answer 2: the box is not four numbers" in result.stderr
    assert len(api.messages_requests()) == 1
    (line,) = [json.loads(x, parse_constant=_no_constant) for x in out.read_text().splitlines()]
    assert line["data"]["objects"][0]["box"] == [None, 1, 2, 3]
    exported = run("results", out, "--json")
    assert exported.exit_code == 0, exported.stderr
    json.loads(exported.stdout, parse_constant=_no_constant)


def _no_constant(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


@pytest.mark.parametrize(
    "damage",
    [
        {"width": 0},
        {"source_width": None},
        {"width": None},
        {"width": "abc"},
        {"height": 1.5},
        {"width": True},
        {"source_height": -300},
        {"orientation": 9},
        {"orientation": "6"},
        None,
    ],
)
def test_a_damaged_sent_fails_that_image_on_resume_and_rerun_asks_again(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path, damage: Json | None
) -> None:
    api.structured = lambda _s, images: {"objects": [{"label": "x", "box": [1, 2, 3, 4]}]}
    image = make_image("tiny.png", (40, 30))
    out = tmp_path / "r.jsonl"
    args = ["locate", image, "--find", "q", "-o", out, "--format", "jsonl"]
    assert run(*args).exit_code == 0
    line = json.loads(out.read_text())
    if damage is None:
        del line["sent"]
    else:
        line["sent"] |= damage
        line["sent"] = {k: v for k, v in line["sent"].items() if v is not None}
    out.write_text(json.dumps(line) + "\n")
    resumed = run(*args)
    assert resumed.exit_code == 1, resumed.stderr
    (error,) = [x for x in resumed.stderr.splitlines() if x.startswith("Error: ")]
    assert error.startswith(f"Error: {image}: its line in {out} ") and "--rerun" in error
    assert error.count(str(image)) == 1 and resumed.stdout == ""
    assert len(api.messages_requests()) == 1
    again = run(*args, "--rerun")
    assert again.exit_code == 0, again.stderr
    assert [json.loads(x)["x2"] for x in again.stdout.splitlines()] == [3]


def test_usage_errors(run: Run, api: FakeClaudeAPI, make_image: MakeImage) -> None:
    image = make_image("a.png")
    assert run("locate", image).exit_code == 2
    assert run("locate", image, "--find", "a", "-p", "b").exit_code == 2
    assert run("locate", "--find", "a").exit_code == 2
    assert api.messages_requests() == []


def test_draw_marks_the_box_edges_on_the_upright_copy(
    run: Run, api: FakeClaudeAPI, tmp_path: Path
) -> None:
    size = (1200, 900)
    image = photo(tmp_path / "p.jpg", 8, size=size, box=(100, 100, 101, 101))
    upright_box: Box = (300, 200, 700, 500)  # on the upright image (900 x 1200)
    answer_boxes(api, {"thing": upright_box}, (900, 1200))
    out = tmp_path / "drawn.png"
    result = run("locate", image, "--find", "thing", "--draw", out)
    assert result.exit_code == 0, result.stderr
    with Image.open(out) as drawn:
        assert drawn.size == (900, 1200)  # upright
        colour = drawing.colours(["thing"])["thing"]
        x1, y1, x2, y2 = upright_box
        mid_y = (y1 + y2) // 2
        mid_x = (x1 + x2) // 2
        for point in [(x1, mid_y), (x2 - 1, mid_y), (mid_x, y2 - 1)]:
            assert drawn.getpixel(point) == colour, point
        assert drawn.getpixel((mid_x, mid_y)) == (128, 128, 128)  # inside: untouched
        assert drawn.getpixel((x1 - 10, mid_y)) == (128, 128, 128)  # outside: untouched
        # The label's tag sits above the top-left corner, in the label's colour.
        assert drawn.getpixel((x1 + 2, y1 - 3)) == colour


XMP_TURNED = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>'
)


def deep_grey(path: Path, mode: str) -> Path:
    """A 16-bit PNG at 40000 of 65535, or a float TIFF at 0.6 of 1: mid-grey once scaled."""
    if mode == "I;16":
        Image.new("I;16", (60, 40), 40000).save(path)
    else:
        Image.new("F", (60, 40), 0.6).save(path)
    return path


@pytest.mark.parametrize(("name", "mode"), [("deep.png", "I;16"), ("float.tif", "F")])
def test_draw_of_deep_grey_looks_like_what_was_sent(
    run: Run, api: FakeClaudeAPI, tmp_path: Path, name: str, mode: str
) -> None:
    image = deep_grey(tmp_path / name, mode)
    api.structured = lambda _s, images: {"objects": [{"label": "x", "box": [10, 10, 30, 30]}]}
    out = tmp_path / "drawn.png"
    result = run("locate", image, "--find", "x", "--draw", out)
    assert result.exit_code == 0, result.stderr
    with Image.open(out) as drawn:
        grey = drawn.getpixel((50, 35))  # outside the box: the image's own grey
    assert isinstance(grey, tuple) and len(set(grey)) == 1 and abs(grey[0] - 153) <= 3, grey


def test_draw_turns_the_image_by_exif_only_as_it_was_sent(
    run: Run, api: FakeClaudeAPI, tmp_path: Path
) -> None:
    # An orientation only in XMP: vision-cli sends the stored pixels (60 x 40), and draws on them.
    image = tmp_path / "xmp.jpg"
    Image.new("RGB", (60, 40), (128, 128, 128)).save(image, "JPEG", xmp=XMP_TURNED)
    api.structured = lambda _s, images: {"objects": [{"label": "x", "box": [40, 5, 55, 15]}]}
    out = tmp_path / "drawn.png"
    result = run("locate", image, "--find", "x", "--draw", out, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["images"][0]["width"] == 60
    with Image.open(out) as drawn:
        assert drawn.size == (60, 40)
        assert drawn.getpixel((40, 10)) == drawing.colours(["x"])["x"]


def test_draw_into_a_folder_for_several_images(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    a = make_image("a.png", (400, 300))
    b = make_image("b.jpg", (300, 200), folder=tmp_path / "sub")
    api.structured = lambda _s, images: {"objects": [{"label": "x", "box": [5, 5, 50, 50]}]}
    folder = tmp_path / "drawn"
    result = run("locate", a, b, "--find", "x", "--draw", folder)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "b.jpg"]
    with Image.open(folder / "a.png") as drawn:
        assert drawn.size == (400, 300)


def test_draw_onto_an_image_of_the_run_is_refused_before_sending(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    image = make_image("a.png")
    (tmp_path / "link.png").symlink_to(image)
    before = image.read_bytes()
    api.structured = lambda _s, images: {"objects": []}
    for out in (image, tmp_path / "link.png"):
        result = run("locate", image, "--find", "x", "--draw", out)
        assert result.exit_code == 2, result.stderr
        assert flat(f"--draw {out} is an image of the run") in flat(result.stderr)
        assert "failed" not in result.stderr  # no summary: nothing was run
    assert api.messages_requests() == [] and image.read_bytes() == before


def test_draw_where_a_file_is_in_the_way_is_refused_before_sending(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    image = make_image("a.png")
    (tmp_path / "plain").write_text("a file, not a folder")
    for out in (f"{tmp_path}/plain/marked.png", f"{tmp_path}/plain/sub/", f"{tmp_path}/plain/"):
        result = run("locate", image, "--find", "x", "--draw", out)
        assert result.exit_code == 2, result.stderr
        assert flat(f"{tmp_path / 'plain'} is a file, not a folder") in flat(result.stderr)
    assert api.messages_requests() == []


def test_draw_never_overwrites_another_input_the_results_or_a_drawing(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    # Drawn into ph/ through a link to it: ph/sub/a.png's drawing would be ph/a.png, another
    # input; a.gif's too; the results file is ph/b.png; ph/c.png is a link to an input.
    folder = tmp_path / "ph"
    nested = make_image("a.png", (60, 40), folder=folder / "sub")
    top = make_image("a.png", (50, 40), folder=folder)
    gif = make_image("a.gif", (40, 40), folder=tmp_path / "gifs")
    named_b = make_image("b.png", (20, 20), folder=tmp_path / "other")
    linked = make_image("c.png", (30, 20), folder=tmp_path / "elsewhere")
    (folder / "c.png").symlink_to(linked)
    (tmp_path / "via").symlink_to(folder)
    results = folder / "b.png"
    inputs = {p: p.read_bytes() for p in (nested, top, gif, named_b, linked)}
    api.structured = lambda _s, images: {"objects": [{"label": "x", "box": [1, 1, 5, 5]}]}
    args = [nested, top, gif, named_b, linked, "--find", "x", "-o", results, "-j", "1"]
    result = run("locate", *args, "--draw", f"{tmp_path / 'via'}/")
    assert result.exit_code == 0, result.stderr
    assert all(p.read_bytes() == data for p, data in inputs.items())
    assert len(read_records(results)[0]) == 5  # still the results file
    sizes = {}
    for name in ("a-2.png", "a-3.png", "a-4.png", "b-2.png", "c-2.png"):
        with Image.open(folder / name) as im:
            sizes[name] = im.size
    assert sizes == {
        "a-2.png": (60, 40),
        "a-3.png": (50, 40),
        "a-4.png": (40, 40),
        "b-2.png": (20, 20),
        "c-2.png": (30, 20),
    }


def test_draw_onto_the_results_file_is_refused_before_sending(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    out = tmp_path / "keep.jsonl"
    out.write_text("")
    result = run("locate", make_image("tiny.png"), "--find", "q", "-o", out, "--draw", out)
    assert result.exit_code == 2 and "results file" in result.stderr
    assert api.messages_requests() == [] and out.read_text() == ""


def test_dry_run_needs_no_key_and_sends_nothing(
    run: Run, make_image: MakeImage, fake_api: FakeClaudeAPI
) -> None:
    result = run("locate", make_image("a.png"), "--find", "x", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["summary"]["send"] == 1 and doc["summary"]["input_tokens"] > 0
    assert fake_api.requests == []


def test_a_run_stopped_by_the_api_says_so_once(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    for i in range(3):
        make_image(f"{i}.png", (40, 30 + i), folder=folder)
    api.fail_next(401, times=10)
    result = run("locate", folder, "--find", "x", "-j", "1")
    assert result.exit_code == 3
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "401" in errors[0]
    assert "3 images not asked" in result.stderr


def test_output_dash_is_refused(run: Run, api: FakeClaudeAPI, make_image: MakeImage) -> None:
    result = run("locate", make_image("a.png"), "--find", "x", "-o", "-")
    assert result.exit_code == 2 and "--output" in result.stderr


def test_draw_into_a_new_folder_named_with_a_slash(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    api.structured = lambda _s, images: {"objects": []}
    image = make_image("one.webp", (64, 48))
    result = run("locate", image, "--find", "x", "--draw", f"{tmp_path / 'new'}/")
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["one.webp"]


@pytest.fixture
def own_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A cache folder of this test's own (a corrected edge is remembered there)."""
    folder = tmp_path / "vc-cache"
    monkeypatch.setenv(fsutil.CACHE_DIR_ENV, str(folder))
    catalog.forget()
    return folder


@pytest.mark.parametrize("orientation", [1, 6])
def test_an_edge_shrunk_by_the_api_is_the_size_recorded_and_mapped(
    run: Run, api: FakeClaudeAPI, tmp_path: Path, own_cache: Path, orientation: int
) -> None:
    # The model's data says 1568 px; the API says 1000 (one 400, one resend): the line's
    # ``sent`` must be the size of the resent image, or every box would be off by half.
    api.set_max_side("claude-sonnet-4-6", 1000)
    image = photo(tmp_path / "photo.jpg", orientation)
    upright, size = upright_box(DRAWN, STORED, orientation)
    seen = answer_boxes(api, {"red box": upright}, size)
    out = tmp_path / "boxes.jsonl"
    args = ["locate", image, "--find", "red box", "-m", "claude-sonnet-4-6", "-o", out, "--json"]
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    assert [r.status for r in api.messages_requests()] == [400, 200]
    assert all(
        b["transformations"] == {"oversized_image": "error"}
        for r in api.messages_requests()
        for b in r.body["messages"][0]["content"]
        if b["type"] == "image"
    )
    assert max(seen[-1]) == 1000 and "at most 1000 px a side" in result.stderr
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert (line["sent"]["width"], line["sent"]["height"]) == seen[-1]
    (found,) = boxes_of(result.stdout)
    assert close(corners(found), upright), (corners(found), upright)
    stored = run(*args, "--frame", "stored")
    assert stored.exit_code == 0 and len(api.messages_requests()) == 2
    assert close(corners(boxes_of(stored.stdout)[0]), DRAWN)


def test_allow_downsize_is_refused_it_would_lose_the_size(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    result = run("locate", make_image("a.png"), "--find", "a", "--allow-downsize")
    assert result.exit_code == 2 and "--allow-downsize" in result.stderr
    assert api.messages_requests() == []


def test_the_model_is_checked_like_ask(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    image = make_image("a.png")
    retired = run("locate", image, "--find", "a", "-m", "claude-sonnet-4-20250514")
    assert retired.exit_code == 2 and "retired" in retired.stderr
    assert api.messages_requests() == []
    api.structured = lambda _s, images: {"objects": []}
    out = tmp_path / "o.jsonl"
    by_line = run("locate", image, "--find", "a", "-m", "haiku", "-o", out, "-q")
    assert by_line.exit_code == 0, by_line.stderr
    newest_haiku = catalog.resolve("haiku").id
    assert api.messages_requests()[-1].body["model"] == newest_haiku
    default = run("locate", image, "--find", "a", "-q", "--rerun", "-o", out)
    assert default.exit_code == 0, default.stderr
    assert api.messages_requests()[-1].body["model"] == catalog.load().default


def test_an_unreadable_input_is_said_with_its_code_as_ask_says_it(
    run: Run, api: FakeClaudeAPI, tmp_path: Path
) -> None:
    text = tmp_path / "notes.png"
    text.write_text("hello")
    asked = run("ask", text, "-p", "what is it?")
    located = run("locate", "-", "--find", "x", input=b"hello")
    said = 'text, not an image (it begins "hello"): check that this is the right file.'
    assert f"Error: {text}: {said} [unreadable]" in asked.stderr.splitlines()
    assert f"Error: -: {said} [unreadable]" in located.stderr.splitlines()
    assert located.exit_code == 1 and api.messages_requests() == []


def test_images_an_interrupted_run_did_not_ask_are_not_counted_as_failed(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    """Ctrl-C during the first answer (SIGINT from the fake's thread reaches the run's main
    thread, as a terminal's would): the image in flight is answered, the other four are not
    asked, and none of them failed."""
    folder = tmp_path / "many"
    for i in range(5):
        make_image(f"{i}.png", (40, 30 + i), folder=folder)

    def answer(_schema: Mapping[str, Any], _images: list[SeenImage]) -> Json:
        os.kill(os.getpid(), signal.SIGINT)
        return {"objects": [{"label": "x", "box": [1, 1, 5, 5]}]}

    api.structured = answer
    result = run("locate", folder, "--find", "x", "-j", "1")
    assert result.exit_code == ExitStatus.INTERRUPTED, result.stderr
    assert len(api.messages_requests()) == 1
    assert "5 images: 1 box, 0 failed, 4 not asked, 0 answered before" in result.stderr
    assert "4 images not asked" in result.stderr
