"""Message Batches: create, list, retrieve, and read results."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from vision_cli.client.failures import STATUS_OF_TYPE, APIFailure, api_failure, error_details
from vision_cli.client.messages import Reply, reply_from

if TYPE_CHECKING:
    import anthropic

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
        return BatchResult(line.custom_id, kind, reply=reply_from(result.message))
    if kind == "errored":
        error = result.error.error
        error_type = str(getattr(error, "type", "") or "api_error")
        message = str(getattr(error, "message", "") or error_type)
        status = STATUS_OF_TYPE.get(error_type)
        raw = error.model_dump() if hasattr(error, "model_dump") else {}
        details = error_details({"error": raw})
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
