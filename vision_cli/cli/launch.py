"""The console script's entry: the cyclic garbage collector rests while the app starts.

Starting a command imports typer, pydantic (typer 0.29 converts values through it), Pillow and
vision-cli's own modules: tens of thousands of objects that live as long as the process. The
cyclic collector would walk them again and again as they are made (about 20 ms of a 300 ms
start, see docs/performance.md), and can free none of them. So :func:`entrypoint` pauses it
before the first import, and :func:`resume` (called as the command's own code starts, and
whenever :func:`vision_cli.cli.app.main` returns) freezes what exists so far, out of the
collector's sight for good, and turns it back on: a long run collects its garbage as usual.
Only a pause made here is resumed, so a program that embeds :func:`~vision_cli.cli.app.main`
with the collector off keeps it off. A signal during the start-up is handled here too
(:func:`entrypoint`).
"""

from __future__ import annotations

import signal
from types import FrameType

from vision_cli import collector

_paused = False


def pause() -> None:
    """Turn the cyclic collector off for the start-up, if it is on."""
    global _paused
    _paused = collector.pause() or _paused


def resume() -> None:
    """Undo :func:`pause`: freeze the objects made while starting and turn the collector on."""
    global _paused
    if _paused:
        _paused = False
        collector.resume()


#: The exit status of a run stopped by Ctrl-C or SIGTERM (``exitcodes.ExitStatus.INTERRUPTED``,
#: not imported: this module runs before anything else).
_INTERRUPTED = 130


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def entrypoint() -> None:
    """The ``vision-cli`` console script. SIGTERM stops it as Ctrl-C does from its first line,
    and either, while the app is still being imported, ends it quietly with 130 (not SIGTERM's
    own 143, nor a traceback from inside an import)."""
    pause()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        # lazy: start-up, imported with the collector paused
        from vision_cli.cli.app import entrypoint as run
    except KeyboardInterrupt:
        raise SystemExit(_INTERRUPTED) from None
    run()
