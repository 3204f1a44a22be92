"""Where output goes: a terminal or not, rich consoles, one-line messages on stderr, and the
machine-readable records (JSON, JSONL, CSV) every command writes.

rich is imported only inside the functions that draw for a terminal: piped output is plain text
written straight to the stream, which keeps one-liners and CI fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from vision_cli import names
from vision_cli.formats import Format
from vision_cli.render.text import csv_cell, visible

if TYPE_CHECKING:
    import csv

    from rich.console import Console


def is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def wants_colour(stream: TextIO) -> bool:
    """Colour on ``stream``: a terminal, and NO_COLOR not set (in the process's variables, where
    rich reads it too: a test's streams are never terminals)."""
    return is_tty(stream) and not os.environ.get("NO_COLOR")


def console(stream: TextIO | None = None) -> Console:
    """A rich console on ``stream`` (colour only on a terminal; NO_COLOR respected by rich)."""
    from rich.console import Console  # lazy: start-up, piped output never needs rich

    out = Console(file=stream or sys.stdout, highlight=False, soft_wrap=True)
    # rich's own reaction to a closed pipe is SystemExit(1); the commands' is a quiet 141
    out.on_broken_pipe = _closed_pipe  # type: ignore[method-assign]
    return out


def _closed_pipe() -> None:
    raise BrokenPipeError(32, "Broken pipe")


def error(message: str, *, stream: TextIO | None = None) -> None:
    """One ``Error: ...`` line on stderr."""
    _line(stream or sys.stderr, "Error: ", "bold red", message)


def warn(message: str, *, stream: TextIO | None = None) -> None:
    _line(stream or sys.stderr, "Warning: ", "bold yellow", message)


def note(message: str, *, stream: TextIO | None = None) -> None:
    """A plain informational line on stderr (dimmed on a terminal)."""
    _line(stream or sys.stderr, "", "dim", message)


def _line(stream: TextIO, prefix: str, style: str, message: str) -> None:
    message = visible(message)
    if wants_colour(stream):
        from rich.text import Text  # lazy: start-up, piped output never needs rich

        text = Text(prefix, style=style) if prefix else Text()
        text.append(message, style="" if prefix else style)
        console(stream).print(text)
    else:
        stream.write(f"{prefix}{message}\n")
        stream.flush()


def dumps(doc: Any) -> str:
    return names.dumps(doc, indent=2)


def with_codes(rec: dict[str, Any]) -> dict[str, Any]:
    """A record as a CSV row: its findings as their codes, ``;``-separated, in a ``codes``
    column (``inspect`` and ``resize`` alike)."""
    row = dict(rec)
    row["codes"] = ";".join(f["code"] for f in rec.get("findings") or ())
    return row


def csv_writer(stream: TextIO, columns: Sequence[str]) -> csv.DictWriter[str]:
    """A CSV writer of rows (dicts; keys not in ``columns`` left out), each ended by ``\n``, a
    field holding a line break (``\n`` or ``\r``) quoted."""
    import csv  # lazy: start-up, only CSV output pays for it

    # the rows are made with "\r\n" ends, written with "\n": before Python 3.13, csv quotes only
    # the line breaks that its line end holds, so a "\r" in a file name split the row unquoted
    return csv.DictWriter(
        _RowEnds(stream), fieldnames=columns, extrasaction="ignore", lineterminator="\r\n"
    )


class _RowEnds:
    """A stream for :func:`csv_writer`: each row (one ``write``) ends with ``\n``, not ``\r\n``."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, row: str) -> int:
        return self._stream.write(row.removesuffix("\r\n") + "\n")


class RecordWriter:
    """Writes records as JSON (one document at the end), JSONL (one line each, at once) or CSV.

    ``columns`` names the CSV columns; ``flatten`` turns a record dict into a CSV row (lists and
    mappings must be made scalar there). JSON wraps the records as ``{key: [...], "summary": ...}``.
    """

    def __init__(
        self,
        fmt: Format,
        *,
        key: str,
        columns: Sequence[str],
        flatten: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None,
        stream: TextIO | None = None,
    ) -> None:
        if fmt not in (Format.json, Format.jsonl, Format.csv):
            raise ValueError(f"RecordWriter does not write {fmt.value}")
        self.fmt = fmt
        self.key = key
        self.stream = stream or sys.stdout
        self.flatten = flatten or (lambda d: d)
        self.rows: list[dict[str, Any]] = []
        self._csv: csv.DictWriter[str] | None = None
        if fmt is Format.csv:
            # A file-name column gets its ``_bytes`` column at the end (vision_cli.names).
            names_bytes = [c + names.BYTES_SUFFIX for c in columns if c in names.NAME_FIELDS]
            self._csv = csv_writer(self.stream, [*columns, *names_bytes])
        # The CSV header waits for the first row (or the end): a usage error found once the
        # inputs are read (an unreadable --files-from) leaves standard output empty.
        self._header_due = self._csv is not None

    def add(self, record: dict[str, Any]) -> None:
        if self.fmt is Format.jsonl:
            self.add_line(names.dumps(record))
        elif self._csv is not None:
            self._header()
            # a name a cell cannot hold as it is (csv_cell escapes it) has its bytes beside it
            row = names.with_bytes(self.flatten(record), names.csv_exact)
            # a name's bytes in base64 stay exact: a leading "+" is no formula there (base64
            # has no parentheses, nothing to run), and a "'" would change the bytes
            self._csv.writerow(
                {k: v if k.endswith(names.BYTES_SUFFIX) else csv_cell(v) for k, v in row.items()}
            )
        else:
            self.rows.append(record)

    def add_line(self, line: str) -> None:
        """A JSONL record already made (by :func:`vision_cli.names.dumps`)."""
        self.stream.write(line + "\n")
        self.stream.flush()

    def _header(self) -> None:
        if self._csv is not None and self._header_due:
            self._header_due = False
            self._csv.writeheader()

    def close(self, summary: dict[str, Any] | None = None) -> None:
        self._header()
        if self.fmt is Format.json:
            doc: dict[str, Any] = {self.key: self.rows}
            if summary is not None:
                doc["summary"] = summary
            self.stream.write(dumps(doc))
            self.stream.write("\n")
        self.stream.flush()
