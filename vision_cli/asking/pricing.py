"""What a request costs before it is sent: its :class:`Estimate` and :func:`cost_usd`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vision_cli import catalog, policy
from vision_cli.asking.building import Request
from vision_cli.asking.fitting import Image
from vision_cli.asking.preparing import Settings

if TYPE_CHECKING:
    pass


def cost_usd(
    model: catalog.Model, input_tokens: int, output_tokens: int, *, batch: bool = False
) -> float:
    """Dollars at the model's prices for a request of ``input_tokens`` (Haiku 5.5's long-context
    step included; Message Batches: half price)."""
    return model.cost_usd(input_tokens, output_tokens, batch=batch)


def price_note(model: catalog.Model, input_tokens: int) -> str:
    """``" (the whole request over 100,000 input tokens)"`` when the long-context step applies."""
    step = model.long_context
    if step is not None and input_tokens > step.over_input_tokens:
        return f" (the whole request: over {step.over_input_tokens:,} input tokens)"
    return ""


@dataclass(frozen=True)
class Estimate:
    """What a request should cost, before it is sent (the output is at most ``max_tokens``)."""

    model: str
    image_tokens: int
    text_tokens: int
    uncounted_images: int
    max_output_tokens: int
    input_cost_usd: float
    max_output_cost_usd: float
    prices_date: str
    #: Image blocks in this turn, and (``--tile``) what its images would cost sent whole.
    image_blocks: int = 0
    whole_image_tokens: int | None = None

    @property
    def input_tokens(self) -> int:
        return self.image_tokens + self.text_tokens

    @property
    def max_cost_usd(self) -> float:
        return self.input_cost_usd + self.max_output_cost_usd

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "input_tokens": self.input_tokens,
            "image_tokens": self.image_tokens,
            "text_tokens": self.text_tokens,
            "uncounted_images": self.uncounted_images,
            "max_output_tokens": self.max_output_tokens,
            # rounded as every cost field of a JSON output (a sum shows its float error)
            "input_cost_usd": round(self.input_cost_usd, 10),
            "max_output_cost_usd": round(self.max_output_cost_usd, 10),
            "max_cost_usd": round(self.max_cost_usd, 10),
            "prices_date": self.prices_date,
            "image_blocks": self.image_blocks,
            "whole_image_tokens": self.whole_image_tokens,
        }


def whole_tokens(images: Sequence[Image], image_tokens: int) -> int | None:
    """``image_tokens`` with each tiled image counted whole instead (None when none is tiled)."""
    tiles = [image for image in images if image.tile is not None]
    if not tiles:
        return None
    tiled = sum(image.tokens or 0 for image in tiles)
    whole = sum(image.whole_tokens or 0 for image in tiles if image.tile_index == 1)
    return image_tokens - tiled + whole


def estimate(request: Request, settings: Settings) -> Estimate:
    model = settings.model
    input_tokens = request.image_tokens + request.text_tokens
    input_price, output_price = model.prices(input_tokens)
    return Estimate(
        model=settings.model_name,
        image_tokens=request.image_tokens,
        text_tokens=request.text_tokens,
        uncounted_images=request.uncounted_images,
        max_output_tokens=settings.max_tokens,
        input_cost_usd=policy.cost_usd(input_tokens, input_price),
        max_output_cost_usd=policy.cost_usd(settings.max_tokens, output_price),
        prices_date=catalog.load().date,
        image_blocks=len(request.images),
        whole_image_tokens=whole_tokens(request.images, request.image_tokens),
    )
