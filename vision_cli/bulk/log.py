"""The results log: the append-only JSONL file of a bulk run (or standard output).

One line per answer, written whole (one ``write``, then ``fsync``) under one lock, never
rewritten. Opening it takes an exclusive lock (a second run on the same file stops), refuses a
file that is not a results file, cuts a torn last line left by a ``kill -9`` and reads what
earlier runs answered, so a run can resume. The lines themselves are :mod:`.records`'.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, TextIO

from vision_cli import fsutil, names
from vision_cli.bulk.records import FIELDS, Entry, OutputError, entry, open_results

#: How much of a results file's start is read to recognise it (a first line is never longer:
#: an answer is at most a few hundred kilobytes of text).
_RECOGNISE_BYTES: Final = 16 * 1024 * 1024
#: How every results line begins (its first member, as ``names.dumps`` writes it).
_RECORD_START: Final = f'{{"{FIELDS[0]}": '.encode()


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
        """Lock the file for this run and make it end with a whole line. OutputError (also for
        what cannot be a results file: :func:`.records.open_results`)."""
        if self.path is None:
            self._stream = self._given or sys.stdout
            return
        created = not self.path.exists()
        try:
            fsutil.make_folders(self.path.parent)
            fd = open_results(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
        except OSError as exc:
            raise OutputError(fsutil.cannot("open", self.path, exc)) from None
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
            if entry(first) is not None:
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
        if entry(tail) is not None:
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
        """Every results line from byte ``start`` on; other lines are counted in ``ignored``.
        OutputError (also for what cannot be a results file: :func:`.records.open_results`)."""
        if self.path is None:
            return []
        found: list[Entry] = []
        ignored = 0
        try:
            with os.fdopen(open_results(self.path), "rb") as fh:
                fh.seek(start)
                for raw in fh:
                    if not raw.strip() or not raw.endswith(b"\n"):
                        continue  # blank, or a torn last line (cut when the file is opened)
                    read = entry(raw)
                    if read is None:
                        ignored += 1
                    else:
                        found.append(read)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise OutputError(fsutil.cannot("read", self.path, exc)) from None
        if start == 0:
            self.ignored = ignored
            if ignored and not found:
                raise OutputError(
                    f"{self.path} is not a vision-cli results file (its "
                    f"{'line is' if ignored == 1 else f'{ignored:,} lines are'} not results): it "
                    "was left as it is; choose another --output"
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
