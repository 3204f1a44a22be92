"""The worker side: one job per input (read it, gate it, prepare the output image) in a process
pool, or inline when one worker is enough.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from vision_cli import fetching, judging, policy, sources, tiling, workers
from vision_cli.formats import Target
from vision_cli.imaging import decode, preflight, tiles, transform
from vision_cli.judging import Finding
from vision_cli.resizing.summary import Item, ResizeOptions


class _Job(NamedTuple):
    """One input's work for a worker, with the run's options (it is pickled to the worker)."""

    item: sources.Input
    data: bytes | None  # standard input, read here; files and URLs are read by the worker
    to: Target
    size_policy: policy.SizePolicy
    quality: int | None
    max_bytes: int
    reencode: bool
    tier: policy.Tier
    verify: bool
    tile: tiling.TileSpec | None = None
    trim_fuzz: int | None = None


class Done(NamedTuple):
    """What a worker sends back for one input: the prepared image, or why there is none."""

    prepared: transform.PreparedImage | None
    bytes_before: int | None
    failure: Finding | None
    #: The gate's warnings about the output (``too-small`` for a panorama's sliver).
    warnings: tuple[Finding, ...] = ()
    #: Which file was read (device, inode, size, mtime): in place, only that file is replaced,
    #: and only it becomes the backup.
    identity: tuple[int, int, int, int] | None = None
    #: With --skip-existing: the output that is already up to date (nothing was prepared).
    existing: Path | None = None
    tiled: tiles.Tiled | None = None


def finished(done: Done) -> Future[Done]:
    future: Future[Done] = Future()
    future.set_result(done)
    return future


def identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class Changed(Exception):
    """The input is not the file that was read any more (another run, or an editor)."""


def submit(
    pool: Executor, item: Item, opts: ResizeOptions, stdin: BinaryIO | None
) -> Future[Done] | None:
    if isinstance(item, sources.Problem):
        return None
    data = None
    if item.stdin:
        try:
            data = fetching.read_bytes(item, stdin=stdin)
        except sources.SourceError as exc:
            return finished(Done(None, None, Finding(exc.code, exc.message, final=True)))
    job = _Job(
        item,
        data,
        opts.to,
        opts.size_policy,
        opts.quality,
        opts.max_bytes,
        opts.reencode,
        opts.tier,
        opts.verify,
        opts.tile,
        opts.trim_fuzz,
    )
    return workers.submit(pool, _prepare, job)


def _prepare(job: _Job) -> Done:
    """In a worker: read one input, pass it through the gate, prepare it. Holds one image at a
    time. What the gate refuses (an error ``resize`` cannot fix) fails here, with the gate's
    code and sentence, and nothing is written."""
    path = job.item.path
    seen = None
    try:
        data = job.data
        if data is None:
            if path is not None:
                with contextlib.suppress(OSError):
                    seen = identity(os.stat(path))
            data = fetching.read_bytes(job.item)
            if path is not None and seen is not None:
                try:
                    after = identity(os.stat(path))
                except OSError:
                    after = None
                if after != seen:
                    changed = "it changed while it was read: try again."
                    return Done(None, None, Finding(judging.Code.UNREADABLE, changed, final=True))
    except sources.SourceError as exc:
        return Done(None, None, Finding(exc.code, exc.message, final=True))
    lim = judging.Limits(tier=job.tier, max_bytes=job.max_bytes)
    gated = preflight.judge(data, lim, extension=job.item.extension, verify=job.verify)
    if gated.refusal is not None:
        return Done(None, len(data), gated.refusal)
    try:
        if job.tile is not None:
            tiled = tiles.prepare_tiles(
                data,
                job.tile,
                found=gated.probe,
                size_policy=job.size_policy,
                to=job.to,
                quality=job.quality,
                max_bytes=job.max_bytes,
                trim_fuzz=job.trim_fuzz,
            )
            if tiled is not None:  # each tile judged as the output of a resize is (once
                # for tiles alike: the last of a row may differ)
                judged = tuple(
                    dict.fromkeys(
                        f
                        for t in tiled.tiles
                        for f in preflight.output_findings(
                            t.format, t.width, t.height, len(t.data), lim
                        )
                    )
                )
                return Done(None, len(data), None, judged, seen, tiled=tiled)
        prepared = transform.prepare(
            data,
            found=gated.probe,
            size_policy=job.size_policy,
            to=job.to,
            quality=job.quality,
            max_bytes=job.max_bytes,
            reencode=job.reencode,
            trim_fuzz=job.trim_fuzz,
        )
    except decode.TransformError as exc:
        return Done(None, len(data), exc.finding)
    warnings = preflight.output_findings(
        prepared.format, prepared.width, prepared.height, len(prepared.data), lim
    )
    return Done(prepared, len(data), None, warnings, seen)


class _Inline(Executor):
    """Runs each task at once, in this process: for one job or one input, where a pool would
    only add start-up time."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


@contextlib.contextmanager
def executor(jobs: int, inputs: int) -> Iterator[Executor]:
    if jobs <= 1 or inputs <= 1:
        yield _Inline()
        return
    if workers.context().get_start_method() == "fork":
        decode.load_readers()  # once, inherited by every worker
    with workers.pool(min(jobs, inputs)) as pool:
        yield pool
