"""Rows out, for ``locate`` and ``results``: an aligned table (rich on a terminal), Markdown, CSV
or JSON lines, on standard output. JSON documents are the commands' own (``render.dumps``).

Cells are written as they are in CSV and JSON; in the table and Markdown, a cell is one line
(control characters shown as ``\\n``, ``\\t``, ... so a file name cannot break a row).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from vision_cli import render


def cell(value: Any) -> str:
    """A value as one line of text: empty for None, JSON for lists and objects."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


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
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps({k: row.get(k) for k in header}, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        import csv  # only CSV output pays for it

        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([cell(row.get(k)) for k in header] for row in rows)
    elif fmt == "markdown":
        out.write(render.md_table(header, [[cell(row.get(k)) for k in header] for row in rows]))
    else:
        _table(out, header, [[_one_line(cell(row.get(k))) for k in header] for row in rows], right)
    out.flush()


def _table(out: TextIO, header: Sequence[str], rows: list[list[str]], right: Sequence[str]) -> None:
    if render.is_tty(out) and not os.environ.get("NO_COLOR"):
        from rich.table import Table

        table = Table(box=None, header_style="bold", pad_edge=False)
        for name in header:
            table.add_column(name, justify="right" if name in right else "left")
        for row in rows:
            table.add_row(*row)
        render.console(out).print(table)
        return
    widths = [max([len(name), *(len(r[i]) for r in rows)]) for i, name in enumerate(header)]
    for row in [list(header), *rows]:
        cells = [
            c.rjust(w) if name in right else c.ljust(w)
            for c, w, name in zip(row, widths, header, strict=True)
        ]
        out.write("  ".join(cells).rstrip() + "\n")
