"""The core of ``locate``: the question, the schema of its answer, and the boxes of a results line
mapped back to the original image. No Pillow, no network (drawing is :mod:`vision_cli.drawing`;
sending is ``ask --each``'s machinery in :mod:`vision_cli.bulk`).

The question follows the public vision-coordinates guide: absolute pixel coordinates
``[x1, y1, x2, y2]`` of the image as the model sees it, origin top-left. vision-cli sends every
image at a size the model takes as it is (never resized again by the API), and each answer's line
keeps that size and the EXIF orientation applied (``sent``), so :func:`found_in` maps every box
back exactly (:mod:`vision_cli.boxes`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from vision_cli import boxes

#: The answer ``locate`` asks for (structured output): what was found, each with a box.
SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "objects": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "label": {"type": "string", "description": "What it is, in a few words."},
                    "box": {
                        "type": "array",
                        "items": {"type": "number"},
                        "description": "[x1, y1, x2, y2]: left, top, right, bottom, in absolute "
                        "pixels of the image as you see it, origin at the top-left corner.",
                    },
                    "note": {
                        "type": "string",
                        "description": "Optional: how sure you are, or what is uncertain.",
                    },
                },
                "required": ["label", "box"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["objects"],
    "additionalProperties": False,
}

INSTRUCTIONS: Final = (
    "Give the bounding box of each one as [x1, y1, x2, y2]: the left, top, right and bottom "
    "edges in absolute pixel coordinates of this image as you see it, with the origin at the "
    "top-left corner, x to the right and y down. Label each with a few words saying what it is. "
    "Return an empty list if there is none."
)


def question(find: str | None, prompt: str | None) -> str:
    """The prompt sent: ``--prompt`` as given, or "Find every FIND in this image.", then the
    coordinate instructions."""
    asked = prompt if prompt is not None else f"Find every {find} in this image."
    return f"{asked.strip()}\n\n{INSTRUCTIONS}"


@dataclass(frozen=True)
class Found:
    """One box on the original image, in ``frame``, in whole pixels."""

    path: str
    label: str
    box: tuple[int, int, int, int]
    frame: boxes.Frame
    note: str | None = None
    #: The model's box reached outside the image and was cut to it.
    clamped: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The ``--format jsonl`` line, and an entry of ``--json``'s ``boxes``."""
        x1, y1, x2, y2 = self.box
        return {
            "path": self.path,
            "label": self.label,
            "x1": x1,
            "y1": y1,
            "x2": x2,
            "y2": y2,
            "frame": self.frame,
            "note": self.note,
            "clamped": self.clamped,
        }


@dataclass(frozen=True)
class Located:
    """What one results line says: the boxes, and the answers that were not boxes."""

    found: tuple[Found, ...]
    #: The original's size in the frame asked for (what the boxes are clamped to).
    size: boxes.Size
    #: The boxes on the upright original (what ``--draw`` draws), in the order of ``found``.
    upright: tuple[tuple[int, int, int, int], ...]
    skipped: tuple[str, ...] = ()


class NotALocateLine(ValueError):
    """The line gives no boxes: it holds no ``objects`` or no ``sent`` geometry (not written by
    ``locate``), or a damaged one. What is wrong, as words that follow "the line" (the caller
    names the image and the file)."""


#: The members of ``sent`` that are sizes: whole numbers above 0.
_SIZES: Final = ("width", "height", "source_width", "source_height")


def found_in(record: Mapping[str, Any], frame: boxes.Frame = boxes.Frame.upright) -> Located:
    """The boxes of an answered ``locate`` line, on the original in ``frame``. NotALocateLine."""
    sent = record.get("sent")
    data = record.get("data")
    if not isinstance(sent, Mapping) or not isinstance(data, Mapping):
        raise NotALocateLine("holds no boxes")
    for name in _SIZES:
        value = sent.get(name)
        if type(value) is not int or value <= 0:
            raise NotALocateLine(f"is damaged (sent.{name} is {value!r}, not a size in pixels)")
    orientation = sent.get("orientation")
    if orientation is not None and (
        type(orientation) is not int or orientation not in boxes.ORIENTATIONS
    ):
        raise NotALocateLine(f"is damaged (sent.orientation is {orientation!r}, not 1 to 8)")
    stored = (sent["source_width"], sent["source_height"])
    orientation = orientation or 1
    view = boxes.View.whole(
        (sent["width"], sent["height"]), boxes.upright_size(stored, orientation)
    )
    found: list[Found] = []
    upright: list[tuple[int, int, int, int]] = []
    skipped: list[str] = []
    for index, item in enumerate(_objects(data)):
        box = _box(item.get("box"))
        if box is None:
            skipped.append(f"answer {index + 1}: the box is not four numbers ({item.get('box')})")
            continue
        mapped = boxes.to_original(box, view, orientation=orientation, stored=stored, frame=frame)
        on_upright = boxes.to_original(box, view, orientation=orientation, stored=stored)
        note = item.get("note")
        found.append(
            Found(
                str(record["path"]),
                str(item.get("label") or "?"),
                boxes.rounded(mapped.box),
                frame,
                note if isinstance(note, str) and note else None,
                mapped.clamped,
            )
        )
        upright.append(boxes.rounded(on_upright.box))
    size = stored if frame == "stored" else boxes.upright_size(stored, orientation)
    return Located(tuple(found), size, tuple(upright), tuple(skipped))


def _objects(data: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    objects = data.get("objects")
    if not isinstance(objects, list):
        return ()
    return [o for o in objects if isinstance(o, Mapping)]


def _box(value: Any) -> boxes.Box | None:
    if not isinstance(value, list) or len(value) != 4:
        return None
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value
    ):
        return None
    return (float(value[0]), float(value[1]), float(value[2]), float(value[3]))
