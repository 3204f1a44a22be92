"""The options of ``ask`` and ``compare`` as objects: one frozen dataclass per group, built
explicitly by the command (:mod:`vision_cli.cli.ask`) from its parameters: what the request says
(:class:`PromptOptions`), how images are fitted and sent (:class:`ImageOptions`), how the API is
called (:class:`SendOptions`), what is printed (:class:`ShowOptions`) and the many-image run
(:class:`ManyOptions`, with the rules of how ``--each``/``--batch`` combine with the rest).
Imported when the command runs, not by ``--help``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vision_cli import limits, units
from vision_cli.cli import common
from vision_cli.cli.groups import InputOptions, SaverOptions
from vision_cli.formats import ResizePolicy, Source

#: ``--max-retries`` when not given: 2 for one request (fail fast), more for a long run.
DEFAULT_MAX_RETRIES = 2


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


@dataclass(frozen=True)
class PromptOptions:
    """What the request says: the question, the system prompt, the answer's shape and length,
    and the conversation it continues."""

    prompt: str | None
    prompt_file: Path | None
    system: str | None
    max_tokens: int
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
    savers: SaverOptions

    def expiry_seconds(self) -> int:
        """``--expires`` in seconds, within what the Files API accepts (a usage error otherwise)."""
        try:
            return expiry_seconds(self.expires)
        except ValueError as exc:
            common.usage_error(str(exc), "--expires")


def expiry_seconds(text: str) -> int:
    """``--expires`` in seconds; ValueError with a sentence unless the Files API accepts it."""
    seconds = units.parse_duration(text)
    low, high = limits.FILE_MIN_EXPIRY_SECONDS, limits.FILE_MAX_EXPIRY_SECONDS
    if not low <= seconds <= high:
        raise ValueError(
            f"{text} is {seconds:,} seconds, and the Files API keeps an upload from "
            f"{low:,} (1h) to {high:,} seconds (90d)"
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
            from vision_cli.bulk import plan  # lazy: start-up, only many-image runs need it

            max_retries = plan.BULK_MAX_RETRIES
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
    inputs: InputOptions
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
        if self.images.source is not Source.file:  # typed for nothing: the run would differ
            for option, param in (("--expires", "expires"), ("--no-cache", "no_cache")):
                if common.typed(param):
                    common.usage_error(
                        f"{option} is about uploads, and goes with --source file", option
                    )

    @property
    def streams(self) -> bool:
        """The answer streams to stdout, unless it is printed whole: --json, or --schema (whose
        object is checked before it is printed)."""
        return not (self.show.json or self.prompt.schema is not None)
