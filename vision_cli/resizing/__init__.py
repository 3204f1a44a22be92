"""The core of ``vision-cli resize``: plan each output, prepare images in a process pool, write them
atomically, and say what happened to each input.

Nothing is ever lost: an output appears under its final name only when it is complete (it is
written to an unnamed or hidden temporary file in the same folder, flushed to disk, then linked or
renamed into place); an existing file is replaced only with ``overwrite`` or when it is the input
being resized in place; an input is never the output of another input; and an original whose name
changes in place is removed only after its replacement is complete.

This ``__init__`` imports nothing. The modules:

- :mod:`.summary`: :class:`~.summary.ResizeOptions` (what a run is asked to do), one
  :class:`~.summary.Outcome` per input and the :class:`~.summary.ResizeTotals`.
- :mod:`.runner`: :func:`~.runner.run`, which starts the workers and yields outcomes in order.
- :mod:`.jobs`: what a worker process does with one input (read, gate, prepare).
- :mod:`.outputs`: output names, claims on them, sidecars, backups and the atomic writes.
"""
