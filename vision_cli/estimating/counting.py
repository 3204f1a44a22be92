"""``--exact``: the API's own token count for the same bytes that were checked, over threads."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

from vision_cli import fetching, limits, sources
from vision_cli.estimating.costing import EstimateRow

if TYPE_CHECKING:
    pass


#: Token-counting requests in flight at once with ``--exact``.
EXACT_WORKERS: Final = 4


def materialize(
    items: Iterable[sources.Input | sources.Problem],
    folder: Path,
    *,
    cap: int,
    stdin: BinaryIO | None = None,
) -> Iterator[sources.Input | sources.Problem]:
    """URL and standard-input images read once into files under ``folder``, so the image that is
    checked is the image that is counted; files pass through. A failed read becomes a Problem."""
    for n, item in enumerate(items):
        if isinstance(item, sources.Problem) or item.path is not None:
            yield item
            continue
        try:
            data = fetching.read_bytes(item, cap=cap, stdin=stdin)
        except sources.SourceError as exc:
            yield sources.Problem(item.label, exc.code, exc.message)
            continue
        path = folder / f"{n}{item.extension}"
        path.write_bytes(data)
        yield sources.Input(item.label, path=path)


def scratch_folder() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="vision-cli-estimate-")


def countable(row: EstimateRow, path: Path | None) -> bool:
    """Whether ``--exact`` can count this row: a priced image with a file and a media type that
    the API takes as it is (with ``--tile``, an image over 8000 px is priced as its tiles, but
    the file itself would only be refused)."""
    return (
        row.priced
        and path is not None
        and row.media_type is not None
        and row.width is not None
        and row.height is not None
        and max(row.width, row.height) <= limits.MAX_DIMENSION
    )


def count_exact(
    rows: Sequence[EstimateRow],
    paths: Sequence[Path | None],
    count: Callable[[bytes, str], int],
    *,
    workers: int = EXACT_WORKERS,
    advance: Callable[[int], None] = lambda n: None,
) -> list[EstimateRow]:
    """``rows`` with ``exact_tokens`` from ``count(data, media_type)`` wherever :func:`countable`.

    At most ``workers`` counts run at once, each reading its own file when it starts; the first
    exception starts nothing more, waits for those already running, and is raised.
    """
    out = list(rows)
    todo = [
        i for i, (row, path) in enumerate(zip(rows, paths, strict=True)) if countable(row, path)
    ]

    def one(i: int) -> int:
        path = paths[i]
        media_type = rows[i].media_type
        assert path is not None and media_type is not None
        return count(path.read_bytes(), media_type)

    if not todo:
        return out
    workers = max(1, min(workers, len(todo)))
    waiting = iter(todo)
    running: dict[Future[int], int] = {}
    pool = ThreadPoolExecutor(max_workers=workers)

    def fill() -> None:  # at most `workers` in flight, so a failure stops what follows
        for i in waiting:
            running[pool.submit(one, i)] = i
            if len(running) >= workers:
                return

    try:
        fill()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                i = running.pop(fut)
                exc = fut.exception()
                if exc is not None:
                    raise exc
                out[i] = replace(out[i], exact_tokens=fut.result())
                advance(1)
            fill()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return out


def exact_difference(row: EstimateRow) -> int | None:
    """Exact count minus the estimate (first model), when both are known."""
    if row.exact_tokens is None or row.reference is None:
        return None
    return row.exact_tokens - row.reference.tokens
