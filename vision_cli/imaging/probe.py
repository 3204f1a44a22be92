"""The one reader: what an input is, from its header, without decoding its pixels.

:func:`probe_path` and :func:`probe_bytes` open an input with Pillow restricted to
:data:`READ_FORMATS` (so no plugin that hands bytes to an external program, such as EPS to
Ghostscript, is ever reached), take the EXIF orientation the cheap way for each format, count
frames up to :data:`FRAME_CAP`, and check the file's end for truncation (a JPEG's EOI marker, a
PNG's IEND chunk, a GIF's trailer; a WebP's RIFF length, before opening). A JPEG laid out the
ordinary way has its header read by :mod:`~vision_cli.imaging.jpeghead` instead, with Pillow's
answers. :func:`decode_pixels` says what a decode of it would allocate, and every decode
anywhere (``--verify``, the transform) is refused from the header when that is over the budget.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final, NamedTuple, cast

from vision_cli import fsutil, judging, limits
from vision_cli.imaging import jpeghead
from vision_cli.imaging.jpeghead import Header
from vision_cli.imaging.tails import (
    MAX_TEXT_CHUNK,
    TEXT_CHUNKS,
    NotThisFormat,
    dpi_deferred,
    end_check,
    orientation_of,
    png_text_limits,
    read_png_tail,
)
from vision_cli.judging import Code, Finding, ImageFacts

if TYPE_CHECKING:  # Pillow is imported when a header must be read by it (see imaging.pillow)
    from PIL import Image, ImageFile

#: The formats vision-cli reads, by the names of Pillow's openers: the API's four (the JPEG opener
#: also gives MPO, a phone's multi-picture JPEG) and what ``resize`` converts, each decoded by
#: Pillow in this process (no external program). Decided once, for every command: ``inspect``
#: and ``resize`` are tested against it (README, "Formats").
API_FORMATS: Final = ("JPEG", "PNG", "GIF", "WEBP")
CONVERTED_FORMATS: Final = (
    "BMP",
    "DIB",
    "TIFF",
    "ICO",
    "AVIF",
    "TGA",
    "PPM",
    "PCX",
    "DDS",
    "JPEG2000",
    "PSD",
    "SGI",
    "QOI",
)
READ_FORMATS: Final = (*API_FORMATS, *CONVERTED_FORMATS)
#: Said to users (README too): the formats vision-cli reads, in their everyday names.
READ_FORMAT_NAMES: Final = (
    "JPEG, PNG, GIF, WebP, BMP, TIFF, ICO, AVIF, HEIC (with the heif extra), TGA, PPM/PGM/PBM, "
    "PCX, DDS, JPEG 2000, PSD, SGI and QOI"
)
#: The most pixels one decode may allocate (:func:`decode_pixels` counts them).
PIXEL_BUDGET: Final = limits.PIXEL_BUDGET
#: A decoder written in Python (Pillow's PyDecoder: an uncompressed DDS, QOI, an RLE BMP, a PPM
#: with 16-bit samples ...) spends microseconds on each pixel (an 800x600 DDS takes 2 s): each
#: pixel counts this many times against the budget, so one decode stays within seconds.
SLOW_DECODER_COST: Final = 64
#: Pillow decodes a WebP (still or animated) through libwebp's animation decoder, which holds
#: RGBA canvases beside the image it hands over: 16 bytes a pixel where other formats take 4
#: (a 3 KB lossless 9000x9000 WebP took 1.28 GB). Each pixel counts this many times.
WEBP_DECODE_COST: Final = 4
#: OpenJPEG, which Pillow decodes JPEG 2000 with, holds about 19 bytes a pixel and takes nine
#: times as long as a PNG of the same size (6000x6000: 696 MB and 6.9 s, against 157 MB and
#: 0.76 s; a 726 KB 9000x9000 file took 1.56 GB): each pixel counts this many times.
JPEG2000_DECODE_COST: Final = 5
#: libavif holds about 11 bytes a pixel for an image with alpha, 9 without (6000x6000 RGBA:
#: 424 MB; a 3.8 KB 9400x9400 file took 1.16 GB): each pixel counts this many times. (HEIC
#: takes about 7.5 and is counted once: phones write 50-megapixel HEICs.)
AVIF_DECODE_COST: Final = 3
#: What each pixel of these formats counts against the budget (others: once).
_DECODE_COSTS: Final = {
    "WEBP": WEBP_DECODE_COST,
    "JPEG2000": JPEG2000_DECODE_COST,
    "AVIF": AVIF_DECODE_COST,
}
#: Pillow reads a PNG's chunks one by one in Python, about 7 us each even when empty: a 4.8 MB
#: file of 400,000 empty chunks took 2.7 s to open, and the byte limit allows 50 times as many.
#: Encoders write a chunk for every 8 KB of image data or more (libpng's default), so no genuine
#: PNG within the byte limit comes near this many; a PNG with more is refused.
MAX_PNG_CHUNKS: Final = 100_000
#: Below this size a PNG cannot hold :data:`MAX_PNG_CHUNKS` chunks (each takes 12 bytes at the
#: least), so its chunks are not walked.
_PNG_WALK_FROM: Final = 8 + 12 * MAX_PNG_CHUNKS
#: Pillow's parsers written in Python read a file in small pieces: a JPEG's header a byte at a
#: time between its segments, a GIF's blocks two reads each, a PNG's chunks three. A file built of
#: millions of tiny pieces (4 MB of empty JPEG segments took 2.6 s to open, 19 MB of GIF
#: extension blocks 2.3 s, and the byte limit allows more than ten times as many) is refused once
#: Pillow has read it this many times, plus once for every :data:`BYTES_PER_READ` bytes of the
#: file: a genuine 256 MB animated GIF, whose frames are counted by seeking through 255-byte
#: blocks, takes about two million reads. Opening and counting frames are counted; decoding is
#: not (Pillow's decoders written in Python read a byte or two per pixel, and are bounded by the
#: pixel budget, :data:`SLOW_DECODER_COST`).
READS_BASE: Final = 250_000
BYTES_PER_READ: Final = 64
#: Reads are counted from this size up (0.3 us a read, 27 us of a small GIF's 230): below it,
#: even reading each byte twice (a GIF is rewound after its frames are counted) stays within
#: :data:`READS_BASE`. What is left below it is a TIFF whose 100 directories overlap, each
#: read again: about half a million reads, a second.
_COUNT_READS_FROM: Final = READS_BASE // 4
#: A plain-text PNM (P1 to P3) may hold comments among its pixels, and Pillow's decoder copies
#: the rest of its buffer (up to 1 MB) to remove each one: 270,000 comments in a 1 MB file took
#: 17 s, and each costs about 60 us. Genuine files hold a few, in the header.
MAX_PNM_COMMENTS: Final = 1_000
_PLAIN_PNM: Final = (b"P1", b"P2", b"P3")
#: Frames are counted up to this many: enough to say ``animated`` and how long, bounded in time
#: for a TIFF with 300,000 pages.
FRAME_CAP: Final = 100
#: A file up to this size is read whole, at once: its header, end and tail then come from memory
#: (half the system calls per small JPEG; ``docs/performance.md``); larger ones are read in parts.
READ_WHOLE: Final = 64 * 1024
_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
#: What is said of an iPhone-optimised PNG: Xcode's ``pngcrush -iphone`` puts a ``CgBI`` chunk
#: first, then stores the pixels as BGRA with premultiplied alpha, compressed without zlib's
#: header. Pillow opens its header (it skips the chunk) but cannot decode it, nor can any PNG
#: decoder but Apple's: without this, only a full decode (``--verify``) found it damaged.
_CGBI: Final = (
    "an iPhone-optimised PNG (Apple's CgBI variant, as found in an iOS app bundle), which only "
    "Apple's software reads: use the original image, or revert it with "
    "`xcrun pngcrush -revert-iphone-optimizations`."
)
#: A TIFF page's NewSubfileType (tag 254) bits for a page that is not an image of its own: a
#: reduced-resolution copy of another page (bit 0: a thumbnail or a pyramid level) or a
#: transparency mask (bit 2).
_NOT_OWN_PAGE: Final = 0b101
#: The older SubfileType (tag 255) value of a reduced-resolution page.
_OLD_REDUCED: Final = 2
#: Formats whose counts of frames Pillow knows from the header (counting others means seeking).
_COUNTED_FRAMES = frozenset({"PNG", "WEBP", "MPO", "AVIF", "HEIF"})
#: Formats whose Pillow opener decodes while opening (an ICO's sub-image): opened only under
#: Pillow's own pixel guard, set to the budget.
_DECODE_ON_OPEN = frozenset({"ICO"})
#: ISO base media brands of HEIC / HEIF files (AVIF is read by Pillow itself).
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
HEIF_EXTRA_HINT = (
    "install the optional `heif` extra (`pip install pillow-heif` in vision-cli's environment) "
    "to read it"
)
#: Freed image-memory blocks Pillow keeps for the next image (its default: none) and their size
#: (its default: 16 MiB): small blocks are reused whatever the next image's size, where big ones
#: are resized by the C library and faulted in afresh (a 2560x1600 screenshot: 4,800 page faults,
#: 10 ms of system time, with 4 blocks of 16 MiB; 500 with 1 MiB ones). 64 MiB is about what one
#: big screenshot needs at once, so peak memory is unchanged.
KEPT_BLOCKS = 64
BLOCK_BYTES = 1 << 20


class ProbeError(Exception):
    """The input cannot be read as an image: ``finding`` says why, for every command alike.

    No command can fix it (``finding.final`` is set).
    """

    def __init__(self, code: Code, message: str, format: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.format = format

    @property
    def finding(self) -> Finding:
        return Finding(self.code, self.message, final=True)


class Probe(NamedTuple):
    """What one input is: the facts the policy judges, and what a decoder needs to know."""

    facts: ImageFacts
    mode: str
    #: The pixels are stored upright already, or Pillow turns them while loading (TIFF).
    upright_on_load: bool = False
    progressive: bool = False
    icc: bool = False


def probe_path(path: Path) -> Probe:
    """Probe a local file. Raises ProbeError (not-found, unreadable, unsupported-format, ...)."""
    return probe_path_keeping(path)[0]


def probe_path_keeping(path: Path) -> tuple[Probe, bytes | None]:
    """:func:`probe_path`, and the bytes of a pipe or a device (a FIFO, ``/dev/stdin``), which
    it reads whole: they cannot be read again (a second open of a FIFO waits for a writer that
    never comes), so whoever needs them later (``--verify``, a thumbnail) takes these."""
    # os-level calls, not a buffered file: a small file is read whole in one system call, and
    # the buffered reader's set-up (a third of the open-and-read time) is left out
    try:
        fd, info = fsutil.open_input(path)
    except OSError as exc:
        raise ProbeError(Code.NOT_FOUND, fsutil.file_error(exc)) from None
    extension = path.suffix.lower()
    try:
        if stat.S_ISDIR(info.st_mode):
            raise ProbeError(Code.NOT_FOUND, fsutil.file_error(IsADirectoryError()))
        if stat.S_ISREG(info.st_mode) and 0 < info.st_size <= READ_WHOLE:
            data = _read_whole(fd, info.st_size)
            if data is not None:
                return probe_bytes(data, extension), None
            os.lseek(fd, 0, os.SEEK_SET)
        with open(fd, "rb", closefd=False) as fh:
            if not stat.S_ISREG(info.st_mode):  # a pipe or a device: read it, within the limit
                data = read_capped(fh)
                return probe_bytes(data, extension), data
            return _probe(fh, info.st_size, extension), None
    finally:
        os.close(fd)


def _read_whole(fd: int, size: int) -> bytes | None:
    """A small file's bytes, or None when it has grown past ``size`` since it was looked at (it
    is then read as a large one). A short read (a network file system) is read on from."""
    data = os.read(fd, size + 1)
    while len(data) < size:
        more = os.read(fd, size + 1 - len(data))
        if not more:
            break  # it shrank: what is there is the file
        data += more
    return data if len(data) <= size else None


def probe_bytes(data: bytes, extension: str = "") -> Probe:
    """Probe an image held in memory (standard input, a download)."""
    return _probe(io.BytesIO(data), len(data), extension)


def read_capped(fh: IO[bytes]) -> bytes:
    """All of ``fh``, or ProbeError ``file-too-large`` past the byte limit (never more is read)."""
    cap = limits.MAX_INPUT_BYTES
    data = fh.read(cap + 1)
    if len(data) > cap:
        raise ProbeError(Code.FILE_TOO_LARGE, judging.too_large_input(cap))
    return data


def _probe(fh: IO[bytes], size: int, extension: str) -> Probe:
    if size == 0:
        raise ProbeError(Code.UNREADABLE, "the file is empty: replace it with a real image.")
    if size > limits.MAX_INPUT_BYTES:
        raise ProbeError(Code.FILE_TOO_LARGE, judging.too_large_input(limits.MAX_INPUT_BYTES))
    head = fh.read(32)
    fh.seek(0)
    heif = heif_brand(head)
    if heif and not heif_available():
        raise ProbeError(
            Code.UNSUPPORTED_FORMAT,
            f"HEIF/HEIC images cannot be read without pillow-heif: {HEIF_EXTRA_HINT}, "
            "then `vision-cli resize` converts it.",
            format="HEIF",
        )
    claimed = int.from_bytes(head[4:8], "little") + 8
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and size < claimed:
        # libwebp refuses a cut file before its header is read: say what is really wrong
        raise ProbeError(
            Code.UNREADABLE,
            f"truncated: the WebP header says {claimed:,} bytes and the file holds {size:,}, so "
            "it was cut short (or its header is damaged): copy it again.",
            format="WEBP",
        )
    png = head[:8] == _PNG_SIGNATURE
    if png and head[12:16] == b"CgBI":
        raise ProbeError(Code.UNREADABLE, _CGBI, format="PNG")
    if png and size > min(MAX_TEXT_CHUNK, _PNG_WALK_FROM):
        _walk_png(fh)
    header = jpeghead.read(fh) if head[:3] == b"\xff\xd8\xff" else None
    if header is None:
        fh.seek(0)
        header = _read_header(fh, size, heif)
    damage = end_check(header.format, fh, size, header.data_start, header.tail)
    if damage:
        raise ProbeError(Code.UNREADABLE, damage, format=header.format)
    fmt, width, height = header.format, header.width, header.height
    scans = 0
    if fmt in ("JPEG", "MPO") and header.progressive:
        scans = jpeghead.count_scans(fh, header.data_start)
    if fmt == "PPM" and head[:2] in _PLAIN_PNM:
        _count_pnm_comments(fh, header.data_start)
    facts = ImageFacts(
        format=fmt,
        width=width,
        height=height,
        bytes=size,
        orientation=header.orientation,
        frames=header.frames,
        extension=extension,
        decode_pixels=decode_pixels(
            fmt, width, height, progressive=header.progressive, slow=header.slow, scans=scans
        ),
        scans=scans,
        cmyk=header.mode == "CMYK",
    )
    # (a TIFF's pixels are turned upright by Pillow while loading)
    return Probe(facts, header.mode, fmt == "TIFF", header.progressive, header.icc)


def _read_header(fh: IO[bytes], size: int, heif: bool) -> Header:
    """The header as Pillow reads it."""
    from vision_cli.imaging.pillow import Image

    try:
        with quiet(), dpi_deferred():
            im = open_image(fh, heif=heif, counting_frames=True)
            fmt = im.format or "unknown"
            width, height = _stored_size(im)
            data_start = fh.tell()
            tail = read_png_tail(fh, fmt, size, data_start)
            return Header(
                fmt,
                width,
                height,
                im.mode,
                orientation_of(im, tail),
                _frames(im),
                bool(im.info.get("progressive") or im.info.get("progression")),
                bool(im.info.get("icc_profile")),
                fmt not in API_FORMATS and any(t[0] in Image.DECODERS for t in im.tile),
                data_start,
                tail,
            )
    except ProbeError:
        raise
    except NotThisFormat:  # as Pillow's opener would have failed (see tails.dpi_deferred)
        fh.seek(0)
        raise ProbeError(*_not_readable(fh.read(_SNIFF_BYTES))) from None
    except Exception as exc:  # Pillow's plugins raise many types on damaged headers
        raise ProbeError(*header_damaged(exc)) from None


def open_image(
    fh: IO[bytes], *, heif: bool = False, counting_frames: bool = False
) -> ImageFile.ImageFile:
    """Open with Pillow, trying only :data:`READ_FORMATS` (and HEIF when the extra is there):
    the only way vision-cli opens an image. Reads the header; decodes nothing, except what
    Pillow's ICO opener decodes, which stays under Pillow's guard set to the budget.

    Raises ProbeError for bytes in no format it reads, a header over the budget that cannot be
    read without decoding, or a file Pillow has to read in more tiny pieces than
    :data:`READS_BASE` allows (while opening; while its frames are counted too, with
    ``counting_frames``; never while it is decoded, whose cost the pixel budget bounds).
    """
    from PIL import UnidentifiedImageError

    from vision_cli.imaging.pillow import Image

    png_text_limits()
    formats = [*READ_FORMATS, *(["HEIF"] if heif else [])]
    start = fh.tell()
    size = fh.seek(0, io.SEEK_END)
    fh.seek(start)
    # (a small file cannot be read that many times: it is spared the counting's cost)
    counter = None
    if size > _COUNT_READS_FROM:
        counter = _CountedReads(fh, READS_BASE + size // BYTES_PER_READ)
    counted = fh if counter is None else cast(IO[bytes], counter)
    try:
        try:
            im = _open(counted, formats)
        except Image.DecompressionBombError as exc:
            # Over twice the budget: read the header with the guard lifted (its size is judged
            # by the policy), except from openers that would decode while opening.
            fh.seek(start)
            with _unguarded():
                try:
                    im = _open(counted, [f for f in formats if f not in _DECODE_ON_OPEN])
                except UnidentifiedImageError:
                    raise ProbeError(Code.DIMENSIONS_TOO_LARGE, _bomb(exc)) from None
    except UnidentifiedImageError:
        fh.seek(start)
        raise ProbeError(*_not_readable(fh.read(_SNIFF_BYTES))) from None
    if im.format == "TIFF":
        _to_main_page(im)
    if counter is not None and not counting_frames:
        counter.lift()
    return im


def _own_page(im: Image.Image) -> bool:
    """Whether the TIFF page ``im`` is at is an image of its own (not a thumbnail, a pyramid level
    or a mask of another page). A tag of the wrong type is ignored, as readers ignore it."""
    tags = getattr(im, "tag_v2", {})
    new_type, old_type = tags.get(254, 0), tags.get(255, 1)
    reduced = isinstance(new_type, int) and new_type & _NOT_OWN_PAGE
    return not reduced and old_type != _OLD_REDUCED


def _to_main_page(im: Image.Image) -> None:
    """Move a TIFF to its main image: the first page that is an image of its own
    (:func:`_own_page`), within :data:`FRAME_CAP` pages; the first page if none is. A scanner or
    a camera may store a thumbnail first, and every command reads the page this leaves."""
    if _own_page(im):
        return
    try:
        for page in range(1, FRAME_CAP):
            im.seek(page)
            if _own_page(im):
                return
    except EOFError:
        pass
    im.seek(0)


class _CountedReads:
    """``fh`` as Pillow reads it, refusing the file once it has been read ``budget`` times."""

    def __init__(self, fh: IO[bytes], budget: int) -> None:
        self._fh = fh
        self._budget = self._left = budget
        # what Pillow calls most, found at once (not through __getattr__, a failed lookup first)
        self.seek = fh.seek
        self.tell = fh.tell

    def read(self, size: int = -1) -> bytes:
        self._left -= 1
        if self._left < 0:
            raise ProbeError(
                Code.UNREADABLE,
                "it is built of far more tiny parts than an image needs (Pillow read it "
                f"{self._budget:,} times without reaching the end of its header and frames): "
                "re-save it with another tool if it is genuine.",
            )
        return self._fh.read(size)

    def lift(self) -> None:
        """No more counting: what is read from now on is bounded otherwise (decoding, by the
        pixel budget)."""
        self._left = sys.maxsize

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


def _open(fh: IO[bytes], formats: list[str]) -> ImageFile.ImageFile:
    from PIL import ImageFile

    from vision_cli.imaging.pillow import Image

    im = Image.open(fh, formats=formats)
    assert isinstance(im, ImageFile.ImageFile)
    return im


@contextmanager
def _unguarded() -> Iterator[None]:
    from vision_cli.imaging.pillow import Image

    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def quiet() -> warnings.catch_warnings[None]:
    """Pillow's warnings about odd files silenced (they are read correctly, or fail plainly)."""
    return warnings.catch_warnings(action="ignore")


def _bomb(exc: Exception) -> str:
    pixels = "".join(c for c in str(exc).split("pixels")[0] if c.isdigit())
    held = f"{int(pixels):,} pixels" if pixels else "more pixels than that"
    return (
        f"an image inside it holds {held}, over the {PIXEL_BUDGET:,}-pixel budget vision-cli "
        "decodes, so it is not read: shrink it with another tool if it is genuine."
    )


def _not_readable(head: bytes) -> tuple[Code, str]:
    """Bytes Pillow cannot open as any format vision-cli reads: named when another of Pillow's
    formats recognises them (by their first bytes only; that format's opener is never run)."""
    from vision_cli.imaging.pillow import Image

    Image.init()
    for name, (_factory, accept) in Image.OPEN.items():
        if name in READ_FORMATS or name == "HEIF" or accept is None:
            continue
        try:
            known = bool(accept(head))
        except Exception:  # an accept function that cannot judge these bytes
            known = False
        if known:
            return (
                Code.UNSUPPORTED_FORMAT,
                f"{name} is not a format vision-cli reads ({READ_FORMAT_NAMES}): convert it to "
                "PNG or JPEG with another program first.",
            )
    return _what_it_is(head) or (
        Code.UNREADABLE,
        "not an image vision-cli can read: check that this is the right file "
        f"(vision-cli reads {READ_FORMAT_NAMES}).",
    )


#: How much of a file that is no image is looked at to say what it is instead.
_SNIFF_BYTES: Final = 1024
_LFS_POINTER: Final = b"version https://git-lfs.github.com/spec/"
#: First bytes that say a file is one of the formats read, though Pillow could not open it.
_SIGNATURES: Final = (
    (_PNG_SIGNATURE, "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"RIFF", "WebP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
#: How much of a text file's first line a sentence quotes.
_QUOTED: Final = 40


def signature_format(head: bytes) -> str | None:
    """The format the first bytes' signature names (``PNG``, ``JPEG``, ``GIF``, ``WebP``,
    ``TIFF``), or None: no parsing, for saying whether bytes are what they claim to be."""
    for signature, name in _SIGNATURES:
        if head.startswith(signature) and (name != "WebP" or head[8:12] == b"WEBP"):
            return name
    return None


def _what_it_is(head: bytes) -> tuple[Code, str] | None:
    """What the first bytes of a file that is no image are, when they say it: what a repository,
    a failed download or a broken disk leaves where an image should be."""
    name = signature_format(head)
    if name is not None:
        return (
            Code.UNREADABLE,
            f"a {name} file whose header cannot be read (damaged, or a kind of {name} that "
            "Pillow does not read): re-export it, or replace it.",
        )
    if head.startswith(_LFS_POINTER):
        return (
            Code.UNREADABLE,
            "a Git LFS pointer, not the image (the image itself was never fetched): run "
            "`git lfs pull` (in GitHub Actions, `actions/checkout` with `lfs: true`).",
        )
    if not head.strip(b"\0"):
        return (
            Code.UNREADABLE,
            "its first bytes are all zero (it was never written, or was damaged on disk): restore "
            "it from a copy.",
        )
    text = _as_text(head)
    if text is None:
        return None
    start = text.lstrip().lower()
    if start.startswith(("<!doctype html", "<html", "<head", "<body")):
        return (
            Code.UNREADABLE,
            "a web page (HTML), not an image (what a download gets from an error or sign-in "
            "page): download it again.",
        )
    if start.startswith(("<svg", "<?xml", "<!doctype svg")) and "<svg" in start:
        return (
            Code.UNSUPPORTED_FORMAT,
            f"SVG (a vector drawing) is not a format vision-cli reads ({READ_FORMAT_NAMES}): "
            "export it to PNG first (with the program that drew it, or a converter such as "
            "rsvg-convert).",
        )
    if not text.strip():
        return (Code.UNREADABLE, "blank text, not an image: check that this is the right file.")
    first = text.strip().splitlines()[0]
    shown = "".join(c if c.isprintable() else "?" for c in first[:_QUOTED])
    more = "..." if len(first) > _QUOTED else ""
    return (
        Code.UNREADABLE,
        f'text, not an image (it begins "{shown}{more}"): check that this is the right file.',
    )


def _as_text(head: bytes) -> str | None:
    """``head`` as text, when it is UTF-8 (the last character may be cut) of printable
    characters and line breaks only."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return None
        text = head[: exc.start].decode("utf-8")
    text = text.removeprefix("\ufeff")
    if not text or not all(c.isprintable() or c in "\t\n\r" for c in text):
        return None
    return text


def _stored_size(im: Image.Image) -> tuple[int, int]:
    """Width and height as stored (a TIFF's ``size`` is already turned by its orientation)."""
    if im.format != "TIFF":
        return im.size
    tile = getattr(im, "_tile_size", None)
    if isinstance(tile, tuple) and len(tile) == 2:
        return (int(tile[0]), int(tile[1]))
    return im.size


def decode_pixels(
    fmt: str,
    width: int,
    height: int,
    *,
    progressive: bool = False,
    slow: bool = False,
    scans: int = 0,
) -> int:
    """What a decode of this image costs, in pixels, at the least: a baseline JPEG decodes at 1/8
    scale if need be, a progressive one holds coefficient buffers for the full size and counts
    once for every :data:`~vision_cli.limits.SCANS_PER_DECODE` of its ``scans`` (each a pass
    over the whole image), a decoder written in Python counts :data:`SLOW_DECODER_COST` times,
    a WebP, JPEG 2000 or AVIF as many times as its decoder's memory is a normal decode's
    (:data:`_DECODE_COSTS`), everything else decodes at full size."""
    if fmt in ("JPEG", "MPO"):
        if not progressive:
            return -(-width // 8) * -(-height // 8)
        return width * height * max(1, -(-scans // limits.SCANS_PER_DECODE))
    if fmt in _DECODE_COSTS:
        return width * height * _DECODE_COSTS[fmt]
    return width * height * (SLOW_DECODER_COST if slow else 1)


def header_damaged(exc: BaseException) -> tuple[Code, str, str | None]:
    """The finding for a header Pillow cannot parse: its code, sentence and format."""
    if isinstance(exc, ValueError) and "MAX_TEXT" in str(exc):
        # Pillow's limit on what a compressed chunk unpacks to: a zTXt or iTXt text, or an iCCP
        # colour profile (a text chunk that is large as stored is refused before, by its header)
        return (
            Code.FILE_TOO_LARGE,
            "a PNG metadata chunk (compressed text, or the colour profile) unpacks to more than "
            f"the API's {limits.DIRECT_API_MAX_BYTES:,}-byte limit allows for a whole image: "
            "remove its metadata (or re-export it).",
            "PNG",
        )
    return (
        Code.UNREADABLE,
        f"the header is damaged ({describe(exc)}): re-export or replace it.",
        None,
    )


def damaged(exc: BaseException) -> str:
    """The sentence for image data that fails to decode, from every command."""
    if isinstance(exc, MemoryError):
        return "not enough memory to decode the image: run with fewer jobs or shrink it first."
    return f"the image data is damaged ({describe(exc)}): re-export or replace it."


def _count_pnm_comments(fh: IO[bytes], start: int) -> None:
    """Refuse a plain-text PNM with more than :data:`MAX_PNM_COMMENTS` comments among its pixels
    (Pillow's decoder copies the rest of its buffer to remove each one)."""
    fh.seek(start)
    comments = 0
    while chunk := fh.read(1 << 20):
        comments += chunk.count(b"#")
        if comments > MAX_PNM_COMMENTS:
            raise ProbeError(
                Code.UNREADABLE,
                f"a plain-text PNM with more than {MAX_PNM_COMMENTS:,} comments among its pixels "
                "(Pillow removes each by copying the rest): re-save it as a binary PNM (P4 to P6) "
                "or a PNG with another tool if it is genuine.",
                format="PPM",
            )
    fh.seek(0)


def _walk_png(fh: IO[bytes]) -> None:
    """Walk a PNG's chunk headers (nothing else is read) and refuse it when Pillow would spend
    minutes on it or read too much into memory: more than :data:`MAX_PNG_CHUNKS` chunks, or a
    text chunk before the image data larger than Pillow may read (it would be read whole)."""
    read_at = _reader_at(fh)
    pos, chunks, image_data = 8, 0, False
    while len(header := read_at(pos, 8)) == 8:
        length, kind = int.from_bytes(header[:4], "big"), header[4:]
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise ProbeError(
                Code.UNREADABLE,
                f"a PNG of more than {MAX_PNG_CHUNKS:,} chunks, each read on its own (encoders "
                "write one for every 8 KB of image data or more): re-save it with another tool if "
                "it is genuine.",
                format="PNG",
            )
        if kind == b"IEND":
            break
        image_data = image_data or kind == b"IDAT"
        if not image_data and kind in TEXT_CHUNKS and length > MAX_TEXT_CHUNK:
            raise ProbeError(
                Code.FILE_TOO_LARGE,
                f"a PNG text chunk holds {length:,} bytes, more than the API's "
                f"{limits.DIRECT_API_MAX_BYTES:,}-byte limit allows for a whole image: remove "
                "its metadata (or re-export it).",
                format="PNG",
            )
        pos += length + 12
    fh.seek(0)


def _reader_at(fh: IO[bytes]) -> Callable[[int, int], bytes]:
    """Read ``n`` bytes at ``pos`` of ``fh``, as cheaply as it allows: one ``pread`` of a file
    (a buffered read would fill and copy 8 KB for every chunk header), a seek and a read of
    anything else (a file in memory)."""
    try:
        fd = fh.fileno()
    except (OSError, AttributeError):  # io.UnsupportedOperation is an OSError
        fd = -1
    if fd >= 0:
        return lambda pos, n: os.pread(fd, n, pos)

    def seek_and_read(pos: int, n: int) -> bytes:
        fh.seek(pos)
        return fh.read(n)

    return seek_and_read


def describe(exc: BaseException) -> str:
    """An exception's text for a sentence: its message, or its type's name when it has none."""
    text = str(exc).strip().rstrip(".")
    return text if text else type(exc).__name__


def heif_brand(head: bytes) -> bool:
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


def heif_available() -> bool:
    """Register pillow-heif's opener when it is installed (the optional `heif` extra)."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


def reuse_memory() -> None:
    """Make Pillow keep freed image memory for the next image: call once before decoding many
    (and before forking workers, which inherit it). Pillow's own ``PILLOW_BLOCKS_MAX`` and
    ``PILLOW_BLOCK_SIZE``, when set, are left to rule."""
    from vision_cli.imaging.pillow import Image

    # the process's variables, not a run's: Pillow reads its own from there when it is imported
    if "PILLOW_BLOCKS_MAX" not in os.environ:
        Image.core.set_blocks_max(KEPT_BLOCKS)  # type: ignore[attr-defined]  # documented API
    if "PILLOW_BLOCK_SIZE" not in os.environ:
        Image.core.set_block_size(BLOCK_BYTES)  # type: ignore[attr-defined]  # documented API


def _frames(im: Image.Image) -> int:
    """Frames, counted up to :data:`FRAME_CAP` (from the header where Pillow knows the count,
    otherwise by seeking, which reads frame headers but decodes nothing). A TIFF's pages that are
    thumbnails or masks of another (:func:`_own_page`) are not counted."""
    if im.format in _COUNTED_FRAMES:
        return min(int(getattr(im, "n_frames", 1)), FRAME_CAP)
    if im.format == "PSD":
        return 1  # Pillow's "frames" of a PSD are its layers (from 1); the merged image is read
    if not getattr(im, "is_animated", False):
        return 1
    tiff, at = im.format == "TIFF", im.tell()
    count = 0
    try:
        for frame in range(FRAME_CAP):
            im.seek(frame)
            count += not tiff or _own_page(im)
    except EOFError:
        pass
    im.seek(at)
    return max(1, count)
