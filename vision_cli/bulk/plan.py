"""The plan of a bulk run: what to send, what was answered before, what waits in a batch.

- :class:`Config`: the settings of each request, the prompt, where results go and how.
- :func:`read_jobs`: every input read and hashed (SHA-256 of the file's bytes), duplicates
  dropped; :func:`plan` sets aside what was already answered for the same model and prompt, and
  what waits in a saved batch; :func:`prepare` preflights one image and builds its request
  exactly as ``ask`` does for one image (:mod:`vision_cli.asking`).
- :func:`dry_run`: what a run would send and what it would cost, with no network.
- :func:`custom_id` and :func:`request_size`: a batch request's name and its share of a batch.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Final, TypeVar

from vision_cli import limits, sources
from vision_cli.asking import building, fitting, preparing, pricing
from vision_cli.bulk import records, state
from vision_cli.client import filesapi

T = TypeVar("T")
U = TypeVar("U")

#: ``--jobs`` when not given: requests in flight at once.
DEFAULT_JOBS: Final = 4
#: ``--max-retries`` when not given with ``--each`` or ``--batch``: a long run should ride out a
#: minute of throttling (the SDK backs off 0.5 s doubling to 8 s, or waits what ``retry-after``
#: says), where a single ``ask`` rather fails fast with 2.
BULK_MAX_RETRIES: Final = 8


@dataclass(frozen=True)
class Config:
    """A bulk run: the settings of each request, the prompt, where results go and how."""

    settings: preparing.Settings
    prompt: str
    output: Path | None  # None: standard output
    jobs: int = DEFAULT_JOBS
    rerun: bool = False
    max_retries: int = BULK_MAX_RETRIES
    timeout: float | None = None
    cache: filesapi.FileCache | None = None
    #: Each answer's line also says what was sent (``sent``: size and orientation), which
    #: ``locate`` needs to map coordinates back to the original.
    keep_sent: bool = False
    #: The run's environment variables (the API key and base URL); the process's when None.
    vars: Mapping[str, str] | None = None
    #: The run's clock (UTC): when a batch was submitted. The system's when None.
    clock: Callable[[], datetime] | None = None

    @property
    def prompt_sha256(self) -> str:
        return records.prompt_sha256(self.prompt, self.settings.schema)

    @property
    def state_path(self) -> Path:
        assert self.output is not None
        return state.state_path(self.output)


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
    def key(self) -> records.ImageId:
        return records.image_id(self.label, self.sha256)


def _read_job(
    item: sources.Input | sources.Problem,
    settings: preparing.Settings,
    offline: bool,
    stdin: BinaryIO | None,
) -> Job:
    if isinstance(item, sources.Problem):
        return Job(item.label, None, problem=item.message)
    if settings.kind_of(item) == "url" or (item.url is not None and offline):
        return Job(item.label, item)
    try:
        data = preparing.read_input(item, stdin=stdin)
    except preparing.PreflightError as exc:
        return Job(item.label, item, problem="; ".join(f.reason for f in exc.failures))
    keep = data if item.path is None else None
    return Job(item.label, item, filesapi.sha256(data), data=keep)


def read_jobs(
    items: Iterable[sources.Input | sources.Problem],
    settings: preparing.Settings,
    *,
    threads: int = DEFAULT_JOBS,
    offline: bool = False,
    stdin: BinaryIO | None = None,
) -> list[Job]:
    """Every distinct input, in order, read and hashed (``threads`` at a time). An input named
    twice (the same label) is taken once. ``offline``: URLs to download stay unread. ``stdin``:
    where the image ``-`` is read from."""
    unique: dict[str, sources.Input | sources.Problem] = {}
    for item in items:
        unique.setdefault(sources.path_key(item.label), item)
    return parallel(
        lambda item: _read_job(item, settings, offline, stdin), unique.values(), threads
    )


def ordered_map(
    pool: ThreadPoolExecutor, work: Callable[[T], U], items: Iterable[T], window: int
) -> Iterator[U]:
    """``pool.map`` that keeps at most ``window`` items under way: prepared images wait to be
    submitted, and a whole folder of them must not sit in memory at once."""
    pending: deque[Future[U]] = deque()
    for item in items:
        pending.append(pool.submit(work, item))
        if len(pending) >= max(1, window):
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


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
    done: set[records.ImageId],
    *,
    rerun: bool = False,
    in_batches: set[records.ImageId] | None = None,
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
    request: building.Request | None = None
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
            data = preparing.read_input(item)  # read again: the bytes are not kept for files
        sha = filesapi.sha256(data) if data is not None else None
        images = fitting.prepare_input(item, settings, data=data, offline=offline)
        files = building.cached_files(images, config.cache)
        request = building.build_request(images, settings, prompt=config.prompt, files=files)
        building.check_request(request, settings)
    except preparing.PreflightError as exc:
        return EachRequest(job, job.sha256, failure="; ".join(f.reason for f in exc.failures))
    return EachRequest(job, sha, request=request)


# --------------------------------------------------------------------------------------------------
# Dry runs
# --------------------------------------------------------------------------------------------------


#: The submission part of a ``custom_id`` before a batch is submitted (dry runs).
NO_SUBMISSION: Final = "0" * 12


def custom_id(path: str, sha256: str | None, submission: str = NO_SUBMISSION) -> str:
    """A batch request's ``custom_id``: ``img-SUBMISSION-DIGEST``, 57 characters of
    ``[a-z0-9-]`` (the API takes 1 to 64 of ``[a-zA-Z0-9_-]``). ``submission`` (12 hex digits)
    names the batch before it exists, so a run that died during the create can recognise it;
    the digest is stable for the same path and bytes."""
    digest = hashlib.sha256(f"{path}\0{sha256 or ''}".encode("utf-8", "surrogateescape"))
    return f"img-{submission}-{digest.hexdigest()[:40]}"


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
        est = pricing.estimate(prepared.request, config.settings)
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
