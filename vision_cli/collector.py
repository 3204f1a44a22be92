"""The cyclic garbage collector, paused while a big import makes long-lived objects.

Importing a large package (the ``anthropic`` SDK: a pydantic model for every type of the API)
makes hundreds of thousands of objects that live as long as the process. The collector, left on,
walks them again and again while they are made, and once more at exit, and can free none of
them: on this project's machine ``python -c "import anthropic"`` takes 1.9 s, 1.2 s with the
collector paused during the import and its objects frozen after it (``docs/performance.md``).
:func:`paused` does that; ``cli/launch.py`` pauses and resumes around start-up.

Pure standard library: every layer may import it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def pause() -> bool:
    """Turn the collector off if it is on; whether it was (and so :func:`resume` is owed)."""
    if not gc.isenabled():
        return False
    gc.disable()
    return True


def resume() -> None:
    """Freeze what exists (out of the collector's sight for good) and turn it back on."""
    gc.freeze()
    gc.enable()


@contextmanager
def paused() -> Iterator[None]:
    """:func:`pause` for the block, then :func:`resume`. A collector that was off already (an
    embedder's choice, or a pause in another thread) is left as it is."""
    if not pause():
        yield
        return
    try:
        yield
    finally:
        resume()
