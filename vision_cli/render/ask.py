"""``ask`` and ``compare``'s output on stderr: what preflight did to each image, the usage table
after an answer and the estimate of a dry run. The answer itself is the command's."""

from __future__ import annotations

import sys
from typing import TextIO

from vision_cli import policy, units
from vision_cli.asking.answering import Answer
from vision_cli.asking.fitting import Image
from vision_cli.asking.pricing import Estimate
from vision_cli.render.output import console, wants_colour
from vision_cli.render.tables import rich_table, write_aligned
from vision_cli.render.text import money, plural


def _per_mtok(price: float) -> str:
    return f"${price:g}"


def _ask_table(stream: TextIO, rows: list[tuple[str, str, str, str]]) -> None:
    """Rows of (label, tokens, cost, note): a rich table on a terminal, aligned text otherwise."""
    headers = ("", "tokens", "cost", "")
    right = [False, True, True, False]
    if wants_colour(stream):
        table = rich_table(headers, right, ruled=False)
        table.columns[-1].style = "dim"
        for row in rows:
            table.add_row(*row)
        console(stream).print(table)
        return
    write_aligned(stream, [headers, *rows], right, measure=len)
    stream.flush()


def _image_share(tokens: int, uncounted: int, word: str) -> str:
    text = f"images {word}{tokens:,}"
    if uncounted:
        text += f"; {uncounted} not counted (the API fetches or stores them)"
    return text


def ask_usage(answer: Answer, *, stream: TextIO | None = None) -> None:
    """The usage table after an answer: tokens, the image share (estimated) and the cost."""
    out = stream or sys.stderr
    r = answer.reply
    input_cost = policy.cost_usd(r.input_tokens, answer.input_price)
    output_cost = policy.cost_usd(r.output_tokens, answer.output_price)
    share = _image_share(answer.image_tokens, answer.uncounted_images, "≈ ")
    _ask_table(
        out,
        [
            ("input", f"{r.input_tokens:,}", money(input_cost), f"{share} (estimated)"),
            ("output", f"{r.output_tokens:,}", money(output_cost), ""),
            (
                "total",
                f"{r.input_tokens + r.output_tokens:,}",
                money(answer.cost_usd),
                f"{answer.model_name} at {_per_mtok(answer.input_price)} in, "
                f"{_per_mtok(answer.output_price)} out per million tokens{answer.price_note} "
                f"(prices of {answer.prices_date})",
            ),
        ],
    )


def ask_estimate(est: Estimate, *, stream: TextIO | None = None) -> None:
    """The estimate of a dry run: input tokens (images exact, text rough), the most output."""
    out = stream or sys.stderr
    out.write(f"Estimate for {est.model} (prices of {est.prices_date}):\n")
    share = _image_share(est.image_tokens, est.uncounted_images, "")
    _ask_table(
        out,
        [
            (
                "input",
                f"≈ {est.input_tokens:,}",
                f"≈ {money(est.input_cost_usd)}",
                f"{share}, text ≈ {est.text_tokens:,}",
            ),
            (
                "output",
                f"≤ {est.max_output_tokens:,}",
                f"≤ {money(est.max_output_cost_usd)}",
                "at most --max-tokens",
            ),
            ("total", "", f"≤ {money(est.max_cost_usd)}", ""),
        ],
    )
    if est.whole_image_tokens is not None:
        out.write(
            f"Tiled: {plural(est.image_blocks, 'image block')}, images ≈ {est.image_tokens:,} "
            f"tokens; sent whole they would be ≈ {est.whole_image_tokens:,}.\n"
        )


def ask_image_line(image: Image) -> str:
    """What preflight did to one image, for a note on stderr."""
    if image.kind == "url" and image.data is None:
        return f"{image.label}: sent as a URL (the API fetches it)"
    if image.data is None:
        return f"{image.label}: downloaded when sent"
    size = f"{image.width}x{image.height}"
    before = f"{image.source_width}x{image.source_height}"
    what = image.action
    if image.action == "resized":
        what = f"resized from {before}"
    elif image.action == "converted":
        what = f"converted from {image.source_format}"
        if before != size:
            what += f" {before}"
    elif image.action in ("copied", "as-is"):
        what = "sent as is"
    tokens = f", {image.tokens:,} tokens" if image.tokens is not None else ""
    how = " (uploaded as a file)" if image.kind == "file" else ""
    return (
        f"{image.label}: {size} {image.media_type}, "
        f"{units.format_bytes(image.size or 0)}{tokens}, {what}{how}"
    )
