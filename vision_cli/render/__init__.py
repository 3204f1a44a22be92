"""Everything a person or a program reads: tables, JSON, JSONL, CSV, Markdown, GitHub annotations,
HTML, progress. The only package that imports rich; only ``cli/`` imports it.

Results go to stdout; progress, warnings and errors go to stderr. Shared helpers:

- :mod:`~vision_cli.render.text`: outside text made safe to show (:func:`visible`), Markdown,
  GitHub annotations, display widths, money. Pure string functions.
- :mod:`~vision_cli.render.output`: terminal or not, rich consoles, ``Error:``/``Warning:``/note
  lines on stderr, JSON documents and the record writer (JSON, JSONL, CSV).
- :mod:`~vision_cli.render.tables`: aligned and rich tables, rows out for ``locate``/``results``.
- :mod:`~vision_cli.render.bars`: progress bars.

One module per command: :mod:`~vision_cli.render.inspect`, :mod:`~vision_cli.render.html`
(``inspect --format html``), :mod:`~vision_cli.render.resize`, :mod:`~vision_cli.render.estimate`,
:mod:`~vision_cli.render.ask`, :mod:`~vision_cli.render.models`, :mod:`~vision_cli.render.results`.

The helpers every command uses are named here too (``render.error(...)``). This module stays
light: it loads the two shared modules (the standard library, :mod:`vision_cli.names`,
:mod:`vision_cli.policy`), never rich nor a command's module.
"""

from vision_cli.render.output import dumps, error, is_tty, note, warn
from vision_cli.render.text import money, visible, visible_answer

__all__ = ["dumps", "error", "is_tty", "money", "note", "visible", "visible_answer", "warn"]
