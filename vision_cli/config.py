"""Configuration: option defaults from the user's ``config.toml`` and from the project's
``[tool.vision-cli]`` or ``vision-cli.toml``.

As ruff and pytest do it, the nearest configuration above the working folder wins: in each folder,
from the working one up, a ``vision-cli.toml`` (its top-level keys) or a ``pyproject.toml`` with a
``[tool.vision-cli]`` table. Keys are option names (``max-bytes`` or ``max_bytes``); a top-level key
applies to every command that has that option, and a table named after a command
(``[tool.vision-cli.inspect]``) applies to that command alone and wins over the top level. The
command line always wins (a configured option also gives way to one it cannot go with, see
:mod:`vision_cli.cli.precedence`); ``--no-config`` ignores the files. A bad key or value is an
error that names the file and the key.

A project configuration comes with the repository, so whoever can change the repository (a pull
request, a cloned project) writes it: it may set only report and policy options
(:data:`PROJECT_OPTIONS`). The user configuration (:func:`user_path`) is the user's own and may
set every option; where both set one, the project's wins.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, NamedTuple, cast

DEDICATED = "vision-cli.toml"
PYPROJECT = "pyproject.toml"
#: The user's own configuration, in the platform's config folder (platformdirs).
USER_FILE = "config.toml"

_REPORT = frozenset({"format", "json", "quiet", "exclude", "hidden"})
#: What a project configuration (a repository's files, which a pull request can change) may
#: set, per command: report and policy options only. Options that write files, read other
#: files, or change what is sent and paid for (``output``, ``in-place``, ``overwrite``,
#: ``backup``, ``conversation``, ``system``, ``prompt``, ``rerun``, ``each``, ``batch`` of
#: ``ask``, ``exact``, ``max-tokens`` of ``ask`` ...) belong on the command line or in the
#: user configuration. So do ``clipboard`` (reads what the user copied), ``tile``/``tile-overlap``
#: of ``resize`` (writes a set of tiles and a sidecar instead of one file) and ``ask``/``compare``'s
#: ``tile``, ``trim``, ``snap`` and ``expires`` (they change what is sent). ``resize``'s ``trim``
#: and ``snap`` are output policy like ``max-edge``, and ``estimate``'s ``tile``, ``snap`` and
#: ``trim`` only change the report.
PROJECT_OPTIONS: Final[Mapping[str, frozenset[str]]] = {
    "inspect": _REPORT | {"model", "strict", "ignore", "request", "verify", "max-bytes", "jobs"},
    "resize": _REPORT
    | {
        "model",
        "max-bytes",
        "jobs",
        "max-edge",
        "max-megapixels",
        "max-tokens",
        "to",
        "quality",
        "reencode",
        "trim",
        "trim-fuzz",
        "snap",
        "snap-max",
    },
    "estimate": _REPORT
    | {
        "model",
        "ignore",
        "max-bytes",
        "size",
        "all-models",
        "price",
        "tier",
        "rule",
        "per",
        "batch",
        "output-tokens",
        "include-retired",
        "tile",
        "tile-overlap",
        "snap",
        "snap-max",
        "trim",
        "trim-fuzz",
    },
    "ask": _REPORT | {"model", "max-bytes", "policy", "jobs"},
    "compare": _REPORT | {"model", "max-bytes", "policy"},
    "locate": _REPORT | {"model", "max-bytes", "policy", "jobs", "frame"},
    "results": _REPORT,
    # never ``refresh``: a repository must not make a command reach the network
    "models": frozenset({"format", "json", "include-retired"}),
    "files list": frozenset({"json"}),
    "files delete": frozenset({"json"}),
    "files prune": frozenset({"json"}),
}


#: Options no configuration may set, the user's own included: each use is asked for anew.
TYPED_ONLY: Final[Mapping[str, frozenset[str]]] = {"files delete": frozenset({"all"})}


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the file and the key."""


class Option(NamedTuple):
    """What the validation needs to know of one command-line option."""

    name: str  # the parameter's name in the command's function
    multiple: bool
    flag: bool
    #: Checks a value the way the command line would (raises with a reason), or None.
    convert: Callable[[Any], object] | None = None
    #: Whether a TOML number is read too (as its text on the command line), not only a string:
    #: a number option, or text that a bare number spells (``max-bytes = 10485760``).
    number: bool = False
    #: What a value of another kind is told the option takes ("a whole number from 1 to 100",
    #: "true or false"), in the command line's words; None: a string, or a string or a number.
    wanted: str | None = None


def find(start: Path) -> tuple[Path, dict[str, Any]] | None:
    """The nearest configuration at or above ``start``, and its table. A name that is there but
    is no file to read (a folder, a FIFO, a symbolic link to nothing) is an error, not passed
    over for a configuration further up."""
    for folder in (start, *start.parents):
        dedicated = folder / DEDICATED
        if os.path.lexists(dedicated):
            return dedicated, _read(dedicated)
        pyproject = folder / PYPROJECT
        if os.path.lexists(pyproject):
            table = _tool_table(pyproject, _read(pyproject))
            if table is not None:
                return pyproject, table
    return None


#: The table's names in ``pyproject.toml``: the distribution's, and as Python spells the package.
_TOOL_NAMES: Final = ("vision-cli", "vision_cli")


def _tool_table(path: Path, document: dict[str, Any]) -> dict[str, Any] | None:
    """``[tool.vision-cli]`` (or ``[tool.vision_cli]``) of a ``pyproject.toml``; None without."""
    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: 'tool' must be a table ([tool.vision-cli] for vision-cli)")
    names = [name for name in _TOOL_NAMES if name in tool]
    if len(names) > 1:
        raise ConfigError(f"{path}: both [tool.vision-cli] and [tool.vision_cli]: keep one")
    if not names:
        return None
    table = tool[names[0]]
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.{names[0]}] must be a table")
    return cast(dict[str, Any], table)


def user_path() -> Path:
    """``~/.config/vision-cli/config.toml`` on Linux (``$XDG_CONFIG_HOME`` respected), the
    platform's own config folder elsewhere."""
    import platformdirs  # the one place that knows each platform's folders

    return platformdirs.user_config_path("vision-cli", appauthor=False) / USER_FILE


def find_user() -> tuple[Path, dict[str, Any]] | None:
    """The user configuration and its table, if there is one. As for a project's, a name that
    is there but is no file to read is an error, not a configuration silently left unused."""
    path = user_path()
    return (path, _read(path)) if os.path.lexists(path) else None


#: A configuration is a few lines; a bigger file is not one (and is not read whole).
MAX_BYTES: Final = 1 << 20


def _read(path: Path) -> dict[str, Any]:
    import tomllib  # only when there is a file to read: most runs have none

    from vision_cli import fsutil

    skipped = 0
    try:
        with os.fdopen(fsutil.open_regular(path, MAX_BYTES), "rb") as fh:
            data = fh.read()
        # what Windows Notepad and others write before UTF-8 text: TOML has no place for it,
        # but a configuration that starts with one is read all the same
        if data.startswith(codecs.BOM_UTF8):
            skipped = len(codecs.BOM_UTF8)
        return tomllib.loads(data[skipped:].decode())
    except fsutil.UnfitFile as exc:
        raise ConfigError(f"{path}: {exc}: a configuration is a file of TOML") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8 only
        raise ConfigError(
            f"{path}: not valid TOML (byte {skipped + exc.start + 1} is not UTF-8, the only "
            "encoding TOML allows): save it as UTF-8"
        ) from None
    except RecursionError:  # tomllib reads nested arrays and tables by recursion
        raise ConfigError(
            f"{path}: not valid TOML here (arrays or tables nested too deeply to read)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: {fsutil.file_error(exc)}") from None


def _key(name: str) -> str:
    return name.replace("_", "-")


def default_map(
    path: Path,
    table: Mapping[str, Any],
    commands: Mapping[str, Mapping[str, Option]],
    *,
    allowed: Mapping[str, frozenset[str]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per-command option defaults from ``table``, checked against every command's options.

    ``commands`` maps a command name to its options by long name without dashes (``max-bytes``);
    a group's subcommand is named with a space (``files list``), and its table is nested
    (``[files.list]``). Three layers, each winning over the one before: the top level (every
    command that has the option), a group's table (``[files]``: each of its subcommands that
    has the option), and a command's own table. ``allowed`` (a project configuration's
    :data:`PROJECT_OPTIONS`): the options each command may take from this file; any other is an
    error, never ignored silently. :data:`TYPED_ONLY` options are refused in every file. A
    project's ``exclude`` patterns with a ``/`` are anchored to the file's folder (as
    ``.gitignore``'s are), so they mean the same files from any working folder below it.
    """

    def checked(key: str, value: Any, opt: Option) -> Any:
        value = _checked(path, key, value, opt)
        if allowed is not None and opt.name == "exclude":
            from vision_cli import sources  # lazy: only a project configuration with patterns

            patterns = value if isinstance(value, list) else [value]
            value = [p for p in patterns if "/" not in p]
            value += sources.anchored(tuple(patterns), str(path.parent))
        return value

    def check_allowed(command: str, key: str, shown: str) -> None:
        if key in TYPED_ONLY.get(command, frozenset()):
            raise ConfigError(
                f"{path}: {shown} cannot be set in a configuration: `{command} --{key}` is "
                "asked for on the command line, each time"
            )
        if allowed is None or key in allowed.get(command, frozenset()):
            return
        raise ConfigError(
            f"{path}: {shown} cannot be set for {command} by a project configuration (it would "
            "write files or change what is sent when anyone runs vision-cli here): give it on "
            f"the command line, or put it in your own configuration, {user_path()}"
        )

    result: dict[str, dict[str, Any]] = {name: {} for name in commands}

    def settable(opt: str, names: list[str]) -> bool:
        """Whether this file may set ``opt`` for one of the commands ``names`` (what an unknown
        key's message lists: never a typed-only option, in a project only what it may set)."""
        return any(
            opt not in TYPED_ONLY.get(n, ())
            and (allowed is None or opt in allowed.get(n, frozenset()))
            for n in names
            if opt in commands[n]
        )

    def apply(section: Mapping[str, Any], where: str, names: list[str]) -> None:
        """``section``'s options for the commands ``names``; its tables of commands (and
        groups) below are left for their own layer."""
        depth = where.count(".") + 1 if where else 0
        below = {name.split(" ")[depth] for name in names if name.count(" ") >= depth}
        options_here = {opt for name in names for opt in commands[name]}
        for raw_key, value in section.items():
            key = _key(raw_key)
            shown = f"{where}.{raw_key}" if where else raw_key
            if key in below:
                if not isinstance(value, dict):
                    raise ConfigError(f"{path}: {shown!r} must be a table of options")
                continue
            if key == "tool" and not where and path.name == DEDICATED:
                raise ConfigError(
                    f"{path}: unknown key 'tool': [tool.vision-cli] is the form for "
                    "pyproject.toml; in vision-cli.toml write the options at the top level, and "
                    "[inspect], [ask] ... for one command"
                )
            if key not in options_here:
                whose = f" for {where.replace('.', ' ')}; its options" if where else ""
                whose = whose or "; options that can be set"
                raise ConfigError(
                    f"{path}: unknown key {raw_key!r}{whose}: "
                    + ", ".join(sorted(opt for opt in options_here if settable(opt, names)))
                )
            refused: list[ConfigError] = []
            taking = [name for name in names if key in commands[name]]
            for name in taking:
                check_allowed(name, key, shown)
                try:
                    result[name][commands[name][key].name] = checked(
                        shown, value, commands[name][key]
                    )
                except ConfigError as exc:
                    refused.append(exc)
            # a value for several commands applies to those that take it (``format = "github"``
            # to inspect alone); one that none takes is an error
            if refused and len(refused) == len(taking):
                raise refused[0]

    apply(table, "", list(commands))
    groups = sorted({name.split(" ")[0] for name in commands if " " in name})
    for where in [*groups, *commands]:
        section: Any = table
        for part in where.split(" "):
            section = section.get(part) if isinstance(section, dict) else None
        if section is None:
            continue
        dotted = where.replace(" ", ".")
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: {dotted!r} must be a table of options")
        apply(section, dotted, [n for n in commands if n == where or n.startswith(where + " ")])
    return {name: values for name, values in result.items() if values}


def _checked(path: Path, key: str, value: Any, opt: Option) -> Any:
    def bad(reason: str) -> ConfigError:
        return ConfigError(f"{path}: {key} = {spelled(value)} is not valid: {reason}")

    if opt.flag:
        if not isinstance(value, bool):
            raise bad(f"expected {_wanted(opt)}")
        return value
    values = value if opt.multiple and isinstance(value, list) else [value]
    kinds = (str, int, float) if opt.number else (str,)
    for item in values:
        if isinstance(item, bool) or not isinstance(item, kinds):
            raise bad(f"expected {_wanted(opt)}")
    # a number written bare (max-bytes = 10485760) reads as the command line's text would: the
    # option's converter takes text, and so does the command
    values = [str(item) for item in values]
    if opt.convert is not None:
        for item in values:
            try:
                opt.convert(item)
            except Exception as exc:  # a ValueError, or typer's (reworded) refusal
                raise bad(getattr(exc, "message", None) or str(exc)) from None
    return values if opt.multiple else values[0]


def _wanted(opt: Option) -> str:
    """What ``opt`` takes, for its error: the command line's words where it has them."""
    if opt.flag:
        return opt.wanted or "true or false"
    one = opt.wanted or ("a string or a number" if opt.number else "a string")
    if not opt.multiple:
        return one
    return (
        f"{one}, or a list of them" if opt.number or opt.wanted else "a string or a list of strings"
    )


#: How much of a value an error shows: a long one ends in "…".
SHOWN_CHARS: Final = 60


def spelled(value: Any) -> str:
    """``value`` as TOML writes it (``true``, ``["json"]``, ``{a = 1}``, ``1979-05-27``,
    ``1000.0`` for ``1e3``), as the user knows it from the file; cut to :data:`SHOWN_CHARS`
    with an ellipsis, however long or deeply nested the value (the error line escapes it)."""
    import re  # lazy: only an error shows a value

    parts: list[str] = []
    room = SHOWN_CHARS + 1

    def put(text: str) -> None:
        nonlocal room
        parts.append(text)
        room -= len(text)
        if room < 0:
            raise _Full

    def write(item: Any) -> None:
        if isinstance(item, bool):
            put("true" if item else "false")
        elif isinstance(item, str):
            # quoted as TOML quotes it, the text as it is: the error line shows a control
            # character escaped and a backslash doubled, as a TOML basic string writes it
            put(f'"{item}"')
        elif isinstance(item, float):
            put(repr(item))  # 1000.0, 1e+16, inf, nan: TOML's spellings too
        elif isinstance(item, dict):
            put("{")
            for n, (name, one) in enumerate(item.items()):
                bare = re.fullmatch(r"[A-Za-z0-9_-]+", name)
                key = name if bare else '"' + name + '"'
                put(f"{', ' if n else ''}{key} = ")
                write(one)
            put("}")
        elif isinstance(item, list):
            put("[")
            for n, one in enumerate(item):
                put(", " if n else "")
                write(one)
            put("]")
        elif hasattr(item, "isoformat"):  # a date, a time, a date and time
            put(item.isoformat())
        else:
            put(str(item))  # an int

    try:
        write(value)
    except _Full:
        return "".join(parts)[:SHOWN_CHARS] + "…"
    return "".join(parts)


class _Full(Exception):
    """:func:`spelled` has written as much as it shows."""
