"""Reduced-scale JPEG decoding with one more scale than Pillow's ``draft`` offers: 3/8.

libjpeg decodes at a reduced scale almost for free (it runs a smaller inverse DCT on each block);
Pillow's :meth:`~PIL.Image.Image.draft` asks it for 1/1, 1/2, 1/4 or 1/8 only. The commonest job of
``resize``, a 12-megapixel photo (4032x3024) to the 1568 px / 1.15 MP policy (1238x928), is a
3.3x reduction: ``draft`` decodes at 1/2 (2016x1512), while 3/8 (1512x1134) is still larger than
the target and leaves the LANCZOS pass that follows half the work (``benchmarks/resize_bench.py``
prints both), with no loss (the luma PSNR against a full decode is slightly higher, not lower).
Decoding and that pass are most of what ``resize`` spends per photo.

Pillow's decoder passes its scale to libjpeg as ``1/scale``; libjpeg(-turbo) rounds a requested
``1/3`` up to its next supported scale, 3/8. Pillow then trusts the tile's size: libjpeg writes rows
of its own width into a buffer sized for the tile's. So :func:`draft` uses 3/8 only after
:func:`_three_eighths_supported` has shown, once per process, that the linked libjpeg produces
exactly ``ceil(n * 3 / 8)`` pixels, with a probe laid out so that a libjpeg rounding to 1/2
instead stays within the buffer Pillow's own ``draft`` would use.
"""

from __future__ import annotations

import io
from functools import cache
from typing import Final

from PIL import ImageFile

from vision_cli.imaging.pillow import Image

#: The probe: a white JPEG this size, decoded at 3/8 into a tile as wide as a 1/2 decode.
_PROBE_SIZE: Final = (64, 48)


def draft(im: ImageFile.ImageFile, size: tuple[int, int]) -> None:
    """Configure the not-yet-loaded JPEG ``im`` to decode at the smallest scale (1/1, 1/2, 3/8,
    1/4 or 1/8) that still gives at least ``size``; ``im.size`` then says what will be decoded."""
    full = im.size
    im.draft(im.mode, size)
    if im.decoderconfig[:1] != (2,):
        return  # Pillow chose 1/1 (nothing smaller fits), or 1/4 or 1/8 (smaller than 3/8)
    scaled = _three_eighths(full)
    if scaled[0] >= size[0] and scaled[1] >= size[1] and _three_eighths_supported():
        _use_scale(im, 3, scaled)


def _three_eighths(size: tuple[int, int]) -> tuple[int, int]:
    """The size libjpeg gives at scale 3/8 (it rounds up)."""
    return (-(-size[0] * 3 // 8), -(-size[1] * 3 // 8))


def _use_scale(im: ImageFile.ImageFile, denominator: int, size: tuple[int, int]) -> None:
    """Ask the decoder for ``1/denominator`` and make the tile ``size``, as ``draft`` does."""
    (tile,) = im.tile
    x0, y0 = tile.extents[:2] if tile.extents else (0, 0)
    im.tile = [tile._replace(extents=(x0, y0, x0 + size[0], y0 + size[1]))]
    im._size = size
    im.decoderconfig = (denominator, 0)


@cache
def _three_eighths_supported() -> bool:
    """Whether the libjpeg Pillow uses decodes at exactly 3/8 when asked for 1/3 (probed once)."""
    return _probe(3)


def _probe(denominator: int) -> bool:
    """Whether asking for ``1/denominator`` decodes at exactly 3/8.

    A white probe is decoded into a tile as wide as its 1/2 decode and as tall as its 3/8 one. A
    3/8 decode fills the left 3/8 of each row and leaves the rest of Pillow's row buffer
    unwritten (black); a 1/2 decode fills every column, and then fails for want of rows; smaller
    scales fill too few columns. Any surprise means no. ``denominator`` must be at least 2 (a full
    decode would overflow the row buffer).
    """
    buffer = io.BytesIO()
    Image.new("RGB", _PROBE_SIZE, "white").save(buffer, "JPEG", quality=95)
    try:
        im = Image.open(buffer)
        if not isinstance(im, ImageFile.ImageFile) or im.format != "JPEG" or len(im.tile) != 1:
            return False
        width, height = _three_eighths(_PROBE_SIZE)
        _use_scale(im, denominator, (-(-_PROBE_SIZE[0] // 2), height))
        im.load()
        grey = im.convert("L")
        written = grey.crop((0, 0, width, height)).getextrema()[0]
        beyond = grey.crop((width, 0, im.width, height)).getextrema()[0]
    except Exception:  # any failure only means "use Pillow's own scales"
        return False
    return isinstance(written, int) and isinstance(beyond, int) and written >= 250 > beyond
