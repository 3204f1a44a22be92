"""``locate --draw OUT``: the boxes drawn on each answered image, written to OUT (a file, or a
folder when it is one, ends in ``/`` or there is more than one image).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from vision_cli.cli import common

if TYPE_CHECKING:
    from vision_cli import sources
    from vision_cli.bulk import plan
    from vision_cli.cli.locate import LocatedImage


def refusal(
    given: str, items: Sequence[sources.Input | sources.Problem], results: Path | None
) -> str | None:
    """Why ``--draw OUT`` cannot be written, found before anything is sent (a usage error), or
    None. A single OUT must not be the results file or one of the run's images (links
    followed); the folder the drawings go into must not have a file in its way, nor be a folder
    this user cannot write. (A folder's names are chosen free of the inputs as they are drawn.)"""
    # lazy: start-up, --help imports none of these
    from vision_cli import fsutil, sources

    out = Path(given)
    count = len({item.label for item in items})
    if given == "-":
        return "--draw writes PNG files: give it a file or a folder name (- is not one)"
    if results is not None and fsutil.resolved(out) == fsutil.resolved(results):
        return f"--draw {given} is the results file (--output): choose another OUT"
    if _is_folder(given, count):
        return _unwritable(given, out)
    try:
        target = fsutil.output_target(out)
    except OSError:  # a link loop, or a file where a folder should be
        return _unwritable(given, out.parent)
    if target.stream:  # a device, a FIFO, an open descriptor: written into, never replaced
        return None
    inputs = _resolved(item for item in items if isinstance(item, sources.Input))
    if fsutil.resolved(target.path) in inputs:
        return f"--draw {given} is an image of the run, and would replace it: choose another OUT"
    return _unwritable(given, target.path.parent)


def _resolved(items: Iterable[sources.Input]) -> set[Path]:
    """The files of the run's images, links followed (what no drawing may replace)."""
    from vision_cli import fsutil  # lazy: start-up, as in refusal

    return {fsutil.resolved(item.path) for item in items if item.path is not None}


def _is_folder(given: str, count: int) -> bool:
    """Whether OUT is a folder the drawings go into, rather than the one drawing's file."""
    return Path(given).is_dir() or given.endswith(("/", os.sep)) or count > 1


def _unwritable(given: str, folder: Path) -> str | None:
    """Why no file can be made in ``folder`` (or in the folder it would be made in), or None:
    the nearest part of it that exists is a file, or a folder this user cannot write."""
    for place in (folder, *folder.parents):
        try:
            mode = place.stat().st_mode
        except (FileNotFoundError, NotADirectoryError):
            continue  # made when drawn, if what is above it allows
        except OSError:  # cannot tell: said when it is written
            return None
        if not stat.S_ISDIR(mode):
            return f"--draw {given}: {place} is a file, not a folder: choose another OUT"
        if not os.access(place, os.W_OK | os.X_OK):
            return f"--draw {given}: the folder {place} cannot be written: choose another OUT"
        return None
    return None


def draw(images: list[LocatedImage], given: str, results: Path | None) -> int:
    """Draw every answered image; the number that could not be drawn (each said on stderr).
    ``given`` is OUT as typed (a str: a Path would drop the trailing / that makes it a folder).
    No drawing replaces an image of the run, the ``results`` file or another drawing: in a
    folder it takes the next free name, as a repeated name does (a single OUT that is one of
    them was refused before sending: :func:`refusal`)."""
    # lazy: start-up, these import Pillow
    from vision_cli import drawing, fsutil
    from vision_cli.asking import preparing

    answered = [i for i in images if i.located is not None]
    labels = [f.label for i in answered if i.located for f in i.located.found]
    palette = drawing.colours(labels)
    out = Path(given)
    folder = _is_folder(given, len(images))
    taken = _resolved(i.job.item for i in images if i.job.item is not None)
    if results is not None:
        taken.add(fsutil.resolved(results))
    failed = 0
    for image in answered:
        assert image.located is not None
        job = image.job
        target = _target(job, out, taken) if folder else out
        try:
            data = job.data
            if data is None and job.item is not None:
                data = preparing.read_input(job.item)
            assert data is not None
            pairs = [
                (f.label, box)
                for f, box in zip(image.located.found, image.located.upright, strict=True)
            ]
            drawing.draw(data, pairs, palette, target)
        except (drawing.DrawError, preparing.PreflightError) as exc:
            common.error(f"{job.label}: {exc}")
            failed += 1
    return failed


def _target(job: plan.Job, folder: Path, taken: set[Path]) -> Path:
    """``folder/NAME`` for the image: its own name (``stdin.png`` for standard input, the URL's
    last part), with ``-2``, ``-3`` ... when that file is ``taken`` (resolved: an image or the
    results file of the run, or an earlier drawing); the name chosen is taken in turn."""
    from vision_cli import fsutil  # lazy: start-up, as in refusal

    item = job.item
    if item is not None and item.path is not None:
        name = item.path.name
    elif item is not None and item.url is not None:
        name = PurePosixPath(item.url.split("?", 1)[0]).name or "image.png"
    else:
        name = "stdin.png"
    if Path(name).suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp"):
        name = Path(name).stem + ".png"
    target = folder / name
    n = 2
    while fsutil.resolved(target) in taken:
        target = folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
        n += 1
    taken.add(fsutil.resolved(target))
    return target
