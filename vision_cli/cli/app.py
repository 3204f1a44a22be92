"""The ``vision-cli`` application: global options, command registration and the entry point."""

from __future__ import annotations

import contextlib
import copy
import functools
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Final, TextIO, cast

import typer
from typer._click.exceptions import ClickException

import vision_cli
from vision_cli.cli import common, converters, launch
from vision_cli.cli.commands import COMMANDS, GROUPS, SUMMARY
from vision_cli.environment import Environment
from vision_cli.exitcodes import EXIT_HELP, ExitStatus, StdoutFailed

if TYPE_CHECKING:
    from pathlib import Path

    from vision_cli import config

#: The app without its commands: the global options. :func:`app_for` adds what a run needs;
#: ``app`` (this module's attribute, built on first use) has every command.
root = typer.Typer(
    name="vision-cli",
    help="Check, fix, price and send images for Claude's vision API.\n\n" + EXIT_HELP,
    no_args_is_help=True,
    add_completion=False,
    cls=common.QuickGroup,
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


@root.callback()
def global_options(
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
        ctx.default_map = project_defaults(ctx.meta.setdefault(common.CONFIGURED_IN, {}))


def project_defaults(
    origins: dict[str, dict[str, str]] | None = None,
) -> dict[str, dict[str, object]] | None:
    """Option defaults from the user configuration, then the nearest project configuration
    (which may set report and policy options only); a bad one stops with exit 2. ``origins``
    gets the file each value came from, by command and parameter name (an error about the
    value names it: :func:`common.from_environment`)."""

    # lazy: start-up, --help imports none of these
    from vision_cli import config

    try:
        user = config.find_user()
        folder = _working_folder()
        project = config.find(folder) if folder is not None else None
        if user is None and project is None:
            return None
        options = command_options()
        defaults: dict[str, dict[str, object]] = {}
        for found, allowed in ((user, None), (project, config.PROJECT_OPTIONS)):
            if found is None:
                continue
            for name, values in config.default_map(*found, options, allowed=allowed).items():
                defaults.setdefault(name, {}).update(values)
                if origins is not None:
                    origins.setdefault(name, {}).update(dict.fromkeys(values, str(found[0])))
        return _nested(defaults)
    except config.ConfigError as exc:
        common.error(f"{exc}")
        raise typer.Exit(ExitStatus.USAGE) from None


def _working_folder() -> Path | None:
    """Where the project configuration is looked for: the working folder; None, said in a
    warning, when it has been removed under the run (a shell left in a deleted folder)."""
    from pathlib import Path

    try:
        return Path.cwd()
    except FileNotFoundError:
        common.warn(
            "the working folder no longer exists, so no project configuration is read: cd to "
            "an existing folder"
        )
        return None


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
    against every command's options, so every command is imported and built here (only when
    there is a configuration).
    """
    # lazy: start-up, only a run with a configuration file checks its values
    from vision_cli import config, judging, policy, tiling, units
    from vision_cli.cli import ask_groups
    from vision_cli.estimating import choosing

    # The model is only checked for a name at all here: an unknown one is reported when (and
    # only when) a command needs the model, so a bad name never breaks an unrelated command or
    # --help. The rest are checked as the commands check them when they run (the schema
    # excepted: a file, read when a command needs it; an error then names this file too).
    domain: dict[str, Callable[[str], object]] = {
        "max-bytes": units.parse_bytes,
        "ignore": judging.ignorable_code,
        "price": choosing.parse_price,
        "size": units.parse_size,
        "tier": policy.tier_name,
        "rule": policy.parse_rule,
        "expires": ask_groups.expiry_seconds,
        "tile": tiling.TileSpec.parse,
        "snap-max": policy.parse_share,
        "trim-fuzz": policy.parse_share,
        "prompt": _not_blank,
        "find": _not_blank,
        "model": _not_blank,
    }
    result: dict[str, dict[str, config.Option]] = {}
    for name, command in getattr(typer.main.get_command(whole()), "commands", {}).items():
        subcommands = getattr(command, "commands", None)
        named = {f"{name} {sub}": c for sub, c in subcommands.items()} if subcommands else {}
        for full, each in (named or {name: command}).items():  # a group: each subcommand
            options: dict[str, config.Option] = {}
            converters.seed(each.params)
            for param in each.params:
                longs = [o[2:] for o in param.opts if o.startswith("--")]
                if param.param_type_name != "option" or not longs or longs[0] == "help":
                    continue
                if param.hidden:  # not offered (--temperature, kept to say why it is refused)
                    continue
                check = domain.get(longs[0]) or _type_check(param)
                desc = param.type_descriptor
                opt = config.Option(
                    param.name or longs[0],
                    param.multiple,
                    _is_flag(param),
                    check,
                    number=desc.annotation in (int, float) or longs[0] in _NUMBER_TEXT,
                    wanted=converters.wanted(desc.annotation, desc.parameter_info),
                )
                options.update(dict.fromkeys(longs, opt))
            result[full] = options
    return result


#: Options of text that a bare number also spells: bytes, a share, seconds, dollars. A number
#: given to any other text option (``exclude = [1, 2]``) is a mistake, not a name.
_NUMBER_TEXT: Final = frozenset({"max-bytes", "snap-max", "trim-fuzz", "expires", "price"})


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("it is empty")
    return text


def _nested(defaults: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    """The defaults as click looks them up: a subcommand's (``files list``) in its group's."""
    nested: dict[str, dict[str, object]] = {}
    for name, values in defaults.items():
        group, _, sub = name.partition(" ")
        if sub:
            nested.setdefault(group, {})[sub] = values
        else:
            nested.setdefault(name, {}).update(values)
    return nested


def __getattr__(name: str) -> typer.Typer:
    """``app``: the application with every command (the docs, completions and the configuration
    check use it); a run builds only what it needs (:func:`app_for`)."""
    if name == "app":
        return whole()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def whole() -> typer.Typer:
    """The application with every command and group, in the listing's order."""
    return _with([*COMMANDS, *GROUPS])


def app_for(args: Sequence[str]) -> typer.Typer:
    """The app with only the command ``args`` invoke, or a listing of the commands.

    typer builds every registered command's parameters before it runs any (and typer 0.29
    builds a pydantic validator for each value it converts), and each command's module of
    ``cli/`` imports what its options need: a run that names its command imports and builds only
    that one (the table in :mod:`vision_cli.cli.commands`). Without one (``--help``, no
    arguments, ``--version``, an unknown command) only the commands' names and summaries are
    used, so each is given a stand-in without parameters: the help and typer's "No such
    command" are the same as the whole app's, and no command's module is imported.
    """
    invoked = next((a for a in args if not a.startswith("-")), None)
    if invoked in COMMANDS or invoked in GROUPS:
        return _with([invoked])
    slim = _with([])
    for name in COMMANDS:
        slim.command(name, help=SUMMARY[name])(_listed_only)
    for name in GROUPS:  # its subcommands (which the listing does not show) are not built
        slim.add_typer(typer.Typer(name=name, help=SUMMARY[name], add_completion=False))
    return slim


def _with(names: Sequence[str]) -> typer.Typer:
    """:data:`root` with the commands and groups ``names``, each module imported now."""
    built = copy.copy(root)
    built.registered_commands, built.registered_groups = [], []
    for name in names:
        if name in GROUPS:
            module, attribute = GROUPS[name]
            built.add_typer(getattr(_module(module), attribute))
            continue
        module, function, prefix = COMMANDS[name]
        found = _module(module)
        built.command(
            name,
            help=getattr(found, f"{prefix}HELP"),
            epilog=getattr(found, f"{prefix}EPILOG"),
            cls=common.BareTileCommand,
        )(common.quiet_on_closed_pipe(getattr(found, function)))
    return built


def _module(name: str) -> Any:
    # lazy: start-up, only the invoked command's module (see vision_cli.cli.commands)
    full = f"vision_cli.cli.{name}"
    __import__(full)  # not importlib.import_module, which ``-X importtime`` does not see
    return sys.modules[full]


def _listed_only() -> None:  # pragma: no cover - never run: a listing only names commands
    raise AssertionError("a listed command ran")


def main(argv: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """Run the app on ``argv`` (the process's arguments when None) in ``env`` (the process's when
    None) and return the exit status; nothing here calls ``sys.exit``. Every command reads and
    writes only ``env``'s streams (typer's own ``--help`` pages excepted: typer prints those on
    the process's standard output). An unexpected error is one line (exit 70), or raised when
    ``VISION_CLI_DEBUG`` is set in ``env.vars``."""
    try:
        return _run(argv, env)
    finally:
        launch.resume()  # the command did not start (help, a usage error): the start-up is over


def _run(argv: Sequence[str] | None, env: Environment | None) -> int:
    env = env or Environment.from_process()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with common.sigterm_interrupts():  # SIGTERM stops every command as Ctrl-C does: 130
            status = app_for(args)(
                args=args, prog_name="vision-cli", obj=env, standalone_mode=False
            )
    except KeyboardInterrupt:  # Ctrl-C (or SIGTERM) not handled by the command itself
        if common.debug(env.vars):
            raise
        return ExitStatus.INTERRUPTED
    except typer.Abort:
        _on_stderr(env, _typer_rich().rich_abort_error)
        return 1
    except ClickException as exc:  # a usage error: typer's own message, on env's stderr
        _on_stderr(env, functools.partial(_typer_rich().rich_format_error, exc))
        return exc.exit_code
    except StdoutFailed as exc:  # /dev/full, a full disk behind `> file`
        common.error(
            f"cannot write standard output ({exc}): free some space where it goes, or "
            "redirect it elsewhere.",
            env,
        )
        return ExitStatus.FAILED
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
