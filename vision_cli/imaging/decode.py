"""Reading and pixel work (Pillow only): the output choices and the error every step shares, the
header read before decoding, the decode of the first frame, and shrink, sRGB and upright.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Final, Literal, NamedTuple

from PIL import ImageChops, ImageCms, ImageFile, ImageMath

from vision_cli import judging, policy
from vision_cli.formats import Target as Target  # decode.Target: the output format
from vision_cli.imaging import jpegscale, probe
from vision_cli.imaging.pillow import Image
from vision_cli.judging import Code, Finding

OutputFormat = Literal["JPEG", "PNG", "WEBP", "GIF"]


Action = Literal["copied", "resized", "converted"]


#: Pillow format -> the output format that keeps it when ``to`` is ``auto``.
KEPT: Final[dict[str, OutputFormat]] = {
    "JPEG": "JPEG",
    "MPO": "JPEG",
    "PNG": "PNG",
    "WEBP": "WEBP",
}


FORCED: Final[dict[str, OutputFormat]] = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}


DEFAULT_QUALITY: Final[dict[str, int]] = {"JPEG": 85, "WEBP": 80}


#: Qualities tried in turn when an encoding is over the byte limit (those below the starting one).
QUALITY_STEPS: Final = (75, 65, 55, 45, 35)


#: At most this many distinct colours counts as "few" (a screenshot or drawing: PNG keeps it exact).
FEW_COLOURS: Final = 256


#: Colours are counted on a sample of about this many pixels (nearest neighbour adds no new ones).
COLOUR_SAMPLE_PIXELS: Final = 512 * 512


#: A PNG output whose source has at most this many colours (in the sample) is screen content: UI,
#: text, charts, drawings, antialiased text included. It is resized with a Hamming window instead
#: of Lanczos (38.8 dB PSNR and 0.994 SSIM against the Lanczos result on a 2560x1600 screenshot,
#: where vipsthumbnail's own output has 36.5 dB, in half the time) and written by
#: :func:`~vision_cli.imaging.encode.screen_png`. Photographs stay on Lanczos and Pillow's PNG
#: encoder: ``benchmarks/resize_bench.py`` measures both.
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


class Header(NamedTuple):
    """What preparing an image needs of its header (taken from the probe, not read again)."""

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


@contextmanager
def pillow_errors() -> Iterator[None]:
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


def load_readers() -> None:
    """Import Pillow's common format plugins now rather than on the first open: called before
    workers are forked, it spares each of them the import (~20 ms of CPU apiece)."""
    Image.preinit()


def target_format(
    upright: policy.Size, size_policy: policy.SizePolicy | None, max_dimension: int
) -> policy.Size:
    size = upright if size_policy is None else size_policy.target(*upright)
    return policy.fit_pixels(*size, max_dimension, size[0] * size[1])


def decode_first_frame(
    im: ImageFile.ImageFile, head: Header, target: policy.Size, max_pixels: int, progressive: bool
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

    16-bit and 32-bit grey are scaled down (a plain convert would clip them to white); palette
    alpha and colour-key transparency (16-bit grey's too) become alpha; an alpha channel that is
    opaque everywhere is dropped.
    """
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        key = im.info.get("transparency")
        level = _grey_to_8bit(im)
        im = level if not isinstance(key, int) else Image.merge("LA", (level, _unless(im, key)))
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
    """16-bit grey (``I;16*``) scaled from 0-65535 to 0-255, however dark it is. Grey of
    Pillow's ``I`` mode (32-bit, depth otherwise unknown): as it is up to 255, scaled from
    0-65535 up to 65535, above that from 0 to its brightest value (its range is the data's, not
    the type's: a 32-bit range would leave it black)."""
    sixteen = im.mode.startswith("I;16")
    im = im.convert("I") if sixteen else im
    high = im.getextrema()[1]
    if isinstance(high, int) and (sixteen or high > 255):
        scale = 1 / 257 if sixteen or high <= _MAX_16BIT else 255 / high
        im = im.point(lambda v: v * scale)
    return im.convert("L")


def _unless(im: Image.Image, key: int) -> Image.Image:
    """An alpha channel: transparent where grey ``im`` holds the colour key ``key`` (PNG's tRNS
    of a 16-bit grey image), opaque elsewhere."""
    grey = im.convert("I") if im.mode != "I" else im
    mask = ImageMath.lambda_eval(lambda e: (e["grey"] != key) * 255, grey=grey)
    return mask.convert("L") if isinstance(mask, Image.Image) else Image.new("L", im.size, 255)


_MAX_16BIT: Final = 65535


def _has_alpha(im: Image.Image) -> bool:
    """Alpha in the mode, a colour key, or a palette of RGBA colours (a TGA's or DDS's)."""
    palette = im.palette.mode if im.mode == "P" and im.palette is not None else None
    return im.mode in ("PA", "LA", "RGBA") or "transparency" in im.info or palette == "RGBA"


def _is_translucent(im: Image.Image) -> bool:
    low = im.getchannel("A").getextrema()[0]
    return isinstance(low, int) and low < 255


def shrink(im: Image.Image, head: Header, target: policy.Size, screen: bool) -> Image.Image:
    """To the target: Lanczos, or for screen content (:data:`SCREEN_COLOURS`) a Hamming window."""
    stored = (target[1], target[0]) if head.orientation >= 5 else target
    if im.size == stored:
        return im
    kernel = Image.Resampling.HAMMING if screen else Image.Resampling.LANCZOS
    return im.resize(stored, kernel, reducing_gap=2.0)


def to_srgb(im: Image.Image, icc: object) -> Image.Image:
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
    """A cached transform from ``icc`` to sRGB (None when the profile is sRGB or unusable).

    Whether a profile is sRGB is told by what it does, not by its name: a profile whose
    transform leaves :data:`_SRGB_PROBE`'s colours within a level of where they were is sRGB
    (the many sRGB profiles differ by rounding). A name is no guide: GIMP's "Linear sRGB" and
    Ghostscript's "esRGB" are far from it."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        out_mode = "RGBA" if mode == "RGBA" else "RGB"
        transform = ImageCms.buildTransform(source, _SRGB, mode, out_mode)
        if mode != "CMYK" and _is_identity(transform, mode):
            return None
        return transform
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


#: Colours that tell an sRGB profile from others: every mix of five levels per channel.
_SRGB_PROBE: Final = [
    (r, g, b) for r in range(0, 256, 64) for g in range(0, 256, 64) for b in range(0, 256, 64)
]


def _is_identity(transform: ImageCms.ImageCmsTransform, mode: str) -> bool:
    probe = Image.new("RGB", (len(_SRGB_PROBE), 1))
    probe.putdata(_SRGB_PROBE)
    if mode == "RGBA":
        probe = probe.convert("RGBA")
    moved = ImageChops.difference(ImageCms.applyTransform(probe, transform) or probe, probe)
    bands = moved.getextrema()
    return all(isinstance(band, tuple) and band[1] <= 1 for band in bands)


_SRGB: Final = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def make_upright(im: Image.Image, head: Header) -> Image.Image:
    method = _UPRIGHT.get(head.orientation)
    return im if method is None else im.transpose(method)
