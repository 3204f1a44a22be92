"""The exact request body (images first, ``Image N:`` labels, the prompt, the system prompt, earlier
turns) as a :class:`Request`, and the request-level limits. ``request.body`` (without ``stream``)
is a batch request's ``params``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from vision_cli import limits, policy, units
from vision_cli import schema as schema_mod
from vision_cli.asking.conversations import (
    Conversation,
    fit_history,
    image_dimensions,
    source_bytes,
)
from vision_cli.asking.fitting import Image, image_labels
from vision_cli.asking.preparing import Failure, PreflightError, Settings, too_many_images
from vision_cli.client import bodies, filesapi

if TYPE_CHECKING:
    pass


#: Rough characters per token, for the text share of an estimate (the API counts exactly).
CHARS_PER_TOKEN: Final = 4


@dataclass(frozen=True)
class Request:
    """The exact body to send, and what is known about it before it is sent."""

    body: bodies.Body
    images: tuple[Image, ...]  # this turn's
    #: Estimated tokens of every image in the request, earlier turns included.
    image_tokens: int
    #: Images whose tokens cannot be estimated (URL sources, uploaded files from earlier turns).
    uncounted_images: int
    #: Rough tokens of every text (system prompt, labels, prompts, earlier answers).
    text_tokens: int
    #: This turn's ``file`` images that have no file id yet (placeholders in ``body``).
    pending_uploads: tuple[Image, ...] = field(default=())
    #: File ids in ``body`` that came from the cache (uploaded by an earlier run).
    cached_file_ids: frozenset[str] = frozenset()
    #: The file id of each of this turn's ``file`` images that has one, by SHA-256.
    file_ids: Mapping[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return bodies.body_size(self.body)

    @property
    def total_images(self) -> int:
        return bodies.count_images(self.body["messages"])

    @property
    def params(self) -> bodies.Body:
        """The body without ``stream``: a Message Batch request's ``params``."""
        return {k: v for k, v in self.body.items() if k != "stream"}


def image_source(image: Image, file_ids: Mapping[str, str]) -> dict[str, str]:
    """The ``source`` of an image block; placeholders (``"<...>"``) for what a dry run lacks."""
    if image.kind == "url":
        assert image.url is not None
        return bodies.url_source(image.url)
    if image.data is None:  # a download a dry run did not make
        if image.kind == "file":
            return bodies.file_source(f"<upload after downloading {image.url}>")
        return {
            "type": "base64",
            "media_type": "<detected after download>",
            "data": f"<downloaded from {image.url} when sent>",
        }
    assert image.media_type is not None and image.sha256 is not None
    if image.kind == "base64":
        return bodies.base64_source(image.data, image.media_type)
    file_id = file_ids.get(image.sha256)
    if file_id is None:
        file_id = f"<upload of {image.size} bytes, sha256 {image.sha256[:16]}>"
    return bodies.file_source(file_id)


def build_request(
    images: Sequence[Image],
    settings: Settings,
    *,
    prompt: str,
    conversation: Conversation | None = None,
    files: Files | None = None,
    stream: bool = False,
) -> Request:
    """The request for this turn: earlier turns (made fit), then images with ``Image N:`` labels
    when there are several, then the prompt; the system prompt in ``system``."""
    history = conversation or Conversation()
    total = history.images + len(images)
    history = fit_history(history, settings, total)
    ids = files.ids if files is not None else {}
    strict = settings.oversized == "error"
    blocks = [
        bodies.image_block(image_source(image, ids), oversized_error=strict) for image in images
    ]
    messages = [*history.messages, bodies.user_turn(blocks, prompt, image_labels(images))]
    body = bodies.request_body(
        model=settings.model_name,
        max_tokens=settings.max_tokens,
        messages=messages,
        system=settings.system,
        stream=stream,
        output_config=(
            schema_mod.output_config(settings.schema) if settings.schema is not None else None
        ),
    )
    earlier = [
        history_tokens(block, settings) for block in bodies.iter_image_blocks(history.messages)
    ]
    now = [image.tokens for image in images]
    counted = [t for t in (*earlier, *now) if t is not None]
    mine = {
        image.sha256: ids[image.sha256]
        for image in images
        if image.kind == "file" and image.sha256 is not None and image.sha256 in ids
    }
    used = set(mine.values())
    pending = tuple(
        image
        for image in images
        if image.kind == "file" and (image.sha256 is None or image.sha256 not in ids)
    )
    return Request(
        body=body,
        images=tuple(images),
        image_tokens=sum(counted),
        uncounted_images=len(earlier) + len(now) - len(counted),
        text_tokens=text_tokens(body),
        pending_uploads=pending,
        cached_file_ids=frozenset(used & files.cached) if files is not None else frozenset(),
        file_ids=mine,
    )


def history_tokens(block: Mapping[str, Any], settings: Settings) -> int | None:
    raw = source_bytes(block.get("source", {}))
    size = image_dimensions(raw) if raw is not None else None
    return policy.predict(*size, settings.model.tier).tokens if size else None


def text_tokens(body: Mapping[str, Any]) -> int:
    """A rough count of the text tokens: characters / 4, rounded up (a ``--schema`` counts as
    its JSON text)."""
    chars = len(body.get("system") or "")
    if body.get("output_config"):
        chars += len(json.dumps(body["output_config"], separators=(",", ":")))
    for turn in body.get("messages", ()):
        content = turn.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(b.get("text", "")) for b in content if b.get("type") == "text")
    return math.ceil(chars / CHARS_PER_TOKEN)


def check_request(request: Request, settings: Settings) -> None:
    """The request-level limits: images per request and the 32 MB body. PreflightError."""
    earlier = request.total_images - len(request.images)
    too_many = too_many_images(request.total_images, settings, earlier)
    if too_many is not None:
        raise PreflightError([too_many])
    size = request.size
    if size > limits.MESSAGES_REQUEST_MAX_BYTES:
        raise PreflightError(
            [
                Failure(
                    None,
                    f"the request would be {size:,} bytes, over the "
                    f"{units.format_bytes(limits.MESSAGES_REQUEST_MAX_BYTES)} limit of a Messages "
                    "request: send fewer images, lower --max-bytes, or upload them with "
                    "--source file",
                )
            ]
        )


@dataclass(frozen=True)
class Files:
    """File ids for the images of a request, and which of them came from the cache."""

    ids: dict[str, str]
    cached: frozenset[str] = frozenset()
    uploaded: int = 0


def cached_files(images: Iterable[Image], cache: filesapi.FileCache | None) -> Files:
    """The ids the cache already has (no network: what a dry run can show)."""
    ids: dict[str, str] = {}
    if cache is not None:
        for image in images:
            if image.kind == "file" and image.sha256 is not None:
                file_id = cache.get(image.sha256)
                if file_id:
                    ids[image.sha256] = file_id
    return Files(ids, frozenset(ids.values()))
