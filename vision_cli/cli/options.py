"""The options commands share, declared once: typer ``Annotated`` aliases, grouped by panel, and
one dataclass per group with the function that builds it from a command's parameters.

Declaring an option costs no imports beyond typer and :mod:`vision_cli.formats`: ``--help`` must
stay fast. A group's builder only collects what was typed; checking and converting the values
(a usage error names the option) stays where the command does it, in the same order as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vision_cli import catalog, policy
from vision_cli.cli.common import usage_error
from vision_cli.formats import Format, ReportFormat

if TYPE_CHECKING:
    from fractions import Fraction

    from vision_cli.policy import TileSpec
    from vision_cli.sources import Selection

MODEL_ENV = "VISION_CLI_MODEL"
#: How ``--help`` names the default model (chosen from the model data, never a literal).
DEFAULT_MODEL_HELP = "the newest active Sonnet"
INPUTS_PANEL = "Inputs"
OUTPUT_PANEL = "Output"


def complete_model(incomplete: str) -> list[str]:

    return [n for n in catalog.load().names() if n.startswith(incomplete)]


InputsArg = Annotated[
    list[str] | None,
    typer.Argument(
        help="Image files, folders (walked recursively), glob patterns, http(s) URLs, - for "
        "standard input, or clip: for the clipboard.",
        show_default=False,
    ),
]
FilesFromOpt = Annotated[
    str | None,
    typer.Option(
        "--files-from",
        help="Read input paths from FILE, one per line (- for standard input).",
        metavar="FILE",
        rich_help_panel=INPUTS_PANEL,
    ),
]
NullOpt = Annotated[
    bool,
    typer.Option(
        "-0",
        "--null",
        help="--files-from is NUL-separated (find -print0).",
        rich_help_panel=INPUTS_PANEL,
    ),
]
ExcludeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--exclude",
        help="Skip paths matching GLOB (the whole path, its name or a folder name). Repeatable.",
        metavar="GLOB",
        rich_help_panel=INPUTS_PANEL,
    ),
]
HiddenOpt = Annotated[
    bool,
    typer.Option(
        "--hidden", help="Include hidden files and folders.", rich_help_panel=INPUTS_PANEL
    ),
]
AllowPrivateUrlsOpt = Annotated[
    bool,
    typer.Option(
        "--allow-private-urls",
        help="Download URLs on loopback, private and link-local addresses too (refused by "
        "default: a URL from a file list must not reach your network's own services).",
        rich_help_panel=INPUTS_PANEL,
    ),
]
ClipboardOpt = Annotated[
    bool,
    typer.Option(
        "--clipboard",
        help="Add the image on the clipboard to the inputs (the same as the input clip:).",
        rich_help_panel=INPUTS_PANEL,
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help=f"Model id, alias, or line (opus, sonnet, haiku, fable, mythos: its newest active "
        f"model). Default: {DEFAULT_MODEL_HELP}, or ${MODEL_ENV}. `vision-cli models` lists them.",
        envvar=MODEL_ENV,
        autocompletion=complete_model,
        show_default=False,
    ),
]
_FORMAT_HELP = "Output format."
InspectFormatOpt = Annotated[
    Format,
    typer.Option(
        "--format", "-f", help=_FORMAT_HELP, rich_help_panel=OUTPUT_PANEL, case_sensitive=False
    ),
]
ReportFormatOpt = Annotated[
    ReportFormat,
    typer.Option(
        "--format", "-f", help=_FORMAT_HELP, rich_help_panel=OUTPUT_PANEL, case_sensitive=False
    ),
]
JsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Short for --format json.", rich_help_panel=OUTPUT_PANEL),
]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="Only show images with findings.", rich_help_panel=OUTPUT_PANEL
    ),
]
MaxBytesOpt = Annotated[
    str,
    typer.Option(
        "--max-bytes",
        help="Per-image limit on the base64 size: 5MB holds on every platform; the direct API "
        "takes 10MB. A bare number is bytes (at least 1024).",
        metavar="SIZE",
    ),
]
DEFAULT_MAX_BYTES = "5MB"


def _complete_code(incomplete: str) -> list[str]:

    return [c for c in policy.IGNORABLE if c.startswith(incomplete)]


IgnoreOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--ignore",
        help="Leave out findings with this CODE (e.g. too-small): they neither show nor count "
        "toward the exit status. Repeatable.",
        metavar="CODE",
        autocompletion=_complete_code,
        show_default=False,
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write the results to FILE (atomically) instead of standard output.",
        metavar="FILE",
        dir_okay=False,
        rich_help_panel=OUTPUT_PANEL,
    ),
]


SAVERS_PANEL = "Token savers"
SnapOpt = Annotated[
    bool,
    typer.Option(
        "--snap",
        help="Shrink an edge to the multiple of 28 px below it when that drops a row or column "
        "of patches the API would charge for (at most --snap-max); never enlarges.",
        rich_help_panel=SAVERS_PANEL,
    ),
]
SnapMaxOpt = Annotated[
    str,
    typer.Option(
        "--snap-max",
        help="The most an edge may shrink with --snap.",
        metavar="PERCENT",
        rich_help_panel=SAVERS_PANEL,
    ),
]
DEFAULT_SNAP_MAX = "3%"
TrimOpt = Annotated[
    bool,
    typer.Option(
        "--trim",
        help="Cut near-uniform borders (letterboxing, scanner margins, one-colour window "
        "chrome) before fitting; a line holding any content is kept.",
        rich_help_panel=SAVERS_PANEL,
    ),
]
TrimFuzzOpt = Annotated[
    str,
    typer.Option(
        "--trim-fuzz",
        help="How far a border pixel may stray from the border's colour, per channel (--trim).",
        metavar="PERCENT",
        rich_help_panel=SAVERS_PANEL,
    ),
]
DEFAULT_TRIM_FUZZ = "10%"
TILES_PANEL = "Tiles"
TileOpt = Annotated[
    str | None,
    typer.Option(
        "--tile",
        help="Cut long or huge images into tiles, each within the model's native size: auto "
        "(only images that would shrink below 200 px on the short edge or to under a quarter "
        "of their resolution; --tile alone means auto) or ROWSxCOLS (e.g. 3x1).",
        metavar="[auto|ROWSxCOLS]",
        rich_help_panel=TILES_PANEL,
    ),
]
TileOverlapOpt = Annotated[
    int | None,
    typer.Option(
        "--tile-overlap",
        help="Pixels neighbouring tiles share, with --tile (default: 3% of a tile, at least 28).",
        metavar="PX",
        min=0,
        rich_help_panel=TILES_PANEL,
    ),
]


@dataclass(frozen=True)
class InputOptions:
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


@dataclass(frozen=True)
class SaverOptions:
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

        if self.tile is None:
            if self.tile_overlap is not None:
                usage_error("--tile-overlap goes with --tile", "--tile-overlap")
            return None
        try:
            return policy.TileSpec.parse(self.tile, self.tile_overlap)
        except ValueError as exc:
            usage_error(str(exc), "--tile")

    def refuse_trim_with_tile(self) -> None:
        if self.trim and self.tile is not None:
            usage_error(
                "--trim and --tile do not combine yet: trim first (resize --trim), then tile "
                "the result",
                "--trim",
            )
