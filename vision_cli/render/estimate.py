"""``estimate``'s output: a grid per image with a column pair per model (or, when that does not
fit, the images' sizes and then a row per model), JSON, JSONL, CSV and Markdown."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from vision_cli.estimating.costing import EstimatePlan, EstimateRow
from vision_cli.estimating.counting import exact_difference
from vision_cli.estimating.tallying import EstimateTotals
from vision_cli.formats import Format
from vision_cli.render.output import RecordWriter, is_tty
from vision_cli.render.tables import Grid, available_width
from vision_cli.render.text import md_code, md_table, money, plural, visible


def estimate_csv_columns(plan: EstimatePlan) -> list[str]:
    """``path, status, codes, width, height, api_width, api_height, tokens[, exact_tokens]``, then
    ``cost_<model>`` (USD per image) for each model."""
    cols = ["path", "status", "codes", "width", "height", "api_width", "api_height", "tokens"]
    if plan.exact:
        cols.append("exact_tokens")
    if plan.tile is not None:
        cols += ["tiles", "whole_tokens"]
    if plan.trim_fuzz is not None:
        cols += ["trim", "untrimmed_tokens"]
    return cols + [f"cost_{name}" for name in plan.names]


def _estimate_csv_row(row: EstimateRow, plan: EstimatePlan) -> dict[str, Any]:
    doc = row.as_dict(plan)
    out = {k: v for k, v in doc.items() if k != "costs"}
    out["status"] = row.status
    out["codes"] = ";".join(f.code.value for f in row.findings)
    for name, usd in doc["costs"].items():
        out[f"cost_{name}"] = usd
    return out


def estimate_footer(plan: EstimatePlan, totals: EstimateTotals) -> list[str]:
    """The lines under the table: where the prices come from, the rule, batch or not."""
    lines = [f"Prices: USD per million tokens, table of {plan.prices_date} ({plan.prices_source})."]
    for m in plan.models:
        if m.overridden:
            out = f", ${m.output_price:g} output" if m.output_price is not None else ""
            extra = "" if m.known else f", not in the table: {m.tier.name} tier assumed"
            lines.append(f"  {m.name}: your --price, ${m.input_price:g} input{out}{extra}.")
        step = m.long_context
        if step is not None:
            lines.append(
                f"  {m.name}: a request over {step.over_input_tokens:,} input tokens is priced "
                f"whole at ${step.input_price:g} input, ${step.output_price:g} output."
            )
    if plan.rule == "legacy":
        rule = (
            "legacy (the older w*h/750 tokens of Anthropic's earlier guide, downscaled above "
            "1568 px or about 1,600 tokens)"
        )
    else:
        rule = "current (one token per 28x28 px patch, after the model's tier downscale)"
    batch = "yes, Message Batches (50% off)" if plan.batch else "no"
    lines.append(f"Rule: {rule}. Batch prices: {batch}.")
    output = f" plus {plan.output_tokens:,} output tokens" if plan.output_tokens else " (no output)"
    lines.append(
        f"Each image priced as one request{output}; per {plan.per:,}: that cost x {plan.per:,} "
        "(total row: the average image)."
    )
    if plan.tile is not None:
        lines.append(
            f"Tiled (--tile): {totals.tokens:,} tokens; whole: {totals.whole_tokens:,} tokens "
            "(each tile within the model's native size, priced as one image)."
        )
    if plan.trim_fuzz is not None:
        lines.append(_trim_line(plan.trim_fuzz, totals))
    if plan.snap_max is None and totals.snap_tokens < totals.tokens:
        saved = totals.tokens - totals.snap_tokens
        lines.append(f"With --snap: {totals.snap_tokens:,} tokens ({saved:,} fewer).")
    if plan.exact:
        skipped = (
            f"; {plural(totals.exact_skipped, 'row')} not counted (rejected, --size, or a file "
            "over 8000 px priced as its tiles)"
            if totals.exact_skipped
            else ""
        )
        lines.append(
            f"Exact: the token-counting endpoint for {plan.models[0].name}, a request holding only "
            f"the image; diff = exact - estimate, over the rows counted{skipped}."
        )
    return lines


def _trim_line(fuzz: int, totals: EstimateTotals) -> str:
    """What ``--trim`` saves over the priced images (the first model's tokens)."""
    if not totals.trimmed:
        return f"With --trim (fuzz {fuzz} of 255 levels): no borders to cut."
    saved = totals.untrimmed_tokens - totals.tokens
    # with --tile, the tiles of a trimmed image may cost more than those of the whole one
    change = f"{saved:,} fewer" if saved >= 0 else f"{-saved:,} more"
    return (
        f"With --trim (fuzz {fuzz} of 255 levels): {totals.tokens:,} tokens; untrimmed "
        f"{totals.untrimmed_tokens:,} ({change}; borders cut on {totals.trimmed:,} of "
        f"{plural(totals.count, 'image')})."
    )


def _estimate_grid(
    plan: EstimatePlan, rows: Sequence[EstimateRow], totals: EstimateTotals, *, costs: bool = True
) -> Grid:
    """A row per image; ``costs`` False leaves out the two columns per model (see
    :func:`_model_grid`)."""
    # One API-size and tokens column per resize tier in play (the first model whose tier it is).
    groups: list[tuple[str, int]] = []
    for tier_ in plan.tiers():
        index = next(i for i, m in enumerate(plan.models) if m.tier == tier_)
        groups.append((tier_.name, index))
    several = len(groups) > 1
    headers = ["image", "size"]
    for name, _ in groups:
        headers += [f"API size ({name})", f"tokens ({name})"] if several else ["API size", "tokens"]
    if plan.tile is not None:
        headers += ["tiles", "whole"]
    if plan.trim_fuzz is not None:
        headers += ["trimmed", "untrimmed"]
    if plan.exact:
        headers += ["exact", "diff"]
    per = f"per {plan.per:,}"
    priced = plan.models if costs else ()
    for m in priced:
        headers += [m.name, per]
    right = [False, False] + [False, True] * len(groups)
    right += [True] * (len(headers) - len(right))

    body: list[list[str]] = []
    errors: list[bool] = []
    group_tokens = [0] * len(groups)
    exact_estimate = 0
    for row in rows:
        cells = [("✗ " if row.errors else "") + visible(row.path)]
        cells.append(f"{row.width}x{row.height}" if row.width and row.height else "-")
        for g, (_, index) in enumerate(groups):
            if row.costs:
                c = row.costs[index]
                group_tokens[g] += c.tokens
                cells += [f"{c.api_width}x{c.api_height}", f"{c.tokens:,}"]
            else:
                cells += ["rejected" if g == 0 else "-", "-"]
        if plan.tile is not None:
            ref = row.reference
            if ref is not None and ref.tiles is not None and ref.whole_tokens is not None:
                cells += [f"{ref.tiles:,}", f"{ref.whole_tokens:,}"]
            else:
                cells += ["-", "-"]
        if plan.trim_fuzz is not None:
            cells += _trim_cells(row)
        if plan.exact:
            diff = exact_difference(row)
            if diff is not None and row.exact_tokens is not None:
                exact_estimate += row.exact_tokens - diff
                cells += [f"{row.exact_tokens:,}", f"{diff:+,}"]
            else:
                cells += ["-", "-"]
        for c in row.costs[: len(priced)]:
            cells += [money(c.usd), money(plan.per_n(c.usd))]
        if not row.costs:
            cells += ["-", "-"] * len(priced)
        body.append(cells)
        errors.append(bool(row.errors))

    label = f"total ({plural(totals.count, 'image')}"
    label += f", {totals.errors:,} rejected)" if totals.errors else ")"
    total = [label, ""]
    for g in range(len(groups)):
        total += ["", f"{group_tokens[g]:,}"]
    if plan.tile is not None:
        total += ["", f"{totals.whole_tokens:,}"]
    if plan.trim_fuzz is not None:
        total += [f"{totals.trimmed:,} trimmed", f"{totals.untrimmed_tokens:,}"]
    if plan.exact:
        if totals.exact_tokens is None:
            total += ["-", "-"]
        else:
            total += [f"{totals.exact_tokens:,}", f"{totals.exact_tokens - exact_estimate:+,}"]
    for usd, usd_per in list(zip(totals.costs, totals.costs_per(plan), strict=True))[: len(priced)]:
        total += [money(usd), money(usd_per)]
    return Grid(headers, right, body, errors, total)


def _trim_cells(row: EstimateRow) -> list[str]:
    """The size ``--trim`` leaves (``-``: no border) and the tokens without trimming."""
    if row.untrimmed_tokens is None:
        return ["-", "-"]
    box = row.trim
    kept = "-" if box is None else f"{box[2] - box[0]}x{box[3] - box[1]}"
    return [kept, f"{row.untrimmed_tokens:,}"]


def _model_grid(plan: EstimatePlan, rows: Sequence[EstimateRow], totals: EstimateTotals) -> Grid:
    """A row per model: its tier, prices, the images' tokens for it, their cost and the cost
    per N images (the layout of several models when a column per model does not fit)."""
    headers = ["model", "tier", "$/MTok in", "$/MTok out", "tokens", "cost", f"per {plan.per:,}"]
    body: list[list[str]] = []
    costs_per = totals.costs_per(plan)
    for i, m in enumerate(plan.models):
        tokens = sum(row.costs[i].tokens for row in rows if row.costs)
        out = f"{m.output_price:g}" if m.output_price is not None else "-"
        cost, per = money(totals.costs[i]), money(costs_per[i])
        body.append([m.name, m.tier.name, f"{m.input_price:g}", out, f"{tokens:,}", cost, per])
    cheapest = min(range(len(plan.models)), key=lambda i: totals.costs[i])
    total = [f"cheapest: {plan.models[cheapest].name}", "", "", "", "", "", ""]
    right = [False, False, True, True, True, True, True]
    return Grid(headers, right, body, [False] * len(body), total)


#: Columns a table may take when standard output is not a terminal and $COLUMNS is not set.
PIPED_WIDTH = 120


def _estimate_notes(rows: Sequence[EstimateRow]) -> list[str]:
    return [
        visible(f"✗ {row.path}: {f.code.value}: {f.message}") for row in rows for f in row.errors
    ]


@dataclass
class EstimateReport:
    """Writes ``estimate`` results: JSONL and CSV row by row, JSON and the table at the end."""

    fmt: Format
    plan: EstimatePlan
    stream: TextIO = None  # type: ignore[assignment]  # sys.stdout at construction time

    def __post_init__(self) -> None:
        self.stream = self.stream or sys.stdout
        self._rows: list[EstimateRow] = []
        self._writer: RecordWriter | None = None

    def _records(self) -> RecordWriter:
        # made at the first row, so a usage error found while listing inputs prints nothing
        if self._writer is None:
            self._writer = RecordWriter(
                self.fmt,
                key="images",
                columns=estimate_csv_columns(self.plan),
                stream=self.stream,
            )
        return self._writer

    def add(self, row: EstimateRow) -> None:
        if self.fmt is Format.table or (self.fmt is Format.markdown and row.errors):
            self._rows.append(row)
        elif self.fmt is Format.markdown:
            return
        elif self.fmt is Format.csv:
            self._records().add(_estimate_csv_row(row, self.plan))
        else:
            self._records().add(row.as_dict(self.plan))

    def finish(self, totals: EstimateTotals) -> None:
        if self.fmt is Format.markdown:
            self.stream.write(estimate_markdown(self.plan, totals, self._rows))
            self.stream.flush()
            return
        if self.fmt is not Format.table:
            self._records().close(totals.as_dict(self.plan))
            return
        grids = [_estimate_grid(self.plan, self._rows, totals)]
        if len(self.plan.models) > 1 and grids[0].width() > available_width(self.stream):
            # a column per model does not fit: the images' sizes, then a row per model
            grids = [
                _estimate_grid(self.plan, self._rows, totals, costs=False),
                _model_grid(self.plan, self._rows, totals),
            ]
        footer = estimate_footer(self.plan, totals)
        notes = _estimate_notes(self._rows)
        for i, grid in enumerate(grids):
            last = i == len(grids) - 1
            if i:
                self.stream.write("\n")
            if is_tty(self.stream):
                grid.print_rich(self.stream, footer if last else [], notes if last else [])
                continue
            grid.write_plain(self.stream)
            if last:
                self.stream.write("\n" + "\n".join(footer) + "\n")
                if notes:
                    self.stream.write("\n" + "\n".join(notes) + "\n")
        self.stream.flush()


def estimate_markdown(
    plan: EstimatePlan, totals: EstimateTotals, rejected: Sequence[EstimateRow]
) -> str:
    """Totals per model first, then the images the API would reject."""
    icon = "❌" if totals.errors else "✅"
    head = f"vision-cli estimate: {plural(totals.count, 'image')}"
    head += f", {totals.errors:,} rejected" if totals.errors else ""
    per = f"per {plan.per:,} images"
    rows = [
        [md_code(m.name), money(usd), money(usd_per)]
        for m, usd, usd_per in zip(plan.models, totals.costs, totals.costs_per(plan), strict=True)
    ]
    out = [
        f"### {icon} {head}\n\n",
        md_table(["model", "total", per], rows),
        "\n" + "  \n".join(estimate_footer(plan, totals)) + "\n",
    ]
    if rejected:
        cells = [
            [md_code(r.path), md_code("; ".join(f"{f.code.value}: {f.message}" for f in r.errors))]
            for r in rejected
        ]
        out.append("\n" + md_table(["rejected", "why"], cells))
    return "".join(out)
