"""Errors: :class:`SetupError` (raised before anything is sent) and :class:`APIFailure`, the
one-line form (status, error type, message, request id, never the key) of every SDK exception.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from vision_cli import limits
from vision_cli.client.bodies import IMAGE_TOO_LARGE
from vision_cli.client.keys import API_KEY_ENV, BASE_URL_ENV, base_url, redact

if TYPE_CHECKING:
    pass


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
        return redact(f"{head}: {self.message}{tail}{self.hint}")

    def with_message(self, message: str) -> APIFailure:
        """The same failure saying ``message`` (its status, type, request id, code and details
        kept): more words about where it happened."""
        return APIFailure(
            self.status,
            self.type,
            message,
            self.request_id,
            self.retry_after,
            self.code,
            self.details,
        )

    @property
    def hint(self) -> str:
        """What to do, when the failure says it: a 404 ``model: NAME`` is most often a model
        retired since vision-cli's table (or the last refresh) was made."""
        if self.status == 404 and _UNKNOWN_MODEL.fullmatch(self.message):
            return (
                ". The model may have been retired: `vision-cli models --refresh` asks the API "
                "which models it serves"
            )
        return ""

    def as_dict(self) -> dict[str, Any]:
        """``{"type", "status", "message"}``: the ``error`` member of a JSONL result."""
        return {"type": self.type, "status": self.status, "message": self.message}

    @property
    def retryable(self) -> bool:
        """What the SDK retries: no answer, 408, 409, 429 and 5xx (529 included)."""
        return self.status is None or self.status in (408, 409, 429) or self.status >= 500


def describe(error: Mapping[str, Any]) -> str:
    """The ``error`` of a results line in one line: an API or network failure as
    :class:`APIFailure` says it (``HTTP 529 overloaded_error: Overloaded``, the way ``ask``
    prints it; the line keeps no request id), any other (preflight, ``schema_mismatch``) as its
    message."""
    kind, status, message = error.get("type"), error.get("status"), error.get("message")
    text = str(message) if message is not None else ""
    if isinstance(kind, str) and (type(status) is int or kind in _NO_ANSWER_TYPES):
        return str(APIFailure(status if type(status) is int else None, kind, text))
    return redact(text)


#: The API's message for a model it does not serve (a 404 ``not_found_error``).
_UNKNOWN_MODEL: Final = re.compile(r"model: \S+")

#: The error types of a request that got no answer at all (no HTTP status).
_NO_ANSWER_TYPES: Final = frozenset({"connection_error", "timeout_error"})

#: The HTTP status behind each error type, for errors that arrive inside a stream.
STATUS_OF_TYPE: Final = {
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
            status = STATUS_OF_TYPE.get(kind or "")
        details = error_details(exc.body)
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
    # The HTTP library's own errors, raised while a streamed answer is read (the SDK wraps only
    # those raised before the answer starts): the connection broke or stalled mid-answer
    timeouts, transport = _transport_errors()
    if isinstance(exc, timeouts):
        return APIFailure(
            None,
            "timeout_error",
            f"the answer from {_host(exc)} stopped coming in time: raise --timeout or try again "
            "later",
        )
    if isinstance(exc, transport):
        reason = f" ({_first_line(str(exc))})" if str(exc).strip() else ""
        return APIFailure(
            None,
            "connection_error",
            f"the connection to the API at {_host(exc)} broke during the answer{reason}: check "
            f"the network and {BASE_URL_ENV}, and try again",
        )
    return APIFailure(None, type(exc).__name__, _first_line(str(exc)) or type(exc).__name__)


def _transport_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """The timeout and transport error classes of the HTTP libraries loaded: ``httpx2``, which
    the SDK sends with, and ``httpx`` (the ones not imported cannot have raised)."""
    timeouts: list[type[BaseException]] = []
    transport: list[type[BaseException]] = []
    for name in ("httpx2", "httpx"):
        module = sys.modules.get(name)
        if module is not None:
            timeouts.append(module.TimeoutException)
            transport.append(module.TransportError)
    return tuple(timeouts), tuple(transport)


def error_details(body: Any) -> dict[str, Any]:
    """``error.details`` of an error body (the SDK's ``err.details``, as plain JSON)."""
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    return details if isinstance(details, dict) else {}


def too_large(failure: APIFailure) -> tuple[int, tuple[str, ...]] | None:
    """``(max_side_length_pixels, paths)`` of an ``image_dimensions_too_large`` 400, else None
    (also when the edge is below :data:`~vision_cli.limits.MIN_USEFUL_DIMENSION`: no model sees
    images that small, and shrinking to it, and remembering it for every later run, would send
    thumbnails; the API's error is then reported as it is)."""
    if failure.code != IMAGE_TOO_LARGE:
        return None
    edge = failure.details.get("max_side_length_pixels")
    paths = failure.details.get("paths")
    if not isinstance(edge, int) or isinstance(edge, bool) or not isinstance(paths, list):
        return None
    if edge < limits.MIN_USEFUL_DIMENSION:
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
