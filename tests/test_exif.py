"""The orientation read from raw EXIF bytes (vision_cli.imaging.exif) is Pillow's, always: over
the JPEGs and EXIF blocks of Pillow's own test images, over hand-made EXIF in both byte orders,
without an orientation, and over malformed and randomly damaged IFDs."""

from __future__ import annotations

import contextlib
import io
import struct
import warnings
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageFile

from tests.test_corpus import pillow_test_images
from vision_cli.imaging import exif, probe, tails

TAG = exif.ORIENTATION_TAG


def pillow_orientation(raw: bytes) -> int | str:
    """What Pillow's own EXIF parser says: the tag's value, "absent", or "raises"."""
    parsed = Image.Exif()
    try:
        with warnings.catch_warnings(action="ignore"):
            parsed.load(raw)
            found: int | str = parsed.get(TAG, "absent")
            return found
    except Exception:
        return "raises"


def agrees(raw: bytes) -> bool:
    """Our reading equals Pillow's whenever we answer (and we answer only when Pillow would not
    raise)."""
    ours = exif.raw_orientation(raw)
    if ours is exif.ASK_PILLOW:
        return True
    return pillow_orientation(raw) == ("absent" if ours == exif.ABSENT else ours)


def tiff(endian: str, entries: list[tuple[int, int, int, bytes]], *, extra: bytes = b"") -> bytes:
    """An EXIF block: TIFF header, IFD0 with ``entries`` (tag, type, count, 4-byte field)."""
    head = (b"II*\x00" if endian == "<" else b"MM\x00*") + struct.pack(endian + "L", 8)
    ifd = struct.pack(endian + "H", len(entries))
    for tag, kind, count, field in entries:
        ifd += struct.pack(endian + "HHL", tag, kind, count) + field
    return b"Exif\x00\x00" + head + ifd + struct.pack(endian + "L", 0) + extra


def short(endian: str, value: int) -> bytes:
    return struct.pack(endian + "HH", value, 0)


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("value", [1, 3, 6, 8, 0, 9, 65535])
def test_both_byte_orders_read_as_pillow_reads_them(endian: str, value: int) -> None:
    make = (0x010F, 2, 6, struct.pack(endian + "L", 200))  # out-of-line ASCII, past the end
    raw = tiff(endian, [(0x0100, 3, 1, short(endian, 640)), (TAG, 3, 1, short(endian, value))])
    assert exif.raw_orientation(raw) == value == pillow_orientation(raw)
    with_make = tiff(endian, [make, (TAG, 3, 1, short(endian, value))], extra=b"x" * 300)
    assert exif.raw_orientation(with_make) == value == pillow_orientation(with_make)


@pytest.mark.parametrize("endian", ["<", ">"])
def test_no_orientation_entry_is_absent(endian: str) -> None:
    raw = tiff(endian, [(0x0100, 3, 1, short(endian, 640))])
    assert exif.raw_orientation(raw) == exif.ABSENT
    assert pillow_orientation(raw) == "absent"
    assert exif.raw_orientation(b"Exif\x00\x00") == exif.ABSENT
    assert pillow_orientation(b"Exif\x00\x00") == "absent"


@pytest.mark.parametrize(
    "raw",
    [
        b"Exif\x00\x00II*\x00",  # header cut short
        b"Exif\x00\x00XX*\x00\x08\x00\x00\x00",  # not a TIFF header
        b"Exif\x00\x00MM\x2a\x00\x00\x00\x00\x08",  # Pillow's "invalid but assumed" header
        tiff("<", [(TAG, 4, 1, struct.pack("<L", 6))]),  # orientation as a LONG
        tiff("<", [(TAG, 3, 2, short("<", 6))]),  # two values
        tiff("<", [(0x010F, 2, 50, struct.pack("<L", 4000)), (TAG, 3, 1, short("<", 6))]),
        tiff("<", [(0x9999, 99, 1, b"\0\0\0\0"), (TAG, 3, 1, short("<", 6))]),  # unknown type
        b"Exif\x00\x00II*\x00\xff\x00\x00\x00",  # IFD0 beyond the end
        tiff("<", [(TAG, 3, 1, short("<", 6))])[:20],  # entry cut short
    ],
)
def test_malformed_ifds_are_left_to_pillow(raw: bytes) -> None:
    assert exif.raw_orientation(raw) is exif.ASK_PILLOW


@given(
    st.sampled_from(["<", ">"]),
    st.integers(0, 10),
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=6),
    st.integers(0, 80),
)
def test_damaged_exif_never_disagrees_with_pillow(
    endian: str, value: int, flips: list[tuple[int, int]], cut: int
) -> None:
    make = (0x010F, 2, 6, struct.pack(endian + "L", 44))
    good = tiff(endian, [make, (TAG, 3, 1, short(endian, value))], extra=b"Phone\x00")
    damaged = bytearray(good)
    for pos, byte in flips:
        if pos < len(damaged):
            damaged[pos] = byte
    assert agrees(bytes(damaged))
    assert agrees(bytes(damaged[: len(damaged) - cut]))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_only_exif_orientation_counts_not_xmp(fmt: str) -> None:
    """An orientation in XMP alone is not applied by browsers and viewers, so it is not applied
    here either, in any format (Pillow's ``getexif()`` takes it for each); EXIF's is, and wins
    over XMP's."""
    base = Image.new("RGB", (16, 8))
    for value in (1, 6, 8):
        found = Image.Exif()
        found[TAG] = value
        packet = f'<x:xmpmeta><rdf:Description tiff:Orientation="{value}"/></x:xmpmeta>'
        other = f'<x:xmpmeta><rdf:Description tiff:Orientation="{9 - value}"/></x:xmpmeta>'
        for kind, options, expected in (
            ("exif", {"exif": found.tobytes()}, value),
            ("none", {}, 1),
            ("xmp", {"xmp": packet.encode()}, 1),
            ("both", {"exif": found.tobytes(), "xmp": other.encode()}, value),
        ):
            out = io.BytesIO()
            base.save(out, fmt, **options)
            out.seek(0)
            with Image.open(out) as im:
                if kind == "xmp" and value != 1 and fmt in ("JPEG", "WEBP"):  # (XMP written)
                    assert _getexif_orientation(im) == value  # what Pillow would have said
                assert tails.orientation_of(im) == expected, (fmt, kind, value)


def _getexif_orientation(im: Image.Image) -> int:
    """Pillow's answer, from a fresh open of the same bytes."""
    assert isinstance(im, ImageFile.ImageFile) and isinstance(im.fp, io.BytesIO)
    fresh = Image.open(io.BytesIO(im.fp.getvalue()))
    value = fresh.getexif().get(TAG, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


@pytest.mark.slow
def test_pillow_test_images_orientation_equals_pillow() -> None:
    """Every JPEG, and every EXIF block, among Pillow's own test images."""
    checked = 0
    for path in sorted(pillow_test_images().rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        try:
            with warnings.catch_warnings(action="ignore"):
                im = Image.open(io.BytesIO(data))
        except Exception:
            continue
        raw = im.info.get("exif")
        if isinstance(raw, bytes):
            assert agrees(raw), path
        if im.format in ("JPEG", "MPO"):
            checked += 1
            try:
                with warnings.catch_warnings(action="ignore"):
                    expected: int | str = _getexif_orientation(im)
            except Exception:
                expected = "raises"
            try:
                with warnings.catch_warnings(action="ignore"):
                    ours: int | str = tails.orientation_of(im)
            except Exception:
                ours = "raises"
            assert ours == expected, path
    assert checked > 50


def outcome(path: Path) -> object:
    """All the reader says of a file: its probe, or its refusal's code and sentence."""
    try:
        return probe.probe_path(path)
    except probe.ProbeError as exc:
        return (exc.code, exc.message, exc.format)


def odd_jpegs(folder: Path) -> list[Path]:
    """JPEGs whose EXIF makes Pillow's JPEG opener take each of its paths for a DPI."""
    base = Image.new("RGB", (16, 8))
    unit, unit_be = (0x0128, 3, 1, short("<", 2)), (0x0128, 3, 1, short(">", 2))
    blocks = {
        "ascii-resolution": tiff("<", [(0x011A, 2, 1, b"7\0\0\0"), (TAG, 3, 1, short("<", 6))]),
        "one-letter-resolution": tiff("<", [(0x011A, 2, 2, b"7\0\0\0"), unit]),  # IndexError
        "undefined-resolution": tiff(">", [(0x011A, 7, 1, b"\x07\0\0\0"), unit_be]),
        "short-resolutions": tiff(
            "<", [(0x011A, 3, 2, short("<", 0)), (0x0128, 3, 1, short("<", 3))]
        ),
        "rational-resolution": tiff(
            "<",
            [(0x011A, 5, 1, struct.pack("<L", 38)), (TAG, 3, 1, short("<", 8))],
            extra=struct.pack("<LL", 300, 0),
        ),
        "not-tiff": b"Exif\x00\x00XX*\x00\x08\x00\x00\x00",
        "cut-ifd": tiff("<", [(TAG, 3, 1, short("<", 6))])[:20],
    }
    made = []
    for name, block in blocks.items():
        for jfif in (False, True):
            path = folder / f"{name}-{'jfif' if jfif else 'plain'}.jpg"
            out = io.BytesIO()
            base.save(out, "JPEG", exif=block, **({"dpi": (96, 96)} if jfif else {}))
            path.write_bytes(out.getvalue())
            made.append(path)
    return made


def test_deferring_the_dpi_changes_no_verdict_on_odd_exif(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = odd_jpegs(tmp_path)
    deferred = [outcome(p) for p in paths]
    monkeypatch.setattr(probe, "dpi_deferred", contextlib.nullcontext)
    assert deferred == [outcome(p) for p in paths]
    assert any(isinstance(o, tuple) for o in deferred)  # some are refused, as Pillow refuses them


@pytest.mark.slow
def test_deferring_the_dpi_changes_no_verdict_on_pillow_test_images(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paths = sorted(p for p in pillow_test_images().rglob("*") if p.is_file())
    deferred = [outcome(p) for p in paths]
    monkeypatch.setattr(probe, "dpi_deferred", contextlib.nullcontext)
    for path, ours in zip(paths, deferred, strict=True):
        assert ours == outcome(path), path


def test_the_dpi_read_is_deferred_only_where_an_opener_has_one() -> None:
    """The deferral hooks a private method of Pillow's JPEG opener: an opener with it reads no
    DPI while deferred and reads it otherwise; one without it (another Pillow) is left alone,
    instead of every JPEG becoming unreadable."""
    calls: list[str] = []

    class WithDpi:
        def _read_dpi_from_exif(self) -> None:
            calls.append("read")

    original = tails.defer_dpi_of(WithDpi)
    with tails.dpi_deferred():
        WithDpi()._read_dpi_from_exif()
    assert calls == []
    WithDpi()._read_dpi_from_exif()
    original(WithDpi())
    assert calls == ["read", "read"]

    class WithoutDpi:
        pass

    assert tails.defer_dpi_of(WithoutDpi) is tails.no_dpi_read
    assert not hasattr(WithoutDpi, "_read_dpi_from_exif")
