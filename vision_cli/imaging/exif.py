"""The EXIF orientation read straight from the raw EXIF bytes (a JPEG's APP1 body, a WebP's or
PNG's EXIF chunk), without building Pillow's ``Exif`` object: about a tenth of the time of
``getexif()``, which parses every tag of IFD0 into Python objects to answer one question.

Pillow keeps the last word: :func:`raw_orientation` answers only when the bytes are plainly well
formed (a standard TIFF header, IFD0 and every entry before the orientation entry within the
bytes, the orientation a single SHORT, a resolution a RATIONAL), and otherwise says
:data:`ASK_PILLOW`, so an odd or damaged block is read (or refused) exactly as Pillow reads it.
``tests/test_exif.py`` compares the two over real and hand-made EXIF.

Pure standard library.
"""

from __future__ import annotations

import struct
from typing import Final

ORIENTATION_TAG: Final = 0x0112
#: IFD0 is well formed and holds no orientation entry.
ABSENT: Final = -1
#: Something is unusual: let Pillow parse it.
ASK_PILLOW: Final = None
_EXIF_HEADER = b"Exif\x00\x00"
_ENDIAN = {b"II*\x00": "<", b"MM\x00*": ">"}
#: An IFD entry (tag, type, count, value or offset), by byte order: made once.
_ENTRY = {e: struct.Struct(e + "HHLL") for e in _ENDIAN.values()}
#: Bytes per value of each TIFF type Pillow reads (the other types it skips).
_UNIT = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8}
_SHORT = 3
#: The horizontal resolution, which Pillow's JPEG opener reads as a DPI: as a (signed) RATIONAL
#: it cannot make the opener fail; as anything else it might, so Pillow is asked.
X_RESOLUTION: Final = 0x011A
_RATIONALS = (5, 10)


def raw_orientation(raw: bytes) -> int | None:
    """The orientation entry's value in IFD0 of ``raw``, :data:`ABSENT` when IFD0 has none, or
    :data:`ASK_PILLOW` when the bytes are not plainly well formed."""
    data = raw
    for _ in range(2):  # Pillow strips one or two "Exif\0\0" headers
        if data.startswith(_EXIF_HEADER):
            data = data[len(_EXIF_HEADER) :]
    if not data:
        return ABSENT
    endian = _ENDIAN.get(data[:4])
    if endian is None or len(data) < 8:
        return ASK_PILLOW
    size = len(data)
    (offset,) = struct.unpack_from(endian + "L", data, 4)
    if offset + 2 > size:
        return ASK_PILLOW
    (count,) = struct.unpack_from(endian + "H", data, offset)
    entry = _ENTRY[endian]
    found = ABSENT
    for pos in range(offset + 2, offset + 2 + 12 * count, 12):
        if pos + 12 > size:  # Pillow's parse of IFD0 ends here, keeping what came before
            return ASK_PILLOW if found == ABSENT else found
        tag, kind, n, value = entry.unpack_from(data, pos)
        if tag == X_RESOLUTION and kind not in _RATIONALS:
            return ASK_PILLOW  # Pillow's JPEG opener may stumble over it (see tails)
        if found != ABSENT:
            continue
        if tag == ORIENTATION_TAG:
            if kind != _SHORT or n != 1:
                return ASK_PILLOW
            found = int(struct.unpack_from(endian + "H", data, pos + 8)[0])
            continue
        unit = _UNIT.get(kind)
        if unit is None:
            return ASK_PILLOW
        # Out-of-line data Pillow could not read would end its parse of IFD0 here.
        if n * unit > 4 and value + n * unit > size:
            return ASK_PILLOW
    return found
