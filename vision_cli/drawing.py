"""``locate --draw``: a copy of the upright original with the boxes and their labels drawn.

Pillow only. Lines and text scale with the image, so both read the same on a 400 px screenshot and
a 6000 px photo; each label has its own colour (the same label, the same colour, in every image of
a run), and its text sits on a filled tag in that colour, dark or light for contrast.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from PIL import ImageDraw, ImageFont

from vision_cli import fsutil
from vision_cli.imaging import decode, probe, transform
from vision_cli.imaging.pillow import Image

#: Distinct colours, well apart from each other on photos (Tableau 10).
PALETTE: Final = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)
#: Output formats by extension; anything else is written as PNG.
_FORMATS: Final = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP"}

Rgb = tuple[int, int, int]
Pixels = tuple[int, int, int, int]


class DrawError(Exception):
    """The copy cannot be made: one sentence that says why."""


def colours(labels: Sequence[str]) -> dict[str, Rgb]:
    """A colour per distinct label, in sorted order (stable from run to run)."""
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(sorted(set(labels)))}


def line_width(size: tuple[int, int]) -> int:
    return max(2, round(max(size) / 400))


def text_size(size: tuple[int, int]) -> int:
    return max(12, round(max(size) / 45))


def draw(
    data: bytes, found: Sequence[tuple[str, Pixels]], palette: dict[str, Rgb], out: Path
) -> None:
    """Draw each ``(label, upright box)`` on the upright image ``data`` and write ``out`` (its
    format from its extension) as :func:`fsutil.write_output` does: atomically, a symbolic
    link's target, a device or FIFO straight into. DrawError."""
    try:
        im = _upright(data)
    except (OSError, ValueError, SyntaxError, probe.ProbeError) as exc:
        raise DrawError(f"cannot read the image to draw on ({exc})") from None
    pen = ImageDraw.Draw(im)
    width = line_width(im.size)
    font = ImageFont.load_default(size=text_size(im.size))
    for label, box in found:
        colour = palette.get(label, PALETTE[0])
        x1, y1, x2, y2 = box
        # Edges on the box's outermost pixels: columns x1 .. x2 - 1 (the box's x2 is exclusive).
        pen.rectangle((x1, y1, max(x1, x2 - 1), max(y1, y2 - 1)), outline=colour, width=width)
        _tag(pen, font, label, colour, (x1, y1), im.size)
    fmt = _FORMATS.get(out.suffix.lower(), "PNG")
    import io

    buf = io.BytesIO()
    params = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
    im.save(buf, format=fmt, **params)
    try:
        fsutil.write_output(out, buf.getvalue())
    except OSError as exc:
        raise DrawError(fsutil.cannot("write", out, exc)) from None


def _upright(data: bytes) -> Image.Image:
    # As it was sent: the gate's reader, the sending path's modes and EXIF orientation (only).
    try:
        return transform.upright(data).convert("RGB")
    except decode.TransformError as exc:
        raise ValueError(str(exc)) from None


def _tag(
    pen: ImageDraw.ImageDraw,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    label: str,
    colour: Rgb,
    corner: tuple[int, int],
    size: tuple[int, int],
) -> None:
    """The label on a filled tag above the box's top-left corner (inside it at the top edge)."""
    left, top, right, bottom = pen.textbbox((0, 0), label, font=font)
    pad = max(2, (bottom - top) // 5)
    w, h = right - left + 2 * pad, bottom - top + 2 * pad
    x = min(max(0, corner[0]), max(0, size[0] - w))
    y = corner[1] - h if corner[1] - h >= 0 else corner[1]
    pen.rectangle((x, y, x + w, y + h), fill=colour)
    light = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2] > 150
    pen.text(
        (x + pad - left, y + pad - top),
        label,
        fill=(0, 0, 0) if light else (255, 255, 255),
        font=font,
    )
