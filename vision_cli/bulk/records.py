"""The one results record: a JSONL line of ``ask --each``, ``ask --batch`` and ``locate``.

Its members are declared once, in :class:`Record` (their order is the line's); the writers
(:func:`success_record`, :func:`error_record`) fill in what they know and leave the rest at the
record's defaults, so a new member is one edit. The readers (:func:`open_results`, the one rule
of what may be read as a results file, :func:`parse_record`, :func:`read_records`,
:func:`entry`) and the resume key (:func:`prompt_sha256`,
:func:`model_key`, :func:`image_key`, :func:`latest`, :func:`answered`) live here too, so the
results file, resuming and the ``results`` command all read lines one way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple

from vision_cli import catalog, fsutil, limits, sources
from vision_cli import schema as schema_mod
from vision_cli.asking import answering, fitting, preparing
from vision_cli.client import messages

#: The ``error.type`` of an image that failed preflight (it was not sent).
PREFLIGHT_ERROR: Final = "preflight_error"


class OutputError(Exception):
    """The results file or the batch state file cannot be used; one sentence that says why."""


class WriteError(OutputError):
    """The batch state file could not be written (a full disk): the run stops with exit 1, as
    when an answer cannot be saved, not with the usage status of a file that is not one."""


@dataclass(frozen=True)
class Record:
    """One results line. The members, in the line's order, with what a line that got no answer
    holds (nothing is billed for it, so ``cost_usd`` is 0). A ``locate`` line has one more
    member after these, ``sent`` (:func:`sent_geometry`); readers ignore members they do not
    know."""

    path: str
    sha256: str | None
    model: str
    prompt_sha256: str
    text: str | None = None
    data: Any = None
    stop_reason: str | None = None
    usage: dict[str, int] | None = None
    cost_usd: float = 0.0
    seconds: float | None = None
    error: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The line's members (not :func:`dataclasses.asdict`: ``data`` is kept as it is)."""
        return {name: getattr(self, name) for name in FIELDS}


#: The members of a results line, in order.
FIELDS: Final = tuple(f.name for f in dataclasses.fields(Record))


def prompt_sha256(prompt: str, schema: Mapping[str, Any] | None = None) -> str:
    """The ``prompt_sha256`` of a results line, the resume key beside the model: SHA-256 of the
    prompt's UTF-8 bytes, as sent; with ``--schema``, of the prompt, a NUL and the schema as
    canonical JSON (a changed schema asks again, an unchanged one skips)."""
    text = prompt if schema is None else f"{prompt}\0{schema_mod.digest_text(schema)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_key(name: str) -> str:
    """A model name as the results compare it: an alias and its id are the same model."""
    try:
        return catalog.resolve(name).id
    except catalog.UnknownModelError:
        return name


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------


def success_record(
    path: str,
    sha256: str | None,
    model: str,
    prompt_hash: str,
    reply: messages.Reply,
    cost: float,
    *,
    settings: preparing.Settings | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """The line of an answer. With ``--schema`` (in ``settings``), ``data`` holds the parsed
    object, and an answer that does not match is a ``schema_mismatch`` error line that keeps
    the text, usage and cost (it was paid for) and is asked again on resume."""
    data, mismatch = answering.structured(reply.text, settings) if settings else (None, None)
    return Record(
        path,
        sha256,
        model,
        prompt_hash,
        text=reply.text,
        data=data,
        stop_reason=reply.stop_reason,
        usage={"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
        cost_usd=cost,
        seconds=None if seconds is None else round(seconds, 3),
        error=answering.schema_error(mismatch, reply.stop_reason) if mismatch else None,
    ).as_dict()


def error_record(
    path: str, sha256: str | None, model: str, prompt_hash: str, error: Mapping[str, Any]
) -> dict[str, Any]:
    """A line for an image that got no answer."""
    reason = {key: error.get(key) for key in ("type", "status", "message")}
    return Record(path, sha256, model, prompt_hash, error=reason).as_dict()


def preflight_error(message: str) -> dict[str, Any]:
    return {"type": PREFLIGHT_ERROR, "status": None, "message": message}


def internal_error(exc: Exception) -> dict[str, Any]:
    """The error of an image that met a bug: the run goes on, and the line says so."""
    return {
        "type": "internal_error",
        "status": None,
        "message": f"{type(exc).__name__}: {exc} (a bug in vision-cli: please report it)",
    }


def sent_geometry(image: fitting.Image) -> dict[str, Any]:
    """The ``sent`` member of a ``locate`` line: the size of the image the model saw, the size
    of the original as stored, and the EXIF orientation applied to make it upright."""
    return {
        "width": image.width,
        "height": image.height,
        "source_width": image.source_width,
        "source_height": image.source_height,
        "orientation": image.source_orientation,
    }


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------


class Entry(NamedTuple):
    """What resuming needs of one results line."""

    path: str
    sha256: str | None
    model: str  # as :func:`model_key` gives it
    prompt_sha256: str
    ok: bool  # answered (``error`` is null)


def _json(raw: bytes | str) -> dict[str, Any] | None:
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def entry(raw: bytes) -> Entry | None:
    """The line as an :class:`Entry`, or None when it is not a results line."""
    doc = _json(raw)
    return None if doc is None else _entry_of(doc)


def _entry_of(doc: dict[str, Any]) -> Entry | None:
    if not isinstance(doc.get("path"), str):
        return None
    sha = doc.get("sha256")
    model = doc.get("model")
    prompt = doc.get("prompt_sha256")
    if not isinstance(model, str) or not isinstance(prompt, str):
        return None
    return Entry(
        doc["path"],
        sha if isinstance(sha, str) else None,
        model_key(model),
        prompt,
        doc.get("error") is None and doc.get("text") is not None,
    )


def parse_record(raw: bytes | str) -> dict[str, Any] | None:
    """A results line as a dict, or None when it is not one (what :func:`read_records` skips):
    also a line whose counts are not numbers (``"input_tokens": "x"``), which a summary would
    add up, or a cost no request can have (over :data:`limits.MAX_LINE_COST_USD`), and a line
    whose ``error`` is not an object with text for its type and message.
    NaN and infinities in ``data`` are read as None (:func:`schema.finite`)."""
    doc = _json(raw)
    if (
        doc is None
        or _entry_of(doc) is None
        or not _counts_are_numbers(doc)
        or not _error_is_an_error(doc.get("error"))
    ):
        return None
    if doc.get("data") is not None:  # NaN or Infinity in a line written before they were nulled
        doc["data"] = schema_mod.finite(doc["data"])
    return doc


def _error_is_an_error(error: Any) -> bool:
    """None (answered), or an object whose ``type`` and ``message`` are text or absent."""
    if error is None:
        return True
    return isinstance(error, dict) and all(
        error.get(name) is None or isinstance(error.get(name), str) for name in ("type", "message")
    )


def _counts_are_numbers(doc: Mapping[str, Any]) -> bool:
    usage = doc.get("usage")
    if usage is not None and not isinstance(usage, dict):
        return False
    tokens = [(usage or {}).get(name) for name in ("input_tokens", "output_tokens")]
    amounts = [doc.get("cost_usd"), doc.get("seconds")]
    cost = doc.get("cost_usd")
    return (
        all(value is None or (type(value) is int and value >= 0) for value in tokens)
        and all(
            value is None
            or (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
                and value >= 0
            )
            for value in amounts
        )
        and (cost is None or cost <= limits.MAX_LINE_COST_USD)
    )


def open_results(path: Path, flags: int = os.O_RDONLY, *, option: str | None = "--output") -> int:
    """Open a results file (``flags`` as :func:`os.open`'s): the one rule for every command that
    reads one back (resuming, ``--dry-run``, ``locate``, ``results``). Only a regular file of at
    most :data:`vision_cli.limits.MAX_RESULTS_BYTES` is opened (:func:`fsutil.open_regular`: a
    device, a FIFO, a socket or a folder is refused before it is opened); anything else is an
    OutputError that names the ``option`` and the file (``option`` None: the file ``results``
    was given). OSError as :func:`os.open` raises it."""
    try:
        return fsutil.open_regular(path, limits.MAX_RESULTS_BYTES, flags)
    except fsutil.UnfitFile as exc:
        if option is None:
            message = f"{path} cannot be a results file ({exc}): give the --output of a run"
        else:
            message = (
                f"{option} {path} cannot be used ({exc}): the results file is read back to "
                "resume; give a regular file, or a new name"
            )
        raise OutputError(message) from None


def read_records(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Every results line of ``path`` in order, and how many other lines were skipped (blank
    lines aside). OutputError when the file cannot be read, or cannot be a results file
    (:func:`open_results`)."""
    records: list[dict[str, Any]] = []
    ignored = 0
    try:
        with os.fdopen(open_results(path, option=None), "rb") as fh:
            for raw in fh:
                if not raw.strip():
                    continue
                record = parse_record(raw)
                if record is None:
                    ignored += 1
                else:
                    records.append(record)
    except OSError as exc:
        raise OutputError(f"cannot read {path} ({exc.strerror or exc})") from None
    return records, ignored


# --------------------------------------------------------------------------------------------------
# The resume key
# --------------------------------------------------------------------------------------------------

ImageKey = tuple[str, str | None, str, str]


def image_key(record: Mapping[str, Any]) -> ImageKey:
    """Which image, asked of which model with which prompt (and schema), a line is about."""
    sha = record.get("sha256")
    return (
        sources.path_key(str(record["path"])),
        sha if isinstance(sha, str) else None,
        model_key(str(record["model"])),
        str(record["prompt_sha256"]),
    )


def latest(records: Iterable[Mapping[str, Any]]) -> dict[ImageKey, Mapping[str, Any]]:
    """One line per image, model and prompt, as resuming sees them: the last answered line,
    else the last failed one (a failure after an answer, from ``--rerun``, does not undo it)."""
    chosen: dict[ImageKey, Mapping[str, Any]] = {}
    for record in records:
        key = image_key(record)
        if supersedes(record, chosen.get(key)):
            chosen[key] = record
    return chosen


def supersedes(record: Mapping[str, Any], before: Mapping[str, Any] | None) -> bool:
    """Whether ``record``, a later line about the same image, model and prompt, is the one that
    counts instead of ``before``: :func:`latest`'s rule, for a reader of one line at a time."""
    return before is None or record.get("error") is None or before.get("error") is not None


#: An image as a run tells it apart: :func:`sources.path_key` of its label, and its SHA-256.
ImageId = tuple[str, str | None]


def image_id(path: str, sha256: str | None) -> ImageId:
    """The image whose label is ``path``: the same for every spelling of the path (``./a.png``,
    ``a.png``), so an answered image is skipped however it is named again."""
    return (sources.path_key(path), sha256)


def answered(entries: Iterable[Entry], model: str, prompt_hash: str) -> set[ImageId]:
    """The :func:`image_id` of every image answered for this model and prompt."""
    key = model_key(model)
    return {
        image_id(e.path, e.sha256)
        for e in entries
        if e.ok and e.model == key and e.prompt_sha256 == prompt_hash
    }
