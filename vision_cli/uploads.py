"""The core of ``vision-cli files``: the uploads vision-cli made, and cleaning them up.

The local cache (:class:`filesapi.FileCache`) knows what was uploaded, from which bytes, and when
each upload expires; the Files API knows what still exists. :func:`listing` joins the two;
:func:`delete` and :func:`prune` change both. Results are frozen records; nothing is printed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from vision_cli.client import failures, filesapi

if TYPE_CHECKING:
    from vision_cli.client.connect import Anthropic

#: ``present``: the API has it; ``expired``: past its ``expires_at`` (its bytes are gone);
#: ``gone``: the API no longer lists it (deleted elsewhere, or removed after expiring).
State = Literal["present", "expired", "gone"]
#: What :func:`delete` and :func:`prune` did with one file (``would-...`` on a dry run):
#: ``not-found``, neither the API nor the record has it; ``failed``, the API failed (``reason``).
Action = Literal["deleted", "forgotten", "would-delete", "would-forget", "not-found", "failed"]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment is not None else None


@dataclass(frozen=True)
class Upload:
    """One upload: what the cache remembers, and what the API says now."""

    file_id: str
    filename: str
    bytes: int
    uploaded_at: datetime | None
    expires_at: datetime | None
    state: State

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.file_id,
            "filename": self.filename,
            "bytes": self.bytes,
            "uploaded_at": _iso(self.uploaded_at),
            "expires_at": _iso(self.expires_at),
            "state": self.state,
        }


@dataclass(frozen=True)
class Change:
    """What happened to one file id."""

    file_id: str
    action: Action
    reason: str

    @property
    def ok(self) -> bool:
        return self.action not in ("not-found", "failed")

    def as_dict(self) -> dict[str, str]:
        return {"id": self.file_id, "action": self.action, "reason": self.reason}


def listing(api: Anthropic, cache: filesapi.FileCache) -> list[Upload]:
    """Every upload the cache remembers, oldest first, with its state on the API. APIFailure."""
    entries = cache.entries()
    remote = filesapi.list_files(api, (e.file_id for e in entries))
    uploads = []
    for entry in entries:
        found = remote.get(entry.file_id)
        expires = found.expires_at if found is not None else entry.expires_at
        state: State = "gone"
        if found is not None:
            state = "expired" if filesapi.expired(expires, now=cache.clock()) else "present"
        uploads.append(
            Upload(
                file_id=entry.file_id,
                filename=found.filename if found is not None else entry.filename,
                bytes=found.bytes if found is not None else entry.bytes,
                uploaded_at=entry.uploaded_at,
                expires_at=expires,
                state=state,
            )
        )
    return uploads


def delete(api: Anthropic, cache: filesapi.FileCache, file_ids: Iterable[str]) -> list[Change]:
    """Delete each file on the API and drop it from the cache: one the API no longer has is only
    forgotten (``not-found`` when the cache does not have it either); one vision-cli did not
    upload is deleted, and said. A failure of one (``failed``) does not stop the others."""
    remembered = set(cached_ids(cache))
    changes = []
    for file_id in dict.fromkeys(file_ids):
        ours = file_id in remembered
        try:
            deleted = filesapi.delete_file(api, file_id)
        except failures.APIFailure as failure:
            changes.append(Change(file_id, "failed", str(failure)))
            continue
        if deleted:
            reason = "deleted on request" if ours else "not one vision-cli uploaded"
            changes.append(Change(file_id, "deleted", reason))
        elif ours:
            changes.append(Change(file_id, "forgotten", "the API no longer has it"))
        else:
            changes.append(Change(file_id, "not-found", "the API does not have it"))
        cache.forget([file_id])
    return changes


def prune(api: Anthropic, cache: filesapi.FileCache, *, dry_run: bool = False) -> list[Change]:
    """Delete the uploads past their expiry and forget those the API no longer has; a failure
    to delete one (``failed``) does not stop the others. APIFailure when the API cannot say
    which it has."""
    changes = []
    for upload in listing(api, cache):
        if upload.state == "present":
            continue
        if upload.state == "expired":
            try:
                kept = dry_run or filesapi.delete_file(api, upload.file_id)
            except failures.APIFailure as failure:
                changes.append(Change(upload.file_id, "failed", str(failure)))
                continue
            if not kept:
                changes.append(Change(upload.file_id, "forgotten", "the API no longer has it"))
            else:
                action: Action = "would-delete" if dry_run else "deleted"
                changes.append(Change(upload.file_id, action, "past its expiry"))
        else:
            action = "would-forget" if dry_run else "forgotten"
            changes.append(Change(upload.file_id, action, "the API no longer has it"))
        if not dry_run:
            cache.forget([upload.file_id])
    return changes


def cached_ids(cache: filesapi.FileCache) -> Sequence[str]:
    """Every file id the cache remembers (``files delete --all``)."""
    return [entry.file_id for entry in cache.entries()]
