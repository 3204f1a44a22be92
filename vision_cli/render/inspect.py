"""``inspect``'s output: a table (rich on a terminal), JSON, JSONL, CSV, GitHub annotations and
Markdown. The HTML report is :mod:`vision_cli.render.html`."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TextIO

from vision_cli.formats import Format
from vision_cli.inspecting import InspectSummary, Record
from vision_cli.render.output import RecordWriter, console, is_tty, with_codes
from vision_cli.render.text import (
    gh_annotation,
    gh_overflow,
    md_code,
    md_table,
    n_images,
    visible,
)

INSPECT_CSV_COLUMNS = (
    "path",
    "status",
    "format",
    "media_type",
    "width",
    "height",
    "orientation",
    "frames",
    "mode",
    "bytes",
    "base64_bytes",
    "model",
    "api_width",
    "api_height",
    "tokens",
    "codes",
)

_MARKS = {"ok": ("✓", "green"), "warning": ("!", "yellow"), "error": ("✗", "red")}


def size_text(rec: Record, *, by: str = "x", unknown: str = "-") -> str:
    """``640x480``, with ``→ 320x240`` when the API will shrink it; ``unknown`` when unread."""
    if rec.width is None or rec.height is None:
        return unknown
    text = f"{rec.width}{by}{rec.height}"
    if rec.api_width is not None and (rec.api_width, rec.api_height) != (rec.width, rec.height):
        text += f" → {rec.api_width}{by}{rec.api_height}"
    return text


class InspectSink(Protocol):
    """Where ``inspect`` results go: one call per input, then the summary."""

    def add(
        self, rec: Record, item: object = None, data: bytes | None = None, line: str | None = None
    ) -> None: ...

    def finish(self, summary: InspectSummary) -> None: ...


@dataclass
class InspectReport:
    """Streams ``inspect`` results in the chosen format; ``finish`` writes the summary.

    Markdown keeps only the rows with findings until the end: totals come first.
    """

    fmt: Format
    quiet: bool = False
    stream: TextIO = None  # type: ignore[assignment]  # sys.stdout at construction time

    def __post_init__(self) -> None:
        self.stream = self.stream or sys.stdout
        self._writer: RecordWriter | None = None
        if self.fmt in (Format.json, Format.jsonl, Format.csv):
            self._writer = RecordWriter(
                self.fmt,
                key="images",
                columns=INSPECT_CSV_COLUMNS,
                flatten=with_codes,
                stream=self.stream,
            )
        self._color = self.fmt is Format.table and is_tty(self.stream)
        self._problems: list[Record] = []
        self._annotations: Counter[str] = Counter()  # -f github: written, by severity

    def add(
        self, rec: Record, item: object = None, data: bytes | None = None, line: str | None = None
    ) -> None:
        """``line``: the record's JSON line, when it was made already (``inspecting.json_line``)."""
        if self.quiet and not rec.findings:
            return
        if self.fmt is Format.markdown:
            if rec.findings:
                self._problems.append(rec)
        elif self._writer is not None and line is not None:
            self._writer.add_line(line)
        elif self._writer is not None:
            self._writer.add(rec.as_dict())
        elif self.fmt is Format.github:
            for f in rec.findings:
                self._annotations[f.severity.value] += 1
                self.stream.write(
                    gh_annotation(f.severity.value, f.message, file=rec.path, title=f.code.value)
                    + "\n"
                )
        else:
            self._table_row(rec)

    def _table_row(self, rec: Record) -> None:
        mark, colour = _MARKS[rec.status]
        tokens = f"{rec.tokens:,} tokens" if rec.tokens is not None else ""
        fmt = rec.format or ""
        cells = [f"{mark} {rec.status:<7}", visible(rec.path), size_text(rec), fmt, tokens]
        lines = [(cells, colour)]
        for f in rec.findings:
            lines.append(([f"    {f.severity.value}", visible(f"{f.code.value}: {f.message}")], ""))
        if self._color:
            self._print_rich(lines)
        else:
            for line_cells, _ in lines:
                self.stream.write("  ".join(c for c in line_cells if c) + "\n")
            self.stream.flush()

    def _print_rich(self, lines: list[tuple[list[str], str]]) -> None:
        from rich.text import Text  # lazy: start-up, piped output never needs rich

        out = console(self.stream)
        for i, (cells, colour) in enumerate(lines):
            text = Text()
            if i == 0:
                text.append(cells[0], style=f"bold {colour}")
                text.append("  " + cells[1], style="bold")
                text.append("  " + "  ".join(c for c in cells[2:] if c), style="")
            else:
                style = "red" if "error" in cells[0] else "yellow"
                text.append(cells[0], style=style)
                text.append("  " + cells[1], style="dim")
            out.print(text)

    def finish(self, summary: InspectSummary) -> None:
        if self._writer is not None:
            self._writer.close(summary.as_dict())
            return
        if self.fmt is Format.markdown:
            self.stream.write(inspect_markdown(summary, self._problems))
            self.stream.flush()
            return
        if self.fmt is Format.github:
            for f in summary.request_findings:
                self._annotations[f.severity.value] += 1
                self.stream.write(
                    gh_annotation(f.severity.value, f.message, title=f.code.value) + "\n"
                )
            overflow = gh_overflow(self._annotations)
            if overflow is not None:
                self.stream.write(overflow + "\n")
            self.stream.flush()
            return
        for f in summary.request_findings:
            self.stream.write(visible(f"✗ request  {f.code.value}: {f.message}") + "\n")
        s = summary
        line = (
            f"{n_images(s.count)}: {s.ok:,} ok, {s.warning:,} warning, {s.error:,} error; "
            f"{s.tokens:,} tokens"
        )
        if s.count:
            self.stream.write("\n")
        self.stream.write(line + "\n")
        self.stream.flush()


def inspect_markdown(summary: InspectSummary, problems: Sequence[Record]) -> str:
    """Totals first, then only the images with findings: fit for a pull-request comment.

    Findings are code spans, as names are: a finding can quote a file's first words (``it
    begins "..."``), which in plain Markdown would be a live link, image or @mention."""
    s = summary
    icon = "❌" if s.error or s.request_findings else ("⚠️" if s.warning else "✅")
    title = f"vision-cli inspect: {n_images(s.count)}, {s.error:,} error, {s.warning:,} warning"
    # figures as the table's summary line writes them (1,234), not as Python prints an int
    out = [
        f"### {icon} {title}\n\n",
        md_table(
            ["images", "ok", "warning", "error", "tokens"],
            [[f"{n:,}" for n in (s.count, s.ok, s.warning, s.error, s.tokens)]],
        ),
    ]
    if s.request_findings:
        out.append(
            "\n" + "".join(f"- **{f.code.value}**: {f.message}\n" for f in s.request_findings)
        )
    if problems:
        rows = [
            [
                f"{_MARKS[r.status][0]} {r.status}",
                md_code(r.path),
                size_text(r),
                f"{r.tokens:,}" if r.tokens is not None else "",
                md_code("; ".join(f"{f.code.value}: {f.message}" for f in r.findings)),
            ]
            for r in problems
        ]
        rows.sort(key=lambda row: not str(row[0]).endswith("error"))
        out.append("\n" + md_table(["status", "image", "size", "tokens", "findings"], rows))
    return "".join(out)
