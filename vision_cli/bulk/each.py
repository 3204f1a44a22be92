"""``ask --each``: one request per image, ``--jobs`` at a time, each answer appended as it comes.

:class:`EachRun` runs ``--jobs`` threads sharing one SDK client, paced by the
:class:`~vision_cli.bulk.limiter.Limiter`. Ctrl-C stops new requests, lets those in flight
finish (a second Ctrl-C abandons them) and leaves the results file valid. A run of failures
after every retry, or a failure that is the run's rather than the image's (the key, the account,
the model), stops it.
"""

from __future__ import annotations

import errno
import functools
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Final

from vision_cli import catalog
from vision_cli.asking import answering, building, running
from vision_cli.bulk import plan, records
from vision_cli.bulk.limiter import Abandoned, Limiter
from vision_cli.bulk.log import ResultsLog
from vision_cli.bulk.plan import Config, EachPlan, Job
from vision_cli.bulk.summary import EachSummary, EachTally, Note, Progress, Tick, nothing
from vision_cli.client import connect, failures, messages
from vision_cli.exitcodes import StdoutFailed

#: This many requests in a row failing after all their retries (429, 5xx, timeouts) stop the run:
#: the API is down, and every further image would only add an error line.
STOP_AFTER_FAILURES: Final = 10
#: Statuses that stop a whole run: the key, the account or the model is wrong for every image.
_FATAL: Final = frozenset({401, 402, 403, 404})


def _fatal(failure: failures.APIFailure) -> bool:
    """Whether a failure is the run's, not the image's: the key, the account, the model, or no
    network at all."""
    return failure.status in _FATAL or failure.type == "connection_error"


def _abandoned(failure: failures.APIFailure) -> bool:
    return failure.type == Abandoned.__name__


#: What a run shows of each line once it is written, from the worker's thread (``locate``: the
#: image's boxes on standard output).
Shown = Callable[[Job, Mapping[str, Any]], None]


class _ShowFailed(Exception):
    """Standard output could not take what :data:`Shown` wrote (``__cause__``: why), whether or
    not the lines themselves go to a results file."""


class EachRun:
    """One request per image, ``config.jobs`` at a time, each answer appended as it arrives."""

    def __init__(
        self,
        config: Config,
        log: ResultsLog,
        *,
        progress: Progress = nothing,
        note: Note = nothing,
        warn: Note | None = None,
        shown: Shown | None = None,
    ) -> None:
        self.config = config
        self.log = log
        self.shown = shown
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
        self._api: connect.Anthropic | None = None
        #: Workers still running, and set when none is. (Not ``Thread.join``: a Ctrl-C inside
        #: it can leave a running thread marked as ended on CPython 3.11.)
        self._live = 0
        self._ended = threading.Event()

    def run(self, the_plan: EachPlan) -> EachSummary:
        s = self.summary
        s.images, s.skipped, s.to_send = the_plan.images, len(the_plan.skipped), len(the_plan.todo)
        s.in_batches = len(the_plan.in_batches)
        self._queue.extend(the_plan.todo)
        if the_plan.todo:
            self._api = connect.make_client(
                max_retries=self.config.max_retries,
                timeout=self.config.timeout,
                middleware=[self.limiter.middleware()],
                vars=self.config.vars,
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
            s.pending = s.to_send - s.done + s.in_batches
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
                    except (OSError, StdoutFailed, _ShowFailed):  # the results cannot be written
                        raise
                    except Exception as exc:  # a bug: the image gets a line saying so
                        record = records.error_record(
                            job.label,
                            job.sha256,
                            self._model,
                            self._prompt_hash,
                            records.internal_error(exc),
                        )
                        self._append(job, record, self.tally.failure)
                except Exception as exc:  # the results cannot be written: stop everything
                    on_stdout = isinstance(exc, _ShowFailed) or self.config.output is None
                    cause = exc.__cause__ if isinstance(exc, _ShowFailed) else exc
                    closed = isinstance(cause, OSError) and cause.errno == errno.EPIPE
                    if closed and on_stdout:  # | head: a quiet stop
                        with self.tally.lock:
                            self.summary.stdout_closed = True
                        self._halt()
                        continue
                    reason = cause.strerror if isinstance(cause, OSError) else None
                    where = "standard output" if on_stdout else str(self.config.output)
                    self._cannot_write(reason or str(cause), where)
        finally:
            with self.tally.lock:
                self._live -= 1
                if self._live == 0:
                    self._ended.set()

    def _cannot_write(self, reason: str, where: str) -> None:
        """An answer (or an error line) that cannot be saved or shown stops the run: no new
        requests, the reason said once, exit 1. The answers saved so far are not asked again."""
        again = "free the space (or fix the file) and run the same command again"
        if self.config.output is None:  # --output -: no results file to resume from
            again = "no results file keeps the answers (--output -): give --output FILE to resume"
        with self.tally.lock:
            if self.summary.write_error is None:
                self.summary.write_error = (
                    f"cannot write {where} ({reason}): the run stopped, and no further request "
                    f"was sent; {again}"
                )
        self._halt()

    def _process(self, job: Job) -> None:
        prepared = plan.prepare(job, self.config)
        if prepared.request is None:
            record = records.error_record(
                job.label,
                prepared.sha256,
                self._model,
                self._prompt_hash,
                records.preflight_error(prepared.failure or "cannot be sent"),
            )
            self._append(job, record, self.tally.failure)
            return
        started = time.monotonic()
        try:
            request, reply = self._send(prepared.request)
        except failures.APIFailure as failure:
            self._failed(job, prepared.sha256, failure)
            return
        answer = answering.answer(reply, request, self.config.settings)
        record = records.success_record(
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
            record["sent"] = records.sent_geometry(request.images[0])
        self._append(job, record, lambda: self.tally.answered(record, reply))
        with self.tally.lock:
            self._failures_in_a_row = 0

    def _append(self, job: Job, record: dict[str, Any], written: Callable[[], None]) -> None:
        """Write the job's line (``written`` then counts it), then show it (:data:`Shown`).
        OSError, StdoutFailed: the line cannot be written; _ShowFailed: it cannot be shown."""
        if self.log.append(record, written) and self.shown is not None:
            try:
                self.shown(job, record)
            except (OSError, StdoutFailed) as exc:
                raise _ShowFailed(exc) from exc

    def _send(self, request: building.Request) -> tuple[building.Request, messages.Reply]:
        assert self._api is not None
        api = self._api
        cache = self.config.cache
        if request.pending_uploads:
            files = running.resolve_files(api, request.images, cache, expires=self._expires)
            request = self._rebuild(request, files)
        # A file id the API no longer knows: that image uploaded again, once (as ``ask`` does).
        return running.send_refreshing(
            api,
            request,
            self.config.settings,
            cache,
            rebuild=functools.partial(self._rebuild, request),
            expires=self._expires,
            on_correction=self._corrected,
        )

    def _corrected(self, correction: running.Correction) -> None:
        settings = self.config.settings
        remembered = running.remember(settings.model, correction)
        self.warn(f"{correction.describe(settings.model_name)}; {remembered}")
        if not correction.model_edge:
            return
        # The images still to prepare are fitted to the edge the API gave: the requests in
        # flight may each get the 400 once, the rest not at all.
        tier = catalog.edge_tier(settings.model.tier, correction.max_side)
        fitted = replace(settings, model=settings.model._replace(tier=tier))
        self.config = replace(self.config, settings=fitted)

    @property
    def _expires(self) -> int:
        return self.config.settings.expires

    def _rebuild(self, request: building.Request, files: building.Files) -> building.Request:
        return building.build_request(
            request.images, self.config.settings, prompt=self.config.prompt, files=files
        )

    def _failed(self, job: Job, sha256: str | None, failure: failures.APIFailure) -> None:
        if _abandoned(failure) or (self.stop.is_set() and failure.status is None):
            return  # never sent, or cut off by the stop: the next run sends it
        if _fatal(failure):
            self._stop_run(failure)
            return
        record = records.error_record(
            job.label, sha256, self._model, self._prompt_hash, failure.as_dict()
        )
        self._append(job, record, self.tally.failure)
        if failure.retryable:
            with self.tally.lock:
                self._failures_in_a_row += 1
                many = self._failures_in_a_row >= STOP_AFTER_FAILURES
            if many:
                self._stop_run(
                    failures.APIFailure(
                        failure.status,
                        failure.type,
                        f"{STOP_AFTER_FAILURES} requests in a row failed after every retry "
                        f"(the last: {failure.message}): try again later, and the same command "
                        "goes on where this run stopped",
                        failure.request_id,
                    )
                )

    def _stop_run(self, failure: failures.APIFailure) -> None:
        with self.tally.lock:
            if self.summary.stopped is None:
                self.summary.stopped = failure
        self._halt()
