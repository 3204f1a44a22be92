"""``vision_cli.resizing``: the policy options, output names, atomic writes, and the run itself."""

from __future__ import annotations

import errno
import hashlib
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests import imagekit as k
from vision_cli import fsutil, judging, policy, sources
from vision_cli.resizing import outputs, runner, summary
from vision_cli.resizing.summary import Outcome, ResizeOptions, ResizeTotals

STANDARD = policy.tier("standard")
HIGH_RES = policy.tier("high-res")


def options(**kw: object) -> ResizeOptions:
    kw.setdefault("size_policy", policy.SizePolicy.recommended())
    kw.setdefault("tier", STANDARD)
    return ResizeOptions(**kw)  # type: ignore[arg-type]


def inputs(*paths: Path, root: Path | None = None) -> list[sources.Input | sources.Problem]:
    return [sources.Input(str(p), path=p, root=root or p.parent) for p in paths]


def resize(items: Sequence[sources.Input | sources.Problem], opts: ResizeOptions) -> list[Outcome]:
    with runner.run(items, opts) as outcomes:
        return list(outcomes)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


# --------------------------------------------------------------------------------------------------
# The policy the options ask for
# --------------------------------------------------------------------------------------------------


def test_default_policy_is_the_recommendation_within_the_tier() -> None:
    pol, notes = summary.size_policy_for(STANDARD, native=False)
    assert (pol.max_edge, pol.max_pixels, pol.max_tokens) == (1568, 1_150_000, 1568)
    assert notes == []
    assert pol.target(4032, 3024) == policy.SizePolicy.recommended().target(4032, 3024)


def test_model_policy_is_its_native_size() -> None:
    pol, _ = summary.size_policy_for(HIGH_RES, native=True)
    assert (pol.max_edge, pol.max_pixels, pol.max_tokens) == (2576, None, 4784)
    assert pol.target(3840, 2160) == (2576, 1449)  # the documented example


def test_options_replace_bounds_and_are_clamped_to_the_tier() -> None:
    pol, notes = summary.size_policy_for(
        STANDARD, native=False, max_edge=3000, max_megapixels=0.5, max_tokens=9999
    )
    assert (pol.max_edge, pol.max_pixels, pol.max_tokens) == (1568, 500_000, 1568)
    assert len(notes) == 2 and "--max-edge 3000" in notes[0] and "--max-tokens 9999" in notes[1]
    pol, notes = summary.size_policy_for(HIGH_RES, native=True, max_edge=1000, max_tokens=300)
    assert (pol.max_edge, pol.max_pixels, pol.max_tokens) == (1000, None, 300)
    assert notes == []


# --------------------------------------------------------------------------------------------------
# Output names
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt", "expected"),
    [
        ("a/IMG_1.JPG", "JPEG", "a/IMG_1.JPG"),
        ("a/b.jpeg", "JPEG", "a/b.jpeg"),
        ("scan.bmp", "PNG", "scan.png"),
        ("scan.bmp", "JPEG", "scan.jpg"),
        ("really-a-jpeg.png", "JPEG", "really-a-jpeg.jpg"),
        ("anim.gif", "PNG", "anim.png"),
        ("noext", "WEBP", "noext.webp"),
        ("v1.final", "PNG", "v1.final.png"),
    ],
)
def test_output_name(name: str, fmt: str, expected: str) -> None:
    assert outputs.output_name(Path(name), fmt) == Path(expected)


# --------------------------------------------------------------------------------------------------
# Runs with --out
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", [1, 2])
def test_out_mirrors_the_tree_and_leaves_originals(tmp_path: Path, jobs: int) -> None:
    src = tmp_path / "src"
    made = [
        k.write(src / "a" / "big.jpg", k.photo()),
        k.write(src / "a" / "b" / "scan.bmp", k.encode(k.flat_drawing((500, 400)), "BMP")),
        k.write(src / "small.png", k.encode(k.flat_drawing((300, 200)), "PNG")),
        k.write(src / "turned.jpg", k.photo((800, 600), orientation=6)),
    ]
    before = {p: digest(p) for p in made}
    out = tmp_path / "out"
    outcomes = resize(inputs(*made, root=src), options(out=out, jobs=jobs))

    assert [o.input for o in outcomes] == [str(p) for p in made]  # input order, whatever the pool
    assert [o.action for o in outcomes] == ["resized", "converted", "copied", "converted"]
    assert files_in(out) == ["a/b/scan.png", "a/big.jpg", "small.png", "turned.jpg"]
    assert {p: digest(p) for p in made} == before
    big = outcomes[0]
    assert (big.width_after, big.height_after) == (1313, 875)
    assert big.output == str(out / "a" / "big.jpg")
    assert big.bytes_after == (out / "a" / "big.jpg").stat().st_size
    assert big.tokens_before == policy.predict(3000, 2000, STANDARD).tokens
    assert big.tokens_after == policy.patch_tokens(1313, 875)
    assert (out / "small.png").read_bytes() == made[2].read_bytes()
    assert Image.open(out / "turned.jpg").size == (600, 800)


def test_each_output_folder_is_flushed_once_after_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every file's data is flushed before its name appears; the folders' entries are flushed
    once per folder at the end of the run, not once per file (thousands of fsyncs on a disk)."""
    from vision_cli import fsutil

    src = tmp_path / "src"
    made = [
        k.write(src / sub / f"{i}.png", k.encode(k.flat_drawing((300, 200)), "PNG"))
        for sub in ("a", "b")
        for i in range(3)
    ]
    events: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        events.append("file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(outputs, "sync_folder", lambda folder: events.append(str(folder)))
    monkeypatch.setattr(fsutil, "sync_folder", lambda folder: events.append(f"per-file {folder}"))
    out = tmp_path / "out"
    outcomes = resize(inputs(*made, root=src), options(out=out, reencode=True))
    assert [o.action for o in outcomes] == ["converted"] * 6
    assert events == ["file"] * 6 + [str(out / "a"), str(out / "b")]


def test_two_inputs_on_one_output_second_fails(tmp_path: Path) -> None:
    first = k.write(tmp_path / "in" / "pic.bmp", k.encode(k.flat_drawing((300, 200)), "BMP"))
    second = k.write(tmp_path / "in" / "pic.png", k.encode(k.gradient((300, 200)), "PNG"))
    out = tmp_path / "out"
    a, b = resize(inputs(first, second), options(out=out))
    assert a.action == "converted" and a.output == str(out / "pic.png")
    assert b.action == "failed" and b.output is None
    assert b.error is not None and "already the output of" in b.error and str(first) in b.error
    assert (out / "pic.png").read_bytes() != second.read_bytes()  # the first one's output stayed


def test_existing_output_needs_overwrite(tmp_path: Path) -> None:
    src = k.write(tmp_path / "in" / "big.jpg", k.photo())
    out = tmp_path / "out"
    k.write(out / "big.jpg", b"keep me")
    (outcome,) = resize(inputs(src), options(out=out))
    assert outcome.action == "failed" and "--overwrite" in (outcome.error or "")
    assert (out / "big.jpg").read_bytes() == b"keep me"
    (outcome,) = resize(inputs(src), options(out=out, overwrite=True))
    assert outcome.action == "resized"
    assert Image.open(out / "big.jpg").size == (1313, 875)


def test_inputs_are_never_outputs(tmp_path: Path) -> None:
    """--out pointing at the inputs' own folder fails every file instead of overwriting it."""
    src = k.write(tmp_path / "big.jpg", k.photo())
    original = digest(src)
    (outcome,) = resize(inputs(src), options(out=tmp_path, overwrite=True))
    assert outcome.action == "failed" and "is an input" in (outcome.error or "")
    assert digest(src) == original


def test_out_inside_the_input_folder_is_not_read_again(tmp_path: Path) -> None:
    k.write(tmp_path / "big.jpg", k.photo())
    out = tmp_path / "small"
    sel = sources.Selection()
    first = resize(sources.collect([str(tmp_path)], sel), options(out=out))
    assert [o.action for o in first] == ["resized"]
    again = resize(sources.collect([str(tmp_path)], sel), options(out=out, overwrite=True))
    assert [o.input for o in again] == [str(tmp_path / "big.jpg")]  # not small/big.jpg
    assert files_in(tmp_path) == ["big.jpg", "small/big.jpg"]


def test_dry_run_writes_nothing_but_plans_everything(tmp_path: Path) -> None:
    src = k.write(tmp_path / "in" / "scan.bmp", k.encode(k.gradient((2000, 1000)), "BMP"))
    out = tmp_path / "out"
    (outcome,) = resize(inputs(src), options(out=out, dry_run=True))
    assert outcome.action == "resized" and outcome.output == str(out / "scan.jpg")
    assert outcome.bytes_after and outcome.tokens_after and outcome.format_after == "JPEG"
    assert not out.exists()


def test_problems_and_bad_files_fail_alone(tmp_path: Path) -> None:
    good = k.write(tmp_path / "good.jpg", k.photo())
    bad = k.write(tmp_path / "bad.jpg", k.photo()[:5000])
    items: list[sources.Input | sources.Problem] = [
        sources.Problem("missing/*.png", judging.Code.NOT_FOUND, "no file matches this pattern."),
        *inputs(bad, good),
        sources.Input(str(tmp_path / "gone.jpg"), path=tmp_path / "gone.jpg"),
    ]
    outcomes = resize(items, options(out=tmp_path / "out", jobs=2))
    assert [o.action for o in outcomes] == ["failed", "failed", "resized", "failed"]
    assert all(o.error and "\n" not in o.error for o in outcomes if o.action == "failed")
    assert "truncated" in (outcomes[1].error or "") and "no such file" in (outcomes[3].error or "")


def test_stdin_input(tmp_path: Path) -> None:
    item = sources.Input(sources.STDIN, stdin=True)
    data = k.photo()
    with runner.run([item], options(out=tmp_path), stdin=io.BytesIO(data)) as outcomes:
        (outcome,) = list(outcomes)
    assert outcome.action == "resized" and outcome.output == str(tmp_path / "stdin.jpg")
    assert outcome.bytes_before == len(data)


# --------------------------------------------------------------------------------------------------
# Runs in place
# --------------------------------------------------------------------------------------------------


def test_in_place_same_name_keeps_the_file_mode(tmp_path: Path) -> None:
    src = k.write(tmp_path / "big.jpg", k.photo())
    src.chmod(0o600)
    (outcome,) = resize(inputs(src), options())
    assert outcome.action == "resized" and outcome.output == str(src)
    assert Image.open(src).size == (1313, 875)
    assert src.stat().st_mode & 0o777 == 0o600
    assert files_in(tmp_path) == ["big.jpg"]


def test_in_place_copy_touches_nothing(tmp_path: Path) -> None:
    src = k.write(tmp_path / "ok.png", k.encode(k.flat_drawing((300, 200)), "PNG"))
    before = os.stat(src)
    (outcome,) = resize(inputs(src), options(backup=".orig"))
    after = os.stat(src)
    assert outcome.action == "copied"
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert files_in(tmp_path) == ["ok.png"]


def test_in_place_format_change_renames_and_backs_up(tmp_path: Path) -> None:
    scan = k.write(tmp_path / "scan.bmp", k.encode(k.flat_drawing((300, 200)), "BMP"))
    photo_file = k.write(tmp_path / "big.jpg", k.photo())
    originals = {scan.name: digest(scan), photo_file.name: digest(photo_file)}
    outcomes = resize(inputs(scan, photo_file), options(backup=".orig"))
    assert [o.output for o in outcomes] == [str(tmp_path / "scan.png"), str(photo_file)]
    assert files_in(tmp_path) == ["big.jpg", "big.jpg.orig", "scan.bmp.orig", "scan.png"]
    assert digest(tmp_path / "scan.bmp.orig") == originals["scan.bmp"]
    assert digest(tmp_path / "big.jpg.orig") == originals["big.jpg"]
    assert Image.open(tmp_path / "scan.png").format == "PNG"


def test_in_place_format_change_without_backup_removes_the_original(tmp_path: Path) -> None:
    scan = k.write(tmp_path / "scan.tiff", k.encode(k.gradient((300, 200)), "TIFF"))
    (outcome,) = resize(inputs(scan), options())
    assert outcome.output == str(tmp_path / "scan.jpg")
    assert files_in(tmp_path) == ["scan.jpg"]


def test_in_place_never_overwrites_another_input(tmp_path: Path) -> None:
    scan = k.write(tmp_path / "pic.bmp", k.encode(k.flat_drawing((300, 200)), "BMP"))
    other = k.write(tmp_path / "pic.png", k.encode(k.gradient((300, 200)), "PNG"))
    before = digest(other)
    for order in ([scan, other], [other, scan]):
        outcomes = resize(inputs(*order), options(overwrite=True))
        by_name = {Path(o.input).name: o for o in outcomes}
        assert by_name["pic.bmp"].action == "failed"
        assert digest(other) == before and scan.exists()


def test_existing_backup_needs_overwrite(tmp_path: Path) -> None:
    src = k.write(tmp_path / "big.jpg", k.photo())
    k.write(tmp_path / "big.jpg.orig", b"older backup")
    original = digest(src)
    (outcome,) = resize(inputs(src), options(backup=".orig"))
    assert outcome.action == "failed" and "backup" in (outcome.error or "")
    assert digest(src) == original
    (outcome,) = resize(inputs(src), options(backup=".orig", overwrite=True))
    assert outcome.action == "resized" and digest(tmp_path / "big.jpg.orig") == original


@pytest.mark.parametrize("backup_first", [False, True])
def test_a_backup_never_replaces_another_input_even_with_overwrite(
    tmp_path: Path, backup_first: bool
) -> None:
    """``resize a.jpg a.jpg.orig --in-place --backup .orig --overwrite``: a.jpg's backup would
    have replaced the user's own a.jpg.orig, another input (the docs: no input is ever
    overwritten, even with --overwrite). That file fails instead, and says why."""
    src = k.write(tmp_path / "a.jpg", k.photo())
    other = k.write(tmp_path / "a.jpg.orig", k.photo((2500, 1800)))
    before = {src: digest(src), other: digest(other)}
    order = [other, src] if backup_first else [src, other]
    outcomes = resize(inputs(*order), options(backup=".orig", overwrite=True))
    failed = [o for o in outcomes if o.action == "failed"]
    assert [Path(o.input).name for o in failed] == ["a.jpg"]
    assert "the backup" in (failed[0].error or "")
    assert "would replace an input" in (failed[0].error or "")
    assert digest(src) == before[src]
    # a.jpg.orig itself was resized in place (to a.jpg.orig.jpg, its original kept as its own
    # backup): its bytes are still there, and not replaced by a.jpg's
    kept = {digest(p) for p in tmp_path.iterdir() if p.name.startswith("a.jpg.orig")}
    assert before[other] in kept and before[src] not in kept


def test_an_existing_backup_of_an_image_resized_under_its_own_name_is_named(
    tmp_path: Path,
) -> None:
    """In place under the same name, an existing backup was reported as "a.jpg appeared while
    resizing"; it is the backup that is named now, before anything is written."""
    src = k.write(tmp_path / "a.jpg", k.photo())
    k.write(tmp_path / "a.jpg.orig", b"older backup")
    (outcome,) = resize(inputs(src), options(backup=".orig"))
    assert outcome.action == "failed"
    assert outcome.error == (
        f"the backup {tmp_path / 'a.jpg.orig'} exists: pass --overwrite or another --backup suffix."
    )


def test_unwritable_folder_fails_the_file_and_keeps_the_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = k.write(tmp_path / "big.jpg", k.photo())
    original = digest(src)

    def full(path: Path, data: bytes, **kw: object) -> None:
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(outputs, "write_atomic", full)
    (outcome,) = resize(inputs(src), options())
    assert outcome.action == "failed" and "no space left on device" in (outcome.error or "")
    assert digest(src) == original


def test_an_original_that_cannot_be_removed_is_left_alone_with_nothing_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a sticky folder (/tmp) a file of another user cannot be removed: its PNG and its backup
    were left beside the BMP, which stayed; now only the BMP is, with one line saying why."""
    scan = k.write(tmp_path / "scan.bmp", k.encode(k.flat_drawing((400, 300)), "BMP"))
    before = digest(scan)
    unlink = os.unlink

    def sticky(path: object, *args: object, **kw: object) -> None:
        if Path(os.fsdecode(path)) == scan:  # type: ignore[arg-type]
            raise PermissionError(errno.EPERM, "Operation not permitted", str(path))
        unlink(path, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", sticky)
    (outcome,) = resize(inputs(scan), options(backup=".orig"))
    assert outcome.action == "failed"
    assert outcome.error == (
        f"cannot remove {scan} (operation not permitted) to replace it with "
        f"{tmp_path / 'scan.png'}: left as it is, and nothing written; check the folder's "
        "permissions (in a sticky folder such as /tmp only a file's owner may remove it), or "
        "resize it with --out."
    )
    assert files_in(tmp_path) == ["scan.bmp"] and digest(scan) == before


def test_a_failed_write_in_place_takes_its_backup_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backup was made, then the write failed: the backup stayed, and the next run failed
    with "the backup exists"."""
    src = k.write(tmp_path / "big.jpg", k.photo())
    original = digest(src)
    write_atomic = fsutil.write_atomic

    def full(path: Path, data: bytes, **kw: Any) -> None:  # room for the backup's copy only
        if path == src:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        write_atomic(path, data, **kw)

    with monkeypatch.context() as patch:
        patch.setattr(outputs, "write_atomic", full)
        (outcome,) = resize(inputs(src), options(backup=".orig"))
    assert outcome.action == "failed" and "no space left on device" in (outcome.error or "")
    assert files_in(tmp_path) == ["big.jpg"] and digest(src) == original
    (outcome,) = resize(inputs(src), options(backup=".orig"))
    assert outcome.action == "resized"
    assert digest(tmp_path / "big.jpg.orig") == original


def test_a_write_failure_names_the_whole_path_and_says_what_to_do_for_its_reason() -> None:
    """Written through its folder's descriptor, a file is named alone by the system: the message
    said "cannot write photo.jpg", and advised permissions and space for a folder in the way."""
    target = Path("out/sub/photo.jpg")
    temp = ".photo.jpg.0a1b2c3d.vision-cli-tmp"
    folder = IsADirectoryError(errno.EISDIR, "Is a directory", temp, None, "photo.jpg")
    assert outputs._write_failure(folder, target) == (
        "cannot write out/sub/photo.jpg (is a directory): move the folder of that name out of "
        "the way."
    )
    unnamed = OSError(errno.ENOSPC, "No space left on device", ".")  # open(O_TMPFILE)
    assert outputs._write_failure(unnamed, target) == (
        "cannot write out/sub/photo.jpg (no space left on device): free some space on that disk."
    )
    backup = PermissionError(errno.EACCES, "Permission denied", "/proc/self/fd/7", None, "b.orig")
    assert outputs._write_failure(backup, target) == (
        "cannot write out/sub/b.orig (permission denied): check the folder's permissions."
    )


# --------------------------------------------------------------------------------------------------
# Totals
# --------------------------------------------------------------------------------------------------


def test_totals_count_what_was_produced() -> None:
    totals = ResizeTotals("claude-sonnet-4-5", 3.0)
    totals.add(Outcome("a", "resized", bytes_before=1000, bytes_after=400, tokens_before=1600,
                       tokens_after=1500))  # fmt: skip
    totals.add(Outcome("b", "copied", bytes_before=10, bytes_after=10, tokens_before=5,
                       tokens_after=5))  # fmt: skip
    totals.add(Outcome("c", "failed", bytes_before=99, tokens_before=99, error="x"))
    summary = totals.as_dict()
    assert summary["files"] == 3 and summary["failed"] == 1 and summary["copied"] == 1
    assert (summary["bytes_saved"], summary["tokens_saved"]) == (600, 100)
    assert summary["usd_saved_per_1000_sends"] == pytest.approx(100 * 1000 * 3.0 / 1e6)


def test_a_write_failure_names_the_file_the_user_knows_not_a_temporary_one() -> None:
    """A read-only folder said "cannot write .photo.jpg.orig.yy6qb1yh.vision-cli-tmp"; a backup
    made meanwhile by another run was "photo.jpg appeared while resizing" (the input)."""
    target = Path("ro/photo.jpg")
    temp = "ro/.photo.jpg.orig.0a1b2c3d.vision-cli-tmp"
    refused = OSError(errno.EROFS, "Read-only file system", temp)
    assert outputs._write_failure(refused, target) == (
        "cannot write ro/photo.jpg (read-only file system): choose a folder you can write to."
    )
    taken = FileExistsError(errno.EEXIST, "File exists", temp, None, "ro/photo.jpg.orig")
    assert outputs._write_failure(taken, target).startswith(
        "ro/photo.jpg.orig appeared while resizing (another run, or an editor?)"
    )
