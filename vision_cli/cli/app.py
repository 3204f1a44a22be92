"""The ``vision-cli`` application: global options, command registration and the entry point."""

from __future__ import annotations

import contextlib
import copy
import functools
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, TextIO, cast

import typer
from typer._click.exceptions import ClickException

import vision_cli
from vision_cli import judging, units
from vision_cli.cli import ask as ask_cmd
from vision_cli.cli import common
from vision_cli.cli.estimate import EPILOG as ESTIMATE_EPILOG
from vision_cli.cli.estimate import HELP as ESTIMATE_HELP
from vision_cli.cli.estimate import estimate
from vision_cli.cli.files import files_app
from vision_cli.cli.inspect import EPILOG as INSPECT_EPILOG
from vision_cli.cli.inspect import HELP as INSPECT_HELP
from vision_cli.cli.inspect import inspect
from vision_cli.cli.locate import EPILOG as LOCATE_EPILOG
from vision_cli.cli.locate import HELP as LOCATE_HELP
from vision_cli.cli.locate import locate
from vision_cli.cli.models import EPILOG as MODELS_EPILOG
from vision_cli.cli.models import HELP as MODELS_HELP
from vision_cli.cli.models import models
from vision_cli.cli.resize import EPILOG as RESIZE_EPILOG
from vision_cli.cli.resize import HELP as RESIZE_HELP
from vision_cli.cli.resize import resize
from vision_cli.cli.results import EPILOG as RESULTS_EPILOG
from vision_cli.cli.results import HELP as RESULTS_HELP
from vision_cli.cli.results import results
from vision_cli.environment import Environment
from vision_cli.exitcodes import EXIT_HELP, ExitStatus

if TYPE_CHECKING:
    from vision_cli import config

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
    text = (
        f"vision-cli {vision_cli.__version__} ({vision_cli.DISTRIBUTION})\n"
        f"Python {py}, Pillow {ver('Pillow')}, anthropic {ver('anthropic')}, "
        f"typer {ver('typer')}, rich {ver('rich')}, httpx {ver('httpx')}"
    )
    conflict = vision_cli.CONFLICTING_DISTRIBUTION
    other = ver(conflict)
    if other != "not installed":
        text += (
            f"\nWarning: the unrelated '{conflict}' {other} is installed "
            "in this environment and shares the vision_cli package: uninstall it, or use a "
            "separate virtual environment."
        )
    return text


def _version(value: bool) -> None:
    if value:
        common.echo(version_text())
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", help="Show versions and exit.", callback=_version, is_eager=True
        ),
    ] = False,
    no_config: Annotated[
        bool,
        typer.Option(
            "--no-config",
            help="Ignore the configuration files (the project's and your own).",
        ),
    ] = False,
) -> None:
    """Check, fix, price and send images for Claude's vision API."""
    if not no_config:
        ctx.default_map = project_defaults()


def project_defaults() -> dict[str, dict[str, object]] | None:
    """Option defaults from the user configuration, then the nearest project configuration
    (which may set report and policy options only); a bad one stops with exit 2."""
    from pathlib import Path

    # lazy: start-up, --help imports none of these
    from vision_cli import config

    try:
        user = config.find_user()
        project = config.find(Path.cwd())
        if user is None and project is None:
            return None
        options = command_options()
        defaults = config.default_map(*user, options) if user else {}
        if project is not None:
            allowed = config.PROJECT_OPTIONS
            for name, values in config.default_map(*project, options, allowed=allowed).items():
                defaults.setdefault(name, {}).update(values)
        return defaults
    except config.ConfigError as exc:
        common.error(f"{exc}")
        raise typer.Exit(ExitStatus.USAGE) from None


def _type_check(param: Any) -> Callable[[object], object] | None:
    """typer's own conversion of one value (choices, numbers), as the command line would do."""
    if param.multiple:
        return None  # lists of strings (globs): nothing more to check
    return lambda value: param.get_runtime_param().coerce(value, param=param, ctx=None)


def _is_flag(param: Any) -> bool:
    return bool(getattr(param, "is_flag", False))


def command_options() -> dict[str, dict[str, config.Option]]:
    """Every command's options by long name, with how a configured value is checked.

    A run builds only the command it invokes (:func:`app_for`), but a configuration is checked
    against every command's options, so the whole group is built here (only when there is one).
    """
    # lazy: start-up, --help imports none of these
    from vision_cli import config

    # The model is not checked here: an unknown one is reported when (and only when) a command
    # needs the model, so a bad name never breaks an unrelated command or --help.
    domain = {"max-bytes": units.parse_bytes, "ignore": judging.ignorable_code}
    result: dict[str, dict[str, config.Option]] = {}
    for name, command in getattr(typer.main.get_command(app), "commands", {}).items():
        options: dict[str, config.Option] = {}
        for param in command.params:
            longs = [o[2:] for o in param.opts if o.startswith("--")]
            if param.param_type_name != "option" or not longs or longs[0] == "help":
                continue
            check = domain.get(longs[0]) or _type_check(param)
            opt = config.Option(param.name or longs[0], param.multiple, _is_flag(param), check)
            options.update(dict.fromkeys(longs, opt))
        result[name] = options
    return result


def command(function: Callable[..., None], help: str, epilog: str) -> None:
    """Register a command; every command stops quietly with 141 when its reader goes away."""
    app.command(help=help, epilog=epilog, cls=common.BareTileCommand)(
        common.quiet_on_closed_pipe(function)
    )


command(inspect, INSPECT_HELP, INSPECT_EPILOG)
command(resize, RESIZE_HELP, RESIZE_EPILOG)
command(estimate, ESTIMATE_HELP, ESTIMATE_EPILOG)
command(ask_cmd.ask, ask_cmd.ASK_HELP, ask_cmd.ASK_EPILOG)
command(ask_cmd.compare, ask_cmd.COMPARE_HELP, ask_cmd.COMPARE_EPILOG)
command(locate, LOCATE_HELP, LOCATE_EPILOG)
command(results, RESULTS_HELP, RESULTS_EPILOG)
command(models, MODELS_HELP, MODELS_EPILOG)
app.add_typer(files_app)
# Commands register here, one line each.
# FOUNDATION READY


def _name(info: typer.models.CommandInfo) -> str:
    return info.name or getattr(info.callback, "__name__", "").replace("_", "-")


def app_for(args: Sequence[str]) -> typer.Typer:
    """The app with only the command ``args`` invoke, or a listing of the commands.

    typer builds every registered command's parameters before it runs any (and typer 0.29
    builds a pydantic validator for each value it converts): a run that names its command needs
    only that command's. Without one (``--help``, no arguments, ``--version``, an unknown
    command) only the commands' names and help are used, so each is given a stand-in without
    parameters: the help and typer's "No such command" are the same, built in a fraction.
    """
    invoked = next((a for a in args if not a.startswith("-")), None)
    chosen = [c for c in app.registered_commands if _name(c) == invoked]
    groups = [g for g in app.registered_groups if _group_name(g) == invoked]
    slim = copy.copy(app)
    if chosen or groups:  # a command, or a group of subcommands (``files``): only that one
        slim.registered_commands, slim.registered_groups = chosen, groups
    else:
        slim.registered_commands = [_listed(c) for c in app.registered_commands]
        slim.registered_groups = [_listed_group(g) for g in app.registered_groups]
    return slim


def _group_name(info: typer.models.TyperInfo) -> str | None:
    name = info.name
    if isinstance(name, str):
        return name
    return info.typer_instance.info.name if info.typer_instance else None


def _listed_group(info: typer.models.TyperInfo) -> typer.models.TyperInfo:
    """A group as the list of commands shows it: its name and help; its subcommands (which the
    listing does not show) are not built at all."""
    assert info.typer_instance is not None
    listed = copy.copy(info)
    listed.typer_instance = copy.copy(info.typer_instance)
    listed.typer_instance.registered_commands = []
    return listed


def _listed(info: typer.models.CommandInfo) -> typer.models.CommandInfo:
    """``info`` as the list of commands shows it: name and help, no parameters."""
    listed = copy.copy(info)
    listed.name = _name(info)
    listed.callback = _listed_only
    return listed


def _listed_only() -> None:  # pragma: no cover - never run: a listing only names commands
    raise AssertionError("a listed command ran")


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run the app on ``argv`` (the process's arguments when None) in ``env`` (the process's when
    None) and return the exit status; nothing here calls ``sys.exit``. Every command reads and
    writes only ``env``'s streams (typer's own ``--help`` pages excepted: typer prints those on
    the process's standard output). An unexpected error is one line (exit 70), or raised when
    ``VISION_CLI_DEBUG`` is set in ``env.vars``."""
    env = env or Environment.from_process()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        status = app_for(args)(args=args, prog_name="vision-cli", obj=env, standalone_mode=False)
    except KeyboardInterrupt:  # Ctrl-C while the command line is still being read
        if common.debug(env.vars):
            raise
        return ExitStatus.INTERRUPTED
    except typer.Abort:
        _on_stderr(env, _typer_rich().rich_abort_error)
        return 1
    except ClickException as exc:  # a usage error: typer's own message, on env's stderr
        _on_stderr(env, functools.partial(_typer_rich().rich_format_error, exc))
        return exc.exit_code
    except Exception as exc:  # a bug: no traceback for users unless they ask for it
        if common.debug(env.vars):
            raise
        # lazy: start-up, --help imports none of these
        from vision_cli import render

        render.error(
            f"internal error ({type(exc).__name__}: {exc}). Please report it; "
            f"set {common.DEBUG_ENV}=1 to see the traceback.",
            stream=env.stderr,
        )
        return ExitStatus.INTERNAL
    return status if isinstance(status, int) else ExitStatus.OK


def _typer_rich() -> Any:
    # lazy: start-up, only a usage error draws typer's rich panel
    from typer import rich_utils

    return rich_utils


def _on_stderr(env: Environment, draw: Callable[[], None]) -> None:
    """typer draws its usage errors on whatever ``sys.stderr`` is: point it at ``env``'s while
    it does (typer's console offers no other way)."""
    with contextlib.redirect_stderr(env.stderr):
        draw()


def entrypoint(argv: Sequence[str] | None = None) -> None:
    """The console script: :func:`main` with this process's environment, its status the
    process's. A closed standard output ends it at once with 141 (:class:`common.StdoutGuard`)."""
    if not isinstance(sys.stdout, common.StdoutGuard):
        sys.stdout = cast(TextIO, common.StdoutGuard(sys.stdout))
    sys.exit(main(argv, Environment.from_process()))
