"""The preflight check of one input: what it is, whether the API takes it, what it costs.

This is the core of ``inspect`` (and of ``estimate``): inputs in, :class:`Record` out, one at a
time.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import gc
import itertools
import json
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from vision_cli import fetching, judging, limits, names, policy, sources, workers
from vision_cli.imaging import preflight, probe
from vision_cli.judging import Code, Finding

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future


class Record(NamedTuple):
    """One input's result. ``as_dict`` gives the JSON record, with exactly the documented names."""

    path: str
    model: str
    format: str | None = None
    media_type: str | None = None
    width: int | None = None
    height: int | None = None
    orientation: int = 1
    frames: int = 1
    mode: str | None = None
    bytes: int | None = None
    base64_bytes: int | None = None
    api_width: int | None = None
    api_height: int | None = None
    tokens: int | None = None
    findings: tuple[Finding, ...] = ()

    @property
    def status(self) -> judging.Status:
        return judging.status_of(self.findings)

    @property
    def codes(self) -> list[str]:
        return [f.code.value for f in self.findings]

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "media_type": self.media_type,
            "width": self.width,
            "height": self.height,
            "orientation": self.orientation,
            "frames": self.frames,
            "mode": self.mode,
            "bytes": self.bytes,
            "base64_bytes": self.base64_bytes,
            "model": self.model,
            "api_width": self.api_width,
            "api_height": self.api_height,
            "tokens": self.tokens,
            "status": self.status,
            "findings": [f.as_dict() for f in self.findings],
        }


class CheckOptions(NamedTuple):
    """What every input of one run is checked against."""

    model: str  # the name the user gave (id or alias)
    limits: judging.Limits
    verify: bool = False
    #: Codes left out of every record (``--ignore``): they neither show nor decide the status.
    ignore: frozenset[Code] = frozenset()


def failed(label: str, model: str, code: Code, message: str, **known: Any) -> Record:
    return Record(path=label, model=model, findings=(Finding(code, message),), **known)


def check(item: sources.Input | sources.Problem, opts: CheckOptions) -> Record:
    """The record of one input; never raises for a bad file."""
    return check_keeping_data(item, opts)[0]


def check_keeping_data(
    item: sources.Input | sources.Problem, opts: CheckOptions
) -> tuple[Record, bytes | None]:
    """The record, and the bytes when they had to be read whole (standard input, a URL, a pipe
    or a device named as a file), which no one can read again."""
    if isinstance(item, sources.Problem):
        return failed(item.label, opts.model, item.code, item.message), None
    data: bytes | None = None
    try:
        if item.path is None:
            data = fetching.read_bytes(item)
    except sources.SourceError as exc:
        return failed(item.label, opts.model, exc.code, exc.message), data
    lim = opts.limits
    gated = preflight.judge(
        item.path if data is None else data,  # type: ignore[arg-type]  # one of them is set
        lim,
        extension=item.extension,
        verify=opts.verify,
    )
    data = gated.data if data is None else data
    if gated.probe is None:
        record = Record(
            path=item.label, model=opts.model, format=gated.format, findings=gated.findings
        )
        return record, data
    facts = gated.probe.facts
    pred = gated.prediction or policy.predict(facts.width, facts.height, lim.tier)
    record = Record(
        path=item.label,
        model=opts.model,
        format=facts.format,
        media_type=facts.media_type,
        width=facts.width,
        height=facts.height,
        orientation=facts.orientation,
        frames=facts.frames,
        mode=gated.probe.mode,
        bytes=facts.bytes,
        base64_bytes=facts.base64_bytes,
        api_width=pred.api_width,
        api_height=pred.api_height,
        tokens=pred.tokens,
        findings=tuple(f for f in gated.findings if f.code not in opts.ignore),
    )
    return record, data


_Item = sources.Input | sources.Problem
#: An input, its record, its bytes when they were read, its JSON line when asked for.
Checked = tuple[_Item, Record, bytes | None, str | None]

#: Below this many inputs a pool costs more than it saves (a check takes about 0.1 ms).
PARALLEL_FROM = 500
#: The same with ``verify``, which decodes every image (tens of milliseconds each).
VERIFY_PARALLEL_FROM = 4
#: Handing an input to a worker costs the main process about 40 us and the worker about 15
#: (the walk, pickling, the pool's threads): a plain JPEG, checked in about 60 us, is checked
#: no faster by two workers than here. So without ``verify`` the main process checks inputs
#: itself and times them, and starts the workers only once checks take at least this long on
#: average (in seconds, wall time: slow disks count too); ``docs/performance.md``.
POOL_FROM_SECONDS = 120e-6
#: Checks made before timing any (the interpreter and the caches warm up: the first few take
#: two to five times as long), the checks timed for the first decision, and for each next one.
_WARM_UP = 16
_SAMPLE = 48
_RESAMPLE = 500
#: Inputs handed to a worker at a time: large enough that the hand-off is cheap per input (256
#: took a fifth less CPU than 64 over 3,000 JPEGs; ``docs/performance.md``), one at a time with
#: ``verify``, so that a few images are still shared out.
_CHUNK = 256
#: Tasks (chunks) handed to the workers ahead of the one being reported, per worker: enough that
#: each finds its next chunk waiting, few enough that the results waiting their turn stay few.
_AHEAD_PER_JOB = 4


def check_all(
    items: Iterable[sources.Input | sources.Problem],
    opts: CheckOptions,
    jobs: int = 1,
    *,
    stdin: BinaryIO | None = None,
    lines: bool = False,
) -> Iterator[Checked]:
    """Each input with its record (and its bytes when they were read), in input order, and with
    ``lines`` its JSON line (:func:`json_line`), made where the check ran.

    With ``jobs`` > 1 and at least :data:`PARALLEL_FROM` inputs (:data:`VERIFY_PARALLEL_FROM`
    with ``verify``), the checks may be spread over worker processes: at once with ``verify``,
    otherwise once the checks made here take :data:`POOL_FROM_SECONDS` each on average. The
    records still come back one by one, in order, so output streams and memory stays flat.
    """
    if opts.verify:
        probe.reuse_memory()
    threshold = VERIFY_PARALLEL_FROM if opts.verify else PARALLEL_FROM
    stream = (_read_stdin(item, stdin) for item in items)
    head = list(itertools.islice(stream, threshold if jobs > 1 else 0))
    if len(head) < threshold or jobs <= 1:
        for item in itertools.chain(head, stream):
            yield _checked(item, opts, lines)
        return
    rest: Iterator[_Item] = itertools.chain(head, stream)
    # The first input is checked here: what its check loads (Pillow's openers, unless it is a
    # plain JPEG) is loaded once, before any worker is forked, and they inherit it.
    yield _checked(next(rest), opts, lines)
    if not opts.verify:
        here = functools.partial(_checked, opts=opts, lines=lines)
        rest = yield from _while_cheap(rest, here, POOL_FROM_SECONDS)
        upcoming = next(rest, None)
        if upcoming is None:
            return  # every input was cheap: no worker was needed
        rest = itertools.chain([upcoming], rest)
    yield from _pooled(rest, opts, jobs, lines)


def _while_cheap(
    rest: Iterator[_Item],
    check: Callable[[_Item], Checked],
    limit: float,
    clock: Callable[[], float] = time.perf_counter,
) -> Generator[Checked, None, Iterator[_Item]]:
    """Check inputs here while they take less than ``limit`` seconds each on average, timed
    over :data:`_SAMPLE` checks after :data:`_WARM_UP` untimed ones, then over every
    :data:`_RESAMPLE`; return the inputs left once they do not (none, if they never do)."""
    for item in itertools.islice(rest, _WARM_UP):
        yield check(item)
    window = _SAMPLE
    while True:
        spent = 0.0  # in the checks alone: what is done with each record stays here anyway
        batch = list(itertools.islice(rest, window))
        for item in batch:
            start = clock()
            done = check(item)
            spent += clock() - start
            yield done
        if len(batch) < window:
            return iter(())
        if spent >= limit * window:
            return rest
        window = _RESAMPLE


def _pooled(rest: Iterator[_Item], opts: CheckOptions, jobs: int, lines: bool) -> Iterator[Checked]:
    """The checks of ``rest`` in ``jobs`` worker processes, a chunk of inputs per task, at most
    :data:`_AHEAD_PER_JOB` tasks a worker handed out ahead of the one being reported (so memory
    stays flat over any number of inputs). A worker that dies fails every input not reported
    yet (``judging.WORKER_DIED``), from the chunks it and the others held to the last input; the
    chunks done before are reported as they are."""
    from concurrent.futures.process import BrokenProcessPool  # only runs with workers import it

    # What exists now is kept out of the collector's sight for good (as cli/launch.py does after
    # start-up): the workers' collections then leave the pages they inherit alone.
    gc.freeze()
    work = functools.partial(_checked_chunk, opts=opts, lines=lines)
    chunks = _chunks(rest, 1 if opts.verify else _CHUNK)
    with workers.pool(jobs) as pool:
        for chunk, future in _handed_out(pool, work, chunks, jobs * _AHEAD_PER_JOB):
            try:
                done = workers.result(future, pool)
            except BrokenProcessPool:
                workers.interrupt_if_stopped(pool)  # not killed by memory: the run is interrupted
                yield from (_died(item, opts, lines) for item in chunk)
                continue
            for item, (packed, data, line) in zip(chunk, done, strict=True):
                yield item, _unpack_record(packed), data, line


def _chunks(items: Iterator[_Item], size: int) -> Iterator[list[_Item]]:
    while chunk := list(itertools.islice(items, size)):
        yield chunk


def _handed_out(
    pool: Executor,
    work: Callable[[list[_Packed]], list[_CheckedPacked]],
    chunks: Iterator[list[_Item]],
    ahead: int,
) -> Iterator[tuple[list[_Item], Future[list[_CheckedPacked]]]]:
    """Each chunk with the task checking it, in order, ``ahead`` tasks handed out at a time;
    once the pool is broken, with that error (``BrokenProcessPool``) in place of a task."""
    pending: collections.deque[tuple[list[_Item], Future[list[_CheckedPacked]]]]
    pending = collections.deque()
    while True:
        for chunk in itertools.islice(chunks, ahead - len(pending)):
            pending.append((chunk, workers.submit(pool, work, _packed(chunk))))
        if not pending:
            return
        yield pending.popleft()


def _died(item: _Item, opts: CheckOptions, lines: bool) -> Checked:
    """An input whose check was lost with its worker; a problem (a missing file) is still its
    own, found without a worker."""
    if isinstance(item, sources.Problem):
        return _checked(item, opts, lines)
    record = Record(path=item.label, model=opts.model, findings=(judging.WORKER_DIED,))
    return item, record, None, json_line(record) if lines else None


def _read_stdin(
    item: sources.Input | sources.Problem, stdin: BinaryIO | None
) -> sources.Input | sources.Problem:
    """Standard input's image read here, from the run's ``stdin`` (a worker has none); at most
    one byte over the limit, so that the check still refuses it as too large."""
    if stdin is None or not isinstance(item, sources.Input) or not item.stdin:
        return item
    return dataclasses.replace(item, data=stdin.read(limits.MAX_INPUT_BYTES + 1))


def _checked(item: sources.Input | sources.Problem, opts: CheckOptions, lines: bool) -> Checked:
    record, data = check_keeping_data(item, opts)
    return item, record, data, json_line(record) if lines else None


def json_line(record: Record) -> str:
    """The record as one line of JSON (no newline): what ``--format jsonl`` writes, and the same
    text as ``names.dumps(record.as_dict())``: ``tests/test_cli_inspect.py`` holds the two
    together over generated records.

    A record whose text is all ASCII (nearly every one) is written out here, in a third less
    time than building its dict and encoding that; any other goes through ``names.dumps``,
    which escapes names that are not UTF-8 and adds their ``_bytes``.
    """
    r, null = record, "null"
    findings = names.dumps([f.as_dict() for f in r.findings]) if r.findings else "[]"
    line = (
        f'{{"path": {_text(r.path)}, "format": {_text(r.format)}, '
        f'"media_type": {_text(r.media_type)}, '
        f'"width": {null if r.width is None else r.width}, '
        f'"height": {null if r.height is None else r.height}, '
        f'"orientation": {r.orientation}, "frames": {r.frames}, "mode": {_text(r.mode)}, '
        f'"bytes": {null if r.bytes is None else r.bytes}, '
        f'"base64_bytes": {null if r.base64_bytes is None else r.base64_bytes}, '
        f'"model": {_text(r.model)}, '
        f'"api_width": {null if r.api_width is None else r.api_width}, '
        f'"api_height": {null if r.api_height is None else r.api_height}, '
        f'"tokens": {null if r.tokens is None else r.tokens}, '
        f'"status": "{r.status}", "findings": {findings}}}'
    )
    return line if line.isascii() else names.dumps(r.as_dict())


def _text(value: str | None) -> str:
    """A JSON string as ``json`` writes it without ``ensure_ascii``, or null."""
    return "null" if value is None else _encode_string(value)


_encode_string: Callable[[str], str] = json.encoder.encode_basestring


# Worker hand-off. Pickling an Input (its Path) and a Record (its enums and findings) costs
# about 80 us per file, as much as reading the header: workers get a local file's label and path
# as two strings, and send the record back as plain values, which pickle in about 2 us. The main
# process keeps the inputs it handed out (results come back in the same order).

_Packed = tuple[str, str] | sources.Input | sources.Problem
_PackedRecord = tuple[tuple[Any, ...], tuple[tuple[str, str], ...]]
#: What a worker sends back for one input: its record, its bytes when read, its JSON line.
_CheckedPacked = tuple[_PackedRecord, bytes | None, str | None]


def _pack_input(item: sources.Input | sources.Problem) -> _Packed:
    if isinstance(item, sources.Input) and item.path is not None and item.url is None:
        return (item.label, str(item.path))
    return item  # a URL, standard input or a problem: rare, pickled as it is


def _packed(chunk: list[_Item]) -> list[_Packed]:
    return [_pack_input(item) for item in chunk]


def _unpack_input(packed: _Packed) -> sources.Input | sources.Problem:
    if isinstance(packed, sources.Input | sources.Problem):  # (a Problem is a tuple too)
        return packed
    return sources.Input(packed[0], path=Path(packed[1]))


def _pack_record(rec: Record) -> _PackedRecord:
    # every field but the findings, the last, is a plain value
    return rec[:-1], tuple((f.code.value, f.message) for f in rec.findings)


def _unpack_record(packed: _PackedRecord) -> Record:
    values, findings = packed
    found = tuple(Finding(Code(code), text) for code, text in findings)
    return Record._make((*values, found))


def _checked_chunk(chunk: list[_Packed], opts: CheckOptions, lines: bool) -> list[_CheckedPacked]:
    """In a worker: the checks of a chunk of inputs, packed for the way back (with their JSON
    lines)."""
    checked = []
    for packed in chunk:
        record, data = check_keeping_data(_unpack_input(packed), opts)
        checked.append((_pack_record(record), data, json_line(record) if lines else None))
    return checked


@dataclass
class InspectSummary:
    """Running totals over records (kept as they stream, so nothing holds every record)."""

    count: int = 0
    ok: int = 0
    warning: int = 0
    error: int = 0
    tokens: int = 0
    base64_bytes: int = 0
    #: The inputs read as images: what one request of them all would carry (a missing file, or
    #: one that is not an image, is no image of it).
    images: int = 0
    request_findings: list[Finding] = field(default_factory=list)

    def add(self, rec: Record) -> None:
        self.count += 1
        self.images += rec.width is not None
        status = rec.status
        setattr(self, status, getattr(self, status) + 1)
        self.tokens += rec.tokens or 0
        self.base64_bytes += rec.base64_bytes or 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "ok": self.ok,
            "warning": self.warning,
            "error": self.error,
            "tokens": self.tokens,
            "request_findings": [f.as_dict() for f in self.request_findings],
        }
