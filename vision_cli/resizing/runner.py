"""The run: start the workers, hand them the inputs a few at a time, and turn what comes back into
one :class:`~vision_cli.resizing.summary.Outcome` per input, in the inputs' order.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import BinaryIO

from vision_cli import fsutil, judging, sources, workers
from vision_cli.imaging import probe
from vision_cli.resizing.jobs import Done, executor, finished, submit
from vision_cli.resizing.outputs import Planner, claim_key
from vision_cli.resizing.summary import AHEAD_PER_JOB, Item, Outcome, ResizeOptions


@contextlib.contextmanager
def run(
    items: Sequence[Item], opts: ResizeOptions, *, stdin: BinaryIO | None = None
) -> Iterator[Iterator[Outcome]]:
    """Start the workers and give an iterator of one outcome per item, in the items' order.

    Images are prepared in ``opts.jobs`` worker processes, started on entering (so before any
    thread, such as a progress bar's, exists to be forked); outputs are checked and written here,
    one at a time, so that claims on output names are decided in input order. Leaving the block
    early (a KeyboardInterrupt included) stops the workers; nothing half-written is left under an
    output's name.
    """
    items = [i for i in items if not _inside_out(i, opts.out)]
    if opts.out is None:
        items = _each_file_once(items)
    plan = Planner(opts, items)
    paths = sum(1 for i in items if isinstance(i, sources.Input))
    probe.reuse_memory()  # before the workers are forked, so they inherit it
    try:
        with executor(opts.jobs, paths) as pool:
            yield _outcomes(pool, items, plan, opts, stdin)
    finally:
        plan.sync()


def _outcomes(
    pool: Executor,
    items: Sequence[Item],
    plan: Planner,
    opts: ResizeOptions,
    stdin: BinaryIO | None,
) -> Iterator[Outcome]:
    pending: deque[tuple[Item, Future[Done] | None]] = deque()
    queue = iter(items)
    window = max(1, opts.jobs) * AHEAD_PER_JOB
    while True:
        while len(pending) < window:
            item = next(queue, None)
            if item is None:
                break
            existing = plan.up_to_date(item) if opts.skip_existing else None
            if existing is not None:
                pending.append((item, finished(Done(None, None, None, existing=existing))))
            else:
                pending.append((item, submit(pool, item, opts, stdin)))
        if not pending:
            return
        item, future = pending.popleft()
        yield plan.finish(item, _result(future, pool))


def _result(future: Future[Done] | None, pool: Executor) -> Done | None:
    if future is None:
        return None
    try:
        return workers.result(future, pool)
    except BrokenProcessPool:
        workers.interrupt_if_stopped(pool)  # not killed by memory: the run is interrupted
        return Done(None, None, judging.WORKER_DIED)


def _each_file_once(items: Sequence[Item]) -> list[Item]:
    """In place, each file is replaced once: an input that leads through symbolic links to the
    file of an input before it (``b.jpg -> a.jpg`` beside ``a.jpg``) is taken once, where it
    first comes, as a path named twice is. Replaced twice, the second would find a file other
    than the one it read ("changed since it was read"). Hard links are names of their own: each
    gets its own new file."""
    seen: set[str] = set()
    kept: list[Item] = []
    for item in items:
        if isinstance(item, sources.Input) and item.path is not None:
            real = os.path.realpath(item.path)
            if real in seen:
                continue
            seen.add(real)
        kept.append(item)
    return kept


def _inside_out(item: Item, out: Path | None) -> bool:
    """Whether ``item`` was found below an output folder that lies inside the folder walked: it
    is an earlier run's output, never an input."""
    if out is None or not isinstance(item, sources.Input):
        return False
    if item.path is None or item.root is None:
        return False
    try:
        out_dir, root = fsutil.resolved(out), fsutil.resolved(item.root)
        return (
            out_dir != root
            and out_dir.is_relative_to(root)
            and claim_key(item.path).is_relative_to(out_dir)
        )
    except OSError:
        return False
