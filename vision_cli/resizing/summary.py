"""What a resize run is asked to do (:class:`ResizeOptions`) and what it reports: one
:class:`Outcome` per input and the :class:`ResizeTotals`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from vision_cli import limits, policy, sources, tiling
from vision_cli.formats import Target
from vision_cli.judging import Finding

Action = Literal["resized", "converted", "copied", "skipped", "tiled", "failed"]


#: The file-name extension each output format gets when the input's own does not name it.
EXTENSIONS: dict[str, str] = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif"}


#: Tasks handed to the pool ahead of the one being written, per worker: enough to keep every
#: worker busy, few enough that results wait in input order without piling up in memory.
AHEAD_PER_JOB = 4


class ResizeOptions(NamedTuple):
    """Everything one run needs; ``out`` None means in place."""

    size_policy: policy.SizePolicy
    tier: policy.Tier
    out: Path | None = None
    to: Target = Target.auto
    quality: int | None = None
    max_bytes: int = limits.DEFAULT_MAX_BYTES
    reencode: bool = False
    overwrite: bool = False
    backup: str | None = None
    dry_run: bool = False
    jobs: int = 1
    #: An output that exists and is newer than its input is ``skipped`` (not read, not written).
    skip_existing: bool = False
    #: Decode every input before it is copied or converted (``--verify``), as ``inspect --verify``.
    verify: bool = False
    #: ``--tile``: cut images into tiles (``NAME.tile-01.jpg`` ... and ``NAME.tiles.json``).
    tile: tiling.TileSpec | None = None
    #: ``--trim``: levels a border may stray from its colour (None: no trimming).
    trim_fuzz: int | None = None


def size_policy_for(
    tier: policy.Tier,
    *,
    native: bool,
    max_edge: int | None = None,
    max_megapixels: float | None = None,
    max_tokens: int | None = None,
) -> tuple[policy.SizePolicy, list[str]]:
    """The policy the options ask for, never beyond what ``tier`` processes unshrunk, and a
    warning for each bound that had to be lowered to it.

    ``native`` starts from the model's exact native size; otherwise from the seed's 1568 px /
    1.15 MP recommendation. ``max_edge`` and ``max_megapixels`` replace the starting bounds;
    ``max_tokens`` caps the patch tokens.
    """
    base = policy.SizePolicy.native(tier) if native else policy.SizePolicy.recommended()
    edge = base.max_edge if max_edge is None else max_edge
    pixels = base.max_pixels if max_megapixels is None else max(1, round(max_megapixels * 1e6))
    tokens = tier.max_tokens if max_tokens is None else max_tokens
    warnings: list[str] = []
    if edge > tier.max_edge:
        warnings.append(
            f"--max-edge {edge} is above the {tier.max_edge} px the {tier.name} tier processes "
            f"unshrunk: using {tier.max_edge} (pass --model for a high-res model)"
        )
        edge = tier.max_edge
    if tokens > tier.max_tokens:
        warnings.append(
            f"--max-tokens {tokens} is above the {tier.max_tokens} tokens of the {tier.name} "
            f"tier: using {tier.max_tokens}"
        )
        tokens = tier.max_tokens
    return policy.SizePolicy(edge, max_pixels=pixels, max_tokens=tokens), warnings


class Outcome(NamedTuple):
    """What happened to one input. ``as_dict`` gives the JSON record with the documented names."""

    input: str
    action: Action
    output: str | None = None
    format_before: str | None = None
    format_after: str | None = None
    width_before: int | None = None
    height_before: int | None = None
    width_after: int | None = None
    height_after: int | None = None
    bytes_before: int | None = None
    bytes_after: int | None = None
    tokens_before: int | None = None
    tokens_after: int | None = None
    quality: int | None = None
    error: str | None = None
    #: The gate's findings: the error that failed the input, or the warnings of its output.
    findings: tuple[Finding, ...] = ()
    #: ``tiled``: how many tiles were written (``output`` is then the ``NAME.tiles.json`` sidecar).
    tiles: int | None = None
    #: ``--trim``: the box kept, ``[left, top, right, bottom]`` in the upright original.
    trim: tuple[int, int, int, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "action": self.action,
            "format_before": self.format_before,
            "format_after": self.format_after,
            "width_before": self.width_before,
            "height_before": self.height_before,
            "width_after": self.width_after,
            "height_after": self.height_after,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "tokens_before": self.tokens_before,
            "tokens_after": self.tokens_after,
            "quality": self.quality,
            "error": self.error,
            "findings": [f.as_dict() for f in self.findings],
            "tiles": self.tiles,
            "trim": list(self.trim) if self.trim is not None else None,
        }

    def refused(self, error: str) -> Outcome:
        """This prepared input failed after all (its output refused or not written): what was
        known of the input stays, nothing of an output that does not exist."""
        return Outcome(
            self.input,
            "failed",
            format_before=self.format_before,
            width_before=self.width_before,
            height_before=self.height_before,
            bytes_before=self.bytes_before,
            tokens_before=self.tokens_before,
            error=error,
        )


@dataclass
class ResizeTotals:
    """Running totals over outcomes; money is per 1,000 sends of every output at ``price``."""

    model: str
    price: float | None  # USD per million input tokens (None: no price known for the model)
    dry_run: bool = False
    files: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("resized", "converted", "copied", "skipped", "failed"), 0
        )
    )
    bytes_before: int = 0
    bytes_after: int = 0
    tokens_before: int = 0
    tokens_after: int = 0

    def add(self, outcome: Outcome) -> None:
        self.files += 1
        self.counts[outcome.action] = self.counts.get(outcome.action, 0) + 1  # tiled: when any
        if outcome.action not in ("failed", "skipped"):
            self.bytes_before += outcome.bytes_before or 0
            self.bytes_after += outcome.bytes_after or 0
            self.tokens_before += outcome.tokens_before or 0
            self.tokens_after += outcome.tokens_after or 0

    @property
    def failed(self) -> int:
        return self.counts["failed"]

    @property
    def outputs(self) -> int:
        """The files the byte and token totals cover: failed and skipped ones add nothing."""
        return self.files - self.failed - self.counts["skipped"]

    def shown_counts(self) -> dict[str, int]:
        """The counts a report shows: ``skipped`` only when there are some (--skip-existing)."""
        return {a: n for a, n in self.counts.items() if n or a != "skipped"}

    @property
    def usd_saved_per_1000(self) -> float | None:
        if self.price is None:
            return None
        return policy.cost_usd((self.tokens_before - self.tokens_after) * 1000, self.price)

    def as_dict(self) -> dict[str, Any]:
        saved = self.usd_saved_per_1000
        return {
            "files": self.files,
            **self.counts,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "bytes_saved": self.bytes_before - self.bytes_after,
            "tokens_before": self.tokens_before,
            "tokens_after": self.tokens_after,
            "tokens_saved": self.tokens_before - self.tokens_after,
            "model": self.model,
            "usd_per_mtok": self.price,
            "usd_saved_per_1000_sends": None if saved is None else round(saved, 6),
            "dry_run": self.dry_run,
        }


Item = sources.Input | sources.Problem
