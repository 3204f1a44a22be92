"""Worker processes shared by the commands that spread work over CPUs (``inspect``, ``resize``).

On Linux workers are forked: they start in a millisecond with everything already imported, and
are this process's children (their CPU time counts as ours). They leave Ctrl-C to the main
process, which stops them in order, and end by themselves when the main process is killed.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import multiprocessing.context
    from concurrent.futures import ProcessPoolExecutor

#: How often a worker checks that the main process is still there.
PARENT_POLL_SECONDS = 0.2


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
