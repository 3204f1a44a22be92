"""Writing (Pillow only): choose the output format and encode an image under the byte limit,
lowering JPEG/WebP quality step by step.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Final

from vision_cli import policy, units
from vision_cli.imaging.decode import (
    COLOUR_SAMPLE_PIXELS,
    DEFAULT_QUALITY,
    FEW_COLOURS,
    FORCED,
    KEPT,
    QUALITY_STEPS,
    OutputFormat,
    Target,
    TransformError,
)
from vision_cli.imaging.pillow import Image
from vision_cli.judging import Code, Finding


def output_format_of(head_format: str, to: Target) -> OutputFormat | None:
    """The output format decided by the source format alone, or None when the content decides."""
    if to != "auto":
        return FORCED[to]
    if head_format == "GIF":
        return "PNG"
    return KEPT.get(head_format)


def choose_format(source_format: str, im: Image.Image, to: Target) -> OutputFormat:
    """The output format: forced by ``to``, kept for JPEG/PNG/WebP, PNG for a GIF's frame, and for
    the other formats PNG when there is transparency or few colours, JPEG otherwise."""
    decided = output_format_of(source_format, to)
    if decided is not None:
        return decided
    if im.mode in ("LA", "RGBA") or _few_colours(im):
        return "PNG"
    return "JPEG"


def _few_colours(im: Image.Image) -> bool:
    return colours_at_most(im, FEW_COLOURS)


def colours_at_most(im: Image.Image, count: int) -> bool:
    """Whether a sample of ``im`` (about :data:`COLOUR_SAMPLE_PIXELS`) has at most ``count``
    colours."""
    sample = im
    if im.width * im.height > COLOUR_SAMPLE_PIXELS:
        step = (im.width * im.height / COLOUR_SAMPLE_PIXELS) ** 0.5
        size = (max(1, int(im.width / step)), max(1, int(im.height / step)))
        sample = im.resize(size, Image.Resampling.NEAREST)
    return sample.getcolors(count) is not None


def encode_fitting(
    im: Image.Image,
    fmt: OutputFormat,
    quality: int | None,
    max_bytes: int,
    *,
    switch: bool,
    screen: bool = False,
) -> tuple[bytes, OutputFormat, int | None]:
    """Encode within ``max_bytes`` of base64: lower the quality step by step, and for an automatic
    PNG fall back to JPEG (opaque) or WebP (transparent). TransformError when nothing fits."""
    attempts = _attempts(fmt, quality)
    if fmt == "PNG" and switch:
        attempts += _attempts("WEBP" if im.mode in ("LA", "RGBA") else "JPEG", None)
    smallest = 0
    for attempt_format, attempt_quality, optimize in attempts:
        data = _encode(im, attempt_format, attempt_quality, optimize, screen)
        size = policy.base64_length(len(data))
        if size <= max_bytes:
            return data, attempt_format, attempt_quality
        smallest = size if not smallest else min(smallest, size)
    raise TransformError(
        Finding(
            Code.FILE_TOO_LARGE,
            f"even the smallest encoding tried is {smallest:,} bytes of base64, over the "
            f"{units.format_bytes(max_bytes)} limit ({max_bytes:,} bytes): lower --max-edge, "
            "--max-megapixels or --quality, or raise --max-bytes.",
            final=True,
        )
    )


_Attempt = tuple[OutputFormat, int | None, bool]  # format, quality, PNG optimize


def _attempts(fmt: OutputFormat, quality: int | None) -> list[_Attempt]:
    if fmt in ("PNG", "GIF"):
        return [("PNG", None, False), ("PNG", None, True)]
    start = DEFAULT_QUALITY[fmt] if quality is None else quality
    return [(fmt, q, False) for q in (start, *(q for q in QUALITY_STEPS if q < start))]


def _encode(
    im: Image.Image, fmt: OutputFormat, quality: int | None, optimize: bool, screen: bool = False
) -> bytes:
    """Encode with no metadata at all: no EXIF, XMP, comment, ICC profile, DPI or text chunks.

    A PNG of screen content (:data:`SCREEN_COLOURS`) is written by :func:`screen_png`;
    ``optimize`` (the fallback over the byte limit) is Pillow's and zlib's smallest, whatever the
    content."""
    if fmt == "JPEG" and im.mode not in ("L", "RGB"):
        im = _flatten(im)
    elif fmt == "WEBP" and im.mode not in ("RGB", "RGBA"):
        im = im.convert("RGBA" if im.mode == "LA" else "RGB")
    im.info = {}
    out = io.BytesIO()
    if fmt == "PNG" and screen and not optimize and im.mode in _PNG_COLOUR_TYPES:
        return screen_png(im)
    if fmt == "PNG":
        im.save(out, "PNG", optimize=optimize)
    else:
        im.save(out, fmt, quality=quality)
    return out.getvalue()


def _flatten(im: Image.Image) -> Image.Image:
    """Lay a translucent image over white (JPEG has no alpha)."""
    if im.mode not in ("LA", "RGBA"):
        return im.convert("RGB")
    rgba = im.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


#: PNG colour type of each 8-bit mode :func:`screen_png` writes.
_PNG_COLOUR_TYPES: Final = {"L": 0, "RGB": 2, "LA": 4, "RGBA": 6}

#: zlib level of screen PNGs: level 3 is the last of zlib's fast levels (no lazy matching).
SCREEN_PNG_LEVEL: Final = 3

#: Pixels taken from the image at a time while writing a screen PNG.
_BAND_BYTES: Final = 64 * 1024


def screen_png(im: Image.Image) -> bytes:
    """A PNG of screen content with every row unfiltered (filter type 0), deflated at
    :data:`SCREEN_PNG_LEVEL`: the same pixels as Pillow's PNG, in half the time.

    Pillow tries every PNG filter on every row and keeps the likeliest; on a screenshot that
    choice is most of its encode time (14 of 15 ms on a 1356x848 one, at any zlib level), and
    buys little: flat colours and text repeat exactly, so deflate matches them as they are. The
    unfiltered file is smaller on most real screenshots and larger on flat synthetic ones
    (``benchmarks/resize_bench.py`` reports the bytes)."""
    width, height = im.size
    stride = width * len(im.mode)
    band = max(1, _BAND_BYTES // stride)  # rows at a time: no copy of the whole image in memory
    deflate = zlib.compressobj(SCREEN_PNG_LEVEL)
    parts = []
    for top in range(0, height, band):
        pixels = im.crop((0, top, width, min(top + band, height))).tobytes()
        rows = [b"\0" + pixels[i : i + stride] for i in range(0, len(pixels), stride)]
        parts.append(deflate.compress(b"".join(rows)))
    parts.append(deflate.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOUR_TYPES[im.mode], 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", b"".join(parts)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
