"""Tables: aligned plain text when piped, rich tables on a terminal; and rows out for ``locate``,
``results`` and ``models`` (table, Markdown, CSV or JSON lines).

Every output follows the project's rules for text from outside (:mod:`vision_cli.names`,
:func:`vision_cli.render.text.visible`): JSON lines and CSV keep names exact (``\\udcff``
escapes and a ``path_bytes`` member or column for a name that is not UTF-8; CSV cells guarded
against formulas), tables and Markdown show control characters as escapes, so a file name cannot
break a row or reach the terminal; Markdown writes text as code spans, so a model's answer is
never a live link, image or @mention in a rendered report.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TextIO

from vision_cli.formats import Format
from vision_cli.render.output import RecordWriter, console, is_tty, wants_colour
from vision_cli.render.text import display_width, md_code, md_table, pad, visible

if TYPE_CHECKING:
    from rich.table import Table

#: Columns a table may take when standard output is not a terminal and $COLUMNS is not set.
PIPED_WIDTH = 120


def available_width(stream: TextIO) -> int:
    """The columns a table has: the terminal's, else $COLUMNS, else :data:`PIPED_WIDTH`."""
    if is_tty(stream):
        return console(stream).width
    try:  # the process's variables: rich reads COLUMNS (and NO_COLOR) there too, so both agree
        return int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return PIPED_WIDTH


def write_aligned(
    stream: TextIO,
    table: Sequence[Sequence[str]],
    right: Sequence[bool],
    *,
    measure: Callable[[str], int] = display_width,
) -> None:
    """Rows of cells in columns two spaces apart (``right``: right-aligned columns), no trailing
    blanks. ``measure=len`` counts characters, as the older tables do, instead of columns."""
    widths = [max(measure(r[i]) for r in table) for i in range(len(right))]
    for cells in table:
        parts = [
            pad(c, w, right=r, measure=measure)
            for c, w, r in zip(cells, widths, right, strict=True)
        ]
        stream.write("  ".join(parts).rstrip() + "\n")


def files_table(headers: list[str], rows: list[list[str]], *, stream: TextIO | None = None) -> None:
    """``files list``: aligned text (bytes right-aligned)."""
    write_aligned(stream or sys.stdout, [headers, *rows], [h == "bytes" for h in headers])


def rich_table(
    headers: Sequence[str], right: Sequence[bool], *, ruled: bool, no_wrap: bool = False
) -> Table:
    """An empty rich table (``right``: right-aligned columns): ``ruled``, a line under the
    headers and none at the edges; else no lines at all and bold headers. Callers add rows as
    ``Text``, so a "[" in a name is not markup."""
    # lazy: start-up, rich.table is drawn only on a terminal
    from rich import box
    from rich.table import Table
    from rich.text import Text

    if ruled:
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    else:
        table = Table(box=None, header_style="bold", pad_edge=False)
    for header, r in zip(headers, right, strict=True):
        justify: Literal["left", "right"] = "right" if r else "left"
        table.add_column(Text(header) if ruled else header, justify=justify, no_wrap=no_wrap)
    return table


def simple_table(
    stream: TextIO,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    footer: Sequence[str] = (),
    *,
    right: Collection[str] = (),
) -> None:
    """A table with lines under it: rich on a terminal, plain aligned text otherwise."""
    if is_tty(stream):
        from rich.text import Text  # lazy: start-up, piped output never needs rich

        table = rich_table(headers, [h in right for h in headers], ruled=True)
        for cells in rows:
            table.add_row(*(Text(c) for c in cells))
        out = console(stream)
        out.print(table)
        for line in footer:
            out.print(Text(line, style="dim"))
        return
    aligned = [h in right for h in headers]
    write_aligned(stream, [list(headers), *(list(r) for r in rows)], aligned, measure=len)
    if footer:
        stream.write("\n" + "\n".join(footer) + "\n")
    stream.flush()


# --------------------------------------------------------------------------------------------------
# Rows out (``locate``, ``results``)
# --------------------------------------------------------------------------------------------------


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


def write_rows(
    fmt: str,
    header: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    right: Sequence[str] = (),
    stream: TextIO | None = None,
) -> None:
    """``rows`` (dicts keyed by ``header``) as ``table``, ``markdown``, ``csv`` or ``jsonl``.
    JSON documents are the commands' own (:func:`vision_cli.render.output.dumps`)."""
    out = stream or sys.stdout
    if fmt in ("jsonl", "csv"):
        writer = RowWriter(fmt, header, stream=out)
        writer.add(rows)
        writer.close()
    elif fmt == "markdown":
        out.write(md_table(header, [[_md(row.get(k)) for k in header] for row in rows]))
    else:
        cells = [[visible(cell(row.get(k))) for k in header] for row in rows]
        _rows_table(out, header, cells, right)
    out.flush()


def _md(value: Any) -> Any:
    """A row's value as a Markdown cell: a number as it is; text (a name, a model's answer or
    label, an error from the API) and lists as a code span, never a live link or mention."""
    shown = cell(value)
    return shown if isinstance(value, int | float) else md_code(shown)


class RowWriter:
    """Rows (dicts keyed by ``header``) as JSON lines or CSV (its header row with the first
    row, or at the end), each batch written and flushed as it is added: ``locate`` shows each
    image's boxes as it is answered."""

    def __init__(self, fmt: str, header: Sequence[str], *, stream: TextIO) -> None:
        self._header = header
        self._jsonl = fmt == "jsonl"
        self._stream = stream
        self._writer = RecordWriter(
            Format(fmt),
            key="rows",
            columns=header,
            flatten=lambda row: {k: cell(row.get(k)) for k in header},
            stream=stream,
        )

    def add(self, rows: Sequence[Mapping[str, Any]]) -> None:
        for row in rows:
            self._writer.add({k: row.get(k) for k in self._header} if self._jsonl else dict(row))
        self._stream.flush()

    def close(self) -> None:
        self._writer.close()


def _rows_table(
    out: TextIO, header: Sequence[str], rows: list[list[str]], right: Sequence[str]
) -> None:
    if wants_colour(out):
        from rich.text import Text  # lazy: start-up, piped output never needs rich

        table = rich_table(header, [name in right for name in header], ruled=False)
        for row in rows:
            table.add_row(*(Text(c) for c in row))  # Text: a "[" in a name is not markup
        console(out).print(table)
        return
    aligned = [name in right for name in header]
    write_aligned(out, [list(header), *rows], aligned, measure=len)


# --------------------------------------------------------------------------------------------------
# Grids (``estimate``): a table with a total row, rows marked as errors, never cut short
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    headers: list[str]
    right: list[bool]  # right-aligned columns
    rows: list[list[str]]
    errors: list[bool]  # per row: marked as an error
    total: list[str]

    def width(self) -> int:
        """The columns the grid takes as plain text."""
        table = [self.headers, *self.rows, self.total]
        widths = [max(display_width(r[i]) for r in table) for i in range(len(self.headers))]
        return sum(widths) + 2 * (len(widths) - 1)

    def write_plain(self, stream: TextIO) -> None:
        write_aligned(stream, [self.headers, *self.rows, self.total], self.right)

    def print_rich(self, stream: TextIO, footer: list[str], notes: list[str]) -> None:
        # lazy: start-up, drawn only on a terminal
        from rich.measure import Measurement
        from rich.text import Text

        table = rich_table(self.headers, self.right, ruled=True, no_wrap=True)
        for i, (cells, error) in enumerate(zip(self.rows, self.errors, strict=True)):
            table.add_row(
                *(Text(c) for c in cells),
                style="red" if error else None,
                end_section=i == len(self.rows) - 1,
            )
        table.add_row(*(Text(c) for c in self.total), style="bold")
        out = console(stream)
        # Never cut a figure short: a table wider than the terminal is printed whole (it wraps).
        natural = Measurement.get(out, out.options.update_width(100_000), table).maximum
        wide = console(stream)
        wide.width = max(out.width, natural)
        wide.print(table, crop=False)
        for line in footer:
            out.print(Text(line, style="dim"))
        for line in notes:
            out.print(Text(line, style="red"))
