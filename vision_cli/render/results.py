"""``vision-cli results``'s output: the summary of a results file, its rows (JSON, JSONL, CSV,
Markdown, a table) and ``--failed``'s list of paths."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from vision_cli.formats import ResultsFormat
from vision_cli.render.output import dumps
from vision_cli.render.tables import write_rows
from vision_cli.render.text import money, n_images, visible
from vision_cli.results import ResultsReport


def write_results(out: TextIO, fmt: ResultsFormat, report: ResultsReport, prices_date: str) -> None:
    """Every image's row in ``fmt``, JSON with the summary."""
    header, rows = report.export_rows()
    if fmt is ResultsFormat.json:
        out.write(dumps({"images": rows, "summary": report.summary(prices_date)}) + "\n")
        out.flush()
        return
    write_rows(
        fmt.value, header, rows, right=("input_tokens", "output_tokens", "cost_usd"), stream=out
    )


def write_paths(out: TextIO, paths: list[str], end: bytes) -> None:
    """Paths as the bytes of their names (a name that is not UTF-8 comes out as it is on disk,
    so --files-from reads back the same file)."""
    data = b"".join(os.fsencode(path) + end for path in paths)
    buffer = getattr(out, "buffer", None)
    if buffer is None:  # a text-only stream (an embedding program, a test): the names as text
        out.write(data.decode("utf-8", "surrogateescape"))
        out.flush()
    else:
        out.flush()
        buffer.write(data)
        buffer.flush()


def write_summary(out: TextIO, file: Path, report: ResultsReport, prices_date: str) -> None:
    """The summary of a results file, as lines for a person: what came from the file (names,
    models, error types) shown with control characters escaped, as in every table."""
    s = report.summary(prices_date)
    failed = ", ".join(f"{n:,} {visible(kind)}" for kind, n in report.failed_by_type.items())
    per_model = ", ".join(
        f"{visible(model)}: {money(m['cost_usd'])} for {n_images(m['images'])}"
        for model, m in report.models.items()
    )
    # no model with only pending images: the cost line then gives just the prices' date
    prices = f"{per_model}; prices of {prices_date}" if per_model else f"prices of {prices_date}"
    lines = [
        f"{visible(file)}: {n_images(s['images'])}, {s['answered']:,} answered, "
        f"{s['failed']:,} failed" + (f" ({failed})" if failed else ""),
        f"lines: {s['skipped']:,} skipped (earlier attempts of an image with a later line)"
        + (f", {s['ignored']:,} not results" if s["ignored"] else ""),
        f"tokens: {s['input_tokens']:,} input, {s['output_tokens']:,} output",
        *(
            [
                f"pending: {n_images(report.pending)} in batches not collected yet (run the same "
                "ask --batch command to collect them)"
            ]
            if report.pending
            else []
        ),
        f"cost: {money(report.cost_usd)} ({prices})",
    ]
    if report.slowest():
        lines.append(
            "slowest: "
            + ", ".join(
                f"{visible(r.path)} ({r.record['seconds']:.1f} s)" for r in report.slowest()
            )
        )
    if report.most_expensive():
        lines.append(
            "most expensive: "
            + ", ".join(
                f"{visible(r.path)} ({money(float(r.record['cost_usd']))})"
                for r in report.most_expensive()
            )
        )
    out.write("\n".join(lines) + "\n")
    out.flush()
