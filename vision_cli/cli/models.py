"""``vision-cli models``: every model vision-cli knows, what it costs, and whether it is served."""

from __future__ import annotations

from typing import Annotated

import typer

from vision_cli import catalog
from vision_cli.cli import common, options
from vision_cli.cli.commands import SUMMARY
from vision_cli.exitcodes import ExitStatus
from vision_cli.formats import ModelsFormat

HELP = (
    SUMMARY["models"] + "\n\n"
    "Nothing is fetched unless you ask: --refresh asks the Models API (needs "
    "ANTHROPIC_API_KEY) and keeps what it says in the cache folder ($VISION_CLI_CACHE_DIR, or "
    "the platform's user cache folder); every command then uses it. A model only the API knows "
    "becomes usable: its tier from the documented rule (models released after Claude Opus 4.7 "
    "are high-res), its price unknown until you give one with --price.\n\n"
    "Exit status: 0 listed; 1 the cache folder could not be written; 2 usage error (an unknown "
    "MODEL, a missing ANTHROPIC_API_KEY with --refresh); 3 API or network error."
)

EPILOG = """Examples:

  vision-cli models

  vision-cli models sonnet

  vision-cli models --refresh

  vision-cli models --include-retired --format csv > models.csv

  vision-cli models --json | jq -r '.models[] | select(.lifecycle == "active") | .id'
"""


def models(
    model: Annotated[
        str | None,
        typer.Argument(
            help="Show this model only (an id, an alias or a line: sonnet).",
            metavar="MODEL",
            show_default=False,
        ),
    ] = None,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh",
            help="Ask the Models API which models it serves (retired ones included) and keep "
            "its answer in the cache folder.",
        ),
    ] = False,
    include_retired: Annotated[
        bool,
        typer.Option("--include-retired", help="List retired models too."),
    ] = False,
    fmt: Annotated[
        ModelsFormat,
        typer.Option(
            "--format",
            "-f",
            help="Output format.",
            case_sensitive=False,
            rich_help_panel=options.OUTPUT_PANEL,
        ),
    ] = ModelsFormat.table,
    json_flag: options.JsonOpt = False,
) -> None:
    # lazy: start-up, --help imports none of these
    from vision_cli.render.models import write_models

    common.one_format(fmt, json_flag)
    chosen = ModelsFormat.json if json_flag else fmt
    if refresh:
        _refresh()
    problem = catalog.cache_problem()
    if catalog.foreign_cache() is not None:
        common.warn_foreign_cache()
    elif problem is not None:
        common.warn(
            f"the cache {catalog.cache_path()} cannot be used ({problem}): the bundled table is "
            "shown; `vision-cli models --refresh` writes it again"
        )
    cat = catalog.load()
    if model is not None:
        try:
            shown = [catalog.resolve(model)]
        except catalog.UnknownModelError as exc:
            common.usage_error(str(exc), "MODEL")
    else:
        shown = [m for m in cat.models if include_retired or not m.retired]
    write_models(common.env().stdout, chosen, shown, cat, one=model is not None)


def _refresh() -> None:
    """Ask the Models API and keep its answer (exit 2 without a key, 3 when it fails)."""
    # lazy: start-up, --help imports none of these
    from vision_cli.client import connect, failures, keys, messages

    env = common.env()
    foreign = catalog.foreign_cache()
    if foreign is not None:  # before anything is asked: its answer could not be kept
        common.error(f"could not keep the list in the cache folder: {foreign}")
        raise typer.Exit(ExitStatus.FAILED)
    try:
        api = connect.make_client(vars=env.vars)
        listed = messages.list_models(api)
    except failures.MissingKeyError as exc:
        said = str(exc)
        if not isinstance(exc, failures.BadKeyError):  # nothing to send: no dry run to offer
            said = f"{failures.NO_KEY_MESSAGE}; `vision-cli models` shows the bundled table"
        common.error(said)
        raise typer.Exit(ExitStatus.USAGE) from None
    except failures.APIFailure as failure:
        common.error(f"the Models API failed: {failure}")
        raise typer.Exit(ExitStatus.API) from None
    table = catalog.bundled()
    merged = catalog.merge(table, {"models": listed})
    # what the note offers must be usable: new to the table (only the refresh knows it), not
    # retired, and an id (merge leaves out the others)
    # (nor one whose lifecycle vision-cli does not know: it is kept out of line names)
    new = [
        m.id
        for m in merged.models
        if m.source == "refresh" and not m.retired and m.unknown_lifecycle is None
    ]
    left_out = sum(1 for entry in listed if not catalog.plausible_id(entry.get("id")))
    try:
        path = catalog.store_refresh(listed, keys.base_url(env.vars), fetched_at=env.now())
    except OSError as exc:
        common.error(f"could not keep the list in the cache folder ({exc})")
        raise typer.Exit(ExitStatus.FAILED) from None
    dropped = f" ({left_out:,} left out: their ids are not model ids)" if left_out else ""
    common.note(
        f"{len(listed) - left_out} models from the Models API at {keys.base_url(env.vars)}, "
        f"kept in {path}{dropped}"
    )
    if new:
        common.note(
            f"not in the table of {table.date}: {', '.join(new)}; usable now by name, with the "
            "tier the vision page's rule gives (`vision-cli models` shows it) and no known "
            "price: give one with --price MODEL=INPUT/OUTPUT. The default stays the newest "
            f"{table.default_line.capitalize()} with a price."
        )
