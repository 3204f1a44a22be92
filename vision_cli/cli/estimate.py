"""``vision-cli estimate``: tokens and dollars per image, per folder, per model, before sending."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vision_cli import catalog, judging, policy, units
from vision_cli.cli import common, options
from vision_cli.cli.commands import SUMMARY
from vision_cli.exitcodes import EXIT_HELP, ExitStatus
from vision_cli.formats import Format, ReportFormat

if TYPE_CHECKING:
    from vision_cli.environment import Environment
    from vision_cli.estimating.costing import EstimatePlan, EstimateRow
    from vision_cli.judging import Code, Limits
    from vision_cli.policy import Size
    from vision_cli.sources import Selection

#: ``count(data, media_type)``: an image's exact input tokens.
Counter = Callable[[bytes, str], int]
#: Seconds to wait on each step of a token-counting request (connect, send, answer).
COUNT_TIMEOUT = 60.0
PRICING_PANEL = "Pricing"

HELP = (
    SUMMARY["estimate"] + "\n\n"
    "Give image files, folders, globs, URLs or -, and/or --size WxH to plan for sizes without "
    "files. Each image is priced as one request: its tokens at the model's input price, plus "
    "--output-tokens at the output price, halved with --batch. Prices come from the table of "
    f"{catalog.bundled().date} (override them with --price). Images the API would reject are "
    "listed, marked and not priced.\n\n"
    f"{EXIT_HELP} The table still prints when an input has an error; exit 3 only with --exact."
)

EPILOG = """Examples:

  vision-cli estimate --size 1920x1080 --size 4032x3024

  vision-cli estimate --rule legacy --model claude-sonnet-4-5 --size 1000x1000

  vision-cli estimate photos/ --all-models --per 10000

  vision-cli estimate shots/*.png -m claude-opus-4-7 -m claude-haiku-4-5 --batch --json

  vision-cli estimate --size 1568x1568 -m my-model --price my-model=2/10 --tier high-res

  vision-cli estimate scan.png --exact

  vision-cli estimate scans/ --trim
"""


def estimate(
    inputs: options.InputsArg = None,
    size: Annotated[
        list[str] | None,
        typer.Option(
            "--size",
            "-s",
            help="Plan for an image of this size (no file needed). Repeatable.",
            metavar="WxH",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            help=f"Model id, alias or line (default: {options.DEFAULT_MODEL_HELP}, or "
            f"${options.MODEL_ENV}). Repeatable: one cost column each. A retired model is "
            "priced as history.",
            envvar=options.MODEL_ENV,
            autocompletion=options.complete_model,
            show_default=False,
            rich_help_panel=PRICING_PANEL,
        ),
    ] = None,
    all_models: Annotated[
        bool,
        typer.Option(
            "--all-models",
            help="Every active model with a price, side by side (after any --model).",
            rich_help_panel=PRICING_PANEL,
        ),
    ] = False,
    include_retired: Annotated[
        bool,
        typer.Option(
            "--include-retired",
            help="With --all-models: deprecated and retired models too.",
            rich_help_panel=PRICING_PANEL,
        ),
    ] = False,
    price: Annotated[
        list[str] | None,
        typer.Option(
            "--price",
            help="Your price in USD per million tokens, input and optionally output: MODEL=3/15 "
            "prices that model (repeatable); a bare 3/15 prices the only model. A model that is "
            "not in the table is usable with a price.",
            metavar="[MODEL=]INPUT[/OUTPUT]",
            show_default=False,
            rich_help_panel=PRICING_PANEL,
        ),
    ] = None,
    tier: Annotated[
        str | None,
        typer.Option(
            "--tier",
            help="Resize tier of the models that are not in the table: standard (default) or "
            "high-res.",
            metavar="TIER",
            show_default=False,
            rich_help_panel=PRICING_PANEL,
        ),
    ] = None,
    rule: Annotated[
        str,
        typer.Option(
            "--rule",
            help="current: 28 px patches after the model's tier downscale (as the API does "
            "today). legacy: the older ceil(w*h/750) of Anthropic's earlier guide, to reproduce "
            "its tables.",
            metavar="current|legacy",
            rich_help_panel=PRICING_PANEL,
        ),
    ] = "current",
    per: Annotated[
        int,
        typer.Option(
            "--per",
            help="The 'per N images' column.",
            min=1,
            metavar="N",
            rich_help_panel=PRICING_PANEL,
        ),
    ] = 1000,
    batch: Annotated[
        bool,
        typer.Option(
            "--batch",
            help="Message Batches prices (50% off input and output).",
            rich_help_panel=PRICING_PANEL,
        ),
    ] = False,
    output_tokens: Annotated[
        int,
        typer.Option(
            "--output-tokens",
            help="Expected answer length per request, added at the output price.",
            min=0,
            metavar="N",
            rich_help_panel=PRICING_PANEL,
        ),
    ] = 0,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact",
            help="Also ask the API's token-counting endpoint for each image (needs "
            "ANTHROPIC_API_KEY; counting is free) and show the difference.",
        ),
    ] = False,
    max_bytes: options.MaxBytesOpt = options.DEFAULT_MAX_BYTES,
    ignore: options.IgnoreOpt = None,
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
    # lazy: start-up, --help imports none of these
    from vision_cli import sources
    from vision_cli.cli import groups
    from vision_cli.estimating import choosing, costing, counting, tallying
    from vision_cli.render.estimate import EstimateReport

    env = common.env()
    given = groups.input_options(
        inputs, files_from, null, exclude, hidden, allow_private_urls, clipboard
    )
    chosen = common.output_format(fmt, json_flag)
    try:
        the_rule = policy.parse_rule(rule)
    except ValueError as exc:
        common.usage_error(f"{rule!r} is not a rule: {exc}", "--rule")
    sizes: list[policy.Size] = []
    for text in size or ():
        try:
            sizes.append(units.parse_size(text))
        except ValueError as exc:
            common.usage_error(str(exc), "--size")
    if not given.inputs and files_from is None and not sizes:
        common.usage_error(
            "give at least one image, folder, glob, URL or -, or a size with --size WxH", "INPUTS"
        )
    common.warn_foreign_cache()
    cat = catalog.load()
    try:
        specs = [choosing.parse_price(p) for p in price or ()]
        models = choosing.choose_models(
            model or (),
            all_models=all_models,
            prices=specs,
            tier=tier,
            output_tokens=output_tokens,
            cat=cat,
            include_retired=include_retired,
            configured=frozenset(p for p in ("price", "tier") if common.configured(p)),
        )
    except choosing.PlanError as exc:
        hint = exc.param
        if hint == "--model":
            hint += common.from_environment("model")
        common.usage_error(str(exc), hint)
    if include_retired and not all_models:
        common.usage_error("--include-retired goes with --all-models", "--include-retired")
    for index, m in enumerate(models):  # those named (--include-retired lists them knowingly)
        if m.model is not None and m.name in (model or [common.model_name(None)]):
            # --exact asks the API about the first model: a retired one would only get a 404
            common.note_lifecycle(m.model, sending=exact and index == 0)
    savers = groups.SaverOptions(snap, snap_max, tile, tile_overlap, trim, trim_fuzz)
    plan = costing.EstimatePlan(
        models=models,
        rule=the_rule,
        batch=batch,
        per=per,
        output_tokens=output_tokens,
        prices_date=cat.date,
        prices_source=cat.source,
        exact=exact,
        snap_max=savers.snap_share(),
        tile=savers.tile_spec(),
        trim_fuzz=savers.trim_level(),
    )
    lim = judging.Limits(tier=models[0].tier, max_bytes=common.max_bytes(max_bytes))
    ignored = common.ignored_codes(ignore)
    try:
        sources.check_arguments(given.inputs, given.selection)
    except sources.UsageError as exc:
        common.input_error(exc)

    counter = _exact_counter(models[0].name) if exact else None  # no key: stop before any work
    report = EstimateReport(chosen, plan, stream=env.stdout)
    tally = tallying.EstimateTally(plan)
    machine = chosen not in (Format.table, Format.markdown)  # those list rejections themselves

    def emit(row: EstimateRow) -> None:
        tally.add(row)
        report.add(row)
        if machine:  # the table lists them itself
            for f in row.errors:
                common.error(f"{f.code.value} ({row.path}): {f.message}")

    try:
        with counting.scratch_folder() if counter else contextlib.nullcontext("") as scratch:
            produced = _rows(
                given.inputs,
                given.selection,
                sizes,
                plan,
                lim,
                ignored,
                Path(scratch) if scratch else None,
                env,
            )
            if counter is None:
                for row, _ in produced:
                    emit(row)
            else:
                pairs = list(produced)
                rows = [r for r, _ in pairs]
                for row in _count(rows, [p for _, p in pairs], counter, env):
                    emit(row)
    except sources.UsageError as exc:
        common.input_error(exc)
    totals = tally.totals()
    report.finish(totals)
    raise typer.Exit(ExitStatus.FAILED if totals.errors else ExitStatus.OK)


def _exact_counter(model: str) -> Counter:
    """``count(data, media_type)`` against the API for ``model``; exits 2 without a key, before
    any input is read or any request is made."""
    # lazy: start-up, --help imports none of these
    from vision_cli.client import connect, failures, keys, messages

    try:
        # a count is small and quick: a stalled connection should not hold the run for minutes
        api = connect.make_client(timeout=COUNT_TIMEOUT, vars=common.env().vars)
    except failures.BadKeyError as exc:
        common.error(str(exc))
        raise typer.Exit(ExitStatus.USAGE) from None
    except failures.MissingKeyError:
        common.error(
            f"{keys.API_KEY_ENV} is not set: --exact asks the API's token-counting endpoint, "
            "which needs your API key (export it); without --exact the estimate needs no key."
        )
        raise typer.Exit(ExitStatus.USAGE) from None
    except failures.SetupError as exc:
        common.error(str(exc))
        raise typer.Exit(ExitStatus.USAGE) from None

    def count(data: bytes, media_type: str) -> int:
        return messages.count_image_tokens(api, model, data, media_type)

    return count


def _rows(
    inputs: list[str],
    sel: Selection,
    sizes: list[Size],
    plan: EstimatePlan,
    lim: Limits,
    ignored: frozenset[Code],
    scratch: Path | None,
    env: Environment,
) -> Iterator[tuple[EstimateRow, Path | None]]:
    """Each input's row (checked as ``inspect`` checks it), then each ``--size``'s, with the file
    holding the image (for ``--exact``, URL and standard-input images are kept in ``scratch``)."""
    # lazy: start-up, --help imports none of these
    from vision_cli import sources
    from vision_cli.estimating import costing, counting
    from vision_cli.render import bars

    if inputs or sel.files_from is not None:
        from vision_cli import inspecting  # lazy: start-up, Pillow: only when there are files
        from vision_cli.estimating import trimming  # lazy: start-up, Pillow
        from vision_cli.limits import PIXEL_BUDGET

        items = sources.iter_inputs(inputs, sel, env.stdin_bytes)
        if scratch is not None:
            items = counting.materialize(
                items, scratch, cap=2 * lim.max_bytes, stdin=env.stdin_bytes
            )
        opts = inspecting.CheckOptions(model=plan.models[0].name, limits=lim, ignore=ignored)
        show = env.stderr_isatty and not env.stdout_isatty
        with bars.progress(None, "estimating", enabled=show, stream=env.stderr) as advance:
            for item, record, data, _ in inspecting.check_all(items, opts, stdin=env.stdin_bytes):
                path = item.path if isinstance(item, sources.Input) else None
                if plan.trim_fuzz is None:
                    yield costing.row_from_record(record, plan), path
                else:
                    yield trimming.trimmed_row(item, record, data, plan, PIXEL_BUDGET), path
                advance(1)
    for size in sizes:
        yield costing.row_from_size(size, plan, lim, ignored), None


def _count(
    rows: Sequence[EstimateRow], paths: Sequence[Path | None], counter: Counter, env: Environment
) -> list[EstimateRow]:
    """Exact counts, or exit 3 on the first API failure (nothing is printed on stdout then)."""
    # lazy: start-up, --help imports none of these
    from vision_cli.client import failures
    from vision_cli.estimating import counting
    from vision_cli.render import bars

    todo = sum(counting.countable(r, p) for r, p in zip(rows, paths, strict=True))
    try:
        with bars.progress(todo, "counting", enabled=env.stderr_isatty, stream=env.stderr) as step:
            return counting.count_exact(rows, paths, counter, advance=step)
    except failures.APIFailure as exc:
        common.error(f"token counting failed: {exc}")
        raise typer.Exit(ExitStatus.API) from None
    except OSError as exc:
        common.error(f"cannot read an image again for --exact ({exc}): check that it still exists.")
        raise typer.Exit(ExitStatus.FAILED) from None
