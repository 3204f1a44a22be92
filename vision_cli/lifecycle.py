"""What to say about a model's lifecycle: why a retired model is not sent, the warning for a
deprecated one, and what to use instead.
"""

from __future__ import annotations

from vision_cli.catalog import Catalog, Model, load


def _instead(cat: Catalog, model: Model, *, pricing: bool = False) -> str:
    """The replacement to name; ``pricing``: the command prices (estimate), so a replacement
    with no known price says how to give it one."""
    other = cat.replacement(model)
    if other is None:
        return "another model (`vision-cli models` lists them)"
    name = other.short_name
    if pricing and not other.priced:
        return f"{name} (--model {name} --price {name}=INPUT/OUTPUT: no price is known for it yet)"
    return f"{name} (--model {name})"


def refusal(model: Model, cat: Catalog | None = None, *, source: str = "") -> str:
    """Why a retired model is not sent, and what to use instead (one line); ``source``: where
    the name came from (`` (from $VISION_CLI_MODEL)``), said after it."""
    when = f" on {model.retires_at}" if model.retires_at else ""
    return (
        f"{model.short_name}{source} was retired{when} and the API no longer serves it: use "
        f"{_instead(cat or load(), model)}"
    )


def deprecation_warning(model: Model, cat: Catalog | None = None) -> str:
    cat = cat or load()
    if model.unknown_lifecycle is not None:
        return (
            f"the Models API gave {model.short_name} a lifecycle vision-cli does not know "
            f"({model.unknown_lifecycle}), so it is used only when named, as a deprecated model: "
            f"consider {_instead(cat, model)}"
        )
    when = f" and retires on {model.retires_at}" if model.retires_at else ""
    return f"{model.short_name} is deprecated{when}: switch to {_instead(cat, model)}"


def retired_note(model: Model, cat: Catalog | None = None) -> str:
    cat = cat or load()
    when = f" on {model.retires_at}" if model.retires_at else ""
    return (
        f"{model.short_name} was retired{when}: its tier and prices are shown as history, but "
        f"the API no longer serves it; use {_instead(cat, model, pricing=True)}"
    )
