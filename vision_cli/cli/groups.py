"""The option groups every command shares, one named tuple each, built from the command's
parameters (declared in :mod:`vision_cli.cli.options`).

A builder only collects what was typed; checking and converting the values (a usage error names
the option) happens where the command asks for it, in the same order as before. Imported when a
command runs, not by ``--help`` (like ``ask_groups``, whose dataclasses cost about half a
millisecond each to create).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from vision_cli import policy
from vision_cli.cli.common import usage_error
from vision_cli.cli.options import DEFAULT_TRIM_FUZZ

if TYPE_CHECKING:
    from fractions import Fraction

    from vision_cli.sources import Selection
    from vision_cli.tiling import TileSpec


class InputOptions(NamedTuple):
    """The images a command reads: its arguments (``clip:`` added last for ``--clipboard``) and
    how they are listed and filtered (--files-from, -0, --exclude, --hidden,
    --allow-private-urls)."""

    inputs: list[str]
    selection: Selection


def input_options(
    inputs: list[str] | None,
    files_from: str | None,
    null: bool,
    exclude: list[str] | None,
    hidden: bool,
    allow_private_urls: bool,
    clipboard: bool,
) -> InputOptions:
    # lazy: start-up, --help declares these options without importing sources and policy
    from vision_cli.sources import CLIPBOARD, Selection

    given = list(inputs or [])
    if clipboard and CLIPBOARD not in given:
        given.append(CLIPBOARD)
    selection = Selection(
        files_from=files_from,
        null=null,
        exclude=tuple(exclude or ()),
        hidden=hidden,
        allow_private_urls=allow_private_urls,
    )
    return InputOptions(given, selection)


class SaverOptions(NamedTuple):
    """The token savers and tiles (--snap, --snap-max, --tile, --tile-overlap, --trim,
    --trim-fuzz) as typed; each method turns its pair into what the core takes, or stops with a
    usage error naming the option. A command without --trim leaves it off."""

    snap: bool
    snap_max: str
    tile: str | None
    tile_overlap: int | None
    trim: bool = False
    trim_fuzz: str = DEFAULT_TRIM_FUZZ

    def snap_share(self) -> Fraction | None:
        """``--snap`` and ``--snap-max`` as the policy's share (None: off)."""

        try:
            share = policy.parse_share(self.snap_max)
        except ValueError as exc:
            usage_error(str(exc), "--snap-max")
        return share if self.snap else None

    def trim_level(self) -> int | None:
        """``--trim`` and ``--trim-fuzz`` in levels 0-255 (None: off)."""

        try:
            share = policy.parse_share(self.trim_fuzz)
        except ValueError as exc:
            usage_error(str(exc), "--trim-fuzz")
        return round(share * 255) if self.trim else None

    def tile_spec(self) -> TileSpec | None:
        """``--tile`` and ``--tile-overlap`` as a spec (None: no tiling)."""
        # lazy: start-up, inspect builds these groups and never tiles
        from vision_cli import tiling

        if self.tile is None:
            if self.tile_overlap is not None:
                usage_error("--tile-overlap goes with --tile", "--tile-overlap")
            return None
        try:
            return tiling.TileSpec.parse(self.tile, self.tile_overlap)
        except ValueError as exc:
            usage_error(str(exc), "--tile")
