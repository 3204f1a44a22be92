"""``vision-cli resize``: apply the size policy locally, safely and fast, over many files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from vision_cli.cli import common, options
from vision_cli.cli.commands import SUMMARY
from vision_cli.exitcodes import EXIT_HELP, ExitStatus
from vision_cli.formats import Format, ReportFormat, Target

HELP = "\n\n".join(
    (
        SUMMARY["resize"],
        "By default each image is brought within Anthropic's recommendation (1568 px, 1.15 "
        "megapixels), which no model shrinks again; --model targets that model's "
        "exact native size instead. EXIF orientation is applied to the pixels, metadata is "
        "dropped, colour profiles are converted to sRGB, animations keep their first frame, and "
        "the output fits --max-bytes of base64. An image that already complies is copied byte "
        "for byte.",
        "Writes into --out DIR (mirroring the folders given) or --in-place; nothing appears under "
        "a final name until it is complete, and no input is ever overwritten by another's output.",
        f"{EXIT_HELP} For resize, 1 means at least one input produced no output.",
    )
)

EPILOG = """Examples:

  vision-cli resize photos/ --out small/

  vision-cli resize shots/*.png --in-place --backup .orig

  vision-cli resize scans/ --out ready/ --model claude-opus-4-7 --to jpeg --dry-run

  find . -name '*.heic' -print0 | vision-cli resize --files-from - -0 --out out/ --json
"""

POLICY_PANEL = "Size policy"
ENCODING_PANEL = "Encoding"
WRITING_PANEL = "Writing"


def resize(
    inputs: options.InputsArg = None,
    out: Annotated[
        str | None,  # text: an empty one (``--out ''``) would become ``.`` as a Path
        typer.Option(
            "--out",
            "-o",
            help="Write outputs into DIR, mirroring the tree below each folder argument.",
            metavar="DIR",
            rich_help_panel=WRITING_PANEL,
        ),
    ] = None,
    in_place: Annotated[
        bool,
        typer.Option(
            "--in-place",
            help="Replace each input (a changed format gets its new extension; the original is "
            "removed once the new file is complete).",
            rich_help_panel=WRITING_PANEL,
        ),
    ] = False,
    max_edge: Annotated[
        int | None,
        typer.Option(
            "--max-edge",
            min=1,
            metavar="PX",
            help="Longest edge at most PX (default 1568, or the model's native edge).",
            rich_help_panel=POLICY_PANEL,
            show_default=False,
        ),
    ] = None,
    max_megapixels: Annotated[
        float | None,
        typer.Option(
            "--max-megapixels",
            callback=common.finite,
            min=0.001,
            metavar="MP",
            help="At most MP million pixels (default 1.15; none with --model).",
            rich_help_panel=POLICY_PANEL,
            show_default=False,
        ),
    ] = None,
    model: options.ModelOpt = None,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-tokens",
            min=1,
            metavar="N",
            help="At most N tokens per image under the patch rule (28 x 28 px per token).",
            rich_help_panel=POLICY_PANEL,
            show_default=False,
        ),
    ] = None,
    to: Annotated[
        Target,
        typer.Option(
            "--to",
            case_sensitive=False,
            help="Output format: auto keeps JPEG, PNG and WebP, and makes PNG (transparency or "
            "few colours) or JPEG of the rest.",
            rich_help_panel=ENCODING_PANEL,
        ),
    ] = Target.auto,
    quality: Annotated[
        int | None,
        typer.Option(
            "--quality",
            min=1,
            max=100,
            help="JPEG or WebP quality to start from (default: JPEG 85, WebP 80); lowered step "
            "by step when an image is over --max-bytes.",
            rich_help_panel=ENCODING_PANEL,
            show_default=False,
        ),
    ] = None,
    max_bytes: options.MaxBytesOpt = options.DEFAULT_MAX_BYTES,
    reencode: Annotated[
        bool,
        typer.Option(
            "--reencode",
            help="Re-encode images that already comply too (for example to drop metadata).",
            rich_help_panel=ENCODING_PANEL,
        ),
    ] = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Decode every image first (as inspect --verify), so that nothing damaged is "
            "copied.",
            rich_help_panel=ENCODING_PANEL,
        ),
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Replace existing output (and backup) files; inputs are never overwritten.",
            rich_help_panel=WRITING_PANEL,
        ),
    ] = False,
    skip_existing: Annotated[
        bool,
        typer.Option(
            "--skip-existing",
            help="With --out: an output that exists and is newer than its input is skipped "
            "(a resize step in make or CI redoes only what changed).",
            rich_help_panel=WRITING_PANEL,
        ),
    ] = False,
    backup: Annotated[
        str | None,
        typer.Option(
            "--backup",
            metavar="SUFFIX",
            help="With --in-place: keep each changed original as NAME+SUFFIX (e.g. .orig).",
            rich_help_panel=WRITING_PANEL,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            "-n",
            help="Do everything but write: print the plan.",
            rich_help_panel=WRITING_PANEL,
        ),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            max=options.MAX_JOBS,
            metavar="N",
            help="Worker processes (default: the number of CPUs).",
            show_default=False,
        ),
    ] = None,
    fmt: options.ReportFormatOpt = ReportFormat.table,
    json_flag: options.JsonOpt = False,
    files_from: options.FilesFromOpt = None,
    null: options.NullOpt = False,
    exclude: options.ExcludeOpt = None,
    hidden: options.HiddenOpt = False,
    allow_private_urls: options.AllowPrivateUrlsOpt = False,
    clipboard: options.ClipboardOpt = False,
    snap: options.SnapOpt = False,
    snap_max: options.SnapMaxOpt = options.DEFAULT_SNAP_MAX,
    tile: options.TileOpt = None,
    tile_overlap: options.TileOverlapOpt = None,
    trim: options.TrimOpt = False,
    trim_fuzz: options.TrimFuzzOpt = options.DEFAULT_TRIM_FUZZ,
) -> None:
    # lazy: start-up, these import Pillow
    from vision_cli import sources, workers
    from vision_cli.cli import groups
    from vision_cli.render.bars import progress
    from vision_cli.render.resize import ResizeReport
    from vision_cli.resizing import runner, summary

    env = common.env()
    given = groups.input_options(
        inputs, files_from, null, exclude, hidden, allow_private_urls, clipboard
    )
    chosen = common.output_format(fmt, json_flag)
    out_dir = _check_destination(out, in_place, backup, given.inputs)
    if skip_existing and in_place:
        common.usage_error("--skip-existing goes with --out DIR", "--skip-existing")
    the_model = common.resolve_model(model)
    if not given.inputs and files_from is None:
        common.usage_error("give at least one image, folder, glob, URL or -", "INPUTS")
    if in_place and any(
        a in (sources.STDIN, sources.CLIPBOARD) or sources.is_url(a) for a in given.inputs
    ):
        common.usage_error(
            "standard input, the clipboard and URLs cannot be resized in place: use --out DIR"
        )
    savers = groups.SaverOptions(snap, snap_max, tile, tile_overlap, trim, trim_fuzz)
    if in_place and tile is not None:
        common.usage_error(
            "--tile writes new files (NAME.tile-01.jpg ...): use --out DIR", "--tile"
        )
    size_policy, notes = summary.size_policy_for(
        the_model.tier,
        native=model is not None,
        max_edge=max_edge,
        max_megapixels=max_megapixels,
        max_tokens=max_tokens,
    )
    opts = summary.ResizeOptions(
        size_policy=size_policy._replace(snap_max=savers.snap_share()),
        tile=savers.tile_spec(),
        trim_fuzz=savers.trim_level(),
        tier=the_model.tier,
        out=out_dir,
        to=to,
        quality=quality,
        max_bytes=common.max_bytes(max_bytes),
        reencode=reencode,
        overwrite=overwrite,
        backup=backup,
        dry_run=dry_run,
        jobs=jobs or workers.cpus(),
        skip_existing=skip_existing,
        verify=verify,
    )
    try:
        items = sources.collect(given.inputs, given.selection, env.stdin_bytes)
    except sources.UsageError as exc:
        common.input_error(exc)
    for note in notes:
        common.warn(note)

    table_on_terminal = chosen is Format.table and env.stdout_isatty
    # A table on a terminal goes to sys.stdout as it is at each write: the progress bar (rich)
    # points sys.stdout past itself while it runs, so rows and bar do not tear each other.
    report = ResizeReport(chosen, stream=None if table_on_terminal else env.stdout)
    totals = summary.ResizeTotals(common.model_name(model), the_model.input_price, dry_run=dry_run)
    show_progress = env.stderr_isatty and (table_on_terminal or not env.stdout_isatty)
    interrupted = False
    try:
        with (
            runner.run(items, opts, stdin=env.stdin_bytes) as outcomes,
            progress(len(items), "resizing", enabled=show_progress, stream=env.stderr) as advance,
        ):
            for outcome in outcomes:
                totals.add(outcome)
                report.add(outcome)
                advance(1)
    except KeyboardInterrupt:
        interrupted = True
    report.finish(totals, interrupted=interrupted)
    if interrupted:
        raise typer.Exit(ExitStatus.INTERRUPTED)
    raise typer.Exit(ExitStatus.FAILED if totals.failed else ExitStatus.OK)


def _check_destination(
    text: str | None, in_place: bool, backup: str | None, inputs: Sequence[str]
) -> Path | None:
    """The folder ``--out`` names (None with ``--in-place``), or a usage error."""
    if (text is None) != in_place:
        common.usage_error("give exactly one of --out DIR and --in-place", "--out / --in-place")
    if text == "-":
        common.usage_error("resize writes files: give --out a folder (- is not one)", "--out")
    if text == "":  # an unset variable (--out "$DIR"): not the current folder, which is "."
        common.usage_error("the folder is empty: give one (. for the current folder)", "--out")
    out = Path(text) if text is not None else None
    if out is not None and out.exists() and not out.is_dir():
        common.usage_error(f"{out} is not a folder", "--out")
    from vision_cli import sources  # lazy: start-up, --help imports none of these

    folder = sources.input_folder_at(inputs, out) if out is not None else None
    if folder is not None:
        common.usage_error(
            f"{out} holds the inputs ({folder}): their outputs would land beside them "
            "(and a converted one be read as an input next time); use --in-place to replace "
            "them, or --out another folder",
            "--out",
        )
    if backup is not None:
        if not in_place:
            common.usage_error("--backup goes with --in-place", "--backup")
        if not backup or "/" in backup or os.sep in backup or backup in (".", ".."):
            common.usage_error("the suffix must be a non-empty part of a file name", "--backup")
    return out
