"""``vision-cli ask`` and ``vision-cli compare``: images to Claude, the way the guide recommends.

Thin: options are parsed here, the work is done by :mod:`vision_cli.asking` (preflight, request,
cost) and :mod:`vision_cli.client` (the SDK), and the output by :mod:`vision_cli.render`. Nothing
heavy is imported until the command runs; the SDK only when something is really sent.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from vision_cli.cli import common
from vision_cli.exitcodes import ExitStatus

if TYPE_CHECKING:
    import anthropic

    from vision_cli.asking import (
        answering,
        building,
        fitting,
        preparing,
        running,
    )
    from vision_cli.client import filesapi
    from vision_cli.sources import Selection

EXIT_LINE = (
    "Exit status: 0 answered; 1 preflight failed and nothing was sent; 2 usage error (a missing "
    "ANTHROPIC_API_KEY too); 3 API or network error; 130 interrupted."
)

ASK_HELP = (
    "Ask Claude about images: checked, fixed and priced before they are sent.\n\n"
    "Each image is read, turned upright, shrunk to the model's native size, converted to a "
    "format the API takes and fitted under the byte limit, in memory. The request is built as "
    'the guide recommends: images first, "Image N:" before each when there are several, then '
    "the prompt. The answer streams to stdout; a usage table (tokens, the images' share, cost) "
    "follows on stderr.\n\n"
    "With --each or --batch, every image is asked about on its own and the answers go to a "
    "JSONL file (--output), one line per image; running the same command again resumes.\n\n"
    "Needs ANTHROPIC_API_KEY (ANTHROPIC_BASE_URL is honoured), except with --dry-run.\n\n"
    + EXIT_LINE
    + " With --each and --batch: 1 some images failed (their lines say why) and the others were "
    "answered; 3 the API stopped the whole run."
)

ASK_EPILOG = """Examples:

  vision-cli ask photo.jpg

  vision-cli ask chart.png -p "What is the trend?" --model claude-opus-4-7

  vision-cli ask scan.png --dry-run | jq .messages

  vision-cli ask a.png b.png -p "How are these different?" --conversation chat.json

  vision-cli ask c.png d.png -p "Are these like the first two?" --conversation chat.json

  cat question.txt | vision-cli ask shot.png -p - --json | jq -r .text

  vision-cli ask photos/ --each -j 8 -p "Caption this photo." -o captions.jsonl

  vision-cli ask scans/ --batch -p "Transcribe the text." -o scans.jsonl --no-wait
"""

COMPARE_HELP = (
    "Ask Claude how two or more images differ.\n\n"
    'The same as ask with at least two images, each introduced by "Image N:", and the default '
    'prompt "How are these images different?". Every option of ask applies.\n\n' + EXIT_LINE
)

COMPARE_EPILOG = """Examples:

  vision-cli compare before.png after.png

  vision-cli compare v1.png v2.png v3.png -p "Which layout reads best, and why?"
"""

#: ``--max-retries`` when not given: 2 for one request (fail fast), more for a long run.
DEFAULT_MAX_RETRIES = 2
BULK_MAX_RETRIES = 8

SEND_PANEL = "Request"
IMAGES_PANEL = "Images"
MANY_PANEL = "Many images (one request each)"


class PolicyChoice(StrEnum):
    native = "native"
    recommended = "recommended"


class SourceChoice(StrEnum):
    auto = "auto"
    base64 = "base64"
    url = "url"
    file = "file"


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
    PolicyChoice,
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
    SourceChoice,
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
        rich_help_panel=common.OUTPUT_PANEL,
    ),
]
AskQuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="Print only the answer: no notes, no usage table.",
        rich_help_panel=common.OUTPUT_PANEL,
    ),
]
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Print the exact request body (base64 shortened) and the estimate; send nothing. "
        "Needs no API key and no network.",
        rich_help_panel=common.OUTPUT_PANEL,
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
NoWaitOpt = Annotated[
    bool,
    typer.Option(
        "--no-wait",
        help="--batch: submit, collect what has ended, and exit without waiting; the same "
        "command collects the rest later.",
        rich_help_panel=MANY_PANEL,
    ),
]


@dataclass(frozen=True)
class AskOptions:
    """The command line, as typed (before anything is resolved)."""

    inputs: list[str]
    compare: bool
    prompt: str | None
    prompt_file: Path | None
    system: str | None
    model: str | None
    max_tokens: int
    temperature: float | None
    max_retries: int
    timeout: float | None
    policy: PolicyChoice
    no_resize: bool
    verify: bool
    source: SourceChoice
    download: bool
    no_cache: bool
    json: bool
    quiet: bool
    dry_run: bool
    conversation: Path | None
    max_bytes: str
    schema: str | None = None
    price: str | None = None
    allow_downsize: bool = False
    selection: Selection | None = None  # --files-from, -0, --exclude, --hidden, private URLs
    each: bool = False
    batch: bool = False
    output: Path | None = None
    jobs: int | None = None
    rerun: bool = False
    no_wait: bool = False
    expires: str = DEFAULT_EXPIRES
    snap: bool = False
    snap_max: str = common.DEFAULT_SNAP_MAX
    tile: str | None = None
    tile_overlap: int | None = None
    trim: bool = False
    trim_fuzz: str = common.DEFAULT_TRIM_FUZZ


def _options(given: dict[str, Any], *, compare: bool) -> AskOptions:
    """The command's parameters (its ``locals()``) as :class:`Options`; ``ask`` and ``compare``
    differ only in the name of their images and in ``--each``/``--batch``."""
    given = dict(given)
    inputs = given.pop("images" if compare else "inputs") or []
    inputs = common.with_clipboard(inputs, given.pop("clipboard")) or []
    selection = common.selection(
        given.pop("files_from"),
        given.pop("null"),
        given.pop("exclude"),
        given.pop("hidden"),
        given.pop("allow_private_urls"),
    )
    if given["max_retries"] is None:
        many = given.get("each") or given.get("batch")
        given["max_retries"] = BULK_MAX_RETRIES if many else DEFAULT_MAX_RETRIES
    return AskOptions(
        inputs=inputs,
        compare=compare,
        json=given.pop("json_flag"),
        selection=selection,
        **given,
    )


def ask(
    inputs: common.InputsArg = None,
    prompt: PromptOpt = None,
    prompt_file: PromptFileOpt = None,
    system: SystemOpt = None,
    model: common.ModelOpt = None,
    max_tokens: MaxTokensOpt = 1024,
    temperature: TemperatureOpt = None,
    schema: SchemaOpt = None,
    max_retries: MaxRetriesOpt = None,
    timeout: TimeoutOpt = None,
    policy: PolicyOpt = PolicyChoice.native,
    no_resize: NoResizeOpt = False,
    verify: VerifyOpt = True,
    snap: common.SnapOpt = False,
    snap_max: common.SnapMaxOpt = common.DEFAULT_SNAP_MAX,
    tile: common.TileOpt = None,
    tile_overlap: common.TileOverlapOpt = None,
    trim: common.TrimOpt = False,
    trim_fuzz: common.TrimFuzzOpt = common.DEFAULT_TRIM_FUZZ,
    source: SourceOpt = SourceChoice.auto,
    download: DownloadOpt = False,
    no_cache: NoCacheOpt = False,
    expires: ExpiresOpt = DEFAULT_EXPIRES,
    json_flag: AskJsonOpt = False,
    quiet: AskQuietOpt = False,
    dry_run: DryRunOpt = False,
    conversation: ConversationOpt = None,
    max_bytes: common.MaxBytesOpt = common.DEFAULT_MAX_BYTES,
    price: AskPriceOpt = None,
    allow_downsize: AllowDownsizeOpt = False,
    files_from: common.FilesFromOpt = None,
    null: common.NullOpt = False,
    exclude: common.ExcludeOpt = None,
    hidden: common.HiddenOpt = False,
    allow_private_urls: common.AllowPrivateUrlsOpt = False,
    clipboard: common.ClipboardOpt = False,
    each: EachOpt = False,
    batch: BatchOpt = False,
    output: ResultsOpt = None,
    jobs: JobsOpt = None,
    rerun: RerunOpt = False,
    no_wait: NoWaitOpt = False,
) -> None:
    with common.sigterm_interrupts():
        run(_options(locals(), compare=False))


def compare(
    images: Annotated[
        list[str] | None,
        typer.Argument(
            help="Two or more images: files, folders, globs, http(s) URLs, - for standard "
            "input, or clip: for the clipboard.",
            metavar="IMAGE",
            show_default=False,
        ),
    ] = None,
    prompt: PromptOpt = None,
    prompt_file: PromptFileOpt = None,
    system: SystemOpt = None,
    model: common.ModelOpt = None,
    max_tokens: MaxTokensOpt = 1024,
    temperature: TemperatureOpt = None,
    schema: SchemaOpt = None,
    max_retries: MaxRetriesOpt = None,
    timeout: TimeoutOpt = None,
    policy: PolicyOpt = PolicyChoice.native,
    no_resize: NoResizeOpt = False,
    verify: VerifyOpt = True,
    snap: common.SnapOpt = False,
    snap_max: common.SnapMaxOpt = common.DEFAULT_SNAP_MAX,
    tile: common.TileOpt = None,
    tile_overlap: common.TileOverlapOpt = None,
    trim: common.TrimOpt = False,
    trim_fuzz: common.TrimFuzzOpt = common.DEFAULT_TRIM_FUZZ,
    source: SourceOpt = SourceChoice.auto,
    download: DownloadOpt = False,
    no_cache: NoCacheOpt = False,
    expires: ExpiresOpt = DEFAULT_EXPIRES,
    json_flag: AskJsonOpt = False,
    quiet: AskQuietOpt = False,
    dry_run: DryRunOpt = False,
    conversation: ConversationOpt = None,
    max_bytes: common.MaxBytesOpt = common.DEFAULT_MAX_BYTES,
    price: AskPriceOpt = None,
    allow_downsize: AllowDownsizeOpt = False,
    files_from: common.FilesFromOpt = None,
    null: common.NullOpt = False,
    exclude: common.ExcludeOpt = None,
    hidden: common.HiddenOpt = False,
    allow_private_urls: common.AllowPrivateUrlsOpt = False,
    clipboard: common.ClipboardOpt = False,
) -> None:
    with common.sigterm_interrupts():
        run(_options(locals(), compare=True))


# --------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------


def _fail(message: str, status: ExitStatus) -> NoReturn:
    from vision_cli import render
    from vision_cli.client import keys

    render.error(keys.redact(message))
    raise typer.Exit(status)


def _preflight_failed(
    exc: preparing.PreflightError, status: ExitStatus = ExitStatus.FAILED
) -> NoReturn:
    from vision_cli import render
    from vision_cli.client import keys

    for failure in exc.failures:
        render.error(keys.redact(str(failure)))
    raise typer.Exit(status)


def _expires(text: str) -> int:
    """``--expires`` in seconds, within what the Files API accepts (a usage error otherwise)."""
    from vision_cli import limits, units

    try:
        seconds = units.parse_duration(text)
    except ValueError as exc:
        common.usage_error(str(exc), "--expires")
    low, high = limits.FILE_MIN_EXPIRY_SECONDS, limits.FILE_MAX_EXPIRY_SECONDS
    if not low <= seconds <= high:
        common.usage_error(
            f"{text} is {seconds:,} seconds, and the Files API keeps an upload from {low:,} "
            f"(1h) to {high:,} seconds (90d)",
            "--expires",
        )
    return seconds


def _read_prompt(opts: AskOptions) -> str | None:
    from vision_cli import sources

    if opts.prompt is not None and opts.prompt_file is not None:
        common.usage_error("give the prompt with -p/--prompt or --prompt-file, not both")
    if opts.prompt == sources.STDIN:
        listed = opts.selection.files_from if opts.selection else None
        if sources.STDIN in opts.inputs or listed == sources.STDIN:
            common.usage_error(
                "`-p -` and the image `-` (or `--files-from -`) both want standard input: put the "
                "prompt in a file "
                "and use --prompt-file",
                "--prompt",
            )
        text: str | None = sys.stdin.read()
    elif opts.prompt_file is not None:
        try:
            text = opts.prompt_file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            common.usage_error(f"cannot read {opts.prompt_file} ({exc})", "--prompt-file")
    else:
        text = opts.prompt
    if text is not None and not text.strip():
        common.usage_error("the prompt is empty", "--prompt")
    return text.strip() if text is not None else None


def run(opts: AskOptions) -> None:
    from vision_cli import sources
    from vision_cli.asking import (
        building,
        conversations,
        fitting,
        preparing,
    )
    from vision_cli.client import connect, failures, filesapi

    _check_many(opts)
    prompt = _read_prompt(opts)
    history = conversations.Conversation()
    if opts.conversation is not None:
        try:
            history = conversations.load_conversation(opts.conversation)
        except preparing.PreflightError as exc:
            _preflight_failed(exc, ExitStatus.USAGE)  # the file named by an option is unusable
    model_name = opts.model or history.model
    the_model = common.resolve_model(model_name, sending=True, price=opts.price)
    try:
        items = list(sources.iter_inputs(opts.inputs, opts.selection or sources.Selection()))
    except sources.UsageError as exc:
        common.usage_error(str(exc))
    if opts.compare and len(items) < 2:
        common.usage_error(
            f"compare needs at least two images, and {len(items)} given: use ask for one",
            "IMAGE",
        )
    if not items and opts.conversation is None:
        common.usage_error("give at least one image, folder, glob, URL or -", "INPUTS")
    if not items and prompt is None:
        common.usage_error("a turn without images needs a prompt (-p)", "--prompt")
    settings = preparing.Settings(
        model=the_model,
        model_name=common.model_name(model_name),
        max_tokens=opts.max_tokens,
        system=opts.system if opts.system is not None else history.system,
        temperature=opts.temperature,
        resize_policy="recommended" if opts.policy is PolicyChoice.recommended else "native",
        resize=not opts.no_resize,
        source=_SOURCES[opts.source],
        download=opts.download,
        max_bytes=common.max_bytes(opts.max_bytes),
        schema=common.load_schema(opts.schema),
        oversized="downsize" if opts.allow_downsize or opts.no_resize else "error",
        verify=opts.verify,
        expires=_expires(opts.expires),
        snap_max=common.snap_max(opts.snap, opts.snap_max),
        tile=common.tile_spec(opts.tile, opts.tile_overlap),
        trim_fuzz=common.trim_fuzz(opts.trim, opts.trim_fuzz),
    )
    if (settings.tile is not None or opts.trim) and opts.no_resize:
        common.usage_error("--tile and --trim change the image: drop --no-resize", "--no-resize")
    if settings.tile is not None and opts.trim:
        common.usage_error(
            "--trim and --tile do not combine yet: trim first (resize --trim), then tile the "
            "result",
            "--trim",
        )
    try:
        preparing.check_sources(items, settings)
    except sources.UsageError as exc:
        common.usage_error(str(exc), "--source")
    if not opts.dry_run:
        try:
            connect.check_setup()
        except failures.SetupError as exc:
            _fail(str(exc), ExitStatus.USAGE)
        import_sdk_early()
    if opts.each or opts.batch:
        from vision_cli.cli import many

        many.run(opts, items, settings, prompt)
        return
    if opts.conversation is not None and not opts.dry_run:
        _check_writable(opts.conversation)

    cache = None if opts.no_cache else filesapi.FileCache()
    try:
        images = fitting.preflight(
            items, settings, earlier_images=history.images, offline=opts.dry_run
        )
        text = prompt or preparing.default_prompt(len(images), compare=opts.compare)

        def build(files: building.Files) -> building.Request:
            return building.build_request(
                images,
                settings,
                prompt=text,
                conversation=history,
                files=files,
                stream=_streams(opts),
            )

        request = build(building.cached_files(images, cache))
        building.check_request(request, settings)
    except preparing.PreflightError as exc:
        _preflight_failed(exc)
    if not opts.quiet and not opts.json:
        _notes(images)
    if opts.dry_run:
        _dry_run(request, settings, opts)
        return
    answer, sent = _send(opts, settings, request, build, cache)
    if opts.conversation is not None:
        try:
            conversations.save_conversation(
                opts.conversation,
                sent,
                answer.reply,
                model_name=settings.model_name,
                system=settings.system,
            )
        except OSError as exc:
            _fail(
                f"the answer was printed but the conversation could not be saved "
                f"({opts.conversation}): {exc.strerror or exc}",
                ExitStatus.FAILED,
            )
    _output(answer, opts)


def import_sdk_early() -> None:
    """Start importing the SDK (about 1.2 s, most of it ``anthropic.types``) in a background
    thread, so that it overlaps with reading, checking and preparing the images (Pillow decodes
    and resizes without holding the GIL) instead of following them.

    Called once the run is known to send (never for ``--dry-run``, ``--help`` or a usage error).
    The first use of the SDK in the main thread imports it as usual: Python's import lock makes it
    wait for this import, or do it itself if this one failed (its error is then raised there, in
    the ordinary way). A daemon thread: an early exit does not wait for it.
    """
    import importlib
    import threading

    def load() -> None:
        with suppress(BaseException):
            importlib.import_module("anthropic")

    threading.Thread(target=load, name="vision-cli-import-sdk", daemon=True).start()


def _check_many(opts: AskOptions) -> None:
    """The options of --each and --batch, and how they combine with the rest."""
    if opts.each and opts.batch:
        common.usage_error(
            "--each sends the requests itself and --batch hands them to the Message Batches "
            "API: pick one",
            "--batch",
        )
    if not (opts.each or opts.batch):
        given = {
            "--output": opts.output is not None,
            "--jobs": opts.jobs is not None,
            "--rerun": opts.rerun,
            "--no-wait": opts.no_wait,
        }
        for name, is_given in given.items():
            if is_given:
                common.usage_error(f"{name} goes with --each or --batch", name)
        return
    if opts.no_wait and not opts.batch:
        common.usage_error(
            "--no-wait goes with --batch (--each waits for its answers)", "--no-wait"
        )
    if opts.output is None:
        hint = " (or --output - for standard output, without resuming)" if opts.each else ""
        common.usage_error(
            "--each and --batch write one JSON line per image: give the file with --output "
            f"results.jsonl{hint}",
            "--output",
        )
    stdout = str(opts.output) == "-"
    if stdout and opts.batch:
        common.usage_error(
            "--batch keeps its batch ids beside the results file: give --output a file name",
            "--output",
        )
    if stdout and opts.json:
        common.usage_error(
            "--json prints the summary on standard output, where --output - writes the "
            "results: give --output a file name",
            "--json",
        )
    if opts.conversation is not None:
        common.usage_error(
            "--conversation continues one conversation, and --each and --batch ask about each "
            "image on its own: drop one of them",
            "--conversation",
        )
    if opts.batch and opts.source is SourceChoice.file:
        common.usage_error(
            "--batch sends images inline (base64) or as URLs; --source file works with --each",
            "--source",
        )


_SOURCES: dict[SourceChoice, preparing.SourceChoice] = {
    SourceChoice.auto: "auto",
    SourceChoice.base64: "base64",
    SourceChoice.url: "url",
    SourceChoice.file: "file",
}


def _check_writable(path: Path) -> None:
    import os

    folder = path.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        _fail(
            f"cannot write the conversation ({path}): its folder is missing or read-only",
            ExitStatus.FAILED,
        )


def _notes(images: tuple[fitting.Image, ...]) -> None:
    from vision_cli import render
    from vision_cli.render.ask import ask_image_line

    for image in images:
        render.note(ask_image_line(image))
        for warning in image.warnings:
            render.warn(f"{image.label}: {warning}")


def _dry_run(request: building.Request, settings: preparing.Settings, opts: AskOptions) -> None:
    from vision_cli import render
    from vision_cli.asking import (
        pricing,
    )
    from vision_cli.client import bodies
    from vision_cli.render.ask import ask_estimate

    body = bodies.shorten_base64(request.body)
    est = pricing.estimate(request, settings)
    if opts.json:
        typer.echo(render.dumps({"request": body, "estimate": est.as_dict()}))
        return
    typer.echo(render.dumps(body))
    if not opts.quiet:
        ask_estimate(est)


class _StreamWriter:
    """Writes the answer to stdout as it arrives; ``end`` closes the line. On a terminal, control
    characters in it are shown as escapes, never obeyed (piped, the answer is exact)."""

    def __init__(self) -> None:
        from vision_cli import render

        self.last = "\n"
        self.shown = render.visible_answer if render.is_tty(sys.stdout) else None

    def __call__(self, text: str) -> None:
        if text:
            sys.stdout.write(self.shown(text) if self.shown else text)
            sys.stdout.flush()
            self.last = text[-1]

    def end(self) -> None:
        if self.last != "\n":
            sys.stdout.write("\n")
            sys.stdout.flush()
            self.last = "\n"


def _send(
    opts: AskOptions,
    settings: preparing.Settings,
    request: building.Request,
    build: Callable[[building.Files], building.Request],
    cache: filesapi.FileCache | None,
) -> tuple[answering.Answer, building.Request]:
    """Upload what needs it, send, stream; every failure becomes one line and its exit status.
    The answer, and the request as it was sent (with the file ids it got)."""
    from vision_cli import render
    from vision_cli.asking import (
        answering,
        running,
    )
    from vision_cli.client import connect, failures, keys

    writer = _StreamWriter() if _streams(opts) else None
    try:
        with _debug_log():
            api = connect.make_client(max_retries=opts.max_retries, timeout=opts.timeout)
            request = _upload(api, request, build, cache, opts, expires=settings.expires)
            _debug(
                f"POST {keys.base_url()}/v1/messages: {request.size:,} bytes, "
                f"{request.total_images} images"
            )
            fix = functools.partial(_corrected, settings)
            try:
                request, reply = running.send_correcting(
                    api, request, settings, on_text=writer, on_correction=fix
                )
            except failures.APIFailure as failure:
                if not (running.stale_file(failure) and request.cached_file_ids):
                    raise
                # A cached file id the API no longer knows (deleted, expired): upload again, once.
                _debug(f"stale cached file ids, uploading again: {failure}")
                if cache is not None:
                    cache.forget(request.cached_file_ids)
                request = _upload(
                    api, request, build, cache, opts, expires=settings.expires, refresh=True
                )
                request, reply = running.send_correcting(
                    api, request, settings, on_text=writer, on_correction=fix
                )
            _debug(f"answered: {reply.id}, stop_reason {reply.stop_reason}")
    except failures.SetupError as exc:
        _fail(str(exc), ExitStatus.USAGE)
    except failures.APIFailure as failure:
        if writer is not None:
            writer.end()
        _fail(str(failure), ExitStatus.API)
    except KeyboardInterrupt:
        if writer is not None:
            writer.end()
        render.error("interrupted: the answer is incomplete and nothing was saved")
        raise typer.Exit(ExitStatus.INTERRUPTED) from None
    if writer is not None:
        writer.end()
    return answering.answer(reply, request, settings), request


def _corrected(settings: preparing.Settings, correction: running.Correction) -> None:
    """Say on stderr (even with -q and --json: the data was wrong) what was shrunk and resent."""
    from vision_cli import render
    from vision_cli.asking import (
        running,
    )

    remembered = running.remember(settings.model, correction)
    render.warn(f"{correction.describe(settings.model_name)}; {remembered}")


def _upload(
    api: anthropic.Anthropic,
    request: building.Request,
    build: Callable[[building.Files], building.Request],
    cache: filesapi.FileCache | None,
    opts: AskOptions,
    *,
    expires: int,
    refresh: bool = False,
) -> building.Request:
    """The request with every ``file`` image uploaded (those the cache knows are not), each to
    expire after ``expires`` seconds."""
    from vision_cli import render
    from vision_cli.asking import (
        running,
    )

    if not request.pending_uploads and not refresh:
        return request
    files = running.resolve_files(api, request.images, cache, refresh=refresh, expires=expires)
    if not opts.quiet and not opts.json and files.uploaded:
        noun = "image" if files.uploaded == 1 else "images"
        render.note(f"uploaded {files.uploaded} {noun} through the Files API")
    return build(files)


def _streams(opts: AskOptions) -> bool:
    """The answer streams to stdout, unless it is printed whole: --json, or --schema (whose
    object is checked before it is printed)."""
    return not (opts.json or opts.schema is not None)


def _output(answer: answering.Answer, opts: AskOptions) -> None:
    from vision_cli import render
    from vision_cli.asking import (
        answering,
    )
    from vision_cli.render.ask import ask_usage

    if opts.json:
        typer.echo(render.dumps(answer.as_dict()))
    elif answer.structured and answer.mismatch is None:
        typer.echo(render.dumps(answer.data))
    if not opts.quiet and not opts.json:
        ask_usage(answer)
    if answer.mismatch is not None:
        message = answering.schema_error(answer.mismatch)["message"]
        text = " ".join(answer.reply.text.split())
        shown = text if len(text) <= 200 else text[:199] + "…"
        _fail(
            f"{message}; ask again, or raise --max-tokens if it was cut short. The answer: "
            f"{shown!r}",
            ExitStatus.FAILED,
        )


# --------------------------------------------------------------------------------------------------
# VISION_CLI_DEBUG=1
# --------------------------------------------------------------------------------------------------


def _debug(message: str) -> None:
    if common.debug():
        from vision_cli.client import keys

        sys.stderr.write(f"debug: {keys.redact(message)}\n")
        sys.stderr.flush()


class _StderrHandler(logging.Handler):
    """Log records on whatever ``sys.stderr`` is now, the API key redacted."""

    def emit(self, record: logging.LogRecord) -> None:
        _debug(f"{record.name}: {record.getMessage()}")


@contextmanager
def _debug_log() -> Iterator[None]:
    """With VISION_CLI_DEBUG=1, the SDK's retries and requests show on stderr (INFO: the bodies,
    which hold whole images, are not dumped)."""
    if not common.debug():
        yield
        return
    logger = logging.getLogger("anthropic")
    handler = _StderrHandler(logging.INFO)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
