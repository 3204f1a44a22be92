"""The ``vision-cli`` application: global options, command registration and the entry point."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer

import vision_cli
from vision_cli.cli import common
from vision_cli.cli.inspect import EPILOG as INSPECT_EPILOG
from vision_cli.cli.inspect import HELP as INSPECT_HELP
from vision_cli.cli.inspect import inspect
from vision_cli.exitcodes import EXIT_HELP, ExitStatus

app = typer.Typer(
    name="vision-cli",
    help="Check, fix, price and send images for Claude's vision API.\n\n" + EXIT_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def version_text() -> str:
    """The version line, plus what a bug report needs (no heavy imports: metadata only)."""
    from importlib.metadata import PackageNotFoundError, version

    def ver(dist: str) -> str:
        try:
            return version(dist)
        except PackageNotFoundError:
            return "not installed"

    py = ".".join(map(str, sys.version_info[:3]))
    return (
        f"vision-cli {vision_cli.__version__}\n"
        f"Python {py}, Pillow {ver('Pillow')}, anthropic {ver('anthropic')}, "
        f"typer {ver('typer')}, rich {ver('rich')}, httpx {ver('httpx')}"
    )


def _version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", help="Show versions and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Check, fix, price and send images for Claude's vision API."""


app.command(help=INSPECT_HELP, epilog=INSPECT_EPILOG)(inspect)
# Commands register here, one line each.
# FOUNDATION READY


def entrypoint(argv: Sequence[str] | None = None) -> None:
    """The console script: runs the app and turns an unexpected error into one line (exit 70)."""
    try:
        app(args=list(argv) if argv is not None else None, prog_name="vision-cli")
    except Exception as exc:  # a bug: no traceback for users unless they ask for it
        if common.debug():
            raise
        from vision_cli import render

        render.error(
            f"internal error ({type(exc).__name__}: {exc}). Please report it; "
            f"set {common.DEBUG_ENV}=1 to see the traceback."
        )
        sys.exit(ExitStatus.INTERNAL)
