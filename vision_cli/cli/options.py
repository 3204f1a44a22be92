"""The options commands share, declared once: typer ``Annotated`` aliases, grouped by panel.

What they are built into (one object per group) is in :mod:`vision_cli.cli.groups`, imported
when a command runs: ``--help`` reads these declarations and nothing more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vision_cli import catalog, judging
from vision_cli.formats import Format, ReportFormat

MODEL_ENV = "VISION_CLI_MODEL"
#: How ``--help`` names the default model (chosen from the model data, never a literal).
DEFAULT_MODEL_HELP = "the newest active Sonnet with a price"
INPUTS_PANEL = "Inputs"
#: The most ``--jobs`` any command takes: worker processes (``inspect``, ``resize``) and
#: requests or threads (``ask --each``, ``--batch``, ``locate``). Without a bound, ``jobs =
#: 100000000`` in a repository's configuration made ``inspect`` fork until the machine gave out.
MAX_JOBS = 256
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
        help="Read input paths and URLs from FILE, one per line (- for standard input).",
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

    return [c for c in judging.IGNORABLE if c.startswith(incomplete)]


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
