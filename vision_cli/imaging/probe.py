"""Reading what an image is, from its header, without decoding its pixels.

``probe`` opens a file with Pillow (which reads only the header), takes the EXIF orientation the
cheap way for each format, counts frames, and checks the file's end for truncation (a JPEG's EOI
marker, a PNG's IEND chunk, a GIF's trailer; a WebP's RIFF length, before opening). ``verify``
decodes, but only images whose pixel count is safe. Nothing here ever decodes a decompression bomb.
"""

from __future__ import annotations

import io
import mmap
import os
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from PIL import Image, UnidentifiedImageError

from vision_cli.policy import Code, ImageFacts

#: Images with more pixels than this are never decoded (Pillow's own bomb threshold).
SAFE_DECODE_PIXELS = 89_478_485
#: Freed image-memory blocks Pillow keeps for the next image (its default is none): a batch that
#: decodes reuses them instead of mapping and faulting in fresh memory for every image (the system
#: time this saves: ``benchmarks/resize_bench.py``). Peak memory is unchanged: one image needs
#: about this many at once.
KEPT_BLOCKS = 4
_TAIL = 64 * 1024
#: How far from a PNG's end an eXIf chunk written after the image data is looked for: writers put
#: it just before IEND, and reading this much costs no more than reading the IEND chunk itself.
PNG_EXIF_TAIL = 4096
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_JPEG_EOI = b"\xff\xd9"
_ORIENTATION_TAG = 0x0112
#: ISO base media brands of HEIC / HEIF files (AVIF is read by Pillow itself).
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
HEIF_EXTRA_HINT = (
    "install the optional `heif` extra (`pip install pillow-heif` in vision-cli's environment) "
    "to read it"
)

# Dimensions are judged from the header, against our own cap, before anything is decoded: Pillow's
# global bomb check would otherwise refuse to even open a 40000 x 40000 header.
Image.MAX_IMAGE_PIXELS = None


class ProbeError(Exception):
    """The input is not a readable image; ``code`` is the finding it becomes."""

    def __init__(self, code: Code, message: str, format: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.format = format


@dataclass(frozen=True)
class Probe:
    facts: ImageFacts
    mode: str


def probe_path(path: Path) -> Probe:
    """Probe a local file. Raises ProbeError (not-found, unreadable, unsupported-format)."""
    try:
        fh = path.open("rb")
    except IsADirectoryError:
        raise ProbeError(Code.NOT_FOUND, "this is a folder, not a file.") from None
    except FileNotFoundError:
        raise ProbeError(Code.NOT_FOUND, "no such file: check the path.") from None
    except PermissionError:
        raise ProbeError(
            Code.NOT_FOUND, "permission denied: check the file's permissions."
        ) from None
    except OSError as exc:
        raise ProbeError(Code.NOT_FOUND, f"cannot open it ({exc.strerror}).") from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        return _probe(fh, size, path.suffix.lower())


def probe_bytes(data: bytes, extension: str = "") -> Probe:
    """Probe an image held in memory (standard input, a download)."""
    return _probe(io.BytesIO(data), len(data), extension)


def _probe(fh: IO[bytes], size: int, extension: str) -> Probe:
    if size == 0:
        raise ProbeError(Code.UNREADABLE, "the file is empty: replace it with a real image.")
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
    if (
        head[:4] == b"RIFF"
        and head[8:12] == b"WEBP"
        and size < int.from_bytes(head[4:8], "little") + 8
    ):
        # libwebp refuses a cut file before its header is read: say what is really wrong
        raise ProbeError(Code.UNREADABLE, _cut("WebP", "RIFF length"), format="WEBP")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(fh)
            fmt = im.format or "unknown"
            width, height = im.size
            data_start = fh.tell()
            tail = _png_tail(fh, fmt, size, data_start)
            orientation = orientation_of(im, tail)
            frames = _frames(im, width * height)
            mode = im.mode
    except UnidentifiedImageError:
        raise ProbeError(
            Code.UNREADABLE, "not an image Pillow can read: check that this is the right file."
        ) from None
    except Exception as exc:  # Pillow's plugins raise many types on damaged headers
        raise ProbeError(
            Code.UNREADABLE, f"the header is damaged ({_describe(exc)}): re-export or replace it."
        ) from None
    damage = _end_check(fmt, fh, size, data_start, tail)
    if damage:
        raise ProbeError(Code.UNREADABLE, damage, format=fmt)
    facts = ImageFacts(
        format=fmt,
        width=width,
        height=height,
        bytes=size,
        orientation=orientation,
        frames=frames,
        extension=extension,
    )
    return Probe(facts, mode)


def _png_tail(fh: IO[bytes], fmt: str, size: int, data_start: int) -> bytes:
    """A PNG's last :data:`PNG_EXIF_TAIL` bytes after its header (empty for other formats): read
    once for a late eXIf chunk and for the IEND chunk that shows the file is whole."""
    if fmt != "PNG":
        return b""
    fh.seek(max(data_start, size - PNG_EXIF_TAIL))
    return fh.read()


def _describe(exc: BaseException) -> str:
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
    (and before forking workers, which inherit it). Pillow's own ``PILLOW_BLOCKS_MAX``, when
    set, is left to rule."""
    if "PILLOW_BLOCKS_MAX" not in os.environ:
        Image.core.set_blocks_max(KEPT_BLOCKS)  # type: ignore[attr-defined]  # documented API


def orientation_of(im: Image.Image, png_tail: bytes = b"") -> int:
    """EXIF orientation 1-8 (1 when absent or nonsense), read without decoding pixels.

    For PNG, ``getexif()`` would decompress the whole image looking for an eXIf chunk after the
    image data, so the chunk seen before it (``info["exif"]``) is used, else one found in
    ``png_tail``, the file's last :data:`PNG_EXIF_TAIL` bytes (see :func:`png_tail_exif`).
    """
    if im.format in ("JPEG", "MPO", "TIFF"):
        value = im.getexif().get(_ORIENTATION_TAG, 1)
        return value if isinstance(value, int) and 1 <= value <= 8 else 1
    raw = im.info.get("exif") or (png_tail_exif(png_tail) if im.format == "PNG" else None)
    return _orientation_in(raw) if isinstance(raw, bytes) else 1


def _orientation_in(raw: bytes) -> int:
    exif = Image.Exif()
    try:
        exif.load(raw)
    except Exception:  # Pillow's EXIF parser raises many types on damaged data
        return 1
    value = exif.get(_ORIENTATION_TAG, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


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


def _frames(im: Image.Image, pixels: int) -> int:
    if pixels > SAFE_DECODE_PIXELS:
        return 1  # counting GIF frames means reading them: never for a bomb
    return int(getattr(im, "n_frames", 1))


def _end_check(fmt: str, fh: IO[bytes], size: int, data_start: int, tail: bytes) -> str | None:
    """A sentence when the file's end shows it was cut short, else None. Needs no decoding.

    ``tail`` is a PNG's end as already read (:func:`_png_tail`): its IEND is usually there.
    """
    if fmt in ("JPEG", "MPO"):
        return None if _has_after(fh, size, data_start, _JPEG_EOI) else _cut("JPEG", "end marker")
    if fmt == "PNG":
        whole = _PNG_IEND in tail[-32:] or _has_after(fh, size, data_start, _PNG_IEND)
        return None if whole else _cut("PNG", "IEND chunk")
    if fmt == "GIF":
        fh.seek(max(0, size - 256))
        return None if fh.read().rstrip(b"\0").endswith(b";") else _cut("GIF", "trailer")
    return None  # WebP's RIFF length is checked before opening; other formats have no end mark


def _cut(fmt: str, what: str) -> str:
    return f"truncated: the {fmt} {what} is missing, so the file was cut short; copy it again."


def _has_after(fh: IO[bytes], size: int, start: int, marker: bytes) -> bool:
    """Whether ``marker`` occurs after ``start``: the end first, the whole rest if need be.

    Phones append whole videos after a JPEG's end (motion photos), so a marker that is not in the
    last 64 KB is looked for in the rest of the file too, through a memory map.
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
    if isinstance(fh, io.BytesIO):
        return fh.getbuffer()[start:].tobytes().find(marker) >= 0
    with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        return mm.find(marker, start) >= 0


def verify(source: Path | bytes, pixels: int) -> str | None:
    """Decode the whole image to find damage inside the data; a sentence when it is damaged.

    Images over :data:`SAFE_DECODE_PIXELS` are not decoded (their header already fails them).
    """
    if pixels > SAFE_DECODE_PIXELS:
        return None
    opened: IO[bytes] = io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
    try:
        with opened, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(opened)
            if im.format == "PNG":
                im.verify()  # checks every chunk's CRC
                opened.seek(0)
                im = Image.open(opened)
            im.load()
    except Exception as exc:
        return f"the image data is damaged ({_describe(exc)}): re-export or replace it."
    return None
