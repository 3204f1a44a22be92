"""Request building for the Messages API: plain dicts, no SDK.

Image blocks with ``base64``, ``url`` or ``file`` sources, ``Image N:`` labels, images before the
prompt, turns and the request body. A body built here is exactly what is sent, so ``--dry-run``
prints it and a Message Batch can use it as ``params`` unchanged.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from vision_cli import names

if TYPE_CHECKING:
    pass


#: The beta that ``file`` image sources and uploads go through (the guide's Files API example).
FILES_BETA: Final = "files-api-2025-04-14"


#: What replaces the API key wherever it might show (it never should).
REDACTED: Final = names.REDACTED


Block = dict[str, Any]


Turn = dict[str, Any]


Body = dict[str, Any]


def base64_source(data: bytes, media_type: str) -> dict[str, str]:
    import base64

    return {
        "type": "base64",
        "media_type": media_type,
        "data": base64.standard_b64encode(data).decode("ascii"),
    }


def url_source(url: str) -> dict[str, str]:
    return {"type": "url", "url": url}


def file_source(file_id: str) -> dict[str, str]:
    return {"type": "file", "file_id": file_id}


#: ``transformations`` of an image block that makes the API refuse (400) an image it would
#: otherwise shrink silently: the model then sees exactly the pixels that were sent.
OVERSIZED_ERROR: Final = {"oversized_image": "error"}


#: The structured 400 for such an image: ``details.max_side_length_pixels`` and ``details.paths``.
IMAGE_TOO_LARGE: Final = "image_dimensions_too_large"


def image_block(source: Mapping[str, str], *, oversized_error: bool = False) -> Block:
    """An image block; ``oversized_error`` adds ``transformations: {"oversized_image":
    "error"}`` (without it the API's default, ``downsize``, applies)."""
    block: Block = {"type": "image", "source": dict(source)}
    if oversized_error:
        block["transformations"] = dict(OVERSIZED_ERROR)
    return block


def text_block(text: str) -> Block:
    return {"type": "text", "text": text}


def user_content(
    images: Sequence[Block], prompt: str, labels: Sequence[str] | None = None
) -> list[Block]:
    """The content of one user turn as the guide recommends: images first, then the prompt; with
    several images, a text block before each: ``labels`` when given, else ``Image N:`` (numbered
    within the turn)."""
    content: list[Block] = []
    for number, image in enumerate(images, 1):
        if len(images) > 1:
            content.append(text_block(labels[number - 1] if labels else f"Image {number}:"))
        content.append(image)
    content.append(text_block(prompt))
    return content


def user_turn(images: Sequence[Block], prompt: str, labels: Sequence[str] | None = None) -> Turn:
    return {"role": "user", "content": user_content(images, prompt, labels)}


def assistant_turn(text: str) -> Turn:
    return {"role": "assistant", "content": [text_block(text)]}


def request_body(
    *,
    model: str,
    max_tokens: int,
    messages: Sequence[Turn],
    system: str | None = None,
    stream: bool = False,
    output_config: Mapping[str, Any] | None = None,
) -> Body:
    """The Messages request body, exactly as it goes over the wire (``stream`` included).
    ``output_config``: structured output (``{"format": {"type": "json_schema", ...}}``)."""
    body: Body = {"model": model, "max_tokens": max_tokens}
    if system:
        body["system"] = system
    body["messages"] = list(messages)
    if output_config is not None:
        body["output_config"] = dict(output_config)
    if stream:
        body["stream"] = True
    return body


def iter_image_blocks(messages: Iterable[Turn]) -> Iterator[Block]:
    """Every image block of every turn, in order."""
    for turn in messages:
        content = turn.get("content")
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "image":
                    yield block


def count_images(messages: Iterable[Turn]) -> int:
    return sum(1 for _ in iter_image_blocks(messages))


def uses_files(body: Mapping[str, Any]) -> bool:
    """Whether any image is a Files API ``file`` source (sent through the files beta)."""
    return any(
        block.get("source", {}).get("type") == "file"
        for block in iter_image_blocks(body.get("messages", ()))
    )


def shorten_base64(body: Mapping[str, Any]) -> Body:
    """A copy of ``body`` with every base64 string replaced by ``"<N bytes base64>"`` (N is the
    length of the base64 string, which is what the API's byte limit measures)."""
    short = copy.deepcopy(dict(body))
    for block in iter_image_blocks(short.get("messages", ())):
        source = block.get("source", {})
        if source.get("type") == "base64" and isinstance(source.get("data"), str):
            data = source["data"]
            if not data.startswith("<"):
                source["data"] = f"<{len(data)} bytes base64>"
    return short


def body_size(body: Mapping[str, Any]) -> int:
    """The size in bytes of the body as JSON (what the 32 MB request limit is measured on)."""
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
