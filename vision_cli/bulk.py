"""Whole folders through Claude, one request per image: ``ask --each`` and ``ask --batch``.

The request of each image is built by :mod:`vision_cli.asking` exactly as ``ask`` builds it for
one image (preflight in memory, images first, then the prompt); this module adds what many
images need:

- :class:`ResultsLog`: the append-only JSONL results file. One line per answer, written whole
  (one ``write``, then ``fsync``) under one lock, never rewritten. Opening it takes an exclusive
  lock (a second run on the same file stops), cuts a torn last line left by a ``kill -9`` and
  reads what earlier runs answered, so a run can resume.
- :func:`plan`: every input read and hashed (SHA-256 of the file's bytes), duplicates dropped,
  and what was already answered for the same model and prompt set aside.
- :class:`Limiter`: additive-increase, multiplicative-decrease concurrency. It runs as SDK
  middleware around every HTTP attempt (the SDK's retries included): a 429 or 529 halves the
  number of attempts allowed at once, and a run of successes as long as the current limit allows
  one more, up to ``--jobs``. The SDK retries and honours ``retry-after``.
- :class:`EachRun`: ``--jobs`` threads sharing one SDK client; Ctrl-C stops new requests, lets
  those in flight finish (a second Ctrl-C abandons them) and leaves the file valid.
- :class:`BatchRun`: Message Batches, split at 100,000 requests or 256 MB, ids and the
  ``custom_id`` -> image map kept in a state file beside the results (written atomically), polled
  with backoff, results written in the same JSONL format at batch prices. Running again resumes:
  saved batches are polled, never submitted again, and each result is written once.

No output of its own: progress goes to a callback, notes to another, and the CLI renders them.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TextIO, TypeVar

from vision_cli import asking, catalog, client, fsutil, limits, names, sources
from vision_cli import schema as schema_mod

if TYPE_CHECKING:
    import anthropic

T = TypeVar("T")
U = TypeVar("U")

#: ``--jobs`` when not given: requests in flight at once.
DEFAULT_JOBS: Final = 4
#: ``--max-retries`` when not given with ``--each`` or ``--batch``: a long run should ride out a
#: minute of throttling (the SDK backs off 0.5 s doubling to 8 s, or waits what ``retry-after``
#: says), where a single ``ask`` rather fails fast with 2.
BULK_MAX_RETRIES: Final = 8
#: This many requests in a row failing after all their retries (429, 5xx, timeouts) stop the run:
#: the API is down, and every further image would only add an error line.
STOP_AFTER_FAILURES: Final = 10
#: Statuses that stop a whole run: the key, the account or the model is wrong for every image.
_FATAL: Final = frozenset({401, 402, 403, 404})
#: The ``error.type`` of an image that failed preflight (it was not sent).
PREFLIGHT_ERROR: Final = "preflight_error"
#: The batch state file of ``results.jsonl`` is ``results.jsonl.batches.json``.
STATE_SUFFIX: Final = ".batches.json"
#: The members of a results line, in order.
FIELDS: Final = (
    "path",
    "sha256",
    "model",
    "prompt_sha256",
    "text",
    "data",
    "stop_reason",
    "usage",
    "cost_usd",
    "seconds",
    "error",
)
_THROTTLED: Final = frozenset({429, 529})


class OutputError(Exception):
    """The results file or the batch state file cannot be used; one sentence that says why."""


class Abandoned(Exception):
    """A request that was not sent because the run is stopping."""


# --------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------


def prompt_sha256(prompt: str, schema: Mapping[str, Any] | None = None) -> str:
    """The ``prompt_sha256`` of a results line, the resume key beside the model: SHA-256 of the
    prompt's UTF-8 bytes, as sent; with ``--schema``, of the prompt, a NUL and the schema as
    canonical JSON (a changed schema asks again, an unchanged one skips)."""
    text = prompt if schema is None else f"{prompt}\0{schema_mod.digest_text(schema)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_key(name: str) -> str:
    """A model name as the results compare it: an alias and its id are the same model."""
    try:
        return catalog.resolve(name).id
    except catalog.UnknownModelError:
        return name


def success_record(
    path: str,
    sha256: str | None,
    model: str,
    prompt_hash: str,
    reply: client.Reply,
    cost: float,
    *,
    settings: asking.Settings | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """The line of an answer. With ``--schema`` (in ``settings``), ``data`` holds the parsed
    object, and an answer that does not match is a ``schema_mismatch`` error line that keeps
    the text, usage and cost (it was paid for) and is asked again on resume."""
    data, mismatch = asking.structured(reply.text, settings) if settings else (None, None)
    return {
        "path": path,
        "sha256": sha256,
        "model": model,
        "prompt_sha256": prompt_hash,
        "text": reply.text,
        "data": data,
        "stop_reason": reply.stop_reason,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
        "cost_usd": cost,
        "seconds": None if seconds is None else round(seconds, 3),
        "error": asking.schema_error(mismatch) if mismatch else None,
    }


def error_record(
    path: str, sha256: str | None, model: str, prompt_hash: str, error: Mapping[str, Any]
) -> dict[str, Any]:
    """A line for an image that got no answer: nothing is billed for it, so ``cost_usd`` is 0."""
    return {
        "path": path,
        "sha256": sha256,
        "model": model,
        "prompt_sha256": prompt_hash,
        "text": None,
        "data": None,
        "stop_reason": None,
        "usage": None,
        "cost_usd": 0.0,
        "seconds": None,
        "error": {
            "type": error.get("type"),
            "status": error.get("status"),
            "message": error.get("message"),
        },
    }


def sent_geometry(image: asking.Image) -> dict[str, Any]:
    """The ``sent`` member of a ``locate`` line: the size of the image the model saw, the size
    of the original as stored, and the EXIF orientation applied to make it upright."""
    return {
        "width": image.width,
        "height": image.height,
        "source_width": image.source_width,
        "source_height": image.source_height,
        "orientation": image.source_orientation,
    }


def preflight_error(message: str) -> dict[str, Any]:
    return {"type": PREFLIGHT_ERROR, "status": None, "message": message}


#: The submission part of a ``custom_id`` before a batch is submitted (dry runs).
NO_SUBMISSION: Final = "0" * 12


def custom_id(path: str, sha256: str | None, submission: str = NO_SUBMISSION) -> str:
    """A batch request's ``custom_id``: ``img-SUBMISSION-DIGEST``, 57 characters of
    ``[a-z0-9-]`` (the API takes 1 to 64 of ``[a-zA-Z0-9_-]``). ``submission`` (12 hex digits)
    names the batch before it exists, so a run that died during the create can recognise it;
    the digest is stable for the same path and bytes."""
    digest = hashlib.sha256(f"{path}\0{sha256 or ''}".encode("utf-8", "surrogateescape"))
    return f"img-{submission}-{digest.hexdigest()[:40]}"


class Entry(NamedTuple):
    """What resuming needs of one results line."""

    path: str
    sha256: str | None
    model: str  # as :func:`model_key` gives it
    prompt_sha256: str
    ok: bool  # answered (``error`` is null)


# --------------------------------------------------------------------------------------------------
# The results file
# --------------------------------------------------------------------------------------------------


def _entry(raw: bytes) -> Entry | None:
    """The line as an :class:`Entry`, or None when it is not a results line."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return None
    return _entry_of(doc) if isinstance(doc, dict) else None


def _entry_of(doc: dict[str, Any]) -> Entry | None:
    if not isinstance(doc.get("path"), str):
        return None
    sha = doc.get("sha256")
    model = doc.get("model")
    prompt = doc.get("prompt_sha256")
    if not isinstance(model, str) or not isinstance(prompt, str):
        return None
    return Entry(
        doc["path"],
        sha if isinstance(sha, str) else None,
        model_key(model),
        prompt,
        doc.get("error") is None and doc.get("text") is not None,
    )


#: How much of a results file's start is read to recognise it (a first line is never longer:
#: an answer is at most a few hundred kilobytes of text).
_RECOGNISE_BYTES: Final = 16 * 1024 * 1024
#: How every results line begins (``path`` is the first member).
_RECORD_START: Final = b'{"path": '


class ResultsLog:
    """The JSONL results file (or standard output, with no resuming: ``path`` None)."""

    def __init__(self, path: Path | None, *, stream: TextIO | None = None) -> None:
        self.path = path
        self._fd: int | None = None
        #: Where lines go without a file (standard output unless told).
        self._given = stream
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()
        self._closed = False
        #: Lines that are not results (skipped when reading).
        self.ignored = 0
        #: Bytes of a torn last line that were cut when the file was opened.
        self.cut = 0

    def __enter__(self) -> ResultsLog:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        """Lock the file for this run and make it end with a whole line. OutputError."""
        if self.path is None:
            self._stream = self._given or sys.stdout
            return
        created = not self.path.exists()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
        except OSError as exc:
            raise OutputError(f"cannot open {self.path} ({exc.strerror or exc})") from None
        try:
            _lock_file(fd, self.path)
            self._recognise(fd)
            self._repair(fd)
            if created:
                fsutil.sync_folder(self.path.parent)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _recognise(self, fd: int) -> None:
        """Refuse a file that is not vision-cli's own before anything in it is touched: an empty
        file, or one whose first line is a results line (or, with no whole line yet, the start
        of one: the first write of a run was torn). OutputError."""
        head = b""
        while b"\n" not in head and len(head) < _RECOGNISE_BYTES:
            chunk = os.pread(fd, 64 * 1024, len(head))
            if not chunk:
                break
            head += chunk
        if not head:
            return
        first, newline, _ = head.partition(b"\n")
        if newline:
            if _entry(first) is not None:
                return
        elif head.startswith(_RECORD_START) and len(head) < _RECOGNISE_BYTES:
            return
        raise OutputError(
            f"{self.path} is not a vision-cli results file (its first line is not a result): "
            "it was left as it is; choose another --output"
        )

    def _repair(self, fd: int) -> None:
        """A last line without its newline was torn by a kill (one write per line means it can
        only be the last): cut it, unless it is a whole record, which gets its newline."""
        size = os.fstat(fd).st_size
        if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
            return
        start = _last_line_start(fd, size)
        tail = os.pread(fd, size - start, start)
        if _entry(tail) is not None:
            os.write(fd, b"\n")
        else:
            os.ftruncate(fd, start)
            self.cut = size - start
        os.fsync(fd)

    def size(self) -> int:
        """Bytes in the file now (where the next line starts)."""
        if self._fd is None:
            return 0
        return os.fstat(self._fd).st_size

    def entries(self, start: int = 0) -> list[Entry]:
        """Every results line from byte ``start`` on; other lines are counted in ``ignored``."""
        if self.path is None:
            return []
        found: list[Entry] = []
        ignored = 0
        try:
            with self.path.open("rb") as fh:
                fh.seek(start)
                for raw in fh:
                    if not raw.strip() or not raw.endswith(b"\n"):
                        continue  # blank, or a torn last line (cut when the file is opened)
                    entry = _entry(raw)
                    if entry is None:
                        ignored += 1
                    else:
                        found.append(entry)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise OutputError(f"cannot read {self.path} ({exc.strerror or exc})") from None
        if start == 0:
            self.ignored = ignored
            if ignored and not found:
                raise OutputError(
                    f"{self.path} is not a vision-cli results file ({ignored} lines and none "
                    "is a result): it was left as it is; choose another --output"
                )
        return found

    def append(self, record: Mapping[str, Any], written: Callable[[], None] | None = None) -> bool:
        """Write one whole line and make it durable, then call ``written`` (under the same lock:
        once :meth:`close` returns, every line written is counted). False once the log is
        closed: a result that arrives after the run was abandoned is dropped, never half
        written. OSError."""
        line = names.dumps(record) + "\n"
        with self._lock:
            if self._closed:
                return False
            if self._fd is None:
                self._stream.write(line)
                self._stream.flush()
            else:
                _write_all(self._fd, line.encode("utf-8"))
                os.fsync(self._fd)
            if written is not None:
                written()
        return True

    def close(self) -> None:
        """No more lines; the lock is released."""
        with self._lock:
            self._closed = True
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def parse_record(raw: bytes | str) -> dict[str, Any] | None:
    """A results line as a dict, or None when it is not one (what :func:`read_records` skips)."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict) or _entry_of(doc) is None:
        return None
    return doc


def read_records(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Every results line of ``path`` in order, and how many other lines were skipped (blank
    lines aside). OutputError when the file cannot be read."""
    records: list[dict[str, Any]] = []
    ignored = 0
    try:
        with path.open("rb") as fh:
            for raw in fh:
                if not raw.strip():
                    continue
                record = parse_record(raw)
                if record is None:
                    ignored += 1
                else:
                    records.append(record)
    except OSError as exc:
        raise OutputError(f"cannot read {path} ({exc.strerror or exc})") from None
    return records, ignored


ImageKey = tuple[str, str | None, str, str]


def image_key(record: Mapping[str, Any]) -> ImageKey:
    """Which image, asked of which model with which prompt (and schema), a line is about."""
    sha = record.get("sha256")
    return (
        str(record["path"]),
        sha if isinstance(sha, str) else None,
        model_key(str(record["model"])),
        str(record["prompt_sha256"]),
    )


def latest(records: Iterable[Mapping[str, Any]]) -> dict[ImageKey, Mapping[str, Any]]:
    """One line per image, model and prompt, as resuming sees them: the last answered line,
    else the last failed one (a failure after an answer, from ``--rerun``, does not undo it)."""
    chosen: dict[ImageKey, Mapping[str, Any]] = {}
    for record in records:
        key = image_key(record)
        before = chosen.get(key)
        if before is None or record.get("error") is None or before.get("error") is not None:
            chosen[key] = record
    return chosen


def _lock_file(fd: int, path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as with any other tool
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OutputError(
            f"another vision-cli run is writing {path}: wait for it to finish, or choose "
            "another --output"
        ) from None
    except OSError:  # a file system without locks
        pass


def _last_line_start(fd: int, size: int) -> int:
    """Where the last line of the file begins (after the last newline, or 0)."""
    end = size
    chunk = 64 * 1024
    while end > 0:
        begin = max(0, end - chunk)
        found = os.pread(fd, end - begin, begin).rfind(b"\n")
        if found >= 0:
            return begin + found + 1
        end = begin
    return 0


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def answered(entries: Iterable[Entry], model: str, prompt_hash: str) -> set[tuple[str, str | None]]:
    """``(path, sha256)`` of every image answered for this model and prompt."""
    key = model_key(model)
    return {
        (e.path, e.sha256)
        for e in entries
        if e.ok and e.model == key and e.prompt_sha256 == prompt_hash
    }


# --------------------------------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """A bulk run: the settings of each request, the prompt, where results go and how."""

    settings: asking.Settings
    prompt: str
    output: Path | None  # None: standard output
    jobs: int = DEFAULT_JOBS
    rerun: bool = False
    max_retries: int = BULK_MAX_RETRIES
    timeout: float | None = None
    cache: client.FileCache | None = None
    #: Each answer's line also says what was sent (``sent``: size and orientation), which
    #: ``locate`` needs to map coordinates back to the original.
    keep_sent: bool = False

    @property
    def prompt_sha256(self) -> str:
        return prompt_sha256(self.prompt, self.settings.schema)

    @property
    def state_path(self) -> Path:
        assert self.output is not None
        return state_path(self.output)


def state_path(output: Path) -> Path:
    """The batch state file beside ``output``: ``results.jsonl.batches.json``."""
    return output.with_name(output.name + STATE_SUFFIX)


@dataclass(frozen=True)
class Job:
    """One image of the run. ``sha256`` is None for a URL the API fetches itself (and for an
    input that could not be read: ``problem`` says why)."""

    label: str
    item: sources.Input | None
    sha256: str | None = None
    #: The bytes, kept for standard input and downloads (a file is read again when sent).
    data: bytes | None = field(default=None, repr=False)
    problem: str | None = None

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.label, self.sha256)


def _read_job(
    item: sources.Input | sources.Problem, settings: asking.Settings, offline: bool
) -> Job:
    if isinstance(item, sources.Problem):
        return Job(item.label, None, problem=item.message)
    if settings.kind_of(item) == "url" or (item.url is not None and offline):
        return Job(item.label, item)
    try:
        data = asking.read_input(item)
    except asking.PreflightError as exc:
        return Job(item.label, item, problem="; ".join(f.message for f in exc.failures))
    keep = data if item.path is None else None
    return Job(item.label, item, client.sha256(data), data=keep)


def read_jobs(
    items: Iterable[sources.Input | sources.Problem],
    settings: asking.Settings,
    *,
    threads: int = DEFAULT_JOBS,
    offline: bool = False,
) -> list[Job]:
    """Every distinct input, in order, read and hashed (``threads`` at a time). An input named
    twice (the same label) is taken once. ``offline``: URLs to download stay unread."""
    unique: dict[str, sources.Input | sources.Problem] = {}
    for item in items:
        unique.setdefault(item.label, item)
    return parallel(lambda item: _read_job(item, settings, offline), unique.values(), threads)


def parallel(work: Callable[[T], U], items: Iterable[T], threads: int) -> list[U]:
    """``[work(item) for item in items]``, ``threads`` at a time, in order. Ctrl-C cancels what
    has not started (a thread pool would otherwise finish every item it was given first)."""
    pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="vision-cli")
    try:
        return list(pool.map(work, items))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class EachPlan:
    """The images of a run: those to send, those answered before, those in a saved batch."""

    todo: tuple[Job, ...]
    skipped: tuple[Job, ...] = ()
    in_batches: tuple[Job, ...] = ()

    @property
    def images(self) -> int:
        return len(self.todo) + len(self.skipped) + len(self.in_batches)


def plan(
    jobs: Sequence[Job],
    done: set[tuple[str, str | None]],
    *,
    rerun: bool = False,
    in_batches: set[tuple[str, str | None]] | None = None,
) -> EachPlan:
    """Set aside what is answered (unless ``rerun``) and what waits in a saved batch."""
    todo: list[Job] = []
    skipped: list[Job] = []
    waiting: list[Job] = []
    for job in jobs:
        if job.problem is None and not rerun and job.key in done:
            skipped.append(job)
        elif job.problem is None and in_batches and job.key in in_batches:
            waiting.append(job)
        else:
            todo.append(job)
    return EachPlan(tuple(todo), tuple(skipped), tuple(waiting))


@dataclass(frozen=True)
class EachRequest:
    """A job's request, ready to send, or the preflight failure that stops it."""

    job: Job
    sha256: str | None
    request: asking.Request | None = None
    failure: str | None = None


def prepare(job: Job, config: Config, *, offline: bool = False) -> EachRequest:
    """Preflight one image and build its request, as ``ask`` does for one image."""
    if job.problem is not None or job.item is None:
        return EachRequest(job, job.sha256, failure=job.problem or "cannot be read")
    item = job.item
    settings = config.settings
    try:
        data = job.data
        if data is None and job.sha256 is not None:
            data = asking.read_input(item)  # read again: the bytes are not kept for files
        sha = client.sha256(data) if data is not None else None
        images = asking.prepare_input(item, settings, data=data, offline=offline)
        files = asking.cached_files(images, config.cache)
        request = asking.build_request(images, settings, prompt=config.prompt, files=files)
        asking.check_request(request, settings)
    except asking.PreflightError as exc:
        return EachRequest(job, job.sha256, failure="; ".join(f.message for f in exc.failures))
    return EachRequest(job, sha, request=request)


# --------------------------------------------------------------------------------------------------
# Progress and the summary
# --------------------------------------------------------------------------------------------------


@dataclass
class EachSummary:
    """What a run did. ``pending``: images neither answered nor failed when it ended (not
    started when interrupted, or waiting in a batch)."""

    images: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    pending: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    #: Images to send in this run (the progress bar's total).
    to_send: int = 0
    interrupted: bool = False
    #: The API failure that stopped the whole run (exit 3).
    stopped: client.APIFailure | None = None
    #: The results file could not be written (the run stopped).
    write_error: str | None = None
    #: The reader of standard output (the results) went away: the run stopped quietly.
    stdout_closed: bool = False
    batches: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def done(self) -> int:
        return self.succeeded + self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "skipped": self.skipped,
            "pending": self.pending,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost_usd, 10),
            "interrupted": self.interrupted,
            "stopped": str(self.stopped or self.write_error) if self.failed_run else None,
        }

    @property
    def failed_run(self) -> bool:
        return self.stopped is not None or self.write_error is not None


@dataclass(frozen=True)
class Tick:
    """What a progress bar shows: requests done of ``total``, failures, tokens and cost so far."""

    done: int
    total: int
    failed: int
    tokens: int
    cost_usd: float

    @classmethod
    def of(cls, summary: EachSummary, done: int | None = None, total: int | None = None) -> Tick:
        return cls(
            summary.done if done is None else done,
            summary.to_send if total is None else total,
            summary.failed,
            summary.tokens,
            summary.cost_usd,
        )


Progress = Callable[[Tick], None]
Note = Callable[[str], None]


def _nothing(_: Any) -> None:
    return None


class EachTally:
    """The summary, updated from many threads."""

    def __init__(self, summary: EachSummary) -> None:
        self.summary = summary
        self.lock = threading.Lock()

    def failure(self) -> None:
        with self.lock:
            self.summary.failed += 1

    def answered(self, record: Mapping[str, Any], reply: client.Reply) -> None:
        """An answer's line was written: a success, or a paid-for failure (``schema_mismatch``)."""
        with self.lock:
            if record["error"] is None:
                self.summary.succeeded += 1
            else:
                self.summary.failed += 1
            s = self.summary
            s.input_tokens += reply.input_tokens
            s.output_tokens += reply.output_tokens
            s.cost_usd += float(record["cost_usd"])


# --------------------------------------------------------------------------------------------------
# Adaptive concurrency
# --------------------------------------------------------------------------------------------------


class Limiter:
    """At most ``limit`` HTTP attempts at once (AIMD). A 429 or 529 halves ``limit`` (once per
    generation: attempts that started before a cut do not cut again); ``limit`` successes in a
    row raise it by one, up to ``ceiling``. No clocks: it reacts to answers only."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.lowest = self.ceiling
        self.in_flight = 0
        self.cuts = 0
        self._generation = 0
        self._streak = 0
        self._stopping = False
        self._cond = threading.Condition()

    def acquire(self) -> int | None:
        """Wait for a free slot; the generation it started in, or None when stopping."""
        with self._cond:
            while self.in_flight >= self.limit and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            self.in_flight += 1
            return self._generation

    def release(self, generation: int, status: int | None) -> None:
        """Free the slot; ``status`` is the attempt's HTTP status (None: no answer)."""
        with self._cond:
            self.in_flight -= 1
            if status in _THROTTLED:
                if generation == self._generation:
                    self.limit = max(1, self.limit // 2)
                    self.lowest = min(self.lowest, self.limit)
                    self._generation += 1
                    self._streak = 0
                    self.cuts += 1
            elif status is not None and status < 400:
                self._streak += 1
                if self._streak >= self.limit and self.limit < self.ceiling:
                    self.limit += 1
                    self._streak = 0
            self._cond.notify_all()

    def stop(self) -> None:
        """Start nothing more: waiting attempts give up."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def middleware(self) -> Callable[[Any, Callable[[Any], Any]], Any]:
        """SDK middleware: every attempt (retries too) waits for a slot and reports its status;
        once stopping, no attempt starts (:class:`Abandoned`)."""

        def pace(request: Any, call_next: Callable[[Any], Any]) -> Any:
            generation = self.acquire()
            if generation is None:
                raise Abandoned("the run is stopping")
            status: int | None = None
            try:
                response = call_next(request)
                status = int(response.status_code)
                return response
            finally:
                self.release(generation, status)

        return pace


# --------------------------------------------------------------------------------------------------
# ask --each
# --------------------------------------------------------------------------------------------------


def _fatal(failure: client.APIFailure) -> bool:
    """Whether a failure is the run's, not the image's: the key, the account, the model, or no
    network at all."""
    return failure.status in _FATAL or failure.type == "connection_error"


def _abandoned(failure: client.APIFailure) -> bool:
    return failure.type == Abandoned.__name__


class EachRun:
    """One request per image, ``config.jobs`` at a time, each answer appended as it arrives."""

    def __init__(
        self,
        config: Config,
        log: ResultsLog,
        *,
        progress: Progress = _nothing,
        note: Note = _nothing,
        warn: Note | None = None,
    ) -> None:
        self.config = config
        self.log = log
        self.progress = progress
        self.note = note
        #: What must be said even with --quiet (the model data was wrong); ``note`` by default.
        self.warn = warn or note
        self.summary = EachSummary()
        self.tally = EachTally(self.summary)
        self.limiter = Limiter(config.jobs)
        self.stop = threading.Event()
        self._queue: deque[Job] = deque()
        self._failures_in_a_row = 0
        self._model = config.settings.model_name
        self._prompt_hash = config.prompt_sha256
        self._api: anthropic.Anthropic | None = None
        #: Workers still running, and set when none is. (Not ``Thread.join``: a Ctrl-C inside
        #: it can leave a running thread marked as ended on CPython 3.11.)
        self._live = 0
        self._ended = threading.Event()

    def run(self, the_plan: EachPlan) -> EachSummary:
        s = self.summary
        s.images, s.skipped, s.to_send = the_plan.images, len(the_plan.skipped), len(the_plan.todo)
        self._queue.extend(the_plan.todo)
        if the_plan.todo:
            self._api = client.make_client(
                max_retries=self.config.max_retries,
                timeout=self.config.timeout,
                middleware=[self.limiter.middleware()],
            )
            threads = [
                threading.Thread(target=self._worker, name=f"vision-cli-{n}", daemon=True)
                for n in range(min(self.config.jobs, len(the_plan.todo)))
            ]
            self._live = len(threads)
            for thread in threads:
                thread.start()
            self._wait()
        with self.tally.lock:
            s.pending = s.to_send - s.done
        self.progress(Tick.of(s))
        return s

    def _wait(self) -> None:
        """Until the workers end. Ctrl-C: stop starting requests and let those in flight finish;
        a second Ctrl-C abandons them (their answers are lost, the file stays whole)."""
        try:
            self._join()
            return
        except KeyboardInterrupt:
            self.summary.interrupted = True
            self._halt()
            if not self._ended.is_set():
                self.note(
                    f"stopping: no new requests; waiting for the {self.limiter.in_flight} in "
                    "flight (press Ctrl-C again to abandon them)"
                )
        try:
            self._join()
        except KeyboardInterrupt:
            self.log.close()  # late answers are dropped whole, never half written
            self.note("abandoned the requests in flight")

    def _join(self) -> None:
        while not self._ended.wait(0.1):
            self.progress(Tick.of(self.summary))

    def _halt(self) -> None:
        self.stop.set()
        self.limiter.stop()

    def _next(self) -> Job | None:
        if self.stop.is_set():
            return None
        try:
            return self._queue.popleft()
        except IndexError:
            return None

    def _worker(self) -> None:
        try:
            while (job := self._next()) is not None:
                try:
                    try:
                        self._process(job)
                    except OSError:
                        raise
                    except Exception as exc:  # a bug: the image gets a line saying so
                        error = {
                            "type": "internal_error",
                            "status": None,
                            "message": f"{type(exc).__name__}: {exc} (a bug in vision-cli: "
                            "please report it)",
                        }
                        record = error_record(
                            job.label, job.sha256, self._model, self._prompt_hash, error
                        )
                        self.log.append(record, self.tally.failure)
                except Exception as exc:  # the results file cannot be written: stop everything
                    closed = isinstance(exc, OSError) and exc.errno == errno.EPIPE
                    if closed and self.config.output is None:  # | head: a quiet stop
                        with self.tally.lock:
                            self.summary.stdout_closed = True
                        self._halt()
                        continue
                    reason = exc.strerror if isinstance(exc, OSError) else None
                    self._cannot_write(reason or str(exc))
        finally:
            with self.tally.lock:
                self._live -= 1
                if self._live == 0:
                    self._ended.set()

    def _cannot_write(self, reason: str) -> None:
        """An answer (or an error line) that cannot be saved stops the run: no new requests,
        the reason said once, exit 1. The answers saved so far are not asked again."""
        with self.tally.lock:
            if self.summary.write_error is None:
                where = self.config.output or "standard output"
                self.summary.write_error = (
                    f"cannot write {where} ({reason}): the run stopped, and no further request "
                    "was sent; free the space (or fix the file) and run the same command again"
                )
        self._halt()

    def _process(self, job: Job) -> None:
        prepared = prepare(job, self.config)
        if prepared.request is None:
            record = error_record(
                job.label,
                prepared.sha256,
                self._model,
                self._prompt_hash,
                preflight_error(prepared.failure or "cannot be sent"),
            )
            self.log.append(record, self.tally.failure)
            return
        started = time.monotonic()
        try:
            request, reply = self._send(prepared.request)
        except client.APIFailure as failure:
            self._failed(job, prepared.sha256, failure)
            return
        answer = asking.answer(reply, request, self.config.settings)
        record = success_record(
            job.label,
            prepared.sha256,
            self._model,
            self._prompt_hash,
            reply,
            answer.cost_usd,
            settings=self.config.settings,
            seconds=time.monotonic() - started,
        )
        if self.config.keep_sent:
            record["sent"] = sent_geometry(request.images[0])
        self.log.append(record, lambda: self.tally.answered(record, reply))
        with self.tally.lock:
            self._failures_in_a_row = 0

    def _send(self, request: asking.Request) -> tuple[asking.Request, client.Reply]:
        assert self._api is not None
        api = self._api
        cache = self.config.cache
        if request.pending_uploads:
            files = asking.resolve_files(api, request.images, cache, expires=self._expires)
            request = self._rebuild(request, files)
        settings = self.config.settings
        try:
            return asking.send_correcting(api, request, settings, on_correction=self._corrected)
        except client.APIFailure as failure:
            if not (asking.stale_file(failure) and request.cached_file_ids):
                raise
        # A cached file id the API no longer knows: upload again, once (as ``ask`` does).
        if cache is not None:
            cache.forget(request.cached_file_ids)
        files = asking.resolve_files(
            api, request.images, cache, refresh=True, expires=self._expires
        )
        request = self._rebuild(request, files)
        return asking.send_correcting(api, request, settings, on_correction=self._corrected)

    def _corrected(self, correction: asking.Correction) -> None:
        settings = self.config.settings
        remembered = asking.remember(settings.model, correction)
        self.warn(f"{correction.describe(settings.model_name)}; {remembered}")
        if not correction.model_edge:
            return
        # The images still to prepare are fitted to the edge the API gave: the requests in
        # flight may each get the 400 once, the rest not at all.
        tier = catalog.edge_tier(settings.model.tier, correction.max_side)
        fitted = replace(settings, model=replace(settings.model, tier=tier))
        self.config = replace(self.config, settings=fitted)

    @property
    def _expires(self) -> int:
        return self.config.settings.expires

    def _rebuild(self, request: asking.Request, files: asking.Files) -> asking.Request:
        return asking.build_request(
            request.images, self.config.settings, prompt=self.config.prompt, files=files
        )

    def _failed(self, job: Job, sha256: str | None, failure: client.APIFailure) -> None:
        if _abandoned(failure) or (self.stop.is_set() and failure.status is None):
            return  # never sent, or cut off by the stop: the next run sends it
        if _fatal(failure):
            self._stop_run(failure)
            return
        record = error_record(job.label, sha256, self._model, self._prompt_hash, failure.as_dict())
        self.log.append(record, self.tally.failure)
        if failure.retryable:
            with self.tally.lock:
                self._failures_in_a_row += 1
                many = self._failures_in_a_row >= STOP_AFTER_FAILURES
            if many:
                self._stop_run(
                    client.APIFailure(
                        failure.status,
                        failure.type,
                        f"{STOP_AFTER_FAILURES} requests in a row failed after every retry "
                        f"(the last: {failure.message}): try again later, and the same command "
                        "goes on where this run stopped",
                        failure.request_id,
                    )
                )

    def _stop_run(self, failure: client.APIFailure) -> None:
        with self.tally.lock:
            if self.summary.stopped is None:
                self.summary.stopped = failure
        self._halt()


# --------------------------------------------------------------------------------------------------
# Dry runs
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanRow:
    """One image of a dry run: ``send``, ``skip`` (answered before), ``pending`` (in a saved
    batch) or ``fail`` (preflight)."""

    path: str
    sha256: str | None
    action: str
    input_tokens: int | None = None
    input_cost_usd: float = 0.0
    max_output_cost_usd: float = 0.0
    error: str | None = None
    #: The request's share of a batch body (what the batch split counts).
    request_bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "action": self.action,
            "input_tokens": self.input_tokens,
            "input_cost_usd": round(self.input_cost_usd, 10),
            "max_output_cost_usd": round(self.max_output_cost_usd, 10),
            "error": self.error,
            "request_bytes": self.request_bytes,
        }


def request_size(item: Mapping[str, Any]) -> int:
    """A batch request's share of the batch body (JSON with spaces: never less than is sent)."""
    return len(json.dumps(item).encode()) + 2


def dry_run(the_plan: EachPlan, config: Config, *, batch: bool = False) -> list[PlanRow]:
    """What a run would do, with each request's estimate (no network, nothing written).
    ``batch``: at batch prices."""
    scale = limits.BATCH_DISCOUNT if batch else 1.0

    def row(job: Job) -> PlanRow:
        prepared = prepare(job, config, offline=True)
        if prepared.request is None:
            return PlanRow(job.label, job.sha256, "fail", error=prepared.failure)
        est = asking.estimate(prepared.request, config.settings)
        item = {"custom_id": custom_id(job.label, prepared.sha256), "params": {}}
        return PlanRow(
            job.label,
            prepared.sha256,
            "send",
            est.input_tokens,
            est.input_cost_usd * scale,
            est.max_output_cost_usd * scale,
            request_bytes=request_size(item) + prepared.request.size,
        )

    sent = parallel(row, the_plan.todo, config.jobs)
    return [
        *sent,
        *(PlanRow(j.label, j.sha256, "skip") for j in the_plan.skipped),
        *(PlanRow(j.label, j.sha256, "pending") for j in the_plan.in_batches),
    ]
