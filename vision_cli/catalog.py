"""Models: the dated table in ``data/models.json``, merged with what the Models API last said.

The bundled table holds every fact vision-cli needs about a model (line, lifecycle, tier, context
window, prices). ``vision-cli models --refresh`` stores what the Models API says in the user's
cache folder (``models.json``), and :func:`load` merges it over the table: lifecycle and dates
from the API win, and a model only the API knows becomes usable (its tier from the documented
rule, its price unknown until ``--price``). An image edge the API reported in a structured 400
(``image_dimensions_too_large``) is kept there too and wins over the tier's edge.

Standard library only; nothing is fetched here (the network is :mod:`vision_cli.client`'s).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

from vision_cli import limits, policy

Lifecycle = Literal["active", "deprecated", "retired"]
LIFECYCLES: Final = ("active", "deprecated", "retired")
#: The model lines the Models API names; each is also an alias of its newest active model.
LINES: Final = ("opus", "sonnet", "haiku", "fable", "mythos")
#: The cache file that ``models --refresh`` writes (in :func:`fsutil.cache_dir`).
CACHE_FILE: Final = "models.json"
#: The cache file's ``version`` this vision-cli reads and writes; a file of another version
#: (a newer vision-cli's) is neither read nor overwritten.
CACHE_VERSION: Final = 1
#: The model after which every model is high-res (the vision page: "Claude 4.7 and later").
HIGH_RES_SINCE: Final = "claude-opus-4-7"
TIER_RULE: Final = "rule: released after Claude Opus 4.7, so high-res"
#: A context window above this many tokens allows 600 images per request; 100 otherwise.
SMALL_CONTEXT: Final = 200_000
IMAGES_SMALL_CONTEXT: Final = 100
IMAGES_LARGE_CONTEXT: Final = 600
BATCH_DISCOUNT: Final = 0.5
_WRITING: Final = threading.Lock()


class LongContext(NamedTuple):
    """Prices for the whole request when its input is over ``over_input_tokens``."""

    over_input_tokens: int
    input_price: float
    output_price: float


class Model(NamedTuple):
    """One model of the catalogue: its names, its token tier, its request limit, its prices and
    its lifecycle."""

    id: str
    name: str
    aliases: tuple[str, ...]
    tier: policy.Tier
    images_per_request: int
    input_price: float | None  # USD per million input tokens (None: no known price)
    output_price: float | None  # USD per million output tokens
    line: str | None = None
    lifecycle: Lifecycle = "active"
    deprecated_at: date | None = None
    retires_at: date | None = None
    replacement: str | None = None  # as the models page names it (see Catalog.replacement)
    context_window: int | None = None
    long_context: LongContext | None = None
    #: Where the facts came from: ``table``, ``refresh`` or ``table+refresh``.
    source: str = "table"
    #: Where the tier came from: ``table``, the rule, or the API's 400.
    tier_source: str = "table"
    price_source: str = "table"
    #: A lifecycle the Models API gave that vision-cli does not know (``sunset``, or
    #: ``missing``) for a model only it lists: such a model is kept as deprecated (used when
    #: named, with a warning; never a line's newest nor the default). None otherwise.
    unknown_lifecycle: str | None = None

    @property
    def short_name(self) -> str:
        """The name people type: the first alias, else the id."""
        return self.aliases[0] if self.aliases else self.id

    @property
    def retired(self) -> bool:
        return self.lifecycle == "retired"

    @property
    def deprecated(self) -> bool:
        return self.lifecycle == "deprecated"

    @property
    def priced(self) -> bool:
        return self.input_price is not None and self.output_price is not None

    def names(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)

    def prices(self, input_tokens: int = 0, *, batch: bool = False) -> tuple[float, float]:
        """USD per million input and output tokens for a request of ``input_tokens`` (the long
        context step of Haiku 5.5 prices the whole request); :class:`UnpricedModelError`."""
        if self.input_price is None or self.output_price is None:
            raise UnpricedModelError(self)
        inp, out = self.input_price, self.output_price
        step = self.long_context
        if step is not None and input_tokens > step.over_input_tokens:
            inp, out = step.input_price, step.output_price
        scale = BATCH_DISCOUNT if batch else 1.0
        return inp * scale, out * scale

    def cost_usd(self, input_tokens: int, output_tokens: int, *, batch: bool = False) -> float:
        """Dollars for one request (Message Batches: half price)."""
        inp, out = self.prices(input_tokens, batch=batch)
        return (input_tokens * inp + output_tokens * out) / 1_000_000

    def with_price(self, input_price: float, output_price: float | None = None) -> Model:
        """The model at your price (``--price``); the long-context step no longer applies."""
        out = self.output_price if output_price is None else output_price
        return self._replace(
            input_price=input_price,
            output_price=out,
            long_context=None,
            price_source="--price",
        )


class UnknownModelError(ValueError):
    """A model name that neither the table nor the last refresh knows."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(
            f"unknown model {name!r}; known models: {', '.join(known)} (a newer model? "
            "`vision-cli models --refresh` asks the API which models it serves)"
        )
        self.name = name


class ForeignCacheError(OSError):
    """The cache file has a ``version`` this vision-cli does not know: it is left as it is."""

    def __init__(self, path: Path, version: Any) -> None:
        super().__init__(
            f"{path} is version {json.dumps(version)[:40]} of the models cache, which this "
            f"vision-cli (version {CACHE_VERSION}) does not know: it was left as it is (a newer "
            "vision-cli wrote it? remove it, or set VISION_CLI_CACHE_DIR, to let this one write "
            "its own)"
        )
        self.path = path
        self.version = version


class UnpricedModelError(ValueError):
    """A model without a known price, asked for a cost."""

    def __init__(self, model: Model) -> None:
        super().__init__(
            f"no price is known for {model.short_name}: give it with --price "
            f"{model.short_name}=INPUT/OUTPUT (USD per million tokens)"
        )
        self.model = model


class Catalog(NamedTuple):
    """The models known on a date: the bundled table, merged with what ``models --refresh``
    last fetched."""

    date: str
    source: str
    default_line: str
    models: tuple[Model, ...]
    #: When the Models API was last asked (``models --refresh``), or None.
    fetched_at: str | None = None

    def get(self, name: str) -> Model:
        """The model with this id or alias, or the newest active model of a line (``sonnet``);
        KeyError when there is none."""
        for m in self.models:
            if name == m.id or name in m.aliases:
                return m
        if name in LINES:
            newest = self.newest(name)
            if newest is not None:
                return newest
        raise KeyError(name)

    def newest(self, line: str) -> Model | None:
        """The newest active model of ``line`` (the models are listed newest first)."""
        return next((m for m in self.models if m.line == line and m.lifecycle == "active"), None)

    @property
    def default(self) -> str:
        """The default model, from the data: the newest active model of the default line that
        has a price. A newer one that only a refresh knows has none, and as the default it would
        have made every command ask for ``--price``: it is used when named (``sonnet``, its id)."""
        line = [m for m in self.models if m.line == self.default_line and m.lifecycle == "active"]
        pool = line or list(self.active())  # the data would have to say every Sonnet is retired
        return next((m for m in pool if m.priced), pool[0]).short_name

    def active(self) -> tuple[Model, ...]:
        return tuple(m for m in self.models if m.lifecycle == "active")

    def replacement(self, model: Model) -> Model | None:
        """What to use instead of a deprecated or retired model: the one the models page names
        while it is active, else the newest active model of its line (a deprecated replacement
        would only be replaced in turn)."""
        if model.replacement:
            try:
                named = self.get(model.replacement)
            except KeyError:
                named = None
            if named is not None and named.lifecycle == "active":
                return named
        return self.newest(model.line) if model.line else None

    def names(self) -> list[str]:
        """Every id and alias, and the line names, for messages and shell completion."""
        return [n for m in self.models for n in (*m.aliases, m.id)] + [
            line for line in LINES if self.newest(line) is not None
        ]

    def known(self) -> list[str]:
        return [m.short_name for m in self.models if not m.retired]


# --------------------------------------------------------------------------------------------------
# The bundled table
# --------------------------------------------------------------------------------------------------


def _day(value: Any) -> date | None:
    """A date from ``2026-11-30`` or an RFC 3339 time (``2026-11-30T00:00:00Z``)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def images_for(context_window: int | None) -> int:
    """Images per request: 600 above a 200K-token context window, else (or unknown) 100."""
    if context_window is not None and context_window > SMALL_CONTEXT:
        return IMAGES_LARGE_CONTEXT
    return IMAGES_SMALL_CONTEXT


def _price(value: Any) -> float | None:
    return None if value is None else float(value)


def _from_table(m: Mapping[str, Any]) -> Model:
    step = m.get("long_context")
    context = m.get("context_window")
    return Model(
        id=m["id"],
        name=m["name"],
        aliases=tuple(m.get("aliases", ())),
        tier=policy.tier(m["tier"]),
        images_per_request=images_for(context),
        input_price=_price(m.get("input")),
        output_price=_price(m.get("output")),
        line=m.get("line"),
        lifecycle=m.get("lifecycle", "active"),
        deprecated_at=_day(m.get("deprecated_at")),
        retires_at=_day(m.get("retires_at")),
        replacement=m.get("replacement"),
        context_window=context,
        long_context=LongContext(
            int(step["over_input_tokens"]), float(step["input"]), float(step["output"])
        )
        if step
        else None,
        price_source="table" if m.get("input") is not None else "unknown",
    )


@cache
def bundled() -> Catalog:
    """The table shipped with vision-cli (what ``--help`` quotes the date of)."""
    raw = json.loads((Path(__file__).parent / "data" / "models.json").read_text("utf-8"))
    models = tuple(_from_table(m) for m in raw["models"])
    return Catalog(raw["date"], raw["source"], raw["default_line"], models)


# --------------------------------------------------------------------------------------------------
# The cache: what the Models API said, and image edges the API reported
# --------------------------------------------------------------------------------------------------


def cache_path() -> Path:
    from vision_cli import (
        fsutil,
    )  # lazy: start-up, fsutil imports tempfile, which --help never needs

    return fsutil.cache_dir() / CACHE_FILE


def read_cache(path: Path | None = None) -> dict[str, Any]:
    """The cache document (empty when missing or damaged: the table alone is used then)."""
    return _read_at(path or cache_path()).doc


def cache_problem(path: Path | None = None) -> str | None:
    """Why the cache file that is there cannot be used (None: it is fine, or there is none):
    ``vision-cli models`` says so rather than call the data never refreshed."""
    return _read_at(path or cache_path()).problem


def foreign_cache(path: Path | None = None) -> ForeignCacheError | None:
    """Why the cache file there is not this vision-cli's to read or write (a ``version`` it does
    not know), or None. Not read as "never refreshed", never overwritten."""
    return _read_at(path or cache_path()).foreign


class _CacheRead(NamedTuple):
    """One read of the cache file: the document (empty when it cannot be used), why it cannot
    be (damaged, or of another version), and the second as the error to raise on writing."""

    doc: dict[str, Any]
    problem: str | None = None
    foreign: ForeignCacheError | None = None


@cache
def _read_at(path: Path) -> _CacheRead:
    """:func:`_read`, once per process and path, as :func:`load` reads it (:func:`forget`)."""
    return _read(path)


def _read(path: Path) -> _CacheRead:
    try:
        doc = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return _CacheRead({})
    except (OSError, ValueError, RecursionError) as exc:  # damaged: written again on refresh
        return _CacheRead({}, str(exc) or type(exc).__name__)
    if not isinstance(doc, dict):
        return _CacheRead({}, "not a JSON object")
    if doc.get("version", CACHE_VERSION) != CACHE_VERSION:
        foreign = ForeignCacheError(path, doc.get("version"))
        return _CacheRead({}, str(foreign), foreign)
    return _CacheRead(doc)


def _write_cache(change: Any, path: Path | None = None) -> Path:
    """Read, change and write the cache atomically (OSError when it cannot be written)."""
    from vision_cli import fsutil  # lazy: start-up, as in cache_path

    target = path or cache_path()
    with _WRITING:
        now = _read(target)  # as it is now, not as first read
        if now.foreign is not None:
            raise now.foreign
        doc = now.doc
        change(doc)
        doc["version"] = CACHE_VERSION
        target.parent.mkdir(parents=True, exist_ok=True)
        fsutil.write_text(target, json.dumps(doc, indent=1, sort_keys=True) + "\n")
        forget()
    return target


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def store_refresh(
    models: list[dict[str, Any]], endpoint: str, *, fetched_at: datetime | None = None
) -> Path:
    """Keep what the Models API listed (newest first), with the time it was fetched
    (``fetched_at``, the run's clock; now when None)."""
    when = fetched_at or datetime.now(UTC)

    def change(doc: dict[str, Any]) -> None:
        doc["models"] = models
        doc["fetched_at"] = when.isoformat(timespec="seconds")
        doc["endpoint"] = endpoint

    return _write_cache(change)


def record_edge(model_id: str, max_side: int) -> Path:
    """Remember the largest image side the API accepts for ``model_id`` (from its 400)."""

    def change(doc: dict[str, Any]) -> None:
        edges = doc.get("edges")
        if not isinstance(edges, dict):
            edges = doc["edges"] = {}
        edges[model_id] = {"max_side_length_pixels": int(max_side), "recorded_at": _now()}

    return _write_cache(change)


def edge_tier(tier: policy.Tier, edge: int) -> policy.Tier:
    """``tier`` with the edge the API reported (a known tier's name when the edge is its own)."""
    for name, (max_edge, _tokens) in limits.TIERS.items():
        if max_edge == edge:
            return policy.tier(name)
    return policy.Tier(f"{edge} px (API)", edge, tier.max_tokens)


#: What a model id looks like (``claude-sonnet-5-5``, ``claude-3-5-sonnet@20240620``): a listed
#: entry whose id is not one (control characters, spaces, 200 characters) is left out, since ids
#: are printed in tables and messages and sent in requests.
_MODEL_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")


def plausible_id(value: Any) -> bool:
    """Whether ``value`` looks like a model id (:data:`_MODEL_ID`)."""
    return isinstance(value, str) and _MODEL_ID.fullmatch(value) is not None


def _api_model(entry: Mapping[str, Any], high_res: bool) -> Model:
    context = entry.get("max_input_tokens")
    context = context if isinstance(context, int) else None
    shown = entry.get("display_name")
    line = entry.get("line")
    said = _lifecycle(entry.get("lifecycle"))
    return Model(
        id=str(entry["id"]),
        name=shown if isinstance(shown, str) and shown.isprintable() else str(entry["id"]),
        aliases=(),
        tier=policy.tier("high-res" if high_res else "standard"),
        images_per_request=images_for(context),
        input_price=None,
        output_price=None,
        line=line if plausible_id(line) else None,
        # a lifecycle vision-cli does not know says nothing of being usable now: not active
        lifecycle=said or "deprecated",
        deprecated_at=_day(entry.get("deprecated_at")),
        retires_at=_day(entry.get("retires_at")),
        context_window=context,
        source="refresh",
        tier_source=TIER_RULE if high_res else "rule: released before Claude Opus 4.7",
        price_source="unknown",
        unknown_lifecycle=None if said else _unknown(entry.get("lifecycle")),
    )


def _lifecycle(value: Any) -> Lifecycle | None:
    """The API's lifecycle, or None when it is missing or one vision-cli does not know."""
    if value == "active":
        return "active"
    if value == "deprecated":
        return "deprecated"
    if value == "retired":
        return "retired"
    return None


def _unknown(value: Any) -> str:
    """How to name a lifecycle vision-cli does not know (it is printed: ids' characters only)."""
    if value is None:
        return "missing"
    return repr(value) if plausible_id(value) else "unreadable"


def _update(model: Model, entry: Mapping[str, Any]) -> Model:
    """A table model with what the API says about it (lifecycle and dates win)."""
    context = entry.get("max_input_tokens")
    line = entry.get("line")
    changes: dict[str, Any] = {
        # a missing or unknown lifecycle (a future ``sunset``) keeps the table's
        "lifecycle": _lifecycle(entry.get("lifecycle")) or model.lifecycle,
        "deprecated_at": _day(entry.get("deprecated_at")) or model.deprecated_at,
        "retires_at": _day(entry.get("retires_at")) or model.retires_at,
        "source": "table+refresh",
    }
    if plausible_id(line):
        changes["line"] = line
    if isinstance(context, int):
        changes["context_window"] = context
        changes["images_per_request"] = images_for(context)
    return model._replace(**changes)


def merge(table: Catalog, doc: Mapping[str, Any]) -> Catalog:
    """The table with the cache over it: the API's models in its order (newest first), and the
    table's models it did not list each placed where the table has it, before the next table
    model the API listed (so that a line's newest stays its newest whatever the API leaves
    out); reported edges over the tiers."""
    listed = doc.get("models")
    models: list[Model] = []
    used: set[str] = set()
    if isinstance(listed, list):
        entries = [e for e in listed if isinstance(e, dict) and plausible_id(e.get("id"))]
        ids = [e["id"] for e in entries]
        boundary = ids.index(HIGH_RES_SINCE) if HIGH_RES_SINCE in ids else None
        for position, entry in enumerate(entries):
            try:
                known = table.get(entry["id"])
            except KeyError:
                known = None
            if known is not None and known.id in used:
                continue  # an alias the API lists beside its dated id
            if known is not None:
                used.add(known.id)
                models.append(_update(known, entry))
            else:
                high_res = boundary is None or position < boundary
                models.append(_api_model(entry, high_res))
        models = _interleave(models, [m for m in table.models if m.id not in used], table)
    else:
        models = list(table.models)
    edges = doc.get("edges")
    if isinstance(edges, dict):
        for index, m in enumerate(models):
            seen = edges.get(m.id)
            if not isinstance(seen, dict):
                continue
            edge = seen.get("max_side_length_pixels")
            if isinstance(edge, int) and edge >= limits.MIN_USEFUL_DIMENSION:
                models[index] = m._replace(
                    tier=edge_tier(m.tier, edge),
                    tier_source=f"API: {edge} px (image_dimensions_too_large, "
                    f"{str(seen.get('recorded_at', ''))[:10]})",
                )
    fetched = doc.get("fetched_at") if isinstance(listed, list) else None
    return table._replace(
        models=tuple(models), fetched_at=fetched if isinstance(fetched, str) else None
    )


def _interleave(merged: list[Model], unlisted: list[Model], table: Catalog) -> list[Model]:
    """``merged`` (the API's order) with each ``unlisted`` table model inserted just before the
    first model that follows it in the table and is in ``merged`` (at the end when none is):
    both lists are newest first, and neither order is lost."""
    order = [m.id for m in table.models]
    out = list(merged)
    for model in unlisted:
        later = set(order[order.index(model.id) + 1 :])
        at = next((i for i, m in enumerate(out) if m.id in later), len(out))
        out.insert(at, model)
    return out


def load() -> Catalog:
    """The merged view every command uses: the table, and the cache over it (if there is one).
    Read once per process and cache folder (``VISION_CLI_CACHE_DIR`` may change in between)."""
    return _merged(cache_path())


@cache
def _merged(path: Path) -> Catalog:
    return merge(bundled(), _read_at(path).doc)


def forget() -> None:
    """Read the cache again at the next :func:`load` (after it was written)."""
    _merged.cache_clear()
    _read_at.cache_clear()


def resolve(name: str) -> Model:
    """The model called ``name`` (id, alias or line); :class:`UnknownModelError` otherwise."""
    cat = load()
    try:
        return cat.get(name)
    except KeyError:
        raise UnknownModelError(name, cat.known()) from None
