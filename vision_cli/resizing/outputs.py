"""Outputs: their names, the claims that keep two inputs off one name, sidecars, backups, and the
write that puts a complete file in place or nothing.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from vision_cli import judging, names, policy, sources
from vision_cli.fsutil import (
    TEMP_SUFFIX,
    hidden_temp_name,
    make_folders,
    os_reason,
    resolved,
    sync_folder,
    write_advice,
    write_atomic,
)
from vision_cli.imaging import encode, probe, tiles, transform
from vision_cli.imaging.trim import head_of
from vision_cli.resizing.jobs import Changed, Done, identity
from vision_cli.resizing.summary import EXTENSIONS, Item, Outcome, ResizeOptions


def sidecar_document(source: str, tiled: tiles.Tiled, files: Sequence[str]) -> str:
    """``NAME.tiles.json``: where each tile lies in the original, so coordinates found in a tile
    map back: ``original = offset + point_in_tile * scale`` (per axis). A name that is not UTF-8
    is written as JSON records write it: ``\\udcff`` escapes, and ``source_bytes`` or
    ``file_bytes`` beside it with the name's bytes in base64 (:mod:`vision_cli.names`)."""
    grid = tiled.grid
    doc = {
        "version": 1,
        "source": source,
        "width": tiled.width,
        "height": tiled.height,
        "trim": list(tiled.trim) if tiled.trim is not None else None,
        "rows": grid.rows,
        "columns": grid.columns,
        "overlap": [grid.overlap_x, grid.overlap_y],
        "tiles": [
            {"file": name, **where.as_dict()}
            for name, where in zip(files, tiled.placements(), strict=True)
        ],
    }
    return names.dumps(doc, indent=1) + "\n"


def output_name(path: Path, fmt: str) -> Path:
    """``path`` with the extension of ``fmt``; an extension that already names it is kept as
    written (``.JPG``, ``.jpeg``), unless it promises an animation (``.apng``): every output is
    one still image."""
    suffix = path.suffix.lower()
    if (
        fmt in judging.EXTENSION_FORMATS.get(suffix, frozenset())
        and suffix not in judging.ANIMATION_EXTENSIONS
    ):
        return path
    stem = path.stem if suffix in judging.IMAGE_EXTENSIONS else path.name
    return path.with_name(stem + EXTENSIONS[fmt])


class Planner:
    """Decides each output's name, refuses unsafe ones, and writes (unless a dry run)."""

    def __init__(self, opts: ResizeOptions, items: Iterable[Item]) -> None:
        self.opts = opts
        self.inputs = {
            claim_key(i.path) for i in items if isinstance(i, sources.Input) and i.path is not None
        }
        self.claimed: dict[Path, str] = {}
        #: Folders written into with --out: their entries are flushed once, at the end.
        self.written: set[Path] = set()

    def sync(self) -> None:
        """Flush the entries of every folder written into (each file's data already is)."""
        for folder in sorted(self.written):
            sync_folder(folder)
        self.written.clear()

    def finish(self, item: Item, done: Done | None) -> Outcome:
        if isinstance(item, sources.Problem):
            return Outcome(item.label, "failed", error=item.message)
        assert done is not None
        if done.existing is not None:
            # Judged before the inputs ahead of it were done: one of them may have its name.
            taken = self._taken(done.existing)
            if taken is not None:
                return Outcome(item.label, "failed", error=taken)
            self.claimed[claim_key(done.existing)] = item.label
            return Outcome(item.label, "skipped", output=str(done.existing))
        if done.tiled is not None:
            return self._finish_tiles(item, done.tiled, done.bytes_before, done.warnings)
        if done.prepared is None:
            assert done.failure is not None
            return Outcome(
                item.label,
                "failed",
                bytes_before=done.bytes_before,
                error=done.failure.message,
                findings=(done.failure,),
            )
        p = done.prepared
        outcome = Outcome(
            input=item.label,
            action=p.action,
            format_before=p.source_format,
            format_after=p.format,
            width_before=p.source_width,
            height_before=p.source_height,
            width_after=p.width,
            height_after=p.height,
            bytes_before=done.bytes_before,
            bytes_after=len(p.data),
            tokens_before=policy.predict(p.source_width, p.source_height, self.opts.tier).tokens,
            tokens_after=policy.predict(p.width, p.height, self.opts.tier).tokens,
            quality=p.quality,
            findings=done.warnings,
            trim=p.trim,
        )
        target = self._target(item, p.format)
        outcome = outcome._replace(output=str(target))
        if (
            self.opts.skip_existing
            and _up_to_date(target, item)
            and claim_key(target) not in self.claimed
        ):
            self.claimed[claim_key(target)] = item.label
            return Outcome(item.label, "skipped", output=str(target))
        refusal = self._refusal(item, target)
        if refusal is None and not self.opts.dry_run:
            refusal = self._write(item, target, p, done.identity)
        if refusal is not None:
            return outcome.refused(refusal)
        return outcome

    def up_to_date(self, item: Item) -> Path | None:
        """With --skip-existing, before any work: the output of ``item`` when it exists and is
        newer than ``item``. Read from the header alone, so only when the source format decides
        the output's (``--to`` given, or JPEG, PNG, WebP and GIF under ``auto``); the rest are
        checked once prepared.

        With ``--tile``, a set of tiles is up to date when its sidecar and every tile the sidecar
        lists exist and are newer than ``item`` (the sidecar is written last, so a run cut short
        leaves none); the sidecar is then the output. An incomplete set is tiled again, and its
        files left over are replaced only with ``--overwrite``. A whole output counts only when
        the header shows that ``--tile auto`` would not tile the image (never with ``--trim``,
        whose size is known only once decoded)."""
        if not isinstance(item, sources.Input) or item.path is None or self.opts.out is None:
            return None
        try:
            found = probe.probe_path(item.path)
        except probe.ProbeError:
            return None  # the worker reports it
        if self.opts.tile is not None:
            sidecar = self._sidecar(item)
            if claim_key(sidecar) not in self.claimed and _complete_set(sidecar, item):
                return sidecar
            if self.opts.trim_fuzz is not None or _tiled(found, self.opts):
                return None
        fmt = encode.output_format_of(found.facts.format, self.opts.to)
        if fmt is None:
            return None
        target = self._target(item, fmt)
        if claim_key(target) in self.claimed or not _up_to_date(target, item):
            return None
        return target

    def _finish_tiles(
        self,
        item: sources.Input,
        tiled: tiles.Tiled,
        bytes_before: int | None,
        warnings: tuple[judging.Finding, ...],
    ) -> Outcome:
        """Write every tile and the sidecar, or none of them (a refusal for any one fails all).
        ``warnings``: the findings of the tiles, each judged as an output."""
        tiles = tiled.tiles
        sidecar = self._sidecar(item)
        stem = sidecar.name.removesuffix(".tiles.json")
        digits = max(2, len(str(len(tiles))))
        paths = [
            sidecar.with_name(f"{stem}.tile-{n:0{digits}d}{EXTENSIONS[p.format]}")
            for n, p in enumerate(tiles, 1)
        ]
        outcome = Outcome(
            input=item.label,
            action="tiled",
            output=str(sidecar),
            format_before=tiled.source_format,
            format_after=tiles[0].format,
            width_before=tiled.width,
            height_before=tiled.height,
            width_after=max(p.width for p in tiles),
            height_after=max(p.height for p in tiles),
            bytes_before=bytes_before,
            bytes_after=sum(len(p.data) for p in tiles),
            tokens_before=policy.predict(tiled.width, tiled.height, self.opts.tier).tokens,
            tokens_after=sum(
                policy.predict(p.width, p.height, self.opts.tier).tokens for p in tiles
            ),
            quality=tiles[0].quality,
            findings=warnings,
            tiles=len(tiles),
            trim=tiled.trim,
        )
        refusal = next(
            (r for target in (*paths, sidecar) if (r := self._refusal(item, target)) is not None),
            None,
        )
        if refusal is None and not self.opts.dry_run:
            before = _sidecar_files(sidecar)  # an earlier run's set, replaced with --overwrite
            doc = sidecar_document(item.label, tiled, [n.name for n in paths])
            refusal = self._write_files(
                [*zip(paths, (p.data for p in tiles), strict=True), (sidecar, doc.encode())]
            )
            if refusal is None:
                _remove_stale_tiles(sidecar, stem, before, {p.name for p in paths})
        if refusal is not None:
            return outcome.refused(refusal)
        return outcome

    def _write_files(self, files: list[tuple[Path, bytes]]) -> str | None:
        """Write new files into ``--out`` (a sentence on the first failure)."""
        for target, data in files:
            try:
                make_folders(target.parent)
                write_atomic(target, data, replace=self.opts.overwrite, sync_parent=False)
                self.written.add(target.parent)
            except OSError as exc:
                return _write_failure(exc, target)
        return None

    def _sidecar(self, item: sources.Input) -> Path:
        """``NAME.tiles.json``: ``NAME`` is the output's name without its image extension."""
        base = self._target(item, "PNG")
        stem = base.name[: -len(base.suffix)] if base.suffix else base.name
        return base.with_name(f"{stem}.tiles.json")

    def _target(self, item: sources.Input, fmt: str) -> Path:
        if self.opts.out is None:
            assert item.path is not None  # the command refuses --in-place for stdin and URLs
            return output_name(item.path, fmt)
        return output_name(self.opts.out / item.relative, fmt)

    def _refusal(self, item: sources.Input, target: Path) -> str | None:
        """Why ``target`` must not be written for ``item`` (None when it may)."""
        key = claim_key(target)
        in_place = self.opts.out is None
        own = in_place and item.path is not None and key == claim_key(item.path)
        taken = self._taken(target)
        if taken is not None:
            return taken
        self.claimed[key] = item.label
        backup = self._backup_path(item.path)
        if backup is not None:
            refusal = self._backup_refusal(item, backup)
            if refusal is not None:
                return refusal
        if own:
            return None  # in place, under the same name
        if key in self.inputs:
            hint = "" if in_place else " into another folder"
            return f"{target} is an input, which is never overwritten: resize{hint} with --out."
        if not self.opts.overwrite and os.path.lexists(target):
            return f"{target} exists: pass --overwrite to replace it."
        return None

    def _taken(self, target: Path) -> str | None:
        """Why ``target`` is not free: an earlier input's output has that name (None if free)."""
        key = claim_key(target)
        if key not in self.claimed:
            return None
        return (
            f"{target} is already the output of {self.claimed[key]}: rename one of them or "
            "resize them into different folders."
        )

    def _backup_refusal(self, item: sources.Input, backup: Path) -> str | None:
        """Why ``backup`` must not be made for ``item``: it is another input (never overwritten,
        even with --overwrite), another input's output or backup, or it exists."""
        key = claim_key(backup)
        if key in self.inputs:
            return (
                f"the backup {backup} would replace an input, which is never overwritten: "
                "choose another --backup suffix."
            )
        if key in self.claimed:
            return (
                f"the backup {backup} is already the output of {self.claimed[key]}: choose "
                "another --backup suffix."
            )
        self.claimed[key] = item.label
        if not self.opts.overwrite and os.path.lexists(backup):
            return f"the backup {backup} exists: pass --overwrite or another --backup suffix."
        return None

    def _backup_path(self, source: Path | None) -> Path | None:
        if self.opts.backup is None or source is None or self.opts.out is not None:
            return None
        return source.with_name(source.name + self.opts.backup)

    def _write(
        self,
        item: sources.Input,
        target: Path,
        p: transform.PreparedImage,
        seen: tuple[int, int, int, int] | None,
    ) -> str | None:
        """Write one output; a sentence on failure (the input is then untouched)."""
        try:
            if self.opts.out is not None:
                make_folders(target.parent)
                write_atomic(target, p.data, replace=self.opts.overwrite, sync_parent=False)
                self.written.add(target.parent)
            else:
                assert item.path is not None
                self._write_in_place(item.path, target, p, seen)
        except Changed:
            return (
                f"{item.label} changed since it was read (another run, or an editor?): left as "
                "it is, and its backup too; run again to resize what it holds now."
            )
        except NotRemoved as exc:
            reason = os_reason(exc.error)
            return (
                f"cannot remove {exc.source} ({reason}) to replace it with {target}: left as it "
                f"is, and nothing written; {_advice(exc.error, removing=True)}."
            )
        except OSError as exc:
            return _write_failure(exc, target)
        return None

    def _write_in_place(
        self,
        source: Path,
        target: Path,
        p: transform.PreparedImage,
        seen: tuple[int, int, int, int] | None,
    ) -> None:
        """Replace ``source`` by the resized image (under ``target``'s name), keeping its mode,
        owner and extended attributes. The file is opened once and checked to be the one that
        was read: only that file is replaced, and only that file becomes the backup (a backup
        is never replaced by anything but the original it backs up, even when two runs work
        on one folder at once)."""
        same = claim_key(target) == claim_key(source)
        if same and p.action == "copied":
            return  # nothing to change
        real = Path(os.path.realpath(source))  # through a symbolic link: the file it points to
        fd = os.open(real, os.O_RDONLY)
        try:
            st = os.fstat(fd)
            if seen is not None and identity(st) != seen:
                raise Changed(source)
            mode = st.st_mode & 0o7777
            backup = self._backup_path(source)
            made: list[Path] = []  # removed again if the original stays
            try:
                if same:
                    if backup is not None and _backup(fd, real, backup, self.opts.overwrite):
                        made.append(backup)
                    write_atomic(real, p.data, replace=True, mode=mode, like=fd)
                    return
                write_atomic(target, p.data, replace=self.opts.overwrite, mode=mode, like=fd)
                made.append(target)
                if backup is not None and _backup(fd, real, backup, self.opts.overwrite):
                    made.append(backup)
                try:
                    _unlink_if(source, st)
                except OSError as exc:
                    raise NotRemoved(source, exc) from exc
            except (OSError, NotRemoved):
                # The original stays, so must nothing else: no new file beside it (a later run
                # would take it for an input), no backup of a file that was not replaced (it
                # would stop the next run: "the backup exists").
                for path in made:
                    with contextlib.suppress(OSError):
                        path.unlink()
                raise
        finally:
            os.close(fd)
        sync_folder(source.parent)


class NotRemoved(Exception):
    """In place, the original could not be removed once its new version (under a new name) was
    complete: the new file is removed again, and the original left as it is."""

    def __init__(self, source: Path, error: OSError) -> None:
        super().__init__(source, error)
        self.source = source
        self.error = error


def _newer(target: Path, item: sources.Input) -> bool:
    """Whether ``target`` is a file at least as new as the input file it would be made from."""
    if item.path is None:
        return False  # standard input and URLs have no date to compare
    try:
        return target.is_file() and target.stat().st_mtime >= item.path.stat().st_mtime
    except OSError:
        return False


def _up_to_date(target: Path, item: sources.Input) -> bool:
    """Whether the image ``target`` is at least as new as ``item`` and whole: not empty, its
    header readable and its end there (an earlier run's file is complete, but a copy cut short,
    or one another program was still writing, is made again). The pixels are not decoded."""
    if not _newer(target, item):
        return False
    try:
        probe.probe_path(target)
    except probe.ProbeError:
        return False
    return True


def _tiled(found: probe.Probe, opts: ResizeOptions) -> bool:
    """Whether ``--tile`` cuts this image (from its header; a grid it cannot cut fails later)."""
    assert opts.tile is not None
    try:
        return len(opts.tile.grid_for(*head_of(found).upright_size, opts.size_policy)) > 1
    except ValueError:
        return True


def _complete_set(sidecar: Path, item: sources.Input) -> bool:
    """Whether ``sidecar`` and every tile it lists are files newer than ``item``'s, every tile
    whole."""
    if not _newer(sidecar, item):
        return False
    files = _sidecar_files(sidecar)
    return bool(files) and all(_up_to_date(sidecar.with_name(f), item) for f in files)


def _sidecar_files(sidecar: Path) -> list[str]:
    """The tile files a sidecar lists (none when there is no sidecar vision-cli wrote)."""
    try:
        doc = json.loads(sidecar.read_bytes())
        return [
            os.fsdecode(base64.b64decode(t["file_bytes"])) if "file_bytes" in t else str(t["file"])
            for t in doc["tiles"]
        ]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return []  # not a sidecar vision-cli wrote: tiled again (and refused unless --overwrite)


def _remove_stale_tiles(sidecar: Path, stem: str, before: list[str], now: set[str]) -> None:
    """Remove the tiles of an earlier, finer grid of the same image that the new set does not
    replace (``scroll.tile-08.png`` after a re-tiling into 4): a folder of tiles is sent whole,
    and they would go with it. Only names the earlier sidecar listed, of the form vision-cli
    gives tiles, in the sidecar's folder."""
    for name in before:
        ours = name.startswith(f"{stem}.") and _TILE_NAME.fullmatch(name[len(stem) + 1 :])
        if name in now or not ours:
            continue
        with contextlib.suppress(OSError):
            stale = sidecar.with_name(name)
            if stale.is_file() and not stale.is_symlink():
                stale.unlink()


_TILE_NAME: Final = re.compile(
    r"tile-\d{2,}(?:" + "|".join(map(re.escape, EXTENSIONS.values())) + ")"
)


def _write_failure(exc: OSError, target: Path) -> str:
    """The sentence for an output that could not be written, naming the file the user knows:
    the one the error is about (a backup, when that is the name taken), never the temporary
    name it was being written under, and what to do about it."""
    where = _named(exc, target)
    if isinstance(exc, FileExistsError):
        return (
            f"{where} appeared while resizing (another run, or an editor?): pass --overwrite "
            "to replace it."
        )
    return f"cannot write {where} ({os_reason(exc)}): {_advice(exc)}."


def _named(exc: OSError, target: Path) -> Path:
    """The file ``exc`` is about, spelled as the user gave it. A name alone (written through its
    folder's descriptor: ``a.png``) is put back in ``target``'s folder; a temporary name, the
    descriptor of an unnamed file or the folder itself (``.``) stand for ``target``."""
    for name in (exc.filename2, exc.filename):
        if not isinstance(name, str | bytes):
            continue
        text = os.fsdecode(name)
        if text in ("", ".") or text.endswith(TEMP_SUFFIX) or text.startswith("/proc/"):
            continue
        return Path(text) if os.sep in text else target.with_name(text)
    return target


def _advice(exc: OSError, *, removing: bool = False) -> str:
    """What to do about a file that could not be written (or, ``removing``, removed), by the
    system's reason."""
    if exc.errno == errno.ENAMETOOLONG:
        return "shorten the name (or --backup's suffix)"
    if removing and exc.errno in (errno.EPERM, errno.EACCES):
        return (
            "check the folder's permissions (in a sticky folder such as /tmp only a file's "
            "owner may remove it), or resize it with --out"
        )
    return write_advice(exc)


def claim_key(path: Path) -> Path:
    """One spelling per file: absolute, with symbolic links in its folders resolved. Stricter
    than :func:`sources.path_key` (which folds spellings without touching the disk): an output's
    name must be claimed once whichever linked folder leads to it."""
    absolute = Path(os.path.abspath(path))
    return resolved(absolute.parent) / absolute.name


def _unlink_if(path: Path, st: os.stat_result) -> None:
    """Remove ``path`` if it is still the file ``st`` describes."""
    try:
        if identity(os.lstat(path)) == identity(st) or os.path.islink(path):
            os.unlink(path)
    except FileNotFoundError:
        pass


def _backup(fd: int, source: Path, backup: Path, replace: bool) -> bool:
    """Make ``backup`` a second name for the open file ``fd`` (the original that was read): a
    hard link to that very file (through ``/proc/self/fd``, so never to whatever the name
    ``source`` holds by then), or a copy of it where links fail. A backup that already is that
    file is left as it is (False: nothing was made); another is replaced only with
    ``replace``."""
    try:
        if os.path.samestat(os.stat(backup), os.fstat(fd)):
            return False  # already a link to the original (a hard link made by hand, or a rerun)
    except FileNotFoundError:
        pass
    original = f"/proc/self/fd/{fd}" if os.path.isdir("/proc/self/fd") else str(source)
    temp = backup.with_name(hidden_temp_name(backup.name))
    try:
        os.link(original, temp, follow_symlinks=True)
    except OSError:  # no hard links on this file system (or no /proc): a copy of the same bytes
        size = os.fstat(fd).st_size
        write_atomic(
            backup,
            os.pread(fd, size, 0),
            replace=replace,
            mode=os.fstat(fd).st_mode & 0o7777,
            like=fd,
        )
        return True
    try:
        if replace:
            os.replace(temp, backup)
        else:
            os.link(temp, backup)  # refuses to clobber, atomically
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    return True
