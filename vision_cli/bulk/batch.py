"""``ask --batch``: one request per image through the Message Batches API, at half price.

The same plan, preflight, results log and records as ``ask --each`` (:mod:`.plan`, :mod:`.log`,
:mod:`.records`); this module adds what batches need:

- :func:`chunks`: requests cut into batches of at most 100,000 requests or 256 MB of body.
- :class:`BatchRun`: collect what has ended, plan against the results file, submit what is in no
  batch yet (a create is never interrupted half-way, and is retried only when the API says no
  batch was made), then poll with backoff until every batch has ended. Every batch is saved in
  the state file (:mod:`.state`) before it is created, so a run that dies finds it again instead
  of paying for it twice.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from vision_cli import catalog, limits
from vision_cli.asking import pricing, running
from vision_cli.bulk import plan, records
from vision_cli.bulk.log import ResultsLog
from vision_cli.bulk.plan import Config, EachRequest, Job
from vision_cli.bulk.state import BatchState
from vision_cli.bulk.summary import EachSummary, EachTally, Note, Progress, Tick, nothing
from vision_cli.client import batches, connect, failures

T = TypeVar("T")

#: Where a batch is split: the API's limits. Module globals so that tests can lower them.
BATCH_MAX_REQUESTS: int = limits.BATCH_MAX_REQUESTS
BATCH_MAX_BYTES: int = limits.BATCH_MAX_BYTES
#: Seconds between polls of a batch: the first wait, growing by ``POLL_FACTOR`` to ``POLL_MAX``.
POLL_FIRST: float = 5.0
POLL_FACTOR: float = 1.5
POLL_MAX: float = 60.0
#: Tries of a batch create that the API refused (429, 500, 529); its ``retry-after`` is obeyed.
CREATE_TRIES: Final = 6
#: Statuses after which a batch was certainly not created, so creating it again is safe.
_CREATE_RETRY: Final = frozenset({429, 500, 529})
#: How far the API's clock and ours may disagree when a batch is matched to a saved intent.
CLOCK_SLACK: Final = timedelta(minutes=5)


def _now(clock: Callable[[], datetime] | None = None) -> str:
    return (clock or (lambda: datetime.now(UTC)))().isoformat(timespec="seconds")


def _parse_time(text: str | None) -> datetime:
    """A saved ``submitted_at``; the distant past when missing or unreadable (every listed
    batch is then a candidate)."""
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def chunks(items: Iterable[T], size_of: Callable[[T], int]) -> Iterator[list[T]]:
    """``items`` in order, cut before a chunk would hold more than :data:`BATCH_MAX_REQUESTS`
    items or :data:`BATCH_MAX_BYTES` bytes (an item alone over the byte limit still goes alone:
    the API then refuses it)."""
    chunk: list[T] = []
    used = len(b'{"requests": []}')
    for item in items:
        size = size_of(item)
        if chunk and (len(chunk) >= BATCH_MAX_REQUESTS or used + size > BATCH_MAX_BYTES):
            yield chunk
            chunk, used = [], len(b'{"requests": []}')
        chunk.append(item)
        used += size
    if chunk:
        yield chunk


# --------------------------------------------------------------------------------------------------
# ask --batch: the run
# --------------------------------------------------------------------------------------------------


class BatchRun:
    """Submit what is in no batch yet, collect what has ended, and (unless ``no_wait``) poll
    until every batch has ended."""

    def __init__(
        self,
        config: Config,
        log: ResultsLog,
        state: BatchState,
        *,
        no_wait: bool = False,
        progress: Progress = nothing,
        note: Note = nothing,
        created: Note | None = None,
        warn: Note | None = None,
        sleep: Callable[[float], None] = time.sleep,
        may_submit: bool = True,
    ) -> None:
        #: What must be said even with --quiet (the model data was wrong); ``note`` by default.
        self.warn = warn or note
        self.config = config
        self.log = log
        self.state = state
        self.no_wait = no_wait
        self.progress = progress
        self.note = note
        #: Told each batch id the moment the API gives it (``note`` unless given: even a quiet
        #: run must say which batch it paid for, in case the id cannot be saved).
        self.created = created or note
        self.sleep = sleep
        #: False when the model was retired: the batches saved are collected (collecting names
        #: no model), nothing new is submitted (``summary.refused`` counts what was held back).
        self.may_submit = may_submit
        self.summary = EachSummary()
        self.tally = EachTally(self.summary)
        self._api: connect.Anthropic | None = None
        #: Images whose collected result was an error (they are submitted again).
        self._failed: set[records.ImageId] = set()
        #: Images answered by the batches this run collected: this run's answers, not skipped.
        self._answered: set[records.ImageId] = set()
        #: Images of this run's plan that were submitted or got a preflight error line: the
        #: rest of ``to_send`` is pending when the run stops early (Ctrl-C, an API failure).
        self._handled = 0

    @property
    def api(self) -> connect.Anthropic:
        if self._api is None:
            self._api = connect.make_client(
                max_retries=self.config.max_retries,
                timeout=self.config.timeout,
                vars=self.config.vars,
            )
        return self._api

    def run(self, jobs: Sequence[Job]) -> EachSummary:
        """Everything, in the order that keeps each result written once: first collect the
        batches that have ended (a collection cut short resumes before anything else is
        written), then plan against the file, submit, and wait."""
        s = self.summary
        try:
            self._confirm()
            self._check(wait=False)
            entries = self.log.entries()
            cfg = self.config
            done = records.answered(entries, cfg.settings.model_name, cfg.prompt_sha256)
            waiting = self.state.waiting(cfg.settings.model_name, cfg.prompt_sha256)
            the_plan = plan.plan(jobs, done, rerun=cfg.rerun, in_batches=waiting)
            s.images = the_plan.images
            s.skipped = sum(job.key not in self._answered for job in the_plan.skipped)
            # Errors just collected are retried now (or held back): not this run's failures.
            s.failed -= len(self._failed & {job.key for job in the_plan.todo})
            if self.may_submit:
                s.to_send = len(the_plan.todo)
                self._submit(the_plan.todo)
            else:
                s.refused = len(the_plan.todo)
            if not s.interrupted:
                self._check(wait=not self.no_wait)
        except failures.APIFailure as failure:
            s.stopped = failure
        except KeyboardInterrupt:
            s.interrupted = True
        except OSError as exc:  # a result line (the results file is full)
            self._cannot_write(f"cannot write {self.config.output} ({exc.strerror or exc})")
        except records.WriteError as exc:  # the state file
            self._cannot_write(str(exc))
        s.pending = sum(len(b["requests"]) for b in self.state.uncollected()) + s.refused
        s.pending += max(0, s.to_send - self._handled)  # never submitted: stopped before
        s.batches = [b["id"] for b in self.state.uncollected()]
        return s

    def _cannot_write(self, reason: str) -> None:
        """A result line or the state file that cannot be written stops the run (exit 1, as
        with ``--each``): nothing more is submitted or collected, and the next run goes on from
        what was saved (a collection cut short resumes without writing anything twice)."""
        self.summary.write_error = (
            f"{reason}: the run stopped, and nothing more was submitted or collected; free the "
            "space (or fix the file) and run the same command again (nothing is paid twice)"
        )

    # -- submitting ---------------------------------------------------------------------------

    def _submit(self, todo: Sequence[Job]) -> None:
        """Preflight (``jobs`` images at a time), write the failures, and submit the rest in
        batches as they fill up."""
        if not todo:
            return
        cfg = self.config
        model, prompt_hash = cfg.settings.model_name, cfg.prompt_sha256
        with ThreadPoolExecutor(max(1, cfg.jobs), thread_name_prefix="vision-cli-prep") as pool:
            prepared = plan.ordered_map(
                pool, lambda job: plan.prepare(job, cfg), todo, 2 * cfg.jobs
            )
            ready: Iterator[tuple[dict[str, Any], EachRequest]] = (
                (
                    {
                        "custom_id": plan.custom_id(p.job.label, p.sha256),
                        "params": p.request.params,
                    },
                    p,
                )
                for p in self._failures(prepared, model, prompt_hash)
                if p.request is not None
            )
            for chunk in chunks(ready, lambda pair: plan.request_size(pair[0])):
                if self._create(chunk, model, prompt_hash):
                    break  # interrupted: the batch just created is saved; stop here

    def _failures(
        self, prepared: Iterable[EachRequest], model: str, prompt_hash: str
    ) -> Iterator[EachRequest]:
        for p in prepared:
            if p.request is None:
                error = records.preflight_error(p.failure or "cannot be sent")
                record = records.error_record(p.job.label, p.sha256, model, prompt_hash, error)
                self.log.append(record, self.tally.failure)
                self._handled += 1
            yield p

    def _create(
        self, chunk: list[tuple[dict[str, Any], EachRequest]], model: str, prompt_hash: str
    ) -> bool:
        """Create one batch and save it at once; True when Ctrl-C (or SIGTERM) came meanwhile.

        The intent is saved first: a submission id, carried by every ``custom_id``, with the
        requests and the time. A run that dies during the create, or cannot save the id after
        it, leaves that entry, and the next run finds the batch with ``batches.list``
        (:meth:`_confirm`) instead of paying for it again. If the intent cannot be saved,
        nothing is created. The create itself is never cut short, and its id goes to stderr
        the moment it exists."""
        submission = secrets.token_hex(6)
        requests = []
        refs = {}
        for item, p in chunk:
            cid = plan.custom_id(p.job.label, p.sha256, submission)
            requests.append({**item, "custom_id": cid})
            refs[cid] = {"path": p.job.label, "sha256": p.sha256}
        entry: dict[str, Any] = {
            "id": None,
            "submission": submission,
            "model": model,
            "prompt_sha256": prompt_hash,
            "submitted_at": _now(self.config.clock),
            "requests": refs,
            "collect_offset": None,
            "collected": False,
        }
        self.state.batches.append(entry)
        try:
            self.state.save()
        except records.OutputError:
            self.state.batches.remove(entry)
            raise
        try:
            status, interrupted = _shielded(lambda: self._create_with_retries(requests), self.note)
        except failures.APIFailure as failure:
            if failure.status is not None:  # the API answered: no batch was made
                self.state.batches.remove(entry)
                self.state.save()
            raise
        self.created(f"submitted batch {status.id}: {len(chunk):,} requests")
        self._handled += len(chunk)
        entry["id"] = status.id
        self.state.save()
        if interrupted:
            self.summary.interrupted = True
        return interrupted

    def _confirm(self) -> None:
        """Give every unconfirmed batch its id, found with ``batches.list``: the batch created
        at or after the intent was saved with as many requests, that no saved batch is. None:
        the create never reached the API, and the images are submitted now. Several: the user
        must decide (an OutputError naming them)."""
        pending = self.state.unconfirmed()
        if not pending:
            return
        since = min(_parse_time(b["submitted_at"]) for b in pending) - CLOCK_SLACK
        listed = batches.list_batches(self.api, since)
        for entry in pending:
            known = {b["id"] for b in self.state.batches if b.get("id")}
            start = _parse_time(entry["submitted_at"]) - CLOCK_SLACK
            found = [
                b
                for b in listed
                if b.id not in known
                and b.total == len(entry["requests"])
                and (b.created_at is None or b.created_at >= start)
            ]
            if len(found) > 1:
                ids = ", ".join(b.id for b in found)
                raise records.OutputError(
                    f"an earlier run stopped while submitting a batch, and {len(found)} batches "
                    f"could be it ({ids}): look at them in the Console, then put the right id "
                    f"in {self.state.path} (its entry with submission {entry['submission']}) "
                    "or remove that entry to submit its images again"
                )
            if found:
                entry["id"] = found[0].id
                self.note(
                    f"found batch {found[0].id}, submitted by an earlier run that stopped "
                    "before saving it: it is collected, not submitted again"
                )
            else:
                self.state.batches.remove(entry)
                self.note(
                    "a batch an earlier run began to submit was never created: its images "
                    "are submitted now"
                )
        self.state.save()

    def _create_with_retries(self, requests: list[dict[str, Any]]) -> batches.BatchStatus:
        """Create, retrying only answers that say no batch was made (429, 500, 529), after the
        wait the API asks for. A timeout or a dropped connection is not retried: the batch may
        exist, and a second one would be paid for again."""
        api = self.api.with_options(max_retries=0)
        for attempt in range(CREATE_TRIES):
            try:
                return batches.create_batch(api, requests)
            except failures.APIFailure as failure:
                if failure.status not in _CREATE_RETRY or attempt == CREATE_TRIES - 1:
                    if failure.status is None:
                        raise failures.APIFailure(
                            None,
                            failure.type,
                            f"{failure.message}. The batch may have been created: running "
                            "again looks for it (in the API's list of batches) before "
                            "submitting anything",
                        ) from None
                    raise
                wait = failure.retry_after
                self.sleep(min(60.0, wait if wait is not None else 2.0**attempt))
        raise AssertionError("unreachable")

    # -- collecting ---------------------------------------------------------------------------

    def _check(self, *, wait: bool) -> None:
        """Poll every uncollected batch and collect those that have ended; with ``wait``, until
        none is left (with backoff between polls)."""
        delay = POLL_FIRST
        batches = self.state.uncollected()
        total = sum(len(b["requests"]) for b in batches)
        if wait and batches:
            self.note(f"waiting for {len(batches)} batches ({total:,} requests)")
        collected = 0
        while True:
            counted = 0
            for batch in self.state.uncollected():
                status = self._retrieve(batch["id"])
                if status.ended:
                    self._collect(batch)
                    collected += len(batch["requests"])
                else:
                    counted += status.done
            if wait:
                self.progress(Tick.of(self.summary, collected + counted, total))
            if not wait or not self.state.uncollected():
                return
            self.sleep(delay)
            delay = min(POLL_MAX, delay * POLL_FACTOR)

    def _retrieve(self, batch_id: str) -> batches.BatchStatus:
        try:
            return batches.retrieve_batch(self.api, batch_id)
        except failures.APIFailure as failure:
            if failure.status != 404:
                raise
            raise failures.APIFailure(
                404,
                failure.type,
                f"{failure.message}. The batch is saved in {self.state.path}: with the key and "
                f"endpoint that created it, run again; to submit its images again instead, "
                "remove it from that file",
                failure.request_id,
            ) from None

    def _collect(self, batch: dict[str, Any]) -> None:
        """Write an ended batch's results, each once, then mark it collected."""
        model, prompt_hash = batch["model"], batch["prompt_sha256"]
        written: set[tuple[str, str | None]] = set()
        offset = batch.get("collect_offset")
        if isinstance(offset, int):  # an earlier run began writing these results
            written = {
                (e.path, e.sha256)
                for e in self.log.entries(offset)
                if e.model == records.model_key(model) and e.prompt_sha256 == prompt_hash
            }
        else:
            batch["collect_offset"] = self.log.size()
            self.state.save()
        try:
            priced = catalog.resolve(model)
        except catalog.UnknownModelError:
            priced = self.config.settings.model
        refs = batch["requests"]
        for result in batches.batch_results(self.api, batch["id"]):
            ref = refs.get(result.custom_id)
            if ref is None:
                continue
            key = (ref["path"], ref.get("sha256"))
            if key in written:
                continue
            written.add(key)
            self._write_result(result, key, model, prompt_hash, priced)
        batch["collected"] = True
        self.state.save()
        self.note(f"collected batch {batch['id']}")

    def _too_large(self, error: failures.APIFailure, path: str, model: catalog.Model) -> None:
        """A batch request the API refused as too large: remember the model's edge, so that the
        next run (which asks again about failed images) prepares them to fit. Nothing is resent
        from here: a batch answers within 24 hours, and a new one is the next run's to make."""
        found = failures.too_large(error)
        if found is None:
            return
        remembered = running.remember_edge(model, found[0])
        self.warn(
            f"{path}: the API takes images of at most {found[0]} px a side for "
            f"{model.short_name} ({remembered}); run the same command again to send it "
            "shrunk to fit"
        )

    def _write_result(
        self,
        result: batches.BatchResult,
        key: tuple[str, str | None],
        model: str,
        prompt_hash: str,
        priced: catalog.Model,
    ) -> None:
        path, sha = key
        reply = result.reply
        if reply is not None:
            cost = round(
                pricing.cost_usd(priced, reply.input_tokens, reply.output_tokens, batch=True), 10
            )
            # A batch submitted with another --schema is not checked against this one.
            same = prompt_hash == self.config.prompt_sha256
            settings = self.config.settings if same else None
            record = records.success_record(
                path, sha, model, prompt_hash, reply, cost, settings=settings
            )
            self.log.append(record, lambda: self.tally.answered(record, reply))
            self._answered.add(records.image_id(*key))
            return
        error = result.error or failures.APIFailure(None, result.type, "no answer")
        self._too_large(error, path, priced)
        if self.log.append(records.error_record(path, sha, model, prompt_hash, error.as_dict())):
            self.tally.failure()  # one thread here: no race with the count
            self._failed.add(records.image_id(*key))


def _shielded(work: Callable[[], T], note: Note) -> tuple[T, bool]:
    """Run ``work`` to its end even through Ctrl-C; its value, and whether Ctrl-C came."""
    box: list[T] = []
    errors: list[BaseException] = []
    ended = threading.Event()  # not Thread.join: a Ctrl-C inside it can lose track of the thread

    def target() -> None:
        try:
            box.append(work())
        except BaseException as exc:
            errors.append(exc)
        finally:
            ended.set()

    threading.Thread(target=target, name="vision-cli-submit", daemon=True).start()
    interrupted = False
    while True:
        try:
            if ended.wait(0.1):
                break
        except KeyboardInterrupt:
            if not interrupted:
                note("stopping after this batch is submitted and saved")
            interrupted = True
    if errors:
        raise errors[0]
    return box[0], interrupted
