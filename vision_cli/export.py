"""Rows out, for ``locate`` and ``results``: an aligned table (rich on a terminal), Markdown, CSV
or JSON lines, on standard output. JSON documents are the commands' own (``render.dumps``).

Every output follows the project's rules for text from outside (:mod:`vision_cli.names`,
:func:`vision_cli.render.visible`): JSON lines and CSV keep names exact (``\\udcff`` escapes and
a ``path_bytes`` member or column for a name that is not UTF-8; CSV cells guarded against
formulas), tables and Markdown show control characters as escapes, so a file name cannot break
a row or reach the terminal.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from vision_cli import render
from vision_cli.formats import Format


def cell(value: Any) -> Any:
    """A value as a CSV or table cell: empty for None, JSON for lists and objects."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def write(
    fmt: str,
    header: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    right: Sequence[str] = (),
    stream: TextIO | None = None,
) -> None:
    """``rows`` (dicts keyed by ``header``) as ``table``, ``markdown``, ``csv`` or ``jsonl``."""
    out = stream or sys.stdout
    if fmt in ("jsonl", "csv"):
        writer = render.RecordWriter(
            Format(fmt),
            key="rows",
            columns=header,
            flatten=lambda row: {k: cell(row.get(k)) for k in header},
            stream=out,
        )
        for row in rows:
            writer.add({k: row.get(k) for k in header} if fmt == "jsonl" else dict(row))
        writer.close()
    elif fmt == "markdown":
        out.write(render.md_table(header, [[cell(row.get(k)) for k in header] for row in rows]))
    else:
        cells = [[render.visible(cell(row.get(k))) for k in header] for row in rows]
        _table(out, header, cells, right)
    out.flush()


def _table(out: TextIO, header: Sequence[str], rows: list[list[str]], right: Sequence[str]) -> None:
    if render.is_tty(out) and not os.environ.get("NO_COLOR"):
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, header_style="bold", pad_edge=False)
        for name in header:
            table.add_column(name, justify="right" if name in right else "left")
        for row in rows:
            table.add_row(*(Text(c) for c in row))  # Text: a "[" in a name is not markup
        render.console(out).print(table)
        return
    widths = [max([len(name), *(len(r[i]) for r in rows)]) for i, name in enumerate(header)]
    for row in [list(header), *rows]:
        cells = [
            c.rjust(w) if name in right else c.ljust(w)
            for c, w, name in zip(row, widths, header, strict=True)
        ]
        out.write("  ".join(cells).rstrip() + "\n")
