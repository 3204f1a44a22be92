"""``vision-cli files``: the images uploaded with ``--source file``, and cleaning them up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from vision_cli.cli import common
from vision_cli.cli.commands import SUMMARY
from vision_cli.exitcodes import ExitStatus

if TYPE_CHECKING:
    from vision_cli.client import connect, filesapi

HELP = (
    SUMMARY["files"] + "\n\n"
    "vision-cli remembers each upload (by the SHA-256 of the bytes sent) with when it expires "
    "(ask --expires, 7 days unless told). These commands join that record with what the API "
    "still has."
)
EPILOG = """Examples:

  vision-cli files list

  vision-cli files delete file_011CNha8iCJcU1wXNR6q4V8w

  vision-cli files delete --all

  vision-cli files prune --dry-run
"""

files_app = typer.Typer(
    name="files",
    help=HELP,
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _connect(*, readonly: bool = False) -> tuple[connect.Anthropic, filesapi.FileCache]:
    """The client, and the record of uploads (``readonly``: a listing, a dry run)."""
    # lazy: start-up, --help imports none of these
    from vision_cli.client import connect, failures

    try:
        env = common.env()
        return connect.make_client(vars=env.vars), common.file_cache(env, readonly=readonly)
    except failures.BadKeyError as exc:  # a key that cannot be one: said without the key
        common.fail(str(exc), ExitStatus.USAGE)
    except failures.MissingKeyError:
        common.fail(failures.NO_KEY_MESSAGE, ExitStatus.USAGE)
    except failures.SetupError as exc:  # ANTHROPIC_BASE_URL that cannot be used
        common.fail(str(exc), ExitStatus.USAGE)


def _when(moment: object) -> str:
    from datetime import datetime

    return moment.strftime("%Y-%m-%d %H:%M UTC") if isinstance(moment, datetime) else "-"


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of lines.")]


@files_app.command("list", epilog="Example:\n\n  vision-cli files list --json | jq '.[].id'")
@common.quiet_on_closed_pipe
def list_files(json_flag: JsonFlag = False) -> None:
    """List the uploads vision-cli made, and whether the API still has them.

    Columns: id, name, bytes, uploaded, expires, state (present, expired or gone).
    """
    # lazy: start-up, --help imports none of these
    from vision_cli import render, uploads
    from vision_cli.client import failures
    from vision_cli.render import tables

    api, cache = _connect(readonly=True)
    try:
        found = uploads.listing(api, cache)
    except failures.APIFailure as failure:
        common.fail(str(failure), ExitStatus.API)
    if json_flag:
        common.echo(render.dumps([u.as_dict() for u in found]))
        return
    if not found:
        common.note("no uploads remembered: ask --source file uploads images")
        return
    tables.files_table(
        ["id", "name", "bytes", "uploaded", "expires", "state"],
        [
            [
                render.visible(u.file_id),
                render.visible(u.filename),
                f"{u.bytes:,}",
                _when(u.uploaded_at),
                _when(u.expires_at),
                u.state,
            ]
            for u in found
        ],
    )


def _report(changes: list[object], json_flag: bool, *, nothing: str) -> None:
    """What was done, a line each (``nothing`` when there was nothing to do); what failed, an
    error line each. Exit 3 when the API failed for one, 1 when one was not found."""
    # lazy: start-up, --help imports none of these
    from vision_cli import render, uploads

    done = [c for c in changes if isinstance(c, uploads.Change)]
    if json_flag:
        common.echo(render.dumps([c.as_dict() for c in done]))
    elif not done:
        common.note(nothing)
    for change in done:  # an id given on the command line may hold anything: shown escaped
        # (escaped once: an error line escapes its message itself)
        file_id = change.file_id
        if change.action == "failed":
            common.error(f"cannot delete {file_id} ({change.reason}): run the command again")
        elif change.action == "not-found":
            common.error(f"{file_id}: not found ({change.reason}, nor vision-cli's record)")
        elif not json_flag:
            common.echo(render.visible(f"{change.action} {file_id} ({change.reason})"))
    if any(c.action == "failed" for c in done):
        raise typer.Exit(ExitStatus.API)
    if not all(c.ok for c in done):
        raise typer.Exit(ExitStatus.FAILED)


@files_app.command(
    "delete",
    epilog="Examples:\n\n  vision-cli files delete file_011CNha8iCJcU1wXNR6q4V8w\n\n"
    "  vision-cli files delete --all",
)
@common.quiet_on_closed_pipe
def delete_files(
    file_ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="File ids to delete (see files list).", metavar="ID...", show_default=False
        ),
    ] = None,
    all_files: Annotated[
        bool, typer.Option("--all", help="Delete every upload vision-cli remembers.")
    ] = False,
    json_flag: JsonFlag = False,
) -> None:
    """Delete uploaded files on the API and forget them.

    An id the API no longer has is only forgotten (not found, exit 1, when vision-cli did not
    upload it either); an id vision-cli did not upload is deleted only when named, and said.
    A failure does not stop the others (exit 3).
    """
    # lazy: start-up, --help imports none of these
    from vision_cli import uploads
    from vision_cli.client import filesapi

    if bool(file_ids) == all_files:
        common.usage_error("give file ids or --all (not both)", "ID...")
    for file_id in file_ids or []:
        problem = filesapi.file_id_problem(file_id)
        if problem is not None:
            common.usage_error(
                f'"{file_id}" is not a file id ({problem}): give ids as files list shows them',
                "ID...",
            )
    api, cache = _connect()
    ids = uploads.cached_ids(cache) if all_files else list(file_ids or [])
    changes = uploads.delete(api, cache, ids)
    _report(list(changes), json_flag, nothing="no uploads remembered: nothing to delete")


@files_app.command("prune", epilog="Example:\n\n  vision-cli files prune --dry-run")
@common.quiet_on_closed_pipe
def prune_files(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Say what would be done, change nothing.")
    ] = False,
    json_flag: JsonFlag = False,
) -> None:
    """Delete the uploads past their expiry, and forget those the API no longer has."""
    # lazy: start-up, --help imports none of these
    from vision_cli import uploads
    from vision_cli.client import failures

    api, cache = _connect(readonly=dry_run)
    try:
        changes = uploads.prune(api, cache, dry_run=dry_run)
    except failures.APIFailure as failure:
        common.fail(str(failure), ExitStatus.API)
    nothing = "nothing to prune: every upload remembered is still present"
    _report(list(changes), json_flag, nothing=nothing)
