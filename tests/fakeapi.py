"""A local fake of the Claude API: a real HTTP server on 127.0.0.1 for the whole test suite.

The fake checks requests the way the API does and answers with the API's response and error
shapes, so the official ``anthropic`` SDK can be driven against it (``base_url=fake.base_url``).
It never contacts a remote host and never fetches ``url`` image sources.

Endpoints: ``POST /v1/messages`` (JSON, or server-sent events with ``"stream": true``),
``POST /v1/messages/count_tokens``, ``POST /v1/files`` (multipart, ``expires_in_seconds``),
``GET /v1/files`` (``ids[]``, ``limit``, ``page``), ``GET`` and ``DELETE /v1/files/{id}``,
``POST /v1/messages/batches``, ``GET /v1/messages/batches`` (the list, newest first),
``GET /v1/messages/batches/{id}``,
``GET /v1/messages/batches/{id}/results`` (JSONL), ``POST /v1/messages/batches/{id}/cancel``,
``GET /v1/models`` (newest first; ``lifecycle[]``, ``limit``, ``after_id`` and ``before_id`` as the
SDK sends them; active and deprecated models unless ``retired`` is asked for) and
``GET /v1/models/{id}``. The ``?beta=true`` query and the ``anthropic-beta`` header the SDK's beta
calls send are accepted. Every request must carry an ``anthropic-version`` the API knows
(``KNOWN_API_VERSIONS``, the SDK 2.16 default ``2026-10-21`` among them). From ``2026-10-21`` a
Messages, count_tokens or batch request that still has ``temperature``, ``top_p`` or ``top_k`` is
refused as the API refuses any member it does not know (``temperature: Extra inputs are not
permitted``); an older version takes them.

Models (``models``, the fake's own list of ``ModelInfo`` objects with a ``max_side`` each): a
Messages, count_tokens or batch request naming a retired model is answered 404
``not_found_error`` with the message ``model: <name>``, as the API does; a model the list does not
hold is accepted (the fake does not know every model). An image block may carry
``transformations: {"oversized_image": "downsize" | "error"}``; with ``error``, an image whose
longest side is over the model's ``max_side`` is refused with the structured 400
(``details.error_code: image_dimensions_too_large``, ``max_side_length_pixels``, ``paths``).

Auth: ``x-api-key`` or ``Authorization: Bearer``. Any non-empty key is accepted unless
``expected_api_key`` is set. Recorded requests never hold the key, only ``api_key_given``.

Image checks (messages, count_tokens and every request of a batch): media type, base64,
the bytes' real type (magic bytes), the per-image byte limit on the base64 string
(``max_image_bytes``: 5 MB, or 10 MB), 8000 px per side (2000 px when the request holds more than
20 images, earlier turns included), images per request (``default_max_images`` or
``model_max_images[model]``) and the body size (413 over 32 MB). Dimensions come from the image
header through Pillow's format plugins, so decompression bombs cost nothing and are still measured.
The error texts are the API's, including the ``messages.N.content.M.image.source.base64`` paths.

Structured outputs: a request with ``output_config.format`` of type ``json_schema`` is answered
with JSON text: ``structured(schema, images)`` when set (a test answers ``locate`` with known
boxes this way), else :func:`example_of` the schema; ``mismatch_next`` makes the next answers
not match (as an answer cut short would not). ``refuse_next`` makes the next Messages answers
(structured or not, batch requests too) refusals, as the API gives them: ``stop_reason:
"refusal"`` and a short text that is not JSON.

Failures: ``fail_next`` queues error answers, ``fail_every`` throttles one request in n,
``fail_stream_next`` breaks the next stream with an ``event: error``, ``delay`` slows answers,
``hold`` freezes every answer until ``release``; ``end_batches`` ends every batch at its next poll;
``expire_file`` moves a file past its ``expires_at``, after which a message using it is answered
400 with ``details.error_code`` ``file_expired``.
Every answer carries a ``request-id`` header (the SDK's ``err.request_id``).

Fixtures: ``fake_api`` (a fresh running fake per test) and ``openapi_validator`` (the vendored
OpenAPI description, loaded once per session; set ``fake_api.openapi`` to it to check bodies).

Example::

    def test_send(fake_api: FakeClaudeAPI) -> None:
        fake_api.fail_next(429, retry_after=0.01)
        client = anthropic.Anthropic(api_key="test-key", base_url=fake_api.base_url)
        message = client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=[...])
        assert message.content[0].text.startswith("I see 1 image(s): 64x48 image/png")
        assert [r.status for r in fake_api.messages_requests()] == [429, 200]

The numbers below are the fake's own copy of the API's limits on purpose: the fake is an
independent oracle for ``vision_cli.limits``, not a mirror of it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import importlib
import io
import json
import math
import re
import secrets
import socket
import string
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from dataclasses import field as dataclass_field
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.parser import BytesHeaderParser
from functools import cached_property
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import parse_qsl, urlsplit

import pytest
from PIL import GifImagePlugin, ImageFile, JpegImagePlugin, PngImagePlugin, WebPImagePlugin

if TYPE_CHECKING:
    from openapi_core import OpenAPI

__all__ = [
    "OPENAPI_FILE",
    "ApiError",
    "FakeClaudeAPI",
    "OpenApiValidator",
    "RecordedRequest",
    "SchemaViolation",
    "SeenImage",
    "StoredFile",
    "fake_api",
    "load_openapi_validator",
    "openapi_validator",
    "read_dimensions",
    "sniff_media_type",
]

MB: Final = 1024 * 1024
MEDIA_TYPES: Final = ("image/jpeg", "image/png", "image/gif", "image/webp")
DEFAULT_MAX_IMAGE_BYTES: Final = 5 * MB
DIRECT_API_MAX_IMAGE_BYTES: Final = 10 * MB
MAX_DIMENSION: Final = 8000
MANY_IMAGES_MAX_DIMENSION: Final = 2000
MANY_IMAGES_THRESHOLD: Final = 20
DEFAULT_MAX_IMAGES: Final = 100
PATCH_SIZE: Final = 28
#: ``expires_in_seconds`` bounds of a Files API upload (one hour to ninety days).
FILE_MIN_EXPIRY: Final = 3_600
FILE_MAX_EXPIRY: Final = 7_776_000
MESSAGES_BODY_LIMIT: Final = 32 * MB
BODY_LIMITS: Final = {"/v1/messages/batches": 256 * MB, "/v1/files": 500 * MB}
CUSTOM_ID_PATTERN: Final = "^[a-zA-Z0-9_-]{1,64}$"
BATCH_LIFETIME: Final = timedelta(hours=24)
#: The text of a refusal (``refuse_next``): what a model says when it declines, not JSON.
REFUSAL_TEXT: Final = "I can't help with that request."

#: Seconds an idle connection may stay open, and the bound on every socket read and write.
SOCKET_TIMEOUT: Final = 10.0
#: The vendored OpenAPI description, trimmed to the message paths (see its README).
OPENAPI_FILE: Final = Path(__file__).resolve().parent / "data/openapi/anthropic-messages.json"

ERROR_TYPES: Final = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
DEFAULT_MESSAGES: Final = {
    "invalid_request_error": "Invalid request",
    "authentication_error": "invalid x-api-key",
    "billing_error": "Your credit balance is too low to access the Anthropic API.",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "Not found",
    "request_too_large": "Request exceeds the maximum size",
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit",
    "api_error": "Internal server error",
    "timeout_error": "Request timed out",
    "overloaded_error": "Overloaded",
}

#: ``anthropic-version`` values the fake accepts (the SDK 2.16 sends ``2026-10-21``).
KNOWN_API_VERSIONS: Final = frozenset({"2023-01-01", "2023-06-01", "2026-10-21"})
#: The API version that removed the sampling parameters, and those parameters.
SAMPLING_REMOVED_IN: Final = "2026-10-21"
REMOVED_SAMPLING: Final = ("temperature", "top_p", "top_k")
#: The largest side each resize tier takes unshrunk (the fake's own copy of the vision page).
HIGH_RES_SIDE: Final = 2576
STANDARD_SIDE: Final = 1568
_OVERSIZED_CHOICES: Final = ("downsize", "error")


def _model_info(
    model_id: str,
    name: str,
    created: str,
    line: str | None,
    lifecycle: str = "active",
    *,
    retires_at: str | None = None,
    context: int = 1_000_000,
    max_side: int = HIGH_RES_SIDE,
) -> dict[str, Any]:
    """A ``ModelInfo`` as the Models API returns it, plus the fake's own ``max_side``."""
    deprecated = f"{created[:4]}-10-01T00:00:00Z" if lifecycle != "active" else None
    return {
        "type": "model",
        "id": model_id,
        "display_name": name,
        "created_at": f"{created}T00:00:00Z",
        "lifecycle": lifecycle,
        "deprecated_at": deprecated,
        "retires_at": f"{retires_at}T00:00:00Z" if retires_at else None,
        "line": line,
        "max_input_tokens": context,
        "max_tokens": 128_000,
        "capabilities": None,
        "max_side": max_side,
    }


#: The fake's model list, newest first (the dates are the fake's, not Anthropic's).
DEFAULT_MODELS: Final = (
    _model_info("claude-fable-5-2", "Claude Fable 5.2", "2026-11-20", "fable"),
    _model_info("claude-mythos-5-2", "Claude Mythos 5.2", "2026-11-18", "mythos"),
    _model_info("claude-haiku-5-5", "Claude Haiku 5.5", "2026-10-15", "haiku"),
    _model_info("claude-sonnet-5-5", "Claude Sonnet 5.5", "2026-10-01", "sonnet"),
    _model_info("claude-fable-5-1", "Claude Fable 5.1", "2026-09-10", "fable"),
    _model_info("claude-opus-5-5", "Claude Opus 5.5", "2026-09-01", "opus"),
    _model_info("claude-mythos-5-1", "Claude Mythos 5.1", "2026-08-20", "mythos"),
    _model_info("claude-sonnet-5", "Claude Sonnet 5", "2026-07-01", "sonnet"),
    _model_info("claude-fable-5", "Claude Fable 5", "2026-06-20", "fable"),
    _model_info("claude-mythos-5", "Claude Mythos 5", "2026-06-10", "mythos"),
    _model_info("claude-opus-5", "Claude Opus 5", "2026-05-01", "opus"),
    _model_info("claude-opus-4-8", "Claude Opus 4.8", "2026-03-01", "opus"),
    _model_info("claude-opus-4-7", "Claude Opus 4.7", "2026-01-15", "opus"),
    _model_info(
        "claude-mythos-preview",
        "Claude Mythos Preview",
        "2025-12-15",
        "mythos",
        "retired",
        retires_at="2026-06-30",
    ),
    _model_info("claude-opus-4-6", "Claude Opus 4.6", "2025-12-01", "opus", max_side=STANDARD_SIDE),
    _model_info(
        "claude-sonnet-4-6", "Claude Sonnet 4.6", "2025-11-20", "sonnet", max_side=STANDARD_SIDE
    ),
    _model_info(
        "claude-opus-4-5-20251101",
        "Claude Opus 4.5",
        "2025-11-01",
        "opus",
        "deprecated",
        retires_at="2027-01-22",
        context=200_000,
        max_side=STANDARD_SIDE,
    ),
    _model_info(
        "claude-haiku-4-5-20251001",
        "Claude Haiku 4.5",
        "2025-10-01",
        "haiku",
        context=200_000,
        max_side=STANDARD_SIDE,
    ),
    _model_info(
        "claude-sonnet-4-5-20250929",
        "Claude Sonnet 4.5",
        "2025-09-29",
        "sonnet",
        "retired",
        retires_at="2026-11-30",
        context=200_000,
        max_side=STANDARD_SIDE,
    ),
    _model_info(
        "claude-opus-4-1-20250805",
        "Claude Opus 4.1",
        "2025-08-05",
        "opus",
        "retired",
        retires_at="2026-08-05",
        context=200_000,
        max_side=STANDARD_SIDE,
    ),
    _model_info(
        "claude-opus-4-20250514",
        "Claude Opus 4",
        "2025-05-14",
        "opus",
        "retired",
        retires_at="2026-06-15",
        context=200_000,
        max_side=STANDARD_SIDE,
    ),
    _model_info(
        "claude-sonnet-4-20250514",
        "Claude Sonnet 4",
        "2025-05-14",
        "sonnet",
        "retired",
        retires_at="2026-06-15",
        context=200_000,
        max_side=STANDARD_SIDE,
    ),
)
#: Aliases the API resolves (a request may name either).
MODEL_ALIASES: Final = {
    "claude-opus-4-5": "claude-opus-4-5-20251101",
    "claude-haiku-4-5": "claude-haiku-4-5-20251001",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-opus-4-1": "claude-opus-4-1-20250805",
    "claude-opus-4-0": "claude-opus-4-20250514",
    "claude-sonnet-4-0": "claude-sonnet-4-20250514",
}

_ID_ALPHABET: Final = string.ascii_letters + string.digits
_WEBP_TAG: Final = b"WEBP"
_MAGIC: Final = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_PLUGINS: Final[Mapping[str, type[ImageFile.ImageFile]]] = {
    "image/jpeg": JpegImagePlugin.JpegImageFile,
    "image/png": PngImagePlugin.PngImageFile,
    "image/gif": GifImagePlugin.GifImageFile,
    "image/webp": WebPImagePlugin.WebPImageFile,
}

MismatchWording = Literal["legacy", "current"]


# --------------------------------------------------------------------------------------------
# Small helpers


def new_id(prefix: str) -> str:
    """An identifier shaped like the API's (``req_``, ``msg_``, ``file_``, ``msgbatch_``)."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(24))


def _rfc3339(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _now() -> datetime:
    return datetime.now(UTC)


def _size_label(limit: int) -> str:
    """``5242880`` -> ``5 MB`` as the API words it."""
    return f"{limit / MB:g} MB"


def sniff_media_type(data: bytes) -> str | None:
    """The media type the bytes really are (one the API accepts), or None."""
    if data[:4] == b"RIFF" and data[8:12] == _WEBP_TAG:
        return "image/webp"
    return next((media for magic, media in _MAGIC if data.startswith(magic)), None)


def read_dimensions(data: bytes, media_type: str) -> tuple[int, int] | None:
    """Width and height from the image header alone, or None if the header is broken.

    The format's Pillow plugin is opened directly: that reads the header without ever decoding
    pixels, and skips ``Image.open``'s ``MAX_IMAGE_PIXELS`` check, so a decompression bomb is
    measured (and then refused for its size) instead of raising ``DecompressionBombError``.
    """
    try:
        with _PLUGINS[media_type](io.BytesIO(data)) as image:
            width, height = image.size
    except (OSError, SyntaxError, ValueError, EOFError, KeyError):
        return None
    return width, height


# --------------------------------------------------------------------------------------------
# Errors


class ApiError(Exception):
    """An error answer; raised while handling a request and sent in the API's error shape."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        error_type: str | None = None,
        *,
        details: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.error_type = error_type or ERROR_TYPES.get(status, "api_error")
        self.message = message or DEFAULT_MESSAGES.get(self.error_type, "Error")
        self.details = dict(details) if details else None
        self.retry_after = retry_after
        super().__init__(self.message)

    def error_object(self) -> dict[str, Any]:
        """The ``error`` member: ``{"type": ..., "message": ...}`` (plus ``details`` if any)."""
        error: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.details:
            error["details"] = self.details
        return error

    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"retry-after": f"{self.retry_after:g}"}


def invalid(message: str, details: Mapping[str, Any] | None = None) -> ApiError:
    """A 400 ``invalid_request_error``."""
    return ApiError(400, message, details=details)


# --------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class SeenImage:
    """An image block the fake accepted."""

    path: str  #: where the block is, e.g. ``messages.0.content.1``
    source_type: str  #: ``base64``, ``url`` or ``file``
    media_type: str | None = None
    width: int | None = None
    height: int | None = None
    reference: str | None = None  #: the URL or the file id
    field: str = ""  #: the API's error location for this image's data
    #: The image's bytes (base64 and file sources), for answers that look at the pixels.
    data: bytes | None = dataclass_field(default=None, repr=False, compare=False)

    def describe(self) -> str:
        if self.width is None or self.height is None:
            return f"{self.source_type} {self.reference}"
        return f"{self.width}x{self.height} {self.media_type}"

    @property
    def longest_side(self) -> int:
        return max(self.width or 0, self.height or 0)

    @property
    def tokens(self) -> int:
        """``ceil(w/28) * ceil(h/28)``; 0 for a URL image, which the fake never fetches."""
        if self.width is None or self.height is None:
            return 0
        return math.ceil(self.width / PATCH_SIZE) * math.ceil(self.height / PATCH_SIZE)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it (the API key is never kept)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  #: lower-case names; ``x-api-key`` and ``authorization`` dropped
    api_key_given: bool
    body: Any  #: parsed JSON, a summary of multipart fields, or None
    body_size: int
    status: int
    request_id: str
    images: tuple[SeenImage, ...] = ()
    #: Every query pair in order, repeated names kept (``lifecycle[]``).
    query_pairs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class StoredFile:
    """A file uploaded to the fake's Files API."""

    id: str
    filename: str
    mime_type: str
    data: bytes
    created_at: datetime
    expires_at: datetime | None = None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= _now()

    def metadata(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "file",
            "filename": self.filename,
            "mime_type": self.mime_type,
            "size_bytes": len(self.data),
            "created_at": _rfc3339(self.created_at),
            "expires_at": _rfc3339(self.expires_at),
            "downloadable": False,
        }


@dataclass
class _Batch:
    id: str
    results: list[dict[str, Any]]
    polls_left: int
    created_at: datetime = field(default_factory=_now)
    status: str = "in_progress"
    ended_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    expiring: bool = False  #: ends with every request expired, as after 24 hours unprocessed

    def poll(self) -> None:
        """A retrieve: count down while in progress, then end (canceling ends at once)."""
        if self.status == "in_progress" and self.polls_left > 0:
            self.polls_left -= 1
        elif self.status != "ended":
            self._end()

    def cancel(self) -> None:
        if self.status == "in_progress":
            self.status = "canceling"
            self.cancel_initiated_at = _now()

    def _end(self) -> None:
        if self.status == "canceling":
            self.results = [{**line, "result": {"type": "canceled"}} for line in self.results]
        elif self.expiring:
            self.results = [{**line, "result": {"type": "expired"}} for line in self.results]
        self.status = "ended"
        self.ended_at = _now()

    def to_json(self, base_url: str) -> dict[str, Any]:
        ended = self.status == "ended"
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        if ended:
            for line in self.results:
                counts[line["result"]["type"]] += 1
        else:
            counts["processing"] = len(self.results)
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.status,
            "request_counts": counts,
            "created_at": _rfc3339(self.created_at),
            "expires_at": _rfc3339(self.created_at + BATCH_LIFETIME),
            "ended_at": _rfc3339(self.ended_at),
            "cancel_initiated_at": _rfc3339(self.cancel_initiated_at),
            "archived_at": None,
            "results_url": f"{base_url}/v1/messages/batches/{self.id}/results" if ended else None,
        }


@dataclass(frozen=True)
class _Failure:
    make: Callable[[], ApiError]  #: a fresh exception per answer (threads may raise at once)
    times: int
    path: str | None


# --------------------------------------------------------------------------------------------
# HTTP plumbing


@dataclass(frozen=True)
class _FormPart:
    filename: str | None
    content_type: str | None
    data: bytes

    def summary(self) -> Any:
        if self.filename is None:
            return self.data.decode("utf-8", "replace")
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": len(self.data),
        }


def _header_message(raw: bytes) -> Message:
    return BytesHeaderParser().parsebytes(raw)


def _parse_multipart(content_type: str, body: bytes) -> dict[str, _FormPart]:
    """The parts of a ``multipart/form-data`` body, by field name, byte for byte."""
    boundary = _header_message(f"content-type: {content_type}\r\n\r\n".encode()).get_boundary()
    if not boundary:
        raise invalid("Expected a multipart/form-data body")
    parts: dict[str, _FormPart] = {}
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        headers = _header_message(head + b"\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        if isinstance(name, str):
            content_type_header = headers.get("content-type")
            parts[name] = _FormPart(
                filename=headers.get_filename(),
                content_type=str(content_type_header) if content_type_header else None,
                data=data.removesuffix(b"\r\n"),
            )
    return parts


@dataclass(frozen=True)
class _Incoming:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    too_large: bool = False
    #: Every ``name=value`` pair of the query, repeated names kept (``lifecycle[]``).
    query_pairs: tuple[tuple[str, str], ...] = ()

    def query_all(self, name: str) -> list[str]:
        return [value for key, value in self.query_pairs if key == name]

    @cached_property
    def parsed_json(self) -> Any:
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise invalid(f"There was an error parsing the body of your request: {err}") from err

    @property
    def api_version(self) -> str:
        """The ``anthropic-version`` it was sent under (checked before any route runs)."""
        return self.headers["anthropic-version"]

    def json_object(self) -> dict[str, Any]:
        value = self.parsed_json
        if not isinstance(value, dict):
            raise invalid("The request body must be a JSON object")
        return value

    @cached_property
    def form(self) -> dict[str, _FormPart]:
        return _parse_multipart(self.headers.get("content-type", ""), self.body)

    @property
    def is_beta(self) -> bool:
        return self.query.get("beta") == "true"

    def summary(self) -> Any:
        """What the recorded request keeps of the body: never raises."""
        content_type = self.headers.get("content-type", "")
        try:
            if content_type.startswith("multipart/form-data"):
                return {name: part.summary() for name, part in self.form.items()}
            return self.parsed_json if self.body else None
        except ApiError:
            return None


@dataclass
class _Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] | None = None  #: sent with chunked transfer encoding (server-sent events)
    images: tuple[SeenImage, ...] = ()


def _json_reply(payload: Any, status: int = 200) -> _Reply:
    return _Reply(status=status, body=json.dumps(payload).encode())


def _error_reply(error: ApiError, request_id: str) -> _Reply:
    payload = {"type": "error", "error": error.error_object(), "request_id": request_id}
    return replace(_json_reply(payload, error.status), headers=error.headers())


def body_limit(path: str) -> int:
    """The largest request body the API takes on ``path``."""
    return BODY_LIMITS.get(path, MESSAGES_BODY_LIMIT)


Route = Callable[[_Incoming, re.Match[str]], _Reply]


# --------------------------------------------------------------------------------------------
# Request checks (pure functions)


@dataclass(frozen=True)
class _ImageRef:
    path: str  #: ``messages.0.content.1`` (the SDK's ``details.paths`` form)
    field: str  #: ``messages.0.content.1.image.source`` (the API's message form)
    block: dict[str, Any]


def _image_blocks_in(blocks: list[Any], path: str, loc: str) -> Iterator[_ImageRef]:
    for index, block in enumerate(blocks):
        if not isinstance(block, dict):
            continue
        if block.get("type") == "image":
            yield _ImageRef(f"{path}.{index}", f"{loc}.{index}.image.source", block)
        elif block.get("type") == "tool_result" and isinstance(block.get("content"), list):
            inner_loc = f"{loc}.{index}.tool_result.content"
            yield from _image_blocks_in(block["content"], f"{path}.{index}.content", inner_loc)


def image_blocks(messages: list[Any]) -> Iterator[_ImageRef]:
    """Every image block of every turn, nested ``tool_result`` content included."""
    for index, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            loc = f"messages.{index}.content"
            yield from _image_blocks_in(content, loc, loc)


def _check_max_tokens(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid("max_tokens: Input should be a valid integer")
    if value < 1:
        raise invalid("max_tokens: Input should be greater than or equal to 1")


def _check_content(content: Any, index: int, *, may_be_empty: bool) -> None:
    loc = f"messages.{index}.content"
    if content is None:
        raise invalid(f"{loc}: Field required")
    if not isinstance(content, str | list):
        raise invalid(f"{loc}: Input should be a valid string or a valid list")
    if not content and not may_be_empty:
        raise invalid(
            f"messages.{index}: all messages must have non-empty content except for the "
            "optional final assistant message"
        )
    for index, block in enumerate(content if isinstance(content, list) else ()):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise invalid(f"{loc}.{index}.type: Field required")


def _check_turns(messages: Any) -> None:
    if not isinstance(messages, list):
        raise invalid("messages: Input should be a valid list")
    if not messages:
        raise invalid("messages: at least one message is required")
    previous = None
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid(f"messages.{index}: Input should be a valid dictionary")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise invalid(f"messages.{index}.role: Input should be 'user' or 'assistant'")
        if index == 0 and role != "user":
            raise invalid('messages: first message must use the "user" role')
        if role == previous:
            raise invalid(
                'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{role}" roles in a row'
            )
        final_assistant = role == "assistant" and index == len(messages) - 1
        _check_content(message.get("content"), index, may_be_empty=final_assistant)
        previous = role


def check_message_shape(
    body: Mapping[str, Any], *, count_tokens: bool = False, version: str = SAMPLING_REMOVED_IN
) -> None:
    """The basic shape of a Messages (or token counting) body, under API ``version``."""
    required = ("model", "messages") if count_tokens else ("model", "max_tokens", "messages")
    for name in required:
        if name not in body:
            raise invalid(f"{name}: Field required")
    if count_tokens and "max_tokens" in body:
        raise invalid("max_tokens: Extra inputs are not permitted")
    if version >= SAMPLING_REMOVED_IN:  # ISO dates: their order is the strings' order
        for name in REMOVED_SAMPLING:
            if name in body:
                raise invalid(f"{name}: Extra inputs are not permitted")
    if not isinstance(body["model"], str) or not body["model"]:
        raise invalid("model: Input should be a valid string")
    if not count_tokens:
        _check_max_tokens(body["max_tokens"])
    _check_turns(body["messages"])


def _oversized(ref: _ImageRef) -> str:
    """An image block's ``transformations.oversized_image`` (``downsize`` when not given)."""
    transformations = ref.block.get("transformations")
    loc = ref.field.removesuffix(".source") + ".transformations"
    if transformations is None:
        return "downsize"
    if not isinstance(transformations, dict):
        raise invalid(f"{loc}: Input should be a valid dictionary")
    for key in transformations:
        if key != "oversized_image":
            raise invalid(f"{loc}.{key}: Extra inputs are not permitted")
    choice = transformations.get("oversized_image", "downsize")
    if choice not in _OVERSIZED_CHOICES:
        raise invalid(f"{loc}.oversized_image: Input should be 'downsize' or 'error'")
    return str(choice)


def _check_dimensions(
    images: list[SeenImage], max_side: int, *, error_code_only: bool = False
) -> None:
    """The 400 for images over ``max_side``: the 8000 px (2000 px) hard limits, or, with
    ``error_code_only``, the model's own limit for images sent with ``oversized_image: error``."""
    over = [image for image in images if image.longest_side > max_side]
    if not over:
        return
    if error_code_only:
        raise invalid(
            f"{over[0].field}: image dimensions {over[0].width}x{over[0].height} exceed the "
            f"maximum of {max_side} pixels per side for this model, and transformations."
            "oversized_image is 'error'",
            {
                "error_code": "image_dimensions_too_large",
                "max_side_length_pixels": max_side,
                "paths": [image.path for image in over],
            },
        )
    scope = " for many-image requests" if max_side < MAX_DIMENSION else ""
    details = {
        "error_code": "image_dimensions_too_large",
        "max_side_length_pixels": max_side,
        "paths": [image.path for image in over],
    }
    raise invalid(
        f"{over[0].field}: At least one of the image dimensions exceed max allowed size"
        f"{scope}: {max_side} pixels",
        details,
    )


def _texts_of(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        return []
    return [b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)]


def prompt_of(body: Mapping[str, Any]) -> str:
    """The text of the last user turn."""
    users = [m for m in body.get("messages", ()) if isinstance(m, dict) and m.get("role") == "user"]
    return " ".join(_texts_of(users[-1].get("content"))) if users else ""


def estimate_input_tokens(body: Mapping[str, Any], images: list[SeenImage]) -> int:
    """Text characters / 4 (system prompt included) plus ``ceil(w/28) * ceil(h/28)`` per image."""
    texts = _texts_of(body.get("system"))
    for message in body.get("messages", ()):
        if isinstance(message, dict):
            texts.extend(_texts_of(message.get("content")))
    return math.ceil(sum(len(text) for text in texts) / 4) + sum(im.tokens for im in images)


def describe_images(images: list[SeenImage], prompt: str) -> str:
    """The fake's default answer: ``I see N image(s): WxH image/png, .... Prompt: ...``."""
    head = f"I see {len(images)} image(s)"
    if images:
        head += ": " + ", ".join(image.describe() for image in images)
    return f"{head}. Prompt: {prompt}" if prompt else f"{head}."


def json_schema_of(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The schema of a structured-output request (``output_config.format``), or None."""
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        raise invalid("output_config.format.schema: Field required")
    return schema


def example_of(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> Any:
    """A value that matches ``schema`` (the fake's structured answer): every property, the
    first enum or anyOf choice, a list of one item (or ``minItems``)."""
    root = schema if root is None else root
    if "$ref" in schema:
        node: Any = root
        for part in str(schema["$ref"]).lstrip("#").strip("/").split("/"):
            node = node[part] if part else node
        return example_of(node, root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for word in ("anyOf", "oneOf"):
        if word in schema:
            return example_of(schema[word][0], root)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: example_of(sub, root) for name, sub in props.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [example_of(schema.get("items", {"type": "string"}), root)] * count
    low = schema.get("minimum")
    examples = {
        "string": "text",
        "integer": 7 if low is None else math.ceil(low),
        "number": 12.5 if low is None else float(low),
        "boolean": True,
        "null": None,
    }
    return examples.get(kind)


def _mentions_file_source(value: Any) -> bool:
    if isinstance(value, dict):
        if value.get("type") == "file" and "file_id" in value:
            return True
        return any(_mentions_file_source(item) for item in value.values())
    return isinstance(value, list) and any(_mentions_file_source(item) for item in value)


# --------------------------------------------------------------------------------------------
# Server-sent events


def _sse(event: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _text_pieces(text: str) -> list[str]:
    """The text cut into word-sized deltas that join back to it exactly."""
    return re.findall(r"\s*\S+|\s+$", text)


def stream_events(message: Mapping[str, Any], error: ApiError | None = None) -> list[bytes]:
    """The events of a streamed Message, or of one broken by ``error`` after it started."""
    text = message["content"][0]["text"]
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events = [
        _sse("message_start", {"type": "message_start", "message": start}),
        _sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        _sse("ping", {"type": "ping"}),
    ]
    if error is not None:
        return [*events, _sse("error", {"type": "error", "error": error.error_object()})]
    events += [
        _sse(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}},
        )
        for t in _text_pieces(text)
    ]
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    final_usage = {"output_tokens": usage["output_tokens"]}
    return [
        *events,
        _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _sse("message_delta", {"type": "message_delta", "delta": delta, "usage": final_usage}),
        _sse("message_stop", {"type": "message_stop"}),
    ]


# --------------------------------------------------------------------------------------------
# The fake


class FakeClaudeAPI:
    """The fake Claude API. Settings are plain attributes; change them before sending."""

    def __init__(
        self,
        *,
        expected_api_key: str | None = None,
        max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
        default_max_images: int = DEFAULT_MAX_IMAGES,
        model_max_images: Mapping[str, int] | None = None,
    ) -> None:
        #: None accepts any non-empty key; a string accepts only that key.
        self.expected_api_key = expected_api_key
        #: Per-image limit on the base64 string: 5 MB (default) or ``DIRECT_API_MAX_IMAGE_BYTES``.
        self.max_image_bytes = max_image_bytes
        self.default_max_images = default_max_images
        self.model_max_images: dict[str, int] = dict(model_max_images or {})
        #: Replaces the default answer text (``describe_images``) when set.
        self.reply_text: str | None = None
        #: Structured outputs (``output_config.format`` of type ``json_schema``): the object to
        #: answer, made from ``(schema, images)``. Default: :func:`example_of` the schema.
        self.structured: Callable[[Mapping[str, Any], list[SeenImage]], Any] | None = None
        self._mismatches = 0
        self._refusals = 0
        #: Seconds to wait before answering any request.
        self.delay = 0.0
        #: Retrieves that still see a new batch ``in_progress`` before it ends.
        self.batch_polls_until_ended = 0
        #: ``"current"`` words a media type mismatch the newer way.
        self.mismatch_wording: MismatchWording = "legacy"
        #: Validates every Messages, count_tokens and batch body against the OpenAPI file too.
        self.openapi: OpenApiValidator | None = None
        #: Tracebacks of bugs in the fake itself (answered as 500); the fixture fails on any.
        self.internal_errors: list[str] = []
        #: The Models API's list, newest first (``ModelInfo`` objects plus ``max_side``).
        self.models: list[dict[str, Any]] = [dict(m) for m in DEFAULT_MODELS]

        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._released = threading.Event()  #: cleared by ``hold``
        self._released.set()
        #: Requests that arrived (their bodies read) while held: a test knows the server has them.
        self.held = 0
        self._requests: list[RecordedRequest] = []
        self._failures: list[_Failure] = []
        self._stream_failures: list[ApiError] = []
        self._every: tuple[int, Callable[[], ApiError]] | None = None
        self._seen = 0
        self._files: dict[str, StoredFile] = {}
        self._batches: dict[str, _Batch] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, re.Pattern[str], Route]] = [
            ("POST", re.compile(r"/v1/messages"), self._create_message),
            ("POST", re.compile(r"/v1/messages/count_tokens"), self._count_tokens),
            ("POST", re.compile(r"/v1/messages/batches"), self._create_batch),
            ("GET", re.compile(r"/v1/messages/batches"), self._list_batches),
            ("GET", re.compile(r"/v1/messages/batches/([^/]+)"), self._retrieve_batch),
            ("GET", re.compile(r"/v1/messages/batches/([^/]+)/results"), self._batch_results),
            ("POST", re.compile(r"/v1/messages/batches/([^/]+)/cancel"), self._cancel_batch),
            ("POST", re.compile(r"/v1/files"), self._upload_file),
            ("GET", re.compile(r"/v1/files"), self._list_files),
            ("GET", re.compile(r"/v1/files/([^/]+)"), self._file_metadata),
            ("GET", re.compile(r"/v1/models"), self._list_models),
            ("GET", re.compile(r"/v1/models/([^/]+)"), self._retrieve_model),
            ("DELETE", re.compile(r"/v1/files/([^/]+)"), self._delete_file),
        ]

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeClaudeAPI:
        self._stopping.clear()
        server = _Server(self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeClaudeAPI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake Claude API is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- failure injection ----------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        error_type: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
        times: int = 1,
        path: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Answer the next ``times`` requests (to ``path`` only, if given) with this error
        (``details``: a structured error's ``error.details``)."""
        make = functools.partial(
            ApiError, status, message, error_type, retry_after=retry_after, details=details
        )
        with self._lock:
            self._failures.append(_Failure(make, times, path))

    def fail_every(
        self,
        n: int,
        status: int = 429,
        retry_after: float | None = None,
        error_type: str | None = None,
        message: str | None = None,
    ) -> None:
        """Answer every n-th request (counted from now, retries included) with this error."""
        if n < 1:
            raise ValueError("n must be at least 1")
        with self._lock:
            make = functools.partial(ApiError, status, message, error_type, retry_after=retry_after)
            self._every = (n, make)
            self._seen = 0

    def fail_stream_next(
        self, error_type: str = "overloaded_error", message: str | None = None
    ) -> None:
        """Break the next streamed answer with ``event: error`` after it has started."""
        with self._lock:
            self._stream_failures.append(ApiError(200, message, error_type))

    def mismatch_next(self, count: int = 1) -> None:
        """The next ``count`` structured answers do not match their schema (an object with only
        an unexpected member), as an answer cut short or refused would not."""
        with self._lock:
            self._mismatches += count

    def refuse_next(self, count: int = 1) -> None:
        """The next ``count`` answers are refusals: ``stop_reason: "refusal"`` and the text
        :data:`REFUSAL_TEXT` (not JSON, whatever the schema)."""
        with self._lock:
            self._refusals += count

    def _refusing(self) -> bool:
        with self._lock:
            refusing = self._refusals > 0
            self._refusals -= int(refusing)
        return refusing

    def _structured_text(self, schema: Mapping[str, Any], images: list[SeenImage]) -> str:
        with self._lock:
            mismatch = self._mismatches > 0
            self._mismatches -= int(mismatch)
        if mismatch:
            return json.dumps({"unexpected": "not what the schema asked for"})
        make = self.structured or (lambda schema, _images: example_of(schema))
        return json.dumps(make(schema, images))

    def hold(self) -> None:
        """Answer nothing from now on until ``release``: requests wait in the server's threads
        (before they are recorded). Lets a test freeze a client mid-run without timing."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def end_batches(self) -> None:
        """Let every batch end at its next retrieve."""
        with self._lock:
            for batch in self._batches.values():
                batch.polls_left = 0

    def expire_batches(self) -> None:
        """Let every batch in progress end at its next retrieve with all its requests expired
        (the API gives a batch 24 hours)."""
        with self._lock:
            for batch in self._batches.values():
                if batch.status == "in_progress":
                    batch.expiring = True
                    batch.polls_left = 0

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()
            self._stream_failures.clear()
            self._every = None

    # -- inspection -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, oldest first (a snapshot)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str, method: str = "POST") -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path and r.method == method]

    def messages_requests(self) -> list[RecordedRequest]:
        """The ``POST /v1/messages`` requests, failed ones included."""
        return self.requests_to("/v1/messages")

    @property
    def files(self) -> dict[str, StoredFile]:
        with self._lock:
            return dict(self._files)

    def add_file(
        self,
        data: bytes,
        filename: str,
        mime_type: str | None = None,
        expires_in_seconds: int | None = None,
    ) -> StoredFile:
        """Store a file as if uploaded through the Files API."""
        mime = mime_type or sniff_media_type(data) or "application/octet-stream"
        now = _now()
        expires = (
            None if expires_in_seconds is None else now + timedelta(seconds=expires_in_seconds)
        )
        stored = StoredFile(new_id("file_"), PurePosixPath(filename).name, mime, data, now, expires)
        with self._lock:
            self._files[stored.id] = stored
        return stored

    def expire_file(self, file_id: str) -> None:
        """Move a file past its expiry (as if its ``expires_in_seconds`` had run out)."""
        with self._lock:
            self._files[file_id] = replace(self._files[file_id], expires_at=_now())

    def max_images_for(self, model: str) -> int:
        return self.model_max_images.get(model, self.default_max_images)

    def model_info(self, name: str) -> dict[str, Any] | None:
        """The model a request names (by id or alias), or None when the list does not hold it."""
        model_id = MODEL_ALIASES.get(name, name)
        return next((m for m in self.models if m["id"] == model_id), None)

    def set_max_side(self, model: str, max_side: int) -> None:
        """Make the API take images of at most ``max_side`` px a side for ``model``."""
        info = self.model_info(model)
        if info is None:
            raise KeyError(model)
        info["max_side"] = max_side

    # -- dispatch -------------------------------------------------------------------------

    def handle(self, request: _Incoming) -> _Reply:
        """Answer one request (called from the server's threads) and record it."""
        request_id = new_id("req_")
        try:
            reply = self._answer(request)
        except ApiError as error:
            reply = _error_reply(error, request_id)
        except Exception as error:  # a bug in the fake: answer like the API, fail the test later
            self.internal_errors.append(
                f"{request.method} {request.path}\n{traceback.format_exc()}"
            )
            reply = _error_reply(ApiError(500, f"fake API crashed: {error!r}"), request_id)
        reply.headers["request-id"] = request_id
        self._record(request, reply, request_id)
        return reply

    def _answer(self, request: _Incoming) -> _Reply:
        if request.too_large:
            raise ApiError(413)
        self._check_auth(request.headers)
        _check_version(request.headers)
        self._raise_injected(request.path)
        if self.delay > 0:
            self._stopping.wait(self.delay)
        if not self._released.is_set():
            with self._lock:
                self.held += 1
            self._released.wait()
        for method, pattern, route in self._routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                return route(request, match)
        raise ApiError(404, f"{request.method} {request.path} is not a Claude API endpoint")

    def _check_auth(self, headers: Mapping[str, str]) -> None:
        key = headers.get("x-api-key") or _bearer_token(headers.get("authorization"))
        if not key:
            raise ApiError(401, "x-api-key header is required")
        if self.expected_api_key is not None and key != self.expected_api_key:
            raise ApiError(401, "invalid x-api-key")

    def _raise_injected(self, path: str) -> None:
        with self._lock:
            self._seen += 1
            for index, failure in enumerate(self._failures):
                if failure.path in (None, path):
                    if failure.times > 1:
                        self._failures[index] = replace(failure, times=failure.times - 1)
                    else:
                        del self._failures[index]
                    raise failure.make()
            if self._every is not None and self._seen % self._every[0] == 0:
                raise self._every[1]()

    def _record(self, request: _Incoming, reply: _Reply, request_id: str) -> None:
        headers = {
            k: v for k, v in request.headers.items() if k not in ("x-api-key", "authorization")
        }
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=request.query,
            headers=headers,
            api_key_given=bool(
                request.headers.get("x-api-key") or request.headers.get("authorization")
            ),
            body=request.summary(),
            body_size=len(request.body),
            status=reply.status,
            request_id=request_id,
            images=reply.images,
            query_pairs=request.query_pairs,
        )
        with self._lock:
            self._requests.append(record)

    # -- image checks ---------------------------------------------------------------------

    def check_message_request(
        self, body: Mapping[str, Any], version: str, *, count_tokens: bool = False
    ) -> list[SeenImage]:
        """Check a Messages body sent under API ``version`` like the API does; the images it
        holds, or ApiError."""
        check_message_shape(body, count_tokens=count_tokens, version=version)
        info = self.model_info(body["model"])
        if info is not None and info["lifecycle"] == "retired":
            raise ApiError(404, f"model: {body['model']}")
        refs = list(image_blocks(body["messages"]))
        strict = [_oversized(ref) == "error" for ref in refs]
        limit = self.max_images_for(body["model"])
        if len(refs) > limit:
            raise invalid(f"Too much media: 0 document pages + {len(refs)} images > {limit}")
        images = [self._inspect_image(ref, base64_only=count_tokens) for ref in refs]
        many = len(refs) > MANY_IMAGES_THRESHOLD
        _check_dimensions(images, MANY_IMAGES_MAX_DIMENSION if many else MAX_DIMENSION)
        if info is not None:
            side = int(info["max_side"])
            over = [im for im, err in zip(images, strict, strict=True) if err]
            _check_dimensions(over, side, error_code_only=True)
        return images

    def _inspect_image(self, ref: _ImageRef, *, base64_only: bool) -> SeenImage:
        source = ref.block.get("source")
        if not isinstance(source, dict):
            raise invalid(f"{ref.field}: Field required")
        kind = source.get("type")
        if kind == "base64":
            return self._inspect_base64(ref, source)
        if base64_only and kind in ("url", "file"):
            raise invalid(f"{ref.field}.{kind}: token counting accepts base64 image sources only")
        if kind == "url":
            return self._inspect_url(ref, source)
        if kind == "file":
            return self._inspect_file(ref, source)
        raise invalid(
            f"{ref.field}: Input tag '{kind}' found using 'type' does not match any of the "
            "expected tags: 'base64', 'url', 'file'"
        )

    def _inspect_base64(self, ref: _ImageRef, source: Mapping[str, Any]) -> SeenImage:
        loc = f"{ref.field}.base64"
        media_type = source.get("media_type")
        if media_type not in MEDIA_TYPES:
            raise invalid(
                f"{loc}.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' "
                "or 'image/webp'"
            )
        data = source.get("data")
        if not isinstance(data, str):
            raise invalid(f"{loc}.data: Input should be a valid string")
        if not data:
            raise invalid(f"{loc}: image cannot be empty")
        if len(data) > self.max_image_bytes:
            raise invalid(
                f"{loc}: image exceeds {_size_label(self.max_image_bytes)} maximum: "
                f"{len(data)} bytes > {self.max_image_bytes} bytes"
            )
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as err:
            raise invalid(f"{loc}: invalid base64 data") from err
        return self._measure(ref, raw, "base64", declared=media_type, field=f"{loc}.data")

    def _inspect_url(self, ref: _ImageRef, source: Mapping[str, Any]) -> SeenImage:
        url = source.get("url")
        if not isinstance(url, str) or not url:
            raise invalid(f"{ref.field}.url.url: Input should be a valid string")
        return SeenImage(ref.path, "url", reference=url, field=f"{ref.field}.url")

    def _inspect_file(self, ref: _ImageRef, source: Mapping[str, Any]) -> SeenImage:
        file_id = source.get("file_id")
        stored = self.files.get(file_id) if isinstance(file_id, str) else None
        if stored is None:
            raise ApiError(404, f"File not found: {file_id}")
        if stored.expired:
            raise invalid(
                f"{ref.field}.file_id: the file {file_id} has expired and its content is no "
                "longer available",
                details={"error_code": "file_expired"},
            )
        image = self._measure(ref, stored.data, "file", field=f"{ref.field}.file")
        return replace(image, reference=stored.id)

    def _measure(
        self, ref: _ImageRef, raw: bytes, kind: str, *, field: str, declared: str | None = None
    ) -> SeenImage:
        actual = sniff_media_type(raw)
        if actual is None:
            raise invalid("Could not process image")
        if declared is not None and actual != declared:
            raise invalid(f"{field}: {self._mismatch(declared, actual)}")
        size = read_dimensions(raw, actual)
        if size is None:
            raise invalid("Could not process image")
        return SeenImage(ref.path, kind, actual, size[0], size[1], field=field, data=raw)

    def _mismatch(self, declared: str, actual: str) -> str:
        if self.mismatch_wording == "current":
            return (
                f"The image was specified using the {declared} media type, but the image "
                f"appears to be a {actual} image"
            )
        return f"Image does not match the provided media type {declared}"

    def _check_openapi(self, request: _Incoming, body: Mapping[str, Any]) -> None:
        if self.openapi is None:
            return
        beta = request.is_beta or _mentions_file_source(body)
        try:
            self.openapi.validate_messages_body(body, request.path + ("?beta=true" if beta else ""))
        except SchemaViolation as err:
            raise invalid(f"request body does not match the OpenAPI description: {err}") from err

    # -- messages -------------------------------------------------------------------------

    def build_message(
        self, body: Mapping[str, Any], images: list[SeenImage], service_tier: str = "standard"
    ) -> dict[str, Any]:
        """The Message the fake answers ``body`` with."""
        text = self.reply_text
        schema = json_schema_of(body)
        if schema is not None:
            text = self._structured_text(schema, images)
        elif text is None:
            text = describe_images(images, prompt_of(body))
        words = text.split()
        stop_reason = "end_turn"
        if len(words) > body["max_tokens"] and schema is None:
            text, stop_reason = " ".join(words[: body["max_tokens"]]), "max_tokens"
        if self._refusing():
            text, stop_reason = REFUSAL_TEXT, "refusal"
        usage = {
            "input_tokens": estimate_input_tokens(body, images),
            "output_tokens": max(1, len(text.split())),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": service_tier,
        }
        return {
            "id": new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": text}],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }

    def _create_message(self, request: _Incoming, _match: re.Match[str]) -> _Reply:
        body = request.json_object()
        images = self.check_message_request(body, request.api_version)
        self._check_openapi(request, body)
        message = self.build_message(body, images)
        if body.get("stream") is not True:
            return replace(_json_reply(message), images=tuple(images))
        with self._lock:
            error = self._stream_failures.pop(0) if self._stream_failures else None
        chunks = stream_events(message, error)
        return _Reply(content_type="text/event-stream", chunks=chunks, images=tuple(images))

    def _count_tokens(self, request: _Incoming, _match: re.Match[str]) -> _Reply:
        body = request.json_object()
        images = self.check_message_request(body, request.api_version, count_tokens=True)
        self._check_openapi(request, body)
        tokens = estimate_input_tokens(body, images)
        return replace(_json_reply({"input_tokens": tokens}), images=tuple(images))

    # -- batches --------------------------------------------------------------------------

    def _create_batch(self, request: _Incoming, _match: re.Match[str]) -> _Reply:
        body = request.json_object()
        items = body.get("requests")
        if not isinstance(items, list):
            raise invalid("requests: Field required")
        if not items:
            raise invalid("requests: List should have at least 1 item after validation, not 0")
        _check_custom_ids(items)
        self._check_openapi(request, body)
        results = [self._batch_result(item, request.api_version) for item in items]
        batch = _Batch(new_id("msgbatch_"), results, self.batch_polls_until_ended)
        with self._lock:
            self._batches[batch.id] = batch
        return _json_reply(batch.to_json(self.base_url))

    def _batch_result(self, item: Mapping[str, Any], version: str) -> dict[str, Any]:
        params = item["params"]
        try:
            images = self.check_message_request(params, version)
        except ApiError as error:
            errored = {"type": "error", "error": error.error_object()}
            return {"custom_id": item["custom_id"], "result": {"type": "errored", "error": errored}}
        message = self.build_message(params, images, service_tier="batch")
        return {"custom_id": item["custom_id"], "result": {"type": "succeeded", "message": message}}

    def _batch(self, batch_id: str) -> _Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"Message batch not found: {batch_id}")
        return batch

    def _list_batches(self, request: _Incoming, _match: re.Match[str]) -> _Reply:
        """The newest first, ``limit`` (1 to 1000, default 20) at a time, paged by
        ``after_id`` (older than it) or ``before_id`` (newer than it)."""
        try:
            limit = int(request.query.get("limit", "20"))
        except ValueError:
            raise invalid("limit: Input should be a valid integer") from None
        if not 1 <= limit <= 1000:
            raise invalid("limit: Input should be between 1 and 1000")
        with self._lock:
            newest = list(reversed(self._batches.values()))  # dicts keep creation order
            ids = [b.id for b in newest]
            after, before = request.query.get("after_id"), request.query.get("before_id")
            if after is not None:
                newest = newest[ids.index(after) + 1 :] if after in ids else []
            elif before is not None:
                newest = newest[: ids.index(before)] if before in ids else []
                newest = newest[-limit:]
            page = [b.to_json(self.base_url) for b in newest[:limit]]
            more = len(newest) > limit
        return _json_reply(
            {
                "data": page,
                "has_more": more,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
            }
        )

    def _retrieve_batch(self, _request: _Incoming, match: re.Match[str]) -> _Reply:
        with self._lock:
            batch = self._batch(match[1])
            batch.poll()
            payload = batch.to_json(self.base_url)
        return _json_reply(payload)

    def _cancel_batch(self, _request: _Incoming, match: re.Match[str]) -> _Reply:
        with self._lock:
            batch = self._batch(match[1])
            batch.cancel()
            payload = batch.to_json(self.base_url)
        return _json_reply(payload)

    def _batch_results(self, _request: _Incoming, match: re.Match[str]) -> _Reply:
        with self._lock:
            batch = self._batch(match[1])
            if batch.status != "ended":
                raise invalid(f"Message batch {batch.id} has not ended; its results are not ready")
            lines = [json.dumps(line) + "\n" for line in batch.results]
        return _Reply(body="".join(lines).encode(), content_type="application/x-jsonlines")

    # -- files ----------------------------------------------------------------------------

    def _upload_file(self, request: _Incoming, _match: re.Match[str]) -> _Reply:
        part = request.form.get("file")
        if part is None:
            raise invalid("file: Field required")
        expires: int | None = None
        field = request.form.get("expires_in_seconds")
        if field is not None:
            try:
                expires = int(field.data)
            except ValueError:
                raise invalid("expires_in_seconds: Input should be a valid integer") from None
            if not FILE_MIN_EXPIRY <= expires <= FILE_MAX_EXPIRY:
                raise invalid(
                    f"expires_in_seconds: Input should be between {FILE_MIN_EXPIRY} and "
                    f"{FILE_MAX_EXPIRY}"
                )
        stored = self.add_file(part.data, part.filename or "unnamed", part.content_type, expires)
        return _json_reply(stored.metadata())

    def _list_models(self, request: _Incoming, _match: re.Match[str]) -> _Reply:
        wanted = request.query_all("lifecycle[]") or ["active", "deprecated"]
        for value in wanted:
            if value not in ("active", "deprecated", "retired"):
                raise invalid("lifecycle.0: Input should be 'active', 'deprecated' or 'retired'")
        try:
            limit = int(request.query.get("limit", "20"))
        except ValueError:
            raise invalid("limit: Input should be a valid integer") from None
        if not 1 <= limit <= 1000:
            raise invalid("limit: Input should be between 1 and 1000")
        listed = [m for m in self.models if m["lifecycle"] in wanted]
        ids = [m["id"] for m in listed]
        after, before = request.query.get("after_id"), request.query.get("before_id")
        if after is not None:
            start = ids.index(after) + 1 if after in ids else len(ids)
            page = listed[start : start + limit]
            more = start + limit < len(listed)
        elif before is not None:
            end = ids.index(before) if before in ids else 0
            page = listed[max(0, end - limit) : end]
            more = end - limit > 0
        else:
            page, more = listed[:limit], len(listed) > limit
        return _json_reply(
            {
                "data": [_public(m) for m in page],
                "has_more": more,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
            }
        )

    def _retrieve_model(self, _request: _Incoming, match: re.Match[str]) -> _Reply:
        info = self.model_info(match[1])
        if info is None:
            raise ApiError(404, f"model: {match[1]}")
        return _json_reply(_public(info))

    def _list_files(self, request: _Incoming, _match: re.Match[str]) -> _Reply:
        """Newest first; ``ids[]`` picks files (one page, unknown ids left out), else ``limit``
        (default 20) per page and ``page`` the cursor (the id after which the page starts)."""
        files = sorted(self.files.values(), key=lambda f: (f.created_at, f.id), reverse=True)
        ids = [value for name, value in request.query_pairs if name in ("ids[]", "ids")]
        if ids:
            if len(set(ids)) > 100:
                raise invalid("ids: at most 100 entries")
            chosen = [f for f in files if f.id in set(ids)]
            return _json_reply({"data": [f.metadata() for f in chosen], "next_page": None})
        limit = int(request.query.get("limit") or 20)
        cursor = request.query.get("page")
        start = 0
        if cursor:
            start = next((n + 1 for n, f in enumerate(files) if f"page_{f.id}" == cursor), 0)
        chosen = files[start : start + limit]
        more = start + limit < len(files)
        next_page = f"page_{chosen[-1].id}" if more and chosen else None
        return _json_reply({"data": [f.metadata() for f in chosen], "next_page": next_page})

    def _delete_file(self, _request: _Incoming, match: re.Match[str]) -> _Reply:
        with self._lock:
            stored = self._files.pop(match[1], None)
        if stored is None:
            raise ApiError(404, f"File not found: {match[1]}")
        return _json_reply({"id": stored.id, "type": "file_deleted"})

    def _file_metadata(self, _request: _Incoming, match: re.Match[str]) -> _Reply:
        stored = self.files.get(match[1])
        if stored is None:
            raise ApiError(404, f"File not found: {match[1]}")
        return _json_reply(stored.metadata())


def _check_version(headers: Mapping[str, str]) -> None:
    version = headers.get("anthropic-version")
    if not version:
        raise invalid("anthropic-version: header is required")
    if version not in KNOWN_API_VERSIONS:
        raise invalid(f"anthropic-version: invalid version {version!r}")


def _public(info: Mapping[str, Any]) -> dict[str, Any]:
    """A ``ModelInfo`` as the API shows it (without the fake's ``max_side``)."""
    return {k: v for k, v in info.items() if k != "max_side"}


def _bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _check_custom_ids(items: list[Any]) -> None:
    seen: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("params"), dict):
            raise invalid(f"requests.{index}.params: Field required")
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not re.fullmatch(CUSTOM_ID_PATTERN, custom_id):
            raise invalid(
                f"requests.{index}.custom_id: String should match pattern '{CUSTOM_ID_PATTERN}'"
            )
        if custom_id in seen:
            raise invalid(f"requests.{index}.custom_id: duplicate custom_id '{custom_id}'")
        seen.add(custom_id)


# --------------------------------------------------------------------------------------------
# The HTTP server


class _Server(ThreadingHTTPServer):
    """Threads per connection; remembers open connections so ``stop`` can close them at once."""

    daemon_threads = True
    #: The listen backlog (socketserver's default is 5): a client opening many connections at
    #: once would otherwise see SYNs dropped and retried a second later.
    request_queue_size = 128

    def __init__(self, fake: FakeClaudeAPI) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client dropping a kept-alive connection (the SDK does, around retries) is normal: no
        traceback on whatever ``sys.stderr`` is at that moment (a CLI test's captured stderr)."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT
    #: TCP_NODELAY, as real servers set it: the headers and the body go out as separate writes,
    #: and with Nagle's algorithm the body waits for the client's delayed ACK (40 ms a request).
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the recorded requests say everything."""

    def _serve(self) -> None:
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            body, too_large = self._read_body(headers, body_limit(url.path))
            pairs = tuple(parse_qsl(url.query))
            request = _Incoming(
                self.command, url.path, dict(pairs), headers, body, too_large, pairs
            )
            self._send(self.server.fake.handle(request))
        except OSError:  # the client went away or a socket timed out
            self.close_connection = True

    def _read_body(self, headers: Mapping[str, str], limit: int) -> tuple[bytes, bool]:
        """The body, or b"" and True when it is over ``limit`` (read and dropped, to answer 413)."""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return self._read_chunked(limit)
        length = int(headers.get("content-length") or 0)
        if length <= limit:
            return self.rfile.read(length), False
        while length > 0 and (chunk := self.rfile.read(min(length, MB))):
            length -= len(chunk)
        return b"", True

    def _read_chunked(self, limit: int) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        total = 0
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            chunk = self.rfile.read(size)
            self.rfile.readline()
            total += size
            if total <= limit:
                chunks.append(chunk)
        while self.rfile.readline().strip():  # trailer headers
            pass
        return (b"", True) if total > limit else (b"".join(chunks), False)

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("content-type", reply.content_type)
        if reply.chunks is None:
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        self.send_header("transfer-encoding", "chunked")
        self.send_header("cache-control", "no-cache")
        self.end_headers()
        for chunk in reply.chunks:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


# --------------------------------------------------------------------------------------------
# OpenAPI validation


class SchemaViolation(ValueError):
    """A request body that the vendored OpenAPI description rejects."""


class OpenApiValidator:
    """Validates request bodies against the vendored OpenAPI description of the Claude API."""

    def __init__(self, spec_file: Path) -> None:
        from openapi_core import Config, OpenAPI
        from openapi_core.validation.request.validators import V31RequestBodyValidator

        started = time.perf_counter()
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
        spec["info"].setdefault("version", "unknown")  # the loader requires it
        add_transformations(spec)
        # The description is third-party data we only read: checking the description itself
        # takes seconds and proves nothing about our requests, so only bodies are validated.
        config = Config(spec_validator_cls=None, request_validator_cls=V31RequestBodyValidator)
        self._api: OpenAPI = OpenAPI.from_dict(spec, config=config)
        #: Seconds the load took (once per session through ``load_openapi_validator``).
        self.load_seconds = time.perf_counter() - started

    def validate_messages_body(self, body: Mapping[str, Any], path: str = "/v1/messages") -> None:
        """Raise SchemaViolation unless ``body`` is a valid POST body for ``path``.

        ``path`` may be ``/v1/messages``, ``/v1/messages/count_tokens``,
        ``/v1/messages/batches`` or a beta form such as ``/v1/messages?beta=true`` (the file
        knows ``file`` image sources only on the beta paths).
        """
        from openapi_core.exceptions import OpenAPIError
        from openapi_core.testing import MockRequest

        request = MockRequest(
            "https://api.anthropic.com", "post", path, data=json.dumps(body).encode()
        )
        try:
            self._api.validate_request(request)
        except OpenAPIError as err:
            raise SchemaViolation(_explain(err)) from err


#: ``transformations`` of an image block as the SDK 2.16 defines it (``ImageTransformationsParam``:
#: an object with one optional key, ``oversized_image``, ``downsize`` or ``error``; null allowed).
TRANSFORMATIONS_SCHEMA: Final = {
    "anyOf": [
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {"oversized_image": {"type": "string", "enum": ["downsize", "error"]}},
        },
        {"type": "null"},
    ],
    "title": "Transformations",
}


def add_transformations(spec: dict[str, Any]) -> None:
    """Teach the vendored description ``transformations`` on image blocks, in memory.

    The vendored file (July 2026) predates the field, and its image blocks forbid any other
    property: without this, every body vision-cli sends would fail validation. Only this one
    field is added, exactly as the SDK types it, so everything else is still checked against
    the file as published."""
    schemas = spec["components"]["schemas"]
    for name in ("RequestImageBlock", "BetaRequestImageBlock"):
        if name in schemas:
            schemas[name]["properties"].setdefault("transformations", TRANSFORMATIONS_SCHEMA)


def _explain(error: Exception) -> str:
    """The most specific schema error behind an openapi-core error, in one short line."""
    # jsonschema ships no type information; its errors are only read here.
    best_match = importlib.import_module("jsonschema.exceptions").best_match
    best = best_match(getattr(error.__cause__, "schema_errors", None) or [])
    if best is None:
        return str(error)[:300]
    where = ".".join(str(part) for part in best.absolute_path) or "body"
    return f"{where}: {best.message[:300]}"


def load_openapi_validator(spec_file: Path = OPENAPI_FILE) -> OpenApiValidator:
    """The validator for ``spec_file``, loaded once per process."""
    return _load_openapi_validator(spec_file.resolve())


@functools.cache
def _load_openapi_validator(spec_file: Path) -> OpenApiValidator:
    return OpenApiValidator(spec_file)


# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def openapi_validator() -> OpenApiValidator:
    """The vendored OpenAPI description, loaded once per session (it is part of the repository:
    a missing file fails the tests that need it)."""
    return load_openapi_validator(OPENAPI_FILE)


@pytest.fixture
def fake_api() -> Iterator[FakeClaudeAPI]:
    """A running fake on 127.0.0.1 (a fresh one per test), stopped and joined afterwards."""
    with FakeClaudeAPI() as fake:
        yield fake
    assert not fake.internal_errors, f"the fake Claude API crashed: {fake.internal_errors}"
