"""Atomic writes: a name holds the old content or the new, never part of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
