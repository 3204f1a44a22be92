"""vision_cli.render.bars: progress bars drawn only on a terminal."""

from __future__ import annotations

import io
import sys

import pytest

from vision_cli.render import bars


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
    with bars.progress(40, "inspecting", enabled=True) as advance:
        advance(25)
    assert "inspecting" in terminal.getvalue() and "25/40" in terminal.getvalue()
    terminal.seek(0)
    terminal.truncate()
    with bars.progress(40, "inspecting", enabled=False) as advance:
        advance(25)
    assert terminal.getvalue() == ""


def test_bulk_progress_shows_failures_tokens_and_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    from vision_cli.bulk.summary import Tick

    terminal = on_terminal(monkeypatch)
    with bars.bulk_progress("asking", enabled=True) as update:
        update(Tick(done=7, total=20, failed=2, tokens=12_345, cost_usd=0.0456))
    shown = terminal.getvalue()
    assert "7/20" in shown and "2 failed" in shown
    assert "12,345 tokens" in shown and "$0.05" in shown
