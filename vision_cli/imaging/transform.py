"""Bring one image's bytes into shape for the API, in memory: the core of `resize` and `ask`.

Pillow only. :func:`prepare` reads the bytes once, copies an image that already complies byte for
byte, and otherwise decodes the first frame (JPEGs at reduced scale), shrinks it to the size
policy, converts it to sRGB, turns the pixels upright, drops all metadata and encodes it under the
byte limit.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Final, Literal, cast

from PIL import Image, ImageChops, ImageCms, ImageFile

from vision_cli import judging, limits, policy, tiling, units
from vision_cli.imaging import jpegscale, probe
from vision_cli.judging import Code, Finding

Target = Literal["auto", "jpeg", "png", "webp"]
OutputFormat = Literal["JPEG", "PNG", "WEBP", "GIF"]
Action = Literal["copied", "resized", "converted"]

#: Pillow format -> the output format that keeps it when ``to`` is ``auto``.
_KEPT: Final[dict[str, OutputFormat]] = {
    "JPEG": "JPEG",
    "MPO": "JPEG",
    "PNG": "PNG",
    "WEBP": "WEBP",
}
_FORCED: Final[dict[str, OutputFormat]] = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
DEFAULT_QUALITY: Final[dict[str, int]] = {"JPEG": 85, "WEBP": 80}
#: Qualities tried in turn when an encoding is over the byte limit (those below the starting one).
QUALITY_STEPS: Final = (75, 65, 55, 45, 35)
#: At most this many distinct colours counts as "few" (a screenshot or drawing: PNG keeps it exact).
FEW_COLOURS: Final = 256
#: Colours are counted on a sample of about this many pixels (nearest neighbour adds no new ones).
_COLOUR_SAMPLE_PIXELS: Final = 512 * 512
#: A PNG output whose source has at most this many colours (in the sample) is screen content: UI,
#: text, charts, drawings, antialiased text included. It is resized with a Hamming window instead
#: of Lanczos and its PNG deflated with run-length matching, which together take about half the
#: time on a 2560x1600 screenshot, for 38.8 dB PSNR against the Lanczos result (vipsthumbnail's
#: own output is at 36.5 dB) and the same size of file. Photographs stay on Lanczos and default
#: deflate (run-length matching would make their PNGs a third bigger):
#: ``benchmarks/resize_bench.py`` measures both.
SCREEN_COLOURS: Final = 4096
#: EXIF orientation -> the transpose that makes the pixels upright (as ImageOps.exif_transpose).
_UPRIGHT: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
#: Exceptions Pillow raises on malformed input (its plugins are not uniform about it).
_DECODE_ERRORS: Final = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    ZeroDivisionError,
    Image.DecompressionBombError,
    MemoryError,
)


class TransformError(Exception):
    """Why one image cannot be made ready: ``finding`` holds the same code and sentence the gate
    gives every command (the caller names the file)."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


@dataclass(frozen=True)
class PreparedImage:
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


@dataclass(frozen=True)
class _Header:
    format: str
    width: int
    height: int
    orientation: int
    animated: bool

    @property
    def upright_size(self) -> policy.Size:
        """The size a viewer shows: width and height swap for orientations 5 to 8."""
        if self.orientation >= 5:
            return (self.height, self.width)
        return (self.width, self.height)


def prepare(
    data: bytes,
    *,
    size_policy: policy.SizePolicy | None,
    found: probe.Probe | None = None,
    to: Target = "auto",
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
    if to not in ("auto", *_FORCED):
        raise ValueError(f"unknown target format {to!r}")
    if trim_fuzz is not None:
        cut = _trimmed(data, trim_fuzz, max_source_pixels, found)
        if cut is not None:
            crop, head, box = cut
            inner = prepare(
                crop,
                size_policy=size_policy,
                to=_like_source(head.format, to),
                quality=quality,
                max_bytes=max_bytes,
                reencode=True,
                max_dimension=max_dimension,
                max_source_pixels=max_source_pixels,
            )
            return replace(
                inner,
                action="resized",
                source_width=head.width,
                source_height=head.height,
                source_format=head.format,
                source_orientation=head.orientation,
                source_animated=head.animated,
                trim=box,
            )
    with _pillow_errors():
        if found is None:
            found = probe.probe_bytes(data)
        _within_budget(found, max_source_pixels)
        head = _head_of(found)
        target = _target(head.upright_size, size_policy, max_dimension)
        if not reencode and _complies(head, target, len(data), to, max_bytes):
            damage = probe.verify(data, found) if verify else None
            if damage:
                raise TransformError(Finding(Code.UNREADABLE, damage, final=True))
            return _copy(data, head)
        im = probe.open_image(io.BytesIO(data), heif=probe.heif_brand(data[:32]))
        frame = _decode(im, head, target, max_source_pixels, found.progressive)
        late = probe.orientation_of(im) if head.format == "PNG" else head.orientation
        if late != head.orientation:  # an eXIf chunk after the image data, read with it
            head = replace(head, orientation=late)
            target = _target(head.upright_size, size_policy, max_dimension)
        # Pillow turns a TIFF's pixels upright while loading them: never turn them twice.
        pixels = replace(head, orientation=1) if found.upright_on_load else head
        out_format = _choose_format(head.format, frame, to)
        screen = out_format == "PNG" and _colours_at_most(frame, SCREEN_COLOURS)
        frame = _resize(frame, pixels, target, screen)
        frame = _upright(_to_srgb(frame, im.info.get("icc_profile")), pixels)
        encoded, out_format, used_quality = _encode_fitting(
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


def output_format_of(head_format: str, to: Target) -> OutputFormat | None:
    """The output format decided by the source format alone, or None when the content decides."""
    if to != "auto":
        return _FORCED[to]
    if head_format == "GIF":
        return "PNG"
    return _KEPT.get(head_format)


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------


@contextmanager
def _pillow_errors() -> Iterator[None]:
    """Turn what goes wrong while reading into one :class:`TransformError` holding the gate's
    finding; silence Pillow's warnings (the pixel budget is checked from the header, and the rest
    are about odd files that are read correctly anyway)."""
    with probe.quiet():
        try:
            yield
        except TransformError:
            raise
        except probe.ProbeError as exc:
            raise TransformError(exc.finding) from None
        except _DECODE_ERRORS as exc:
            raise TransformError(Finding(Code.UNREADABLE, probe.damaged(exc), final=True)) from None


def _target(
    upright: policy.Size, size_policy: policy.SizePolicy | None, max_dimension: int
) -> policy.Size:
    size = upright if size_policy is None else size_policy.target(*upright)
    return policy.fit_pixels(*size, max_dimension, size[0] * size[1])


def _complies(head: _Header, target: policy.Size, n_bytes: int, to: Target, max_bytes: int) -> bool:
    kept = head.format in limits.FORMAT_MEDIA_TYPES and head.format != "MPO"
    return (
        kept
        and not head.animated
        and head.orientation == 1
        and target == (head.width, head.height)
        and policy.base64_length(n_bytes) <= max_bytes
        and (to == "auto" or _FORCED[to] == head.format)
    )


def _copy(data: bytes, head: _Header) -> PreparedImage:
    fmt: OutputFormat = _KEPT.get(head.format, "GIF")
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


def _decode(
    im: ImageFile.ImageFile, head: _Header, target: policy.Size, max_pixels: int, progressive: bool
) -> Image.Image:
    """The first frame, decoded (a JPEG at the smallest DCT scale that is still at least the target
    size, which is the big saving: see :mod:`.jpegscale`), in one of the modes L, LA,
    RGB, RGBA or CMYK.

    The size to be decoded is checked against ``max_pixels`` first: a decompression bomb is refused
    from its header, never allocated.
    """
    jpeg = im.format in ("JPEG", "MPO")
    if jpeg:
        jpegscale.draft(im, (target[1], target[0]) if head.orientation >= 5 else target)
    # A progressive JPEG's decoder holds coefficients for the full size, whatever the scale.
    pixels = head.width * head.height if progressive else im.width * im.height
    if pixels > max_pixels:
        facts = judging.ImageFacts(head.format, head.width, head.height, 0, decode_pixels=pixels)
        raise TransformError(judging.over_budget(facts, max_pixels))
    im.load()
    if jpeg and im.mode == "CMYK" and "adobe" not in im.info:
        # Pillow reads every CMYK JPEG with Adobe's inverted polarity; without Adobe's APP14
        # segment the ink values are stored as they are.
        return ImageChops.invert(im)
    return _normal_mode(im)


def _normal_mode(im: Image.Image) -> Image.Image:
    """L, LA, RGB, RGBA or CMYK, with nothing washed out or black on the way.

    16-bit and 32-bit grey are scaled down (a plain convert would clip them to white); palette and
    colour-key transparency become alpha; an alpha channel that is opaque everywhere is dropped.
    """
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        im = _grey_to_8bit(im)
    elif mode == "F":
        high = im.getextrema()[1]
        im = im.point(lambda v: v * 255) if isinstance(high, float) and high <= 1.0 else im
        im = im.convert("L")
    elif mode == "1":
        im = im.convert("L")
    elif mode in ("P", "PA") or "transparency" in im.info:
        grey = mode in ("L", "LA")
        if _has_alpha(im):
            im = im.convert("LA" if grey else "RGBA")
        else:
            im = im.convert("L" if grey else "RGB")
    elif mode in ("La", "RGBa"):
        im = im.convert("LA" if mode == "La" else "RGBA")
    elif mode not in ("L", "LA", "RGB", "RGBA", "CMYK"):
        im = im.convert("RGB")
    if im.mode in ("LA", "RGBA") and not _is_translucent(im):
        im = im.convert(im.mode[:-1])
    return im


def _grey_to_8bit(im: Image.Image) -> Image.Image:
    """16-bit grey (``I;16*``, or ``I`` holding values above 255) scaled to 0-255."""
    im = im.convert("I") if im.mode != "I" else im
    high = im.getextrema()[1]
    if im.mode == "I" and isinstance(high, int) and high > 255:
        im = im.point(lambda v: v * (1 / 257))
    return im.convert("L")


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("PA", "LA", "RGBA") or "transparency" in im.info


def _is_translucent(im: Image.Image) -> bool:
    low = im.getchannel("A").getextrema()[0]
    return isinstance(low, int) and low < 255


# --------------------------------------------------------------------------------------------------
# Pixels
# --------------------------------------------------------------------------------------------------


def _resize(im: Image.Image, head: _Header, target: policy.Size, screen: bool) -> Image.Image:
    """To the target: Lanczos, or for screen content (:data:`SCREEN_COLOURS`) a Hamming window."""
    stored = (target[1], target[0]) if head.orientation >= 5 else target
    if im.size == stored:
        return im
    kernel = Image.Resampling.HAMMING if screen else Image.Resampling.LANCZOS
    return im.resize(stored, kernel, reducing_gap=2.0)


def _to_srgb(im: Image.Image, icc: object) -> Image.Image:
    """Convert an RGB(A) or CMYK image with an embedded profile to sRGB; CMYK without one by
    Pillow's formula. Grey stays grey (a grey profile is close enough to sRGB's curve), and a
    profile littlecms cannot use is ignored."""
    if isinstance(icc, bytes) and icc and im.mode in ("RGB", "RGBA", "CMYK"):
        transform = _srgb_transform(icc, im.mode)
        if transform is not None:
            try:
                converted = ImageCms.applyTransform(im, transform)
            except ImageCms.PyCMSError:
                converted = None
            if converted is not None:
                im = converted
    if im.mode == "CMYK":
        im = im.convert("RGB")
    return im


@lru_cache(maxsize=16)
def _srgb_transform(icc: bytes, mode: str) -> ImageCms.ImageCmsTransform | None:
    """A cached transform from ``icc`` to sRGB (None when the profile is sRGB or unusable)."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(source).lower().replace(" ", ""):
            return None
        out_mode = "RGBA" if mode == "RGBA" else "RGB"
        return ImageCms.buildTransform(source, _SRGB, mode, out_mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


_SRGB: Final = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _upright(im: Image.Image, head: _Header) -> Image.Image:
    method = _UPRIGHT.get(head.orientation)
    return im if method is None else im.transpose(method)


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------


def _choose_format(source_format: str, im: Image.Image, to: Target) -> OutputFormat:
    """The output format: forced by ``to``, kept for JPEG/PNG/WebP, PNG for a GIF's frame, and for
    the other formats PNG when there is transparency or few colours, JPEG otherwise."""
    decided = output_format_of(source_format, to)
    if decided is not None:
        return decided
    if im.mode in ("LA", "RGBA") or _few_colours(im):
        return "PNG"
    return "JPEG"


def _few_colours(im: Image.Image) -> bool:
    return _colours_at_most(im, FEW_COLOURS)


def _colours_at_most(im: Image.Image, count: int) -> bool:
    """Whether a sample of ``im`` (about :data:`_COLOUR_SAMPLE_PIXELS`) has at most ``count``
    colours."""
    sample = im
    if im.width * im.height > _COLOUR_SAMPLE_PIXELS:
        step = (im.width * im.height / _COLOUR_SAMPLE_PIXELS) ** 0.5
        size = (max(1, int(im.width / step)), max(1, int(im.height / step)))
        sample = im.resize(size, Image.Resampling.NEAREST)
    return sample.getcolors(count) is not None


def _encode_fitting(
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

    A PNG of screen content (:data:`SCREEN_COLOURS`) is deflated at level 1 with run-length
    matching (zlib's ``Z_RLE``): a quarter faster than the default level 6, and as small on
    screens, whose filtered rows are runs; ``optimize`` (the fallback over the byte limit) is
    zlib's smallest, whatever the content."""
    if fmt == "JPEG" and im.mode not in ("L", "RGB"):
        im = _flatten(im)
    elif fmt == "WEBP" and im.mode not in ("RGB", "RGBA"):
        im = im.convert("RGBA" if im.mode == "LA" else "RGB")
    im.info = {}
    out = io.BytesIO()
    if fmt == "PNG" and screen and not optimize:
        im.save(out, "PNG", compress_level=1, compress_type=zlib.Z_RLE)
    elif fmt == "PNG":
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


# --------------------------------------------------------------------------------------------------
# Tiles
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tiled:
    """An image cut into tiles, each prepared like a whole image; ``tiles`` in reading order."""

    grid: tiling.TileGrid
    tiles: tuple[PreparedImage, ...]
    source_format: str

    def placements(self) -> list[tiling.TilePlacement]:
        """Each tile's offset and scale in the original (see :class:`tiling.TilePlacement`)."""
        return [
            tiling.placement(self.grid, tile, (p.width, p.height))
            for tile, p in zip(self.grid.tiles, self.tiles, strict=True)
        ]


def prepare_tiles(
    data: bytes,
    spec: tiling.TileSpec,
    *,
    size_policy: policy.SizePolicy,
    found: probe.Probe | None = None,
    to: Target = "auto",
    quality: int | None = None,
    max_bytes: int = limits.DEFAULT_MAX_BYTES,
    max_dimension: int = limits.MAX_DIMENSION,
    max_source_pixels: int = limits.PIXEL_BUDGET,
) -> Tiled | None:
    """Cut ``data`` (upright, as a viewer shows it) into the tiles ``spec`` asks for and prepare
    each one; None when the grid is a single tile (``--tile auto`` on an image that needs none).
    ``found`` is the gate's probe of ``data``: the caller has let it through the gate, and each
    tile goes through :func:`prepare` as a whole image would. A photo's tiles stay JPEG under
    ``to="auto"``. :class:`TransformError` when it cannot be done.
    """
    with _pillow_errors():
        if found is None:
            found = probe.probe_bytes(data)
        head = _head_of(found)
        try:
            grid = spec.grid_for(*head.upright_size, size_policy)
        except ValueError as exc:  # a grid finer than the image allows
            raise TransformError(Finding(Code.TOO_SMALL, str(exc), final=True)) from None
        if len(grid) == 1:
            return None
        frame, head = _upright_frame(data, max_source_pixels, found)
        icc = frame.info.get("icc_profile")
        tile_to = _like_source(head.format, to)
        tiles = []
        for tile in grid.tiles:
            buffer = io.BytesIO()
            frame.crop(tile.box).save(buffer, "PNG", compress_level=1, icc_profile=icc)
            tiles.append(
                prepare(
                    buffer.getvalue(),
                    size_policy=size_policy,
                    to=tile_to,
                    quality=quality,
                    max_bytes=max_bytes,
                    reencode=True,  # the crop is a quick PNG: always encode it properly
                    max_dimension=max_dimension,
                    max_source_pixels=max_source_pixels,
                )
            )
    return Tiled(grid, tuple(tiles), head.format)


# --------------------------------------------------------------------------------------------------
# Trim
# --------------------------------------------------------------------------------------------------

Box = tuple[int, int, int, int]


def _like_source(source_format: str, to: Target) -> Target:
    """A crop travels as PNG; under ``auto`` a photo's crop still comes out as JPEG."""
    return "jpeg" if to == "auto" and source_format in ("JPEG", "MPO") else to


def _head_of(found: probe.Probe) -> _Header:
    facts = found.facts
    return _Header(
        format=facts.format,
        width=facts.width,
        height=facts.height,
        orientation=facts.orientation,
        animated=facts.frames > 1,
    )


def _within_budget(found: probe.Probe, max_source_pixels: int) -> None:
    """Refuse from the header an image whose decode would allocate too many pixels."""
    facts = found.facts
    if (facts.decode_pixels or facts.width * facts.height) > max_source_pixels:
        raise TransformError(judging.over_budget(facts, max_source_pixels))


def _upright_frame(
    data: bytes, max_source_pixels: int, found: probe.Probe | None = None
) -> tuple[Image.Image, _Header]:
    """The whole first frame, decoded at full size and turned upright (RGB, L or RGBA), with its
    colour profile in ``info``. ``found``: the gate's probe of ``data`` (probed here when None)."""
    if found is None:
        found = probe.probe_bytes(data)
    _within_budget(found, max_source_pixels)
    head = _head_of(found)
    im = probe.open_image(io.BytesIO(data), heif=probe.heif_brand(data[:32]))
    decoded = _decode(im, head, head.upright_size, max_source_pixels, found.progressive)
    # Pillow turns a TIFF's pixels upright while loading them: never turn them twice.
    frame = _upright(decoded, replace(head, orientation=1) if found.upright_on_load else head)
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


def _trimmed(
    data: bytes, fuzz: int, max_source_pixels: int, found: probe.Probe | None
) -> tuple[bytes, _Header, Box] | None:
    """The image without its borders, as a lossless PNG (None when there is nothing to trim)."""
    with _pillow_errors():
        frame, head = _upright_frame(data, max_source_pixels, found)
        box = trim_box(frame, fuzz)
        if box == (0, 0, *frame.size):
            return None
        buffer = io.BytesIO()
        icc = frame.info.get("icc_profile")
        frame.crop(box).save(buffer, "PNG", compress_level=1, icc_profile=icc)
        return buffer.getvalue(), head, box
