"""The batch state file of ``ask --batch``: ``results.jsonl.batches.json`` beside the results.

Written atomically after every change: each batch's id, model, prompt and the ``custom_id`` ->
``{path, sha256}`` map of its requests, and where the results file stood when its results began
to be written (so a collection cut short writes nothing twice when it resumes).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from vision_cli import fsutil, limits, names
from vision_cli.bulk import records

#: The batch state file of ``results.jsonl`` is ``results.jsonl.batches.json``.
STATE_SUFFIX: Final = ".batches.json"
STATE_VERSION: Final = 1


def state_path(output: Path) -> Path:
    """The batch state file beside ``output``: ``results.jsonl.batches.json``."""
    return output.with_name(output.name + STATE_SUFFIX)


class BatchState:
    """The batches submitted for one results file, in ``results.jsonl.batches.json``.

    ``{"version": 1, "results": NAME, "batches": [{"id", "model", "prompt_sha256",
    "submitted_at", "requests": {custom_id: {"path", "sha256"}}, "collect_offset",
    "collected"}]}``. ``collect_offset`` is where the results file ended when the batch's
    results began to be written: a run that dies while writing them knows, on the next run,
    which are written already. Written atomically after every change.
    """

    def __init__(self, path: Path, results: Path) -> None:
        self.path = path
        self.results = results
        self.batches: list[dict[str, Any]] = []

    @classmethod
    def load(cls, path: Path, results: Path) -> BatchState:
        """The state file at ``path`` (none yet: no batches). OutputError when it cannot be read
        or is not one; only a regular file of at most :data:`vision_cli.limits.MAX_RESULTS_BYTES`
        is read, as for the results file beside it (:func:`fsutil.open_regular`)."""
        state = cls(path, results)
        try:
            doc = json.loads(fsutil.read_back(path, limits.MAX_RESULTS_BYTES))
        except FileNotFoundError:
            return state
        except fsutil.UnfitFile as exc:
            raise records.OutputError(
                f"{path} cannot be a batch state file ({exc}): move it away"
            ) from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise records.OutputError(f"cannot read the batch state file {path} ({exc})") from None
        batches = doc.get("batches") if isinstance(doc, dict) else None
        if not isinstance(batches, list) or not all(_valid_batch(b) for b in batches):
            raise records.OutputError(
                f"{path} is not a vision-cli batch state file: move it away (the batches it "
                "names would be submitted again)"
            )
        state.batches = batches
        return state

    def save(self) -> None:
        """Write the file atomically; with no batch left, remove it. WriteError."""
        doc = {"version": STATE_VERSION, "results": self.results.name, "batches": self.batches}
        try:
            if not self.batches:
                self.path.unlink(missing_ok=True)
                return
            fsutil.write_text(self.path, names.dumps(doc, indent=1) + "\n")
        except OSError as exc:
            raise records.WriteError(f"cannot write {self.path} ({exc.strerror or exc})") from None

    def uncollected(self) -> list[dict[str, Any]]:
        return [b for b in self.batches if not b.get("collected") and b.get("id")]

    def unconfirmed(self) -> list[dict[str, Any]]:
        """Batches whose create was sent but whose id was never saved (the run was killed, or
        the state file could not be written, during the create)."""
        return [b for b in self.batches if not b.get("id")]

    def pending(self) -> set[records.ImageKey]:
        """Every image in uncollected batches, of any model and prompt (:func:`.image_key`)."""
        return {
            records.image_key({**ref, "model": b["model"], "prompt_sha256": b["prompt_sha256"]})
            for b in self.uncollected()
            for ref in b["requests"].values()
        }

    def waiting(self, model: str, prompt_hash: str) -> set[records.ImageId]:
        """The image keys of the images in uncollected batches for this model and prompt."""
        key = records.model_key(model)
        return {
            records.image_id(ref["path"], ref.get("sha256"))
            for b in self.uncollected()
            if records.model_key(b["model"]) == key and b["prompt_sha256"] == prompt_hash
            for ref in b["requests"].values()
        }


def _valid_batch(batch: Any) -> bool:
    return (
        isinstance(batch, dict)
        and (
            isinstance(batch.get("id"), str)
            or (batch.get("id") is None and isinstance(batch.get("submission"), str))
        )
        and isinstance(batch.get("submitted_at"), str | None)
        and isinstance(batch.get("model"), str)
        and isinstance(batch.get("prompt_sha256"), str)
        and isinstance(batch.get("requests"), dict)
        and isinstance(batch.get("collect_offset"), int | None)
        and isinstance(batch.get("collected", False), bool)
        and all(
            isinstance(ref, dict)
            and isinstance(ref.get("path"), str)
            and isinstance(ref.get("sha256"), str | None)
            for ref in batch["requests"].values()
        )
    )
