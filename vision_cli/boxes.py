"""Boxes from the image the model saw back to the original's pixel grid. Pure: no Pillow, no I/O.

Coordinates are continuous pixel edges, origin top-left, x to the right, y down: a box
``(x1, y1, x2, y2)`` covers the pixels from column ``x1`` up to (not including) ``x2``, as
Pillow's ``getbbox`` gives them. A box the model gives in the image as sent maps back in two steps:

1. :meth:`View.to_upright`: undo the resize (each axis by its own ratio: the sent size is rounded
   per axis) and add the region's offset, in exact fractions. The whole image is one view; a
   tile of a tiled image is a view of its region, so its boxes land on the same upright grid
   (merging them is the tiler's).
2. :func:`upright_to_stored`: undo the EXIF orientation vision-cli applied before sending, for
   ``--frame stored`` (the pixels as the file stores them). ``--frame upright`` stops at step 1.

:func:`clamp` keeps a box inside the image. Nothing here rounds: the caller rounds once, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from vision_cli.formats import Frame as Frame  # boxes.Frame: the frame a box is given in

#: A coordinate: exact (a Fraction) once a box is mapped, so an edge on a whole or half pixel is
#: exactly there (no float noise to clamp or to round the other way).
Coordinate = float | Fraction
Box = tuple[Coordinate, Coordinate, Coordinate, Coordinate]
Point = tuple[Coordinate, Coordinate]
Size = tuple[int, int]
FRAMES: Final = ("upright", "stored")
#: EXIF orientations (1: as stored; 2-8: mirrored and/or turned).
ORIENTATIONS: Final = range(1, 9)


def upright_size(stored: Size, orientation: int) -> Size:
    """The size a viewer shows: width and height swap for orientations 5 to 8."""
    return (stored[1], stored[0]) if orientation >= 5 else stored


def stored_to_upright_point(point: Point, orientation: int, stored: Size) -> Point:
    """Where a point of the stored pixels is once the EXIF orientation is applied (as Pillow's
    ``ImageOps.exif_transpose``: 2 mirror, 3 half turn, 4 flip, 5 transpose, 6 quarter turn
    clockwise, 7 transverse, 8 quarter turn anticlockwise)."""
    x, y = point
    w, h = stored
    match orientation:
        case 1:
            return (x, y)
        case 2:
            return (w - x, y)
        case 3:
            return (w - x, h - y)
        case 4:
            return (x, h - y)
        case 5:
            return (y, x)
        case 6:
            return (h - y, x)
        case 7:
            return (h - y, w - x)
        case 8:
            return (y, w - x)
    raise ValueError(f"EXIF orientation {orientation} is not 1 to 8")


def upright_to_stored_point(point: Point, orientation: int, stored: Size) -> Point:
    """The inverse of :func:`stored_to_upright_point`."""
    u, v = point
    w, h = stored
    match orientation:
        case 1:
            return (u, v)
        case 2:
            return (w - u, v)
        case 3:
            return (w - u, h - v)
        case 4:
            return (u, h - v)
        case 5:
            return (v, u)
        case 6:
            return (v, h - u)
        case 7:
            return (w - v, h - u)
        case 8:
            return (w - v, u)
    raise ValueError(f"EXIF orientation {orientation} is not 1 to 8")


def _corners(a: Point, b: Point) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1]))


def normalise(box: Box) -> Box:
    """The same box with ``x1 <= x2`` and ``y1 <= y2`` (a model may give the corners swapped)."""
    x1, y1, x2, y2 = box
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def upright_to_stored(box: Box, orientation: int, stored: Size) -> Box:
    """A box on the upright image, on the stored pixels instead."""
    a = upright_to_stored_point((box[0], box[1]), orientation, stored)
    b = upright_to_stored_point((box[2], box[3]), orientation, stored)
    return _corners(a, b)


def stored_to_upright(box: Box, orientation: int, stored: Size) -> Box:
    """A box on the stored pixels, on the upright image instead."""
    a = stored_to_upright_point((box[0], box[1]), orientation, stored)
    b = stored_to_upright_point((box[2], box[3]), orientation, stored)
    return _corners(a, b)


def clamp(box: Box, size: Size) -> Box:
    """The box cut to ``0..width`` and ``0..height``."""
    w, h = size
    x1, y1, x2, y2 = normalise(box)
    return (min(max(x1, 0.0), w), min(max(y1, 0.0), h), min(max(x2, 0.0), w), min(max(y2, 0.0), h))


@dataclass(frozen=True)
class View:
    """An image as sent: its size, and the region of the upright original it shows (the whole
    image, or one tile of it), in upright pixels."""

    sent: Size
    region: Box

    @classmethod
    def whole(cls, sent: Size, upright: Size) -> View:
        return cls(sent, (0.0, 0.0, float(upright[0]), float(upright[1])))

    def to_upright(self, box: Box) -> Box:
        """A box in sent pixels, in the upright original's pixels, exactly (in fractions)."""
        x0, y0, x1, y1 = (Fraction(v) for v in self.region)
        sx = (x1 - x0) / self.sent[0]
        sy = (y1 - y0) / self.sent[1]
        bx1, by1, bx2, by2 = (Fraction(v) for v in normalise(box))
        return (x0 + bx1 * sx, y0 + by1 * sy, x0 + bx2 * sx, y0 + by2 * sy)


@dataclass(frozen=True)
class Mapped:
    """A box on the original, in the frame asked for, and whether clamping changed it."""

    box: Box
    clamped: bool


def to_original(
    box: Box, view: View, *, orientation: int, stored: Size, frame: Frame = Frame.upright
) -> Mapped:
    """A box the model gave in sent pixels, on the original's grid in ``frame``, clamped."""
    upright = upright_size(stored, orientation)
    exact = view.to_upright(box)
    on_upright = clamp(exact, upright)
    clamped = on_upright != exact
    if frame == "stored":
        return Mapped(clamp(upright_to_stored(on_upright, orientation, stored), stored), clamped)
    return Mapped(on_upright, clamped)


def rounded(box: Box) -> tuple[int, int, int, int]:
    """Whole pixels, each edge to the nearest (halves to even)."""
    return (round(box[0]), round(box[1]), round(box[2]), round(box[3]))
