"""Saved conversations (``--continue``/``--save``): load and check one, fit its earlier images
to the model, save it again.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from vision_cli import fsutil, limits, names, policy
from vision_cli.asking.fitting import fit_bytes
from vision_cli.asking.preparing import Failure, PreflightError, Settings
from vision_cli.client import bodies, messages
from vision_cli.formats import ResizePolicy

if TYPE_CHECKING:
    from vision_cli.asking.building import Request


CONVERSATION_VERSION: Final = 1


@dataclass(frozen=True)
class Conversation:
    """Earlier turns, as they were sent (base64 images included), and the settings they used."""

    messages: tuple[bodies.Turn, ...] = ()
    system: str | None = None
    model: str | None = None

    @property
    def images(self) -> int:
        return bodies.count_images(self.messages)


def load_conversation(path: Path) -> Conversation:
    """The conversation saved in ``path``; an empty one when the file does not exist yet.

    Accepts vision-cli's own file (``{"version", "model", "system", "messages"}``) or a bare
    JSON list of Messages API turns. :class:`PreflightError` when it cannot be used: also when
    it is not a regular file (a device, a FIFO: refused before it is opened) or holds more than
    :data:`vision_cli.limits.MAX_INPUT_BYTES` (:func:`fsutil.open_regular`).
    """
    try:
        text = fsutil.read_back(path, limits.MAX_INPUT_BYTES)
    except FileNotFoundError:
        return Conversation()
    except fsutil.UnfitFile as exc:
        message = (
            f"--conversation {path} cannot be used ({exc}): the conversation is read back and "
            "saved again; give a regular file, or a new name to start one"
        )
        raise PreflightError([Failure(None, message)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PreflightError(
            [Failure(str(path), f"cannot read the conversation ({exc})")]
        ) from None
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:  # JSONDecodeError, NaN or Infinity, an integer of 4,300+ digits
        raise PreflightError(
            [Failure(str(path), f"the conversation is not valid JSON ({exc}): fix or remove it")]
        ) from None
    except RecursionError:
        raise PreflightError(
            [Failure(str(path), "the conversation is nested too deeply to be one: remove it")]
        ) from None
    if isinstance(doc, list):
        doc = {"messages": doc}
    messages = doc.get("messages") if isinstance(doc, dict) else None
    problem = _turns_problem(messages) or _file_problem(doc)
    if problem:
        raise PreflightError([Failure(str(path), problem)])
    system = doc.get("system")
    model = doc.get("model")
    return Conversation(
        messages=tuple(messages or ()),
        system=system if isinstance(system, str) and system else None,
        model=model if isinstance(model, str) and model else None,
    )


def _no_constant(name: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity``, which Python's JSON reads but JSON does not
    have: the API refuses them (and ``--dry-run`` would print them as they are, not JSON)."""
    raise ValueError(f"{name} is not a JSON number")


def _file_problem(doc: Mapping[str, Any]) -> str | None:
    """Why the file's own members cannot be used: a version that is not a number, or one this
    vision-cli does not know (a newer one wrote it), a model or system that is not text."""
    version = doc.get("version", CONVERSATION_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        return (
            f"the conversation's version is {json.dumps(version)[:20]}, and it must be a whole "
            f"number (this vision-cli reads version {CONVERSATION_VERSION}): fix or remove it"
        )
    if version != CONVERSATION_VERSION:
        return (
            f"the conversation is of version {json.dumps(version)[:20]}, and this vision-cli "
            f"reads version {CONVERSATION_VERSION}: update vision-cli, or start a new one"
        )
    for member in ("model", "system"):
        if doc.get(member) is not None and not isinstance(doc[member], str):
            return f"the conversation's {member} is not text: fix or remove it"
    return None


def _turns_problem(messages: Any) -> str | None:
    hint = ": it must hold the Messages API turns vision-cli wrote"
    if not isinstance(messages, list):
        return "no list of messages in the conversation" + hint
    expected = "user"
    for index, turn in enumerate(messages):
        if not isinstance(turn, dict) or turn.get("role") != expected:
            return f"turn {index + 1} should be a {expected} turn" + hint
        extra = sorted(set(turn) - {"role", "content"})
        if extra:
            return f"turn {index + 1} has members the API does not take ({', '.join(extra)})" + hint
        content = turn.get("content")
        if not isinstance(content, str | list) or not content:
            return f"turn {index + 1} has no content (the API takes no empty turn)" + hint
        for block in content if isinstance(content, list) else ():
            problem = _block_problem(block)
            if problem:
                return f"turn {index + 1}: {problem}" + hint
        expected = "assistant" if expected == "user" else "user"
    if expected == "assistant":
        return "the conversation ends with a question that has no answer" + hint
    return None


#: What each kind of image source must hold (the API's own shapes).
_SOURCE_FIELDS: Final = {"base64": ("media_type", "data"), "url": ("url",), "file": ("file_id",)}


#: The content blocks a conversation may hold: what vision-cli writes (text and images), and
#: what the API answers in an assistant turn; another type would be sent and refused (and the
#: file rewritten around it).
_BLOCK_TYPES: Final = frozenset({"text", "image", "thinking", "redacted_thinking"})


def _block_problem(block: Any) -> str | None:
    """Why one content block cannot be sent again as it is, or None."""
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return "a content block is not an object with a type"
    if block["type"] not in _BLOCK_TYPES:
        return f"a content block of type {json.dumps(block['type'])[:40]}, which is not sent here"
    if block["type"] == "text" and not isinstance(block.get("text"), str):
        return "a text block has no text"
    if block["type"] == "text" and not block["text"].strip():
        return "a text block is empty (the API takes none)"
    if block["type"] == "image":
        source = block.get("source")
        kind = source.get("type") if isinstance(source, dict) else None
        if not isinstance(source, dict) or kind not in _SOURCE_FIELDS:
            return "an image block has no base64, url or file source"
        if not all(isinstance(source.get(name), str) for name in _SOURCE_FIELDS[kind]):
            return f"an image's {kind} source is incomplete"
        if kind == "base64":
            return _base64_problem(source)
    return None


def _base64_problem(source: Mapping[str, Any]) -> str | None:
    """A saved image that the API would refuse (400, exit 3, after the upload): data that is
    not base64, or bytes that are not the media type the block claims."""
    from vision_cli.imaging import probe  # lazy: start-up

    raw = source_bytes(source)
    if raw is None:
        return "an image's data is not base64"
    found = probe.signature_format(raw[:16])
    declared = str(source["media_type"])
    if found is None or limits.FORMAT_MEDIA_TYPES.get(found.upper()) != declared:
        what = f"{found} bytes" if found else "bytes of no image format the API takes"
        return f"an image claims to be {declared[:40]} but holds {what}"
    return None


def save_conversation(
    path: Path, request: Request, reply: messages.Reply, *, model_name: str, system: str | None
) -> None:
    """Write the earlier turns, this turn and the reply back to ``path``, atomically."""
    messages = [*request.body["messages"], bodies.assistant_turn(reply.text)]
    doc = {
        "version": CONVERSATION_VERSION,
        "model": model_name,
        "system": system,
        "messages": messages,
    }
    fsutil.write_text(path, names.dumps(doc, indent=1) + "\n")


def fit_history(conversation: Conversation, settings: Settings, total_images: int) -> Conversation:
    """Earlier turns made fit for this request, which may use another model or other options
    than the turns were sent with.

    - Every earlier base64 image larger than this model processes unshrunk (a turn sent to a
      model of larger images) is brought to the model's native size, as this turn's images are
      (not with ``--no-resize``: the API then shrinks it itself).
    - Above 20 images, every earlier base64 image is brought within 2000 px too.
    - Every earlier image block's ``transformations`` follows this run: ``{"oversized_image":
      "error"}``, or none with ``--allow-downsize`` (and ``--no-resize``).

    A URL or file image cannot be fitted, and is left as it is.
    """
    if not conversation.messages:
        return conversation
    history = copy.deepcopy(list(conversation.messages))  # the strings are shared, not copied
    many = total_images > limits.MANY_IMAGES_THRESHOLD
    tier = settings.model.tier
    native = replace(
        settings,
        resize=True,
        resize_policy=ResizePolicy.native,
        snap_max=None,
        trim_fuzz=None,
        tile=None,
    )
    failures: list[Failure] = []
    for number, block in enumerate(bodies.iter_image_blocks(history), 1):
        if settings.oversized == "error":
            block["transformations"] = dict(bodies.OVERSIZED_ERROR)
        else:
            block.pop("transformations", None)
        source = block.get("source", {})
        raw = source_bytes(source)
        size = image_dimensions(raw) if raw is not None else None
        if raw is None or size is None:
            continue
        over_many = many and max(size) > limits.MANY_IMAGES_MAX_DIMENSION
        over_model = settings.resize and policy.predict(*size, tier).api_size != size
        if not (over_many or over_model):
            continue
        try:
            image = fit_bytes(raw, native, many=many, label=f"earlier image {number}")
        except PreflightError as exc:
            failures.extend(exc.failures)
            continue
        assert image.data is not None and image.media_type is not None
        block["source"] = bodies.base64_source(image.data, image.media_type)
    if failures:
        raise PreflightError(failures)
    return replace(conversation, messages=tuple(history))


def source_bytes(source: Mapping[str, Any]) -> bytes | None:
    if source.get("type") != "base64" or not isinstance(source.get("data"), str):
        return None
    try:
        return base64.b64decode(source["data"], validate=True)
    except (binascii.Error, ValueError):
        return None


def image_dimensions(raw: bytes) -> tuple[int, int] | None:
    from vision_cli.imaging import probe  # lazy: start-up, Pillow

    try:
        facts = probe.probe_bytes(raw).facts
    except probe.ProbeError:
        return None
    return (facts.width, facts.height)
