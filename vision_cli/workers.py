"""Worker processes shared by the commands that spread work over CPUs (``inspect``, ``resize``).

On Linux workers are forked: they start in a millisecond with everything already imported, and
are this process's children (their CPU time counts as ours). They leave Ctrl-C to the main
process, which stops them in order, and end by themselves when the main process is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import multiprocessing.context
    from concurrent.futures import Executor, Future, ProcessPoolExecutor

#: How often a worker checks that the main process is still there.
PARENT_POLL_SECONDS = 0.2
#: How often the main process, waiting for a result, looks for a worker that died without the
#: pool noticing (see :func:`result`).
DEATH_POLL_SECONDS = 1.0

_T = TypeVar("_T")


def context() -> multiprocessing.context.BaseContext:
    """``fork`` on Linux; elsewhere ``spawn``, the only safe choice on macOS."""
    import multiprocessing  # only runs that start workers pay for it

    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def start_worker() -> None:
    """The initializer of every worker: Ctrl-C is the main process's business (no worker
    tracebacks), SIGTERM simply ends it, so does a result sent to a main process that is gone
    (SIGPIPE: no broken-pipe traceback), and it exits when its main process is gone (killed with
    SIGKILL or SIGTERM) instead of waiting for work, or blocking on a full pipe, forever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


@contextlib.contextmanager
def pool(jobs: int) -> Iterator[ProcessPoolExecutor]:
    """``jobs`` worker processes, started on entering; leaving the block early (Ctrl-C, SIGTERM,
    a reader that went away) ends them at once.

    A ``ProcessPoolExecutor``, not a ``multiprocessing.Pool``: a Pool replaces a worker that
    dies and never says that the task it held is lost (the run waits for its result for ever),
    and a worker killed while it waits for a task holds the lock on the task queue, so that the
    others, its replacement and even ``Pool.terminate`` block on it. This pool watches every
    worker and, when one dies, fails every task not done with ``BrokenProcessPool`` (see
    :func:`interrupt_if_stopped`) and ends the others. Workers that die as the pool starts
    leave it broken, as later: the tasks handed to it fail the same way."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    executor = ProcessPoolExecutor(max_workers=jobs, mp_context=context(), initializer=start_worker)
    try:
        with contextlib.suppress(BrokenProcessPool):
            executor.submit(_ready).result()  # start the workers now
        results_end_with_workers(executor)
        yield executor
    except BaseException:
        # Ctrl-C, SIGTERM or an early close: what the workers are doing is wanted no more (they
        # only compute; every write is this process's), so they are stopped now rather than
        # waited for. Waiting would leave a second Ctrl-C to land inside the wait for the
        # pool's thread, which Python then takes for ended while it still waits for workers
        # that never get told to stop: the run would hang at exit.
        kill(executor)
        raise
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _ready() -> None:
    """A task that does nothing: submitting it starts the pool's workers."""


def submit(pool: Executor, fn: Callable[..., _T], *args: Any) -> Future[_T]:
    """``pool.submit(fn, *args)``; once a worker has died and broken the pool, a future that
    holds that error (``BrokenProcessPool``) rather than the error at once: the task is lost
    as the ones handed out before it are, and is reported as they are (:func:`result`)."""
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    try:
        return pool.submit(fn, *args)
    except BrokenProcessPool as exc:
        future: Future[_T] = Future()
        future.set_exception(exc)
        return future


def result(future: Future[_T], pool: Executor) -> _T:
    """``future``'s result, or ``BrokenProcessPool`` once a worker of ``pool`` has died.

    The pool's thread notices a death by itself, except while it reads a result: a worker
    killed halfway through sending one (the out-of-memory killer does not wait) leaves it
    waiting for the rest, which comes only from another writer, and the others block for ever
    on the lock the dead one held. A worker found dead twice in a row, :data:`DEATH_POLL_SECONDS`
    apart, with the pool not yet broken, is that case: the others are ended as the pool would
    end them (SIGTERM), every writer is then gone, and the pool's thread breaks the pool."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures import TimeoutError as Pending
    from multiprocessing.connection import wait

    seen_dead = False
    while True:
        try:
            return future.result(timeout=DEATH_POLL_SECONDS)
        except Pending:
            if not isinstance(pool, ProcessPoolExecutor):
                continue
            processes = list((pool._processes or {}).values())  # private: the live workers
            dead = bool(wait([p.sentinel for p in processes], timeout=0))
            if dead and seen_dead and not pool._broken:  # private, as the pool's own check
                for process in processes:
                    process.terminate()
            seen_dead = dead


def interrupt_if_stopped(pool: Executor) -> None:
    """Once ``pool`` broke (``BrokenProcessPool``): KeyboardInterrupt when it broke because the
    run is being stopped (:func:`stopped`), and none of its inputs failed; otherwise the inputs
    whose results it lost fail (``judging.WORKER_DIED``)."""
    from concurrent.futures import ProcessPoolExecutor

    if isinstance(pool, ProcessPoolExecutor) and stopped(pool):
        raise KeyboardInterrupt from None


def results_end_with_workers(pool: ProcessPoolExecutor) -> None:
    """Let go of this process's end for writing of ``pool``'s result pipe, once every worker has
    started (forked workers all start with the first task; spawned ones start as work comes,
    each needing that end, so it is kept): the workers alone can then write into it. A worker
    ended halfway through sending a result (SIGTERM to the process group, as ``timeout`` and CI
    runners send it, or SIGKILL) leaves the pool's thread reading the rest of it, which comes
    only from another writer or as the end of the file once all are gone: with this process
    holding one, never, and the run would hang instead of stopping."""
    context = pool._mp_context
    if context is None or context.get_start_method() != "fork":
        return
    writer = getattr(pool._result_queue, "_writer", None)  # the queue's side: not public
    if writer is not None:
        writer.close()


def kill(pool: ProcessPoolExecutor) -> None:
    """End ``pool``'s workers at once (what they do is not wanted any more): its shutdown then
    waits for nothing. ``ProcessPoolExecutor.kill_workers`` from Python 3.14 on."""
    processes = pool._processes or {}
    for process in list(processes.values()):
        process.kill()


def stopped(pool: ProcessPoolExecutor) -> bool:
    """Whether ``pool`` broke because the run is being stopped, not because a worker died: every
    worker ended by SIGTERM. The main process hears of the stop too, but not always first:
    systemd, ``pkill`` and ``kill PID...`` signal each process in turn, so the pool can break
    before this process's own KeyboardInterrupt comes, if it comes at all. A worker the kernel's
    out-of-memory killer ends gets SIGKILL, a crash its own signal; once one has died, the pool
    ends the others with SIGTERM, so one ended otherwise decides. Waits for the pool's thread,
    which ends and reaps every worker as the pool breaks (what ``shutdown`` would wait for)."""
    thread: threading.Thread | None = getattr(pool, "_executor_manager_thread", None)  # private
    if thread is not None:
        thread.join()
    ended = [process.exitcode for process in (pool._processes or {}).values()]
    return bool(ended) and all(code == -signal.SIGTERM for code in ended)


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
