"""Images made with Pillow for the transform and resize tests, and readers of the bytes written."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from PIL import ExifTags, Image, ImageChops, ImageOps

from tests.conftest import ORIENTATION, encode

__all__ = ["encode"]

#: Orientation -> how to store an upright picture so that a viewer honouring the tag shows it
#: upright. Written from the EXIF specification's meaning of each value, independently of the code
#: under test (row 0 / column 0 of the stored image are at these sides of the viewed one).
STORE_FOR_ORIENTATION: dict[int, Image.Transpose | None] = {
    1: None,  # top, left
    2: Image.Transpose.FLIP_LEFT_RIGHT,  # top, right: mirrored
    3: Image.Transpose.ROTATE_180,  # bottom, right
    4: Image.Transpose.FLIP_TOP_BOTTOM,  # bottom, left
    5: Image.Transpose.TRANSPOSE,  # left, top
    6: Image.Transpose.ROTATE_90,  # right, top: the viewer turns it 90 degrees clockwise
    7: Image.Transpose.TRANSVERSE,  # right, bottom
    8: Image.Transpose.ROTATE_270,  # left, bottom: the viewer turns it 90 degrees anticlockwise
}

RED = (230, 20, 20)
BLUE = (20, 40, 200)


def marked(size: tuple[int, int]) -> Image.Image:
    """An upright picture: blue, with a red block in its top-left corner (a fifth of each edge)."""
    im = Image.new("RGB", size, BLUE)
    im.paste(RED, (0, 0, size[0] // 5, size[1] // 5))
    return im


def stored_for(upright: Image.Image, orientation: int) -> Image.Image:
    method = STORE_FOR_ORIENTATION[orientation]
    return upright if method is None else upright.transpose(method)


def exif_bytes(orientation: int = 1, gps: bool = False) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "TestCam"
    if gps:
        exif[ExifTags.Base.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (48.0, 51.0, 29.0),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (2.0, 17.0, 40.0),
        }
    return exif.tobytes()


def gradient(size: tuple[int, int]) -> Image.Image:
    """A smooth, photo-like RGB picture (many colours, deterministic)."""
    x = Image.linear_gradient("L").resize(size)
    y = Image.linear_gradient("L").rotate(90).resize(size)
    return Image.merge("RGB", (x, y, ImageChops.invert(x)))


def photo(size: tuple[int, int] = (3000, 2000), orientation: int = 1) -> bytes:
    """A photo-like JPEG (quality 90), tagged with ``orientation`` when it is not 1."""
    exif = {"exif": exif_bytes(orientation)} if orientation != 1 else {}
    return encode(gradient(size), "JPEG", quality=90, **exif)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def noise(size: tuple[int, int]) -> Image.Image:
    """RGB noise: incompressible, so it cannot fit a small byte limit at default quality."""
    bands = [Image.effect_noise(size, 90 + 10 * i) for i in range(3)]
    return Image.merge("RGB", bands)


def flat_drawing(size: tuple[int, int]) -> Image.Image:
    """Few colours, like a screenshot or a chart."""
    w, h = size
    im = Image.new("RGB", size, (255, 255, 255))
    for i, colour in enumerate([(0, 0, 0), (200, 30, 30), (30, 120, 200)]):
        im.paste(colour, (i * w // 4, h // 4, i * w // 4 + w // 8, 3 * h // 4))
    return im


def near(a: tuple[int, ...] | float | None, b: tuple[int, ...], tolerance: int = 40) -> bool:
    assert isinstance(a, tuple), a
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=False))


def opened(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


# --------------------------------------------------------------------------------------------------
# Container readers: which metadata segments or chunks a file holds
# --------------------------------------------------------------------------------------------------


def jpeg_markers(data: bytes) -> list[int]:
    """The markers of a JPEG's segments before the image data (0xE1 = APP1/EXIF or XMP, ...)."""
    assert data[:2] == b"\xff\xd8"
    pos, markers = 2, []
    while pos < len(data):
        assert data[pos] == 0xFF, f"bad segment at {pos}"
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: image data follows
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
    return markers


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return chunks


def riff_chunks(data: bytes) -> list[bytes]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    pos, chunks = 12, []
    while pos + 8 <= len(data):
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        chunks.append(data[pos : pos + 4])
        pos += 8 + length + (length & 1)
    return chunks


def metadata_left(data: bytes) -> list[str]:
    """Every metadata container left in JPEG, PNG or WebP bytes (empty when clean)."""
    if data[:2] == b"\xff\xd8":
        names = {0xE1: "APP1 (EXIF/XMP)", 0xE2: "APP2 (ICC)", 0xED: "APP13 (IPTC)", 0xFE: "COM"}
        return [names[m] for m in jpeg_markers(data) if m in names]
    if data[:4] == b"\x89PNG":
        meta = {b"eXIf", b"iCCP", b"tEXt", b"iTXt", b"zTXt", b"pHYs", b"tIME", b"sRGB", b"gAMA"}
        return [c.decode() for c in png_chunks(data) if c in meta]
    return [c.decode() for c in riff_chunks(data) if c in (b"EXIF", b"XMP ", b"ICCP")]


# --------------------------------------------------------------------------------------------------
# Hand-made files
# --------------------------------------------------------------------------------------------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` but whose data is a few bytes: decoding it
    would allocate the whole claimed size before failing."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def with_late_exif(png: bytes, exif: bytes) -> bytes:
    """The PNG with an eXIf chunk after its image data (just before IEND), where Pillow only
    finds it once the pixels are read. ``exif`` as Pillow writes it (``Exif\\0\\0`` + TIFF)."""
    assert png[-12:-8] == b"\x00\x00\x00\x00" and png[-8:-4] == b"IEND"
    return png[:-12] + png_chunk(b"eXIf", exif.removeprefix(b"Exif\x00\x00")) + png[-12:]


def without_adobe_marker(data: bytes) -> bytes:
    """The JPEG with its APP14 "Adobe" segment removed."""
    pos = 2
    while True:
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker == 0xEE:
            return data[:pos] + data[pos + 2 + length :]
        if marker == 0xDA:
            raise ValueError("no Adobe segment")
        pos += 2 + length


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz_tag(xyz: tuple[float, float, float]) -> bytes:
    return b"XYZ " + b"\0" * 4 + b"".join(_s15(v) for v in xyz)


def _curve_tag(gamma: float) -> bytes:
    return b"curv" + b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">H", round(gamma * 256))


def _desc_tag(text: str) -> bytes:
    ascii_text = text.encode() + b"\0"
    body = b"desc" + b"\0" * 4 + struct.pack(">I", len(ascii_text)) + ascii_text
    return body + b"\0" * 8 + b"\0" * 3 + b"\0" * 67  # no Unicode, no ScriptCode


#: sRGB's primaries, adapted to D50 (the ICC connection space), as an RGB profile stores them.
SRGB_PRIMARIES_D50 = {
    "r": (0.4361, 0.2225, 0.0139),
    "g": (0.3851, 0.7169, 0.0971),
    "b": (0.1431, 0.0606, 0.7141),
}


def rgb_profile(
    description: str,
    red: tuple[float, float, float],
    green: tuple[float, float, float],
    blue: tuple[float, float, float],
    gamma: float = 2.2,
) -> bytes:
    """A minimal ICC v2 matrix/TRC display profile with the given primaries."""
    curve = _curve_tag(gamma)
    tags = [
        (b"desc", _desc_tag(description)),
        (b"wtpt", _xyz_tag((0.9642, 1.0, 0.8249))),
        (b"rXYZ", _xyz_tag(red)),
        (b"gXYZ", _xyz_tag(green)),
        (b"bXYZ", _xyz_tag(blue)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", b"text" + b"\0" * 4 + b"none\0"),
    ]
    table_size = 4 + 12 * len(tags)
    offset = 128 + table_size
    table, blobs = [struct.pack(">I", len(tags))], []
    for sig, body in tags:
        padded = body + b"\0" * (-len(body) % 4)
        table.append(sig + struct.pack(">II", offset, len(body)))
        blobs.append(padded)
        offset += len(padded)
    payload = b"".join(table) + b"".join(blobs)
    header = bytearray(128)
    struct.pack_into(">I", header, 0, 128 + len(payload))
    header[8:12] = b"\x02\x10\x00\x00"  # version 2.1
    header[12:16] = b"mntr"
    header[16:20] = b"RGB "
    header[20:24] = b"XYZ "
    header[36:40] = b"acsp"
    header[68:80] = b"".join(_s15(v) for v in (0.9642, 1.0, 0.8249))
    return bytes(header) + payload


def swapped_profile() -> bytes:
    """A profile whose red and green primaries are sRGB's green and red: a pixel stored as pure red
    in it is pure green in sRGB, so a missing conversion is impossible to overlook."""
    p = SRGB_PRIMARIES_D50
    return rgb_profile("Swapped RG test profile", p["g"], p["r"], p["b"])


def frames(data: bytes) -> Iterator[Image.Image]:
    im = Image.open(io.BytesIO(data))
    for i in range(getattr(im, "n_frames", 1)):
        im.seek(i)
        yield im.convert("RGBA")


def upright_box(
    box: tuple[int, int, int, int], size: tuple[int, int], orientation: int
) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """Where Pillow's ``ImageOps.exif_transpose`` puts a box of stored pixels, and the upright
    size: the oracle for ``locate``'s mapping, independent of the code under test."""
    mask = Image.new("L", size)
    mask.paste(255, box)
    exif = mask.getexif()
    exif[ORIENTATION] = orientation
    mask.info["exif"] = exif.tobytes()
    upright = ImageOps.exif_transpose(mask)
    found = upright.getbbox()
    assert found is not None
    return found, upright.size
