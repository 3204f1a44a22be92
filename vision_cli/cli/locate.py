"""``vision-cli locate``: the boxes around what was described, on the original image's pixel grid.

Thin: one request per image through ``ask --each``'s machinery (:mod:`vision_cli.bulk`: the same
preflight, concurrency, retries and resumable results file), the answer's shape from
:data:`vision_cli.locating.SCHEMA`, the mapping back in :mod:`vision_cli.boxes`, drawing in
:mod:`vision_cli.drawing`. Images are always sent inline at a size the model takes as it is, so
coordinates map back exactly (no ``--no-resize``, no URL sources: URLs are downloaded).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from vision_cli import catalog
from vision_cli.cli import ask_options as ask_opts
from vision_cli.cli import common, locate_draw, options
from vision_cli.cli.commands import SUMMARY
from vision_cli.exitcodes import ExitStatus
from vision_cli.formats import Frame, LocateFormat, ResizePolicy, Source

if TYPE_CHECKING:
    from vision_cli import locating
    from vision_cli.bulk import plan
    from vision_cli.bulk.summary import EachSummary
    from vision_cli.render import tables

HELP = (
    SUMMARY["locate"] + "\n\n"
    'Asks Claude, one request per image, for the box of everything that fits --find "car" '
    "(or the question in -p), in the image as sent; every box is then mapped back to the "
    "original exactly: the resize undone, and the EXIF orientation too with --frame stored "
    "(the pixels as the file stores them) instead of --frame upright (as a viewer shows them, "
    "the default). Boxes are (x1, y1, x2, y2) pixel edges from the top-left corner (x2 and y2 "
    "exclusive), clamped to the image.\n\n"
    "With --output, the answers go to a JSONL results file, and running the same command "
    "again resumes (vision-cli results reads it). --draw writes a copy of each image with its "
    "boxes.\n\n"
    "Exit status: 0 every image answered; 1 some images failed (each said on stderr); 2 usage "
    "error (a missing ANTHROPIC_API_KEY too); 3 the API stopped the whole run; 130 interrupted."
)

EPILOG = """Examples:

  vision-cli locate street.jpg --find car

  vision-cli locate shelf.jpg -p "Find every product whose label is torn." --json

  vision-cli locate photos/ --find "face" -j 8 -o faces.jsonl --format csv > faces.csv

  vision-cli locate scan.png --find "signature" --frame stored --draw marked.png
"""

PANEL = "Locate"
#: Room for many boxes: each costs about 30 output tokens.
DEFAULT_MAX_TOKENS = 4096
COLUMNS = ("path", "label", "x1", "y1", "x2", "y2", "frame")
NOT_ANSWERED = "not answered: the run stopped before it"


def locate(
    images: Annotated[
        list[str] | None,
        typer.Argument(
            help="Image files, folders (walked recursively), glob patterns, http(s) URLs "
            "(downloaded), or - for standard input.",
            metavar="IMAGE",
            show_default=False,
        ),
    ] = None,
    find: Annotated[
        str | None,
        typer.Option(
            "--find",
            help='What to find: --find car asks "Find every car in this image."',
            metavar="WHAT",
            rich_help_panel=PANEL,
        ),
    ] = None,
    prompt: Annotated[
        str | None,
        typer.Option(
            "--prompt",
            "-p",
            help="The whole question instead of --find (the coordinate instructions are added).",
            rich_help_panel=PANEL,
        ),
    ] = None,
    frame: Annotated[
        Frame,
        typer.Option(
            "--frame",
            help="upright: coordinates on the image as a viewer shows it (EXIF orientation "
            "applied); stored: on the pixels as the file stores them.",
            case_sensitive=False,
            rich_help_panel=PANEL,
        ),
    ] = Frame.upright,
    draw: Annotated[
        str | None,
        typer.Option(
            "--draw",
            help="Write a copy of the upright image with the boxes and labels drawn to OUT (one "
            "image), or into the folder OUT, under each image's name (several images, or OUT "
            "an existing folder or ending in /).",
            metavar="OUT",
            rich_help_panel=PANEL,
        ),
    ] = None,
    model: options.ModelOpt = None,
    max_tokens: ask_opts.MaxTokensOpt = DEFAULT_MAX_TOKENS,
    policy: ask_opts.PolicyOpt = ResizePolicy.native,
    max_retries: ask_opts.MaxRetriesOpt = None,
    timeout: ask_opts.TimeoutOpt = None,
    max_bytes: options.MaxBytesOpt = options.DEFAULT_MAX_BYTES,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Keep the answers in this JSONL results file (appended to); run again to "
            "resume: images answered for the same model and question are not asked again.",
            metavar="FILE",
            dir_okay=False,
            rich_help_panel=ask_opts.MANY_PANEL,
        ),
    ] = None,
    jobs: ask_opts.JobsOpt = None,
    rerun: ask_opts.RerunOpt = False,
    fmt: Annotated[
        LocateFormat,
        typer.Option(
            "--format",
            "-f",
            help="table; json (per image, with its size and boxes); jsonl or csv (one box a "
            "line: path, label, x1, y1, x2, y2, frame).",
            case_sensitive=False,
            rich_help_panel=options.OUTPUT_PANEL,
        ),
    ] = LocateFormat.table,
    json_flag: options.JsonOpt = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Show what would be sent or skipped and the estimate; send nothing (no API key "
            "needed).",
            rich_help_panel=options.OUTPUT_PANEL,
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No summary on stderr.", rich_help_panel=options.OUTPUT_PANEL
        ),
    ] = False,
    files_from: options.FilesFromOpt = None,
    null: options.NullOpt = False,
    exclude: options.ExcludeOpt = None,
    hidden: options.HiddenOpt = False,
    allow_private_urls: options.AllowPrivateUrlsOpt = False,
) -> None:
    # lazy: start-up, --help imports none of these
    from vision_cli import locating, sources
    from vision_cli.asking import preparing
    from vision_cli.bulk import plan
    from vision_cli.cli import ask_groups, groups
    from vision_cli.client import failures, keys

    common.one_format(fmt, json_flag)
    if (find is None) == (prompt is None):
        common.usage_error(
            'say what to find with --find (--find "car") or ask with -p, one of the two', "--find"
        )
    text = find if find is not None else prompt
    if not (text or "").strip():
        common.usage_error("the question is empty", "--find" if find is not None else "--prompt")
    given = groups.input_options(
        images, files_from, null, exclude, hidden, allow_private_urls, clipboard=False
    )
    try:
        items = list(sources.iter_inputs(given.inputs, given.selection, common.env().stdin_bytes))
    except sources.UsageError as exc:
        common.input_error(exc)
    if not items:
        common.usage_error("give at least one image, folder, glob, URL or -", "IMAGE")
    the_model = common.resolve_model(model, sending=True)
    settings = preparing.Settings(
        model=the_model,
        model_name=common.model_name(model),
        max_tokens=max_tokens,
        resize_policy=policy,
        source=Source.base64,
        download=True,
        max_bytes=common.max_bytes(max_bytes),
        schema=locating.SCHEMA,
    )
    if output is not None and str(output) == "-":
        common.usage_error("the boxes go to standard output: give --output a file name", "--output")
    if draw is not None and (refused := locate_draw.refusal(draw, items, output)) is not None:
        common.usage_error(refused, "--draw")
    if not dry_run and keys.api_key(common.env().vars) is None:
        common.fail(failures.MISSING_KEY_MESSAGE, ExitStatus.USAGE)
    send = ask_groups.send_options(max_retries, timeout, no_cache=False, many=True)
    config = plan.Config(
        settings=settings,
        prompt=locating.question(find, prompt),
        output=output,
        jobs=jobs or plan.DEFAULT_JOBS,
        rerun=rerun,
        max_retries=send.max_retries,
        timeout=send.timeout,
        keep_sent=True,
        vars=common.env().vars,
    )
    fmt = LocateFormat.json if json_flag else fmt
    if dry_run:
        _dry_run(items, config, json=fmt is LocateFormat.json, quiet=quiet)
        return
    summary, located = _run(items, config, _Rows(config, frame, fmt), quiet=quiet)
    _messages(located)
    _print_at_end(located, fmt)
    drawn_failures = locate_draw.draw(located, draw, output) if draw is not None else 0
    if not quiet:
        _summary(located, summary, config)
    status = ExitStatus(_status(summary, located))
    if status is ExitStatus.OK and drawn_failures:
        status = ExitStatus.FAILED
    raise typer.Exit(status)


def _dry_run(items: list[Any], config: plan.Config, *, json: bool, quiet: bool) -> None:
    # lazy: start-up, --help imports none of these
    from vision_cli.bulk import plan
    from vision_cli.cli import many

    try:
        jobs = plan.read_jobs(
            items,
            config.settings,
            threads=config.jobs,
            offline=True,
            stdin=common.env().stdin_bytes,
        )
        many.dry_run(jobs, config, batch=False, json=json, quiet=quiet)
    except KeyboardInterrupt:
        common.fail("interrupted: nothing was sent", ExitStatus.INTERRUPTED)


def _run(
    items: list[Any], config: plan.Config, rows: _Rows, *, quiet: bool
) -> tuple[EachSummary, list[LocatedImage]]:
    """Ask about every image not answered before, each image's rows shown as it is settled;
    the summary and every image, in input order."""
    # lazy: start-up, --help imports none of these
    from vision_cli.bulk import plan
    from vision_cli.bulk.each import EachRun
    from vision_cli.bulk.log import ResultsLog
    from vision_cli.bulk.records import OutputError, answered, read_records
    from vision_cli.client import keys
    from vision_cli.render import bars

    env = common.env()

    def note(message: str) -> None:  # from the workers' threads too: env is given
        if not quiet:
            common.note(message, env)

    try:
        jobs = plan.read_jobs(items, config.settings, threads=config.jobs, stdin=env.stdin_bytes)
    except KeyboardInterrupt:
        common.fail(
            "interrupted while reading the images: nothing was sent", ExitStatus.INTERRUPTED
        )
    log = ResultsLog(config.output, stream=io.StringIO())  # the lines are shown as rows
    try:
        log.open()
        done = answered(log.entries(), config.settings.model_name, config.prompt_sha256)
        the_plan = plan.plan(jobs, done, rerun=config.rerun)
        earlier = read_records(config.output)[0] if config.output is not None else []
        rows.start(jobs, earlier, the_plan.skipped, env.stdout)
        if the_plan.skipped:
            note(f"{len(the_plan.skipped):,} answered before: not asked again (--rerun asks)")
        show = env.stderr_isatty and not quiet
        with bars.bulk_progress("locating", enabled=show, stream=env.stderr) as update:
            each = EachRun(config, log, progress=update, note=note, shown=rows.settle)
            summary = each.run(the_plan)
    except OutputError as exc:
        common.fail(str(exc), ExitStatus.USAGE)
    except KeyboardInterrupt:
        common.fail("interrupted before any request was sent", ExitStatus.INTERRUPTED)
    finally:
        log.close()
    if summary.stdout_closed:
        common.stdout_closed()
    if summary.stopped is not None:
        common.error(keys.redact(str(summary.stopped)))
    if summary.write_error is not None:
        common.error(summary.write_error)
    return summary, rows.finish()


class LocatedImage:
    """One image of the run: its boxes, or why it has none, and what to warn of."""

    def __init__(
        self,
        job: plan.Job,
        located: locating.Located | None = None,
        error: str | None = None,
        warnings: tuple[str, ...] = (),
        size: tuple[int, int] | None = None,
    ) -> None:
        self.job = job
        self.located = located
        self.error = error
        self.warnings = warnings
        #: The original's size in the frame asked for: the boxes' when answered, else read from
        #: its header (None when it cannot be read).
        self.size = located.size if located is not None else size


class _Rows:
    """Each image's rows on standard output once it is settled (answered now or before, or
    failed) and every image before it too, so that they keep the input's order and a reader
    that goes away (``| head -1``) stops the run before more is paid for: JSON lines and CSV.
    JSON (one document) and the table (aligned over every row) are written at the end.
    :meth:`settle` is :class:`~vision_cli.bulk.each.EachRun`'s ``shown``, called from its
    workers' threads."""

    def __init__(self, config: plan.Config, frame: Frame, fmt: LocateFormat) -> None:
        # lazy: start-up, --help imports none of these
        from vision_cli.bulk.records import model_key

        self._config = config
        self._frame = frame
        self._fmt = fmt
        self._model = model_key(config.settings.model_name)
        self._lock = threading.Lock()
        self._jobs: list[plan.Job] = []
        self._order: dict[str, int] = {}
        self._settled: set[int] = set()
        self._chosen: dict[tuple[str, str | None], Mapping[str, Any]] = {}
        self._writer: tables.RowWriter | None = None
        self.images: list[LocatedImage] = []

    def start(
        self,
        jobs: list[plan.Job],
        earlier: list[dict[str, Any]],
        skipped: Sequence[plan.Job],
        stream: TextIO,
    ) -> None:
        """The run's images, the lines of the results file (``earlier``) and the images they
        answered (``skipped``): these are shown at once."""
        # lazy: start-up, --help imports none of these
        from vision_cli.render import tables

        self._jobs = jobs
        self._order = {job.label: n for n, job in enumerate(jobs)}
        for record in earlier:
            self._choose(record)
        if self._fmt in (LocateFormat.jsonl, LocateFormat.csv):
            self._writer = tables.RowWriter(self._fmt.value, _header(self._fmt), stream=stream)
        with self._lock:
            self._settled.update(self._order[job.label] for job in skipped)
            self._show()

    def settle(self, job: plan.Job, record: Mapping[str, Any]) -> None:
        """The line just written about ``job``; the rows of every image now settled in order.
        It is read as the results file is read back (``NaN`` in ``data`` is null)."""
        # lazy: start-up, --help imports none of these
        from vision_cli import names
        from vision_cli.bulk.records import parse_record

        read = parse_record(names.dumps(record))
        with self._lock:
            if read is not None:
                self._choose(read)
            self._settled.add(self._order[job.label])
            self._show()

    def finish(self) -> list[LocatedImage]:
        """Every image, in input order: those the run never settled are not answered."""
        with self._lock:
            self._settled.update(range(len(self._jobs)))
            self._show()
        if self._writer is not None:
            self._writer.close()
        return self.images

    def _choose(self, record: Mapping[str, Any]) -> None:
        # lazy: start-up, --help imports none of these
        from vision_cli.bulk.records import image_key, supersedes

        path, sha, model, prompt = image_key(record)
        ours = model == self._model and prompt == self._config.prompt_sha256
        if ours and supersedes(record, self._chosen.get((path, sha))):
            self._chosen[(path, sha)] = record

    def _show(self) -> None:
        from vision_cli.bulk.records import image_id  # lazy: start-up, as above

        while len(self.images) < len(self._jobs) and len(self.images) in self._settled:
            job = self._jobs[len(self.images)]
            record = self._chosen.get(job.key) or self._chosen.get(image_id(job.label, None))
            image = _located(job, record, self._config, self._frame)
            self.images.append(image)
            if self._writer is not None and image.located is not None:
                self._writer.add([f.as_dict() for f in image.located.found])


def _header(fmt: LocateFormat) -> list[str]:
    extra = {LocateFormat.table: ["note"], LocateFormat.jsonl: ["note", "clamped"]}
    return [*COLUMNS, *extra.get(fmt, [])]


def _located(
    job: plan.Job, record: Mapping[str, Any] | None, config: plan.Config, frame: Frame
) -> LocatedImage:
    """The image's boxes from its line (``record``: None when it was not asked)."""
    # lazy: start-up, --help imports none of these
    from vision_cli import locating
    from vision_cli.client import failures

    if record is None:
        return LocatedImage(job, error=NOT_ANSWERED)
    if record.get("error") is not None:
        return LocatedImage(
            job, error=failures.describe(record["error"]), size=_original_size(job, frame)
        )
    try:
        found = locating.found_in(record, frame)
    except locating.NotALocateLine as exc:
        why = f"its answer {exc}"
        if config.output is not None:
            why = f"its line in {config.output} {exc}: --rerun asks again"
        return LocatedImage(job, error=why)
    warnings = [f"{job.label}: {why}" for why in found.skipped]
    for box in found.found:
        x1, y1, x2, y2 = box.box
        if box.clamped and (x1 == x2 or y1 == y2):
            warnings.append(
                f"{job.label}: the box of {box.label!r} lies outside the image: clamped to an "
                "empty box"
            )
    return LocatedImage(job, found, warnings=tuple(warnings))


def _original_size(job: plan.Job, frame: Frame) -> tuple[int, int] | None:
    """The original's size in ``frame`` from its header, for an image that got no boxes (None
    when it was not read, or cannot be)."""
    # lazy: start-up, --help imports none of these
    from vision_cli import boxes
    from vision_cli.imaging import probe

    item = job.item
    if job.problem is not None or item is None:
        return None
    try:
        if job.data is not None:
            found = probe.probe_bytes(job.data)
        elif item.path is not None:
            found = probe.probe_path(item.path)
        else:
            return None  # a URL not downloaded
    except (probe.ProbeError, OSError, ValueError):
        return None
    facts = found.facts
    stored = (facts.width, facts.height)
    return stored if frame == Frame.stored else boxes.upright_size(stored, facts.orientation)


def _messages(images: list[LocatedImage]) -> None:
    """Each image's warnings and error on stderr, then how many were not asked."""
    # lazy: start-up, --help imports none of these
    from vision_cli.render.text import n_images

    for image in images:
        for warning in image.warnings:
            common.warn(warning)
        if image.error is not None and image.error != NOT_ANSWERED:
            common.error(f"{image.job.label}: {image.error}")
    unanswered = sum(image.error == NOT_ANSWERED for image in images)
    if unanswered:
        common.warn(
            f"{n_images(unanswered)} not asked: the run stopped first; the same command "
            "(with --output) goes on where it stopped"
        )


def _print_at_end(images: list[LocatedImage], fmt: LocateFormat) -> None:
    """JSON's one document, or the table; JSON lines and CSV were written as they came."""
    # lazy: start-up, --help imports none of these
    from vision_cli import render
    from vision_cli.render import tables

    if fmt is LocateFormat.json:
        doc = [
            {
                "path": i.job.label,
                "width": i.size[0] if i.size else None,
                "height": i.size[1] if i.size else None,
                "boxes": [
                    {k: v for k, v in f.as_dict().items() if k != "path"} for f in i.located.found
                ]
                if i.located
                else [],
                "error": i.error,
            }
            for i in images
        ]
        common.echo(render.dumps({"images": doc}))
    elif fmt is LocateFormat.table:
        found = [f.as_dict() for i in images if i.located for f in i.located.found]
        tables.write_rows(
            fmt.value,
            _header(fmt),
            found,
            right=("x1", "y1", "x2", "y2"),
            stream=common.env().stdout,
        )


def _status(summary: EachSummary, images: list[LocatedImage]) -> int:
    if summary.interrupted:
        return ExitStatus.INTERRUPTED
    if summary.stopped is not None:
        return ExitStatus.API
    if any(i.error is not None for i in images) or summary.write_error is not None:
        return ExitStatus.FAILED
    return ExitStatus.OK


def _summary(images: list[LocatedImage], summary: EachSummary, config: plan.Config) -> None:
    # lazy: start-up, --help imports none of these
    from vision_cli import render
    from vision_cli.render.text import n_images

    count = sum(len(i.located.found) for i in images if i.located)
    not_asked = sum(i.error == NOT_ANSWERED for i in images)
    failed = sum(i.error is not None for i in images) - not_asked
    boxes = f"{count:,} box" + ("" if count == 1 else "es")
    common.note(
        f"{n_images(len(images))}: {boxes}, {failed:,} failed, {not_asked:,} not asked, "
        f"{summary.skipped:,} answered before; {summary.input_tokens:,} input and "
        f"{summary.output_tokens:,} output "
        f"tokens: {render.money(summary.cost_usd)} for {config.settings.model_name} (prices of "
        f"{catalog.load().date})"
    )
    if config.output is not None:
        common.note(f"results: {config.output}")
