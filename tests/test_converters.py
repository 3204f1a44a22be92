"""The quick value converters give typer's own answer, or typer's own error, for every value.

:mod:`vision_cli.cli.converters` converts the plain values of vision-cli's options without
typer 0.29's pydantic converters, and hands anything else to them. These tests build every
command of the whole application, and for every parameter the quick converters take, compare
their result with typer's own converter's, value by value: the same value of the same type, or
the same exception with the same message, as vision-cli words it (never pydantic's words). The
values are generated (Hypothesis) around what each parameter takes: its choices in any case,
numbers in plain and unusual forms and around its bounds, paths, text of any kind, lists, the
defaults, and values of the wrong type.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer._click.exceptions import BadParameter
from typer._coercion import RuntimeParam, build_runtime_param
from typer.core import _TyperParameter

from tests import imagekit as k
from tests.conftest import imported_by
from vision_cli.cli import app, converters

pytestmark = pytest.mark.skipif(
    not converters.AVAILABLE, reason="never: the installed typer is the one pinned in pyproject"
)


def _commands() -> list[tuple[str, Any, Any]]:
    """Every (name, click command, click context) of the whole app, groups' subcommands too."""
    found: list[tuple[str, Any, Any]] = []

    def walk(name: str, command: Any) -> None:
        ctx = command.make_context(name, [], resilient_parsing=True)
        found.append((name, command, ctx))
        for sub_name, sub in getattr(command, "commands", {}).items():
            walk(f"{name} {sub_name}", sub)

    walk("vision-cli", typer.main.get_command(app.whole()))
    return found


def _params() -> list[tuple[str, Any, Any]]:
    seen = []
    for name, command, ctx in _commands():
        for param in command.get_params(ctx):
            if not isinstance(param, _TyperParameter):
                continue
            desc = param.type_descriptor
            if desc.file_annotation is None and converters.converter(
                desc.annotation, desc.parameter_info
            ):
                label = min(param.opts, key=lambda o: (-len(o), o)) if param.opts else param.name
                seen.append((f"{name} {label}", param, ctx))
    return seen


PARAMS = _params()


def jobs() -> tuple[str, Any, Any]:
    """``inspect --jobs`` (a whole number from 1 to 256)."""
    return next(p for p in PARAMS if p[0] == "vision-cli inspect --jobs")


def outcome(
    runtime: RuntimeParam, value: Any, param: Any, ctx: Any, *, reword: bool = False
) -> tuple[object, ...]:
    """What ``runtime`` makes of ``value``; ``reword``: a refusal in vision-cli's words, as the
    quick converter words typer's."""
    try:
        result = runtime.coerce(value, param=param, ctx=ctx)
    except Exception as exc:  # typer's errors: the same type and the same words
        if reword and isinstance(exc, BadParameter):
            desc = param.type_descriptor
            exc.message = converters.reworded(exc.message, desc.annotation, desc.parameter_info)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return ("error", type(exc), message)
    if isinstance(result, float) and math.isnan(result):
        return ("ok", float, "nan")  # nan equals nothing, itself included
    return ("ok", type(result), result)


def both(param: Any, ctx: Any, value: Any) -> tuple[tuple[object, ...], tuple[object, ...]]:
    desc = param.type_descriptor
    quick = converters.converter(desc.annotation, desc.parameter_info)
    assert quick is not None
    mine = converters.QuickParam(desc.annotation, desc.parameter_info, quick)
    slow = outcome(build_runtime_param(desc), value, param, ctx, reword=True)
    return outcome(mine, value, param, ctx), slow


def _cased(text: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda up: "".join(c.upper() if u else c for c, u in zip(text, up, strict=True))
    )


def values_for(param: Any) -> st.SearchStrategy[Any]:
    """Values around what ``param`` takes, in the forms a command line, the environment or a
    configuration file gives."""
    info = param.type_descriptor.parameter_info
    words = [str(getattr(c, "value", c)) for c in (param.type_descriptor.choices or ())]
    bounds = [b for b in (info.min, info.max) if b is not None]
    numbers = st.one_of(
        st.integers(-(10**20), 10**20),
        st.sampled_from([b + d for b in bounds for d in (-1, 0, 1)] or [0]),
        st.floats(allow_nan=True, allow_infinity=True),
    )
    text = st.one_of(
        st.text(),
        st.text(st.characters(exclude_categories=())),  # lone surrogates: names not in UTF-8
        st.text(alphabet="0123456789-+._ eE", max_size=8),
        numbers.map(str),
        st.sampled_from(["", " ", "-", "~", "a/b", "/", ".", "\0x", "yes", "no", "auto", "1e3"]),
        *[_cased(w) for w in words],
        *[st.just(f" {w}") for w in words],
    )
    single = st.one_of(
        text,
        numbers,
        st.booleans(),
        st.none(),
        st.just(param.default),
        st.sampled_from([*(param.type_descriptor.choices or ()), Path("x.png")]),
        st.binary(max_size=4),
    )
    return st.one_of(single, st.lists(single, max_size=3), st.lists(text, max_size=3).map(tuple))


@pytest.mark.parametrize(("param", "ctx"), [p[1:] for p in PARAMS], ids=[p[0] for p in PARAMS])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_quick_conversion_gives_typers_answer(param: Any, ctx: Any, data: st.DataObject) -> None:
    value = data.draw(values_for(param))
    quick, slow = both(param, ctx, value)
    assert quick == slow
    assert not any(words in str(quick[-1]) for words in ("Input should", "Value error"))


def test_every_kind_of_option_is_covered() -> None:
    """The comparison above runs over choices, whole and decimal numbers with bounds, paths,
    text, flags and lists (so a parameter kind that stopped being quick would show here)."""
    annotations = {str(p.type_descriptor.annotation) for _, p, _ in PARAMS}
    assert {"<class 'int'>", "<class 'float'>", "<class 'str'>", "<class 'bool'>"} <= annotations
    assert "<class 'pathlib.Path'>" in annotations
    assert any(p.type_descriptor.choices for _, p, _ in PARAMS)
    assert any(p.type_descriptor.is_list for _, p, _ in PARAMS)
    assert len(PARAMS) > 100  # every command's options, not a few


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("4", 4),
        ("+4", 4),
        (" 4", 4),
        ("1_0", 10),
        ("0", None),
        ("-0", None),
        ("0x", None),
        ("", None),
    ],
)
def test_a_number_in_an_unusual_form_is_typers_to_read(value: str, expected: int | None) -> None:
    """``--jobs``: the quick converter reads "4" itself and hands "+4", " 4" and "1_0" to typer,
    which reads them; both refuse "0" (below 1), "0x" and "" in typer's words."""
    (_, param, ctx) = jobs()
    quick, slow = both(param, ctx, value)
    assert quick == slow
    assert quick[0] == ("ok" if expected is not None else "error")
    if expected is not None:
        assert quick[2] == expected


def test_seed_leaves_built_and_foreign_parameters_alone() -> None:
    (_, param, _ctx) = jobs()
    built = build_runtime_param(param.type_descriptor)
    param._runtime_param = built
    converters.seed([param, object()])
    assert param._runtime_param is built
    param._runtime_param = None
    converters.seed([param])
    assert isinstance(param._runtime_param, converters.QuickParam)


def test_without_typers_internals_seed_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    (_, param, _ctx) = jobs()
    param._runtime_param = None
    monkeypatch.setattr(converters, "AVAILABLE", False)
    converters.seed([param])
    assert param._runtime_param is None


@pytest.mark.parametrize(
    "args",
    [
        ["inspect", "--format", "JSONL", "--jobs", "2", "--exclude", "*.gif", "--max-bytes", "5MB"],
        ["resize", "--max-edge", "800", "--quality", "80", "--dry-run", "--out", "OUT"],
        ["estimate", "--model", "opus", "--format", "csv"],
    ],
)
def test_a_plain_run_never_imports_pydantic(args: list[str], tmp_path: Path) -> None:
    image = tmp_path / "one.png"
    k.write(image, k.photo((32, 24)))
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    imported = imported_by(*args, image)
    assert "vision_cli.cli.converters" in imported  # the measurement works
    assert not {m for m in imported if m.split(".")[0] == "pydantic"}


def test_a_value_typer_must_read_is_refused_in_our_words(tmp_path: Path) -> None:
    """A bad value is refused in vision-cli's words (not pydantic's), in a real process (where
    pydantic is loaded for it), and a value only typer reads ("+2") is read."""
    image = tmp_path / "one.png"
    k.write(image, k.photo((32, 24)))
    cmd = [sys.executable, "-m", "vision_cli", "inspect", str(image), "--jobs"]
    bad = subprocess.run([*cmd, "0"], capture_output=True, text=True)
    assert bad.returncode == 2
    words = " ".join(bad.stderr.replace("\u2502", " ").split())  # the panel's lines, joined
    assert "Invalid value for '--jobs' / '-j': expected a whole number from 1 to 256" in words
    good = subprocess.run([*cmd, "+2"], capture_output=True, text=True)
    assert good.returncode == 0, good.stderr


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, "nan", "inf", "-inf", "NaN", 1.5, "1.5", "0.0"]
)
def test_a_decimal_that_is_not_finite_is_typers_to_judge(value: object) -> None:
    """A bounded decimal option (``--timeout``) given nan or infinity: typer's answer, whatever
    the form (a configuration file gives floats, the command line text)."""
    (_, param, ctx) = next(p for p in PARAMS if p[0].endswith(" ask --timeout"))
    assert param.type_descriptor.parameter_info.min is not None  # bounded, as the test needs
    quick, slow = both(param, ctx, value)
    assert quick == slow
