"""The core of ``vision-cli resize``: plan each output, prepare images in a process pool, write them
atomically, and say what happened to each input.

Nothing is ever lost: an output appears under its final name only when it is complete (it is
written to an unnamed or hidden temporary file in the same folder, flushed to disk, then linked or
renamed into place); an existing file is replaced only with ``overwrite`` or when it is the input
being resized in place; an input is never the output of another input; and an original whose name
changes in place is removed only after its replacement is complete.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, Literal

from vision_cli import judging, limits, names, policy, sources, tiling, workers
from vision_cli.fsutil import hidden_temp_name, sync_folder, write_atomic
from vision_cli.imaging import preflight, probe, transform
from vision_cli.judging import Finding

Action = Literal["resized", "converted", "copied", "skipped", "tiled", "failed"]

#: The file-name extension each output format gets when the input's own does not name it.
EXTENSIONS: dict[str, str] = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif"}
#: Tasks handed to the pool ahead of the one being written, per worker: enough to keep every
#: worker busy, few enough that results wait in input order without piling up in memory.
_AHEAD_PER_JOB = 4


# --------------------------------------------------------------------------------------------------
# Options and results
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResizeOptions:
    """Everything one run needs; ``out`` None means in place."""

    size_policy: policy.SizePolicy
    tier: policy.Tier
    out: Path | None = None
    to: transform.Target = "auto"
    quality: int | None = None
    max_bytes: int = limits.DEFAULT_MAX_BYTES
    reencode: bool = False
    overwrite: bool = False
    backup: str | None = None
    dry_run: bool = False
    jobs: int = 1
    #: An output that exists and is newer than its input is ``skipped`` (not read, not written).
    skip_existing: bool = False
    #: Decode every input before it is copied or converted (``--verify``), as ``inspect --verify``.
    verify: bool = False
    #: ``--tile``: cut images into tiles (``NAME.tile-01.jpg`` ... and ``NAME.tiles.json``).
    tile: tiling.TileSpec | None = None
    #: ``--trim``: levels a border may stray from its colour (None: no trimming).
    trim_fuzz: int | None = None


def size_policy_for(
    tier: policy.Tier,
    *,
    native: bool,
    max_edge: int | None = None,
    max_megapixels: float | None = None,
    max_tokens: int | None = None,
) -> tuple[policy.SizePolicy, list[str]]:
    """The policy the options ask for, never beyond what ``tier`` processes unshrunk, and a
    warning for each bound that had to be lowered to it.

    ``native`` starts from the model's exact native size; otherwise from the seed's 1568 px /
    1.15 MP recommendation. ``max_edge`` and ``max_megapixels`` replace the starting bounds;
    ``max_tokens`` caps the patch tokens.
    """
    base = policy.SizePolicy.native(tier) if native else policy.SizePolicy.recommended()
    edge = base.max_edge if max_edge is None else max_edge
    pixels = base.max_pixels if max_megapixels is None else max(1, round(max_megapixels * 1e6))
    tokens = tier.max_tokens if max_tokens is None else max_tokens
    warnings: list[str] = []
    if edge > tier.max_edge:
        warnings.append(
            f"--max-edge {edge} is above the {tier.max_edge} px the {tier.name} tier processes "
            f"unshrunk: using {tier.max_edge} (pass --model for a high-res model)"
        )
        edge = tier.max_edge
    if tokens > tier.max_tokens:
        warnings.append(
            f"--max-tokens {tokens} is above the {tier.max_tokens} tokens of the {tier.name} "
            f"tier: using {tier.max_tokens}"
        )
        tokens = tier.max_tokens
    return policy.SizePolicy(edge, max_pixels=pixels, max_tokens=tokens), warnings


@dataclass(frozen=True)
class Outcome:
    """What happened to one input. ``as_dict`` gives the JSON record with the documented names."""

    input: str
    action: Action
    output: str | None = None
    format_before: str | None = None
    format_after: str | None = None
    width_before: int | None = None
    height_before: int | None = None
    width_after: int | None = None
    height_after: int | None = None
    bytes_before: int | None = None
    bytes_after: int | None = None
    tokens_before: int | None = None
    tokens_after: int | None = None
    quality: int | None = None
    error: str | None = None
    #: The gate's findings: the error that failed the input, or the warnings of its output.
    findings: tuple[Finding, ...] = ()
    #: ``tiled``: how many tiles were written (``output`` is then the ``NAME.tiles.json`` sidecar).
    tiles: int | None = None
    #: ``--trim``: the box kept, ``[left, top, right, bottom]`` in the upright original.
    trim: tuple[int, int, int, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "action": self.action,
            "format_before": self.format_before,
            "format_after": self.format_after,
            "width_before": self.width_before,
            "height_before": self.height_before,
            "width_after": self.width_after,
            "height_after": self.height_after,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "tokens_before": self.tokens_before,
            "tokens_after": self.tokens_after,
            "quality": self.quality,
            "error": self.error,
            "findings": [f.as_dict() for f in self.findings],
            "tiles": self.tiles,
            "trim": list(self.trim) if self.trim is not None else None,
        }


@dataclass
class ResizeTotals:
    """Running totals over outcomes; money is per 1,000 sends of every output at ``price``."""

    model: str
    price: float | None  # USD per million input tokens (None: no price known for the model)
    dry_run: bool = False
    files: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("resized", "converted", "copied", "skipped", "failed"), 0
        )
    )
    bytes_before: int = 0
    bytes_after: int = 0
    tokens_before: int = 0
    tokens_after: int = 0

    def add(self, outcome: Outcome) -> None:
        self.files += 1
        self.counts[outcome.action] = self.counts.get(outcome.action, 0) + 1  # tiled: when any
        if outcome.action not in ("failed", "skipped"):
            self.bytes_before += outcome.bytes_before or 0
            self.bytes_after += outcome.bytes_after or 0
            self.tokens_before += outcome.tokens_before or 0
            self.tokens_after += outcome.tokens_after or 0

    @property
    def failed(self) -> int:
        return self.counts["failed"]

    def shown_counts(self) -> dict[str, int]:
        """The counts a report shows: ``skipped`` only when there are some (--skip-existing)."""
        return {a: n for a, n in self.counts.items() if n or a != "skipped"}

    @property
    def usd_saved_per_1000(self) -> float | None:
        if self.price is None:
            return None
        return policy.cost_usd((self.tokens_before - self.tokens_after) * 1000, self.price)

    def as_dict(self) -> dict[str, Any]:
        saved = self.usd_saved_per_1000
        return {
            "files": self.files,
            **self.counts,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "bytes_saved": self.bytes_before - self.bytes_after,
            "tokens_before": self.tokens_before,
            "tokens_after": self.tokens_after,
            "tokens_saved": self.tokens_before - self.tokens_after,
            "model": self.model,
            "usd_per_mtok": self.price,
            "usd_saved_per_1000_sends": None if saved is None else round(saved, 6),
            "dry_run": self.dry_run,
        }


# --------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------

Item = sources.Input | sources.Problem


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
    plan = _Planner(opts, items)
    paths = sum(1 for i in items if isinstance(i, sources.Input))
    probe.reuse_memory()  # before the workers are forked, so they inherit it
    try:
        with _executor(opts.jobs, paths) as pool:
            yield _outcomes(pool, items, plan, opts, stdin)
    finally:
        plan.sync()


def _outcomes(
    pool: Executor,
    items: Sequence[Item],
    plan: _Planner,
    opts: ResizeOptions,
    stdin: BinaryIO | None,
) -> Iterator[Outcome]:
    pending: deque[tuple[Item, Future[_Done] | None]] = deque()
    queue = iter(items)
    window = max(1, opts.jobs) * _AHEAD_PER_JOB
    while True:
        while len(pending) < window:
            item = next(queue, None)
            if item is None:
                break
            existing = plan.up_to_date(item) if opts.skip_existing else None
            if existing is not None:
                pending.append((item, _finished(_Done(None, None, None, existing=existing))))
            else:
                pending.append((item, _submit(pool, item, opts, stdin)))
        if not pending:
            return
        item, future = pending.popleft()
        yield plan.finish(item, _result(future))


def _result(future: Future[_Done] | None) -> _Done | None:
    if future is None:
        return None
    try:
        return future.result()
    except BrokenProcessPool:
        return _Done(
            None,
            None,
            Finding(
                judging.Code.UNREADABLE,
                "the worker process preparing it died (out of memory?): run again with fewer "
                "--jobs.",
                final=True,
            ),
        )


def _inside_out(item: Item, out: Path | None) -> bool:
    """Whether ``item`` was found below an output folder that lies inside the folder walked: it
    is an earlier run's output, never an input."""
    if out is None or not isinstance(item, sources.Input):
        return False
    if item.path is None or item.root is None:
        return False
    try:
        out_dir, root = out.resolve(), item.root.resolve()
        return (
            out_dir != root
            and out_dir.is_relative_to(root)
            and _key(item.path).is_relative_to(out_dir)
        )
    except OSError:
        return False


@dataclass(frozen=True)
class _Job:
    item: sources.Input
    data: bytes | None  # standard input, read here; files and URLs are read by the worker
    to: transform.Target
    size_policy: policy.SizePolicy
    quality: int | None
    max_bytes: int
    reencode: bool
    tier: policy.Tier
    verify: bool
    tile: tiling.TileSpec | None = None
    trim_fuzz: int | None = None


@dataclass(frozen=True)
class _Done:
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
    tiled: transform.Tiled | None = None


def _finished(done: _Done) -> Future[_Done]:
    future: Future[_Done] = Future()
    future.set_result(done)
    return future


def identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class _Changed(Exception):
    """The input is not the file that was read any more (another run, or an editor)."""


def _submit(
    pool: Executor, item: Item, opts: ResizeOptions, stdin: BinaryIO | None
) -> Future[_Done] | None:
    if isinstance(item, sources.Problem):
        return None
    data = None
    if item.stdin:
        try:
            data = sources.read_bytes(item, stdin=stdin)
        except sources.SourceError as exc:
            return _finished(_Done(None, None, Finding(exc.code, exc.message, final=True)))
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
    return pool.submit(_prepare, job)


def _prepare(job: _Job) -> _Done:
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
            data = sources.read_bytes(job.item)
            if path is not None and seen is not None:
                try:
                    after = identity(os.stat(path))
                except OSError:
                    after = None
                if after != seen:
                    changed = "it changed while it was read: try again."
                    return _Done(None, None, Finding(judging.Code.UNREADABLE, changed, final=True))
    except sources.SourceError as exc:
        return _Done(None, None, Finding(exc.code, exc.message, final=True))
    lim = judging.Limits(tier=job.tier, max_bytes=job.max_bytes)
    gated = preflight.judge(data, lim, extension=job.item.extension, verify=job.verify)
    if gated.refusal is not None:
        return _Done(None, len(data), gated.refusal)
    try:
        if job.tile is not None:
            tiled = transform.prepare_tiles(
                data,
                job.tile,
                found=gated.probe,
                size_policy=job.size_policy,
                to=job.to,
                quality=job.quality,
                max_bytes=job.max_bytes,
            )
            if tiled is not None:  # each tile judged as the output of a resize is
                judged = tuple(
                    f
                    for t in tiled.tiles
                    for f in preflight.output_findings(
                        t.format, t.width, t.height, len(t.data), lim
                    )
                )
                return _Done(None, len(data), None, judged, seen, tiled=tiled)
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
    except transform.TransformError as exc:
        return _Done(None, len(data), exc.finding)
    warnings = preflight.output_findings(
        prepared.format, prepared.width, prepared.height, len(prepared.data), lim
    )
    return _Done(prepared, len(data), None, warnings, seen)


class _Inline(Executor):
    """Runs each task at once, in this process: for one job or one input, where a pool would
    only add start-up time."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


@contextlib.contextmanager
def _executor(jobs: int, inputs: int) -> Iterator[Executor]:
    if jobs <= 1 or inputs <= 1:
        yield _Inline()
        return
    pool = ProcessPoolExecutor(
        max_workers=min(jobs, inputs),
        mp_context=workers.context(),
        initializer=workers.start_worker,
    )
    try:
        pool.submit(_ready).result()  # start the workers now
        yield pool
    finally:
        # On Ctrl-C or an early close: drop what has not started; running tasks only compute.
        pool.shutdown(wait=True, cancel_futures=True)


def _ready() -> None:
    """A task that does nothing: submitting it starts the pool's workers."""


# --------------------------------------------------------------------------------------------------
# Outputs: names, claims, writing
# --------------------------------------------------------------------------------------------------


def sidecar_document(source: str, tiled: transform.Tiled, files: Sequence[str]) -> str:
    """``NAME.tiles.json``: where each tile lies in the original, so coordinates found in a tile
    map back: ``original = offset + point_in_tile * scale`` (per axis). A name that is not UTF-8
    is written as JSON records write it: ``\\udcff`` escapes, and ``source_bytes`` or
    ``file_bytes`` beside it with the name's bytes in base64 (:mod:`vision_cli.names`)."""
    grid = tiled.grid
    doc = {
        "version": 1,
        "source": source,
        "width": grid.width,
        "height": grid.height,
        "rows": grid.rows,
        "columns": grid.columns,
        "overlap": [grid.overlap_x, grid.overlap_y],
        "tiles": [
            {"file": name, **where.as_dict()}
            for name, where in zip(files, tiled.placements(), strict=True)
        ],
    }
    return names.dumps(doc, indent=1) + "\n"


def output_name(path: Path, fmt: str) -> Path:
    """``path`` with the extension of ``fmt``; an extension that already names it is kept as
    written (``.JPG``, ``.jpeg``)."""
    suffix = path.suffix.lower()
    if fmt in judging.EXTENSION_FORMATS.get(suffix, frozenset()):
        return path
    stem = path.stem if suffix in judging.IMAGE_EXTENSIONS else path.name
    return path.with_name(stem + EXTENSIONS[fmt])


class _Planner:
    """Decides each output's name, refuses unsafe ones, and writes (unless a dry run)."""

    def __init__(self, opts: ResizeOptions, items: Iterable[Item]) -> None:
        self.opts = opts
        self.inputs = {
            _key(i.path) for i in items if isinstance(i, sources.Input) and i.path is not None
        }
        self.claimed: dict[Path, str] = {}
        #: Folders written into with --out: their entries are flushed once, at the end.
        self.written: set[Path] = set()

    def sync(self) -> None:
        """Flush the entries of every folder written into (each file's data already is)."""
        for folder in sorted(self.written):
            sync_folder(folder)
        self.written.clear()

    def finish(self, item: Item, done: _Done | None) -> Outcome:
        if isinstance(item, sources.Problem):
            return Outcome(item.label, "failed", error=item.message)
        assert done is not None
        if done.existing is not None:
            self.claimed[_key(done.existing)] = item.label
            return Outcome(item.label, "skipped", output=str(done.existing))
        if done.tiled is not None:
            return self._finish_tiles(item, done.tiled, done.bytes_before)
        if done.prepared is None:
            assert done.failure is not None
            return Outcome(
                item.label,
                "failed",
                bytes_before=done.bytes_before,
                error=done.failure.message,
                findings=(done.failure,),
            )
        p = done.prepared
        outcome = Outcome(
            input=item.label,
            action=p.action,
            format_before=p.source_format,
            format_after=p.format,
            width_before=p.source_width,
            height_before=p.source_height,
            width_after=p.width,
            height_after=p.height,
            bytes_before=done.bytes_before,
            bytes_after=len(p.data),
            tokens_before=policy.predict(p.source_width, p.source_height, self.opts.tier).tokens,
            tokens_after=policy.predict(p.width, p.height, self.opts.tier).tokens,
            quality=p.quality,
            findings=done.warnings,
            trim=p.trim,
        )
        target = self._target(item, p.format)
        outcome = replace(outcome, output=str(target))
        if self.opts.skip_existing and _newer(target, item) and _key(target) not in self.claimed:
            self.claimed[_key(target)] = item.label
            return Outcome(item.label, "skipped", output=str(target))
        refusal = self._refusal(item, target)
        if refusal is None and not self.opts.dry_run:
            refusal = self._write(item, target, p, done.identity)
        if refusal is not None:
            return Outcome(
                item.label,
                "failed",
                format_before=p.source_format,
                width_before=p.source_width,
                height_before=p.source_height,
                bytes_before=done.bytes_before,
                tokens_before=outcome.tokens_before,
                error=refusal,
            )
        return outcome

    def up_to_date(self, item: Item) -> Path | None:
        """With --skip-existing, before any work: the output of ``item`` when it exists and is
        newer than ``item``. Read from the header alone, so only when the source format decides
        the output's (``--to`` given, or JPEG, PNG, WebP and GIF under ``auto``); the rest are
        checked once prepared."""
        if not isinstance(item, sources.Input) or item.path is None or self.opts.out is None:
            return None
        try:
            head = probe.probe_path(item.path).facts.format
        except probe.ProbeError:
            return None  # the worker reports it
        fmt = transform.output_format_of(head, self.opts.to)
        if fmt is None:
            return None
        target = self._target(item, fmt)
        if _key(target) in self.claimed or not _newer(target, item):
            return None
        return target

    def _finish_tiles(
        self, item: sources.Input, tiled: transform.Tiled, bytes_before: int | None
    ) -> Outcome:
        """Write every tile and the sidecar, or none of them (a refusal for any one fails all)."""
        grid, tiles = tiled.grid, tiled.tiles
        base = self._target(item, tiles[0].format)
        stem = base.name[: -len(base.suffix)] if base.suffix else base.name
        digits = max(2, len(str(len(tiles))))
        paths = [
            base.with_name(f"{stem}.tile-{n:0{digits}d}{EXTENSIONS[p.format]}")
            for n, p in enumerate(tiles, 1)
        ]
        sidecar = base.with_name(f"{stem}.tiles.json")
        outcome = Outcome(
            input=item.label,
            action="tiled",
            output=str(sidecar),
            format_before=tiled.source_format,
            format_after=tiles[0].format,
            width_before=grid.width,
            height_before=grid.height,
            width_after=max(p.width for p in tiles),
            height_after=max(p.height for p in tiles),
            bytes_before=bytes_before,
            bytes_after=sum(len(p.data) for p in tiles),
            tokens_before=policy.predict(grid.width, grid.height, self.opts.tier).tokens,
            tokens_after=sum(
                policy.predict(p.width, p.height, self.opts.tier).tokens for p in tiles
            ),
            quality=tiles[0].quality,
            tiles=len(tiles),
        )
        refusal = next(
            (r for target in (*paths, sidecar) if (r := self._refusal(item, target)) is not None),
            None,
        )
        if refusal is None and not self.opts.dry_run:
            doc = sidecar_document(item.label, tiled, [n.name for n in paths])
            refusal = self._write_files(
                [*zip(paths, (p.data for p in tiles), strict=True), (sidecar, doc.encode())]
            )
        if refusal is not None:
            return replace(outcome, action="failed", output=None, error=refusal, tiles=None)
        return outcome

    def _write_files(self, files: list[tuple[Path, bytes]]) -> str | None:
        """Write new files into ``--out`` (a sentence on the first failure)."""
        for target, data in files:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(target, data, replace=self.opts.overwrite, sync_parent=False)
                self.written.add(target.parent)
            except OSError as exc:
                return _write_failure(exc, target)
        return None

    def _target(self, item: sources.Input, fmt: str) -> Path:
        if self.opts.out is None:
            assert item.path is not None  # the command refuses --in-place for stdin and URLs
            return output_name(item.path, fmt)
        return output_name(self.opts.out / item.relative, fmt)

    def _refusal(self, item: sources.Input, target: Path) -> str | None:
        """Why ``target`` must not be written for ``item`` (None when it may)."""
        key = _key(target)
        in_place = self.opts.out is None
        own = in_place and item.path is not None and key == _key(item.path)
        if key in self.claimed:
            return (
                f"{target} is already the output of {self.claimed[key]}: rename one of them or "
                "resize them into different folders."
            )
        self.claimed[key] = item.label
        if own:
            return None  # in place, under the same name
        if key in self.inputs:
            hint = "" if in_place else " into another folder"
            return f"{target} is an input, which is never overwritten: resize{hint} with --out."
        if not self.opts.overwrite and os.path.lexists(target):
            return f"{target} exists: pass --overwrite to replace it."
        backup = self._backup_path(item.path)
        if backup is not None and not self.opts.overwrite and os.path.lexists(backup):
            return f"the backup {backup} exists: pass --overwrite or another --backup suffix."
        return None

    def _backup_path(self, source: Path | None) -> Path | None:
        if self.opts.backup is None or source is None or self.opts.out is not None:
            return None
        return source.with_name(source.name + self.opts.backup)

    def _write(
        self,
        item: sources.Input,
        target: Path,
        p: transform.PreparedImage,
        seen: tuple[int, int, int, int] | None,
    ) -> str | None:
        """Write one output; a sentence on failure (the input is then untouched)."""
        try:
            if self.opts.out is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(target, p.data, replace=self.opts.overwrite, sync_parent=False)
                self.written.add(target.parent)
            else:
                assert item.path is not None
                self._write_in_place(item.path, target, p, seen)
        except _Changed:
            return (
                f"{item.label} changed since it was read (another run, or an editor?): left as "
                "it is, and its backup too; run again to resize what it holds now."
            )
        except OSError as exc:
            return _write_failure(exc, target)
        return None

    def _write_in_place(
        self,
        source: Path,
        target: Path,
        p: transform.PreparedImage,
        seen: tuple[int, int, int, int] | None,
    ) -> None:
        """Replace ``source`` by the resized image (under ``target``'s name), keeping its mode,
        owner and extended attributes. The file is opened once and checked to be the one that
        was read: only that file is replaced, and only that file becomes the backup (a backup
        is never replaced by anything but the original it backs up, even when two runs work
        on one folder at once)."""
        same = _key(target) == _key(source)
        if same and p.action == "copied":
            return  # nothing to change
        real = Path(os.path.realpath(source))  # through a symbolic link: the file it points to
        fd = os.open(real, os.O_RDONLY)
        try:
            st = os.fstat(fd)
            if seen is not None and identity(st) != seen:
                raise _Changed(source)
            mode = st.st_mode & 0o7777
            backup = self._backup_path(source)
            if same:
                if backup is not None:
                    _backup(fd, real, backup, replace=self.opts.overwrite)
                write_atomic(real, p.data, replace=True, mode=mode, like=fd)
                return
            write_atomic(target, p.data, replace=self.opts.overwrite, mode=mode, like=fd)
            if backup is not None:
                _backup(fd, real, backup, replace=self.opts.overwrite)
            _unlink_if(source, st)
        finally:
            os.close(fd)
        sync_folder(source.parent)


def _newer(target: Path, item: sources.Input) -> bool:
    """Whether ``target`` is a file at least as new as the input file it would be made from."""
    if item.path is None:
        return False  # standard input and URLs have no date to compare
    try:
        return target.is_file() and target.stat().st_mtime >= item.path.stat().st_mtime
    except OSError:
        return False


def _write_failure(exc: OSError, target: Path) -> str:
    """The sentence for an output that could not be written."""
    if isinstance(exc, FileExistsError):
        return f"{target} appeared while resizing: pass --overwrite to replace it."
    reason = (exc.strerror or type(exc).__name__).lower()
    where = exc.filename or target
    return f"cannot write {where} ({reason}): check the folder's permissions and space."


def _key(path: Path) -> Path:
    """One spelling per file: absolute, with symbolic links in its folders resolved."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.parent.resolve() / absolute.name
    except OSError:
        return absolute


def _unlink_if(path: Path, st: os.stat_result) -> None:
    """Remove ``path`` if it is still the file ``st`` describes."""
    try:
        if identity(os.lstat(path)) == identity(st) or os.path.islink(path):
            os.unlink(path)
    except FileNotFoundError:
        pass


def _backup(fd: int, source: Path, backup: Path, *, replace: bool) -> None:
    """Make ``backup`` a second name for the open file ``fd`` (the original that was read): a
    hard link to that very file (through ``/proc/self/fd``, so never to whatever the name
    ``source`` holds by then), or a copy of it where links fail. A backup that already is that
    file is left as it is; another is replaced only with ``replace``."""
    try:
        if os.path.samestat(os.stat(backup), os.fstat(fd)):
            return  # already a link to the original (a hard link made by hand, or a rerun)
    except FileNotFoundError:
        pass
    original = f"/proc/self/fd/{fd}" if os.path.isdir("/proc/self/fd") else str(source)
    temp = backup.with_name(hidden_temp_name(backup.name))
    try:
        os.link(original, temp, follow_symlinks=True)
    except OSError:  # no hard links on this file system (or no /proc): a copy of the same bytes
        size = os.fstat(fd).st_size
        write_atomic(
            backup,
            os.pread(fd, size, 0),
            replace=replace,
            mode=os.fstat(fd).st_mode & 0o7777,
            like=fd,
        )
        return
    try:
        if replace:
            os.replace(temp, backup)
        else:
            os.link(temp, backup)  # refuses to clobber, atomically
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
