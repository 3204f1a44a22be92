"""Transient progress bars on stderr, shown only when the caller says stderr is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TextIO

from vision_cli.render.output import console
from vision_cli.render.text import money

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    # type only: a runtime import of the --each core would load it on every command's start-up
    from vision_cli.bulk.summary import Tick


@contextmanager
def progress(
    total: int | None, label: str, *, enabled: bool, stream: TextIO | None = None
) -> Iterator[Callable[[int], None]]:
    """A transient progress bar on ``stream`` (stderr); yields ``advance(n)``. Does nothing
    when disabled."""
    if not enabled:
        yield lambda n: None
        return
    with _bar(label, total, detail=False, stream=stream) as (bar, task):
        yield lambda n: bar.advance(task, n)


@contextmanager
def bulk_progress(
    label: str, *, enabled: bool, stream: TextIO | None = None
) -> Iterator[Callable[[Tick], None]]:
    """A transient bar on stderr: requests done of all, failures, tokens and cost so far, and
    the time left. Yields ``update(tick)``; does nothing when disabled (not a terminal)."""
    if not enabled:
        yield lambda tick: None
        return
    with _bar(label, None, detail=True, stream=stream) as (bar, task):

        def update(tick: Tick) -> None:
            so_far = f"{tick.failed:,} failed, {tick.tokens:,} tokens, {money(tick.cost_usd)}"
            bar.update(task, completed=tick.done, total=tick.total or None, detail=so_far)

        yield update


@contextmanager
def _bar(
    label: str, total: int | None, *, detail: bool, stream: TextIO | None
) -> Iterator[tuple[Progress, TaskID]]:
    """rich's transient bar on stderr: label, bar, done of all, [a ``detail`` field], time left."""
    # lazy: start-up, rich.progress pulls in rich.live and more; only a terminal needs it
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns: list[ProgressColumn] = [TextColumn(label), BarColumn(), MofNCompleteColumn()]
    if detail:
        columns.append(TextColumn("{task.fields[detail]}"))
    columns.append(TimeRemainingColumn())
    with Progress(*columns, console=console(stream or sys.stderr), transient=True) as bar:
        yield bar, bar.add_task(label, total=total, detail="")
