"""``vision-cli models``'s output: each model as ``--json`` shows it, and the table, Markdown
and CSV drawn from those records."""

from __future__ import annotations

from typing import Any, TextIO

from vision_cli import catalog
from vision_cli.formats import ModelsFormat
from vision_cli.render.output import csv_writer, dumps
from vision_cli.render.tables import simple_table
from vision_cli.render.text import csv_cell, md_code, md_table

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
    "unknown_lifecycle",
)


def write_models(
    out: TextIO,
    fmt: ModelsFormat,
    shown: list[catalog.Model],
    cat: catalog.Catalog,
    *,
    one: bool,
) -> None:
    """The models ``shown`` on ``out`` in ``fmt``; ``one``: a single model was asked for (its
    JSON is the record alone)."""
    records = [record(m, cat) for m in shown]
    if fmt is ModelsFormat.json:
        doc: dict[str, Any] = records[0] if one else _document(cat, records)
        out.write(dumps(doc) + "\n")
    elif fmt is ModelsFormat.csv:
        _csv(out, records)
    elif fmt is ModelsFormat.markdown:
        listed = ([r["id"], *_cells(r)] for r in records)
        cells = [
            [
                md_code(c) if h in _FROM_API and c != "-" else c
                for h, c in zip(_HEADERS, row, strict=True)
            ]
            for row in listed
        ]
        out.write(md_table(_HEADERS, cells))
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
#: The columns a refresh fills from the Models API's answer: code spans in Markdown, as every
#: text from outside is (:func:`vision_cli.render.text.md_code`).
_FROM_API = {"id", "aliases", "line", "lifecycle"}


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
        # what a refresh said when vision-cli does not know it: the value (``sunset``),
        # ``missing`` or ``unreadable``; the model is then kept as ``deprecated``
        "unknown_lifecycle": None
        if m.unknown_lifecycle is None
        else m.unknown_lifecycle.strip("'"),
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
    if r["unknown_lifecycle"] is not None:
        life += f" (API: {r['unknown_lifecycle']})"
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


def _csv(out: TextIO, records: list[dict[str, Any]]) -> None:
    """Each cell with the formula guard every CSV has: ids and lifecycles can come from a
    refresh. (Not a :class:`~vision_cli.render.output.RecordWriter`: ``output`` is a price
    here, not a file name with a ``_bytes`` column.)"""
    writer = csv_writer(out, COLUMNS)
    writer.writeheader()
    for r in records:
        tier, prices = r["tier"], r["prices"]
        row = {
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
            "unknown_lifecycle": r["unknown_lifecycle"] or "",
        }
        writer.writerow({k: csv_cell(v) for k, v in row.items()})


def _footer(cat: catalog.Catalog) -> list[str]:
    fetched = (
        f"; Models API refreshed {cat.fetched_at}"
        if cat.fetched_at
        else "; never refreshed (--refresh asks the Models API)"
    )
    return [
        f"Table of {cat.date}{fetched}. Prices: USD per million tokens; batch: Message Batches "
        "(50% off). Default model: "
        + cat.default
        + " (the newest active Sonnet with a known price).",
    ]
