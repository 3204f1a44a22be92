"""The options of ``ask --each`` and ``ask --batch`` (one request per image, answers appended to
a JSONL file), and the rules of how they combine with each other and with the rest of ``ask``.
``locate`` takes ``--jobs`` and ``--rerun`` from here too."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from vision_cli.cli import common
from vision_cli.formats import Source

MANY_PANEL = "Many images (one request each)"

EachOpt = Annotated[
    bool,
    typer.Option(
        "--each",
        help="One request per image, --jobs at a time; each answer is appended to --output as "
        "a JSON line. Run again to resume: images answered for the same model and prompt are "
        "skipped, failed ones retried.",
        rich_help_panel=MANY_PANEL,
    ),
]
BatchOpt = Annotated[
    bool,
    typer.Option(
        "--batch",
        help="One request per image through the Message Batches API (half price, answers "
        "within 24 hours), written to --output like --each. Batch ids are kept in "
        "FILE.batches.json: run again to collect, nothing is submitted twice.",
        rich_help_panel=MANY_PANEL,
    ),
]
ResultsOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="The JSONL results file of --each and --batch (appended to, never rewritten). "
        "--each also takes - (standard output, without resuming).",
        metavar="FILE",
        rich_help_panel=MANY_PANEL,
    ),
]
JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        help="--each: requests at once (fewer while the API throttles). --batch: images "
        "prepared at once. Default: 4.",
        min=1,
        max=256,
        show_default=False,
        rich_help_panel=MANY_PANEL,
    ),
]
RerunOpt = Annotated[
    bool,
    typer.Option(
        "--rerun",
        help="Ask again about every image, even those already answered in --output.",
        rich_help_panel=MANY_PANEL,
    ),
]

NoWaitOpt = Annotated[
    bool,
    typer.Option(
        "--no-wait",
        help="--batch: submit, collect what has ended, and exit without waiting; the same "
        "command collects the rest later.",
        rich_help_panel=MANY_PANEL,
    ),
]


#: The parameters of ``ask`` that ``compare`` does not take (compare sends one request).
MANY_PARAMETERS = ("each", "batch", "output", "jobs", "rerun", "no_wait")


@dataclass(frozen=True)
class ManyOptions:
    """``--each`` and ``--batch``: one request per image, answers appended to ``--output``."""

    each: bool = False
    batch: bool = False
    output: Path | None = None
    jobs: int | None = None
    rerun: bool = False
    no_wait: bool = False

    @property
    def active(self) -> bool:
        return self.each or self.batch

    def check(self, *, json: bool, conversation: Path | None, source: Source) -> None:
        """How these options combine with each other and with the rest (a usage error if not)."""
        if self.each and self.batch:
            common.usage_error(
                "--each sends the requests itself and --batch hands them to the Message Batches "
                "API: pick one",
                "--batch",
            )
        if not self.active:
            given = {
                "--output": self.output is not None,
                "--jobs": self.jobs is not None,
                "--rerun": self.rerun,
                "--no-wait": self.no_wait,
            }
            for name, is_given in given.items():
                if is_given:
                    common.usage_error(f"{name} goes with --each or --batch", name)
            return
        if self.no_wait and not self.batch:
            common.usage_error(
                "--no-wait goes with --batch (--each waits for its answers)", "--no-wait"
            )
        if self.output is None:
            hint = " (or --output - for standard output, without resuming)" if self.each else ""
            common.usage_error(
                "--each and --batch write one JSON line per image: give the file with --output "
                f"results.jsonl{hint}",
                "--output",
            )
        stdout = str(self.output) == "-"
        if stdout and self.batch:
            common.usage_error(
                "--batch keeps its batch ids beside the results file: give --output a file name",
                "--output",
            )
        if stdout and json:
            common.usage_error(
                "--json prints the summary on standard output, where --output - writes the "
                "results: give --output a file name",
                "--json",
            )
        if conversation is not None:
            common.usage_error(
                "--conversation continues one conversation, and --each and --batch ask about "
                "each image on its own: drop one of them",
                "--conversation",
            )
        if self.batch and source is Source.file:
            common.usage_error(
                "--batch sends images inline (base64) or as URLs; --source file works with --each",
                "--source",
            )
