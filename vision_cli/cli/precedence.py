"""How a configured option gives way, so that the command line always wins.

A configuration file sets defaults for every run, but some options only go with others: ``jobs``
means something to ``ask`` only with ``--each`` or ``--batch``, ``include-retired`` only with
``--all-models``; and some exclude others: ``json = true`` and ``--format csv``. A configured
value must never turn a plain command into a usage error, nor beat what the user typed. So,
after parsing and before the command runs, :func:`settle` drops (back to its default) an option
whose value came from a configuration when

- the user gave an option it cannot go with (:attr:`Yield.to`), or
- none of the options it goes with is in effect (:attr:`Yield.needs`).

An option the user gave is never dropped: the command's own check then says what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Final, NamedTuple

if TYPE_CHECKING:
    from typer._click.core import Context

#: Where a value came from when the user gave it for this run.
_GIVEN: Final = frozenset({"COMMANDLINE", "ENVIRONMENT", "PROMPT"})


class Yield(NamedTuple):
    """One configured option (by parameter name) and what it gives way to."""

    option: str
    #: Options that win over it when the user gives them.
    to: tuple[str, ...] = ()
    #: It goes with these: without one of them in effect it is dropped.
    needs: tuple[str, ...] = ()


_FORMAT = (Yield("json_flag", to=("fmt",)), Yield("fmt", to=("json_flag",)))
_TILES = (Yield("tile_overlap", needs=("tile",)),)
_BULK = ("each", "batch")

#: Each command's rules, applied in order: the ``to`` rules first, so that a ``needs`` rule sees
#: what is left (``out`` dropped for ``--in-place``, then ``skip-existing`` without ``out``).
RULES: Final[Mapping[str, tuple[Yield, ...]]] = {
    "inspect": _FORMAT,
    "resize": (
        *_FORMAT,
        Yield("out", to=("in_place",)),
        Yield("in_place", to=("out",)),
        Yield("backup", needs=("in_place",)),
        Yield("skip_existing", needs=("out",)),
        *_TILES,
    ),
    "estimate": (*_FORMAT, Yield("include_retired", needs=("all_models",)), *_TILES),
    "ask": (
        Yield("each", to=("batch", "conversation")),
        Yield("batch", to=("each", "conversation")),
        Yield("conversation", to=_BULK),
        Yield("output", needs=_BULK),
        Yield("jobs", needs=_BULK),
        Yield("rerun", needs=_BULK),
        Yield("no_wait", needs=("batch",)),
        *_TILES,
    ),
    "compare": _TILES,
    "locate": _FORMAT,
    "results": (
        *_FORMAT,
        Yield("fmt", to=("failed",)),
        Yield("json_flag", to=("failed",)),
        Yield("null", needs=("failed",)),
    ),
    "models": _FORMAT,
}


def settle(ctx: Context, command: str) -> None:
    """Drop the configured options of ``command`` that give way (see the module's text)."""
    rules = RULES.get(command, ())
    if not rules or not ctx.default_map:
        return
    from typer._click.core import ParameterSource  # lazy: only a run with a configuration

    def source(name: str) -> str | None:
        found = ctx.get_parameter_source(name)
        return found.name if found is not None else None

    defaults = {p.name: p.default for p in ctx.command.params if p.name}
    ordered = sorted(rules, key=lambda rule: not rule.to)  # every ``to`` rule first
    for rule in ordered:
        if source(rule.option) != "DEFAULT_MAP":
            continue
        beaten = any(source(name) in _GIVEN for name in rule.to)
        unmet = bool(rule.needs) and not any(ctx.params.get(name) for name in rule.needs)
        if beaten or unmet:
            ctx.params[rule.option] = defaults.get(rule.option)
            ctx.set_parameter_source(rule.option, ParameterSource.DEFAULT)
