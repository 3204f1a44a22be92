"""``vision-cli locate``: the boxes around what was described, on the original image's pixel grid.

Thin: one request per image through ``ask --each``'s machinery (:mod:`vision_cli.bulk`: the same
preflight, concurrency, retries and resumable results file), the answer's shape from
:data:`vision_cli.locating.SCHEMA`, the mapping back in :mod:`vision_cli.boxes`, drawing in
:mod:`vision_cli.drawing`. Images are always sent inline at a size the model takes as it is, so
coordinates map back exactly (no ``--no-resize``, no URL sources: URLs are downloaded).
"""

from __future__ import annotations

import io
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from vision_cli.cli import ask as ask_cmd
from vision_cli.cli import common
from vision_cli.exitcodes import ExitStatus
from vision_cli.formats import LocateFormat

if TYPE_CHECKING:
    from vision_cli import locating
    from vision_cli.bulk import plan
    from vision_cli.bulk.summary import EachSummary

HELP = (
    "Find things in images and give their boxes on the original's pixel grid.\n\n"
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


class FrameChoice(StrEnum):
    upright = "upright"
    stored = "stored"


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
        FrameChoice,
        typer.Option(
            "--frame",
            help="upright: coordinates on the image as a viewer shows it (EXIF orientation "
            "applied); stored: on the pixels as the file stores them.",
            case_sensitive=False,
            rich_help_panel=PANEL,
        ),
    ] = FrameChoice.upright,
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
    model: common.ModelOpt = None,
    max_tokens: ask_cmd.MaxTokensOpt = DEFAULT_MAX_TOKENS,
    policy: ask_cmd.PolicyOpt = ask_cmd.PolicyChoice.native,
    max_retries: ask_cmd.MaxRetriesOpt = None,
    timeout: ask_cmd.TimeoutOpt = None,
    max_bytes: common.MaxBytesOpt = common.DEFAULT_MAX_BYTES,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Keep the answers in this JSONL results file (appended to); run again to "
            "resume: images answered for the same model and question are not asked again.",
            metavar="FILE",
            dir_okay=False,
            rich_help_panel=ask_cmd.MANY_PANEL,
        ),
    ] = None,
    jobs: ask_cmd.JobsOpt = None,
    rerun: ask_cmd.RerunOpt = False,
    fmt: Annotated[
        LocateFormat,
        typer.Option(
            "--format",
            "-f",
            help="table; json (per image, with its size and boxes); jsonl or csv (one box a "
            "line: path, label, x1, y1, x2, y2, frame).",
            case_sensitive=False,
            rich_help_panel=common.OUTPUT_PANEL,
        ),
    ] = LocateFormat.table,
    json_flag: common.JsonOpt = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Show what would be sent or skipped and the estimate; send nothing (no API key "
            "needed).",
            rich_help_panel=common.OUTPUT_PANEL,
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No summary on stderr.", rich_help_panel=common.OUTPUT_PANEL
        ),
    ] = False,
    files_from: common.FilesFromOpt = None,
    null: common.NullOpt = False,
    exclude: common.ExcludeOpt = None,
    hidden: common.HiddenOpt = False,
    allow_private_urls: common.AllowPrivateUrlsOpt = False,
) -> None:
    from vision_cli import locating, sources
    from vision_cli.asking import preparing
    from vision_cli.bulk import plan
    from vision_cli.client import failures, keys

    if (find is None) == (prompt is None):
        common.usage_error(
            'say what to find with --find (--find "car") or ask with -p, one of the two', "--find"
        )
    text = find if find is not None else prompt
    if not (text or "").strip():
        common.usage_error("the question is empty", "--find" if find is not None else "--prompt")
    selection = common.selection(files_from, null, exclude, hidden, allow_private_urls)
    try:
        items = list(sources.iter_inputs(images or [], selection))
    except sources.UsageError as exc:
        common.usage_error(str(exc))
    if not items:
        common.usage_error("give at least one image, folder, glob, URL or -", "IMAGE")
    the_model = common.resolve_model(model, sending=True)
    settings = preparing.Settings(
        model=the_model,
        model_name=common.model_name(model),
        max_tokens=max_tokens,
        resize_policy="recommended" if policy is ask_cmd.PolicyChoice.recommended else "native",
        source="base64",
        download=True,
        max_bytes=common.max_bytes(max_bytes),
        schema=locating.SCHEMA,
    )
    if output is not None and str(output) == "-":
        common.usage_error("the boxes go to standard output: give --output a file name", "--output")
    if not dry_run and keys.api_key() is None:
        _fail(failures.MISSING_KEY_MESSAGE, ExitStatus.USAGE)
    config = plan.Config(
        settings=settings,
        prompt=locating.question(find, prompt),
        output=output,
        jobs=jobs or plan.DEFAULT_JOBS,
        rerun=rerun,
        max_retries=plan.BULK_MAX_RETRIES if max_retries is None else max_retries,
        timeout=timeout,
        keep_sent=True,
    )
    fmt = LocateFormat.json if json_flag else fmt
    if dry_run:
        _dry_run(items, config, json=fmt is LocateFormat.json, quiet=quiet)
        return
    the_jobs, summary, records = _run(items, config, quiet=quiet)
    located = _collect(the_jobs, records, config, FrameChoice(frame).value)
    _print(located, fmt)
    drawn_failures = _draw(located, draw) if draw is not None else 0
    if not quiet:
        _summary(located, summary, config)
    status = ExitStatus(_status(summary, located))
    if status is ExitStatus.OK and drawn_failures:
        status = ExitStatus.FAILED
    raise typer.Exit(status)


def _fail(message: str, status: ExitStatus) -> NoReturn:
    from vision_cli import render
    from vision_cli.client import keys

    render.error(keys.redact(message))
    raise typer.Exit(status)


def _dry_run(items: list[Any], config: plan.Config, *, json: bool, quiet: bool) -> None:
    from vision_cli.bulk import plan
    from vision_cli.cli import many

    try:
        jobs = plan.read_jobs(items, config.settings, threads=config.jobs, offline=True)
        many.dry_run(jobs, config, batch=False, json=json, quiet=quiet)
    except KeyboardInterrupt:
        _fail("interrupted: nothing was sent", ExitStatus.INTERRUPTED)


def _run(
    items: list[Any], config: plan.Config, *, quiet: bool
) -> tuple[list[plan.Job], EachSummary, list[dict[str, Any]]]:
    """Ask about every image not answered before; the jobs, the summary and every line."""
    from vision_cli import render
    from vision_cli.bulk import plan
    from vision_cli.bulk.each import EachRun
    from vision_cli.bulk.log import ResultsLog
    from vision_cli.bulk.records import OutputError, answered, parse_record, read_records
    from vision_cli.client import keys
    from vision_cli.render import bars

    note = (lambda message: None) if quiet else render.note
    try:
        jobs = plan.read_jobs(items, config.settings, threads=config.jobs)
    except KeyboardInterrupt:
        _fail("interrupted while reading the images: nothing was sent", ExitStatus.INTERRUPTED)
    buffer = io.StringIO()
    log = ResultsLog(config.output, stream=buffer)
    try:
        log.open()
        done = answered(log.entries(), config.settings.model_name, config.prompt_sha256)
        the_plan = plan.plan(jobs, done, rerun=config.rerun)
        if the_plan.skipped:
            note(f"{len(the_plan.skipped):,} answered before: not asked again (--rerun asks)")
        show = render.is_tty(sys.stderr) and not quiet
        with bars.bulk_progress("locating", enabled=show) as update:
            summary = EachRun(config, log, progress=update, note=note).run(the_plan)
    except OutputError as exc:
        _fail(str(exc), ExitStatus.USAGE)
    except KeyboardInterrupt:
        _fail("interrupted before any request was sent", ExitStatus.INTERRUPTED)
    finally:
        log.close()
    if summary.stopped is not None:
        render.error(keys.redact(str(summary.stopped)))
    if summary.write_error is not None:
        render.error(summary.write_error)
    if config.output is not None:
        records, _ = read_records(config.output)
    else:
        parsed = (parse_record(line) for line in buffer.getvalue().splitlines())
        records = [r for r in parsed if r is not None]
    return jobs, summary, records


class _Image:
    """One image of the run: its boxes, or why it has none."""

    def __init__(
        self, job: plan.Job, located: locating.Located | None = None, error: str | None = None
    ) -> None:
        self.job = job
        self.located = located
        self.error = error


def _collect(
    jobs: list[plan.Job], records: list[dict[str, Any]], config: plan.Config, frame: str
) -> list[_Image]:
    from vision_cli import boxes, locating, render
    from vision_cli.bulk.records import latest, model_key

    model = model_key(config.settings.model_name)
    chosen = {
        (k[0], k[1]): r
        for k, r in latest(records).items()
        if k[2] == model and k[3] == config.prompt_sha256
    }
    where: boxes.Frame = "stored" if frame == "stored" else "upright"
    images: list[_Image] = []
    for job in jobs:
        record = chosen.get(job.key) or chosen.get((job.label, None))
        if record is None:
            images.append(_Image(job, error=NOT_ANSWERED))
        elif record.get("error") is not None:
            images.append(_Image(job, error=str(record["error"].get("message"))))
        else:
            try:
                found = locating.found_in(record, where)
            except locating.NotALocateLine as exc:
                images.append(_Image(job, error=str(exc)))
                continue
            for why in found.skipped:
                render.warn(f"{job.label}: {why}")
            images.append(_Image(job, found))
    return images


def _print(images: list[_Image], fmt: LocateFormat) -> None:
    from vision_cli import render
    from vision_cli.cli import many
    from vision_cli.render import tables

    for image in images:
        if image.error is not None and image.error != NOT_ANSWERED:
            render.error(f"{image.job.label}: {image.error}")
    unanswered = sum(image.error == NOT_ANSWERED for image in images)
    if unanswered:
        render.warn(
            f"{many.n_images(unanswered)} not asked: the run stopped first; the same command "
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
        typer.echo(render.dumps({"images": doc}))
        return
    extra = {LocateFormat.table: ["note"], LocateFormat.jsonl: ["note", "clamped"]}
    header = [*COLUMNS, *extra.get(fmt, [])]
    tables.write_rows(fmt.value, header, found, right=("x1", "y1", "x2", "y2"))


def _draw(images: list[_Image], given: str) -> int:
    """Draw every answered image; the number that could not be drawn (each said on stderr).
    ``given`` is OUT as typed (a str: a Path would drop the trailing / that makes it a folder)."""
    from vision_cli import drawing, render
    from vision_cli.asking import preparing

    answered = [i for i in images if i.located is not None]
    labels = [f.label for i in answered if i.located for f in i.located.found]
    palette = drawing.colours(labels)
    out = Path(given)
    folder = out.is_dir() or given.endswith(("/", os.sep)) or len(images) > 1
    used: set[Path] = set()
    failed = 0
    for image in answered:
        assert image.located is not None
        job = image.job
        target = _draw_target(job, out, used) if folder else out
        try:
            source = job.item.path if job.item is not None else None
            if source is not None and target.resolve() == source.resolve():
                raise drawing.DrawError(
                    f"--draw would overwrite the image itself ({target}): choose another OUT"
                )
            data = job.data
            if data is None and job.item is not None:
                data = preparing.read_input(job.item)
            assert data is not None
            pairs = [
                (f.label, box)
                for f, box in zip(image.located.found, image.located.upright, strict=True)
            ]
            drawing.draw(data, pairs, palette, target)
        except (drawing.DrawError, preparing.PreflightError) as exc:
            render.error(f"{job.label}: {exc}")
            failed += 1
    return failed


def _draw_target(job: plan.Job, folder: Path, used: set[Path]) -> Path:
    """``folder/NAME`` for the image: its own name (``stdin.png`` for standard input, the URL's
    last part), with ``-2``, ``-3`` ... when two images share a name."""
    from pathlib import PurePosixPath

    item = job.item
    if item is not None and item.path is not None:
        name = item.path.name
    elif item is not None and item.url is not None:
        name = PurePosixPath(item.url.split("?", 1)[0]).name or "image.png"
    else:
        name = "stdin.png"
    if Path(name).suffix.lower() not in (".jpg", ".jpeg", ".png", ".webp"):
        name = Path(name).stem + ".png"
    target = folder / name
    n = 2
    while target in used:
        target = folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
        n += 1
    used.add(target)
    return target


def _status(summary: EachSummary, images: list[_Image]) -> int:
    if summary.interrupted:
        return ExitStatus.INTERRUPTED
    if summary.stopped is not None:
        return ExitStatus.API
    if any(i.error is not None for i in images) or summary.write_error is not None:
        return ExitStatus.FAILED
    return ExitStatus.OK


def _summary(images: list[_Image], summary: EachSummary, config: plan.Config) -> None:
    from vision_cli import catalog, render
    from vision_cli.cli import many

    count = sum(len(i.located.found) for i in images if i.located)
    failed = sum(i.error is not None for i in images)
    render.note(
        f"{many.n_images(len(images))}: {count:,} boxes, {failed:,} failed, {summary.skipped:,} "
        f"answered before; {summary.input_tokens:,} input and {summary.output_tokens:,} output "
        f"tokens: {render.money(summary.cost_usd)} for {config.settings.model_name} (prices of "
        f"{catalog.load().date})"
    )
    if config.output is not None:
        render.note(f"results: {config.output}")
