"""What the generator scripts share: a command line whose help is the script's own docstring."""

from __future__ import annotations

import argparse
from pathlib import Path


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser whose ``--help`` shows ``doc`` as written."""
    return argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def output_folder(doc: str | None, default: Path, what: str) -> Path:
    """The one optional argument of a script that writes ``what`` into a folder."""
    args = parser(doc)
    args.add_argument(
        "folder",
        nargs="?",
        type=Path,
        default=default,
        help=f"where to write {what} (default: the repository's {default.name}/)",
    )
    folder: Path = args.parse_args().folder
    return folder
