"""The plan and the arithmetic: an :class:`EstimatePlan` and one :class:`EstimateRow` per image,
from a gate record or from a ``--size``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from vision_cli import judging, limits, policy, tiling
from vision_cli.estimating.choosing import DEFAULT_PER, PricedModel
from vision_cli.judging import Finding

#: ``(left, top, right, bottom)``, right and bottom exclusive.
Box = tuple[int, int, int, int]

if TYPE_CHECKING:
    from vision_cli.inspecting import Record


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
    #: ``--trim``: levels a border may stray from its colour (None: off, headers only).
    trim_fuzz: int | None = None

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
    #: ``--trim``: the box kept ``(left, top, right, bottom)`` in the upright image (None:
    #: nothing to trim), and the first model's tokens without trimming.
    trim: Box | None = None
    untrimmed_tokens: int | None = None

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
        if plan.trim_fuzz is not None:
            doc["trim"] = list(self.trim) if self.trim is not None else None
            doc["untrimmed_tokens"] = self.untrimmed_tokens
        return doc


def _sent(
    width: int, height: int, tier: policy.Tier, plan: EstimatePlan
) -> tuple[policy.Size, int, int]:
    """The size the API processes, its tokens, and its tokens with ``--snap`` (the size snapped
    to whole 28 px patches, as ``--snap`` sends it, priced by the rule)."""
    pred = policy.predict(width, height, tier, plan.rule)
    share = policy.DEFAULT_SNAP_MAX if plan.snap_max is None else plan.snap_max
    snapped_size = policy.snap(*pred.api_size, share)
    if plan.rule == "legacy":
        snapped = policy.predict(*snapped_size, tier, "legacy").tokens
    else:
        snapped = policy.patch_tokens(*snapped_size)
    if plan.snap_max is None:
        return pred.api_size, pred.tokens, snapped
    return snapped_size, snapped, snapped


def _tiles(width: int, height: int, tier: policy.Tier, plan: EstimatePlan) -> list[tiling.Tile]:
    assert plan.tile is not None
    try:
        return list(plan.tile.grid_for(width, height, policy.SizePolicy.native(tier)).tiles)
    except ValueError:  # a grid finer than the image: the row is not priced (_grid_failure)
        return []


def _grid_failure(width: int | None, height: int | None, plan: EstimatePlan) -> Finding | None:
    """Why the ``--tile`` grid cannot be cut from this image: the sentence (and code) with which
    ``resize`` and ``ask`` fail it, so the row is listed, not priced as one whole tile."""
    if plan.tile is None or width is None or height is None:
        return None
    try:
        plan.tile.grid_for(width, height, policy.SizePolicy.native(plan.models[0].tier))
    except ValueError as exc:
        return Finding(judging.Code.TOO_SMALL, str(exc), final=True)
    return None


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


def row_from_record(
    rec: Record,
    plan: EstimatePlan,
    trim: Box | None = None,
    trim_failure: Finding | None = None,
) -> EstimateRow:
    """The row of a checked input: one with an error finding is listed but not priced.

    With ``--trim``, ``trim`` is the box :func:`~vision_cli.imaging.trim.trimmed_frame` keeps
    (None: no border) and the image is priced at that size, as ``resize --trim`` and
    ``ask --trim`` would send it; ``trim_failure`` is why it could not be decoded to look.
    """
    w, h = rec.width, rec.height
    if trim is not None:
        w, h = trim[2] - trim[0], trim[3] - trim[1]
    findings = _without_fixed_by_tiles(tuple(rec.findings), w, h, plan)
    for failure in (trim_failure, _grid_failure(w, h, plan)):
        if failure is not None:
            findings += (failure,)
    costs: tuple[ModelCost, ...] = ()
    untrimmed: int | None = None
    if judging.status_of(findings) != "error" and w is not None and h is not None:
        costs = price(w, h, plan)
        untrimmed = costs[0].tokens
        if trim is not None and rec.width is not None and rec.height is not None:
            untrimmed = _cost(rec.width, rec.height, plan.models[0], plan).tokens
    return EstimateRow(
        path=rec.path,
        width=rec.width,
        height=rec.height,
        costs=costs,
        findings=findings,
        media_type=rec.media_type,
        trim=trim,
        untrimmed_tokens=untrimmed if plan.trim_fuzz is not None else None,
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
    # (what is over the pixel budget is final: no command decodes it to cut tiles)
    return tuple(f for f in findings if f.code is not judging.Code.DIMENSIONS_TOO_LARGE or f.final)


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
    judged = judging.judge(facts, lim._replace(tier=first.tier), pred)
    findings = tuple(f for f in judged if f.code not in ignore)
    findings = _without_fixed_by_tiles(findings, w, h, plan)
    failure = _grid_failure(w, h, plan)
    findings += (failure,) if failure is not None else ()
    priced = judging.status_of(findings) != "error"
    costs = price(w, h, plan) if priced else ()
    return EstimateRow(
        path=size_label(size),
        width=w,
        height=h,
        costs=costs,
        findings=findings,
        is_size=True,
        # nothing to trim in a size: its tokens are the same either way (and in the total)
        untrimmed_tokens=costs[0].tokens if costs and plan.trim_fuzz is not None else None,
    )
