"""Rendering details that are easy to get subtly wrong."""

from __future__ import annotations

import io
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vision_cli import render


def test_github_annotation_escaping() -> None:
    line = render.gh_annotation(
        "error", "50% done\r\nnext line", file="dir,x/a:b%.png", title="too-small"
    )
    assert line == "::error file=dir%2Cx/a%3Ab%25.png,title=too-small::50%25 done%0D%0Anext line"


def unescape(text: str) -> str:
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


@given(st.text())
def test_annotation_message_round_trips_and_stays_one_line(message: str) -> None:
    escaped = render.gh_escape_data(message)
    assert "\n" not in escaped and "\r" not in escaped
    assert unescape(escaped) == message


@given(st.text())
def test_annotation_property_has_no_separators(name: str) -> None:
    escaped = render.gh_escape_property(name)
    assert "," not in escaped and ":" not in escaped and "\n" not in escaped
    assert unescape(escaped) == name


@given(st.text())
def test_markdown_cell_never_breaks_a_row(text: str) -> None:
    cell = render.md_cell(text)
    assert "\n" not in cell and "\r" not in cell
    assert "|" not in cell.replace("\\|", "")


class Terminal(io.StringIO):
    """A stream that says it is a terminal, so rich draws its live display into it."""

    def isatty(self) -> bool:
        return True


def on_terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    """Make standard error a terminal. Called in the test itself: pytest's capture puts its own
    ``sys.stderr`` back between a fixture's setup and the test."""
    stream = Terminal()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return stream


def test_progress_draws_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = on_terminal(monkeypatch)
    with render.progress(40, "inspecting", enabled=True) as advance:
        advance(25)
    assert "inspecting" in terminal.getvalue() and "25/40" in terminal.getvalue()
    terminal.seek(0)
    terminal.truncate()
    with render.progress(40, "inspecting", enabled=False) as advance:
        advance(25)
    assert terminal.getvalue() == ""


def test_bulk_progress_shows_failures_tokens_and_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    from vision_cli.bulk.summary import Tick

    terminal = on_terminal(monkeypatch)
    with render.bulk_progress("asking", enabled=True) as update:
        update(Tick(done=7, total=20, failed=2, tokens=12_345, cost_usd=0.0456))
    shown = terminal.getvalue()
    assert "7/20" in shown and "2 failed" in shown
    assert "12,345 tokens" in shown and "$0.05" in shown
