"""Sending: :func:`send`, the uploads ``--source file`` needs (each once, cached by SHA-256), and
the one correction made when the API finds an image too large.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from vision_cli import catalog, limits, policy
from vision_cli.asking.building import Files, Request, cached_files, history_tokens
from vision_cli.asking.conversations import source_bytes
from vision_cli.asking.fitting import Image
from vision_cli.asking.preparing import Settings
from vision_cli.client import bodies, failures, filesapi, messages

if TYPE_CHECKING:
    from vision_cli.client.connect import Anthropic


def send(
    api: Anthropic, request: Request, *, on_text: Callable[[str], None] | None = None
) -> messages.Reply:
    """Send the request: streamed to ``on_text`` when given, else in one piece. APIFailure."""
    if on_text is not None:
        return messages.stream_message(api, {**request.body, "stream": True}, on_text)
    return messages.create_message(api, request.params)


def resolve_files(
    api: Anthropic,
    images: Sequence[Image],
    cache: filesapi.FileCache | None,
    *,
    known: Files | None = None,
    expires: int | None = limits.FILE_DEFAULT_EXPIRY_SECONDS,
) -> Files:
    """Upload every ``file`` image that has no file id (in ``known``, else in the cache), once
    per distinct content, to expire after ``expires`` seconds, and remember the new ids and when
    they expire. Raises APIFailure, naming the image whose upload failed."""
    known = known if known is not None else cached_files(images, cache)
    ids = dict(known.ids)
    uploaded = 0
    for image in images:
        if image.kind != "file" or image.sha256 is None or image.sha256 in ids:
            continue
        assert image.data is not None and image.media_type is not None
        try:
            remote = filesapi.upload_file(
                api,
                image.data,
                filename=image.filename,
                media_type=image.media_type,
                expires_in_seconds=expires,
            )
        except failures.APIFailure as failure:  # which image, when several are uploaded
            raise failure.with_message(f"{failure.message} (uploading {image.label})") from None
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


class GoneFromHistory(failures.APIFailure):
    """A file id of an earlier turn of the conversation that the API no longer has: the
    conversation holds only the id, not the image, so it cannot be uploaded again."""

    def __init__(self, failure: failures.APIFailure, file_ids: Sequence[str]) -> None:
        super().__init__(
            failure.status,
            failure.type,
            failure.message,
            failure.request_id,
            code=failure.code,
            details=failure.details,
        )
        self.file_ids = tuple(file_ids)


def gone_files(api: Anthropic, request: Request, failure: failures.APIFailure) -> frozenset[str]:
    """The file ids of ``request`` that the API no longer has, when ``failure`` says one is
    gone (:func:`stale_file`): those its message names, else those the Files API no longer
    lists, or lists past their expiry. Empty for any other failure. Raises no APIFailure (a
    failed check finds none)."""
    if not stale_file(failure):
        return frozenset()
    sent = {
        str(block["source"]["file_id"])
        for block in bodies.iter_image_blocks(request.body["messages"])
        if isinstance(block.get("source"), dict) and block["source"].get("type") == "file"
    }
    named = {file_id for file_id in sent if _names(failure.message, file_id)}
    if named:
        return frozenset(named)
    try:
        present = filesapi.list_files(api, sent)
    except failures.APIFailure:
        return frozenset()
    return frozenset(
        file_id
        for file_id in sent
        if file_id not in present or filesapi.expired(present[file_id].expires_at)
    )


def _names(message: str, file_id: str) -> bool:
    """Whether ``message`` names ``file_id`` as a whole word (not as part of a longer id)."""
    return re.search(rf"(?<![\w-]){re.escape(file_id)}(?![\w-])", message) is not None


def send_refreshing(
    api: Anthropic,
    request: Request,
    settings: Settings,
    cache: filesapi.FileCache | None,
    *,
    rebuild: Callable[[Files], Request],
    expires: int | None,
    on_text: Callable[[str], None] | None = None,
    on_correction: Callable[[Correction], None] | None = None,
    on_upload: Callable[[Files], None] | None = None,
) -> tuple[Request, messages.Reply]:
    """:func:`send_correcting`; and when the API no longer has file ids the request names
    (deleted, or past their expiry), forget exactly those, upload again only the images they
    stood for, and send once more (a refused request is not paid for). ``rebuild``: the
    request with these file ids; ``on_upload``: told of the uploads. An earlier turn's file
    that is gone: :class:`GoneFromHistory`, nothing uploaded."""
    try:
        return send_correcting(api, request, settings, on_text=on_text, on_correction=on_correction)
    except failures.APIFailure as failure:
        gone = gone_files(api, request, failure)
        if not gone:
            raise
        stale = failure
    if cache is not None:
        cache.forget(gone)
    earlier = gone - set(request.file_ids.values())
    if earlier:
        raise GoneFromHistory(stale, sorted(earlier)) from None
    known = Files(
        {sha: file_id for sha, file_id in request.file_ids.items() if file_id not in gone},
        request.cached_file_ids - gone,
    )
    files = resolve_files(api, request.images, cache, known=known, expires=expires)
    if on_upload is not None:
        on_upload(files)
    return send_correcting(
        api, rebuild(files), settings, on_text=on_text, on_correction=on_correction
    )


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
    for it (``--allow-downsize``), a named image cannot be shrunk here (a URL or a file id), or
    nothing would change (no image named, or every one named already within the edge): the
    same request would only be refused again."""
    found = failures.too_large(failure)
    if found is None or settings.oversized != "error":
        return None
    edge, paths = found
    from vision_cli.imaging import decode, transform  # lazy: start-up, Pillow

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
        raw = source_bytes(source)
        if block is None or raw is None:
            return None
        try:
            done = transform.prepare(raw, size_policy=size_policy, max_bytes=settings.max_bytes)
        except decode.TransformError:
            return None
        if (done.width, done.height) == (done.source_width, done.source_height):
            continue  # already within the edge: sending it again would change nothing
        before = history_tokens(block, settings)
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
    if not changes:
        return None  # no image named, or none the edge shrinks: the same request would fail
    fixed = replace(request, body=body, images=tuple(images), image_tokens=tokens)
    many = request.total_images > limits.MANY_IMAGES_THRESHOLD
    per_request = many and edge >= limits.MANY_IMAGES_MAX_DIMENSION
    # (equal: another request of the same run taught it already, while this one was in flight)
    model_edge = not per_request and edge <= settings.model.tier.max_edge
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
    api: Anthropic,
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
