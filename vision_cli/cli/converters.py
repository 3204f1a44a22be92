"""Quick value converters for typer's parameters: typer's answers, without importing pydantic.

typer 0.29 converts each parameter's value through a pydantic ``TypeAdapter`` it builds on first
use, even for a value that is absent; the first build imports pydantic, which is about a third of
``vision-cli inspect one.png``'s start-up (docs/performance.md). The values vision-cli's options
take are plain: text, whole and decimal numbers in a range, paths, choices, lists of these.

:func:`seed` gives each such parameter a :class:`QuickParam` before typer parses the command line.
It answers for the plain forms only, through typer's own choice and path functions (so a path is
checked for existence, kind and dash exactly as typer checks it); for anything else (a number
written ``+5`` or ``1_000``, a value out of range, an unknown choice, an empty path, a flag's value
from the environment) it builds typer's own converter then and hands the value over, so the
answer, or the refusal, is typer's in every case. ``tests/test_converters.py`` compares the two
over every parameter of every command and over generated values.

A refusal is worded as vision-cli's (:func:`reworded`), not pydantic's: the same words on the
command line and for a configuration file's value, which is checked through these converters too.

This leans on typer's internals (``typer._coercion``, ``typer._param_types`` and the
``_runtime_param`` slot of ``typer.core._TyperParameter``). When a typer release moves them,
:data:`AVAILABLE` is false, :func:`seed` does nothing and typer converts as it always did; the
start-up test then fails, so the loss of speed is noticed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path
from typing import Any

try:
    from typer._click.exceptions import BadParameter
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_choice, coerce_cli_path
    from typer.core import _TyperParameter

    AVAILABLE = hasattr(_TyperParameter, "get_runtime_param")
except ImportError:  # pragma: no cover - a typer without these internals converts on its own
    AVAILABLE = False

#: A whole number as typer's converter reads it, in its plainest form (no sign ``+``, no ``_``,
#: no spaces, no leading zeros): anything else goes to typer's converter.
_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
#: The same for a decimal number (typer also reads ``1e3``, ``inf`` and ``.5``; those go to it).
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,15})?")


class Unsure(Exception):
    """The value is not in a form :class:`QuickParam` answers for: typer's converter will."""


Convert = Callable[[Any, Any, Any], Any]  # (value, param, ctx) -> the converted value


def _text(value: Any, param: Any, ctx: Any) -> Any:
    if isinstance(value, str):
        return value
    raise Unsure


def _flag(value: Any, param: Any, ctx: Any) -> Any:
    if isinstance(value, bool):
        return value
    raise Unsure  # "yes", "0", " true " from the environment or a configuration: typer reads them


def _number(kind: type[int] | type[float], pattern: re.Pattern[str], info: Any) -> Convert:
    low, high = info.min, info.max

    def convert(value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value):
            number: int | float = value
        elif isinstance(value, str) and pattern.fullmatch(value):
            number = kind(value)
        else:
            raise Unsure
        if (low is not None and number < low) or (high is not None and number > high):
            raise Unsure  # typer's message names the bounds
        return number

    return convert


def _choice(choices: tuple[Any, ...], case_sensitive: bool) -> Convert:
    def convert(value: Any, param: Any, ctx: Any) -> Any:
        try:
            return coerce_cli_choice(value, choices=choices, case_sensitive=case_sensitive, ctx=ctx)
        except Exception:
            raise Unsure from None

    return convert


def _path(info: Any) -> Convert:
    def convert(value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, str) and value and "\0" not in value:
            value = Path(value)  # what typer's pydantic converter makes of plain text
        elif not isinstance(value, Path):
            raise Unsure
        try:
            return coerce_cli_path(value, info, path_type=Path, param=param, ctx=ctx)
        except Exception:
            raise Unsure from None

    return convert


def _listed(item: Convert) -> Convert:
    def convert(value: Any, param: Any, ctx: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise Unsure
        return [item(one, param, ctx) for one in value]

    return convert


def wanted(annotation: Any, info: Any) -> str | None:
    """What a number or a flag takes, in words ("a whole number from 1 to 100", "true or
    false"), from its type and typer's bounds; None for an option of another type."""
    if annotation is bool:
        return "true or false"
    noun = {int: "a whole number", float: "a number"}.get(annotation)
    if noun is None:
        return None
    low, high = (None if b is None else f"{b:g}" for b in (info.min, info.max))
    if low is not None and high is not None:
        return f"{noun} from {low} to {high}"
    if low is not None or high is not None:
        return f"{noun} of at {'least' if low is not None else 'most'} {low or high}"
    return noun


def reworded(message: str, annotation: Any, info: Any) -> str:
    """typer's message refusing a value, in vision-cli's words: what a number option or a flag
    wants (pydantic says "Input should be a valid integer, unable to parse string as an
    integer"), and a choice's list without pydantic's "Value error, " in front."""
    words = wanted(annotation, info)
    return f"expected {words}" if words else message.removeprefix("Value error, ")


def converter(annotation: Any, info: Any) -> Convert | None:
    """The quick converter for values of ``annotation`` (typer's view of the parameter's type)
    with typer's ``info`` (its ``ParameterInfo``), or None where typer alone should convert."""
    if info.parser is not None or getattr(info, "click_type", None) is not None:
        return None
    origin = getattr(annotation, "__origin__", None)
    if origin is list:
        (item_type,) = getattr(annotation, "__args__", (None,))
        item = converter(item_type, info)
        return None if item is None else _listed(item)
    if origin is not None or not isinstance(annotation, type):
        return None
    if issubclass(annotation, Enum):
        return _choice(tuple(annotation), info.case_sensitive)
    if annotation is str:
        return _text
    if annotation is bool:
        return _flag
    if annotation is int:
        return None if info.clamp else _number(int, _INT, info)
    if annotation is float:
        return None if info.clamp else _number(float, _FLOAT, info)
    if annotation is Path and info.path_type in (None, Path):
        return _path(info)
    return None


if AVAILABLE:

    class QuickParam(RuntimeParam):
        """A parameter's converter: :func:`converter`'s answer for a plain value, typer's own
        converter (built on first need) for any other, its refusal :func:`reworded`."""

        def __init__(self, annotation: Any, parameter_info: Any, quick: Convert) -> None:
            super().__init__(parameter_info=parameter_info, annotation=annotation)
            self._quick = quick
            self._typer: Any = None

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return self._quick(value, param, ctx)
            except Unsure:
                pass
            if self._typer is None:
                self._typer = build_runtime_param(param.type_descriptor)
            try:
                return self._typer._coerce_value(value, param=param, ctx=ctx)
            except BadParameter as exc:
                exc.message = reworded(exc.message, self.annotation, self.parameter_info)
                raise


def seed(params: Iterable[Any]) -> None:
    """Give each of typer's ``params`` that has no converter yet a :class:`QuickParam`, where
    :func:`converter` has one for its type."""
    if not AVAILABLE:
        return
    for param in params:
        if not isinstance(param, _TyperParameter):
            continue
        if getattr(param, "_runtime_param", False) is not None:  # built, or not typer 0.29's
            continue
        descriptor = param.type_descriptor
        if descriptor.file_annotation is not None:
            continue
        quick = converter(descriptor.annotation, descriptor.parameter_info)
        if quick is not None:
            param._runtime_param = QuickParam(
                descriptor.annotation, descriptor.parameter_info, quick
            )
