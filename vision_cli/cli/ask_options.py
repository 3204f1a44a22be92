"""The options of ``ask`` and ``compare`` (one declaration for both) and of ``--each``/``--batch``.

Each group is a frozen dataclass built by the command from its parameters: what the request says
(:class:`PromptOptions`), how images are fitted and sent (:class:`ImageOptions`), how the API is
called (:class:`SendOptions`), what is printed (:class:`ShowOptions`); the many-image run's
are in :mod:`vision_cli.cli.many_options`. Declaring them imports
nothing heavy: ``--help`` stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from vision_cli import limits, policy
from vision_cli.cli import common, options
from vision_cli.cli.many_options import ManyOptions
from vision_cli.formats import ResizePolicy, Source

#: ``--max-retries`` when not given: 2 for one request (fail fast), more for a long run.
DEFAULT_MAX_RETRIES = 2

SEND_PANEL = "Request"
IMAGES_PANEL = "Images"


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
TemperatureOpt = Annotated[
    float | None,
    typer.Option(
        "--temperature",
        callback=common.finite,
        help="Sampling temperature, 0 to 1 (the API's default when not given).",
        min=0.0,
        max=1.0,
        rich_help_panel=SEND_PANEL,
    ),
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


@dataclass(frozen=True)
class PromptOptions:
    """What the request says: the question, the system prompt, the answer's shape and length,
    and the conversation it continues."""

    prompt: str | None
    prompt_file: Path | None
    system: str | None
    max_tokens: int
    temperature: float | None
    schema: str | None
    conversation: Path | None


@dataclass(frozen=True)
class ImageOptions:
    """How each image is fitted and sent (and the token savers, as typed)."""

    policy: ResizePolicy
    no_resize: bool
    verify: bool
    source: Source
    download: bool
    expires: str
    max_bytes: str
    allow_downsize: bool
    savers: options.SaverOptions

    def expiry_seconds(self) -> int:
        """``--expires`` in seconds, within what the Files API accepts (a usage error otherwise)."""
        try:
            seconds = policy.parse_duration(self.expires)
        except ValueError as exc:
            common.usage_error(str(exc), "--expires")
        low, high = limits.FILE_MIN_EXPIRY_SECONDS, limits.FILE_MAX_EXPIRY_SECONDS
        if not low <= seconds <= high:
            common.usage_error(
                f"{self.expires} is {seconds:,} seconds, and the Files API keeps an upload from "
                f"{low:,} (1h) to {high:,} seconds (90d)",
                "--expires",
            )
        return seconds


@dataclass(frozen=True)
class SendOptions:
    """How the API is called: retries, timeout, and whether the upload cache is used."""

    max_retries: int
    timeout: float | None
    no_cache: bool


def send_options(
    max_retries: int | None, timeout: float | None, no_cache: bool, *, many: bool
) -> SendOptions:
    """``--max-retries`` when not given: 2 for one request (fail fast), more for a long run."""
    if max_retries is None:
        if many:
            from vision_cli import bulk  # lazy: start-up, only --each and --batch need it

            max_retries = bulk.BULK_MAX_RETRIES
        else:
            max_retries = DEFAULT_MAX_RETRIES
    return SendOptions(max_retries, timeout, no_cache)


@dataclass(frozen=True)
class ShowOptions:
    """What is printed: --json (no streaming), --quiet, --dry-run."""

    json: bool
    quiet: bool
    dry_run: bool


@dataclass(frozen=True)
class AskOptions:
    """The command line of ``ask`` or ``compare``, as typed (before anything is resolved)."""

    compare: bool
    inputs: options.InputOptions
    model: str | None
    price: str | None
    prompt: PromptOptions
    images: ImageOptions
    send: SendOptions
    show: ShowOptions
    many: ManyOptions

    def check(self) -> None:
        self.many.check(
            json=self.show.json, conversation=self.prompt.conversation, source=self.images.source
        )

    @property
    def streams(self) -> bool:
        """The answer streams to stdout, unless it is printed whole: --json, or --schema (whose
        object is checked before it is printed)."""
        return not (self.show.json or self.prompt.schema is not None)
