"""Atomic writes: a name holds the old content or the new, never part of it."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fifo_reader
from vision_cli import fsutil


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.fixture(params=["unnamed", "named"])
def temp_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of writing: an O_TMPFILE file where the system has them, a hidden named one."""
    if request.param == "named":
        monkeypatch.setattr(fsutil, "_unnamed_ok", False)
    else:
        assert fsutil._unnamed_ok, "this system has no O_TMPFILE: the unnamed path is untested"
    return str(request.param)


def test_write_atomic_creates_and_refuses_to_clobber(tmp_path: Path, temp_kind: str) -> None:
    target = tmp_path / "out.jpg"
    fsutil.write_atomic(target, b"first", replace=False)
    assert target.read_bytes() == b"first"
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask()
    with pytest.raises(FileExistsError):
        fsutil.write_atomic(target, b"second", replace=False)
    assert target.read_bytes() == b"first"
    fsutil.write_atomic(target, b"third", replace=True, mode=0o640)
    assert target.read_bytes() == b"third" and target.stat().st_mode & 0o777 == 0o640
    assert files_in(tmp_path) == ["out.jpg"]


@pytest.mark.parametrize(
    ("error", "still_on"),
    [(errno.EACCES, True), (errno.ENOSPC, True), (errno.EOPNOTSUPP, False), (errno.EISDIR, False)],
)
def test_only_a_system_without_unnamed_files_turns_them_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: int, still_on: bool
) -> None:
    """One folder out of reach or one full disk turned unnamed temporary files off for the rest
    of the run (and with them, what ``kill -9`` leaves); only a system that has none does."""
    monkeypatch.setattr(fsutil, "_unnamed_ok", True)
    real_open = os.open

    def refused(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(error, os.strerror(error), path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refused)
    fsutil.write_atomic(tmp_path / "a.png", b"data")  # written under a hidden name instead
    assert (tmp_path / "a.png").read_bytes() == b"data" and files_in(tmp_path) == ["a.png"]
    assert fsutil._unnamed_ok is still_on


@pytest.mark.parametrize("name", ["T" * 255, "é" * 127])  # 255 and 254 bytes
def test_a_name_as_long_as_the_file_system_allows_is_written(
    tmp_path: Path, temp_kind: str, name: str
) -> None:
    """A temporary name adds about 25 bytes to the name it stands beside: it is cut, so that a
    name which fits the file system is written, not refused for its temporary's sake."""
    target = tmp_path / name
    fsutil.write_atomic(target, b"first", replace=False)
    fsutil.write_atomic(target, b"second", replace=True)
    with fsutil.atomic_text(target) as fh:
        fh.write("third")
    assert target.read_text() == "third" and files_in(tmp_path) == [name]
    assert len(os.fsencode(fsutil.hidden_temp_name(name))) <= fsutil.NAME_MAX


@pytest.mark.parametrize("replace", [False, True])
def test_write_atomic_interrupted_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, temp_kind: str, replace: bool
) -> None:
    target = tmp_path / "out.jpg"
    if replace:
        target.write_bytes(b"original")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fsutil.write_atomic(target, b"new data", replace=replace)
    assert files_in(tmp_path) == (["out.jpg"] if replace else [])
    if replace:
        assert target.read_bytes() == b"original"


def test_umask_is_read_without_changing_it() -> None:
    before = umask()
    assert fsutil.umask() == before
    assert umask() == before


def test_write_text_keeps_permissions_and_makes_folders(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "state.json"
    fsutil.write_text(target, "one")
    assert target.read_text() == "one"
    target.chmod(0o600)
    fsutil.write_text(target, "two")
    assert target.read_text() == "two" and target.stat().st_mode & 0o777 == 0o600


def test_atomic_text_streams_and_leaves_the_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "report.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), fsutil.atomic_text(target) as fh:
        fh.write("half of the new\n")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old\n" and files_in(tmp_path) == ["report.jsonl"]
    with fsutil.atomic_text(target) as fh:
        fh.write("new\n")
        assert target.read_text() == "old\n"  # nothing shows until the block ends
    assert target.read_text() == "new\n" and files_in(tmp_path) == ["report.jsonl"]


def test_atomic_write_keeps_the_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "conv.json"
    fsutil.write_text(path, "old")
    path.chmod(0o640)

    def fail(fd: int) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "fsync", fail)
        with pytest.raises(OSError):
            fsutil.write_text(path, "new")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["conv.json"]
    fsutil.write_text(path, "new")
    assert path.read_text() == "new" and path.stat().st_mode & 0o777 == 0o640


def test_a_new_file_gets_the_umask_permissions_not_mkstemps(tmp_path: Path) -> None:
    umask = os.umask(0o027)
    try:
        fsutil.write_text(tmp_path / "new.json", "{}")
    finally:
        os.umask(umask)
    expected = 0o640 if fsutil.umask() is not None else 0o600
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == expected


# --------------------------------------------------------------------------------------------------
# An output file the user names: a link is followed, a device, FIFO or descriptor written into
# --------------------------------------------------------------------------------------------------

Writer = Callable[[Path, bytes], None]


def _by_atomic_text(path: Path, data: bytes) -> None:
    with fsutil.atomic_text(path) as fh:
        fh.write(data.decode())


def _by_write_text(path: Path, data: bytes) -> None:
    fsutil.write_text(path, data.decode())


def _by_write_output(path: Path, data: bytes) -> None:
    fsutil.write_output(path, data)


#: Every way a command writes a file the user named (``inspect -o``, ``locate --draw``,
#: ``--conversation``).
WRITERS: dict[str, Writer] = {
    "atomic_text": _by_atomic_text,
    "write_output": _by_write_output,
    "write_text": _by_write_text,
}


@pytest.fixture(params=sorted(WRITERS))
def writer(request: pytest.FixtureRequest) -> Writer:
    return WRITERS[request.param]


def kind(path: Path) -> tuple[int, int, int]:
    """What ``path`` itself is (not what a link leads to): its type and mode, and its device
    number (a device's identity)."""
    st = os.lstat(path)
    return stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_rdev


def test_a_regular_file_is_still_replaced_atomically_keeping_its_mode(
    tmp_path: Path, writer: Writer, temp_kind: str
) -> None:
    target = tmp_path / "report.json"
    target.write_bytes(b"old")
    target.chmod(0o640)
    os.link(target, tmp_path / "hard-link")  # still the old file: a new one took the name
    writer(target, b"new")
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert (tmp_path / "hard-link").read_bytes() == b"old"
    assert files_in(tmp_path) == ["hard-link", "report.json"]


@pytest.mark.parametrize("relative", [True, False])
def test_a_symlink_stays_a_link_and_its_target_gets_the_data(
    tmp_path: Path, writer: Writer, temp_kind: str, relative: bool
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    real = elsewhere / "real.json"
    real.write_bytes(b"old")
    real.chmod(0o604)
    here = tmp_path / "here"
    here.mkdir()
    link = here / "link.json"
    link.symlink_to(Path("../elsewhere/real.json") if relative else real)
    chain = here / "chain.json"  # a link to the link
    chain.symlink_to("link.json")
    points_to = os.readlink(link)
    writer(chain, b"new")
    assert chain.is_symlink() and os.readlink(chain) == "link.json"
    assert link.is_symlink() and os.readlink(link) == points_to
    assert real.read_bytes() == b"new" and stat.S_IMODE(real.stat().st_mode) == 0o604
    assert files_in(here) == ["chain.json", "link.json"] and files_in(elsewhere) == ["real.json"]


def test_a_dangling_symlink_gets_its_target_made(
    tmp_path: Path, writer: Writer, temp_kind: str
) -> None:
    link = tmp_path / "link.json"
    link.symlink_to("out/new.json")
    (tmp_path / "out").mkdir()
    writer(link, b"made")
    assert link.is_symlink() and (tmp_path / "out" / "new.json").read_bytes() == b"made"


def test_a_link_loop_is_an_error_and_stays_a_loop(tmp_path: Path, writer: Writer) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to("b")
    b.symlink_to("a")
    with pytest.raises(OSError):
        writer(a, b"data")
    assert os.readlink(a) == "b" and os.readlink(b) == "a"
    assert files_in(tmp_path) == ["a", "b"]


@pytest.mark.usefixtures("nothing_replaced")
def test_a_device_is_written_into_never_replaced(writer: Writer) -> None:
    device = Path(os.devnull)
    before = kind(device)
    assert stat.S_ISCHR(before[0])
    writer(device, b"into the null device")
    assert kind(device) == before


@pytest.mark.usefixtures("nothing_replaced")
def test_a_fifo_is_written_into_and_its_reader_gets_the_data(
    tmp_path: Path, writer: Writer
) -> None:
    fifo = tmp_path / "fifo"
    data = b"x" * 300_000  # more than a pipe holds: written as the reader reads
    with fifo_reader(fifo) as got:
        before = kind(fifo)
        writer(fifo, data)
    assert got == [data]
    assert kind(fifo) == before and stat.S_ISFIFO(before[0]) and files_in(tmp_path) == ["fifo"]


@pytest.mark.usefixtures("nothing_replaced")
def test_a_descriptor_is_written_into_at_its_offset(tmp_path: Path, writer: Writer) -> None:
    read_end, write_end = os.pipe()  # -o >(cat) names /dev/fd/63
    try:
        writer(Path(f"/dev/fd/{write_end}"), b"through the pipe")
        os.close(write_end)
        assert os.read(read_end, 100) == b"through the pipe"
    finally:
        os.close(read_end)
        with contextlib.suppress(OSError):
            os.close(write_end)
    # A regular file behind a descriptor (> out, >> out) is not replaced: written where it is.
    out = tmp_path / "out"
    with open(out, "ab") as fh:
        fh.write(b"header\n")
        fh.flush()
        inode = os.fstat(fh.fileno()).st_ino
        writer(Path(f"/proc/self/fd/{fh.fileno()}"), b"data\n")
        fh.write(b"after\n")
    assert out.read_bytes() == b"header\ndata\nafter\n" and out.stat().st_ino == inode


@pytest.mark.usefixtures("nothing_replaced")
def test_dev_stdout_is_this_process_standard_output(
    writer: Writer, capfd: pytest.CaptureFixture[str]
) -> None:
    target = fsutil.output_target(Path("/dev/stdout"))
    assert target == fsutil.Target(Path("/dev/stdout"), stream=True, descriptor=1)
    writer(Path("/dev/stdout"), b"to standard output\n")
    assert capfd.readouterr().out == "to standard output\n"
    assert os.readlink("/dev/stdout") == "/proc/self/fd/1"


@pytest.mark.usefixtures("nothing_replaced")
def test_a_closed_descriptor_is_an_error_not_a_new_file(writer: Writer) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    os.close(write_end)
    with pytest.raises(FileNotFoundError):
        writer(Path(f"/dev/fd/{write_end}"), b"nowhere")


@pytest.mark.usefixtures("nothing_replaced")
def test_atomic_text_into_a_fifo_keeps_what_was_written_before_a_failure(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    with fifo_reader(fifo) as got, pytest.raises(RuntimeError), fsutil.atomic_text(fifo) as fh:
        fh.write("first\n")
        raise RuntimeError("interrupted")
    assert got == [b"first\n"]  # a pipe has no old content to keep: what went, went
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and files_in(tmp_path) == ["fifo"]


@pytest.mark.parametrize(
    "kind", ["folder", "character device", "named pipe (FIFO)", "socket", "over the cap"]
)
def test_open_regular_refuses_what_a_read_back_must_not_read(tmp_path: Path, kind: str) -> None:
    """Only a regular file of at most ``cap`` bytes is opened; the rest is refused by name,
    before it is opened (a FIFO with no writer would never let an open for reading return)."""
    with tempfile.TemporaryDirectory(dir="/tmp") as short:  # a socket's name has ~100 bytes
        path = {"folder": tmp_path, "character device": Path("/dev/zero")}.get(
            kind, Path(short) / "x"
        )
        if kind == "named pipe (FIFO)":
            os.mkfifo(path)
        elif kind == "over the cap":
            path.write_bytes(b"12345")
        with contextlib.ExitStack() as stack:
            if kind == "socket":
                server = stack.enter_context(socket.socket(socket.AF_UNIX))
                server.bind(str(path))
            with pytest.raises(fsutil.UnfitFile) as refused:
                fsutil.open_regular(path, 4)
    if kind == "over the cap":
        assert str(refused.value) == "it holds 5 bytes, more than the 4 bytes vision-cli reads back"
    else:
        assert str(refused.value) == f"it is a {kind}, not a regular file"


def test_open_regular_checks_again_once_open_without_blocking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FIFO put where a regular file was checked (a race): opened without blocking, so the
    open returns at once, and refused by the check of what was opened."""
    regular, fifo = tmp_path / "regular", tmp_path / "fifo"
    regular.write_bytes(b"{}")
    os.mkfifo(fifo)
    stat = os.stat
    monkeypatch.setattr(os, "stat", lambda path, *a, **k: stat(regular))
    with pytest.raises(fsutil.UnfitFile, match="a named pipe"):
        fsutil.open_regular(fifo, 100)
    monkeypatch.undo()
    fd = fsutil.open_regular(regular, 100, os.O_RDWR | os.O_APPEND)
    try:
        assert os.get_blocking(fd) and os.read(fd, 10) == b"{}"
    finally:
        os.close(fd)
