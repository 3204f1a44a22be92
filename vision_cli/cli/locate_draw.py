"""``locate --draw OUT``: the boxes drawn on each answered image, written to OUT (a file, or a
folder when it is one, ends in ``/`` or there is more than one image).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from vision_cli.cli import common

if TYPE_CHECKING:
    from vision_cli.bulk import plan
    from vision_cli.cli.locate import LocatedImage


def draw(images: list[LocatedImage], given: str, results: Path | None) -> int:
    """Draw every answered image; the number that could not be drawn (each said on stderr).
    ``given`` is OUT as typed (a str: a Path would drop the trailing / that makes it a folder).
    No drawing replaces an image of the run, the ``results`` file or another drawing: in a
    folder it takes the next free name, as a repeated name does; a single OUT fails."""
    # lazy: start-up, these import Pillow
    from vision_cli import drawing
    from vision_cli.asking import preparing

    answered = [i for i in images if i.located is not None]
    labels = [f.label for i in answered if i.located for f in i.located.found]
    palette = drawing.colours(labels)
    out = Path(given)
    folder = out.is_dir() or given.endswith(("/", os.sep)) or len(images) > 1
    inputs = {
        i.job.item.path.resolve()
        for i in images
        if i.job.item is not None and i.job.item.path is not None
    }
    taken = inputs | ({results.resolve()} if results is not None else set())
    failed = 0
    for image in answered:
        assert image.located is not None
        job = image.job
        target = _target(job, out, taken) if folder else out
        try:
            if not folder and target.resolve() in inputs:
                raise drawing.DrawError(
                    f"--draw would overwrite the image itself ({target}): choose another OUT"
                )
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
    while target.resolve() in taken:
        target = folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
        n += 1
    taken.add(target.resolve())
    return target
