"""The Messages API: send a message (streamed or in one piece), count tokens, list models."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from vision_cli.client.bodies import FILES_BETA, base64_source, image_block, uses_files
from vision_cli.client.failures import api_failure

if TYPE_CHECKING:
    import anthropic


@dataclass(frozen=True)
class Reply:
    """What the API answered: the text and the usage it reported."""

    id: str
    model: str
    text: str
    stop_reason: str | None
    input_tokens: int
    output_tokens: int


#: Body members passed to the SDK's methods by name; anything else goes in ``extra_body``, so
#: that what is sent is always exactly the body built (none that vision-cli builds has any now:
#: ``temperature`` went there until API version 2026-10-21 removed it).
_NAMED: Final = frozenset(
    {"model", "max_tokens", "messages", "system", "stop_sequences", "output_config"}
)


def call_arguments(body: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments that make the SDK send exactly ``body`` (``stream`` aside)."""
    kwargs: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, value in body.items():
        if name == "stream":
            continue
        (kwargs if name in _NAMED else extra)[name] = value
    if extra:
        kwargs["extra_body"] = extra
    if uses_files(body):
        kwargs["betas"] = [FILES_BETA]
    return kwargs


def _messages_resource(client: anthropic.Anthropic, body: Mapping[str, Any]) -> Any:
    return client.beta.messages if uses_files(body) else client.messages


def reply_from(message: Any) -> Reply:
    text = "".join(getattr(block, "text", "") for block in message.content if block.type == "text")
    return Reply(
        id=message.id,
        model=message.model,
        text=text,
        stop_reason=message.stop_reason,
        input_tokens=message.usage.input_tokens,
        output_tokens=message.usage.output_tokens,
    )


def create_message(client: anthropic.Anthropic, body: Mapping[str, Any]) -> Reply:
    """Send ``body`` and wait for the whole answer. Raises :class:`APIFailure`."""
    try:
        message = _messages_resource(client, body).create(**call_arguments(body))
        return reply_from(message)
    except Exception as exc:
        raise api_failure(exc) from None


def stream_message(
    client: anthropic.Anthropic, body: Mapping[str, Any], on_text: Callable[[str], None]
) -> Reply:
    """Send ``body`` as a stream, calling ``on_text`` with each piece of text as it arrives.
    Raises :class:`APIFailure` (also when the stream breaks after it started); what ``on_text``
    raises (standard output is full) passes as it is, never taken for the API's failure."""
    try:
        with _messages_resource(client, body).stream(**call_arguments(body)) as stream:
            for text in stream.text_stream:
                try:
                    on_text(text)
                except Exception as exc:
                    raise _Receiver(exc) from exc
            return reply_from(stream.get_final_message())
    except _Receiver as exc:
        raise exc.raised from None
    except Exception as exc:
        raise api_failure(exc) from None


class _Receiver(Exception):
    """What the receiver of a stream's text raised, carried past the API's error handling."""

    def __init__(self, raised: Exception) -> None:
        super().__init__(str(raised))
        self.raised = raised


#: Members of a Messages body that the token-counting endpoint takes.
_COUNTED: Final = frozenset({"model", "messages", "system"})


def count_tokens(client: anthropic.Anthropic, body: Mapping[str, Any]) -> int:
    """The input tokens of ``body`` by the API's token-counting endpoint (which takes base64 image
    sources only; ``max_tokens``, ``stream`` and sampling settings are left out). APIFailure."""
    params = {name: value for name, value in body.items() if name in _COUNTED}
    try:
        counted = client.messages.count_tokens(**params)
    except Exception as exc:
        raise api_failure(exc) from None
    return int(counted.input_tokens)


def count_image_tokens(
    client: anthropic.Anthropic, model: str, data: bytes, media_type: str
) -> int:
    """The input tokens of a request holding only this image (base64, as the token-counting
    endpoint requires), for ``model``. Raises :class:`APIFailure`. Used by ``estimate --exact``."""
    turn = {"role": "user", "content": [image_block(base64_source(data, media_type))]}
    return count_tokens(client, {"model": model, "messages": [turn]})


#: The fields of the Models API's ``ModelInfo`` that ``models --refresh`` keeps.
MODEL_FIELDS: Final = (
    "id",
    "display_name",
    "created_at",
    "lifecycle",
    "deprecated_at",
    "retires_at",
    "line",
    "max_input_tokens",
    "max_tokens",
)


def list_models(client: anthropic.Anthropic) -> list[dict[str, Any]]:
    """Every model the Models API lists, retired ones included, newest first (every page), as
    plain JSON with :data:`MODEL_FIELDS`. Raises :class:`APIFailure`."""
    try:
        page = client.models.list(lifecycle=["active", "deprecated", "retired"], limit=1000)
        with warnings.catch_warnings():  # a field not of its declared type (created_at that is
            warnings.simplefilter("ignore")  # not a date) is dumped as it came, without a word
            listed = [info.model_dump(mode="json") for info in page]
    except Exception as exc:
        raise api_failure(exc) from None
    return [{name: info.get(name) for name in MODEL_FIELDS} for info in listed]
