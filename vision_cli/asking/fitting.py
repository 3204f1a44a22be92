"""Preflight: inputs become :class:`Image` objects ready to send (read, oriented, resized,
converted, tiled and fitted under the byte limit in memory); nothing is sent before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, Final

from vision_cli import judging, limits, names, policy, sources
from vision_cli.asking.preparing import (
    Failure,
    Kind,
    PreflightError,
    Settings,
    read_input,
    refuse_offline,
    too_many_images,
)
from vision_cli.client import filesapi

if TYPE_CHECKING:
    pass


_EXTENSIONS: Final = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
}


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
    from vision_cli.imaging import decode, preflight, tiles  # lazy: start-up, Pillow

    assert settings.tile is not None
    lim = judging.Limits(tier=settings.model.tier, max_bytes=settings.max_bytes, many_images=many)
    gated = preflight.judge(data, lim, extension=item.extension, verify=settings.verify)
    if gated.refusal is not None:
        raise PreflightError([_failure(item.label, gated.refusal)])
    size_policy = settings.size_policy() or policy.SizePolicy.native(settings.model.tier)
    try:
        tiled = tiles.prepare_tiles(
            data,
            settings.tile,
            found=gated.probe,
            size_policy=size_policy,
            max_bytes=settings.max_bytes,
            max_dimension=limits.MANY_IMAGES_MAX_DIMENSION if many else limits.MAX_DIMENSION,
            trim_fuzz=settings.trim_fuzz,
        )
    except decode.TransformError as exc:
        raise PreflightError([_failure(item.label, exc.finding)]) from None
    if tiled is None:
        return [prepare_image(item, settings, many=many, data=data)]
    tier = settings.model.tier
    grid = tiled.grid
    # what the image would cost sent whole: fitted (and with --snap, snapped) as it would be
    whole_size = size_policy.target(grid.width, grid.height)
    whole = policy.predict(*whole_size, tier).tokens
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
            source_width=tiled.width,
            source_height=tiled.height,
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
        if kind != "url":  # a download a dry run does not make
            refuse_offline(item)
        return Image(item.label, kind, url=item.url, action="url" if kind == "url" else "download")
    if data is None:
        data = read_input(item, stdin=stdin)
    image = fit_bytes(data, settings, many=many, extension=item.extension, label=item.label)
    return replace(image, kind=kind, url=item.url)


def fit_bytes(
    data: bytes, settings: Settings, *, many: bool = False, extension: str = "", label: str = "-"
) -> Image:
    """Bytes passed through the gate and brought into shape in memory (or, with
    ``--no-resize``, checked as they are). Nothing the gate calls an error that cannot be fixed is
    ever sent: :class:`PreflightError` with the gate's code and sentence instead."""
    from vision_cli.imaging import decode, preflight, transform  # lazy: start-up, Pillow

    lim = judging.Limits(tier=settings.model.tier, max_bytes=settings.max_bytes, many_images=many)
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
    except decode.TransformError as exc:
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


def _failure(label: str, finding: judging.Finding) -> Failure:
    return Failure(label, finding.message, finding.code.value)


def _warnings(found: Iterable[judging.Finding]) -> tuple[str, ...]:
    return tuple(
        f"{f.message} [{f.code.value}]" for f in found if f.severity is judging.Severity.WARNING
    )


def _as_is(data: bytes, gated: Any, settings: Settings, *, label: str) -> Image:
    """``--no-resize``: the bytes go as they are, so every error stops them (the gate's
    sentence, and how vision-cli would fix it)."""
    facts = gated.probe.facts
    errors = [f for f in gated.findings if f.severity is judging.Severity.ERROR]
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
