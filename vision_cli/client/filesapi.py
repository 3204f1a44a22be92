"""The Files API: upload (with an expiry), list, delete, and :class:`FileCache`, which remembers
uploaded ids and their expiry by the SHA-256 of the bytes sent, so the same image is never
uploaded twice while its upload lasts.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from vision_cli import fsutil, limits
from vision_cli.client.bodies import FILES_BETA
from vision_cli.client.failures import api_failure
from vision_cli.client.keys import base_url

if TYPE_CHECKING:
    import anthropic


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class RemoteFile:
    """What the Files API says about one file."""

    id: str
    filename: str
    bytes: int
    created_at: datetime | None
    expires_at: datetime | None


def _remote_file(meta: Any) -> RemoteFile:
    return RemoteFile(
        id=str(meta.id),
        filename=str(meta.filename),
        bytes=int(meta.size_bytes),
        created_at=meta.created_at,
        expires_at=getattr(meta, "expires_at", None),
    )


def upload_file(
    client: anthropic.Anthropic,
    data: bytes,
    *,
    filename: str,
    media_type: str,
    expires_in_seconds: int | None = None,
) -> RemoteFile:
    """Upload ``data`` through the Files API, to expire after ``expires_in_seconds`` (None: never,
    as the API decides). Raises :class:`APIFailure`."""
    options: dict[str, Any] = {}
    if expires_in_seconds is not None:
        options["expires_in_seconds"] = expires_in_seconds
    try:
        meta = client.beta.files.upload(
            file=(filename, data, media_type), betas=[FILES_BETA], **options
        )
    except Exception as exc:
        raise api_failure(exc) from None
    return _remote_file(meta)


def list_files(client: anthropic.Anthropic, file_ids: Iterable[str]) -> dict[str, RemoteFile]:
    """The files among ``file_ids`` that the API still has, by id (deleted ones are left out).
    Raises :class:`APIFailure`."""
    wanted = sorted(set(file_ids))
    found: dict[str, RemoteFile] = {}
    step = limits.FILE_LIST_MAX_IDS
    try:
        for start in range(0, len(wanted), step):
            page = client.beta.files.list(ids=wanted[start : start + step], betas=[FILES_BETA])
            for meta in page.data:
                found[str(meta.id)] = _remote_file(meta)
    except Exception as exc:
        raise api_failure(exc) from None
    return found


def file_id_problem(file_id: str) -> str | None:
    """Why ``file_id`` cannot name a file (the SDK refuses to put it in a request path: empty,
    a dot segment, a leading ``;``), or None."""
    if not file_id.strip():
        return "it is empty"
    if file_id.partition(";")[0] in ("", ".", ".."):
        return "it would name a folder of the API's paths, not a file"
    return None


def delete_file(client: anthropic.Anthropic, file_id: str) -> bool:
    """Delete a file: True when deleted, False when the API did not have it (any more).
    Raises :class:`APIFailure` for anything else."""
    try:
        client.beta.files.delete(file_id, betas=[FILES_BETA])
    except Exception as exc:
        failure = api_failure(exc)
        if failure.status == 404:
            return False
        raise failure from None
    return True


def expired(moment: datetime | None, *, margin: float = 0.0, now: datetime | None = None) -> bool:
    """Whether ``moment`` (an expiry) is past, or within ``margin`` seconds of ``now`` (the
    system's time when None)."""
    now = now or datetime.now(UTC)
    return moment is not None and moment.timestamp() <= now.timestamp() + margin


@dataclass(frozen=True)
class CachedUpload:
    """One upload vision-cli remembers (for this endpoint)."""

    sha256: str
    file_id: str
    filename: str
    media_type: str
    bytes: int
    uploaded_at: datetime | None
    expires_at: datetime | None


def _moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


class FileCache:
    """Uploaded file ids by the SHA-256 of the bytes sent, per API endpoint, in one JSON file.

    Each entry records when the upload expires; an entry within :attr:`EXPIRY_MARGIN` seconds of
    its expiry counts as gone, so a request never starts with a file about to disappear.

    Written atomically (a temporary file in the same folder, then a rename), under a lock that
    other runs take too (``files.json.lock``, where the system has ``flock``), and re-read under
    it, so concurrent runs lose nothing but a race on the same image. Entries that are not
    uploads (edited by hand) are left out, and dropped at the next write. A damaged record is
    moved aside (``files.json.damaged``, never written over) before a write; a record that
    cannot be read, or cannot be moved aside, is left alone and the run goes on without it; one
    of a newer version is read but never written. A ``readonly`` cache (a dry run, ``files
    list``) changes no file: it only says what it found. Each of these is said once through
    ``warn`` (the command's stderr), since uploads not remembered are sent again, and paid again,
    by the next run.
    """

    FILENAME: Final = "files.json"
    VERSION: Final = 1
    EXPIRY_MARGIN: Final = 300.0

    def __init__(
        self,
        path: Path | None = None,
        *,
        endpoint: str | None = None,
        clock: Callable[[], datetime] | None = None,
        warn: Callable[[str], None] | None = None,
        readonly: bool = False,
    ) -> None:
        """``clock``: the run's (UTC), which dates uploads and decides expiry; the system's
        when None. ``warn``: says a problem with the record, once each. ``readonly``: never
        write, move or create a file."""
        self.clock = clock or (lambda: datetime.now(UTC))
        self.path = path or fsutil.cache_dir() / self.FILENAME
        self.endpoint = (endpoint or base_url()).rstrip("/")
        self.readonly = readonly
        self._lock = threading.Lock()
        self._warn = warn
        self._said: set[str] = set()
        #: The record cannot be used this run (out of reach, or damaged and stuck): it is not
        #: read again, and never written.
        self._off = False
        #: The record is of a newer version: read, never written (it would lose what it holds).
        self._newer = False

    def _say(self, problem: str) -> None:
        if self._warn is not None and problem not in self._said:
            self._said.add(problem)
            self._warn(problem)

    def _read(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The uploads in the record, by digest then endpoint; {} when there is none, or none
        that can be used (said once)."""
        if self._off:
            return {}
        try:
            text = self.path.read_text("utf-8")
        except (FileNotFoundError, NotADirectoryError):  # none (its folder may be a file)
            return {}
        except UnicodeDecodeError as exc:  # its bytes are damaged
            return self._damaged(str(exc))
        except OSError as exc:  # it may be fine, only out of reach: never written over
            return self._unusable(f"cannot read the record of uploads {self.path} ({exc})")
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            return self._damaged(str(exc) if isinstance(exc, ValueError) else "nested too deeply")
        files = doc.get("files") if isinstance(doc, dict) else None
        if not isinstance(files, dict):
            return self._damaged("no uploads in it")
        version = doc.get("version", self.VERSION)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            return self._damaged(f"its version is {json.dumps(version)[:20]}")
        if version > self.VERSION:
            self._newer = True
            self._say(
                f"the record of uploads {self.path} is of version {version}, newer than this "
                f"vision-cli's ({self.VERSION}): it is read but not written, so new uploads are "
                "not remembered; update vision-cli"
            )
        return self._uploads(files)

    def _uploads(self, files: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
        """The entries that are uploads (an object with a file id); the rest said, left out."""
        kept: dict[str, dict[str, dict[str, Any]]] = {}
        bad = 0
        for digest, endpoints in files.items():
            if not isinstance(endpoints, dict):
                bad += 1
                continue
            good = {
                where: entry
                for where, entry in endpoints.items()
                if isinstance(entry, dict) and isinstance(entry.get("file_id"), str)
                if file_id_problem(entry["file_id"]) is None
            }
            bad += len(endpoints) - len(good)
            if good:
                kept[digest] = good
        if bad:
            what = "entry that is not an upload" if bad == 1 else "entries that are not uploads"
            self._say(
                f"the record of uploads {self.path} holds {bad:,} {what} (edited by hand?): "
                "left out"
            )
        return kept

    def _damaged(self, reason: str) -> dict[str, Any]:
        """A damaged record: moved aside under a free name (never written over, nor over an
        earlier damaged one: the uploads it names are still on the API until they expire), and
        said; only said when the cache is read-only."""
        if self.readonly:
            self._say(
                f"the record of uploads {self.path} is damaged ({reason}): it is not used, and "
                "left as it is (the next upload keeps it aside)"
            )
            return {}
        damaged = f"the record of uploads {self.path} is damaged ({reason})"
        aside = self._aside()
        if aside is None:
            return self._unusable(f"{damaged} and no name beside it is free to keep it aside")
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            return self._unusable(f"{damaged} and cannot be moved aside ({exc})")
        self._say(
            f"the record of uploads {self.path} was damaged ({reason}): kept as {aside}; the "
            "uploads it names are not reused, listed or pruned from here"
        )
        return {}

    def _unusable(self, problem: str) -> dict[str, Any]:
        """A record this run cannot use nor replace: left alone, and the run goes on without."""
        self._off = True
        self._say(
            f"{problem}: it is left as it is, and this run goes on without it (its uploads are "
            "not reused, and new ones are not remembered)"
        )
        return {}

    def _aside(self) -> Path | None:
        """``files.json.damaged``, else ``files.json.damaged.1`` and on: the first name free."""
        for n in range(1000):
            aside = self.path.with_name(f"{self.path.name}.damaged{f'.{n}' if n else ''}")
            if not os.path.lexists(aside):
                return aside
        return None

    def get(self, digest: str) -> str | None:
        """The file id uploaded for these bytes, unless it has expired (or is about to)."""
        entry = self._read().get(digest, {}).get(self.endpoint)
        if entry is None:
            return None
        upload = self._entry(digest, entry)
        if expired(upload.expires_at, margin=self.EXPIRY_MARGIN, now=self.clock()):
            return None
        return upload.file_id

    def entries(self) -> list[CachedUpload]:
        """Every upload remembered for this endpoint, oldest first."""
        found = [
            self._entry(digest, endpoints[self.endpoint])
            for digest, endpoints in self._read().items()
            if self.endpoint in endpoints
        ]
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(found, key=lambda u: u.uploaded_at or epoch)  # stable: upload order

    @staticmethod
    def _entry(digest: str, entry: dict[str, Any]) -> CachedUpload:
        """One entry :meth:`_uploads` kept (its ``file_id`` is text)."""
        size = entry.get("bytes")
        return CachedUpload(
            sha256=digest,
            file_id=entry["file_id"],
            filename=str(entry.get("filename") or ""),
            media_type=str(entry.get("media_type") or ""),
            bytes=size if isinstance(size, int) and not isinstance(size, bool) else 0,
            uploaded_at=_moment(entry.get("uploaded_at")),
            expires_at=_moment(entry.get("expires_at")),
        )

    def put(
        self,
        digest: str,
        file_id: str,
        *,
        media_type: str,
        size: int,
        filename: str = "",
        expires_at: datetime | None = None,
    ) -> bool:
        """Remember an upload; False when the cache could not be written."""
        entry = {
            "file_id": file_id,
            "filename": filename,
            "media_type": media_type,
            "bytes": size,
            "uploaded_at": self.clock().isoformat(timespec="seconds"),
            "expires_at": expires_at.isoformat(timespec="seconds") if expires_at else None,
        }
        return self._update(
            lambda files: files.setdefault(digest, {}).__setitem__(self.endpoint, entry)
        )

    def forget(self, file_ids: Iterable[str]) -> bool:
        """Drop entries for these ids (the API no longer knows them). A record that names none
        of them is left as it is (none is made)."""
        gone = set(file_ids) & {upload.file_id for upload in self.entries()}
        if not gone:
            return True

        def drop(files: dict[str, Any]) -> None:
            for digest, endpoints in list(files.items()):
                entry = endpoints.get(self.endpoint)
                if entry is not None and entry["file_id"] in gone:
                    del endpoints[self.endpoint]
                    if not endpoints:
                        del files[digest]

        return self._update(drop)

    def _update(self, change: Callable[[dict[str, Any]], None]) -> bool:
        """Apply ``change`` to the record as it is on disk now: read again and written under
        this process's lock and the one other runs take. False when not written (said)."""
        if self.readonly:
            return False
        with self._lock, self._held():
            files = self._read()
            if self._off or self._newer:  # out of reach, or it would lose what it holds
                return False
            change(files)
            doc = {"version": self.VERSION, "files": files}
            try:
                fsutil.write_text(self.path, json.dumps(doc, indent=1))
            except OSError as exc:
                self._say(f"cannot write the record of uploads {self.path} ({exc}): {_AGAIN}")
                return False
            return True

    @contextlib.contextmanager
    def _held(self) -> Iterator[None]:
        """The lock other runs take to change the record (``files.json.lock``, an exclusive
        ``flock``): waited for, as a change takes a moment. Where there is no ``flock`` (not
        POSIX), or the lock file cannot be made (its folder read-only: then the write fails and
        is said), the record is changed without it."""
        try:
            import fcntl
        except ImportError:
            yield
            return
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            yield
            return
        try:
            with contextlib.suppress(OSError):  # a file system without locks
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock


_AGAIN: Final = "uploads are not remembered, and the next run uploads them again"
