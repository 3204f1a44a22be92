"""Writing files so that nothing is ever half-written, in one place for every command.

The data goes to a temporary file in the target's folder, is flushed to disk, and only then gets
the target's name (a link that refuses to clobber, or a rename over the old file). Where the
system allows, the temporary file has no name at all until it is complete (O_TMPFILE), so even
``kill -9`` leaves nothing behind; elsewhere it is a hidden ``.NAME.*.vision-cli-tmp``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

TEMP_SUFFIX = ".vision-cli-tmp"


def umask() -> int | None:
    """The process's umask, read without changing it (``os.umask`` would, for every thread, for
    a moment); None where the system does not say."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def default_mode() -> int:
    """The permissions a new file gets from ``open()``: 0666 less the umask (0600 if unknown)."""
    mask = umask()
    return 0o600 if mask is None else 0o666 & ~mask


def existing_mode(path: Path) -> int | None:
    """An existing file's permission bits (to keep them when it is replaced), else None."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return None


def write_atomic(
    path: Path,
    data: bytes,
    *,
    replace: bool = True,
    mode: int | None = None,
    sync_parent: bool = True,
) -> None:
    """Write ``data`` to ``path`` so that ``path`` is never seen incomplete.

    ``replace`` False refuses to clobber: FileExistsError if the name is taken (atomically).
    ``mode`` None gives a new file's usual permissions. The data is always flushed to disk before
    the name appears; ``sync_parent`` False leaves flushing the folder's entry to the caller (one
    :func:`sync_folder` per folder after writing many files, instead of one per file).
    """
    mode = default_mode() if mode is None else mode
    if _unnamed_ok and _write_unnamed(path, data, replace, mode):
        if sync_parent:
            sync_folder(path.parent)
        return
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        try:
            _fill(fd, data, mode)
        finally:
            os.close(fd)
        if replace:
            os.replace(temp, path)
        else:
            os.link(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    if sync_parent:
        sync_folder(path.parent)


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, keeping an existing file's permissions and
    making its folder if need be."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text.encode("utf-8"), replace=True, mode=existing_mode(path))


@contextlib.contextmanager
def atomic_text(path: Path) -> Iterator[TextIO]:
    """A text stream that becomes ``path`` when the block ends without an exception.

    It streams to a hidden temporary file beside ``path`` (memory stays flat however much is
    written); an interrupted run leaves the old file, or none, and never a partial one.
    """
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, existing_mode(path) or default_mode())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Flush a folder's entries (the renames) to disk; not every system allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def hidden_temp_name(name: str) -> str:
    """A fresh hidden name beside ``name`` for a file that is not complete yet."""
    return f".{name}.{os.urandom(4).hex()}{TEMP_SUFFIX}"


def _fill(fd: int, data: bytes, mode: int) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.fchmod(fd, mode)
    os.fsync(fd)


#: Whether unnamed temporary files work here (cleared on the first failure).
_unnamed_ok = bool(getattr(os, "O_TMPFILE", 0)) and Path("/proc/self/fd").is_dir()


def _write_unnamed(path: Path, data: bytes, replace: bool, mode: int) -> bool:
    """Write through an O_TMPFILE file; False when this system or file system cannot."""
    global _unnamed_ok
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o600, dir_fd=folder)
        except OSError:
            _unnamed_ok = False
            return False
        try:
            _fill(fd, data, mode)
            source = f"/proc/self/fd/{fd}"
            # dst_dir_fd makes os.link use linkat(AT_SYMLINK_FOLLOW), which /proc needs
            if not replace:
                try:
                    os.link(source, path.name, dst_dir_fd=folder, follow_symlinks=True)
                except FileExistsError:
                    raise
                except OSError:
                    _unnamed_ok = False
                    return False
                return True
            temp = _link_hidden(source, path.name, folder)
            if temp is None:
                _unnamed_ok = False
                return False
            try:
                os.replace(temp, path.name, src_dir_fd=folder, dst_dir_fd=folder)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp, dir_fd=folder)
                raise
            return True
        finally:
            os.close(fd)
    finally:
        os.close(folder)


def _link_hidden(source: str, name: str, folder: int) -> str | None:
    """Link ``source`` under a fresh hidden name in ``folder``; None when linking fails."""
    for _ in range(100):
        temp = hidden_temp_name(name)
        try:
            os.link(source, temp, dst_dir_fd=folder, follow_symlinks=True)
        except FileExistsError:
            continue
        except OSError:
            return None
        return temp
    return None
