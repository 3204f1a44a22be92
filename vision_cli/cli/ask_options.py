"""The options of ``ask`` and ``compare`` (one declaration for both, in :mod:`vision_cli.cli.ask`)
and of ``--each``/``--batch``, as typer ``Annotated`` aliases; ``locate`` takes some of them too.
The objects they are built into are in :mod:`vision_cli.cli.ask_groups`, imported when the command
runs: ``--help`` reads these declarations and nothing more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vision_cli.cli import common, options
from vision_cli.formats import ResizePolicy, Source

SEND_PANEL = "Request"
IMAGES_PANEL = "Images"
MANY_PANEL = "Many images (one request each)"


PromptOpt = Annotated[
    str | None,
    typer.Option(
        "--prompt",
        "-p",
        help='The question. Default: "Describe this image." (one image), "Describe these '
        'images." (several); compare: "How are these images different?". - reads it from '
        "standard input.",
        show_default=False,
        rich_help_panel=SEND_PANEL,
    ),
]
PromptFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--prompt-file",
        help="Read the prompt from FILE.",
        metavar="FILE",
        rich_help_panel=SEND_PANEL,
    ),
]
SystemOpt = Annotated[
    str | None,
    typer.Option(
        "--system",
        help="System prompt (sent in the top-level system field).",
        rich_help_panel=SEND_PANEL,
    ),
]
MaxTokensOpt = Annotated[
    int,
    typer.Option(
        "--max-tokens", help="Most tokens in the answer.", min=1, rich_help_panel=SEND_PANEL
    ),
]
#: Why ``--temperature`` is refused: the API stopped taking it.
TEMPERATURE_REMOVED = (
    "the Claude API no longer takes a sampling temperature (API version 2026-10-21, which the "
    "anthropic SDK sends, removed temperature, top_p and top_k): leave --temperature out"
)


def _refuse_temperature(value: str | None) -> None:
    """``--temperature``'s callback: any value is a usage error, before anything is read or
    sent (the real API would refuse every request that carried it)."""
    if value is not None:
        raise typer.BadParameter(TEMPERATURE_REMOVED)


#: Kept, out of ``--help``, so that a script that still passes it learns why it fails instead of
#: reading "No such option".
TemperatureOpt = Annotated[
    str | None,
    typer.Option("--temperature", callback=_refuse_temperature, hidden=True),
]
MaxRetriesOpt = Annotated[
    int | None,
    typer.Option(
        "--max-retries",
        help="Retries of 429, 529, 5xx and dropped connections (retry-after is honoured). "
        "Default: 2; 8 with --each and --batch.",
        min=0,
        show_default=False,
        rich_help_panel=SEND_PANEL,
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        callback=common.finite,
        help="Seconds to wait for the API (default: the SDK's, 10 minutes).",
        min=0.001,
        metavar="SECONDS",
        rich_help_panel=SEND_PANEL,
    ),
]
PolicyOpt = Annotated[
    ResizePolicy,
    typer.Option(
        "--policy",
        help="native: the largest size the model sees without shrinking it; recommended: the "
        "guide's 1568 px / 1.15 MP for a faster first token.",
        case_sensitive=False,
        rich_help_panel=IMAGES_PANEL,
    ),
]
NoResizeOpt = Annotated[
    bool,
    typer.Option(
        "--no-resize",
        help="Send the bytes as they are (still checked; what does not pass stops the command).",
        rich_help_panel=IMAGES_PANEL,
    ),
]
VerifyOpt = Annotated[
    bool,
    typer.Option(
        "--verify/--no-verify",
        help="Decode every image before it is sent, so that nothing damaged is paid for "
        "(the same check as inspect --verify).",
        rich_help_panel=IMAGES_PANEL,
    ),
]
SourceOpt = Annotated[
    Source,
    typer.Option(
        "--source",
        help="auto: files and stdin as base64, URLs as url sources; base64; url (URLs only); "
        "file: upload once through the Files API and send the file id.",
        case_sensitive=False,
        rich_help_panel=IMAGES_PANEL,
    ),
]
DownloadOpt = Annotated[
    bool,
    typer.Option(
        "--download",
        help="Download URL images, check and fix them, and send them as base64.",
        rich_help_panel=IMAGES_PANEL,
    ),
]
#: The grammar of ``--schema`` (:func:`vision_cli.schema.load`), as ``--help`` says it; kept
#: here so that ``--help`` does not import the schema module.
SCHEMA_GRAMMAR = (
    "FILE.json (a JSON Schema), inline JSON, or fields separated by commas: "
    "'total: number, date: string, vendor' (a field without a type is a string; types: "
    "string, number, integer, boolean, or TYPE[] for a list; a.b nests). Every field is "
    "required."
)
SchemaOpt = Annotated[
    str | None,
    typer.Option(
        "--schema",
        help="Ask for a JSON object of this shape (the API's structured output), printed on "
        "stdout; --each/--batch lines get it as data. SCHEMA: "
        + SCHEMA_GRAMMAR
        + " An answer that does not match is an error (schema_mismatch).",
        metavar="SCHEMA",
        rich_help_panel=SEND_PANEL,
    ),
]
NoCacheOpt = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        help="--source file: upload again even if the same bytes were uploaded before.",
        rich_help_panel=IMAGES_PANEL,
    ),
]
ExpiresOpt = Annotated[
    str,
    typer.Option(
        "--expires",
        help="How long an upload (--source file) lasts on the API before it is deleted "
        "(1h to 90d, e.g. 12h, 7d).",
        metavar="DURATION",
        rich_help_panel=IMAGES_PANEL,
    ),
]
DEFAULT_EXPIRES = "7d"
AskJsonOpt = Annotated[
    bool,
    typer.Option(
        "--json",
        help="No streaming: print one JSON object (id, model, text, stop_reason, usage, "
        "cost_usd, images).",
        rich_help_panel=options.OUTPUT_PANEL,
    ),
]
AskQuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="Print only the answer: no notes, no usage table.",
        rich_help_panel=options.OUTPUT_PANEL,
    ),
]
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Print the exact request body (base64 shortened) and the estimate; send nothing. "
        "Needs no API key and no network.",
        rich_help_panel=options.OUTPUT_PANEL,
    ),
]
ConversationOpt = Annotated[
    Path | None,
    typer.Option(
        "--conversation",
        help="Continue the conversation saved in FILE (created if missing): earlier turns are "
        "sent again, and this turn and the answer are saved back.",
        metavar="FILE",
        rich_help_panel=SEND_PANEL,
    ),
]
AskPriceOpt = Annotated[
    str | None,
    typer.Option(
        "--price",
        help="Your price in USD per million tokens, input and optionally output, as in "
        "estimate: 3/15 or MODEL=3/15. Needed for a model whose price is not known (one the "
        "Models API listed after the table was made).",
        metavar="[MODEL=]INPUT[/OUTPUT]",
        show_default=False,
        rich_help_panel=SEND_PANEL,
    ),
]
AllowDownsizeOpt = Annotated[
    bool,
    typer.Option(
        "--allow-downsize",
        help="Let the API shrink an image it finds too large, silently (its default). Without "
        'it, images are sent with transformations: {"oversized_image": "error"}, so the model '
        "sees exactly the pixels sent; if the API still finds one too large, it is shrunk to "
        "the size the API names and sent again, once.",
        rich_help_panel=IMAGES_PANEL,
    ),
]

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
        max=options.MAX_JOBS,
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
