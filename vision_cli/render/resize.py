"""``resize``'s output: a line per file (rich on a terminal), JSON, JSONL, CSV and Markdown."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from vision_cli import units
from vision_cli.formats import Format
from vision_cli.render.output import RecordWriter, console, wants_colour, with_codes
from vision_cli.render.text import md_code, md_table, money, plural, visible
from vision_cli.resizing.summary import Outcome, ResizeTotals

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
    "codes",
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
        f"{units.format_bytes(o.bytes_before or 0)} → {units.format_bytes(o.bytes_after or 0)}",
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
                self.fmt,
                key="images",
                columns=RESIZE_CSV_COLUMNS,
                flatten=with_codes,
                stream=self.stream,
            )
        self._color = wants_colour(self.out)
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
            from rich.text import Text  # lazy: start-up, piped output never needs rich

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
        counts = ", ".join(f"{n:,} {action}" for action, n in t.shown_counts().items())
        tail = " (dry run: nothing written)" if t.dry_run else ""
        tail += " (interrupted)" if interrupted else ""
        saved = t.tokens_before - t.tokens_after
        lines = [f"{plural(t.files, 'file')}: {counts}{tail}"]
        if t.outputs or not t.files:
            lines.append(
                _over(t)
                + f"{_bytes(t)} ({_change(t.bytes_before - t.bytes_after, units.format_bytes)}); "
                f"{t.tokens_before:,} → {t.tokens_after:,} tokens "
                f"({_change(saved, '{:,}'.format)}: {_saved_money(t, more=saved < 0)})"
            )
        else:
            lines.append(f"no bytes or tokens to total: {_NONE_DONE}")
        if t.files:
            self.out.write("\n")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()


_NONE_DONE = "no file resized, converted or copied"


def _over(t: ResizeTotals) -> str:
    """What the byte and token totals cover when it is not every file: a failed file (its size
    unknown, or nothing written for it) and a skipped one add nothing, and a total that looked
    like it covered them would understate what the run had to do."""
    if t.outputs == t.files:
        return ""
    return f"{t.outputs:,} of {plural(t.files, 'file')}: "


def _bytes(t: ResizeTotals) -> str:
    return f"{units.format_bytes(t.bytes_before)} → {units.format_bytes(t.bytes_after)}"


def _change(saved: int, shown: Callable[[int], str]) -> str:
    """What was saved, or how much more the outputs hold (a PNG made from a JPEG, tiles that cost
    more tokens than the image whole), never a negative saving."""
    return f"{shown(-saved)} more" if saved < 0 else f"{shown(saved)} saved"


def _saved_money(t: ResizeTotals, *, short: bool = False, more: bool = False) -> str:
    """The dollars saved per 1,000 sends; with ``more``, what the outputs cost more (tiles of
    an image can cost more tokens than the image whole), said as a positive amount."""
    usd = t.usd_saved_per_1000
    if usd is None or t.price is None:
        return "no price known" if short else f"no price known for {t.model}"
    if short:
        return money(usd)
    amount = f"{money(-usd)} more" if more else money(usd)
    return f"{amount} per 1,000 sends to {t.model} at ${t.price:g}/MTok"


def resize_markdown(
    t: ResizeTotals, failed: Sequence[Outcome], *, interrupted: bool = False
) -> str:
    """Totals first, then the files that failed."""
    icon = "❌" if t.failed else "✅"
    state = " (dry run)" if t.dry_run else ""
    state += " (interrupted)" if interrupted else ""
    out = [
        f"### {icon} vision-cli resize: {plural(t.files, 'file')}, {t.failed:,} failed{state}\n\n",
        md_table(
            [*t.shown_counts(), "bytes", "tokens", f"saved per 1,000 sends ({t.model})"],
            [
                [
                    *(f"{n:,}" for n in t.shown_counts().values()),
                    *(
                        [
                            _over(t) + _bytes(t),
                            f"{t.tokens_before:,} → {t.tokens_after:,}",
                            _saved_money(t, short=True),
                        ]
                        if t.outputs or not t.files
                        else [_NONE_DONE, "", ""]
                    ),
                ]
            ],
        ),
    ]
    if failed:
        rows = [[md_code(o.input), md_code(o.error or "")] for o in failed]
        out.append("\n" + md_table(["failed", "why"], rows))
    return "".join(out)
