"""``vision-cli results``: summarise or export a results file of ``ask --each``, ``ask --batch``
or ``locate``. Thin: the file is read by :mod:`vision_cli.bulk`, summed up by
:mod:`vision_cli.results`, and written by :mod:`vision_cli.render.tables`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vision_cli import catalog
from vision_cli.cli import common, options
from vision_cli.cli.commands import SUMMARY
from vision_cli.exitcodes import ExitStatus
from vision_cli.formats import ResultsFormat

if TYPE_CHECKING:
    from vision_cli.results import ResultsReport

HELP = (
    SUMMARY["results"] + "\n\n"
    "Without --format: a summary of the images in it (answered, failed by error type, lines "
    "skipped because a later line is about the same image, images pending in batches not "
    "collected yet), tokens, cost per model, and the slowest and most expensive images. With "
    "--format: one row per image (its last answer, else its last failure); the fields of "
    "structured answers (--schema) become columns, nested ones joined with dots. --failed "
    "lists the images that failed, ready for --files-from -.\n\n"
    "Exit status: 0 read; 2 the file cannot be read or holds no results."
)

EPILOG = """Examples:

  vision-cli results receipts.jsonl

  vision-cli results receipts.jsonl --format csv > receipts.csv

  vision-cli results receipts.jsonl --failed -0 | xargs -0 ls -l
"""


def results(
    file: Annotated[
        Path,
        typer.Argument(
            help="A JSONL results file (--output of ask --each, ask --batch or locate).",
            metavar="FILE",
            show_default=False,
        ),
    ],
    fmt: Annotated[
        ResultsFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="Export one row per image instead of the summary (json: the rows and the "
            "summary).",
            case_sensitive=False,
            show_default=False,
            rich_help_panel=options.OUTPUT_PANEL,
        ),
    ] = None,
    json_flag: options.JsonOpt = False,
    failed: Annotated[
        bool,
        typer.Option(
            "--failed",
            help="Print only the paths of the images that failed, one a line.",
            rich_help_panel=options.OUTPUT_PANEL,
        ),
    ] = False,
    null: Annotated[
        bool,
        typer.Option(
            "-0",
            "--null",
            help="--failed: end each path with NUL instead of a newline (for --files-from - -0).",
            rich_help_panel=options.OUTPUT_PANEL,
        ),
    ] = False,
) -> None:
    # lazy: start-up, --help imports none of these
    from vision_cli import render
    from vision_cli import results as core
    from vision_cli.bulk.records import OutputError, read_records
    from vision_cli.render import tables

    if null and not failed:
        common.usage_error("-0 goes with --failed", "-0")
    if failed and (fmt is not None or json_flag):
        common.usage_error("--failed prints paths: drop --format", "--failed")
    try:
        records, ignored = read_records(file)
    except OutputError as exc:
        render.error(str(exc))
        raise typer.Exit(ExitStatus.USAGE) from None
    pending = _pending(file)
    if not records and not pending:
        what = f"its {ignored:,} lines are not vision-cli results" if ignored else "it is empty"
        render.error(f"{file} holds no results ({what}): give the --output of a run")
        raise typer.Exit(ExitStatus.USAGE)
    report = core.summarise(records, ignored)
    report.pending = pending
    if failed:
        _write_paths(core.failed_paths(report), b"\0" if null else b"\n")
        return
    chosen = ResultsFormat.json if json_flag else fmt
    date = catalog.load().date
    if chosen is None:
        _summary(file, report, date)
        return
    header, rows = report.export_rows()
    if chosen is ResultsFormat.json:
        typer.echo(render.dumps({"images": rows, "summary": report.summary(date)}))
        return
    tables.write_rows(
        chosen.value, header, rows, right=("input_tokens", "output_tokens", "cost_usd")
    )


def _write_paths(paths: list[str], end: bytes) -> None:
    """Paths as the bytes of their names (a name that is not UTF-8 comes out as it is on disk,
    so --files-from reads back the same file)."""
    import os

    data = b"".join(os.fsencode(path) + end for path in paths)
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (an embedding program): the names as text
        sys.stdout.write(data.decode("utf-8", "surrogateescape"))
    else:
        sys.stdout.flush()
        try:
            buffer.write(data)
            buffer.flush()
        except OSError as exc:  # a closed pipe ends the run with 141, as every other output
            common.StdoutGuard._failed(exc)


def _pending(file: Path) -> int:
    """Images waiting in batches not collected yet (``FILE.batches.json``); 0 without one."""
    # lazy: start-up, --help imports none of these
    from vision_cli import render
    from vision_cli.bulk.records import OutputError
    from vision_cli.bulk.state import BatchState, state_path

    try:
        state = BatchState.load(state_path(file), file)
    except OutputError as exc:
        render.warn(f"{exc}: pending batches are not counted")
        return 0
    return sum(len(batch["requests"]) for batch in state.uncollected())


def _summary(file: Path, report: ResultsReport, prices_date: str) -> None:
    # lazy: start-up, --help imports none of these
    from vision_cli import render
    from vision_cli.cli.many import n_images

    s = report.summary(prices_date)
    failed = ", ".join(f"{n:,} {kind}" for kind, n in report.failed_by_type.items())
    lines = [
        f"{file}: {n_images(s['images'])}, {s['answered']:,} answered, {s['failed']:,} failed"
        + (f" ({failed})" if failed else ""),
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
        f"cost: {render.money(report.cost_usd)} ("
        + ", ".join(
            f"{model}: {render.money(m['cost_usd'])} for {n_images(m['images'])}"
            for model, m in report.models.items()
        )
        + f"; prices of {prices_date})",
    ]
    if report.slowest():
        lines.append(
            "slowest: "
            + ", ".join(f"{r.path} ({r.record['seconds']:.1f} s)" for r in report.slowest())
        )
    if report.most_expensive():
        lines.append(
            "most expensive: "
            + ", ".join(
                f"{r.path} ({render.money(float(r.record['cost_usd']))})"
                for r in report.most_expensive()
            )
        )
    typer.echo("\n".join(lines))
