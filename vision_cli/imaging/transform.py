"""Bring one image's bytes into shape for the API, in memory: the core of `resize` and `ask`.

Pillow only. :func:`prepare` reads the bytes once, copies an image that already complies byte for
byte, and otherwise decodes the first frame (JPEGs at reduced scale), shrinks it to the size
policy, converts it to sRGB, turns the pixels upright, drops all metadata and encodes it under the
byte limit.
"""

from __future__ import annotations

import io
from typing import NamedTuple

from vision_cli import judging, limits, policy
from vision_cli.imaging import preflight, probe, tails
from vision_cli.imaging.decode import (
    FORCED,
    KEPT,
    SCREEN_COLOURS,
    Action,
    Header,
    OutputFormat,
    Target,
    TransformError,
    decode_first_frame,
    make_upright,
    pillow_errors,
    shrink,
    target_format,
    to_srgb,
)
from vision_cli.imaging.encode import choose_format, colours_at_most, encode_fitting
from vision_cli.imaging.pillow import Image
from vision_cli.imaging.trim import head_of, like_source, trimmed, within_budget
from vision_cli.judging import Code, Finding


class PreparedImage(NamedTuple):
    """The bytes to write or send, and what was done to get them."""

    data: bytes
    format: OutputFormat
    media_type: str
    width: int
    height: int
    action: Action
    quality: int | None  # JPEG or WebP quality used; None for a copy or a PNG
    source_width: int  # as stored in the file (before EXIF orientation)
    source_height: int
    source_format: str  # Pillow's name: JPEG, MPO, PNG, GIF, WEBP, BMP, TIFF, ...
    source_orientation: int = 1
    source_animated: bool = False
    #: ``--trim``: the box kept, ``(left, top, right, bottom)`` in the upright source (None:
    #: nothing trimmed).
    trim: tuple[int, int, int, int] | None = None


def prepare(
    data: bytes,
    *,
    size_policy: policy.SizePolicy | None,
    found: probe.Probe | None = None,
    to: Target = Target.auto,
    quality: int | None = None,
    max_bytes: int = limits.DEFAULT_MAX_BYTES,
    reencode: bool = False,
    max_dimension: int = limits.MAX_DIMENSION,
    max_source_pixels: int = limits.PIXEL_BUDGET,
    verify: bool = False,
    trim_fuzz: int | None = None,
) -> PreparedImage:
    """Make ``data`` ready for the API; :class:`TransformError` when it cannot be done.

    ``found`` is the gate's probe of ``data`` (probed here when None). ``size_policy`` None
    applies only ``max_dimension`` (the API's hard limit, or the 2000 px limit of a many-image
    request). ``quality`` None means 85 for JPEG and 80 for WebP; it is lowered step by step
    while the base64 length is over ``max_bytes``. An image whose decode would allocate more
    than ``max_source_pixels`` pixels is refused from its header, before anything is decoded (a
    baseline JPEG counts at the reduced scale it is decoded at, so a 100-megapixel photo still
    works; a progressive one at full size). ``verify`` decodes an image that would be copied as
    it is, so that nothing damaged is copied. The result of ``prepare`` on its own output, with
    the same arguments, is a copy.
    ``trim_fuzz`` (``--trim``): near-uniform borders, within that many levels of their colour,
    are cut off first (see :func:`trim_box`).
    """
    if to not in ("auto", *FORCED):
        raise ValueError(f"unknown target format {to!r}")
    if trim_fuzz is not None:
        cut = trimmed(data, trim_fuzz, max_source_pixels, found)
        if cut is not None:
            crop, head, box = cut
            inner = prepare(
                crop,
                size_policy=size_policy,
                to=like_source(head.format, to),
                quality=quality,
                max_bytes=max_bytes,
                reencode=True,
                max_dimension=max_dimension,
                max_source_pixels=max_source_pixels,
            )
            return inner._replace(
                action="resized",
                source_width=head.width,
                source_height=head.height,
                source_format=head.format,
                source_orientation=head.orientation,
                source_animated=head.animated,
                trim=box,
            )
    with pillow_errors():
        if found is None:
            found = probe.probe_bytes(data)
        within_budget(found, max_source_pixels)
        head = head_of(found)
        target = target_format(head.upright_size, size_policy, max_dimension)
        if not reencode and _complies(head, found.facts, target, to, max_bytes):
            damage = preflight.find_damage(data, found) if verify else None
            if damage:
                raise TransformError(Finding(Code.UNREADABLE, damage, final=True))
            return _copy(data, head)
        im, frame, late, pixels = _decoded(data, found, head, target, max_source_pixels)
        if late.orientation != head.orientation:  # an eXIf chunk after the image data
            head = late
            target = target_format(head.upright_size, size_policy, max_dimension)
        out_format = choose_format(head.format, frame, to)
        screen = out_format == "PNG" and colours_at_most(frame, SCREEN_COLOURS)
        frame = shrink(frame, pixels, target, screen)
        frame = make_upright(to_srgb(frame, im.info.get("icc_profile")), pixels)
        encoded, out_format, used_quality = encode_fitting(
            frame, out_format, quality, max_bytes, switch=to == "auto", screen=screen
        )
    return PreparedImage(
        data=encoded,
        format=out_format,
        media_type=limits.FORMAT_MEDIA_TYPES[out_format],
        width=frame.width,
        height=frame.height,
        # Any re-encoding at the upright source size (rotation, format, metadata, quality) converts.
        action="resized" if frame.size != head.upright_size else "converted",
        quality=used_quality,
        source_width=head.width,
        source_height=head.height,
        source_format=head.format,
        source_orientation=head.orientation,
        source_animated=head.animated,
    )


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------


def _complies(
    head: Header, facts: judging.ImageFacts, target: policy.Size, to: Target, max_bytes: int
) -> bool:
    """Whether the image can be sent byte for byte: what the gate would find nothing to fix in
    (a CMYK JPEG is a JPEG the API takes, but many decoders show it wrong)."""
    kept = head.format in limits.FORMAT_MEDIA_TYPES and head.format != "MPO"
    return (
        kept
        and not facts.cmyk
        and not head.animated
        and head.orientation == 1
        and target == (head.width, head.height)
        and facts.base64_bytes <= max_bytes
        and (to == "auto" or FORCED[to] == head.format)
    )


def _copy(data: bytes, head: Header) -> PreparedImage:
    fmt: OutputFormat = KEPT.get(head.format, "GIF")
    return PreparedImage(
        data=data,
        format=fmt,
        media_type=limits.FORMAT_MEDIA_TYPES[fmt],
        width=head.width,
        height=head.height,
        action="copied",
        quality=None,
        source_width=head.width,
        source_height=head.height,
        source_format=head.format,
    )


# --------------------------------------------------------------------------------------------------
# Pixels
# --------------------------------------------------------------------------------------------------


def upright(data: bytes, *, max_source_pixels: int = limits.PIXEL_BUDGET) -> Image.Image:
    """The whole first frame as :func:`prepare` makes it before resizing: decoded at full size
    (16-bit and float grey scaled, not clipped), in sRGB, and turned upright by the EXIF
    orientation only, as it is sent (``locate --draw`` draws on it). :class:`TransformError`."""
    with pillow_errors():
        found = probe.probe_bytes(data)
        within_budget(found, max_source_pixels)
        head = head_of(found)
        im, frame, _, pixels = _decoded(data, found, head, head.upright_size, max_source_pixels)
        return make_upright(to_srgb(frame, im.info.get("icc_profile")), pixels)


def _decoded(
    data: bytes, found: probe.Probe, head: Header, target: policy.Size, max_source_pixels: int
) -> tuple[Image.Image, Image.Image, Header, Header]:
    """The opened image, its first frame decoded for ``target``, the header with the
    orientation as read after the pixels (a PNG's eXIf chunk may come after them), and the
    header the pixels are to be turned by (orientation 1 for a TIFF, which Pillow turns upright
    while loading it: never turn it twice)."""
    im = probe.open_image(io.BytesIO(data), heif=probe.heif_brand(data[:32]))
    frame = decode_first_frame(im, head, target, max_source_pixels, found.progressive)
    late = tails.orientation_of(im) if head.format == "PNG" else head.orientation
    head = head._replace(orientation=late)
    return im, frame, head, head._replace(orientation=1) if found.upright_on_load else head


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# Tiles
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# Trim
# --------------------------------------------------------------------------------------------------
