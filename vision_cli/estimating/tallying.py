"""Totals over all rows of an estimate: :class:`EstimateTotals` and the :class:`EstimateTally` that
adds rows as they come.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vision_cli.estimating.costing import EstimatePlan, EstimateRow

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class EstimateTotals:
    """The summary of an estimate: sums over the priced rows."""

    rows: int  # every row, errors included
    count: int  # rows priced
    errors: int  # rows with an error finding (listed, not priced)
    tokens: int  # first model's tokens, summed
    costs: tuple[float, ...]  # per model, summed
    exact_tokens: int | None = None
    exact_skipped: int = 0
    #: First model: the tokens with ``--snap``, and (``--tile``) whole.
    snap_tokens: int = 0
    whole_tokens: int = 0
    #: First model, ``--trim``: the tokens without trimming, and how many images had a border.
    untrimmed_tokens: int = 0
    trimmed: int = 0

    def costs_per(self, plan: EstimatePlan) -> tuple[float, ...]:
        """Per model: the average priced image times N (0 when nothing was priced)."""
        if not self.count:
            return tuple(0.0 for _ in self.costs)
        return tuple(plan.per_n(c / self.count) for c in self.costs)

    def as_dict(self, plan: EstimatePlan) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "count": self.count,
            "tokens": self.tokens,
            "rule": plan.rule,
            "batch": plan.batch,
            "per": plan.per,
            "costs": dict(zip(plan.names, self.costs, strict=True)),
            "costs_per": dict(zip(plan.names, self.costs_per(plan), strict=True)),
            "prices_date": plan.prices_date,
        }
        if plan.exact:
            doc["exact_tokens"] = self.exact_tokens
        if plan.tile is not None:
            doc["whole_tokens"] = self.whole_tokens
        if plan.trim_fuzz is not None:
            doc["untrimmed_tokens"] = self.untrimmed_tokens
            doc["trimmed"] = self.trimmed
        return doc


@dataclass
class EstimateTally:
    """Running totals, kept as rows stream past (nothing holds every row)."""

    plan: EstimatePlan
    rows: int = 0
    count: int = 0
    errors: int = 0
    tokens: int = 0
    costs: list[float] = field(default_factory=list)
    exact_tokens: int | None = None
    exact_skipped: int = 0
    snap_tokens: int = 0
    whole_tokens: int = 0
    untrimmed_tokens: int = 0
    trimmed: int = 0

    def __post_init__(self) -> None:
        self.costs = [0.0 for _ in self.plan.models]

    def add(self, row: EstimateRow) -> None:
        self.rows += 1
        if row.errors:
            self.errors += 1
        if row.costs:
            self.count += 1
            first = row.costs[0]
            self.tokens += first.tokens
            self.snap_tokens += first.tokens if first.snap_tokens is None else first.snap_tokens
            self.whole_tokens += first.tokens if first.whole_tokens is None else first.whole_tokens
            untrimmed = row.untrimmed_tokens
            self.untrimmed_tokens += first.tokens if untrimmed is None else untrimmed
            self.trimmed += row.trim is not None
            for i, c in enumerate(row.costs):
                self.costs[i] += c.usd
        if row.exact_tokens is not None:
            self.exact_tokens = (self.exact_tokens or 0) + row.exact_tokens
        elif self.plan.exact:
            self.exact_skipped += 1

    def totals(self) -> EstimateTotals:
        return EstimateTotals(
            self.rows,
            self.count,
            self.errors,
            self.tokens,
            tuple(self.costs),
            self.exact_tokens,
            self.exact_skipped,
            self.snap_tokens,
            self.whole_tokens,
            self.untrimmed_tokens,
            self.trimmed,
        )


def total(rows: Iterable[EstimateRow], plan: EstimatePlan) -> EstimateTotals:
    tally = EstimateTally(plan)
    for row in rows:
        tally.add(row)
    return tally.totals()
