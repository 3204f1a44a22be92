"""The core of ``estimate``: tokens and dollars per image, per model, before anything is sent.

Pure except for :func:`materialize` (which reads URL and standard-input images into files so the
exact count can send the same bytes that were checked) and :func:`count_exact` (which runs a
counting function over threads). The arithmetic is deliberately simple so that it can be pinned
down by property tests: an image's cost for a model is

    (tokens x input price + output tokens x output price) / 1,000,000 x (0.5 with --batch)

with each image taken as its own request, and the "per N" figure is that cost times N.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from vision_cli import catalog, judging, limits, policy, sources, tiling
from vision_cli.judging import Finding

if TYPE_CHECKING:
    from vision_cli.inspecting import Record

#: Token-counting requests in flight at once with ``--exact``.
EXACT_WORKERS: Final = 4
DEFAULT_PER: Final = 1000


class PlanError(ValueError):
    """Options that cannot be priced (a usage error); ``param`` names the option at fault."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


# --------------------------------------------------------------------------------------------------
# Models and prices
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceSpec:
    """One ``--price [MODEL=]INPUT[/OUTPUT]``: USD per million tokens."""

    model: str | None
    input: float
    output: float | None = None


def _usd_per_mtok(text: str, whole: str) -> float:
    t = text.strip().removeprefix("$").replace(",", "")
    try:
        value = float(t)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise PlanError(
            f"{whole!r} is not a price: use INPUT[/OUTPUT] in USD per million tokens, e.g. 3/15 "
            "or MODEL=3/15",
            "--price",
        )
    return value


def parse_price(text: str) -> PriceSpec:
    """Parse ``3``, ``3/15``, ``$0.10/$0.50`` or ``claude-x=3/15``. Raises :class:`PlanError`."""
    model: str | None = None
    body = text
    if "=" in text:
        model, _, body = text.partition("=")
        model = model.strip()
        if not model:
            raise PlanError(f"{text!r} names no model before '='", "--price")
    inp, sep, out = body.partition("/")
    return PriceSpec(
        model,
        _usd_per_mtok(inp, text),
        _usd_per_mtok(out, text) if sep else None,
    )


@dataclass(frozen=True)
class PricedModel:
    """A model as this estimate prices it: a column of the table."""

    name: str  # the column name: as given with --model, else the short alias or id
    tier: policy.Tier
    input_price: float  # USD per million input tokens
    output_price: float | None  # USD per million output tokens (None: not known, not needed)
    known: bool = True  # in the price table
    overridden: bool = False  # its prices come from --price
    #: Haiku 5.5's step: the whole request at other prices above so many input tokens.
    long_context: catalog.LongContext | None = None
    #: The model's entry (None when only --price knows it): lifecycle, where its facts came from.
    model: catalog.Model | None = None

    def prices(self, input_tokens: int) -> tuple[float, float | None]:
        """Input and output USD per million tokens for a request of ``input_tokens``."""
        step = self.long_context
        if step is not None and input_tokens > step.over_input_tokens:
            return step.input_price, step.output_price
        return self.input_price, self.output_price


def _lookup(cat: catalog.Catalog, name: str) -> catalog.Model | None:
    try:
        return cat.get(name)
    except KeyError:
        return None


def _same_model(cat: catalog.Catalog, a: str, b: str) -> bool:
    """Two names of one model: equal, or an id and an alias of the same table entry."""
    if a == b:
        return True
    ma, mb = _lookup(cat, a), _lookup(cat, b)
    return ma is not None and mb is not None and ma.id == mb.id


def choose_models(
    names: Sequence[str],
    *,
    all_models: bool = False,
    prices: Sequence[PriceSpec] = (),
    tier: str | None = None,
    output_tokens: int = 0,
    cat: catalog.Catalog | None = None,
    include_retired: bool = False,
) -> tuple[PricedModel, ...]:
    """The models to price, in order: those named, then (``all_models``) every active one that
    has a price (or is given one), every model with ``include_retired``.

    ``--price`` pairs with models like this: ``MODEL=IN/OUT`` prices that model (which must be
    one of the chosen ones, by id or alias), and a bare ``IN/OUT`` prices the only model when
    exactly one is chosen. A model missing from the table is usable only with a price; it gets
    ``tier`` (default standard). Raises :class:`PlanError` with a sentence otherwise.
    """
    cat = cat or catalog.load()
    chosen: list[str] = []
    priced_here = {p.model for p in prices if p.model is not None}
    every = [
        m.short_name
        for m in (cat.models if include_retired else cat.active())
        if m.priced or any(_same_model(cat, m.short_name, p) for p in priced_here)
    ]
    for name in [*names, *(every if all_models else [])]:
        if not any(_same_model(cat, name, other) for other in chosen):
            chosen.append(name)
    if not chosen:
        chosen.append(cat.default)

    given: dict[str, PriceSpec] = {}
    bare = [p for p in prices if p.model is None]
    if len(bare) > 1:
        raise PlanError("--price without MODEL= can be given only once", "--price")
    if bare:
        if len(chosen) > 1:
            raise PlanError(
                f"{len(chosen)} models are priced here, so say which one a price is for: "
                "--price MODEL=INPUT[/OUTPUT]",
                "--price",
            )
        given[chosen[0]] = bare[0]
    for named in prices:
        if named.model is None:
            continue
        target = next((c for c in chosen if _same_model(cat, named.model, c)), None)
        if target is None:
            raise PlanError(
                f"{named.model} has a price but is not among the models: add --model {named.model}",
                "--price",
            )
        if target in given:
            raise PlanError(f"{target} has more than one price", "--price")
        given[target] = named

    if tier is not None and tier not in limits.TIERS:
        raise PlanError(f"{tier!r} is not a tier: use {' or '.join(limits.TIERS)}", "--tier")
    out: list[PricedModel] = []
    for name in chosen:
        spec = given.get(name)
        m = _lookup(cat, name)
        if m is not None and (m.priced or spec is not None):
            if spec is not None:
                m = m.with_price(spec.input, spec.output)
            assert m.input_price is not None
            out.append(
                PricedModel(
                    name,
                    m.tier,
                    m.input_price,
                    m.output_price,
                    overridden=spec is not None,
                    long_context=m.long_context,
                    model=m,
                )
            )
            continue
        if m is not None:
            raise PlanError(str(catalog.UnpricedModelError(m)), "--price")
        if spec is None:
            known = cat.known()
            raise PlanError(
                str(catalog.UnknownModelError(name, known))
                + f"; or give its price: --price {name}=INPUT/OUTPUT",
                "--model",
            )
        if output_tokens and spec.output is None:
            raise PlanError(
                f"{name} is not in the price table and --output-tokens needs its output "
                f"price: --price {name}=INPUT/OUTPUT",
                "--price",
            )
        tier_ = policy.tier(tier or "standard")
        out.append(PricedModel(name, tier_, spec.input, spec.output, known=False, overridden=True))
    if tier is not None and all(p.known for p in out):
        raise PlanError(
            "--tier is only for models that are not in the price table; the table knows the "
            "tier of every model here",
            "--tier",
        )
    return tuple(out)


# --------------------------------------------------------------------------------------------------
# The plan and the arithmetic
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EstimatePlan:
    """Everything an estimate depends on, resolved from the command line."""

    models: tuple[PricedModel, ...]
    rule: policy.Rule = "current"
    batch: bool = False
    per: int = DEFAULT_PER
    output_tokens: int = 0
    prices_date: str = ""
    prices_source: str = ""
    exact: bool = False
    #: ``--snap``: the most an edge may shrink to drop a patch row or column (None: off).
    snap_max: Fraction | None = None
    #: ``--tile``: price each image as its tiles (None: whole).
    tile: tiling.TileSpec | None = None

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("a plan needs at least one model")
        if self.per < 1 or self.output_tokens < 0:
            raise ValueError("per must be at least 1 and output_tokens at least 0")

    @property
    def multiplier(self) -> float:
        """1, or what is left after the Message Batches discount."""
        return 1 - limits.BATCH_DISCOUNT if self.batch else 1.0

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.models]

    def tiers(self) -> list[policy.Tier]:
        """The distinct resize tiers that decide sizes here (one under the legacy rule)."""
        if self.rule == "legacy":
            return [self.models[0].tier]
        seen: list[policy.Tier] = []
        for m in self.models:
            if m.tier not in seen:
                seen.append(m.tier)
        return seen

    def cost(self, tokens: int, model: PricedModel) -> float:
        """USD for one request holding one image of ``tokens`` tokens."""
        input_price, output_price = model.prices(tokens)
        usd = policy.cost_usd(tokens, input_price)
        if self.output_tokens:
            usd += policy.cost_usd(self.output_tokens, output_price or 0.0)
        return usd * self.multiplier

    def per_n(self, usd: float) -> float:
        return usd * self.per


@dataclass(frozen=True)
class ModelCost:
    """One image for one model: the size the API processes, its tokens, its cost."""

    api_width: int
    api_height: int
    tokens: int
    usd: float
    #: ``--tile``: the tiles and what the image costs whole (None without --tile).
    tiles: int | None = None
    whole_tokens: int | None = None
    #: What ``--snap`` would make ``tokens`` (equal when it would not help, or is on).
    snap_tokens: int | None = None


@dataclass(frozen=True)
class EstimateRow:
    """One image (or ``--size``) of the estimate. ``costs`` is empty when it is not priced."""

    path: str
    width: int | None
    height: int | None
    costs: tuple[ModelCost, ...] = ()
    findings: tuple[Finding, ...] = ()
    media_type: str | None = None
    is_size: bool = False
    exact_tokens: int | None = None

    @property
    def status(self) -> judging.Status:
        return judging.status_of(self.findings)

    @property
    def priced(self) -> bool:
        return bool(self.costs)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity is judging.Severity.ERROR)

    @property
    def reference(self) -> ModelCost | None:
        """The first model's figures: what ``api_width``, ``api_height`` and ``tokens`` show."""
        return self.costs[0] if self.costs else None

    def as_dict(self, plan: EstimatePlan) -> dict[str, Any]:
        """The JSON record, with exactly the documented names (``exact_tokens`` with --exact)."""
        ref = self.reference
        doc: dict[str, Any] = {
            "path": self.path,
            "width": self.width,
            "height": self.height,
            "api_width": ref.api_width if ref else None,
            "api_height": ref.api_height if ref else None,
            "tokens": ref.tokens if ref else None,
            "costs": (
                {m.name: c.usd for m, c in zip(plan.models, self.costs, strict=True)}
                if self.costs
                else dict.fromkeys(plan.names)
            ),
        }
        if plan.exact:
            doc["exact_tokens"] = self.exact_tokens
        if plan.tile is not None:
            doc["tiles"] = ref.tiles if ref else None
            doc["whole_tokens"] = ref.whole_tokens if ref else None
        return doc


def _sent(
    width: int, height: int, tier: policy.Tier, plan: EstimatePlan
) -> tuple[policy.Size, int, int]:
    """The size the API processes, its tokens, and its tokens with ``--snap`` (current rule)."""
    pred = policy.predict(width, height, tier, plan.rule)
    if plan.rule == "legacy":
        return pred.api_size, pred.tokens, pred.tokens
    share = policy.DEFAULT_SNAP_MAX if plan.snap_max is None else plan.snap_max
    snapped_size = policy.snap(*pred.api_size, share)
    snapped = policy.patch_tokens(*snapped_size)
    if plan.snap_max is None:
        return pred.api_size, pred.tokens, snapped
    return snapped_size, snapped, snapped


def _tiles(width: int, height: int, tier: policy.Tier, plan: EstimatePlan) -> list[tiling.Tile]:
    assert plan.tile is not None
    try:
        return list(plan.tile.grid_for(width, height, policy.SizePolicy.native(tier)).tiles)
    except ValueError:  # a grid finer than the image: priced whole, as resize would fail it
        return []


def _cost(width: int, height: int, m: PricedModel, plan: EstimatePlan) -> ModelCost:
    size, tokens, snap_tokens = _sent(width, height, m.tier, plan)
    if plan.tile is None:
        return ModelCost(size[0], size[1], tokens, plan.cost(tokens, m), snap_tokens=snap_tokens)
    tiles = _tiles(width, height, m.tier, plan)
    if len(tiles) < 2:
        return ModelCost(size[0], size[1], tokens, plan.cost(tokens, m), 1, tokens, snap_tokens)
    parts = [_sent(t.width, t.height, m.tier, plan) for t in tiles]
    tiled = sum(p[1] for p in parts)
    return ModelCost(
        size[0],
        size[1],
        tiled,
        plan.cost(tiled, m),
        tiles=len(tiles),
        whole_tokens=tokens,
        snap_tokens=sum(p[2] for p in parts),
    )


def price(width: int, height: int, plan: EstimatePlan) -> tuple[ModelCost, ...]:
    """Every model's size, tokens and cost for an image of ``width`` x ``height``."""
    return tuple(_cost(width, height, m, plan) for m in plan.models)


def row_from_record(rec: Record, plan: EstimatePlan) -> EstimateRow:
    """The row of a checked input: one with an error finding is listed but not priced."""
    w, h = rec.width, rec.height
    findings = _without_fixed_by_tiles(tuple(rec.findings), w, h, plan)
    costs: tuple[ModelCost, ...] = ()
    if judging.status_of(findings) != "error" and w is not None and h is not None:
        costs = price(w, h, plan)
    return EstimateRow(
        path=rec.path,
        width=w,
        height=h,
        costs=costs,
        findings=findings,
        media_type=rec.media_type,
    )


def _without_fixed_by_tiles(
    findings: tuple[Finding, ...], width: int | None, height: int | None, plan: EstimatePlan
) -> tuple[Finding, ...]:
    """With ``--tile``, an image over the API's 8000 px whose tiles are all within it is sent as
    those tiles: its ``dimensions-too-large`` no longer applies."""
    if plan.tile is None or width is None or height is None:
        return findings
    tiles = _tiles(width, height, plan.models[0].tier, plan)
    if len(tiles) < 2 or max(max(t.width, t.height) for t in tiles) > limits.MAX_DIMENSION:
        return findings
    return tuple(f for f in findings if f.code is not judging.Code.DIMENSIONS_TOO_LARGE)


def size_label(size: policy.Size) -> str:
    return f"{size[0]}x{size[1]}"


def row_from_size(
    size: policy.Size,
    plan: EstimatePlan,
    lim: judging.Limits,
    ignore: frozenset[judging.Code] = frozenset(),
) -> EstimateRow:
    """The row of a ``--size``: judged as an acceptable image of that size would be."""
    w, h = size
    facts = judging.ImageFacts(format="PNG", width=w, height=h, bytes=0)
    first = plan.models[0]
    pred = policy.predict(w, h, first.tier, plan.rule)
    judged = judging.judge(facts, replace(lim, tier=first.tier), pred)
    findings = tuple(f for f in judged if f.code not in ignore)
    findings = _without_fixed_by_tiles(findings, w, h, plan)
    priced = judging.status_of(findings) != "error"
    return EstimateRow(
        path=size_label(size),
        width=w,
        height=h,
        costs=price(w, h, plan) if priced else (),
        findings=findings,
        is_size=True,
    )


# --------------------------------------------------------------------------------------------------
# Totals
# --------------------------------------------------------------------------------------------------


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
        )


def total(rows: Iterable[EstimateRow], plan: EstimatePlan) -> EstimateTotals:
    tally = EstimateTally(plan)
    for row in rows:
        tally.add(row)
    return tally.totals()


# --------------------------------------------------------------------------------------------------
# Exact counts
# --------------------------------------------------------------------------------------------------


def materialize(
    items: Iterable[sources.Input | sources.Problem], folder: Path, *, cap: int
) -> Iterator[sources.Input | sources.Problem]:
    """URL and standard-input images read once into files under ``folder``, so the image that is
    checked is the image that is counted; files pass through. A failed read becomes a Problem."""
    for n, item in enumerate(items):
        if isinstance(item, sources.Problem) or item.path is not None:
            yield item
            continue
        try:
            data = sources.read_bytes(item, cap=cap)
        except sources.SourceError as exc:
            yield sources.Problem(item.label, exc.code, exc.message)
            continue
        path = folder / f"{n}{item.extension}"
        path.write_bytes(data)
        yield sources.Input(item.label, path=path)


def scratch_folder() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="vision-cli-estimate-")


def countable(row: EstimateRow, path: Path | None) -> bool:
    """Whether ``--exact`` can count this row: a priced image with a file and a media type."""
    return row.priced and path is not None and row.media_type is not None


def count_exact(
    rows: Sequence[EstimateRow],
    paths: Sequence[Path | None],
    count: Callable[[bytes, str], int],
    *,
    workers: int = EXACT_WORKERS,
    advance: Callable[[int], None] = lambda n: None,
) -> list[EstimateRow]:
    """``rows`` with ``exact_tokens`` from ``count(data, media_type)`` wherever :func:`countable`.

    At most ``workers`` counts run at once, each reading its own file when it starts; the first
    exception starts nothing more, waits for those already running, and is raised.
    """
    out = list(rows)
    todo = [
        i for i, (row, path) in enumerate(zip(rows, paths, strict=True)) if countable(row, path)
    ]

    def one(i: int) -> int:
        path = paths[i]
        media_type = rows[i].media_type
        assert path is not None and media_type is not None
        return count(path.read_bytes(), media_type)

    if not todo:
        return out
    workers = max(1, min(workers, len(todo)))
    waiting = iter(todo)
    running: dict[Future[int], int] = {}
    pool = ThreadPoolExecutor(max_workers=workers)

    def fill() -> None:  # at most `workers` in flight, so a failure stops what follows
        for i in waiting:
            running[pool.submit(one, i)] = i
            if len(running) >= workers:
                return

    try:
        fill()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                i = running.pop(fut)
                exc = fut.exception()
                if exc is not None:
                    raise exc
                out[i] = replace(out[i], exact_tokens=fut.result())
                advance(1)
            fill()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return out


def exact_difference(row: EstimateRow) -> int | None:
    """Exact count minus the estimate (first model), when both are known."""
    if row.exact_tokens is None or row.reference is None:
        return None
    return row.exact_tokens - row.reference.tokens
