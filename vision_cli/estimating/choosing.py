"""Models and prices: which models an estimate prices (``--model``, ``--all-models``) and at what
price (the catalog's, or ``--price``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from vision_cli import catalog, policy

if TYPE_CHECKING:
    pass


DEFAULT_PER: Final = 1000


class PlanError(ValueError):
    """Options that cannot be priced (a usage error); ``param`` names the option at fault."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class PriceSpec:
    """One ``--price [MODEL=]INPUT[/OUTPUT]``: USD per million tokens."""

    model: str | None
    input: float
    output: float | None = None


def _usd_per_mtok(text: str, whole: str) -> float:
    t = text.strip().removeprefix("$")
    if "," in t:  # 0,10 is a decimal comma to some and a thousands separator to others
        raise PlanError(
            f"{whole!r} is not a price: write decimals with a point and no commas (0.10/0.50)",
            "--price",
        )
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
    configured: frozenset[str] = frozenset(),
) -> tuple[PricedModel, ...]:
    """The models to price, in order: those named, then (``all_models``) every active one that
    has a price (or is given one), every model with ``include_retired``.

    ``--price`` pairs with models like this: ``MODEL=IN/OUT`` prices that model (which must be
    one of the chosen ones, by id or alias), and a bare ``IN/OUT`` prices the only model when
    exactly one is chosen. A model missing from the table is usable only with a price; it gets
    ``tier`` (default standard). Raises :class:`PlanError` with a sentence otherwise.

    ``configured`` names those of ``"price"`` and ``"tier"`` that came from a configuration
    file: they give way instead of stopping the run (a price for a model not chosen, a bare
    price with several models, a tier no model needs are left unused).
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
    if bare and len(chosen) > 1 and "price" in configured:
        bare = []
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
        if target is None and "price" in configured:
            continue
        if target is None:
            raise PlanError(
                f"{named.model} has a price but is not among the models: add --model {named.model}",
                "--price",
            )
        if target in given:
            raise PlanError(f"{target} has more than one price", "--price")
        given[target] = named

    try:
        if tier is not None:
            policy.tier_name(tier)
    except ValueError as exc:
        raise PlanError(f"{tier!r} is not a tier: {exc}", "--tier") from None
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
            raise PlanError(str(catalog.UnpricedModelError(m)), "--model")
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
    if tier is not None and all(p.known for p in out) and "tier" not in configured:
        raise PlanError(
            "--tier is only for models that are not in the price table; the table knows the "
            "tier of every model here",
            "--tier",
        )
    return tuple(out)
