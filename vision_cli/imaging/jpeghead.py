"""A plain JPEG's header read without Pillow: the reader's fast path for the common photo.

Pillow's JPEG opener parses every segment in Python (its quantization tables into lists, every
application segment into its ``info``) and builds an image object: about half of what ``inspect``
spends on a small JPEG (``docs/performance.md``). :func:`scan` walks the segments of a JPEG laid
out the ordinary way (SOI, then APPn / DQT / DHT / DRI / COM segments, one baseline, extended or
progressive frame, the first scan) and returns what the reader takes from Pillow: size, mode,
progressive, colour profile, the raw EXIF and where the scan data starts.

Anything else returns None and the reader asks Pillow, which then answers as it always has: a
byte Pillow would skip or complain about, a segment that runs past the bytes at hand, a second
frame header, a quantization table Pillow would refuse, a multi-picture (MPO) index, a Photoshop
or short JFIF / Adobe segment, an ICC profile after the frame header, EXIF in more than one
segment, EXIF that :func:`~vision_cli.imaging.exif.raw_orientation` leaves to Pillow, an image
over the pixel budget. ``tests/test_jpeghead.py`` compares both readers over every JPEG in the
test corpus and over damaged variants of them.
"""

from __future__ import annotations

import re
from typing import IO, NamedTuple

from vision_cli import limits
from vision_cli.imaging import exif

#: The segments the fast path reads past (DQT is checked as Pillow checks it).
_PLAIN = frozenset({0xC4, 0xCC, 0xDB, 0xDD, 0xFE, *range(0xE0, 0xF0)})
#: Frame headers Pillow reads with 8-bit samples: baseline, extended, progressive.
_FRAMES = {0xC0: False, 0xC1: False, 0xC2: True}
_MODES = {1: "L", 3: "RGB", 4: "CMYK"}
_SOS = 0xDA
#: Application segments whose first bytes Pillow reads without a check (APP0 JFIF, APP14 Adobe).
_SHORT_HEADERS = {0xE0: b"JFIF", 0xEE: b"Adobe"}


#: The start-of-scan and end-of-image markers, as they appear in the file.
_SCAN_MARKERS = re.compile(b"\xff[\xd9\xda]")
_EOI_MARKER = b"\xff\xd9"
#: What :func:`count_scans` reads at a time.
_COUNT_CHUNK = 1 << 20


#: How much of a file the fast path looks at for the header (a phone's EXIF with its thumbnail
#: fits); a header that runs past it is Pillow's.
SCAN_BYTES = 64 * 1024


class Header(NamedTuple):
    """What the reader takes from an image's header, whoever read it."""

    format: str
    width: int
    height: int
    mode: str
    orientation: int
    frames: int
    progressive: bool
    icc: bool
    #: Read by a decoder written in Python (see ``probe.SLOW_DECODER_COST``).
    slow: bool
    #: Where the image data starts (a JPEG's first scan, a PNG's first chunk after the header).
    data_start: int
    #: A PNG's last bytes, read for the end check and a late eXIf chunk; empty otherwise.
    tail: bytes


class JpegHeader(NamedTuple):
    width: int
    height: int
    mode: str
    progressive: bool
    icc: bool
    #: The first APP1 EXIF segment as Pillow keeps it (``Exif\0\0`` and the TIFF data), or None.
    exif: bytes | None
    #: Where the scan data starts (just after the first SOS segment).
    data_start: int


def read(fh: IO[bytes]) -> Header | None:
    """The header of the JPEG in ``fh`` (at its start), or None when Pillow must read it; the
    position of ``fh`` is left anywhere."""
    jpeg = scan(fh.read(SCAN_BYTES))
    if jpeg is None:
        return None
    found = exif.raw_orientation(jpeg.exif) if jpeg.exif is not None else exif.ABSENT
    if found is exif.ASK_PILLOW:
        return None  # Pillow's EXIF parser answers (tails.orientation_of), and may refuse it
    orientation = found if 1 <= found <= 8 else 1  # (ABSENT, or nonsense: upright)
    return Header(
        "JPEG",
        jpeg.width,
        jpeg.height,
        jpeg.mode,
        orientation,
        1,
        jpeg.progressive,
        jpeg.icc,
        False,
        jpeg.data_start,
        b"",
    )


def scan(data: bytes) -> JpegHeader | None:
    """The header of the JPEG whose first bytes are ``data``, or None when Pillow must read it."""
    if data[:3] != b"\xff\xd8\xff":
        return None
    pos, end = 2, len(data)
    frame: tuple[int, int, str, bool] | None = None
    exif: bytes | None = None
    icc: list[bytes] = []
    while pos + 4 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        length = (data[pos + 2] << 8) | data[pos + 3]
        start, pos = pos + 4, pos + 2 + length
        if length < 2 or pos > end:
            return None
        # (a segment's body is data[start:pos]; it is copied out only where it is kept)
        if marker == _SOS:
            if frame is None:
                return None
            width, height, mode, progressive = frame
            profile = _icc(icc)
            if width * height > limits.PIXEL_BUDGET or profile is None:
                return None
            return JpegHeader(width, height, mode, progressive, profile, exif, pos)
        if marker in _FRAMES:
            if frame is not None or length < 8 or (length - 8) % 3:  # whole components
                return None
            if data[start] != 8 or data[start + 5] not in _MODES:
                return None
            height = (data[start + 1] << 8) | data[start + 2]
            width = (data[start + 3] << 8) | data[start + 4]
            if not width or not height:
                return None
            frame = (width, height, _MODES[data[start + 5]], _FRAMES[marker])
        elif marker not in _PLAIN:
            return None
        elif marker == 0xDB:
            if not _quantization_ok(data, start, pos):
                return None
        elif marker == 0xE1 and data.startswith(b"Exif\0\0", start, pos):
            if exif is not None:
                return None
            exif = data[start:pos]
        elif marker == 0xE2:
            if data.startswith(b"MPF\0", start, pos):
                return None
            if data.startswith(b"ICC_PROFILE\0", start, pos):
                if frame:
                    return None
                icc.append(data[start:pos])
        elif marker == 0xED and data.startswith(b"Photoshop 3.0\0", start, pos):
            return None
        elif length < 9 and data.startswith(_SHORT_HEADERS.get(marker, b"\xff"), start, pos):
            return None  # Pillow reads a JFIF or Adobe segment's version from bytes 5 and 6
    return None


def _quantization_ok(data: bytes, start: int, end: int) -> bool:
    """Whether Pillow's DQT reader takes the tables in ``data[start:end]`` (each whole, 64 one-
    or two-byte values)."""
    at = start
    while at < end:
        at += 1 + (1 if data[at] < 16 else 2) * 64
        if at > end:
            return False
    return True


def _icc(parts: list[bytes]) -> bool | None:
    """Whether Pillow would give the image an ICC profile (every part there, not all empty);
    None where Pillow's reading of the parts fails."""
    if not parts:
        return False
    parts = sorted(parts)
    if len(parts[0]) < 14:
        return None
    return parts[0][13] == len(parts) and any(len(p) > 14 for p in parts)


def count_scans(fh: IO[bytes], start: int) -> int:
    """How many scans a progressive JPEG holds: the one whose data begins at ``start`` (just
    after the first start-of-scan segment) and one for each start-of-scan marker after it, up to
    the end-of-image marker (what follows that, such as a phone's video, is not this image).

    In scan data every 0xFF byte is followed by 0x00 or a restart marker, so a 0xFF 0xDA pair
    there starts a scan. The file is read in parts, each searched once for both markers (a
    regular expression with a class: half the time of ``bytes.count`` and ``bytes.find``).
    """
    fh.seek(start)
    count, carried = 1, False
    while chunk := fh.read(_COUNT_CHUNK):
        data = b"\xff" + chunk if carried else chunk
        for marker in _SCAN_MARKERS.findall(data):
            if marker == _EOI_MARKER:
                return count
            count += 1
        # a marker cut in two by the read: its 0xFF is searched again with the next part
        carried = data.endswith(b"\xff")
    return count
