"""The :class:`Answer` to a reply: text, usage, cost, and the ``--schema`` check of structured
output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from vision_cli import catalog
from vision_cli import schema as schema_mod
from vision_cli.asking.building import Request
from vision_cli.asking.fitting import Image
from vision_cli.asking.preparing import Settings
from vision_cli.asking.pricing import cost_usd, price_note
from vision_cli.client import messages

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Answer:
    """A reply, priced, with the request's image share estimated."""

    reply: messages.Reply
    images: tuple[Image, ...]
    image_tokens: int
    uncounted_images: int
    cost_usd: float
    model_name: str
    input_price: float
    output_price: float
    prices_date: str
    #: ``--schema``: the answer's object (None without a schema, or when it did not match).
    data: Any = None
    #: ``--schema``: why the answer does not match it (None: it matches, or no schema).
    mismatch: str | None = None
    #: Whether ``--schema`` was given.
    structured: bool = False
    #: Said after the prices when they are not the usual ones (Haiku 5.5 over 100K tokens).
    price_note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` object, with exactly the documented members (``data`` and ``error``
        with ``--schema``)."""
        r = self.reply
        structured = (
            {
                "data": self.data,
                "error": schema_error(self.mismatch, r.stop_reason) if self.mismatch else None,
            }
            if self.structured
            else {}
        )
        return {
            "id": r.id,
            "model": r.model,
            "text": r.text,
            **structured,
            "stop_reason": r.stop_reason,
            "usage": {"input_tokens": r.input_tokens, "output_tokens": r.output_tokens},
            "cost_usd": self.cost_usd,
            "images": [image.record() for image in self.images],
        }


#: The ``error.type`` of an answer that is not JSON of the ``--schema``'s shape.
SCHEMA_MISMATCH: Final = "schema_mismatch"


def schema_error(message: str, stop_reason: str | None = None) -> dict[str, Any]:
    """The ``error`` member of an answer that does not match ``--schema``: why, from the stop
    reason when it tells (a refusal, an answer cut short), else the mismatch."""
    return {
        "type": SCHEMA_MISMATCH,
        "status": None,
        "message": mismatch_message(message, stop_reason),
    }


def mismatch_message(message: str, stop_reason: str | None) -> str:
    """One sentence for an answer that does not match ``--schema``: a refusal is said to be one
    (its text is no object at all), an answer that hit ``--max-tokens`` is said to be cut short."""
    if stop_reason == "refusal":
        return (
            "the model refused to answer (stop_reason refusal), so there is no object of the "
            "schema's shape"
        )
    if stop_reason == "max_tokens":
        return (
            "the answer was cut short at --max-tokens (stop_reason max_tokens), so it does not "
            f"match the schema: {message}"
        )
    return f"the answer does not match the schema: {message}"


def mismatch_advice(stop_reason: str | None) -> str:
    """What to do about an answer that does not match ``--schema``."""
    if stop_reason == "refusal":
        return "rephrase the prompt, or check that the image is what you meant to send"
    if stop_reason == "max_tokens":
        return "raise --max-tokens"
    return "ask again, or raise --max-tokens if it was cut short"


def structured(text: str, settings: Settings) -> tuple[Any, str | None]:
    """``(data, None)`` when the answer matches ``settings.schema``, else ``(None, why)``."""
    if settings.schema is None:
        return None, None
    try:
        return schema_mod.parse(text, settings.schema), None
    except schema_mod.Mismatch as exc:
        return None, str(exc)


def answer(reply: messages.Reply, request: Request, settings: Settings) -> Answer:
    model = settings.model
    data, mismatch = structured(reply.text, settings)
    input_price, output_price = model.prices(reply.input_tokens)
    return Answer(
        reply=reply,
        images=request.images,
        image_tokens=request.image_tokens,
        uncounted_images=request.uncounted_images,
        cost_usd=round(cost_usd(model, reply.input_tokens, reply.output_tokens), 10),
        model_name=settings.model_name,
        input_price=input_price,
        output_price=output_price,
        prices_date=catalog.load().date,
        data=data,
        mismatch=mismatch,
        structured=settings.schema is not None,
        price_note=price_note(model, reply.input_tokens),
    )
