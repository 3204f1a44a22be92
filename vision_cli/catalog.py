"""Model data and prices, from the dated table in ``data/models.json``.

Standard library only. The table is read once per process, on first use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vision_cli import policy


@dataclass(frozen=True)
class Model:
    id: str
    name: str
    aliases: tuple[str, ...]
    tier: policy.Tier
    images_per_request: int
    input_price: float  # USD per million input tokens
    output_price: float  # USD per million output tokens
    retired: bool = False
    end_of_life: date | None = None  # announced: the API refuses the model from this day

    @property
    def short_name(self) -> str:
        """The name people type: the first alias, else the id."""
        return self.aliases[0] if self.aliases else self.id

    def end_of_life_warning(self, today: date) -> str | None:
        """A sentence for a model whose end of life is announced (None for the others)."""
        if self.end_of_life is None:
            return None
        day = self.end_of_life.isoformat()
        if today >= self.end_of_life:
            news = f"reached its end of life on {day}: the API no longer serves it"
        else:
            news = f"is deprecated: from {day}, its end of life, the API will refuse it"
        return (
            f"{self.short_name} {news}; choose another model with --model or $VISION_CLI_MODEL "
            "(`vision-cli estimate --all-models` lists the current ones)"
        )

    def with_price(self, input_price: float, output_price: float | None = None) -> Model:
        return Model(
            self.id,
            self.name,
            self.aliases,
            self.tier,
            self.images_per_request,
            input_price,
            self.output_price if output_price is None else output_price,
            self.retired,
            self.end_of_life,
        )


@dataclass(frozen=True)
class Catalog:
    date: str
    source: str
    default: str
    models: tuple[Model, ...]

    def get(self, name: str) -> Model:
        """The model with this id or alias; KeyError when there is none."""
        for m in self.models:
            if name == m.id or name in m.aliases:
                return m
        raise KeyError(name)

    def current(self) -> tuple[Model, ...]:
        return tuple(m for m in self.models if not m.retired)

    def names(self) -> list[str]:
        """Every id and alias, for messages and shell completion."""
        return [n for m in self.models for n in (*m.aliases, m.id)]


class UnknownModelError(ValueError):
    """A model name that is not in the table; the message lists the known ones."""

    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown model {name!r}; known models: {', '.join(known)}")
        self.name = name


@cache
def load() -> Catalog:
    from vision_cli import policy  # the tiers; kept out of start-up (estimate's --help reads dates)

    raw = json.loads((Path(__file__).parent / "data" / "models.json").read_text("utf-8"))
    models = tuple(
        Model(
            id=m["id"],
            name=m["name"],
            aliases=tuple(m["aliases"]),
            tier=policy.tier(m["tier"]),
            images_per_request=int(m["images_per_request"]),
            input_price=float(m["input"]),
            output_price=float(m["output"]),
            retired=bool(m.get("retired", False)),
            end_of_life=date.fromisoformat(m["end_of_life"]) if "end_of_life" in m else None,
        )
        for m in raw["models"]
    )
    return Catalog(raw["date"], raw["source"], raw["default"], models)


def resolve(name: str) -> Model:
    """The model called ``name``; :class:`UnknownModelError` (listing the known ones) otherwise."""
    cat = load()
    try:
        return cat.get(name)
    except KeyError:
        raise UnknownModelError(name, [m.short_name for m in cat.models]) from None
