"""PURE: findings. The codes, their severity, which can be ignored or fixed, and :func:`judge`,
which turns the facts of one image (and of a whole request) into findings. No Pillow, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Literal, NamedTuple

from vision_cli import limits
from vision_cli.policy import Prediction, Size, Tier, base64_length, predict
from vision_cli.units import format_bytes


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Code(StrEnum):
    NOT_FOUND = "not-found"
    UNREADABLE = "unreadable"
    UNSUPPORTED_FORMAT = "unsupported-format"
    FILE_TOO_LARGE = "file-too-large"
    DIMENSIONS_TOO_LARGE = "dimensions-too-large"
    MANY_IMAGE_DIMENSIONS = "many-image-dimensions"
    WILL_BE_DOWNSCALED = "will-be-downscaled"
    TOO_SMALL = "too-small"
    EXIF_ROTATED = "exif-rotated"
    CMYK = "cmyk"
    ANIMATED = "animated"
    EXTENSION_MISMATCH = "extension-mismatch"
    # request-level (``inspect --request``)
    TOO_MANY_IMAGES = "too-many-images"
    REQUEST_TOO_LARGE = "request-too-large"


SEVERITY: dict[Code, Severity] = {
    Code.NOT_FOUND: Severity.ERROR,
    Code.UNREADABLE: Severity.ERROR,
    Code.UNSUPPORTED_FORMAT: Severity.ERROR,
    Code.FILE_TOO_LARGE: Severity.ERROR,
    Code.DIMENSIONS_TOO_LARGE: Severity.ERROR,
    Code.MANY_IMAGE_DIMENSIONS: Severity.ERROR,
    Code.WILL_BE_DOWNSCALED: Severity.WARNING,
    Code.TOO_SMALL: Severity.WARNING,
    Code.EXIF_ROTATED: Severity.WARNING,
    Code.CMYK: Severity.WARNING,
    Code.ANIMATED: Severity.WARNING,
    Code.EXTENSION_MISMATCH: Severity.WARNING,
    Code.TOO_MANY_IMAGES: Severity.ERROR,
    Code.REQUEST_TOO_LARGE: Severity.ERROR,
}


#: Findings ``--ignore`` cannot hide: the input was not read, so nothing about it was checked.
UNIGNORABLE: frozenset[Code] = frozenset({Code.NOT_FOUND, Code.UNREADABLE})


IGNORABLE: tuple[str, ...] = tuple(c.value for c in Code if c not in UNIGNORABLE)


def ignorable_code(text: str) -> Code:
    """The finding code ``--ignore`` names; ValueError listing the codes for anything else."""
    try:
        code = Code(text.strip().lower())
    except ValueError:
        raise ValueError(
            f"unknown finding code {text!r}; codes that can be ignored: {', '.join(IGNORABLE)}"
        ) from None
    if code in UNIGNORABLE:
        raise ValueError(
            f"{code.value} cannot be ignored: the input was not read, so nothing about it was "
            f"checked; codes that can be ignored: {', '.join(IGNORABLE)}"
        )
    return code


#: Codes of problems `resize` fixes (by converting, shrinking, turning, taking the first frame,
#: re-encoding), unless the finding is ``final``.
FIXABLE: frozenset[Code] = frozenset(
    {
        Code.UNSUPPORTED_FORMAT,
        Code.FILE_TOO_LARGE,
        Code.DIMENSIONS_TOO_LARGE,
        Code.MANY_IMAGE_DIMENSIONS,
        Code.WILL_BE_DOWNSCALED,
        Code.EXIF_ROTATED,
        Code.CMYK,
        Code.ANIMATED,
        Code.EXTENSION_MISMATCH,
    }
)


@dataclass(frozen=True)
class Finding:
    """One thing the gate says about an input: its code, the sentence shown, and whether any
    command could still fix it."""

    code: Code
    message: str
    #: No command can fix it (the bytes cannot be read, or not within the budget), whatever the
    #: code usually means.
    final: bool = field(default=False, compare=False)

    @property
    def severity(self) -> Severity:
        """The code's; what no command can fix (``final``) is an error whatever its code (a
        ``--tile`` grid finer than the image allows fails it, under ``too-small``)."""
        return Severity.ERROR if self.final else SEVERITY[self.code]

    @property
    def fixable(self) -> bool:
        """Whether ``resize`` fixes it (the gate lets such an image through to the transform)."""
        return not self.final and self.code in FIXABLE

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code.value, "severity": self.severity.value, "message": self.message}


#: What an input fails with when the worker process checking or preparing it died before
#: sending its result back (``inspect``, ``resize``): most likely ended by the kernel for memory.
WORKER_DIED: Final = Finding(
    Code.UNREADABLE,
    "the worker process preparing it died (out of memory?): run again with fewer --jobs.",
    final=True,
)


Status = Literal["ok", "warning", "error"]


def status_of(findings: Iterable[Finding]) -> Status:
    if not findings:  # the common record, asked for its status several times
        return "ok"
    severities = {f.severity for f in findings}
    if Severity.ERROR in severities:
        return "error"
    if Severity.WARNING in severities:
        return "warning"
    return "ok"


#: File-name extensions (lower case, with the dot) and the Pillow formats they name.
EXTENSION_FORMATS: dict[str, frozenset[str]] = {
    ".jpg": frozenset({"JPEG", "MPO"}),
    ".jpeg": frozenset({"JPEG", "MPO"}),
    ".jpe": frozenset({"JPEG", "MPO"}),
    ".jfif": frozenset({"JPEG", "MPO"}),  # what browsers on Windows save JPEGs as
    ".mpo": frozenset({"MPO"}),  # a camera's multi-picture JPEG; resize writes its main as .jpg
    ".png": frozenset({"PNG"}),
    ".apng": frozenset({"PNG"}),  # an animated PNG; resize writes its first frame as .png
    ".gif": frozenset({"GIF"}),
    ".webp": frozenset({"WEBP"}),
    ".bmp": frozenset({"BMP", "DIB"}),
    ".tif": frozenset({"TIFF"}),
    ".tiff": frozenset({"TIFF"}),
    ".heic": frozenset({"HEIF", "HEIC"}),
    ".heif": frozenset({"HEIF", "HEIC"}),
    ".avif": frozenset({"AVIF", "HEIF"}),
    ".ico": frozenset({"ICO"}),
    ".dib": frozenset({"DIB", "BMP"}),
    ".tga": frozenset({"TGA"}),
    ".ppm": frozenset({"PPM"}),
    ".pgm": frozenset({"PPM"}),
    ".pbm": frozenset({"PPM"}),
    ".pnm": frozenset({"PPM"}),
    ".pcx": frozenset({"PCX"}),
    ".dds": frozenset({"DDS"}),
    ".jp2": frozenset({"JPEG2000"}),
    ".j2k": frozenset({"JPEG2000"}),
    ".jpx": frozenset({"JPEG2000"}),
    ".psd": frozenset({"PSD"}),
    ".sgi": frozenset({"SGI"}),
    ".rgb": frozenset({"SGI"}),
    ".qoi": frozenset({"QOI"}),
}


IMAGE_EXTENSIONS: frozenset[str] = frozenset(EXTENSION_FORMATS)

#: Extensions that promise an animation: an output of one still frame is not named with them.
ANIMATION_EXTENSIONS: frozenset[str] = frozenset({".apng"})


#: What a user should do about a format the API refuses; the optional-extra hint comes from imaging.
CONVERT_HINT = "run `vision-cli resize` to convert it to PNG or JPEG"


class ImageFacts(NamedTuple):
    """What was read from one file's header: the input of :func:`judge`."""

    format: str
    width: int
    height: int
    bytes: int
    orientation: int = 1
    frames: int = 1
    extension: str = ""
    #: Pixels a decode of it allocates at the least (0: not known, judged as width x height).
    decode_pixels: int = 0
    #: A progressive JPEG's scans, each a pass over the whole image (0: not counted).
    scans: int = 0
    #: The pixels are stored as CMYK (or YCCK): print work, which many decoders get wrong.
    cmyk: bool = False

    @property
    def media_type(self) -> str | None:
        return limits.FORMAT_MEDIA_TYPES.get(self.format)

    @property
    def base64_bytes(self) -> int:
        return base64_length(self.bytes)


class Limits(NamedTuple):
    """The limits one check is made against (command-line options resolved)."""

    tier: Tier
    max_bytes: int = limits.DEFAULT_MAX_BYTES
    max_dimension: int = limits.MAX_DIMENSION
    many_images: bool = False  # the request holds more than 20 images


def judge(facts: ImageFacts, lim: Limits, prediction: Prediction | None = None) -> list[Finding]:
    """Every finding for one readable image, errors first."""
    found: list[Finding] = []
    w, h = facts.width, facts.height
    unbudgeted = (facts.decode_pixels or w * h) > limits.PIXEL_BUDGET
    if unbudgeted:
        found.append(over_budget(facts))
    if facts.media_type is None:
        found.append(
            Finding(
                Code.UNSUPPORTED_FORMAT,
                f"{facts.format} is not accepted by the API (JPEG, PNG, GIF or WebP only): "
                f"{CONVERT_HINT}.",
            )
        )
    if facts.base64_bytes > lim.max_bytes:
        found.append(
            Finding(
                Code.FILE_TOO_LARGE,
                f"base64 size {facts.base64_bytes:,} bytes is over the "
                f"{format_bytes(lim.max_bytes)} "
                f"limit ({lim.max_bytes:,} bytes): run `vision-cli resize`, or pass "
                "`--max-bytes 10MB` if you only use the direct API.",
            )
        )
    if max(w, h) > lim.max_dimension and not unbudgeted:
        found.append(
            Finding(
                Code.DIMENSIONS_TOO_LARGE,
                f"{w}x{h} is over the API's {lim.max_dimension} px limit and will be rejected, "
                "not resized: run `vision-cli resize`.",
            )
        )
    elif max(w, h) > lim.max_dimension:
        pass  # over the budget, said above
    elif lim.many_images and max(w, h) > limits.MANY_IMAGES_MAX_DIMENSION:
        found.append(
            Finding(
                Code.MANY_IMAGE_DIMENSIONS,
                f"{w}x{h} is over {limits.MANY_IMAGES_MAX_DIMENSION} px, the limit when a request "
                f"holds more than {limits.MANY_IMAGES_THRESHOLD} images: resize it or send fewer "
                "images.",
            )
        )
    pred = prediction or predict(w, h, lim.tier)
    if pred.api_size != (w, h) and max(w, h) <= lim.max_dimension:
        found.append(
            Finding(
                Code.WILL_BE_DOWNSCALED,
                f"the API will shrink {w}x{h} to {pred.api_width}x{pred.api_height} for the "
                f"{lim.tier.name} tier (slower first token, no better answer): run "
                "`vision-cli resize`.",
            )
        )
    small = too_small(w, h, pred.api_size)
    if small is not None:
        found.append(small)
    if facts.orientation != 1:
        found.append(
            Finding(
                Code.EXIF_ROTATED,
                f"EXIF orientation is {facts.orientation}, which Claude ignores, so it will see "
                "the image as stored: run `vision-cli resize` to rotate the pixels.",
            )
        )
    if facts.cmyk and facts.media_type is not None:  # other formats are converted anyway
        found.append(
            Finding(
                Code.CMYK,
                "its colours are CMYK (print work), which many decoders show wrong or inverted: "
                "run `vision-cli resize` to convert it to RGB.",
            )
        )
    # An MPO's further pictures are a phone's previews or depth maps, not animation frames.
    if facts.frames > 1 and facts.format == "TIFF":  # a document's pages, not an animation
        found.append(
            Finding(
                Code.ANIMATED,
                f"{facts.frames} pages, and `vision-cli resize` converts only the first: split "
                "the pages with another tool to send each.",
            )
        )
    elif facts.frames > 1 and facts.format != "MPO":
        found.append(
            Finding(
                Code.ANIMATED,
                f"{facts.frames} frames, and Claude sees only the first: send the frame that "
                "matters (`vision-cli resize` keeps the first).",
            )
        )
    ext = facts.extension.lower()
    if ext in EXTENSION_FORMATS and facts.format not in EXTENSION_FORMATS[ext]:
        found.append(
            Finding(
                Code.EXTENSION_MISMATCH,
                f"the name says {ext} but the bytes are {facts.format}: rename the file "
                "(vision-cli always sends the real media type).",
            )
        )
    found.sort(key=lambda f: f.severity != Severity.ERROR)
    return found


def too_small(width: int, height: int, api_size: Size) -> Finding | None:
    """``too-small`` when the image, or the size the API shrinks it to, is under 200 px on an edge
    (a 9000x300 panorama becomes a 1568x53 sliver): None otherwise."""
    if min(api_size) >= limits.MIN_USEFUL_DIMENSION:
        return None
    long_thin = max(api_size) >= 4 * min(api_size)
    advice = (
        "crop it, or split it into tiles" if long_thin else "use a larger original if you have one"
    )
    if api_size != (width, height) and min(width, height) >= limits.MIN_USEFUL_DIMENSION:
        what = f"{width}x{height} is shrunk to {api_size[0]}x{api_size[1]} for the API, "
    else:
        what = f"{width}x{height} is "
    return Finding(
        Code.TOO_SMALL,
        f"{what}under {limits.MIN_USEFUL_DIMENSION} px on an edge, which may hurt accuracy: "
        f"{advice}.",
    )


def too_large_input(cap: int = limits.MAX_INPUT_BYTES) -> str:
    """The one sentence for an input over the byte limit, whatever kind of input it is."""
    return (
        f"it holds more than {cap:,} bytes, the most vision-cli reads from one input: "
        "shrink it with another tool first."
    )


#: Formats whose decoders hold several times a normal decode's memory, by their everyday names
#: (a WebP's has its own sentence).
_HEAVY_DECODERS: Final = {"JPEG2000": "JPEG 2000", "AVIF": "AVIF"}


def over_budget(facts: ImageFacts, budget: int = limits.PIXEL_BUDGET) -> Finding:
    """An image no command decodes: what decoding it would allocate is over the pixel budget."""
    w, h = facts.width, facts.height
    pixels = facts.decode_pixels or w * h
    why, advice = "", "shrink it with another tool if it is genuine"
    if facts.format in ("JPEG", "MPO") and pixels > w * h:
        why = (
            f" (a progressive JPEG of {facts.scans:,} scans, each a pass over the whole image: "
            f"its pixels count once for every {limits.SCANS_PER_DECODE} scans)"
        )
        advice = "re-save it as a baseline JPEG with another tool if it is genuine"
    elif facts.format in ("JPEG", "MPO"):
        why = " (a progressive JPEG decodes at full size)"
    elif facts.format == "WEBP":
        why = " (the WebP decoder holds four image-sized buffers)"
    elif facts.format in _HEAVY_DECODERS and pixels > w * h:
        # the multiple is the reader's (imaging.probe), read back from what it counted
        why = (
            f" (the {_HEAVY_DECODERS[facts.format]} decoder holds about {pixels // (w * h)} "
            "times a normal decode's memory)"
        )
    elif pixels > w * h:
        why = " (its decoder is slow, so each pixel counts many times)"
    return Finding(
        Code.DIMENSIONS_TOO_LARGE,
        f"{w}x{h} would need {pixels:,} pixels decoded{why}, over the "
        f"{budget:,}-pixel budget vision-cli decodes, so no command reads or "
        f"converts it: {advice}.",
        final=True,
    )


def judge_request(images: int, base64_bytes: int, max_images: int) -> list[Finding]:
    """Findings about all inputs sent as one request."""
    found: list[Finding] = []
    if images > max_images:
        found.append(
            Finding(
                Code.TOO_MANY_IMAGES,
                f"{images} images in one request, and the model takes at most {max_images}: "
                "split them over several requests.",
            )
        )
    # The request body also carries JSON around the base64 strings; the images alone must fit.
    if base64_bytes > limits.MESSAGES_REQUEST_MAX_BYTES:
        found.append(
            Finding(
                Code.REQUEST_TOO_LARGE,
                f"the images add up to {base64_bytes:,} bytes of base64, over the "
                f"{format_bytes(limits.MESSAGES_REQUEST_MAX_BYTES)} request limit: resize them, "
                "send fewer, or upload them (`--source file`).",
            )
        )
    return found
