"""Everything a person or a program reads: tables, JSON, JSONL, CSV, GitHub annotations, progress.

The only module that imports rich, and only inside the functions that draw for a terminal: piped
output is plain text written straight to the stream, which keeps one-liners and CI fast.
Results go to stdout; progress, warnings and errors go to stderr.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol, TextIO

from vision_cli import names, policy
from vision_cli.formats import Format

if TYPE_CHECKING:
    import csv

    from rich.console import Console
    from rich.progress import Progress, TaskID

    from vision_cli.asking import Answer, Estimate, Image
    from vision_cli.bulk.summary import Tick
    from vision_cli.estimating import EstimatePlan, EstimateRow, EstimateTotals
    from vision_cli.inspecting import InspectSummary, Record
    from vision_cli.resizing import Outcome, ResizeTotals


# --------------------------------------------------------------------------------------------------
# Text from outside (file names, messages, answers) made safe to show
# --------------------------------------------------------------------------------------------------

#: Characters never shown raw to a person: C0 controls, DEL, C1 controls (ESC starts terminal
#: escape sequences, a line break lets a name forge a line of its own, such as a GitHub
#: workflow command), and the bidirectional overrides that reorder what is shown.
_INVISIBLE: Final = (
    *range(0x20),
    0x7F,
    *range(0x80, 0xA0),
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
)
_NAMED_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(code: int) -> str:
    char = chr(code)
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a file name that is not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


_VISIBLE: Final = {code: _escape(code) for code in [*_INVISIBLE, *range(0xD800, 0xE000)]}
#: In an answer, line breaks and tabs are the text's own.
_VISIBLE_ANSWER: Final = {
    code: text for code, text in _VISIBLE.items() if chr(code) not in "\n\t" and code < 0x2000
}


def visible(text: object, *, keep: str = "") -> str:
    """``text`` with every control character, bidirectional override and lone surrogate shown as
    an escape (``\\x1b``, ``\\n``, ``\\u202e``; a byte of a non-UTF-8 file name as ``\\xff``):
    what every human-readable output shows of text that came from outside. ``keep``: characters
    left as they are (the caller escapes them its own way)."""
    table = {code: esc for code, esc in _VISIBLE.items() if chr(code) not in keep}
    return str(text).translate(table if keep else _VISIBLE)


def visible_answer(text: str) -> str:
    """An answer shown on a terminal: escape sequences shown, not obeyed; lines kept."""
    return text.translate(_VISIBLE_ANSWER)


#: The first characters of a CSV cell that a spreadsheet reads as a formula.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV cell that no spreadsheet runs: text starting like a formula gets a leading ``'``
    (OWASP's guard); numbers, and text that is only a number, are left as they are."""
    if not isinstance(value, str):
        return value
    value = names.escape(value)
    if not value.startswith(_FORMULA_START):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def console(stream: TextIO | None = None) -> Console:
    """A rich console on ``stream`` (colour only on a terminal; NO_COLOR respected by rich)."""
    from rich.console import Console

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
    if is_tty(stream) and not os.environ.get("NO_COLOR"):
        from rich.text import Text

        text = Text(prefix, style=style) if prefix else Text()
        text.append(message, style="" if prefix else style)
        console(stream).print(text)
    else:
        stream.write(f"{prefix}{message}\n")
        stream.flush()


# --------------------------------------------------------------------------------------------------
# Machine-readable records, shared by every command
# --------------------------------------------------------------------------------------------------


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
            import csv  # only CSV output pays for it

            # A file-name column gets its ``_bytes`` column at the end (vision_cli.names).
            names_bytes = [c + names.BYTES_SUFFIX for c in columns if c in names.NAME_FIELDS]
            self._csv = csv.DictWriter(
                self.stream,
                fieldnames=[*columns, *names_bytes],
                extrasaction="ignore",
                lineterminator="\n",
            )
            self._csv.writeheader()

    def add(self, record: dict[str, Any]) -> None:
        if self.fmt is Format.jsonl:
            self.stream.write(names.dumps(record) + "\n")
            self.stream.flush()
        elif self._csv is not None:
            row = names.with_bytes(self.flatten(record))
            self._csv.writerow({k: csv_cell(v) for k, v in row.items()})
        else:
            self.rows.append(record)

    def close(self, summary: dict[str, Any] | None = None) -> None:
        if self.fmt is Format.json:
            doc: dict[str, Any] = {self.key: self.rows}
            if summary is not None:
                doc["summary"] = summary
            self.stream.write(names.dumps(doc, indent=2))
            self.stream.write("\n")
        self.stream.flush()


def dumps(doc: Any) -> str:
    return names.dumps(doc, indent=2)


# --------------------------------------------------------------------------------------------------
# GitHub Actions workflow commands
# --------------------------------------------------------------------------------------------------


def gh_escape_data(text: str) -> str:
    """Escape a workflow command's message, as GitHub's toolkit does."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def gh_escape_property(text: str) -> str:
    """Escape a workflow command's property value (``file=``, ``title=``)."""
    return gh_escape_data(text).replace(":", "%3A").replace(",", "%2C")


def gh_annotation(severity: str, message: str, *, file: str | None = None, title: str = "") -> str:
    props = []
    if file is not None:
        props.append(f"file={gh_escape_property(visible(file))}")
    if title:
        props.append(f"title={gh_escape_property(visible(title))}")
    prop_text = (" " + ",".join(props)) if props else ""
    lines = visible(message, keep="\r\n")  # GitHub shows %0A as a line break in the message
    return f"::{severity}{prop_text}::{gh_escape_data(lines)}"


# --------------------------------------------------------------------------------------------------
# inspect
# --------------------------------------------------------------------------------------------------

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


def _csv_inspect_row(rec: dict[str, Any]) -> dict[str, Any]:
    row = dict(rec)
    row["codes"] = ";".join(f["code"] for f in rec["findings"])
    return row


def _size_text(rec: Record) -> str:
    if rec.width is None or rec.height is None:
        return "-"
    text = f"{rec.width}x{rec.height}"
    if rec.api_width is not None and (rec.api_width, rec.api_height) != (rec.width, rec.height):
        text += f" → {rec.api_width}x{rec.api_height}"
    return text


class InspectSink(Protocol):
    """Where ``inspect`` results go: one call per input, then the summary."""

    def add(self, rec: Record, item: object = None, data: bytes | None = None) -> None: ...

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
                flatten=_csv_inspect_row,
                stream=self.stream,
            )
        self._color = self.fmt is Format.table and is_tty(self.stream)
        self._problems: list[Record] = []

    def add(self, rec: Record, item: object = None, data: bytes | None = None) -> None:
        if self.quiet and not rec.findings:
            return
        if self.fmt is Format.markdown:
            if rec.findings:
                self._problems.append(rec)
        elif self._writer is not None:
            self._writer.add(rec.as_dict())
        elif self.fmt is Format.github:
            for f in rec.findings:
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
        cells = [f"{mark} {rec.status:<7}", visible(rec.path), _size_text(rec), fmt, tokens]
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
        from rich.text import Text

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
                self.stream.write(
                    gh_annotation(f.severity.value, f.message, title=f.code.value) + "\n"
                )
            self.stream.flush()
            return
        for f in summary.request_findings:
            self.stream.write(visible(f"✗ request  {f.code.value}: {f.message}") + "\n")
        s = summary
        noun = "image" if s.count == 1 else "images"
        line = (
            f"{s.count} {noun}: {s.ok} ok, {s.warning} warning, {s.error} error; "
            f"{s.tokens:,} tokens"
        )
        if s.count:
            self.stream.write("\n")
        self.stream.write(line + "\n")
        self.stream.flush()


def md_cell(text: object) -> str:
    """A Markdown table cell: control characters shown as escapes, pipes escaped."""
    return visible(text).replace("\\", "\\\\").replace("|", "\\|")


def md_code(text: object) -> str:
    """``text`` as a Markdown code span that no backtick in it can end (CommonMark: a fence
    longer than any run of backticks inside, padded with spaces when it touches one)."""
    shown = visible(text)
    longest = run = 0
    for char in shown:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def inspect_markdown(summary: InspectSummary, problems: Sequence[Record]) -> str:
    """Totals first, then only the images with findings: fit for a pull-request comment."""
    s = summary
    icon = "❌" if s.error or s.request_findings else ("⚠️" if s.warning else "✅")
    title = f"vision-cli inspect: {s.count} images, {s.error} error, {s.warning} warning"
    out = [
        f"### {icon} {title}\n\n",
        md_table(
            ["images", "ok", "warning", "error", "tokens"],
            [[s.count, s.ok, s.warning, s.error, f"{s.tokens:,}"]],
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
                _size_text(r),
                r.tokens if r.tokens is not None else "",
                "; ".join(f"{f.code.value}: {f.message}" for f in r.findings),
            ]
            for r in problems
        ]
        rows.sort(key=lambda row: not str(row[0]).endswith("error"))
        out.append("\n" + md_table(["status", "image", "size", "tokens", "findings"], rows))
    return "".join(out)


@contextmanager
def progress(total: int | None, label: str, *, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A transient progress bar on stderr; yields ``advance(n)``. Does nothing when disabled."""
    if not enabled:
        yield lambda n: None
        return
    with _bar(label, total, detail=False) as (bar, task):
        yield lambda n: bar.advance(task, n)


@contextmanager
def _bar(label: str, total: int | None, *, detail: bool) -> Iterator[tuple[Progress, TaskID]]:
    """rich's transient bar on stderr: label, bar, done of all, [a ``detail`` field], time left."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    columns: list[ProgressColumn] = [TextColumn(label), BarColumn(), MofNCompleteColumn()]
    if detail:
        columns.append(TextColumn("{task.fields[detail]}"))
    columns.append(TimeRemainingColumn())
    with Progress(*columns, console=console(sys.stderr), transient=True) as bar:
        yield bar, bar.add_task(label, total=total, detail="")


def money(amount: float) -> str:
    return policy.format_usd(amount)


# --------------------------------------------------------------------------------------------------
# resize
# --------------------------------------------------------------------------------------------------

RESIZE_CSV_COLUMNS = (
    "input",
    "output",
    "action",
    "format_before",
    "format_after",
    "width_before",
    "height_before",
    "width_after",
    "height_after",
    "bytes_before",
    "bytes_after",
    "tokens_before",
    "tokens_after",
    "quality",
    "error",
    "tiles",
    "trim",
)

_ACTION_MARKS = {
    "resized": ("✓", "green"),
    "converted": ("✓", "green"),
    "copied": ("=", "dim"),
    "skipped": ("-", "dim"),
    "tiled": ("✓", "green"),
    "failed": ("✗", "red"),
}


def _resize_cells(o: Outcome) -> list[str]:
    if o.action == "failed":
        codes = "".join(f" [{f.code.value}]" for f in o.findings[:1])
        return [visible(o.input), visible(o.error or "") + codes]
    if o.action == "skipped":
        return [f"{visible(o.input)} → {visible(o.output or '')}", "up to date"]
    size = f"{o.width_before}x{o.height_before}"
    if o.trim is not None:
        left, top, right, bottom = o.trim
        size += f" → trimmed to {right - left}x{bottom - top}"
    if o.tiles is not None:
        size += f" → {o.tiles} tiles of at most {o.width_after}x{o.height_after}"
    elif (o.width_after, o.height_after) != (o.width_before, o.height_before):
        size += f" → {o.width_after}x{o.height_after}"
    fmt = o.format_before or ""
    if o.format_after != o.format_before:
        fmt += f" → {o.format_after}"
    return [
        visible(f"{o.input} → {o.output}"),
        size,
        fmt,
        f"{policy.format_bytes(o.bytes_before or 0)} → {policy.format_bytes(o.bytes_after or 0)}",
        f"{o.tokens_before or 0:,} → {o.tokens_after or 0:,} tokens",
    ]


@dataclass
class ResizeReport:
    """Streams ``resize`` outcomes in the chosen format; ``finish`` writes the summary.

    Without a ``stream`` a table goes to whatever ``sys.stdout`` is at each write: while a progress
    bar is shown on a terminal, rich redirects it so that the rows appear above the bar.
    """

    fmt: Format
    stream: TextIO | None = None

    def __post_init__(self) -> None:
        self._writer: RecordWriter | None = None
        if self.fmt in (Format.json, Format.jsonl, Format.csv):
            self._writer = RecordWriter(
                self.fmt, key="images", columns=RESIZE_CSV_COLUMNS, stream=self.stream
            )
        self._color = is_tty(self.out) and not os.environ.get("NO_COLOR")
        self._failed: list[Outcome] = []

    @property
    def out(self) -> TextIO:
        return self.stream or sys.stdout

    def add(self, outcome: Outcome) -> None:
        if self._writer is not None:
            self._writer.add(outcome.as_dict())
            return
        if self.fmt is Format.markdown:
            if outcome.action == "failed":
                self._failed.append(outcome)
            return
        mark, colour = _ACTION_MARKS[outcome.action]
        head = f"{mark} {outcome.action:<9}"
        cells = _resize_cells(outcome)
        if self._color:
            from rich.text import Text

            text = Text(head, style=f"bold {colour}")
            text.append("  " + "  ".join(cells), style="red" if outcome.action == "failed" else "")
            console(self.out).print(text)
        else:
            self.out.write(head + "  " + "  ".join(cells) + "\n")
            self.out.flush()
        if outcome.action != "failed":
            for finding in outcome.findings:  # the output's warnings travel with it
                self.out.write(f"  ! {finding.code.value}: {finding.message}\n")
            self.out.flush()

    def finish(self, totals: ResizeTotals, *, interrupted: bool = False) -> None:
        if self._writer is not None:
            self._writer.close({**totals.as_dict(), "interrupted": interrupted})
            return
        if self.fmt is Format.markdown:
            self.out.write(resize_markdown(totals, self._failed, interrupted=interrupted))
            self.out.flush()
            return
        t = totals
        noun = "file" if t.files == 1 else "files"
        counts = ", ".join(f"{n} {action}" for action, n in t.shown_counts().items())
        tail = " (dry run: nothing written)" if t.dry_run else ""
        tail += " (interrupted)" if interrupted else ""
        saved = t.tokens_before - t.tokens_after
        lines = [
            f"{t.files} {noun}: {counts}{tail}",
            f"{policy.format_bytes(t.bytes_before)} → {policy.format_bytes(t.bytes_after)} "
            f"({policy.format_bytes(max(0, t.bytes_before - t.bytes_after))} saved); "
            f"{t.tokens_before:,} → {t.tokens_after:,} tokens ({saved:,} saved: "
            + _saved_money(t)
            + ")",
        ]
        if t.files:
            self.out.write("\n")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()


def _saved_money(t: ResizeTotals, *, short: bool = False) -> str:
    usd = t.usd_saved_per_1000
    if usd is None or t.price is None:
        return "no price known" if short else f"no price known for {t.model}"
    if short:
        return money(usd)
    return f"{money(usd)} per 1,000 sends to {t.model} at ${t.price:g}/MTok"


def resize_markdown(
    t: ResizeTotals, failed: Sequence[Outcome], *, interrupted: bool = False
) -> str:
    """Totals first, then the files that failed."""
    icon = "❌" if t.failed else "✅"
    state = " (dry run)" if t.dry_run else ""
    state += " (interrupted)" if interrupted else ""
    out = [
        f"### {icon} vision-cli resize: {_plural(t.files, 'file')}, {t.failed} failed{state}\n\n",
        md_table(
            [*t.shown_counts(), "bytes", "tokens", f"saved per 1,000 sends ({t.model})"],
            [
                [
                    *t.shown_counts().values(),
                    f"{policy.format_bytes(t.bytes_before)} → {policy.format_bytes(t.bytes_after)}",
                    f"{t.tokens_before:,} → {t.tokens_after:,}",
                    _saved_money(t, short=True),
                ]
            ],
        ),
    ]
    if failed:
        rows = [[md_code(o.input), o.error or ""] for o in failed]
        out.append("\n" + md_table(["failed", "why"], rows))
    return "".join(out)


# --------------------------------------------------------------------------------------------------
# estimate
# --------------------------------------------------------------------------------------------------


def estimate_csv_columns(plan: EstimatePlan) -> list[str]:
    """``path, status, codes, width, height, api_width, api_height, tokens[, exact_tokens]``, then
    ``cost_<model>`` (USD per image) for each model."""
    cols = ["path", "status", "codes", "width", "height", "api_width", "api_height", "tokens"]
    if plan.exact:
        cols.append("exact_tokens")
    if plan.tile is not None:
        cols += ["tiles", "whole_tokens"]
    return cols + [f"cost_{name}" for name in plan.names]


def _estimate_csv_row(row: EstimateRow, plan: EstimatePlan) -> dict[str, Any]:
    doc = row.as_dict(plan)
    out = {k: v for k, v in doc.items() if k != "costs"}
    out["status"] = row.status
    out["codes"] = ";".join(f.code.value for f in row.findings)
    for name, usd in doc["costs"].items():
        out[f"cost_{name}"] = usd
    return out


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def estimate_footer(plan: EstimatePlan, totals: EstimateTotals) -> list[str]:
    """The lines under the table: where the prices come from, the rule, batch or not."""
    lines = [f"Prices: USD per million tokens, table of {plan.prices_date} ({plan.prices_source})."]
    for m in plan.models:
        if m.overridden:
            out = f", ${m.output_price:g} output" if m.output_price is not None else ""
            extra = "" if m.known else f", not in the table: {m.tier.name} tier assumed"
            lines.append(f"  {m.name}: your --price, ${m.input_price:g} input{out}{extra}.")
        step = m.long_context
        if step is not None:
            lines.append(
                f"  {m.name}: a request over {step.over_input_tokens:,} input tokens is priced "
                f"whole at ${step.input_price:g} input, ${step.output_price:g} output."
            )
    if plan.rule == "legacy":
        rule = (
            "legacy (the older w*h/750 tokens of Anthropic's earlier guide, downscaled above "
            "1568 px or about 1,600 tokens)"
        )
    else:
        rule = "current (one token per 28x28 px patch, after the model's tier downscale)"
    batch = "yes, Message Batches (50% off)" if plan.batch else "no"
    lines.append(f"Rule: {rule}. Batch prices: {batch}.")
    output = f" plus {plan.output_tokens:,} output tokens" if plan.output_tokens else " (no output)"
    lines.append(
        f"Each image priced as one request{output}; per {plan.per:,}: that cost x {plan.per:,} "
        "(total row: the average image)."
    )
    if plan.tile is not None:
        lines.append(
            f"Tiled (--tile): {totals.tokens:,} tokens; whole: {totals.whole_tokens:,} tokens "
            "(each tile within the model's native size, priced as one image)."
        )
    if plan.snap_max is None and plan.rule == "current" and totals.snap_tokens < totals.tokens:
        saved = totals.tokens - totals.snap_tokens
        lines.append(f"With --snap: {totals.snap_tokens:,} tokens ({saved:,} fewer).")
    if plan.exact:
        skipped = (
            f"; {_plural(totals.exact_skipped, 'row')} not counted (errors or --size)"
            if totals.exact_skipped
            else ""
        )
        lines.append(
            f"Exact: the token-counting endpoint for {plan.models[0].name}, a request holding only "
            f"the image; diff = exact - estimate{skipped}."
        )
    return lines


@dataclass(frozen=True)
class _Grid:
    headers: list[str]
    right: list[bool]  # right-aligned columns
    rows: list[list[str]]
    errors: list[bool]  # per row: marked as an error
    total: list[str]


def _estimate_grid(
    plan: EstimatePlan, rows: Sequence[EstimateRow], totals: EstimateTotals, *, costs: bool = True
) -> _Grid:
    """A row per image; ``costs`` False leaves out the two columns per model (see
    :func:`_model_grid`)."""
    from vision_cli.estimating import exact_difference

    # One API-size and tokens column per resize tier in play (the first model whose tier it is).
    groups: list[tuple[str, int]] = []
    for tier_ in plan.tiers():
        index = next(i for i, m in enumerate(plan.models) if m.tier == tier_)
        groups.append((tier_.name, index))
    several = len(groups) > 1
    headers = ["image", "size"]
    for name, _ in groups:
        headers += [f"API size ({name})", f"tokens ({name})"] if several else ["API size", "tokens"]
    if plan.tile is not None:
        headers += ["tiles", "whole"]
    if plan.exact:
        headers += ["exact", "diff"]
    per = f"per {plan.per:,}"
    priced = plan.models if costs else ()
    for m in priced:
        headers += [m.name, per]
    right = [False, False] + [False, True] * len(groups)
    right += [True] * (len(headers) - len(right))

    body: list[list[str]] = []
    errors: list[bool] = []
    group_tokens = [0] * len(groups)
    exact_estimate = 0
    for row in rows:
        cells = [("✗ " if row.errors else "") + visible(row.path)]
        cells.append(f"{row.width}x{row.height}" if row.width and row.height else "-")
        for g, (_, index) in enumerate(groups):
            if row.costs:
                c = row.costs[index]
                group_tokens[g] += c.tokens
                cells += [f"{c.api_width}x{c.api_height}", f"{c.tokens:,}"]
            else:
                cells += ["rejected" if g == 0 else "-", "-"]
        if plan.tile is not None:
            ref = row.reference
            if ref is not None and ref.tiles is not None and ref.whole_tokens is not None:
                cells += [f"{ref.tiles:,}", f"{ref.whole_tokens:,}"]
            else:
                cells += ["-", "-"]
        if plan.exact:
            diff = exact_difference(row)
            if diff is not None and row.exact_tokens is not None:
                exact_estimate += row.exact_tokens - diff
                cells += [f"{row.exact_tokens:,}", f"{diff:+,}"]
            else:
                cells += ["-", "-"]
        for c in row.costs[: len(priced)]:
            cells += [money(c.usd), money(plan.per_n(c.usd))]
        if not row.costs:
            cells += ["-", "-"] * len(priced)
        body.append(cells)
        errors.append(bool(row.errors))

    label = f"total ({_plural(totals.count, 'image')}"
    label += f", {totals.errors:,} rejected)" if totals.errors else ")"
    total = [label, ""]
    for g in range(len(groups)):
        total += ["", f"{group_tokens[g]:,}"]
    if plan.tile is not None:
        total += ["", f"{totals.whole_tokens:,}"]
    if plan.exact:
        if totals.exact_tokens is None:
            total += ["-", "-"]
        else:
            total += [f"{totals.exact_tokens:,}", f"{totals.exact_tokens - exact_estimate:+,}"]
    for usd, usd_per in list(zip(totals.costs, totals.costs_per(plan), strict=True))[: len(priced)]:
        total += [money(usd), money(usd_per)]
    return _Grid(headers, right, body, errors, total)


def _model_grid(plan: EstimatePlan, rows: Sequence[EstimateRow], totals: EstimateTotals) -> _Grid:
    """A row per model: its tier, prices, the images' tokens for it, their cost and the cost
    per N images (the layout of several models when a column per model does not fit)."""
    headers = ["model", "tier", "$/MTok in", "$/MTok out", "tokens", "cost", f"per {plan.per:,}"]
    body: list[list[str]] = []
    costs_per = totals.costs_per(plan)
    for i, m in enumerate(plan.models):
        tokens = sum(row.costs[i].tokens for row in rows if row.costs)
        out = f"{m.output_price:g}" if m.output_price is not None else "-"
        cost, per = money(totals.costs[i]), money(costs_per[i])
        body.append([m.name, m.tier.name, f"{m.input_price:g}", out, f"{tokens:,}", cost, per])
    cheapest = min(range(len(plan.models)), key=lambda i: totals.costs[i])
    total = [f"cheapest: {plan.models[cheapest].name}", "", "", "", "", "", ""]
    right = [False, False, True, True, True, True, True]
    return _Grid(headers, right, body, [False] * len(body), total)


#: Columns a table may take when standard output is not a terminal and $COLUMNS is not set.
PIPED_WIDTH = 120


def _grid_width(grid: _Grid) -> int:
    table = [grid.headers, *grid.rows, grid.total]
    widths = [max(display_width(r[i]) for r in table) for i in range(len(grid.headers))]
    return sum(widths) + 2 * (len(widths) - 1)


def available_width(stream: TextIO) -> int:
    """The columns a table has: the terminal's, else $COLUMNS, else :data:`PIPED_WIDTH`."""
    if is_tty(stream):
        return console(stream).width
    try:
        return int(os.environ.get("COLUMNS", ""))
    except ValueError:
        return PIPED_WIDTH


def _estimate_notes(rows: Sequence[EstimateRow]) -> list[str]:
    return [
        visible(f"✗ {row.path}: {f.code.value}: {f.message}") for row in rows for f in row.errors
    ]


def display_width(text: str) -> int:
    """The columns ``text`` takes in a terminal: 2 for a wide character (CJK, most emoji), 0 for
    a combining mark or a zero-width one, 1 otherwise (what ``len`` gets wrong)."""
    import unicodedata

    if text.isascii():
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def pad(text: str, width: int, *, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` display columns (see :func:`display_width`)."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def _write_plain_grid(stream: TextIO, grid: _Grid) -> None:
    _write_aligned(stream, [grid.headers, *grid.rows, grid.total], grid.right)


def _write_aligned(stream: TextIO, table: list[list[str]], right: list[bool]) -> None:
    widths = [max(display_width(r[i]) for r in table) for i in range(len(right))]
    for cells in table:
        parts = [pad(c, w, right=r) for c, w, r in zip(cells, widths, right, strict=True)]
        stream.write("  ".join(parts).rstrip() + "\n")


def files_table(headers: list[str], rows: list[list[str]], *, stream: TextIO | None = None) -> None:
    """``files list``: aligned text (bytes right-aligned)."""
    _write_aligned(stream or sys.stdout, [headers, *rows], [h == "bytes" for h in headers])


def _print_rich_grid(stream: TextIO, grid: _Grid, footer: list[str], notes: list[str]) -> None:
    from rich import box
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header, right in zip(grid.headers, grid.right, strict=True):
        table.add_column(Text(header), justify="right" if right else "left", no_wrap=True)
    for i, (cells, error) in enumerate(zip(grid.rows, grid.errors, strict=True)):
        table.add_row(
            *(Text(c) for c in cells),
            style="red" if error else None,
            end_section=i == len(grid.rows) - 1,
        )
    table.add_row(*(Text(c) for c in grid.total), style="bold")
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
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for header in headers:
            table.add_column(Text(header), justify="right" if header in right else "left")
        for cells in rows:
            table.add_row(*(Text(c) for c in cells))
        out = console(stream)
        out.print(table)
        for line in footer:
            out.print(Text(line, style="dim"))
        return
    table_rows = [list(headers), *(list(r) for r in rows)]
    widths = [max(len(r[i]) for r in table_rows) for i in range(len(headers))]
    for cells in table_rows:
        parts = [
            c.rjust(w) if h in right else c.ljust(w)
            for c, w, h in zip(cells, widths, headers, strict=True)
        ]
        stream.write("  ".join(parts).rstrip() + "\n")
    if footer:
        stream.write("\n" + "\n".join(footer) + "\n")
    stream.flush()


@dataclass
class EstimateReport:
    """Writes ``estimate`` results: JSONL and CSV row by row, JSON and the table at the end."""

    fmt: Format
    plan: EstimatePlan
    stream: TextIO = None  # type: ignore[assignment]  # sys.stdout at construction time

    def __post_init__(self) -> None:
        self.stream = self.stream or sys.stdout
        self._rows: list[EstimateRow] = []
        self._writer: RecordWriter | None = None

    def _records(self) -> RecordWriter:
        # made at the first row, so a usage error found while listing inputs prints nothing
        if self._writer is None:
            self._writer = RecordWriter(
                self.fmt,
                key="images",
                columns=estimate_csv_columns(self.plan),
                stream=self.stream,
            )
        return self._writer

    def add(self, row: EstimateRow) -> None:
        if self.fmt is Format.table or (self.fmt is Format.markdown and row.errors):
            self._rows.append(row)
        elif self.fmt is Format.markdown:
            return
        elif self.fmt is Format.csv:
            self._records().add(_estimate_csv_row(row, self.plan))
        else:
            self._records().add(row.as_dict(self.plan))

    def finish(self, totals: EstimateTotals) -> None:
        if self.fmt is Format.markdown:
            self.stream.write(estimate_markdown(self.plan, totals, self._rows))
            self.stream.flush()
            return
        if self.fmt is not Format.table:
            self._records().close(totals.as_dict(self.plan))
            return
        grids = [_estimate_grid(self.plan, self._rows, totals)]
        if len(self.plan.models) > 1 and _grid_width(grids[0]) > available_width(self.stream):
            # a column per model does not fit: the images' sizes, then a row per model
            grids = [
                _estimate_grid(self.plan, self._rows, totals, costs=False),
                _model_grid(self.plan, self._rows, totals),
            ]
        footer = estimate_footer(self.plan, totals)
        notes = _estimate_notes(self._rows)
        for i, grid in enumerate(grids):
            last = i == len(grids) - 1
            if i:
                self.stream.write("\n")
            if is_tty(self.stream):
                _print_rich_grid(self.stream, grid, footer if last else [], notes if last else [])
                continue
            _write_plain_grid(self.stream, grid)
            if last:
                self.stream.write("\n" + "\n".join(footer) + "\n")
                if notes:
                    self.stream.write("\n" + "\n".join(notes) + "\n")
        self.stream.flush()


def estimate_markdown(
    plan: EstimatePlan, totals: EstimateTotals, rejected: Sequence[EstimateRow]
) -> str:
    """Totals per model first, then the images the API would reject."""
    icon = "❌" if totals.errors else "✅"
    head = f"vision-cli estimate: {_plural(totals.count, 'image')}"
    head += f", {totals.errors:,} rejected" if totals.errors else ""
    per = f"per {plan.per:,} images"
    rows = [
        [m.name, money(usd), money(usd_per)]
        for m, usd, usd_per in zip(plan.models, totals.costs, totals.costs_per(plan), strict=True)
    ]
    out = [
        f"### {icon} {head}\n\n",
        md_table(["model", "total", per], rows),
        "\n" + "  \n".join(estimate_footer(plan, totals)) + "\n",
    ]
    if rejected:
        cells = [
            [md_code(r.path), "; ".join(f"{f.code.value}: {f.message}" for f in r.errors)]
            for r in rejected
        ]
        out.append("\n" + md_table(["rejected", "why"], cells))
    return "".join(out)


# --------------------------------------------------------------------------------------------------
# ask and compare
# --------------------------------------------------------------------------------------------------


def _per_mtok(price: float) -> str:
    return f"${price:g}"


def _ask_table(stream: TextIO, rows: list[tuple[str, str, str, str]]) -> None:
    """Rows of (label, tokens, cost, note): a rich table on a terminal, aligned text otherwise."""
    if is_tty(stream) and not os.environ.get("NO_COLOR"):
        from rich.table import Table

        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        table.add_column("")
        table.add_column("tokens", justify="right")
        table.add_column("cost", justify="right")
        table.add_column("", style="dim")
        for row in rows:
            table.add_row(*row)
        console(stream).print(table)
        return
    lines = [("", "tokens", "cost", ""), *rows]
    widths = [max(len(r[i]) for r in lines) for i in range(3)]
    for label, tokens, cost, note in lines:
        text = f"{label:<{widths[0]}}  {tokens:>{widths[1]}}  {cost:>{widths[2]}}  {note}"
        stream.write(text.rstrip() + "\n")
    stream.flush()


def _image_share(tokens: int, uncounted: int, word: str) -> str:
    text = f"images {word}{tokens:,}"
    if uncounted:
        text += f"; {uncounted} not counted (the API fetches or stores them)"
    return text


def ask_usage(answer: Answer, *, stream: TextIO | None = None) -> None:
    """The usage table after an answer: tokens, the image share (estimated) and the cost."""
    out = stream or sys.stderr
    r = answer.reply
    input_cost = policy.cost_usd(r.input_tokens, answer.input_price)
    output_cost = policy.cost_usd(r.output_tokens, answer.output_price)
    share = _image_share(answer.image_tokens, answer.uncounted_images, "≈ ")
    _ask_table(
        out,
        [
            ("input", f"{r.input_tokens:,}", money(input_cost), f"{share} (estimated)"),
            ("output", f"{r.output_tokens:,}", money(output_cost), ""),
            (
                "total",
                f"{r.input_tokens + r.output_tokens:,}",
                money(answer.cost_usd),
                f"{answer.model_name} at {_per_mtok(answer.input_price)} in, "
                f"{_per_mtok(answer.output_price)} out per million tokens{answer.price_note} "
                f"(prices of {answer.prices_date})",
            ),
        ],
    )


def ask_estimate(est: Estimate, *, stream: TextIO | None = None) -> None:
    """The estimate of a dry run: input tokens (images exact, text rough), the most output."""
    out = stream or sys.stderr
    out.write(f"Estimate for {est.model} (prices of {est.prices_date}):\n")
    share = _image_share(est.image_tokens, est.uncounted_images, "")
    _ask_table(
        out,
        [
            (
                "input",
                f"≈ {est.input_tokens:,}",
                f"≈ {money(est.input_cost_usd)}",
                f"{share}, text ≈ {est.text_tokens:,}",
            ),
            (
                "output",
                f"≤ {est.max_output_tokens:,}",
                f"≤ {money(est.max_output_cost_usd)}",
                "at most --max-tokens",
            ),
            ("total", "", f"≤ {money(est.max_cost_usd)}", ""),
        ],
    )
    if est.whole_image_tokens is not None:
        out.write(
            f"Tiled: {_plural(est.image_blocks, 'image block')}, images ≈ {est.image_tokens:,} "
            f"tokens; sent whole they would be ≈ {est.whole_image_tokens:,}.\n"
        )


def ask_image_line(image: Image) -> str:
    """What preflight did to one image, for a note on stderr."""
    if image.kind == "url" and image.data is None:
        return f"{image.label}: sent as a URL (the API fetches it)"
    if image.data is None:
        return f"{image.label}: downloaded when sent"
    size = f"{image.width}x{image.height}"
    before = f"{image.source_width}x{image.source_height}"
    what = image.action
    if image.action == "resized":
        what = f"resized from {before}"
    elif image.action == "converted":
        what = f"converted from {image.source_format}"
        if before != size:
            what += f" {before}"
    elif image.action in ("copied", "as-is"):
        what = "sent as is"
    tokens = f", {image.tokens:,} tokens" if image.tokens is not None else ""
    how = " (uploaded as a file)" if image.kind == "file" else ""
    return (
        f"{image.label}: {size} {image.media_type}, "
        f"{policy.format_bytes(image.size or 0)}{tokens}, {what}{how}"
    )


# --------------------------------------------------------------------------------------------------
# ask --each and ask --batch
# --------------------------------------------------------------------------------------------------


@contextmanager
def bulk_progress(label: str, *, enabled: bool) -> Iterator[Callable[[Tick], None]]:
    """A transient bar on stderr: requests done of all, failures, tokens and cost so far, and
    the time left. Yields ``update(tick)``; does nothing when disabled (not a terminal)."""
    if not enabled:
        yield lambda tick: None
        return
    with _bar(label, None, detail=True) as (bar, task):

        def update(tick: Tick) -> None:
            so_far = f"{tick.failed:,} failed, {tick.tokens:,} tokens, {money(tick.cost_usd)}"
            bar.update(task, completed=tick.done, total=tick.total or None, detail=so_far)

        yield update
