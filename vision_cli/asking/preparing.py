"""What a request needs before any image is read: :class:`Settings`, the default prompts, the
``--source`` checks, and :class:`PreflightError`, which lists everything that cannot be fixed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Literal

from vision_cli import catalog, fetching, limits, policy, sources, tiling
from vision_cli.formats import ResizePolicy, Source

if TYPE_CHECKING:
    pass


Kind = Literal["base64", "url", "file"]


DEFAULT_PROMPT_ONE: Final = "Describe this image."


DEFAULT_PROMPT_MANY: Final = "Describe these images."


COMPARE_PROMPT: Final = "How are these images different?"


def default_prompt(images: int, *, compare: bool = False) -> str:
    """The prompt used when none is given: the guide's wording."""
    if compare:
        return COMPARE_PROMPT
    return DEFAULT_PROMPT_ONE if images == 1 else DEFAULT_PROMPT_MANY


@dataclass(frozen=True)
class Settings:
    """Everything about a request that is the same for every image in it."""

    model: catalog.Model
    #: The name sent to the API, as the user gave it (an id or an alias).
    model_name: str
    max_tokens: int = 1024
    system: str | None = None
    resize_policy: ResizePolicy = ResizePolicy.native
    #: False (``--no-resize``): the bytes go as they are, after the same checks.
    resize: bool = True
    source: Source = Source.auto
    download: bool = False
    max_bytes: int = limits.DEFAULT_MAX_BYTES
    #: ``--schema``: the JSON Schema the answer must match (sent as structured output).
    schema: Mapping[str, Any] | None = None
    #: ``error``: image blocks carry ``transformations: {"oversized_image": "error"}``;
    #: ``downsize`` (``--allow-downsize``): no transformations, the API's default.
    oversized: Literal["error", "downsize"] = "error"
    #: Decode every image before it is sent (``--no-verify`` turns it off): money is about to be
    #: spent on it.
    verify: bool = True
    #: ``--expires``: seconds an upload (``--source file``) lasts on the API.
    expires: int = limits.FILE_DEFAULT_EXPIRY_SECONDS
    #: ``--snap``: the most an edge may shrink to drop a patch row or column (None: off).
    snap_max: Fraction | None = None
    #: ``--tile``: send long or huge images as tiles (None: whole).
    tile: tiling.TileSpec | None = None
    #: ``--trim``: levels a border may stray from its colour (None: no trimming).
    trim_fuzz: int | None = None

    def size_policy(self) -> policy.SizePolicy | None:
        if not self.resize:
            return None
        if self.resize_policy == "recommended":
            chosen = policy.SizePolicy.recommended()
        else:
            chosen = policy.SizePolicy.native(self.model.tier)
        return chosen._replace(snap_max=self.snap_max)

    def kind_of(self, item: sources.Input) -> Kind:
        """How an input is sent: URLs as ``url`` sources unless downloaded; the rest as chosen."""
        if item.url is not None and (
            self.source == "url" or (self.source == "auto" and not self.download)
        ):
            return "url"
        return "file" if self.source == "file" else "base64"


def check_sources(items: Iterable[sources.Input | sources.Problem], settings: Settings) -> None:
    """Raise :class:`sources.UsageError` for inputs the chosen ``--source`` cannot send."""
    if settings.source == "url" and settings.download:
        raise sources.UsageError("--download sends URLs as base64, --source url as URLs: pick one")
    if settings.source == "url":
        for item in items:
            if isinstance(item, sources.Input) and item.url is None:
                raise sources.UsageError(
                    f"--source url sends only http(s) URLs, and {item.label} is not one: use "
                    "--source auto"
                )


@dataclass(frozen=True)
class Failure:
    """Something preflight cannot fix: which input (None for the request) and a sentence."""

    label: str | None
    message: str
    #: The gate's code, when the failure is one of its findings (the same as ``inspect``'s).
    code: str | None = None

    @property
    def reason(self) -> str:
        """The sentence with the gate's code after it (``... [unreadable]``): how every command
        shows the failure, beside the input's name or in a results line."""
        return f"{self.message} [{self.code}]" if self.code else self.message

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}" if self.label else self.reason


class PreflightError(Exception):
    """Nothing was sent: every failure found, each a sentence that says what to do."""

    def __init__(self, failures: Sequence[Failure]) -> None:
        self.failures = tuple(failures)
        super().__init__("; ".join(str(f) for f in self.failures))


def too_many_images(total: int, settings: Settings, earlier: int = 0) -> Failure | None:
    limit = settings.model.images_per_request
    if total <= limit:
        return None
    where = f" ({earlier} of them in earlier turns)" if earlier else ""
    return Failure(
        None,
        f"{total} images in one request{where}, and {settings.model_name} takes at most "
        f"{limit}: send fewer images, or one request per image",
    )


def read_input(item: sources.Input, *, stdin: BinaryIO | None = None) -> bytes:
    """The input's bytes (at most :data:`vision_cli.limits.MAX_INPUT_BYTES`, as every command);
    :class:`PreflightError` when they cannot be read."""
    try:
        return fetching.read_bytes(item, stdin=stdin)
    except sources.SourceError as exc:
        raise _failed(item, exc) from None


def refuse_offline(item: sources.Input) -> None:
    """A download a dry run does not make, refused as the real run would when that needs no
    network: its host a private address written out (``http://127.0.0.1/...``)."""
    if item.url is None or item.allow_private:
        return
    try:
        fetching.refuse_private_literal(item.url)
    except sources.SourceError as exc:
        raise _failed(item, exc) from None


def _failed(item: sources.Input, exc: sources.SourceError) -> PreflightError:
    return PreflightError([Failure(item.label, exc.message, exc.code.value)])
