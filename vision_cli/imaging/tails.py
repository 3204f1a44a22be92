"""What lies around the pixels (Pillow only): the end check (a truncated file, data after the end),
PNG text chunks and the EXIF orientation, read without decoding the image.
"""

from __future__ import annotations

import contextvars
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import IO, TYPE_CHECKING, Any, Final

from vision_cli import limits
from vision_cli.imaging import exif
from vision_cli.imaging.exif import ORIENTATION_TAG

if TYPE_CHECKING:  # Pillow is imported by whoever opened the image (see imaging.pillow)
    from PIL import Image

_TAIL = 64 * 1024


#: How far from a PNG's end an eXIf chunk written after the image data is looked for: writers put
#: it just before IEND, and reading this much costs no more than reading the IEND chunk itself.
PNG_EXIF_TAIL = 4096


_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


_JPEG_EOI = b"\xff\xd9"


#: PNG's text chunks (their size is bounded before Pillow reads them).
TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")


#: A PNG text chunk may be as large as the API's byte limit allows (Pillow's 1 MB default made a
#: photo with a large XMP packet "damaged"); larger ones are refused before they are read.
MAX_TEXT_CHUNK: Final = limits.DIRECT_API_MAX_BYTES


@cache
def png_text_limits() -> None:
    """Raise Pillow's PNG text limits, once, when the first image is opened (its PNG plugin is
    imported then anyway: importing it earlier would cost start-up time)."""
    from PIL import PngImagePlugin

    PngImagePlugin.MAX_TEXT_CHUNK = MAX_TEXT_CHUNK
    PngImagePlugin.MAX_TEXT_MEMORY = 2 * MAX_TEXT_CHUNK


#: Set while the reader opens an image: Pillow's JPEG opener then leaves its DPI to
#: :func:`orientation_of` (see :func:`dpi_deferred`).
_DEFER_DPI: contextvars.ContextVar[bool] = contextvars.ContextVar("defer_dpi", default=False)


class NotThisFormat(Exception):
    """Pillow's JPEG opener would have failed in a way that makes Pillow try the other formats
    (and so call the file no image it reads)."""


@cache
def _pillow_read_dpi() -> Callable[[Any], None]:
    """Pillow's own DPI reader of its JPEG opener, which :func:`defer_dpi_of` replaces once."""
    from PIL import JpegImagePlugin

    return defer_dpi_of(JpegImagePlugin.JpegImageFile)


def defer_dpi_of(opener: type) -> Callable[[Any], None]:
    """Make ``opener``'s DPI-from-EXIF read do nothing while :func:`dpi_deferred` is in force
    (and what it did otherwise); return the read itself. An opener without one (a Pillow that
    reads no DPI this way) is left as it is: there is nothing to defer."""
    original: Callable[[Any], None] | None = getattr(opener, "_read_dpi_from_exif", None)
    if original is None:
        return no_dpi_read
    read = original

    def read_dpi_unless_deferred(self: Any) -> None:
        if not _DEFER_DPI.get():
            read(self)

    opener._read_dpi_from_exif = read_dpi_unless_deferred  # type: ignore[attr-defined]
    return read


def no_dpi_read(im: Any) -> None:
    """The DPI read of an opener that has none."""


@contextmanager
def dpi_deferred() -> Iterator[None]:
    """Within it, Pillow's JPEG opener does not read a DPI from EXIF. That read parses every tag
    of IFD0 when the JFIF header gives no density (a fifth of the time per photo), for a DPI
    vision-cli never uses. :func:`orientation_of` runs it whenever Pillow must answer, so what
    it would have refused is refused as before, and with the same words."""
    _pillow_read_dpi()
    token = _DEFER_DPI.set(True)
    try:
        yield
    finally:
        _DEFER_DPI.reset(token)


def _read_dpi_now(im: Image.Image) -> None:
    try:
        _pillow_read_dpi()(im)
    except IndexError:  # Image.open takes this one for "another format": see NotThisFormat
        raise NotThisFormat from None


def read_png_tail(fh: IO[bytes], fmt: str, size: int, data_start: int) -> bytes:
    """A PNG's last :data:`PNG_EXIF_TAIL` bytes after its header (empty for other formats): read
    once for a late eXIf chunk and for the IEND chunk that shows the file is whole."""
    if fmt != "PNG":
        return b""
    fh.seek(max(data_start, size - PNG_EXIF_TAIL))
    return fh.read()


def orientation_of(im: Image.Image, png_tail: bytes = b"") -> int:
    """EXIF orientation 1-8 (1 when absent or nonsense), read without decoding pixels.

    The orientation entry is read from the raw EXIF bytes (:mod:`vision_cli.imaging.exif`);
    Pillow's parser answers whenever they are unusual, so the answer is always Pillow's EXIF
    parser's. Only EXIF counts, in every format: an orientation in XMP alone is not applied by
    browsers and image viewers, so an image that has one looks as it is stored (Pillow's
    ``getexif()`` would take it, so it is not asked). A TIFF's orientation is its own tag, which
    Pillow applies while loading. For PNG, ``getexif()`` would decompress the whole image
    looking for an eXIf chunk after the image data, so the chunk seen before it
    (``info["exif"]``) is used, else one found in ``png_tail``, the file's last
    :data:`PNG_EXIF_TAIL` bytes (see :func:`png_tail_exif`).
    """
    if im.format == "TIFF":
        return _valid(getattr(im, "tag_v2", {}).get(ORIENTATION_TAG, 1))
    if im.format in ("JPEG", "MPO"):
        raw = im.info.get("exif")
        found = exif.raw_orientation(raw) if isinstance(raw, bytes) else exif.ABSENT
        if found is not exif.ASK_PILLOW:
            return _valid(found)
        _read_dpi_now(im)  # what the opener left for later, as it would have done it
        return _pillow_orientation(raw) if isinstance(raw, bytes) else 1
    raw = im.info.get("exif") or (png_tail_exif(png_tail) if im.format == "PNG" else None)
    return _orientation_in(raw) if isinstance(raw, bytes) else 1


def _valid(value: object) -> int:
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _orientation_in(raw: bytes) -> int:
    found = exif.raw_orientation(raw)
    if found is not exif.ASK_PILLOW:
        return _valid(found)  # ABSENT is not valid: 1
    return _pillow_orientation(raw)


def _pillow_orientation(raw: bytes) -> int:
    """The orientation Pillow's EXIF parser reads from ``raw`` (EXIF only, never XMP)."""
    from vision_cli.imaging.pillow import Image

    parsed = Image.Exif()
    try:
        parsed.load(raw)
    except Exception:  # Pillow's EXIF parser raises many types on damaged data
        return 1
    return _valid(parsed.get(ORIENTATION_TAG, 1))


def png_tail_exif(tail: bytes) -> bytes | None:
    """The body of an eXIf chunk that lies whole in ``tail`` (a PNG's last bytes), or None.

    A match counts only with its length and CRC right, so image data that happens to contain the
    letters ``eXIf`` is not taken for a chunk.
    """
    pos = tail.rfind(b"eXIf")
    while pos >= 4:
        end = pos + 4 + int.from_bytes(tail[pos - 4 : pos], "big")
        if end + 4 <= len(tail):
            body = tail[pos + 4 : end]
            if zlib.crc32(b"eXIf" + body) == int.from_bytes(tail[end : end + 4], "big"):
                return body
        pos = tail.rfind(b"eXIf", 0, pos)
    return None


def end_check(fmt: str, fh: IO[bytes], size: int, data_start: int, tail: bytes) -> str | None:
    """A sentence when the file's end shows it was cut short, else None. Needs no decoding.

    ``tail`` is a PNG's end as already read (:func:`png_tail`): its IEND is usually there.
    """
    if fmt in ("JPEG", "MPO"):
        return None if _has_after(fh, size, data_start, _JPEG_EOI) else cut_at("JPEG", "end marker")
    if fmt == "PNG":
        whole = _PNG_IEND in tail[-32:] or _has_after(fh, size, data_start, _PNG_IEND)
        return None if whole else cut_at("PNG", "IEND chunk")
    if fmt == "GIF":
        fh.seek(max(0, size - 256))
        return None if fh.read().rstrip(b"\0").endswith(b";") else cut_at("GIF", "trailer")
    return None  # WebP's RIFF length is checked before opening; other formats have no end mark


def cut_at(fmt: str, what: str) -> str:
    return f"truncated: the {fmt} {what} is missing, so the file was cut short; copy it again."


def _has_after(fh: IO[bytes], size: int, start: int, marker: bytes) -> bool:
    """Whether ``marker`` occurs after ``start``: the end first, the whole rest if need be.

    Phones append whole videos after a JPEG's end (motion photos), so a marker that is not in the
    last 64 KB is looked for in the rest of the file too, with ordinary reads (a memory map would
    kill the process with SIGBUS if the file were cut while it is read).
    """
    fh.seek(max(start, size - 32))
    if marker in fh.read():  # the common case: the marker ends the file
        return True
    tail_start = max(start, size - _TAIL)
    fh.seek(tail_start)
    if marker in fh.read():
        return True
    if tail_start <= start:
        return False
    fh.seek(start)
    carry = b""
    while chunk := fh.read(1024 * 1024):
        if marker in carry + chunk:
            return True
        carry = chunk[-len(marker) :]
    return False
