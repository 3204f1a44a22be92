"""``--trim`` (Pillow only): find the uniform border around an image without decoding more than it
needs, and crop it.
"""

from __future__ import annotations

import io
from typing import cast

from PIL import ImageChops

from vision_cli import judging
from vision_cli.imaging import probe
from vision_cli.imaging.decode import (
    Header,
    Target,
    TransformError,
    decode_first_frame,
    make_upright,
    pillow_errors,
)
from vision_cli.imaging.pillow import Image

Box = tuple[int, int, int, int]


def like_source(source_format: str, to: Target) -> Target:
    """A crop travels as PNG; under ``auto`` a photo's crop still comes out as JPEG."""
    return Target.jpeg if to == "auto" and source_format in ("JPEG", "MPO") else to


def head_of(found: probe.Probe) -> Header:
    facts = found.facts
    return Header(
        format=facts.format,
        width=facts.width,
        height=facts.height,
        orientation=facts.orientation,
        animated=facts.frames > 1,
    )


def within_budget(found: probe.Probe, max_source_pixels: int) -> None:
    """Refuse from the header an image whose decode would allocate too many pixels."""
    facts = found.facts
    if (facts.decode_pixels or facts.width * facts.height) > max_source_pixels:
        raise TransformError(judging.over_budget(facts, max_source_pixels))


def upright_frame(
    data: bytes, max_source_pixels: int, found: probe.Probe | None = None
) -> tuple[Image.Image, Header]:
    """The whole first frame, decoded at full size and turned upright (RGB, L or RGBA), with its
    colour profile in ``info``. ``found``: the gate's probe of ``data`` (probed here when None)."""
    if found is None:
        found = probe.probe_bytes(data)
    within_budget(found, max_source_pixels)
    head = head_of(found)
    im = probe.open_image(io.BytesIO(data), heif=probe.heif_brand(data[:32]))
    decoded = decode_first_frame(im, head, head.upright_size, max_source_pixels, found.progressive)
    # Pillow turns a TIFF's pixels upright while loading them: never turn them twice.
    frame = make_upright(decoded, head._replace(orientation=1) if found.upright_on_load else head)
    if frame.mode == "CMYK":
        frame = frame.convert("RGB")
    icc = im.info.get("icc_profile")
    if icc:
        frame.info["icc_profile"] = icc
    return frame, head


def trim_box(im: Image.Image, fuzz: int) -> Box:
    """The box inside the image's near-uniform borders, ``(left, top, right, bottom)``.

    Each side is judged on its own: its colour is the commonest colour of its outermost line, and
    lines are cut from that side while every pixel in them is within ``fuzz`` levels (0-255, on
    every channel) of it. A line holding a single pixel of content stops the cut, so content is
    never trimmed. A uniform image keeps its full box.
    """
    rgb = im.convert("RGB")
    w, h = rgb.size
    edges: tuple[Box, ...] = ((0, 0, 1, h), (0, 0, w, 1), (w - 1, 0, w, h), (0, h - 1, w, h))
    table = [0] * (fuzz + 1) + [255] * (255 - fuzz)
    kept = [0, 0, w, h]
    for side, edge in enumerate(edges):
        colours = rgb.crop(edge).getcolors(maxcolors=w * h) or []
        colour = cast(tuple[int, int, int], max(colours, key=lambda c: c[0])[1])
        diff = ImageChops.difference(rgb, Image.new("RGB", rgb.size, colour))
        red, green, blue = diff.split()
        content = ImageChops.lighter(ImageChops.lighter(red, green), blue).point(table)
        box = content.getbbox()
        if box is None:
            return (0, 0, w, h)
        kept[side] = box[side]
    left, top, right, bottom = kept
    if right - left < 1 or bottom - top < 1:
        return (0, 0, w, h)
    return (left, top, right, bottom)


def trimmed_frame(
    data: bytes, fuzz: int, max_source_pixels: int, found: probe.Probe | None
) -> tuple[Image.Image, Header, Box | None]:
    """The upright first frame (see :func:`upright_frame`) and the box :func:`trim_box` keeps of
    it (None when there is nothing to trim): what every ``--trim`` decides from, ``resize``,
    ``ask`` and ``estimate`` alike. :class:`TransformError` when it cannot be decoded."""
    with pillow_errors():
        frame, head = upright_frame(data, max_source_pixels, found)
        box = trim_box(frame, fuzz)
    return frame, head, None if box == (0, 0, *frame.size) else box


def trimmed(
    data: bytes, fuzz: int, max_source_pixels: int, found: probe.Probe | None
) -> tuple[bytes, Header, Box] | None:
    """The image without its borders, as a lossless PNG (None when there is nothing to trim)."""
    frame, head, box = trimmed_frame(data, fuzz, max_source_pixels, found)
    if box is None:
        return None
    with pillow_errors():
        buffer = io.BytesIO()
        icc = frame.info.get("icc_profile")
        frame.crop(box).save(buffer, "PNG", compress_level=1, icc_profile=icc)
        return buffer.getvalue(), head, box
