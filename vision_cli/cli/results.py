"""``vision-cli results``: summarise or export a results file of ``ask --each``, ``ask --batch``
or ``locate``. Thin: the file is read by :mod:`vision_cli.bulk`, summed up by
:mod:`vision_cli.results`, and written by :mod:`vision_cli.render.tables`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vision_cli import catalog
from vision_cli.cli import common, options
from vision_cli.cli.commands import SUMMARY
from vision_cli.exitcodes import ExitStatus
from vision_cli.formats import ResultsFormat

if TYPE_CHECKING:
    from vision_cli.bulk.records import ImageKey

HELP = (
    SUMMARY["results"] + "\n\n"
    "Without --format: a summary of the images in it (answered, failed by error type, lines "
    "skipped because a later line is about the same image, images pending in batches not "
    "collected yet), tokens, cost per model, and the slowest and most expensive images. With "
    "--format: one row per image, model and prompt (its last answer, else its last failure); "
    "the fields of "
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
            help="Export one row per image, model and prompt instead of the summary (json: the "
            "rows and the summary).",
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
    from vision_cli import results as core
    from vision_cli.bulk.records import OutputError, read_records
    from vision_cli.render.results import write_paths, write_results, write_summary

    if null and not failed:
        common.usage_error("-0 goes with --failed", "-0")
    if failed and (fmt is not None or json_flag):
        common.usage_error("--failed prints paths: drop --format", "--failed")
    common.one_format(fmt, json_flag)
    try:
        records, ignored = read_records(file)
    except OutputError as exc:
        common.error(str(exc))
        raise typer.Exit(ExitStatus.USAGE) from None
    pending, waiting = _pending(file)
    if not records and not pending:
        what = (
            "it is empty"
            if not ignored
            else "its line is not a vision-cli result"
            if ignored == 1
            else f"its {ignored:,} lines are not vision-cli results"
        )
        common.error(f"{file} holds no results ({what}): give the --output of a run")
        raise typer.Exit(ExitStatus.USAGE)
    report = core.summarise(records, ignored, waiting)
    report.pending = pending
    out = common.env().stdout
    if failed:
        write_paths(out, core.failed_paths(report), b"\0" if null else b"\n")
        return
    chosen = ResultsFormat.json if json_flag else fmt
    date = catalog.load().date
    if chosen is None:
        write_summary(out, file, report, date)
    else:
        write_results(out, chosen, report, date)


def _pending(file: Path) -> tuple[int, set[ImageKey]]:
    """Images waiting in batches not collected yet (``FILE.batches.json``; 0 without one), and
    which: an image submitted again after a failure is pending, not failed."""
    # lazy: start-up, --help imports none of these
    from vision_cli.bulk.records import OutputError
    from vision_cli.bulk.state import BatchState, state_path

    path = state_path(file)
    try:
        state = BatchState.load(path, file)
    except OutputError:  # its message is resuming's advice, wrong for reading
        common.warn(
            f"{path} is not a batch state file vision-cli can read: pending batches are not counted"
        )
        return 0, set()
    return sum(len(batch["requests"]) for batch in state.uncollected()), state.pending()
