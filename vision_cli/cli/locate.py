"""``vision-cli locate``: the boxes around what was described, on the original image's pixel grid.

Thin: one request per image through ``ask --each``'s machinery (:mod:`vision_cli.bulk`: the same
preflight, concurrency, retries and resumable results file), the answer's shape from
:data:`vision_cli.locating.SCHEMA`, the mapping back in :mod:`vision_cli.boxes`, drawing in
:mod:`vision_cli.drawing`. Images are always sent inline at a size the model takes as it is, so
coordinates map back exactly (no ``--no-resize``, no URL sources: URLs are downloaded).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
        common.usage_error(str(exc))
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
    the_jobs, summary, records = _run(items, config, quiet=quiet)
    located = _collect(the_jobs, records, config, frame)
    _print(located, fmt)
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
    items: list[Any], config: plan.Config, *, quiet: bool
) -> tuple[list[plan.Job], EachSummary, list[dict[str, Any]]]:
    """Ask about every image not answered before; the jobs, the summary and every line."""
    # lazy: start-up, --help imports none of these
    from vision_cli.bulk import plan
    from vision_cli.bulk.each import EachRun
    from vision_cli.bulk.log import ResultsLog
    from vision_cli.bulk.records import OutputError, answered, parse_record, read_records
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
    buffer = io.StringIO()
    log = ResultsLog(config.output, stream=buffer)
    try:
        log.open()
        done = answered(log.entries(), config.settings.model_name, config.prompt_sha256)
        the_plan = plan.plan(jobs, done, rerun=config.rerun)
        if the_plan.skipped:
            note(f"{len(the_plan.skipped):,} answered before: not asked again (--rerun asks)")
        show = env.stderr_isatty and not quiet
        with bars.bulk_progress("locating", enabled=show, stream=env.stderr) as update:
            summary = EachRun(config, log, progress=update, note=note).run(the_plan)
    except OutputError as exc:
        common.fail(str(exc), ExitStatus.USAGE)
    except KeyboardInterrupt:
        common.fail("interrupted before any request was sent", ExitStatus.INTERRUPTED)
    finally:
        log.close()
    if summary.stopped is not None:
        common.error(keys.redact(str(summary.stopped)))
    if summary.write_error is not None:
        common.error(summary.write_error)
    if config.output is not None:
        records, _ = read_records(config.output)
    else:
        parsed = (parse_record(line) for line in buffer.getvalue().splitlines())
        records = [r for r in parsed if r is not None]
    return jobs, summary, records


class LocatedImage:
    """One image of the run: its boxes, or why it has none."""

    def __init__(
        self, job: plan.Job, located: locating.Located | None = None, error: str | None = None
    ) -> None:
        self.job = job
        self.located = located
        self.error = error


def _collect(
    jobs: list[plan.Job], records: list[dict[str, Any]], config: plan.Config, frame: Frame
) -> list[LocatedImage]:
    # lazy: start-up, --help imports none of these
    from vision_cli import locating
    from vision_cli.bulk.records import image_id, latest, model_key

    model = model_key(config.settings.model_name)
    chosen = {
        (k[0], k[1]): r
        for k, r in latest(records).items()
        if k[2] == model and k[3] == config.prompt_sha256
    }
    images: list[LocatedImage] = []
    for job in jobs:
        record = chosen.get(job.key) or chosen.get(image_id(job.label, None))
        if record is None:
            images.append(LocatedImage(job, error=NOT_ANSWERED))
        elif record.get("error") is not None:
            images.append(LocatedImage(job, error=str(record["error"].get("message"))))
        else:
            try:
                found = locating.found_in(record, frame)
            except locating.NotALocateLine as exc:
                why = f"its answer {exc}"
                if config.output is not None:
                    why = f"its line in {config.output} {exc}: --rerun asks again"
                images.append(LocatedImage(job, error=why))
                continue
            for why in found.skipped:
                common.warn(f"{job.label}: {why}")
            for box in found.found:
                x1, y1, x2, y2 = box.box
                if box.clamped and (x1 == x2 or y1 == y2):
                    common.warn(
                        f"{job.label}: the box of {box.label!r} lies outside the image: clamped "
                        "to an empty box"
                    )
            images.append(LocatedImage(job, found))
    return images


def _print(images: list[LocatedImage], fmt: LocateFormat) -> None:
    # lazy: start-up, --help imports none of these
    from vision_cli import render
    from vision_cli.render import tables
    from vision_cli.render.text import n_images

    for image in images:
        if image.error is not None and image.error != NOT_ANSWERED:
            common.error(f"{image.job.label}: {image.error}")
    unanswered = sum(image.error == NOT_ANSWERED for image in images)
    if unanswered:
        common.warn(
            f"{n_images(unanswered)} not asked: the run stopped first; the same command "
            "(with --output) goes on where it stopped"
        )
    found = [f.as_dict() for i in images if i.located for f in i.located.found]
    if fmt is LocateFormat.json:
        doc = [
            {
                "path": i.job.label,
                "width": i.located.size[0] if i.located else None,
                "height": i.located.size[1] if i.located else None,
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
        return
    extra = {LocateFormat.table: ["note"], LocateFormat.jsonl: ["note", "clamped"]}
    header = [*COLUMNS, *extra.get(fmt, [])]
    tables.write_rows(
        fmt.value, header, found, right=("x1", "y1", "x2", "y2"), stream=common.env().stdout
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
