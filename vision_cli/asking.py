"""The core of ``ask`` and ``compare``: preflight, request assembly, estimate, cost, conversations.

Inputs in, frozen results out, nothing printed. The pieces stand alone so that one request per
image (``ask --each``) and Message Batches (``ask --batch``) reuse them as they are:

- :func:`preflight` turns inputs into :class:`Image` objects ready to send (read, oriented,
  resized, converted and fitted under the byte limit in memory), or raises
  :class:`PreflightError` listing everything that cannot be fixed; nothing is sent before it.
- :func:`build_request` assembles the exact body (images first, ``Image N:`` labels, the prompt,
  the system prompt, earlier turns) as a :class:`Request`; :func:`check_request` applies the
  request-level limits. ``request.body`` (without ``stream``) is a batch request's ``params``.
- :func:`estimate` and :func:`cost_usd` price it; :func:`send` sends it; :func:`resolve_files`
  uploads what ``--source file`` needs, once.
- :func:`load_conversation` and :func:`save_conversation` continue a saved conversation.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Literal

from vision_cli import catalog, fsutil, limits, names, policy, sources
from vision_cli import schema as schema_mod
from vision_cli.client import bodies, failures, filesapi, messages

if TYPE_CHECKING:
    from vision_cli.client.connect import API

Policy = Literal["native", "recommended"]
SourceChoice = Literal["auto", "base64", "url", "file"]
Kind = Literal["base64", "url", "file"]

DEFAULT_PROMPT_ONE: Final = "Describe this image."
DEFAULT_PROMPT_MANY: Final = "Describe these images."
COMPARE_PROMPT: Final = "How are these images different?"
#: Rough characters per token, for the text share of an estimate (the API counts exactly).
CHARS_PER_TOKEN: Final = 4
CONVERSATION_VERSION: Final = 1
_EXTENSIONS: Final = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
}


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
    temperature: float | None = None
    resize_policy: Policy = "native"
    #: False (``--no-resize``): the bytes go as they are, after the same checks.
    resize: bool = True
    source: SourceChoice = "auto"
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
    tile: policy.TileSpec | None = None
    #: ``--trim``: levels a border may stray from its colour (None: no trimming).
    trim_fuzz: int | None = None

    def size_policy(self) -> policy.SizePolicy | None:
        if not self.resize:
            return None
        if self.resize_policy == "recommended":
            chosen = policy.SizePolicy.recommended()
        else:
            chosen = policy.SizePolicy.native(self.model.tier)
        return replace(chosen, snap_max=self.snap_max)

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


# --------------------------------------------------------------------------------------------------
# Preflight
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    """One image ready to send. ``data`` is None for a ``url`` source, and for a download that a
    dry run did not make."""

    label: str
    kind: Kind
    data: bytes | None = None
    url: str | None = None
    media_type: str | None = None
    width: int | None = None
    height: int | None = None
    tokens: int | None = None  # estimated; None when the API fetches the image itself
    #: What preflight did: copied, resized, converted, as-is (--no-resize) or url.
    action: str = "copied"
    source_width: int | None = None
    source_height: int | None = None
    source_format: str | None = None
    #: The EXIF orientation vision-cli applied to make the pixels upright (1: none).
    source_orientation: int = 1
    warnings: tuple[str, ...] = ()
    #: ``--tile``: where this tile lies (``tile 1 of 4, top``), its number (1 for the first tile
    #: of an image) and the tokens of its image sent whole; None and 0 for a whole image.
    tile: str | None = None
    tile_index: int = 0
    whole_tokens: int | None = None

    @cached_property
    def sha256(self) -> str | None:
        return filesapi.sha256(self.data) if self.data is not None else None

    @property
    def size(self) -> int | None:
        return len(self.data) if self.data is not None else None

    @property
    def base64_bytes(self) -> int:
        return policy.base64_length(self.size) if self.size is not None else 0

    @property
    def filename(self) -> str:
        """A name for the Files API: the input's name with the extension of what is sent."""
        stem = PurePosixPath(self.label.split("?", 1)[0]).stem or "image"
        stem = stem if names.is_utf8(stem) else names.escape(stem)  # sent in a header: UTF-8
        stem = "stdin" if self.label == sources.STDIN else stem
        return stem + _EXTENSIONS.get(self.media_type or "", "")

    def record(self) -> dict[str, Any]:
        """The ``images`` entry of ``--json``: what was sent for this input."""
        doc: dict[str, Any] = {
            "path": self.label,
            "media_type": self.media_type,
            "width": self.width,
            "height": self.height,
            "bytes": self.size,
        }
        if self.tile is not None:
            doc["tile"] = self.tile
        return doc


@dataclass(frozen=True)
class Failure:
    """Something preflight cannot fix: which input (None for the request) and a sentence."""

    label: str | None
    message: str
    #: The gate's code, when the failure is one of its findings (the same as ``inspect``'s).
    code: str | None = None

    def __str__(self) -> str:
        text = f"{self.message} [{self.code}]" if self.code else self.message
        return f"{self.label}: {text}" if self.label else text


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


def preflight(
    items: Sequence[sources.Input | sources.Problem],
    settings: Settings,
    *,
    earlier_images: int = 0,
    stdin: BinaryIO | None = None,
    offline: bool = False,
) -> tuple[Image, ...]:
    """Every input read and brought into shape, in order; :class:`PreflightError` listing every
    input that cannot be sent. The image count is checked first, before any byte is read.

    ``earlier_images`` (from earlier turns) count toward the model's limit and the 2000 px rule
    above 20 images. ``offline`` (a dry run) downloads nothing: URLs to download stay unread.
    """
    total = len(items) + earlier_images
    too_many = too_many_images(total, settings, earlier_images)
    if too_many is not None:
        raise PreflightError([too_many])
    if settings.tile is not None:
        return _preflight_tiles(items, settings, earlier_images, stdin=stdin, offline=offline)
    many = total > limits.MANY_IMAGES_THRESHOLD
    images: list[Image] = []
    failures: list[Failure] = []
    for item in items:
        if isinstance(item, sources.Problem):
            failures.append(Failure(item.label, item.message))
            continue
        try:
            images.append(prepare_image(item, settings, many=many, stdin=stdin, offline=offline))
        except PreflightError as exc:
            failures.extend(exc.failures)
    if failures:
        raise PreflightError(failures)
    return tuple(images)


def _preflight_tiles(
    items: Sequence[sources.Input | sources.Problem],
    settings: Settings,
    earlier_images: int,
    *,
    stdin: BinaryIO | None,
    offline: bool,
) -> tuple[Image, ...]:
    """Preflight with ``--tile``: the tiles are counted once cut, so every input is read first;
    when the tiles take the request over 20 images, they are cut again within 2000 px."""
    read: dict[int, bytes] = {}
    failures: list[Failure] = []
    for n, item in enumerate(items):
        if isinstance(item, sources.Problem):
            failures.append(Failure(item.label, item.message))
        elif settings.kind_of(item) != "url" and not (item.url is not None and offline):
            try:
                read[n] = read_input(item, stdin=stdin)
            except PreflightError as exc:
                failures.extend(exc.failures)
    if failures:
        raise PreflightError(failures)

    def cut(many: bool) -> list[Image]:
        images: list[Image] = []
        for n, item in enumerate(items):
            assert isinstance(item, sources.Input)
            try:
                if n in read:
                    images += tile_image(item, read[n], settings, many=many)
                else:
                    images.append(prepare_image(item, settings, many=many, offline=offline))
            except PreflightError as exc:
                failures.extend(exc.failures)
        if failures:
            raise PreflightError(failures)
        return images

    many = len(items) + earlier_images > limits.MANY_IMAGES_THRESHOLD
    images = cut(many)
    total = len(images) + earlier_images
    if not many and total > limits.MANY_IMAGES_THRESHOLD:
        images = cut(True)
    too_many = too_many_images(total, settings, earlier_images)
    if too_many is not None:
        raise PreflightError([too_many])
    return tuple(images)


def tile_image(item: sources.Input, data: bytes, settings: Settings, *, many: bool) -> list[Image]:
    """One input as its tiles (or whole, when ``--tile auto`` finds it needs none). The image
    passes the gate first: nothing the gate calls an error is tiled or sent."""
    from vision_cli.imaging import preflight, transform

    assert settings.tile is not None
    lim = policy.Limits(tier=settings.model.tier, max_bytes=settings.max_bytes, many_images=many)
    gated = preflight.judge(data, lim, extension=item.extension, verify=settings.verify)
    if gated.refusal is not None:
        raise PreflightError([_failure(item.label, gated.refusal)])
    size_policy = settings.size_policy() or policy.SizePolicy.native(settings.model.tier)
    try:
        tiled = transform.prepare_tiles(
            data,
            settings.tile,
            found=gated.probe,
            size_policy=size_policy,
            max_bytes=settings.max_bytes,
            max_dimension=limits.MANY_IMAGES_MAX_DIMENSION if many else limits.MAX_DIMENSION,
        )
    except transform.TransformError as exc:
        raise PreflightError([_failure(item.label, exc.finding)]) from None
    if tiled is None:
        return [prepare_image(item, settings, many=many, data=data)]
    tier = settings.model.tier
    grid = tiled.grid
    whole = policy.predict(grid.width, grid.height, tier).tokens
    return [
        Image(
            item.label,
            settings.kind_of(item),
            data=p.data,
            url=item.url,
            media_type=p.media_type,
            width=p.width,
            height=p.height,
            tokens=policy.predict(p.width, p.height, tier).tokens,
            action="tiled",
            source_width=grid.width,
            source_height=grid.height,
            source_format=tiled.source_format,
            tile=grid.label(tile),
            tile_index=tile.index,
            whole_tokens=whole,
        )
        for tile, p in zip(grid.tiles, tiled.tiles, strict=True)
    ]


def prepare_input(
    item: sources.Input, settings: Settings, *, data: bytes | None = None, offline: bool = False
) -> list[Image]:
    """One input alone in its request (``ask --each``, ``--batch``): its image, or its tiles
    (cut again within 2000 px when there are more than 20)."""
    if settings.tile is None or data is None:
        return [prepare_image(item, settings, data=data, offline=offline)]
    images = tile_image(item, data, settings, many=False)
    if len(images) > limits.MANY_IMAGES_THRESHOLD:
        images = tile_image(item, data, settings, many=True)
    return images


def image_labels(images: Sequence[Image]) -> list[str]:
    """``Image N:`` before each image, ``Image N (tile 1 of 4, top):`` before each tile; the tiles
    of one input share its number."""
    labels: list[str] = []
    number = 0
    for image in images:
        if image.tile_index <= 1:
            number += 1
        labels.append(f"Image {number} ({image.tile}):" if image.tile else f"Image {number}:")
    return labels


def prepare_image(
    item: sources.Input,
    settings: Settings,
    *,
    many: bool = False,
    stdin: BinaryIO | None = None,
    offline: bool = False,
    data: bytes | None = None,
) -> Image:
    """One input ready to send; :class:`PreflightError` (one failure) when it cannot be.

    ``many``: the request holds more than 20 images, so the image must be within 2000 px.
    ``data``: the input's bytes when the caller has read them already (``ask --each`` hashes
    them first), so that they are not read twice.
    """
    kind = settings.kind_of(item)
    if kind == "url" or (item.url is not None and offline and data is None):
        return Image(item.label, kind, url=item.url, action="url" if kind == "url" else "download")
    if data is None:
        data = read_input(item, stdin=stdin)
    image = fit_bytes(data, settings, many=many, extension=item.extension, label=item.label)
    return replace(image, kind=kind, url=item.url)


def read_input(item: sources.Input, *, stdin: BinaryIO | None = None) -> bytes:
    """The input's bytes (at most :data:`vision_cli.limits.MAX_INPUT_BYTES`, as every command);
    :class:`PreflightError` when they cannot be read."""
    try:
        return sources.read_bytes(item, stdin=stdin)
    except sources.SourceError as exc:
        raise PreflightError([Failure(item.label, exc.message, exc.code.value)]) from None


def fit_bytes(
    data: bytes, settings: Settings, *, many: bool = False, extension: str = "", label: str = "-"
) -> Image:
    """Bytes passed through the gate and brought into shape in memory (or, with
    ``--no-resize``, checked as they are). Nothing the gate calls an error that cannot be fixed is
    ever sent: :class:`PreflightError` with the gate's code and sentence instead."""
    from vision_cli.imaging import preflight, transform

    lim = policy.Limits(tier=settings.model.tier, max_bytes=settings.max_bytes, many_images=many)
    gated = preflight.judge(data, lim, extension=extension, verify=settings.verify)
    if gated.refusal is not None:
        raise PreflightError([_failure(label, gated.refusal)])
    assert gated.probe is not None  # a finding without a probe is always final
    if not settings.resize:
        return _as_is(data, gated, settings, label=label)
    try:
        prepared = transform.prepare(
            data,
            found=gated.probe,
            size_policy=settings.size_policy(),
            max_bytes=settings.max_bytes,
            max_dimension=lim.max_dimension if not many else limits.MANY_IMAGES_MAX_DIMENSION,
            trim_fuzz=settings.trim_fuzz,
        )
    except transform.TransformError as exc:
        raise PreflightError([_failure(label, exc.finding)]) from None
    found = preflight.output_findings(
        prepared.format, prepared.width, prepared.height, len(prepared.data), lim
    )
    return Image(
        label,
        "base64",
        data=prepared.data,
        media_type=prepared.media_type,
        width=prepared.width,
        height=prepared.height,
        tokens=policy.predict(prepared.width, prepared.height, settings.model.tier).tokens,
        action=prepared.action,
        source_width=prepared.source_width,
        source_height=prepared.source_height,
        source_format=prepared.source_format,
        source_orientation=prepared.source_orientation,
        warnings=_warnings(found),
    )


def _failure(label: str, finding: policy.Finding) -> Failure:
    return Failure(label, finding.message, finding.code.value)


def _warnings(found: Iterable[policy.Finding]) -> tuple[str, ...]:
    return tuple(
        f"{f.message} [{f.code.value}]" for f in found if f.severity is policy.Severity.WARNING
    )


def _as_is(data: bytes, gated: Any, settings: Settings, *, label: str) -> Image:
    """``--no-resize``: the bytes go as they are, so every error stops them (the gate's
    sentence, and how vision-cli would fix it)."""
    facts = gated.probe.facts
    errors = [f for f in gated.findings if f.severity is policy.Severity.ERROR]
    if errors:
        raise PreflightError(
            [
                Failure(
                    label,
                    f"{f.message.rstrip('.')} (or drop --no-resize to let vision-cli fix it)",
                    f.code.value,
                )
                for f in errors
            ]
        )
    assert facts.media_type is not None  # an unsupported format is an error above
    return Image(
        label,
        "base64",
        data=data,
        media_type=facts.media_type,
        width=facts.width,
        height=facts.height,
        tokens=policy.predict(facts.width, facts.height, settings.model.tier).tokens,
        action="as-is",
        source_width=facts.width,
        source_height=facts.height,
        source_format=facts.format,
        warnings=_warnings(gated.findings),
    )


# --------------------------------------------------------------------------------------------------
# Conversations
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    """Earlier turns, as they were sent (base64 images included), and the settings they used."""

    messages: tuple[bodies.Turn, ...] = ()
    system: str | None = None
    model: str | None = None

    @property
    def images(self) -> int:
        return bodies.count_images(self.messages)


def load_conversation(path: Path) -> Conversation:
    """The conversation saved in ``path``; an empty one when the file does not exist yet.

    Accepts vision-cli's own file (``{"version", "model", "system", "messages"}``) or a bare
    JSON list of Messages API turns. :class:`PreflightError` when it cannot be used.
    """
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return Conversation()
    except (OSError, UnicodeDecodeError) as exc:
        raise PreflightError(
            [Failure(str(path), f"cannot read the conversation ({exc})")]
        ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PreflightError(
            [Failure(str(path), f"the conversation is not valid JSON ({exc}): fix or remove it")]
        ) from None
    except RecursionError:
        raise PreflightError(
            [Failure(str(path), "the conversation is nested too deeply to be one: remove it")]
        ) from None
    if isinstance(doc, list):
        doc = {"messages": doc}
    messages = doc.get("messages") if isinstance(doc, dict) else None
    problem = _turns_problem(messages)
    if problem:
        raise PreflightError([Failure(str(path), problem)])
    system = doc.get("system")
    model = doc.get("model")
    return Conversation(
        messages=tuple(messages or ()),
        system=system if isinstance(system, str) and system else None,
        model=model if isinstance(model, str) and model else None,
    )


def _turns_problem(messages: Any) -> str | None:
    hint = ": it must hold the Messages API turns vision-cli wrote"
    if not isinstance(messages, list):
        return "no list of messages in the conversation" + hint
    expected = "user"
    for index, turn in enumerate(messages):
        if not isinstance(turn, dict) or turn.get("role") != expected:
            return f"turn {index + 1} should be a {expected} turn" + hint
        content = turn.get("content")
        if not isinstance(content, str | list):
            return f"turn {index + 1} has no content" + hint
        for block in content if isinstance(content, list) else ():
            problem = _block_problem(block)
            if problem:
                return f"turn {index + 1}: {problem}" + hint
        expected = "assistant" if expected == "user" else "user"
    if expected == "assistant":
        return "the conversation ends with a question that has no answer" + hint
    return None


#: What each kind of image source must hold (the API's own shapes).
_SOURCE_FIELDS: Final = {"base64": ("media_type", "data"), "url": ("url",), "file": ("file_id",)}


def _block_problem(block: Any) -> str | None:
    """Why one content block cannot be sent again as it is, or None."""
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return "a content block is not an object with a type"
    if block["type"] == "text" and not isinstance(block.get("text"), str):
        return "a text block has no text"
    if block["type"] == "image":
        source = block.get("source")
        kind = source.get("type") if isinstance(source, dict) else None
        if not isinstance(source, dict) or kind not in _SOURCE_FIELDS:
            return "an image block has no base64, url or file source"
        if not all(isinstance(source.get(name), str) for name in _SOURCE_FIELDS[kind]):
            return f"an image's {kind} source is incomplete"
    return None


def save_conversation(
    path: Path, request: Request, reply: messages.Reply, *, model_name: str, system: str | None
) -> None:
    """Write the earlier turns, this turn and the reply back to ``path``, atomically."""
    messages = [*request.body["messages"], bodies.assistant_turn(reply.text)]
    doc = {
        "version": CONVERSATION_VERSION,
        "model": model_name,
        "system": system,
        "messages": messages,
    }
    fsutil.write_text(path, names.dumps(doc, indent=1) + "\n")


def fit_history(conversation: Conversation, settings: Settings, total_images: int) -> Conversation:
    """Earlier turns made fit for a request of ``total_images``: above 20 images, every earlier
    base64 image is brought within 2000 px too (a URL or file image cannot be, and is left)."""
    if total_images <= limits.MANY_IMAGES_THRESHOLD:
        return conversation
    history = json.loads(json.dumps(list(conversation.messages)))  # a deep copy
    failures: list[Failure] = []
    for number, block in enumerate(bodies.iter_image_blocks(history), 1):
        source = block.get("source", {})
        raw = _base64_bytes(source)
        if raw is None:
            continue
        size = _dimensions(raw)
        if size is None or max(size) <= limits.MANY_IMAGES_MAX_DIMENSION:
            continue
        try:
            image = fit_bytes(
                raw,
                replace(settings, resize=True),
                many=True,
                label=f"earlier image {number}",
            )
        except PreflightError as exc:
            failures.extend(exc.failures)
            continue
        assert image.data is not None and image.media_type is not None
        block["source"] = bodies.base64_source(image.data, image.media_type)
    if failures:
        raise PreflightError(failures)
    return replace(conversation, messages=tuple(history))


def _base64_bytes(source: Mapping[str, Any]) -> bytes | None:
    if source.get("type") != "base64" or not isinstance(source.get("data"), str):
        return None
    try:
        return base64.b64decode(source["data"], validate=True)
    except (binascii.Error, ValueError):
        return None


def _dimensions(raw: bytes) -> tuple[int, int] | None:
    from vision_cli.imaging import probe

    try:
        facts = probe.probe_bytes(raw).facts
    except probe.ProbeError:
        return None
    return (facts.width, facts.height)


# --------------------------------------------------------------------------------------------------
# The request
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """The exact body to send, and what is known about it before it is sent."""

    body: bodies.Body
    images: tuple[Image, ...]  # this turn's
    #: Estimated tokens of every image in the request, earlier turns included.
    image_tokens: int
    #: Images whose tokens cannot be estimated (URL sources, uploaded files from earlier turns).
    uncounted_images: int
    #: Rough tokens of every text (system prompt, labels, prompts, earlier answers).
    text_tokens: int
    #: This turn's ``file`` images that have no file id yet (placeholders in ``body``).
    pending_uploads: tuple[Image, ...] = field(default=())
    #: File ids in ``body`` that came from the cache (uploaded by an earlier run).
    cached_file_ids: frozenset[str] = frozenset()

    @property
    def size(self) -> int:
        return bodies.body_size(self.body)

    @property
    def total_images(self) -> int:
        return bodies.count_images(self.body["messages"])

    @property
    def params(self) -> bodies.Body:
        """The body without ``stream``: a Message Batch request's ``params``."""
        return {k: v for k, v in self.body.items() if k != "stream"}


def image_source(image: Image, file_ids: Mapping[str, str]) -> dict[str, str]:
    """The ``source`` of an image block; placeholders (``"<...>"``) for what a dry run lacks."""
    if image.kind == "url":
        assert image.url is not None
        return bodies.url_source(image.url)
    if image.data is None:  # a download a dry run did not make
        if image.kind == "file":
            return bodies.file_source(f"<upload after downloading {image.url}>")
        return {
            "type": "base64",
            "media_type": "<detected after download>",
            "data": f"<downloaded from {image.url} when sent>",
        }
    assert image.media_type is not None and image.sha256 is not None
    if image.kind == "base64":
        return bodies.base64_source(image.data, image.media_type)
    file_id = file_ids.get(image.sha256)
    if file_id is None:
        file_id = f"<upload of {image.size} bytes, sha256 {image.sha256[:16]}>"
    return bodies.file_source(file_id)


def build_request(
    images: Sequence[Image],
    settings: Settings,
    *,
    prompt: str,
    conversation: Conversation | None = None,
    files: Files | None = None,
    stream: bool = False,
) -> Request:
    """The request for this turn: earlier turns (made fit), then images with ``Image N:`` labels
    when there are several, then the prompt; the system prompt in ``system``."""
    history = conversation or Conversation()
    total = history.images + len(images)
    history = fit_history(history, settings, total)
    ids = files.ids if files is not None else {}
    strict = settings.oversized == "error"
    blocks = [
        bodies.image_block(image_source(image, ids), oversized_error=strict) for image in images
    ]
    messages = [*history.messages, bodies.user_turn(blocks, prompt, image_labels(images))]
    body = bodies.request_body(
        model=settings.model_name,
        max_tokens=settings.max_tokens,
        messages=messages,
        system=settings.system,
        temperature=settings.temperature,
        stream=stream,
        output_config=schema_mod.output_config(settings.schema) if settings.schema else None,
    )
    earlier = [
        _history_tokens(block, settings) for block in bodies.iter_image_blocks(history.messages)
    ]
    now = [image.tokens for image in images]
    counted = [t for t in (*earlier, *now) if t is not None]
    used = {ids[image.sha256] for image in images if image.sha256 in ids and image.kind == "file"}
    pending = tuple(
        image
        for image in images
        if image.kind == "file" and (image.sha256 is None or image.sha256 not in ids)
    )
    return Request(
        body=body,
        images=tuple(images),
        image_tokens=sum(counted),
        uncounted_images=len(earlier) + len(now) - len(counted),
        text_tokens=text_tokens(body),
        pending_uploads=pending,
        cached_file_ids=frozenset(used & files.cached) if files is not None else frozenset(),
    )


def _history_tokens(block: Mapping[str, Any], settings: Settings) -> int | None:
    raw = _base64_bytes(block.get("source", {}))
    size = _dimensions(raw) if raw is not None else None
    return policy.predict(*size, settings.model.tier).tokens if size else None


def text_tokens(body: Mapping[str, Any]) -> int:
    """A rough count of the text tokens: characters / 4, rounded up (a ``--schema`` counts as
    its JSON text)."""
    chars = len(body.get("system") or "")
    if body.get("output_config"):
        chars += len(json.dumps(body["output_config"], separators=(",", ":")))
    for turn in body.get("messages", ()):
        content = turn.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            chars += sum(len(b.get("text", "")) for b in content if b.get("type") == "text")
    return math.ceil(chars / CHARS_PER_TOKEN)


def check_request(request: Request, settings: Settings) -> None:
    """The request-level limits: images per request and the 32 MB body. PreflightError."""
    earlier = request.total_images - len(request.images)
    too_many = too_many_images(request.total_images, settings, earlier)
    if too_many is not None:
        raise PreflightError([too_many])
    size = request.size
    if size > limits.MESSAGES_REQUEST_MAX_BYTES:
        raise PreflightError(
            [
                Failure(
                    None,
                    f"the request would be {size:,} bytes, over the "
                    f"{policy.format_bytes(limits.MESSAGES_REQUEST_MAX_BYTES)} limit of a Messages "
                    "request: send fewer images, lower --max-bytes, or upload them with "
                    "--source file",
                )
            ]
        )


# --------------------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------------------


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
            "input_cost_usd": self.input_cost_usd,
            "max_output_cost_usd": self.max_output_cost_usd,
            "max_cost_usd": self.max_cost_usd,
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
            {"data": self.data, "error": schema_error(self.mismatch) if self.mismatch else None}
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


def schema_error(message: str) -> dict[str, Any]:
    """The ``error`` member of an answer that does not match ``--schema``."""
    return {
        "type": SCHEMA_MISMATCH,
        "status": None,
        "message": f"the answer does not match the schema: {message}",
    }


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


# --------------------------------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------------------------------


def send(
    api: API, request: Request, *, on_text: Callable[[str], None] | None = None
) -> messages.Reply:
    """Send the request: streamed to ``on_text`` when given, else in one piece. APIFailure."""
    if on_text is not None:
        return messages.stream_message(api, {**request.body, "stream": True}, on_text)
    return messages.create_message(api, request.params)


@dataclass(frozen=True)
class Files:
    """File ids for the images of a request, and which of them came from the cache."""

    ids: dict[str, str]
    cached: frozenset[str] = frozenset()
    uploaded: int = 0


def cached_files(images: Iterable[Image], cache: filesapi.FileCache | None) -> Files:
    """The ids the cache already has (no network: what a dry run can show)."""
    ids: dict[str, str] = {}
    if cache is not None:
        for image in images:
            if image.kind == "file" and image.sha256 is not None:
                file_id = cache.get(image.sha256)
                if file_id:
                    ids[image.sha256] = file_id
    return Files(ids, frozenset(ids.values()))


def resolve_files(
    api: API,
    images: Sequence[Image],
    cache: filesapi.FileCache | None,
    *,
    refresh: bool = False,
    expires: int | None = limits.FILE_DEFAULT_EXPIRY_SECONDS,
) -> Files:
    """Upload every ``file`` image the cache does not know (``refresh``: ignore what it knows),
    once per distinct content, to expire after ``expires`` seconds, and remember the new ids and
    when they expire. Raises APIFailure."""
    known = Files({}) if refresh else cached_files(images, cache)
    ids = dict(known.ids)
    uploaded = 0
    for image in images:
        if image.kind != "file" or image.sha256 is None or image.sha256 in ids:
            continue
        assert image.data is not None and image.media_type is not None
        remote = filesapi.upload_file(
            api,
            image.data,
            filename=image.filename,
            media_type=image.media_type,
            expires_in_seconds=expires,
        )
        uploaded += 1
        ids[image.sha256] = remote.id
        if cache is not None:
            cache.put(
                image.sha256,
                remote.id,
                media_type=image.media_type,
                size=len(image.data),
                filename=remote.filename,
                expires_at=remote.expires_at,
            )
    return Files(ids, known.cached, uploaded)


def stale_file(failure: failures.APIFailure) -> bool:
    """Whether the API no longer has a file id we sent: expired (``file_expired``) or deleted."""
    if failure.code == "file_expired":
        return True
    return failure.status == 404 and "file" in failure.message.lower()


# --------------------------------------------------------------------------------------------------
# Sends that correct themselves: an image the API still finds too large
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Correction:
    """A request whose images named by an ``image_dimensions_too_large`` 400 were shrunk."""

    request: Request
    max_side: int
    #: ``label: WxH -> wxh`` for each image shrunk.
    changes: tuple[str, ...]
    #: Whether the edge is the model's (kept in the cache), not a limit of this request (2000 px
    #: with more than 20 images) or one the tier already respects.
    model_edge: bool = True

    def describe(self, model: str) -> str:
        whose = f"for {model}" if self.model_edge else "in this request"
        return (
            f"the API takes images of at most {self.max_side} px a side {whose}, so "
            f"{', '.join(self.changes)} shrunk to fit and sent again"
        )


def correct_oversized(
    failure: failures.APIFailure, request: Request, settings: Settings
) -> Correction | None:
    """The request with exactly the images the 400 names shrunk to its
    ``max_side_length_pixels``; None when the failure is not that 400, the request did not ask
    for it (``--allow-downsize``), or a named image cannot be shrunk here (a URL or a file id)."""
    found = failures.too_large(failure)
    if found is None or settings.oversized != "error":
        return None
    edge, paths = found
    from vision_cli.imaging import transform

    body = json.loads(json.dumps(request.body))  # a deep copy of plain JSON
    messages = body["messages"]
    last = len(messages) - 1
    now = [i for i, b in enumerate(messages[last]["content"]) if b.get("type") == "image"]
    images = list(request.images)
    tier = catalog.edge_tier(settings.model.tier, edge)
    size_policy = policy.SizePolicy(edge, max_tokens=tier.max_tokens)
    tokens = request.image_tokens
    changes: list[str] = []
    for path in paths:
        block = _block_at(messages, path)
        source = block.get("source", {}) if block is not None else {}
        raw = _base64_bytes(source)
        if block is None or raw is None:
            return None
        try:
            done = transform.prepare(raw, size_policy=size_policy, max_bytes=settings.max_bytes)
        except transform.TransformError:
            return None
        before = _history_tokens(block, settings)
        block["source"] = bodies.base64_source(done.data, done.media_type)
        after = policy.predict(done.width, done.height, tier).tokens
        tokens += after - (before or 0)
        turn, index = (int(part) for part in path.split(".")[1::2][:2])
        label = path
        if turn == last and index in now:
            k = now.index(index)
            old = images[k]
            label = old.label
            images[k] = replace(
                old,
                data=done.data,
                media_type=done.media_type,
                width=done.width,
                height=done.height,
                tokens=after,
                action="resized",
            )
        changes.append(
            f"{label} ({done.source_width}x{done.source_height} -> {done.width}x{done.height})"
        )
    fixed = replace(request, body=body, images=tuple(images), image_tokens=tokens)
    many = request.total_images > limits.MANY_IMAGES_THRESHOLD
    per_request = many and edge >= limits.MANY_IMAGES_MAX_DIMENSION
    model_edge = not per_request and edge < settings.model.tier.max_edge
    return Correction(fixed, edge, tuple(changes), model_edge)


def _block_at(messages: list[Any], path: str) -> dict[str, Any] | None:
    """The image block at ``messages.N.content.M`` (the form of the 400's ``paths``)."""
    parts = path.split(".")
    if len(parts) != 4 or parts[0] != "messages" or parts[2] != "content":
        return None
    try:
        block = messages[int(parts[1])]["content"][int(parts[3])]
    except (ValueError, IndexError, KeyError, TypeError):
        return None
    return block if isinstance(block, dict) and block.get("type") == "image" else None


def remember(model: catalog.Model, correction: Correction) -> str:
    """What to say after a correction: the model's edge remembered, or why not."""
    if not correction.model_edge:
        return "the model's own limit is unchanged"
    return remember_edge(model, correction.max_side)


def remember_edge(model: catalog.Model, edge: int) -> str:
    """Keep the edge the API reported for ``model`` in the cache; what to say about it."""
    try:
        path = catalog.record_edge(model.id, edge)
    except OSError as exc:
        return f"could not remember it ({exc.strerror or exc})"
    return f"remembered in {path}"


def send_correcting(
    api: API,
    request: Request,
    settings: Settings,
    *,
    on_text: Callable[[str], None] | None = None,
    on_correction: Callable[[Correction], None] | None = None,
) -> tuple[Request, messages.Reply]:
    """:func:`send`, and if the API answers that images are too large, shrink exactly those,
    remember the model's edge and send once more. The request as sent, and the reply."""
    try:
        return request, send(api, request, on_text=on_text)
    except failures.APIFailure as failure:
        correction = correct_oversized(failure, request, settings)
        if correction is None:
            raise
    if on_correction is not None:
        on_correction(correction)
    return correction.request, send(api, correction.request, on_text=on_text)
