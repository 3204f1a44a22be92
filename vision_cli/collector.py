"""The cyclic garbage collector, paused while a big import makes long-lived objects.

Importing a large package (the ``anthropic`` SDK: a pydantic model for every type of the API)
makes hundreds of thousands of objects that live as long as the process. The collector, left on,
walks them again and again while they are made, and once more at exit, and can free none of
them: on this project's machine ``python -c "import anthropic"`` takes 1.9 s, 1.2 s with the
collector paused during the import and its objects frozen after it (``docs/performance.md``).
:func:`paused` does that; ``cli/launch.py`` does the same for start-up.

Pure standard library: every layer may import it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """Turn the collector off for the block, then freeze what exists (out of its sight for
    good) and turn it back on. A collector that was off already (an embedder's choice, or a
    pause in another thread) is left as it is."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
