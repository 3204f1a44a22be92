"""Writing files so that nothing is ever half-written, in one place for every command.

The data goes to a temporary file in the target's folder, is flushed to disk, and only then gets
the target's name (a link that refuses to clobber, or a rename over the old file). Where the
system allows, the temporary file has no name at all until it is complete (O_TMPFILE), so even
``kill -9`` leaves nothing behind; elsewhere it is a hidden ``.NAME.*.vision-cli-tmp``.

A file the user names for output (``inspect -o``, ``locate --draw``, ``--conversation``) goes
through :func:`output_target` (:func:`atomic_text`, :func:`write_output`, :func:`write_text`): a
symbolic link is followed and its target replaced, the link left a link; a device, FIFO, socket
or open descriptor (``/dev/null``, ``>(cat)``, ``/dev/stdout``) is written straight into, never
replaced.

It also holds the words for a file that cannot be opened or read (:func:`file_error`), and for
what to do about one that cannot be written (:func:`write_advice`), the same in every command,
and the one way to open a file vision-cli reads back whole or line by line (a results file, a
conversation, a batch state file): :func:`open_regular`, which refuses a device, a FIFO, a
socket or a folder before opening it, and a regular file over a size cap.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import select
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Final, NamedTuple, TextIO

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


def os_reason(exc: OSError) -> str:
    """The system's reason for ``exc``, for a sentence (``permission denied``)."""
    return (exc.strerror or type(exc).__name__).lower()


#: Seconds an input that is a FIFO (a named pipe) is given to start delivering data: nothing
#: may ever write into one, and reading it would then wait for ever (a module global: tests
#: lower it). Process substitution (``<(cmd)``) has its writer already, and is not held up.
FIFO_WAIT_SECONDS: float = 10.0


class SilentFifo(TimeoutError):
    """A FIFO named as an input that nothing wrote into within :data:`FIFO_WAIT_SECONDS`."""


def _open_checked(
    path: Path,
    flags: int,
    check: Callable[[int, os.stat_result], None],
    mode: int = 0o666,
    *,
    kept: bool = False,
) -> tuple[int, os.stat_result]:
    """``path`` opened with ``flags`` (close-on-exec) without waiting: ``O_NONBLOCK``, so that
    opening a FIFO never blocks; then ``check(fd, fstat)``, which may raise, and the descriptor
    made blocking again. A regular file's reads never wait, so its descriptor is left as it is,
    unless it is ``kept`` (handed on, not just read at once). The descriptor is closed when
    anything fails. OSError as :func:`os.open` raises it."""
    fd = os.open(path, flags | os.O_CLOEXEC | os.O_NONBLOCK, mode)
    try:
        info = os.fstat(fd)
        check(fd, info)
        if kept or not stat.S_ISREG(info.st_mode):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def _fifo_delivers(fd: int, info: os.stat_result) -> None:
    """A FIFO gets :data:`FIFO_WAIT_SECONDS` to deliver data or end; :class:`SilentFifo`."""
    if stat.S_ISFIFO(info.st_mode):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if not poller.poll(int(FIFO_WAIT_SECONDS * 1000)):
            reason = f"nothing wrote into it within {FIFO_WAIT_SECONDS:g} s"
            raise SilentFifo(errno.ETIMEDOUT, reason)


def open_input(path: Path) -> tuple[int, os.stat_result]:
    """A descriptor of ``path`` open for reading, and its ``fstat``. Opening never blocks: a
    FIFO is opened without waiting for a writer, then given :data:`FIFO_WAIT_SECONDS` to deliver
    data or end (:class:`SilentFifo` otherwise). OSError as ``os.open`` raises it."""
    return _open_checked(path, os.O_RDONLY, _fifo_delivers)


def read_at_most(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of the file at ``path``, opened as every input is
    (:func:`open_input`). OSError."""
    fd, _ = open_input(path)
    with open(fd, "rb") as fh:
        return fh.read(limit)


def read_small_text(path: Path, cap: int) -> str:
    """The UTF-8 text of a file the user names for a few words (``--prompt-file``, a schema):
    a pipe or FIFO too (:func:`open_input`), never more than ``cap`` bytes of it (``/dev/zero``
    ends there). ValueError past ``cap`` or for text that is not UTF-8; OSError."""
    data = read_at_most(path, cap + 1)
    if len(data) > cap:
        raise ValueError(f"it holds more than {cap:,} bytes, more than a request can carry")
    return data.decode("utf-8")


#: A symbolic link whose target is not there (a file not checked out, a moved folder).
BROKEN_LINK: Final = (
    "a symbolic link to a file that does not exist: fix the link, or fetch what it points to."
)


#: A symbolic link that leads back to itself, directly or through others.
LINK_LOOP: Final = "a symbolic link that leads back to itself (a loop): fix the link."


def _is_link(name: object) -> bool:
    return isinstance(name, (str, bytes, os.PathLike)) and os.path.islink(name)


def link_problem(path: str | os.PathLike[str]) -> str | None:
    """Why a symbolic link to an image cannot be read: :data:`BROKEN_LINK` or :data:`LINK_LOOP`;
    None when it leads to something (or is no link)."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return BROKEN_LINK if _is_link(path) else None
    except OSError as exc:
        return LINK_LOOP if exc.errno == errno.ELOOP else None
    return None


def file_error(exc: OSError) -> str:
    """Why a file could not be opened or read, and what to do: the same words in every command."""
    if isinstance(exc, SilentFifo):
        return (
            f"a named pipe (FIFO) that nothing wrote into within {FIFO_WAIT_SECONDS:g} s: start "
            "the program that writes into it first."
        )
    if isinstance(exc, FileNotFoundError):
        return BROKEN_LINK if _is_link(exc.filename) else "no such file: check the path."
    if exc.errno == errno.ELOOP:
        return LINK_LOOP
    if isinstance(exc, PermissionError):
        return "permission denied: check the file's permissions."
    if isinstance(exc, IsADirectoryError):
        return "this is a folder, not a file."
    return f"cannot read it ({os_reason(exc)})."


#: What to do, by the system's reason, about a file that could not be written.
_WRITE_ADVICE: Final = {
    errno.ELOOP: "a symbolic link on its path leads back to itself (a loop): fix the link",
    errno.ENAMETOOLONG: "shorten the name",
    errno.EISDIR: "move the folder of that name out of the way",
    errno.ENOTDIR: "move the file that stands where its path needs a folder out of the way",
    errno.ENOSPC: "free some space on that disk",
    errno.EDQUOT: "free some space, or ask for a larger quota",
    errno.EROFS: "choose a folder you can write to",
    errno.EACCES: "check the folder's permissions",
    errno.EPERM: "check the folder's permissions",
}


def make_folders(folder: Path) -> None:
    """``folder`` made, and the folders above it (``mkdir -p``). What stands in a folder's place
    is said as what it is: ``Path.mkdir`` calls anything there that is not a folder an existing
    file, a symbolic link that loops or leads nowhere too."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        # named absolute: a folder's name alone (``out``) would read as a file in it
        in_the_way = os.path.abspath(exc.filename)
        os.stat(in_the_way)  # the reason a link gives: ELOOP for a loop, ENOENT for no target
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), in_the_way) from None


def resolved(path: Path) -> Path:
    """``path`` absolute with its symbolic links followed, as far as they lead: a loop is left
    as it is, for the write that follows to say why. (``Path.resolve`` raises RuntimeError for
    one before Python 3.13, which ended a run as an internal error.)"""
    return Path(os.path.realpath(path))


def write_advice(exc: OSError) -> str:
    """What to do about a file that could not be written, by the system's reason (``move the
    folder of that name out of the way``): the same words in every command."""
    return _WRITE_ADVICE.get(exc.errno or 0, "check the folder's permissions and space")


def cannot(doing: str, path: object, exc: OSError) -> str:
    """``cannot write out.jsonl (no space left on device): free some space on that disk``: a
    file the user named for output that could not be opened, read back or written (``doing``),
    why, and what to do (:func:`write_advice`)."""
    return f"cannot {doing} {path} ({os_reason(exc)}): {write_advice(exc)}"


class UnfitFile(Exception):
    """A file vision-cli reads back is not one it can read: not a regular file, or over its cap.
    The message is a clause about the file (``it is a named pipe (FIFO), not a regular file``)."""


#: What each kind of file that is not a regular one is called in a message.
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_regular(st: os.stat_result, cap: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "something else")
        raise UnfitFile(f"it is {kind}, not a regular file")
    if st.st_size > cap:
        raise UnfitFile(
            f"it holds {st.st_size:,} bytes, more than the {cap:,} bytes vision-cli reads back"
        )


def open_regular(path: Path, cap: int, flags: int = os.O_RDONLY, mode: int = 0o666) -> int:
    """Open ``path`` with ``flags`` (as :func:`os.open`; ``O_CREAT`` makes a missing file) if it
    is a regular file of at most ``cap`` bytes, for a file vision-cli reads back: a device, a
    FIFO or a socket would be a read that never ends (``/dev/zero``) or never starts (a FIFO
    with no writer), so it is refused before it is opened, and checked again once open (opened
    without blocking: a FIFO put in its place meanwhile cannot hold the run). A symbolic link is
    followed. :class:`UnfitFile` when refused; OSError as :func:`os.open` raises it."""
    with contextlib.suppress(OSError):  # missing or out of reach: os.open makes it or says why
        _check_regular(os.stat(path), cap)

    def regular(_: int, info: os.stat_result) -> None:
        _check_regular(info, cap)

    return _open_checked(path, flags, regular, mode, kept=True)[0]


def read_back(path: Path, cap: int) -> str:
    """The UTF-8 text of a file vision-cli wrote and reads back whole (a conversation, a batch
    state file), through :func:`open_regular`. UnfitFile, UnicodeDecodeError, OSError."""
    with os.fdopen(open_regular(path, cap), "rb") as fh:
        return fh.read().decode("utf-8")


def file_identity(path: Path) -> tuple[int, int] | None:
    """A regular file's device and inode (links followed), to tell whether two names are one
    file; None for anything else or nothing there."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


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
    like: int | None = None,
) -> None:
    """Write ``data`` to ``path`` so that ``path`` is never seen incomplete.

    ``replace`` False refuses to clobber: FileExistsError if the name is taken (atomically).
    ``mode`` None gives a new file's usual permissions. The data is always flushed to disk before
    the name appears; ``sync_parent`` False leaves flushing the folder's entry to the caller (one
    :func:`sync_folder` per folder after writing many files, instead of one per file). ``like``:
    an open file whose owner and extended attributes the new file gets (as far as allowed), so
    that replacing a file in place keeps them.
    """
    mode = default_mode() if mode is None else mode
    if _unnamed_ok and _write_unnamed(path, data, replace, mode, like):
        if sync_parent:
            sync_folder(path.parent)
        return
    fd, temp = tempfile.mkstemp(prefix=_temp_prefix(path.name), suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        try:
            _fill(fd, data, mode, like)
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


class Target(NamedTuple):
    """Where an output file named by the user is written (:func:`output_target`)."""

    #: The file written: a symbolic link's final target (the link stays), else the name given.
    path: Path
    #: Written straight into, never replaced: a device, FIFO or socket, or an open descriptor
    #: (``/dev/stdout``, ``/dev/fd/N``). False: a regular file or a new name, replaced atomically.
    stream: bool = False
    #: The descriptor of this process that ``path`` names (``/dev/fd/63``, ``/dev/stdout``):
    #: written through a duplicate of it, so it shares its offset as the shell's ``>&N`` does.
    descriptor: int | None = None


#: A folder whose entries are open descriptors: ``/dev/fd`` (macOS, the BSDs) or ``/proc/PID/fd``
#: (``/proc/PID/task/TID/fd``), where Linux's ``/dev/fd`` and ``/proc/self/fd`` lead.
_DESCRIPTOR_FOLDER = re.compile(r"/dev/fd|/proc/(\d+)(?:/task/\d+)?/fd")
#: Symbolic links followed at most (Linux's own limit).
_MAX_LINKS = 40


def output_target(path: Path) -> Target:
    """Where writing the output file ``path`` goes, as a user of ``sed -i --follow-symlinks``,
    ``tee`` or ``> FILE`` expects.

    A regular file or a new name is replaced atomically; a symbolic link is followed to the end
    (a dangling one to the name it points to) and that file replaced, the link left a link. A
    device, FIFO or socket (``/dev/null``), and an open descriptor (``>(cat)`` is ``/dev/fd/63``,
    ``/dev/stdout``) whatever it leads to, is written straight into: renaming a file over it
    would replace the device node or the pipe, and the data would never reach the reader.
    A folder is left to fail where it is written, as any name would. OSError (a link loop).
    """
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None  # a new name, or a link to one
    if st is not None and stat.S_ISDIR(st.st_mode):
        return Target(path)
    current = os.fspath(path)
    for _ in range(_MAX_LINKS):
        head, name = os.path.split(current)
        folder = os.path.realpath(head or os.curdir)
        fds = _DESCRIPTOR_FOLDER.fullmatch(folder)
        if fds:  # its link is an open file, not a name to follow (``pipe:[1234]``)
            own = st is not None and name.isdigit() and fds[1] in (None, str(os.getpid()))
            return Target(path, stream=True, descriptor=int(name) if own else None)
        entry = os.path.join(folder, name)
        try:
            current = os.path.join(folder, os.readlink(entry))
        except OSError:  # not a link, or nothing there: the end
            if st is None or stat.S_ISREG(st.st_mode):
                return Target(Path(entry))
            return Target(path, stream=True)
    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), os.fspath(path))


def _open_stream(target: Target) -> int:
    """A descriptor open for writing into ``target`` (a :attr:`Target.stream`): a duplicate of
    the descriptor it names, else the file opened as it is (never created, truncated or
    chmod-ed; a regular file behind another process's descriptor is appended to)."""
    if target.descriptor is not None:
        return os.dup(target.descriptor)
    flags = os.O_WRONLY | getattr(os, "O_NOCTTY", 0)
    if os.path.isfile(target.path):
        flags |= os.O_APPEND
    return os.open(target.path, flags)


def write_output(path: Path, data: bytes) -> None:
    """Write ``data`` to the output file ``path`` (:func:`output_target`): a regular file or a
    new name (its folder made if need be) atomically, keeping an existing file's permissions; a
    symbolic link's target; a device, FIFO, socket or open descriptor straight into."""
    target = output_target(path)
    if target.stream:
        fd = _open_stream(target)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        return
    make_folders(target.path.parent)
    write_atomic(target.path, data, replace=True, mode=existing_mode(target.path))


def write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` as :func:`write_output` does: atomically, keeping an
    existing file's permissions and making its folder if need be."""
    write_output(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_text(path: Path) -> Iterator[TextIO]:
    """A text stream that becomes ``path`` when the block ends without an exception.

    It streams to a temporary file beside ``path`` (memory stays flat however much is written):
    where the system allows, one with no name until it is complete (O_TMPFILE), so even
    ``kill -9`` leaves nothing behind; elsewhere a hidden ``.NAME.*.vision-cli-tmp``. An
    interrupted run leaves the old file, or none, and never a partial one. A symbolic link's
    target is replaced; a device, FIFO, socket or open descriptor (:func:`output_target`) is
    written into as the text comes, with nothing to take back.
    """
    target = output_target(path)
    if target.stream:
        with os.fdopen(_open_stream(target), "w", encoding="utf-8", newline="") as stream:
            yield stream
        return
    path = target.path
    make_folders(path.parent)
    fd = _open_unnamed(path.parent)
    temp = None
    if fd is None:
        fd, temp = tempfile.mkstemp(
            prefix=_temp_prefix(path.name), suffix=TEMP_SUFFIX, dir=path.parent
        )
    try:
        os.fchmod(fd, existing_mode(path) or default_mode())
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
            if temp is None:
                _publish(fh.fileno(), path)
        if temp is not None:
            os.replace(temp, path)
    except BaseException:
        if temp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
        raise
    sync_folder(path.parent)


def _open_unnamed(folder: Path) -> int | None:
    """An unnamed file (O_TMPFILE) in ``folder``, open for writing; None where not possible."""
    if not _unnamed_ok:
        return None
    try:
        return os.open(folder, os.O_TMPFILE | os.O_RDWR, 0o600)
    except OSError as exc:
        _unnamed_failed(exc)
        return None


def _publish(fd: int, path: Path) -> None:
    """Give the complete unnamed file ``fd`` the name ``path``, replacing what is there: a
    hidden link first, renamed over ``path`` at once; where linking fails, a copy."""
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            temp = _link_hidden(f"/proc/self/fd/{fd}", path.name, folder)
        except OSError:
            size = os.fstat(fd).st_size
            data = os.pread(fd, size, 0)
            write_atomic(path, data, replace=True, mode=os.fstat(fd).st_mode & 0o7777)
            return
        _rename_over(temp, path.name, folder)
    finally:
        os.close(folder)


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


#: The longest file name most file systems take, in bytes (ext4, XFS, APFS, NTFS in UTF-16).
NAME_MAX: Final = 255
#: What a temporary name adds to the name it stands beside: the dots, 8 random characters (as
#: ``tempfile`` and :func:`hidden_temp_name` make them) and the suffix.
_TEMP_EXTRA: Final = 2 + 8 + len(TEMP_SUFFIX)


def _temp_prefix(name: str) -> str:
    """``.NAME.``, with NAME cut to the bytes that leave a temporary name within
    :data:`NAME_MAX`: any name that fits the file system gets a temporary one that fits too."""
    raw = os.fsencode(name)
    keep = NAME_MAX - _TEMP_EXTRA
    return f".{os.fsdecode(raw[:keep]) if len(raw) > keep else name}."


def hidden_temp_name(name: str) -> str:
    """A fresh hidden name beside ``name`` for a file that is not complete yet (within
    :data:`NAME_MAX` bytes, whatever ``name``'s length)."""
    return f"{_temp_prefix(name)}{os.urandom(4).hex()}{TEMP_SUFFIX}"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fill(fd: int, data: bytes, mode: int, like: int | None = None) -> None:
    _write_all(fd, data)
    if like is not None:
        copy_owner_and_xattrs(like, fd)
    os.fchmod(fd, mode)  # after fchown, which may clear set-id bits
    os.fsync(fd)


def copy_owner_and_xattrs(source: int, target: int) -> None:
    """Give the open file ``target`` the owner, group and extended attributes of ``source``, as
    far as this process may (root keeps a ``nobody`` file ``nobody``'s; others keep at least
    the group when they belong to it). What cannot be copied is left: never an error."""
    st = os.fstat(source)
    if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
        for uid, gid in ((st.st_uid, st.st_gid), (-1, st.st_gid)):
            try:
                os.fchown(target, uid, gid)
                break
            except OSError:
                continue
    if not hasattr(os, "listxattr"):
        return
    try:
        names = os.listxattr(source)
    except OSError:
        return
    for name in names:
        try:
            os.setxattr(target, name, os.getxattr(source, name))
        except OSError:  # security.* needs privileges; some file systems refuse some names
            continue


#: Whether unnamed temporary files work here (cleared when the system says they cannot).
_unnamed_ok = bool(getattr(os, "O_TMPFILE", 0)) and Path("/proc/self/fd").is_dir()

#: What the system answers where unnamed temporary files cannot work at all: no O_TMPFILE in
#: the kernel (EISDIR) or the file system (EOPNOTSUPP), flags it does not know (EINVAL), or no
#: hard link from /proc to the file system (EXDEV, EPERM: it takes none). A refusal of this one
#: file (EACCES, ENOSPC, EDQUOT, EROFS...) leaves them on for the rest of the run.
_UNNAMED_UNSUPPORTED: Final = frozenset(
    {errno.EOPNOTSUPP, errno.ENOTSUP, errno.EISDIR, errno.EINVAL, errno.ENOSYS}
    | {errno.EXDEV, errno.EPERM}
)


def _unnamed_failed(exc: OSError) -> None:
    """An unnamed temporary file failed with ``exc``: where the system cannot make them at
    all, none is tried again in this run (the named one is written instead, as for this one)."""
    global _unnamed_ok
    if exc.errno in _UNNAMED_UNSUPPORTED:
        _unnamed_ok = False


def _write_unnamed(path: Path, data: bytes, replace: bool, mode: int, like: int | None) -> bool:
    """Write through an O_TMPFILE file; False when this system or file system cannot, or not
    for this file (the caller then writes a named temporary file, and reports its failure)."""
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o600, dir_fd=folder)
        except OSError as exc:
            _unnamed_failed(exc)
            return False
        try:
            _fill(fd, data, mode, like)
            source = f"/proc/self/fd/{fd}"
            # dst_dir_fd makes os.link use linkat(AT_SYMLINK_FOLLOW), which /proc needs
            if not replace:
                try:
                    os.link(source, path.name, dst_dir_fd=folder, follow_symlinks=True)
                except FileExistsError:
                    raise
                except OSError as exc:
                    _unnamed_failed(exc)
                    return False
                return True
            try:
                temp = _link_hidden(source, path.name, folder)
            except OSError as exc:
                _unnamed_failed(exc)
                return False
            _rename_over(temp, path.name, folder)
            return True
        finally:
            os.close(fd)
    finally:
        os.close(folder)


def _rename_over(temp: str, name: str, folder: int) -> None:
    """Rename the hidden ``temp`` over ``name`` in ``folder``; on failure, remove ``temp``."""
    try:
        os.replace(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=folder)
        raise


def _link_hidden(source: str, name: str, folder: int) -> str:
    """Link ``source`` under a fresh hidden name in ``folder``; OSError when linking fails."""
    for _ in range(100):
        temp = hidden_temp_name(name)
        with contextlib.suppress(FileExistsError):  # another's name: draw again
            os.link(source, temp, dst_dir_fd=folder, follow_symlinks=True)
            return temp
    raise FileExistsError(errno.EEXIST, "no free temporary name", name)


#: Overrides the cache folder (the Files API ids, the refreshed model list).
CACHE_DIR_ENV = "VISION_CLI_CACHE_DIR"


def cache_dir(vars: Mapping[str, str] | None = None) -> Path:
    """vision-cli's cache folder: ``$VISION_CLI_CACHE_DIR``, else the platform's user cache folder
    (platformdirs: ``$XDG_CACHE_HOME/vision-cli`` or ``~/.cache/vision-cli`` on Linux,
    ``~/Library/Caches/vision-cli`` on macOS, ``%LOCALAPPDATA%\\vision-cli\\Cache`` on Windows).
    ``vars``: the run's variables (the process's when None; platformdirs reads the process's)."""
    override = (os.environ if vars is None else vars).get(CACHE_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs  # only when a cache is really read or written

    return Path(platformdirs.user_cache_dir("vision-cli", appauthor=False))
