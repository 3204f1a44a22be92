"""What a bulk run did, and its progress as it goes: shared by ``--each`` and ``--batch``.

No output of its own: progress goes to a callback (:data:`Progress`, given a :class:`Tick`),
notes to another (:data:`Note`), and the CLI renders them and the :class:`EachSummary`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vision_cli.client import failures, messages


@dataclass
class EachSummary:
    """What a run did. ``pending``: images neither answered nor failed when it ended (not
    started when interrupted, or waiting in a batch)."""

    images: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    pending: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    #: Images to send in this run (the progress bar's total).
    to_send: int = 0
    interrupted: bool = False
    #: The API failure that stopped the whole run (exit 3).
    stopped: failures.APIFailure | None = None
    #: The results file could not be written (the run stopped).
    write_error: str | None = None
    #: The reader of standard output (the results) went away: the run stopped quietly.
    stdout_closed: bool = False
    batches: list[str] = field(default_factory=list)
    #: Images not submitted because the model was retired (``ask --batch`` collected the
    #: batches submitted before, then refused to submit these): counted in ``pending``.
    refused: int = 0
    #: Images held back by ``ask --each`` because they wait in a batch of the same results
    #: file: counted in ``pending``.
    in_batches: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def done(self) -> int:
        return self.succeeded + self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "skipped": self.skipped,
            "pending": self.pending,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost_usd, 10),
            "interrupted": self.interrupted,
            "stopped": str(self.stopped or self.write_error) if self.failed_run else None,
        }

    @property
    def failed_run(self) -> bool:
        return self.stopped is not None or self.write_error is not None


@dataclass(frozen=True)
class Tick:
    """What a progress bar shows: requests done of ``total``, failures, tokens and cost so far."""

    done: int
    total: int
    failed: int
    tokens: int
    cost_usd: float

    @classmethod
    def of(cls, summary: EachSummary, done: int | None = None, total: int | None = None) -> Tick:
        return cls(
            summary.done if done is None else done,
            summary.to_send if total is None else total,
            summary.failed,
            summary.tokens,
            summary.cost_usd,
        )


Progress = Callable[[Tick], None]
Note = Callable[[str], None]


def nothing(_: Any) -> None:
    """The default progress and note: say nothing."""


class EachTally:
    """The summary, updated from many threads."""

    def __init__(self, summary: EachSummary) -> None:
        self.summary = summary
        self.lock = threading.Lock()

    def failure(self) -> None:
        with self.lock:
            self.summary.failed += 1

    def answered(self, record: Mapping[str, Any], reply: messages.Reply) -> None:
        """An answer's line was written: a success, or a paid-for failure (``schema_mismatch``)."""
        with self.lock:
            if record["error"] is None:
                self.summary.succeeded += 1
            else:
                self.summary.failed += 1
            s = self.summary
            s.input_tokens += reply.input_tokens
            s.output_tokens += reply.output_tokens
            s.cost_usd += float(record["cost_usd"])
