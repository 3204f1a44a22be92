"""``vision-cli models``: every model vision-cli knows, what it costs, and whether it is served."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vision_cli import catalog
from vision_cli.cli import common, options
from vision_cli.cli.commands import SUMMARY
from vision_cli.exitcodes import ExitStatus
from vision_cli.formats import ModelsFormat

if TYPE_CHECKING:
    from vision_cli import catalog

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

COLUMNS = (
    "id",
    "aliases",
    "line",
    "tier",
    "max_edge",
    "max_tokens",
    "images_per_request",
    "input",
    "output",
    "batch_input",
    "batch_output",
    "lifecycle",
    "deprecated_at",
    "retires_at",
    "replacement",
    "source",
    "tier_source",
    "price_source",
)


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
    from vision_cli import render
    from vision_cli.render.tables import simple_table
    from vision_cli.render.text import md_table

    chosen = ModelsFormat.json if json_flag else fmt
    if refresh:
        _refresh()
    cat = catalog.load()
    if model is not None:
        try:
            shown = [catalog.resolve(model)]
        except catalog.UnknownModelError as exc:
            common.usage_error(str(exc), "MODEL")
    else:
        shown = [m for m in cat.models if include_retired or not m.retired]
    records = [record(m, cat) for m in shown]
    out = sys.stdout
    if chosen is ModelsFormat.json:
        doc: dict[str, Any] = records[0] if model is not None else _document(cat, records)
        out.write(render.dumps(doc) + "\n")
    elif chosen is ModelsFormat.csv:
        _csv(records)
    elif chosen is ModelsFormat.markdown:
        rows = [[r["id"], *_cells(r)] for r in records]
        out.write(md_table(_HEADERS, rows))
        out.write("\n" + "  \n".join(_footer(cat)) + "\n")
    else:
        rows = [[r["id"], *_cells(r)] for r in records]
        simple_table(out, _HEADERS, rows, _footer(cat), right=_RIGHT)


_HEADERS = [
    "id",
    "aliases",
    "line",
    "tier",
    "images",
    "input",
    "output",
    "batch",
    "lifecycle",
    "source",
]
_RIGHT = {"images", "input", "output", "batch"}


def _refresh() -> None:
    """Ask the Models API and keep its answer (exit 2 without a key, 3 when it fails)."""
    # lazy: start-up, --help imports none of these
    from vision_cli import render
    from vision_cli.client import connect, failures, keys, messages

    try:
        api = connect.make_client()
        listed = messages.list_models(api)
    except failures.MissingKeyError as exc:
        render.error(str(exc).replace("--dry-run", "`vision-cli models` without --refresh"))
        raise typer.Exit(ExitStatus.USAGE) from None
    except failures.APIFailure as failure:
        render.error(f"the Models API failed: {failure}")
        raise typer.Exit(ExitStatus.API) from None
    table = catalog.bundled()
    new = []
    for entry in listed:
        try:
            table.get(str(entry["id"]))
        except KeyError:
            new.append(str(entry["id"]))
    try:
        path = catalog.store_refresh(listed, keys.base_url())
    except OSError as exc:
        render.error(f"could not keep the list in the cache folder ({exc})")
        raise typer.Exit(ExitStatus.FAILED) from None
    render.note(f"{len(listed)} models from the Models API at {keys.base_url()}, kept in {path}")
    if new:
        render.note(
            f"not in the table of {table.date}: {', '.join(new)}; usable now, with the tier of "
            f"the {catalog.TIER_RULE.removeprefix('rule: ')} rule and no price (give one with "
            "--price MODEL=INPUT/OUTPUT)"
        )


def record(m: catalog.Model, cat: catalog.Catalog) -> dict[str, Any]:
    """One model, as ``--json`` shows it."""
    aliases = list(m.aliases)
    if m.line is not None and cat.newest(m.line) == m:
        aliases.append(m.line)
    batch = m.prices(batch=True) if m.priced else (None, None)
    step = m.long_context
    other = cat.replacement(m) if m.lifecycle != "active" else None
    return {
        "id": m.id,
        "name": m.name,
        "aliases": aliases,
        "line": m.line,
        "tier": {
            "name": m.tier.name,
            "max_edge": m.tier.max_edge,
            "max_tokens": m.tier.max_tokens,
            "source": m.tier_source,
        },
        "context_window": m.context_window,
        "images_per_request": m.images_per_request,
        "prices": {
            "input": m.input_price,
            "output": m.output_price,
            "batch_input": batch[0],
            "batch_output": batch[1],
            "long_context": None
            if step is None
            else {
                "over_input_tokens": step.over_input_tokens,
                "input": step.input_price,
                "output": step.output_price,
            },
            "source": m.price_source,
        },
        "lifecycle": m.lifecycle,
        "deprecated_at": m.deprecated_at.isoformat() if m.deprecated_at else None,
        "retires_at": m.retires_at.isoformat() if m.retires_at else None,
        "replacement": other.id if other is not None else None,
        "source": m.source,
    }


def _document(cat: catalog.Catalog, records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "table_date": cat.date,
        "table_source": cat.source,
        "fetched_at": cat.fetched_at,
        "default": cat.default,
        "models": records,
    }


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:g}"


def _cells(r: dict[str, Any]) -> list[str]:
    tier = r["tier"]
    prices = r["prices"]
    inp, out = _usd(prices["input"]), _usd(prices["output"])
    step = prices["long_context"]
    if step is not None:
        over = f" (>{step['over_input_tokens'] // 1000}K: "
        inp += over + f"${step['input']:g})"
        out += over + f"${step['output']:g})"
    batch = "-"
    if prices["batch_input"] is not None:
        batch = f"{_usd(prices['batch_input'])}/{_usd(prices['batch_output'])}"
    life = r["lifecycle"]
    if r["retires_at"]:
        life += f" {'on' if life == 'retired' else 'retires'} {r['retires_at']}"
    if r["replacement"]:
        life += f" -> {r['replacement']}"
    source = r["source"]
    if tier["source"] != "table":
        source += f"; tier by {tier['source']}"
    if prices["source"] == "unknown":
        source += "; no price"
    return [
        ", ".join(r["aliases"]) or "-",
        r["line"] or "-",
        f"{tier['name']} {tier['max_edge']} px / {tier['max_tokens']:,} tok",
        str(r["images_per_request"]),
        inp,
        out,
        batch,
        life,
        source,
    ]


def _csv(records: list[dict[str, Any]]) -> None:
    import csv

    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in records:
        tier, prices = r["tier"], r["prices"]
        writer.writerow(
            {
                "id": r["id"],
                "aliases": " ".join(r["aliases"]),
                "line": r["line"] or "",
                "tier": tier["name"],
                "max_edge": tier["max_edge"],
                "max_tokens": tier["max_tokens"],
                "images_per_request": r["images_per_request"],
                "input": prices["input"],
                "output": prices["output"],
                "batch_input": prices["batch_input"],
                "batch_output": prices["batch_output"],
                "lifecycle": r["lifecycle"],
                "deprecated_at": r["deprecated_at"] or "",
                "retires_at": r["retires_at"] or "",
                "replacement": r["replacement"] or "",
                "source": r["source"],
                "tier_source": tier["source"],
                "price_source": prices["source"],
            }
        )


def _footer(cat: catalog.Catalog) -> list[str]:
    fetched = (
        f"; Models API refreshed {cat.fetched_at}"
        if cat.fetched_at
        else "; never refreshed (--refresh asks the Models API)"
    )
    return [
        f"Table of {cat.date}{fetched}. Prices: USD per million tokens; batch: Message Batches "
        "(50% off). Default model: " + cat.default + " (the newest active Sonnet).",
    ]
