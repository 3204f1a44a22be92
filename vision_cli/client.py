"""Everything that talks to the Claude API, through the official ``anthropic`` SDK.

The only module that imports ``anthropic``, and only inside the functions that send: the SDK takes
over a second to import, and ``inspect``, ``resize`` and ``--help`` never need it.

Three parts:

- **Request building** (pure, plain dicts, no SDK): image blocks with ``base64``, ``url`` or
  ``file`` sources, ``Image N:`` labels, images before the prompt, turns and the request body.
  A body built here is exactly what is sent, so ``--dry-run`` prints it and a Message Batch can
  use it as ``params`` unchanged.
- **Sending**: :func:`make_client`, :func:`stream_message`, :func:`create_message`; every SDK
  exception becomes an :class:`APIFailure` (one line, the API key never in it).
- **Files API**: :func:`upload_file` (with an expiry), :func:`list_files`, :func:`delete_file`
  and :class:`FileCache`, which remembers uploaded ids and their expiry by the SHA-256 of the
  bytes sent, so the same image is never uploaded twice while its upload lasts.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from vision_cli import fsutil

if TYPE_CHECKING:
    import anthropic

    #: The SDK's client, for the annotations of modules that must not import ``anthropic``.
    Anthropic: TypeAlias = anthropic.Anthropic

API_KEY_ENV: Final = "ANTHROPIC_API_KEY"
BASE_URL_ENV: Final = "ANTHROPIC_BASE_URL"
DEFAULT_BASE_URL: Final = "https://api.anthropic.com"
#: The beta that ``file`` image sources and uploads go through (the guide's Files API example).
FILES_BETA: Final = "files-api-2025-04-14"
#: What replaces the API key wherever it might show (it never should).
REDACTED: Final = "[redacted]"

Block = dict[str, Any]
Turn = dict[str, Any]
Body = dict[str, Any]


# --------------------------------------------------------------------------------------------------
# Request building (pure)
# --------------------------------------------------------------------------------------------------


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
    temperature: float | None = None,
    stream: bool = False,
    output_config: Mapping[str, Any] | None = None,
) -> Body:
    """The Messages request body, exactly as it goes over the wire (``stream`` included).
    ``output_config``: structured output (``{"format": {"type": "json_schema", ...}}``)."""
    body: Body = {"model": model, "max_tokens": max_tokens}
    if system:
        body["system"] = system
    if temperature is not None:
        body["temperature"] = temperature
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


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


class SetupError(Exception):
    """The environment cannot reach the API (no key, a base URL that is no URL): raised before
    anything is sent; a usage error, since retrying cannot help."""


class MissingKeyError(SetupError):
    """No API key: raised before anything is sent."""


class BadKeyError(MissingKeyError):
    """An API key that cannot be one (a line break, a space, a control character): raised before
    anything is sent; the message never holds the key."""


#: What to do without an API key (commands that have no ``--dry-run`` say only this).
NO_KEY_MESSAGE: Final = (
    f"{API_KEY_ENV} is not set: export your API key (console.anthropic.com, Settings > API keys)"
)
MISSING_KEY_MESSAGE: Final = (
    f"{NO_KEY_MESSAGE}, or use --dry-run to see the request without sending it"
)


class APIFailure(Exception):
    """An API or network failure, in one line: HTTP status, error type, the API's message, request
    id. ``status`` is None when no answer came (connection refused, timeout)."""

    def __init__(
        self,
        status: int | None,
        type: str,
        message: str,
        request_id: str | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        #: ``error.details.error_code`` of a structured error (``image_dimensions_too_large``,
        #: ``file_expired``).
        self.code = code
        self.details: dict[str, Any] = dict(details or {})
        self.type = type
        self.message = redact(" ".join(message.split()))
        self.request_id = request_id
        #: Seconds the API asked to wait (``retry-after-ms`` or ``retry-after``), if it said.
        self.retry_after = retry_after
        super().__init__(str(self))

    def __str__(self) -> str:
        head = f"HTTP {self.status} {self.type}" if self.status is not None else self.type
        tail = f" (request id {self.request_id})" if self.request_id else ""
        return redact(f"{head}: {self.message}{tail}")

    def as_dict(self) -> dict[str, Any]:
        """``{"type", "status", "message"}``: the ``error`` member of a JSONL result."""
        return {"type": self.type, "status": self.status, "message": self.message}

    @property
    def retryable(self) -> bool:
        """What the SDK retries: no answer, 408, 409, 429 and 5xx (529 included)."""
        return self.status is None or self.status in (408, 409, 429) or self.status >= 500


#: The HTTP status behind each error type, for errors that arrive inside a stream.
_STATUS_OF_TYPE: Final = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def api_failure(exc: BaseException) -> APIFailure:
    """Map any SDK exception (or a network error under it) to an :class:`APIFailure`."""
    import anthropic

    if isinstance(exc, APIFailure):
        return exc
    if isinstance(exc, anthropic.APIStatusError):
        kind = exc.type if isinstance(exc.type, str) else None
        message = exc.api_message if isinstance(exc.api_message, str) else None
        status: int | None = exc.status_code
        if status is not None and status < 400:  # an `event: error` inside a 200 stream
            status = _STATUS_OF_TYPE.get(kind or "")
        details = _details(exc.body)
        code = details.get("error_code")
        return APIFailure(
            status,
            kind or "api_error",
            message or _first_line(exc.message),
            exc.request_id,
            retry_after=_retry_after(exc),
            code=code if isinstance(code, str) else None,
            details=details,
        )
    if isinstance(exc, anthropic.APITimeoutError):
        return APIFailure(
            None,
            "timeout_error",
            f"no answer from {_host(exc)} in time: raise --timeout or try again later",
        )
    if isinstance(exc, anthropic.APIConnectionError):
        cause = exc.__cause__
        reason = f" ({_first_line(str(cause))})" if cause is not None and str(cause) else ""
        return APIFailure(
            None,
            "connection_error",
            f"could not reach the API at {_host(exc)}{reason}: check the network and "
            f"{BASE_URL_ENV}",
        )
    if isinstance(exc, anthropic.APIError):
        return APIFailure(None, "api_error", _first_line(exc.message))
    return APIFailure(None, type(exc).__name__, _first_line(str(exc)) or type(exc).__name__)


def _details(body: Any) -> dict[str, Any]:
    """``error.details`` of an error body (the SDK's ``err.details``, as plain JSON)."""
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    return details if isinstance(details, dict) else {}


def too_large(failure: APIFailure) -> tuple[int, tuple[str, ...]] | None:
    """``(max_side_length_pixels, paths)`` of an ``image_dimensions_too_large`` 400, else None."""
    if failure.code != IMAGE_TOO_LARGE:
        return None
    edge = failure.details.get("max_side_length_pixels")
    paths = failure.details.get("paths")
    if not isinstance(edge, int) or edge < 1 or not isinstance(paths, list):
        return None
    return edge, tuple(p for p in paths if isinstance(p, str))


def _retry_after(exc: Any) -> float | None:
    """The wait an error answer asked for, in seconds (``retry-after-ms`` first, as the SDK)."""
    try:
        headers = exc.response.headers
    except AttributeError:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            value = float(headers.get(name)) / scale
        except (TypeError, ValueError):
            continue
        if value >= 0:
            return value
    return None


def _host(exc: Any) -> str:
    try:
        url = exc.request.url
        return f"{url.scheme}://{url.netloc.decode()}"
    except Exception:
        return base_url()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def api_key() -> str | None:
    key = os.environ.get(API_KEY_ENV, "").strip()
    return key or None


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be an API key, in words that never quote it; None when it can be.

    A key is one HTTP header value: visible ASCII, no spaces. What goes wrong is a pasted
    ``.env`` line (a line break and the next setting, or ``NAME=`` in front) or a stray quote.
    """
    if key.startswith(f"{API_KEY_ENV}="):
        return (
            f"{API_KEY_ENV} holds its own name too (a pasted .env line?): set it to the key alone"
        )
    for char in key:
        if char in "\r\n":
            return (
                f"{API_KEY_ENV} holds a line break (a pasted .env line?): set it to the key "
                "alone, on one line"
            )
        if char.isspace():
            return f"{API_KEY_ENV} holds a space: set it to the key alone"
        if not "!" <= char <= "~":
            return (
                f"{API_KEY_ENV} holds a control or non-ASCII character (U+{ord(char):04X}): set it "
                "to the key alone, as the Console shows it"
            )
    return None


def check_key() -> str:
    """The API key, checked before anything is sent: :class:`MissingKeyError` when none is set,
    :class:`BadKeyError` when it cannot be one."""
    key = api_key()
    if key is None:
        raise MissingKeyError(MISSING_KEY_MESSAGE)
    problem = key_problem(key)
    if problem:
        raise BadKeyError(problem)
    return key


def check_setup() -> str:
    """The API key (:func:`check_key`), and a base URL that is a URL (:class:`SetupError`),
    checked before anything is sent."""
    key = check_key()
    problem = base_url_problem()
    if problem is not None:
        raise SetupError(problem)
    return key


def base_url_problem() -> str | None:
    """What is wrong with ``ANTHROPIC_BASE_URL`` (a scheme or host missing), or None."""
    from urllib.parse import urlsplit

    raw = os.environ.get(BASE_URL_ENV, "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme in ("http", "https") and parts.netloc:
        return None
    example = f"http://{raw}" if "://" not in raw else "https://api.example.com"
    return (
        f"{BASE_URL_ENV}={raw!r} is not a URL: it needs a scheme (http:// or https://) and a "
        f"host, e.g. {example}"
    )


def base_url() -> str:
    return (os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")


#: The shortest piece of the key's start that is hidden wherever it appears. Longer than the
#: ``sk-ant-api03-`` every key shares, so that naming the kind of key is not a leak.
_KEY_PREFIX: Final = 16
#: ``user:password@`` in a URL (a proxy's or a gateway's credentials).
_USERINFO: Final = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")


def _key_forms(key: str) -> set[str]:
    """The key as messages may show it: raw, escaped as Python or JSON does, and each piece of a
    key that holds line breaks or spaces (a pasted ``NAME=`` in front is not secret)."""
    key = key.removeprefix(f"{API_KEY_ENV}=")
    forms = {key, repr(key)[1:-1], json.dumps(key)[1:-1], repr(key.encode("utf-8"))[2:-1]}
    forms.update(piece for piece in key.split() if len(piece) >= 8)
    return {form for form in forms if len(form) >= 4}


def _hide(text: str, form: str) -> str:
    """``text`` with ``form`` and every piece of its start (at least :data:`_KEY_PREFIX`
    characters, or the whole of a shorter form) replaced."""
    head = form[: min(len(form), _KEY_PREFIX)]
    pieces: list[str] = []
    at = 0
    while (start := text.find(head, at)) >= 0:
        end = start + len(head)
        while end < len(text) and end - start < len(form) and text[end] == form[end - start]:
            end += 1
        pieces += [text[at:start], REDACTED]
        at = end
    return "".join([*pieces, text[at:]])


def redact(text: str) -> str:
    """``text`` without the API key in any form (raw, escaped, cut short) and without the
    credentials of any URL: neither may reach any output."""
    key = api_key()
    if key and len(key) >= 4:
        for form in sorted(_key_forms(key), key=len, reverse=True):
            text = _hide(text, form)
    return _USERINFO.sub(rf"\1{REDACTED}@", text)


class _RedactingFilter(logging.Filter):
    """Removes the API key from the SDK's and httpx2's log records (``ANTHROPIC_LOG=debug``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = redact(message)
        if hidden != message:
            record.msg = hidden
            record.args = None
        return True


_FILTER: Final = _RedactingFilter()


def _guard_logs() -> None:
    for name in ("anthropic", "httpx2", "httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


# --------------------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------------------


def make_client(
    *, max_retries: int = 2, timeout: float | None = None, middleware: Sequence[Any] = ()
) -> anthropic.Anthropic:
    """A client for ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL``.

    Raises :class:`MissingKeyError` (message starting ``ANTHROPIC_API_KEY is not set``) before
    anything is sent. The key is passed explicitly, so the SDK never falls back to profiles or
    other credentials on disk. ``timeout`` None keeps the SDK's default. ``middleware``: the
    SDK's middleware callables ``(request, call_next) -> response``, run once per HTTP attempt
    (retries included); ``ask --each`` paces and watches its requests with one.
    """
    key = check_setup()
    import anthropic

    _guard_logs()
    # The SDK warns about deprecated model names through `warnings`; the model table knows them.
    warnings.filterwarnings(
        "ignore", message="The model .* is deprecated", category=DeprecationWarning
    )
    options: dict[str, Any] = {}
    if timeout is not None:
        options["timeout"] = timeout
    if middleware:
        options["middleware"] = list(middleware)
    return anthropic.Anthropic(
        api_key=key,
        base_url=os.environ.get(BASE_URL_ENV) or None,
        max_retries=max_retries,
        **options,
    )


@dataclass(frozen=True)
class Reply:
    """What the API answered: the text and the usage it reported."""

    id: str
    model: str
    text: str
    stop_reason: str | None
    input_tokens: int
    output_tokens: int


#: Body members passed to the SDK's methods by name; everything else goes in ``extra_body``
#: (``temperature``: the 2.x methods have no such argument).
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


def _reply(message: Any) -> Reply:
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
        return _reply(message)
    except Exception as exc:
        raise api_failure(exc) from None


def stream_message(
    client: anthropic.Anthropic, body: Mapping[str, Any], on_text: Callable[[str], None]
) -> Reply:
    """Send ``body`` as a stream, calling ``on_text`` with each piece of text as it arrives.
    Raises :class:`APIFailure` (also when the stream breaks after it started)."""
    try:
        with _messages_resource(client, body).stream(**call_arguments(body)) as stream:
            for text in stream.text_stream:
                on_text(text)
            return _reply(stream.get_final_message())
    except Exception as exc:
        raise api_failure(exc) from None


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


# --------------------------------------------------------------------------------------------------
# Models API
# --------------------------------------------------------------------------------------------------

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
        listed = [info.model_dump(mode="json") for info in page]
    except Exception as exc:
        raise api_failure(exc) from None
    return [{name: info.get(name) for name in MODEL_FIELDS} for info in listed]


# --------------------------------------------------------------------------------------------------
# Message Batches
# --------------------------------------------------------------------------------------------------

#: The ``request_counts`` members of a batch that mean "done with" (the rest is ``processing``).
BATCH_DONE_COUNTS: Final = ("succeeded", "errored", "canceled", "expired")


@dataclass(frozen=True)
class BatchStatus:
    """What the API says about a Message Batch."""

    id: str
    processing_status: str  # in_progress, canceling or ended
    counts: Mapping[str, int]
    created_at: datetime | None = None

    @property
    def total(self) -> int:
        """Requests in the batch, whatever became of them."""
        return sum(int(n) for n in self.counts.values())

    @property
    def ended(self) -> bool:
        return self.processing_status == "ended"

    @property
    def done(self) -> int:
        """Requests the API is done with (answered, errored, canceled or expired)."""
        return sum(int(self.counts.get(name, 0)) for name in BATCH_DONE_COUNTS)


@dataclass(frozen=True)
class BatchResult:
    """One line of a batch's results: ``reply`` when it succeeded, else ``error``."""

    custom_id: str
    type: str  # succeeded, errored, canceled or expired
    reply: Reply | None = None
    error: APIFailure | None = None


def _batch_status(batch: Any) -> BatchStatus:
    counts = batch.request_counts
    names = ("processing", *BATCH_DONE_COUNTS)
    return BatchStatus(
        id=str(batch.id),
        processing_status=str(batch.processing_status),
        counts={name: int(getattr(counts, name, 0) or 0) for name in names},
        created_at=getattr(batch, "created_at", None),
    )


def list_batches(client: anthropic.Anthropic, since: datetime) -> list[BatchStatus]:
    """Every batch of the workspace created at or after ``since`` (the API lists the newest
    first, so the walk stops at the first older one). APIFailure."""
    found: list[BatchStatus] = []
    try:
        for batch in client.messages.batches.list(limit=100):
            status = _batch_status(batch)
            if status.created_at is not None and status.created_at < since:
                break
            found.append(status)
    except Exception as exc:
        raise api_failure(exc) from None
    return found


def create_batch(client: anthropic.Anthropic, requests: Sequence[Mapping[str, Any]]) -> BatchStatus:
    """Submit ``requests`` (``{"custom_id", "params"}`` each) as one Message Batch. APIFailure.

    The caller decides about retries: a create that timed out may still have been made, and
    making it twice would pay for every request twice."""
    payload: Any = [dict(request) for request in requests]  # plain dicts, not the SDK's types
    try:
        batch = client.messages.batches.create(requests=payload)
    except Exception as exc:
        raise api_failure(exc) from None
    return _batch_status(batch)


def retrieve_batch(client: anthropic.Anthropic, batch_id: str) -> BatchStatus:
    """The batch's status and counts. Raises :class:`APIFailure`."""
    try:
        return _batch_status(client.messages.batches.retrieve(batch_id))
    except Exception as exc:
        raise api_failure(exc) from None


def batch_results(client: anthropic.Anthropic, batch_id: str) -> Iterator[BatchResult]:
    """The results of an ended batch, as they stream in from its ``results_url``. APIFailure
    (also when the download breaks in the middle)."""
    try:
        for line in client.messages.batches.results(batch_id):
            yield _batch_result(line)
    except APIFailure:
        raise
    except Exception as exc:
        raise api_failure(exc) from None


def _batch_result(line: Any) -> BatchResult:
    result = line.result
    kind = str(result.type)
    if kind == "succeeded":
        return BatchResult(line.custom_id, kind, reply=_reply(result.message))
    if kind == "errored":
        error = result.error.error
        error_type = str(getattr(error, "type", "") or "api_error")
        message = str(getattr(error, "message", "") or error_type)
        status = _STATUS_OF_TYPE.get(error_type)
        raw = error.model_dump() if hasattr(error, "model_dump") else {}
        details = _details({"error": raw})
        code = details.get("error_code")
        failure = APIFailure(
            status,
            error_type,
            message,
            code=code if isinstance(code, str) else None,
            details=details,
        )
        return BatchResult(line.custom_id, kind, error=failure)
    why = {
        "canceled": "the batch was canceled before this request was processed",
        "expired": "the batch expired (24 hours) before this request was processed",
    }.get(kind, f"the batch gave no answer for this request ({kind})")
    return BatchResult(line.custom_id, kind, error=APIFailure(None, kind, why))


# --------------------------------------------------------------------------------------------------
# Files API
# --------------------------------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class RemoteFile:
    """What the Files API says about one file."""

    id: str
    filename: str
    bytes: int
    created_at: datetime | None
    expires_at: datetime | None


def _remote_file(meta: Any) -> RemoteFile:
    return RemoteFile(
        id=str(meta.id),
        filename=str(meta.filename),
        bytes=int(meta.size_bytes),
        created_at=meta.created_at,
        expires_at=getattr(meta, "expires_at", None),
    )


def upload_file(
    client: anthropic.Anthropic,
    data: bytes,
    *,
    filename: str,
    media_type: str,
    expires_in_seconds: int | None = None,
) -> RemoteFile:
    """Upload ``data`` through the Files API, to expire after ``expires_in_seconds`` (None: never,
    as the API decides). Raises :class:`APIFailure`."""
    options: dict[str, Any] = {}
    if expires_in_seconds is not None:
        options["expires_in_seconds"] = expires_in_seconds
    try:
        meta = client.beta.files.upload(
            file=(filename, data, media_type), betas=[FILES_BETA], **options
        )
    except Exception as exc:
        raise api_failure(exc) from None
    return _remote_file(meta)


def list_files(client: anthropic.Anthropic, file_ids: Iterable[str]) -> dict[str, RemoteFile]:
    """The files among ``file_ids`` that the API still has, by id (deleted ones are left out).
    Raises :class:`APIFailure`."""
    from vision_cli import limits

    wanted = sorted(set(file_ids))
    found: dict[str, RemoteFile] = {}
    step = limits.FILE_LIST_MAX_IDS
    try:
        for start in range(0, len(wanted), step):
            page = client.beta.files.list(ids=wanted[start : start + step], betas=[FILES_BETA])
            for meta in page.data:
                found[str(meta.id)] = _remote_file(meta)
    except Exception as exc:
        raise api_failure(exc) from None
    return found


def delete_file(client: anthropic.Anthropic, file_id: str) -> bool:
    """Delete a file: True when deleted, False when the API did not have it (any more).
    Raises :class:`APIFailure` for anything else."""
    try:
        client.beta.files.delete(file_id, betas=[FILES_BETA])
    except Exception as exc:
        failure = api_failure(exc)
        if failure.status == 404:
            return False
        raise failure from None
    return True


def expired(moment: datetime | None, *, margin: float = 0.0) -> bool:
    """Whether ``moment`` (an expiry) is past, or within ``margin`` seconds of now."""
    return moment is not None and moment.timestamp() <= datetime.now(UTC).timestamp() + margin


@dataclass(frozen=True)
class CachedUpload:
    """One upload vision-cli remembers (for this endpoint)."""

    sha256: str
    file_id: str
    filename: str
    media_type: str
    bytes: int
    uploaded_at: datetime | None
    expires_at: datetime | None


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


class FileCache:
    """Uploaded file ids by the SHA-256 of the bytes sent, per API endpoint, in one JSON file.

    Each entry records when the upload expires; an entry within :attr:`EXPIRY_MARGIN` seconds of
    its expiry counts as gone, so a request never starts with a file about to disappear.

    Written atomically (a temporary file in the same folder, then a rename), and merged with what
    is on disk at each write, so concurrent runs lose nothing but a race on the same image. An
    unreadable or damaged cache counts as empty; one that cannot be written is left alone.
    """

    FILENAME: Final = "files.json"
    EXPIRY_MARGIN: Final = 300.0

    def __init__(self, path: Path | None = None, *, endpoint: str | None = None) -> None:
        self.path = path or fsutil.cache_dir() / self.FILENAME
        self.endpoint = (endpoint or base_url()).rstrip("/")
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        files = doc.get("files") if isinstance(doc, dict) else None
        return files if isinstance(files, dict) else {}

    def get(self, digest: str) -> str | None:
        """The file id uploaded for these bytes, unless it has expired (or is about to)."""
        entry = self._read().get(digest, {}).get(self.endpoint)
        if not isinstance(entry, dict):
            return None
        upload = self._entry(digest, entry)
        if upload is None or expired(upload.expires_at, margin=self.EXPIRY_MARGIN):
            return None
        return upload.file_id

    def entries(self) -> list[CachedUpload]:
        """Every upload remembered for this endpoint, oldest first."""
        found = []
        for digest, endpoints in self._read().items():
            entry = endpoints.get(self.endpoint) if isinstance(endpoints, dict) else None
            upload = self._entry(digest, entry) if isinstance(entry, dict) else None
            if upload is not None:
                found.append(upload)
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(found, key=lambda u: u.uploaded_at or epoch)  # stable: upload order

    @staticmethod
    def _entry(digest: str, entry: dict[str, Any]) -> CachedUpload | None:
        file_id = entry.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            return None
        size = entry.get("bytes")
        return CachedUpload(
            sha256=digest,
            file_id=file_id,
            filename=str(entry.get("filename") or ""),
            media_type=str(entry.get("media_type") or ""),
            bytes=size if isinstance(size, int) else 0,
            uploaded_at=_moment(entry.get("uploaded_at")),
            expires_at=_moment(entry.get("expires_at")),
        )

    def put(
        self,
        digest: str,
        file_id: str,
        *,
        media_type: str,
        size: int,
        filename: str = "",
        expires_at: datetime | None = None,
    ) -> bool:
        """Remember an upload; False when the cache could not be written."""
        entry = {
            "file_id": file_id,
            "filename": filename,
            "media_type": media_type,
            "bytes": size,
            "uploaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "expires_at": expires_at.isoformat(timespec="seconds") if expires_at else None,
        }
        return self._update(
            lambda files: files.setdefault(digest, {}).__setitem__(self.endpoint, entry)
        )

    def forget(self, file_ids: Iterable[str]) -> bool:
        """Drop entries for these ids (the API no longer knows them)."""
        gone = set(file_ids)

        def drop(files: dict[str, Any]) -> None:
            for digest, endpoints in list(files.items()):
                entry = endpoints.get(self.endpoint) if isinstance(endpoints, dict) else None
                if isinstance(entry, dict) and entry.get("file_id") in gone:
                    del endpoints[self.endpoint]
                    if not endpoints:
                        del files[digest]

        return self._update(drop)

    def _update(self, change: Callable[[dict[str, Any]], None]) -> bool:
        with self._lock:
            files = self._read()
            change(files)
            try:
                fsutil.write_text(self.path, json.dumps({"version": 1, "files": files}, indent=1))
            except OSError:
                return False
            return True
