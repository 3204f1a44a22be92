"""The reader's fast path for plain JPEGs (vision_cli.imaging.jpeghead) says exactly what Pillow's
opener says, or leaves the file to it: the same probe or the same refusal, word for word, over
Pillow's own test JPEGs, over JPEGs made here in every layout the fast path reads, and over
damaged (cut, overwritten) copies of them."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from tests.test_corpus import pillow_test_images
from tests.test_exif import odd_jpegs, outcome
from vision_cli.imaging import jpeghead, probe

SOI = b"\xff\xd8\xff"


def by_pillow(data: bytes | Path) -> object:
    """The reader's verdict with the fast path switched off."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jpeghead, "read", lambda fh: None)
        return outcome(data) if isinstance(data, Path) else verdict(data)


def verdict(data: bytes) -> object:
    try:
        return probe.probe_bytes(data, ".jpg")
    except probe.ProbeError as exc:
        return (exc.code, exc.message, exc.format)


def made_jpegs() -> dict[str, bytes]:
    """JPEGs in the layouts cameras, phones and editors write."""
    photo = Image.linear_gradient("L").resize((120, 80)).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Phone"
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><tiff:Orientation>3</tiff:Orientation></x:xmpmeta>'
    kinds: dict[str, tuple[Image.Image, dict[str, Any]]] = {
        "baseline": (photo, {}),
        "progressive": (photo, {"progressive": True}),
        "exif": (photo, {"exif": exif.tobytes()}),
        "icc": (photo, {"icc_profile": srgb}),
        "xmp": (photo, {"xmp": xmp}),
        "exif-and-xmp": (photo, {"exif": exif.tobytes(), "xmp": xmp}),
        "grey": (photo.convert("L"), {}),
        "cmyk": (photo.convert("CMYK"), {}),
        "dpi": (photo, {"dpi": (300, 300), "comment": b"made here"}),
        "restarts": (photo, {"restart_marker_blocks": 1, "optimize": True}),
        "subsampled": (photo, {"subsampling": 0, "quality": 95}),
    }
    made = {}
    for name, (im, options) in kinds.items():
        out = io.BytesIO()
        im.save(out, "JPEG", **options)
        made[name] = out.getvalue()
    return made


MADE = made_jpegs()


def test_the_fast_path_reads_the_usual_layouts() -> None:
    """Not a test that passes by leaving everything to Pillow: the common layouts are read fast,
    with Pillow's answer."""
    fast = {name for name, data in MADE.items() if jpeghead.read(io.BytesIO(data)) is not None}
    assert fast >= {"baseline", "progressive", "exif", "icc", "grey", "cmyk", "dpi", "restarts"}
    assert {"xmp", "exif-and-xmp"} <= fast  # XMP holds no orientation that counts
    for data in MADE.values():
        assert verdict(data) == by_pillow(data)


def test_fast_path_facts_are_pillows() -> None:
    header = jpeghead.read(io.BytesIO(MADE["exif"]))
    assert header is not None
    with Image.open(io.BytesIO(MADE["exif"])) as im:
        assert (header.width, header.height, header.mode) == (*im.size, im.mode)
        assert header.orientation == im.getexif()[0x0112] == 6
    progressive = jpeghead.read(io.BytesIO(MADE["progressive"]))
    icc = jpeghead.read(io.BytesIO(MADE["icc"]))
    assert progressive is not None and progressive.progressive and not progressive.icc
    assert icc is not None and icc.icc and not icc.progressive


@pytest.mark.slow
def test_every_pillow_test_jpeg_gets_pillows_verdict() -> None:
    paths = sorted(p for p in pillow_test_images().rglob("*") if p.is_file())
    jpegs = [(p, p.read_bytes()) for p in paths if p.read_bytes()[:3] == SOI]
    assert len(jpegs) > 50
    fast = 0
    for path, data in jpegs:
        assert verdict(data) == by_pillow(data), path
        assert outcome(path) == by_pillow(path), path  # files over 64 KiB are read in parts
        fast += jpeghead.read(io.BytesIO(data)) is not None
    assert fast > 10


def test_odd_exif_gets_pillows_verdict(tmp_path: Path) -> None:
    for path in odd_jpegs(tmp_path):
        assert outcome(path) == by_pillow(path), path


def test_every_cut_gets_pillows_verdict() -> None:
    """Cut inside every segment of the header (and just after it)."""
    for name, data in MADE.items():
        header_end = data.index(b"\xff\xda") + 20
        for cut in range(3, header_end):
            assert verdict(data[:cut]) == by_pillow(data[:cut]), (name, cut)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(MADE)),
    st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_overwritten_header_bytes_get_pillows_verdict(
    name: str, changes: list[tuple[int, int]]
) -> None:
    data = bytearray(MADE[name])
    header_end = data.index(b"\xff\xda") + 14
    for at, value in changes:
        data[2 + at % (header_end - 2)] = value
    assert verdict(bytes(data)) == by_pillow(bytes(data))


def test_segment_lengths_and_markers_at_random_get_pillows_verdict() -> None:
    """Lengths and marker bytes are where a hand-written reader goes wrong: each one, in every
    made JPEG, set to values around the edges."""
    rng = random.Random(16)
    for name, data in MADE.items():
        pos = 2
        while data[pos + 1] != 0xDA:
            length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            for value in (0, 1, 2, 3, length - 1, length + 1, rng.randrange(65536)):
                bad = bytearray(data)
                bad[pos + 2 : pos + 4] = value.to_bytes(2, "big")
                assert verdict(bytes(bad)) == by_pillow(bytes(bad)), (name, pos, value)
            for marker in (0x00, 0xC3, 0xD0, 0xD8, 0xD9, 0xDA, 0xDC, 0xFF, rng.randrange(256)):
                bad = bytearray(data)
                bad[pos + 1] = marker
                assert verdict(bytes(bad)) == by_pillow(bytes(bad)), (name, pos, marker)
            pos += 2 + length


def segments(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each header segment, marker included, up to the first scan's."""
    found, pos = [], 2
    while True:
        end = pos + 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        found.append((pos, end))
        if data[pos + 1] == 0xDA:
            return found
        pos = end


def edited(data: bytes, start: int, end: int, body: bytes) -> bytes:
    """``data`` with the segment at ``start:end`` given ``body``, its length set to match."""
    length = (len(body) + 2).to_bytes(2, "big")
    return data[: start + 2] + length + body + data[end:]


def test_edited_segment_bodies_get_pillows_verdict() -> None:
    """Every segment of every made JPEG with each of its first bytes changed, shortened to every
    length (a 12-bit frame, a short JFIF or Adobe segment, an ICC part without its header, a
    frame with a partial component ...), and twice in a row (two frames, two EXIF blocks, two ICC
    parts)."""
    for name, data in MADE.items():
        for start, end in segments(data):
            body = data[start + 4 : end]
            variants = [data[:end] + data[start:]]  # the segment twice
            for at in range(min(len(body), 16)):
                for value in (0, 1, 3, 4, 8, 12, 16, 0xFF, body[at] ^ 1):
                    changed = body[:at] + bytes([value]) + body[at + 1 :]
                    variants.append(edited(data, start, end, changed))
            for keep in [*range(min(len(body), 20)), len(body) - 2, len(body) - 1]:
                variants.append(edited(data, start, end, body[: max(keep, 0)]))
            for variant in variants:
                assert verdict(variant) == by_pillow(variant), (name, start)


@settings(max_examples=60, deadline=None)
@given(
    extra=st.integers(min_value=0, max_value=40),
    chunk=st.integers(min_value=1, max_value=97),
    after=st.binary(max_size=200),
    noise=st.integers(min_value=0, max_value=5),
)
def test_count_scans_counts_start_of_scan_markers_up_to_the_end_marker(
    extra: int, chunk: int, after: bytes, noise: int
) -> None:
    """Whatever the size of the parts the file is read in: every scan up to the end-of-image
    marker is counted once, and start-of-scan byte pairs before the first scan (a colour
    profile's) or after the end (a phone's video) are not."""
    from tests.test_gate import with_scans

    plain = MADE["progressive"]
    data = with_scans(plain, 10 + extra) + b"\xff\xda" * noise + after
    header = jpeghead.read(io.BytesIO(data))
    assert header is not None
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(jpeghead, "_COUNT_CHUNK", chunk)
        assert jpeghead.count_scans(io.BytesIO(data), header.data_start) == 10 + extra


@pytest.mark.parametrize("fast", [True, False])
def test_start_of_scan_bytes_in_a_colour_profile_are_not_scans(fast: bool) -> None:
    """Counting starts where the first scan's data does, whichever reader read the header."""
    im = Image.new("RGB", (64, 48), (1, 2, 3))
    out = io.BytesIO()
    im.save(out, "JPEG", progressive=True, icc_profile=b"\xff\xda" * 50)
    data = out.getvalue()
    assert data.count(b"\xff\xda") == 60
    with pytest.MonkeyPatch.context() as mp:
        if not fast:
            mp.setattr(jpeghead, "read", lambda fh: None)
        assert probe.probe_bytes(data).facts.scans == 10
