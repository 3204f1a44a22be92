"""Options every command shares, and the few helpers that turn them into core objects.

Only the standard library, typer and the light core modules are imported here: ``--help`` must
stay fast, so Pillow, rich, httpx and anthropic are imported inside the commands that use them.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import math
import os
import re
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any, Final, NoReturn, ParamSpec, TextIO, TypeVar

import typer
from typer._click.globals import get_current_context

from vision_cli.cli import converters, launch
from vision_cli.environment import Environment
from vision_cli.exitcodes import ExitStatus, StdoutFailed

if TYPE_CHECKING:
    from pathlib import Path

    from vision_cli import catalog, judging
    from vision_cli.client import filesapi
    from vision_cli.formats import Format, ReportFormat

DEBUG_ENV = "VISION_CLI_DEBUG"


def env() -> Environment:
    """The run's :class:`Environment`: the one ``app.main(argv, env)`` put in the typer
    context (``ctx.obj``); an app invoked without one (``CliRunner``) gets this process's, as it
    is when the command first asks, kept on the root context for the rest of the run."""
    # typer exposes the context only as a command parameter; this is its own accessor for the
    # helpers (messages, the model, failures) that run inside a command but are not given it
    ctx = get_current_context(silent=True)
    found = ctx.find_object(Environment) if ctx is not None else None
    if found is None:
        found = Environment.from_process()
        if ctx is not None:
            ctx.find_root().obj = found
    return found


def echo(text: str) -> None:
    """One result line (or block) on the run's standard output."""
    out = env().stdout
    out.write(f"{text}\n")
    out.flush()


def error(message: str, run: Environment | None = None) -> None:
    """One ``Error: ...`` line on the run's standard error. ``run``: the Environment, given by a
    caller on another thread (a worker has no typer context)."""
    # lazy: start-up, render imports rich only when it draws, but --help needs none of it
    from vision_cli import render

    render.error(message, stream=(run or env()).stderr)


def warn(message: str, run: Environment | None = None) -> None:
    # lazy: start-up, as error
    from vision_cli import render

    render.warn(message, stream=(run or env()).stderr)


def note(message: str, run: Environment | None = None) -> None:
    # lazy: start-up, as error
    from vision_cli import render

    render.note(message, stream=(run or env()).stderr)


def file_cache(run: Environment, *, readonly: bool = False) -> filesapi.FileCache:
    """The Files API's record of uploads, in the run's cache folder, for the run's API.
    ``readonly`` (a dry run, a listing): it changes no file, even a damaged one."""
    # lazy: start-up, only commands that send need it
    from vision_cli import fsutil
    from vision_cli.client import filesapi, keys

    folder = fsutil.cache_dir(run.vars)
    return filesapi.FileCache(
        folder / filesapi.FileCache.FILENAME,
        endpoint=keys.base_url(run.vars),
        clock=run.clock,
        warn=lambda problem: warn(problem, run),
        readonly=readonly,
    )


def usage_error(message: str, param: str | None = None) -> NoReturn:
    """Stop with a usage error (exit 2), in typer's own format. An option (``--price``) whose
    value came from a configuration file or an environment variable is named with it. Names in
    the message (a path with an escape sequence, a byte that is not UTF-8) are shown escaped,
    as in every other message: typer prints it as it is."""
    # lazy: start-up, only an error needs it
    from vision_cli.render.text import visible

    hint = param and visible(param + _origin_of_option(param))
    raise typer.BadParameter(visible(message), param_hint=hint)


def input_error(exc: ValueError) -> NoReturn:
    """Stop with the usage error the inputs gave (``sources.UsageError``): the option at fault
    named with where its value came from, when that was a configuration file or the
    environment (a ``files-from`` in your own configuration), else the message alone."""
    option = getattr(exc, "option", None)
    usage_error(str(exc), option if option and _origin_of_option(option) else None)


def _origin_of_option(hint: str) -> str:
    ctx = get_current_context(silent=True)
    if ctx is None or not hint.startswith("-") or "(" in hint:
        return ""
    found = [p.name for p in ctx.command.params if hint in getattr(p, "opts", ()) and p.name]
    return from_environment(found[0]) if found else ""


def fail(message: str, status: ExitStatus) -> NoReturn:
    """Stop with one ``Error:`` line on stderr (the API key redacted) and ``status``."""
    # lazy: start-up, only failures need it
    from vision_cli.client import keys

    error(keys.redact(message))
    raise typer.Exit(status)


def model_name(name: str | None) -> str:
    """The name a model goes by here and in requests: as given (an id or alias), the newest
    active model's for a line (``sonnet``), the default's when none is given."""
    # lazy: start-up, the listing (--help) imports this module but needs none of these
    from vision_cli import catalog

    cat = catalog.load()
    name = name or cat.default
    if name in catalog.LINES:
        try:
            return cat.get(name).short_name
        except KeyError:
            return name
    return name


#: ``ctx.meta``'s key for where configured values came from (see ``app.project_defaults``).
CONFIGURED_IN: Final = "vision_cli.configured_in"


def _source(param: str) -> str | None:
    """Where the current command's ``param`` got its value (click's ``ParameterSource`` name:
    ``COMMANDLINE``, ``ENVIRONMENT``, ``DEFAULT_MAP`` for a configuration file, ``DEFAULT``);
    None outside a command."""
    ctx = get_current_context(silent=True)
    source = ctx.get_parameter_source(param) if ctx is not None else None
    return getattr(source, "name", None)


def configured(param: str) -> bool:
    """Whether the current command's ``param`` came from a configuration file (not typed)."""
    return _source(param) == "DEFAULT_MAP"


def typed(param: str) -> bool:
    """Whether the current command's ``param`` was given on the command line."""
    return _source(param) == "COMMANDLINE"


def from_environment(param: str) -> str:
    """`` (from $NAME)`` when the current command's ``param`` came from its environment variable
    (``$VISION_CLI_MODEL``), `` (from FILE)`` when a configuration file set it: the value is
    wrong there, not on the command line."""
    ctx = get_current_context(silent=True)
    source = _source(param)
    if ctx is not None and source == "DEFAULT_MAP":
        command = ctx.command_path.partition(" ")[2]
        where = ctx.meta.get(CONFIGURED_IN, {}).get(command, {}).get(param)
        return f" (from {where})" if where else " (from the configuration)"
    if ctx is None or source != "ENVIRONMENT":
        return ""
    found = [p for p in ctx.command.params if p.name == param]
    envvar = getattr(found[0], "envvar", None) if found else None
    return f" (from ${envvar})" if isinstance(envvar, str) else ""


def resolve_model(
    name: str | None,
    *,
    sending: bool = False,
    price: str | None = None,
    saved_in: str | None = None,
    defer_retired: bool = False,
) -> catalog.Model:
    """The model for ``--model`` (or the default), checked only now that a command needs it: a
    usage error for an unknown one; a retired one stops a command that sends (exit 2) and is
    noted by the others; a deprecated one is warned about. ``price``: ``--price`` of ``ask``.
    ``saved_in``: the file the name was read from (a ``--conversation``), said in place of
    ``--model``. ``defer_retired``: a retired model is returned unsaid, for the caller to
    refuse once it knows that something new would be sent (``ask --batch`` first collects the
    batches it submitted before: collecting names no model)."""
    # lazy: start-up, the listing (--help) imports this module but needs none of these
    from vision_cli import catalog

    origin = f" (saved in {saved_in})" if saved_in else from_environment("model")
    warn_foreign_cache()
    try:
        model = catalog.resolve(model_name(name))
    except catalog.UnknownModelError as exc:
        if saved_in:
            fail(f"the model saved in {saved_in}: {exc}", ExitStatus.USAGE)
        usage_error(str(exc), "--model" + origin)
    if not (defer_retired and model.retired):
        note_lifecycle(model, sending=sending, origin=origin)
    if price is not None:
        model = priced(model, price)
    if sending and not model.priced:
        usage_error(str(catalog.UnpricedModelError(model)), "--price")
    return model


#: Where a run keeps the models caches it has warned about (its root context's ``meta``).
_FOREIGN_WARNED: Final = "vision_cli.foreign_cache_warned"


def warn_foreign_cache() -> None:
    """Warn once per run and cache file when the models cache has a version this vision-cli
    does not know: the bundled table is used, and the file is left as it is."""
    # lazy: start-up, the listing (--help) imports this module but needs none of these
    from vision_cli import catalog

    foreign = catalog.foreign_cache()
    if foreign is None:
        return
    ctx = get_current_context(silent=True)
    warned: set[Path] = ctx.find_root().meta.setdefault(_FOREIGN_WARNED, set()) if ctx else set()
    if foreign.path in warned:
        return
    warned.add(foreign.path)
    warn(f"{foreign}; the bundled table is used")


def priced(model: catalog.Model, text: str) -> catalog.Model:
    """``model`` at the price of one ``--price [MODEL=]INPUT[/OUTPUT]`` (estimate's parser)."""
    # lazy: start-up, --help imports none of these
    from vision_cli import catalog
    from vision_cli.estimating import choosing

    try:
        spec = choosing.parse_price(text)
    except choosing.PlanError as exc:
        usage_error(str(exc), "--price")
    if spec.model is not None:
        try:
            named = catalog.resolve(model_name(spec.model))
        except catalog.UnknownModelError:
            named = None
        if named is None or named.id != model.id:
            usage_error(
                f"{spec.model} has a price but the model is {model.short_name}: use "
                f"--price {model.short_name}=INPUT/OUTPUT or a bare --price INPUT/OUTPUT",
                "--price",
            )
    if spec.output is None and model.output_price is None:
        usage_error(
            f"{model.short_name} has no known output price: --price "
            f"{model.short_name}=INPUT/OUTPUT",
            "--price",
        )
    return model.with_price(spec.input, spec.output)


def note_lifecycle(model: catalog.Model, *, sending: bool, origin: str = "") -> None:
    """Say on stderr what the model's lifecycle means here (never hidden by -q or --json:
    stderr is not the result). A retired model stops a command that sends, with exit 2, and is
    a warning for the others (priced and judged as history);
    ``origin`` says where its name came from when not the command line."""
    from vision_cli import lifecycle  # lazy: start-up, --help imports none of these

    if model.retired:
        if sending:
            error(lifecycle.refusal(model, source=origin))
            raise typer.Exit(ExitStatus.USAGE)
        warn(lifecycle.retired_note(model))
    elif model.deprecated:
        warn(lifecycle.deprecation_warning(model))


def output_format(fmt: Format | ReportFormat, json_flag: bool) -> Format:
    """The format chosen with ``--format`` or ``--json`` (the command's enum holds its choices)."""
    # lazy: start-up, the listing (--help) imports this module but needs none of these
    from vision_cli.formats import Format

    one_format(fmt, json_flag)
    return Format.json if json_flag else Format(fmt.value)


def one_format(fmt: object, json_flag: bool) -> None:
    """Stop with a usage error naming both when ``--json`` comes with a ``--format`` other than
    json, in every command that has the two: neither silently wins. A format the command only
    defaults to is no contradiction; one a configuration set gives way to a typed ``--json``
    before this (:mod:`vision_cli.cli.precedence`)."""
    if not json_flag or fmt is None or str(fmt) == "json":
        return
    if _source("fmt") in (None, "DEFAULT"):
        return
    usage_error(
        f"--json is short for --format json, not --format {fmt}{from_environment('fmt')}: "
        "give one of them",
        "--json",
    )


def max_bytes(text: str) -> int:
    # lazy: start-up, the listing (--help) imports this module but needs none of these
    from vision_cli import limits, units

    try:
        value = units.parse_bytes(text)
    except ValueError as exc:
        usage_error(str(exc), "--max-bytes")
    if value > limits.DIRECT_API_MAX_BYTES:
        usage_error(
            f"{text} is over the largest limit any platform accepts "
            f"({units.format_bytes(limits.DIRECT_API_MAX_BYTES)})",
            "--max-bytes",
        )
    return value


def finite(value: float | None) -> float | None:
    """A number option's callback: ``inf`` and ``nan`` parse as floats but mean nothing here."""
    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (``kill``, ``timeout``, a cancelled CI job, ``docker stop``) stops the run as
    Ctrl-C does: no half-written file is left, and a batch being created is saved. ``app.main``
    puts every command inside it."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (an embedding program): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def ignored_codes(values: list[str] | None) -> frozenset[judging.Code]:
    """The codes of ``--ignore``; an unknown one is a usage error that lists the codes."""
    # lazy: start-up, the listing (--help) imports this module but needs none of these
    from vision_cli import judging

    try:
        return frozenset(judging.ignorable_code(v) for v in values or ())
    except ValueError as exc:
        usage_error(str(exc), "--ignore")


def load_schema(value: str | None) -> dict[str, object] | None:
    """``--schema`` as a JSON Schema (None when not given); a usage error says what is wrong."""
    if value is None:
        return None
    # lazy: start-up, --help imports none of these
    from vision_cli import schema

    try:
        loaded = schema.load(value)
    except schema.SchemaError as exc:
        usage_error(str(exc), "--schema")
    for pattern in schema.unchecked_patterns(loaded):
        warn(
            f"--schema: the pattern {pattern!r} is not one Python's re can read, so answers are "
            "not checked against it here (the API still answers under it)"
        )
    return loaded


def debug(vars: Mapping[str, str]) -> bool:
    """Whether ``VISION_CLI_DEBUG`` asks for tracebacks instead of one-line errors."""
    return vars.get(DEBUG_ENV, "") not in ("", "0")


def is_closed_pipe(exc: BaseException) -> bool:
    """Whether ``exc`` says the reader of a pipe went away (``| head`` closed it)."""
    return isinstance(exc, OSError) and exc.errno == errno.EPIPE


def _silence_stdout(stream: TextIO) -> None:
    """Point standard output at /dev/null, so that nothing still buffered (nor the
    interpreter's final flush) can fail again and print a message."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (a test runner's stream)
        pass


def stdout_closed() -> NoReturn:
    """The reader of standard output went away: stop quietly with status 141."""
    _silence_stdout(env().stdout)
    raise typer.Exit(ExitStatus.CLOSED_PIPE)


class StdoutGuard:
    """Standard output for the console script: a write that finds the pipe closed ends the
    process there and then with 141, as SIGPIPE ends ``git log``; any other failed write raises
    :class:`StdoutFailed` (after pointing the stream at /dev/null, so that the interpreter's
    last flush cannot fail again), and so does every later write: code that caught the first
    cannot go on writing into nothing as if it had been saved.

    Unwinding instead would run every ``finally`` on the way out, and stopping a pool of worker
    processes whose results nobody will read can hang (seen under load). Nothing is lost: the
    output had nowhere to go, files are written atomically, and workers end with their parent.
    Every other attribute is the real stream's.

    Python's unbuffered standard output (``PYTHONUNBUFFERED``, ``python -u``: common in CI
    images) writes each text once to the file and drops what a short write left over without
    an error: a report cut short by a filling disk or a closing pipe, and status 0. The guard
    puts a buffer under it, which writes everything or raises, and flushes it at every write,
    so output still appears at once.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream, self._unbuffered = _finishing_writes(stream)
        self._broken: OSError | None = None
        #: False while :func:`closed_pipe_raises` holds: a closed pipe raises, as a full disk.
        self.exit_on_closed_pipe = True

    def write(self, text: str) -> int:
        if self._broken is not None:
            raise StdoutFailed(self._broken)
        try:
            written = self._stream.write(text)
            if self._unbuffered:
                self._stream.flush()
            return written
        except OSError as exc:
            self._failed(exc)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._broken is not None:
            return  # said once already; the interpreter's last flush must not say it again
        try:
            self._stream.flush()
        except OSError as exc:
            self._failed(exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _failed(self, exc: OSError) -> NoReturn:
        _silence_stdout(self._stream)
        if is_closed_pipe(exc) and self.exit_on_closed_pipe:
            _stop_workers()
            os._exit(ExitStatus.CLOSED_PIPE)
        self._broken = exc
        raise StdoutFailed(exc) from exc


def _finishing_writes(stream: TextIO) -> tuple[TextIO, bool]:
    """``stream``, or the same file through a buffer when it has none (see :class:`StdoutGuard`);
    and whether it had none."""
    raw = getattr(stream, "buffer", None)
    if not isinstance(raw, io.RawIOBase):
        return stream, False
    try:
        fd = raw.fileno()
    except (OSError, ValueError):  # no real file descriptor: nothing to put a buffer under
        return stream, False
    # A file object of its own over the same descriptor, which it does not own: a buffer over
    # ``raw`` itself closed it when it went (at exit, or a guard dropped), and with it the
    # stream ``sys.__stdout__`` still writes through (and the descriptor, when ``raw`` owns it).
    buffered = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(fd, "wb", closefd=False)),
        encoding=stream.encoding,
        errors=stream.errors,
        line_buffering=bool(stream.line_buffering),
        write_through=True,
    )
    return buffered, True


@contextlib.contextmanager
def closed_pipe_raises(stream: TextIO) -> Iterator[None]:
    """While the block runs, a closed standard output (``stream``, when it is the console
    script's :class:`StdoutGuard`) raises :class:`StdoutFailed`, its ``__cause__`` the
    ``EPIPE`` error, instead of ending the process at once: for a caller that must first keep
    what was paid for (a streamed answer, saved in its conversation), then stop with
    :func:`stdout_closed`."""
    if not isinstance(stream, StdoutGuard):
        yield
        return
    before = stream.exit_on_closed_pipe
    stream.exit_on_closed_pipe = False
    try:
        yield
    finally:
        stream.exit_on_closed_pipe = before


def _stop_workers() -> None:
    """End this process's worker processes at once, before they find their own pipes closed
    and print tracebacks."""
    multiprocessing = sys.modules.get("multiprocessing")  # imported only by runs with workers
    if multiprocessing is None:
        return
    for child in multiprocessing.active_children():
        child.kill()


_P = ParamSpec("_P")
_R = TypeVar("_R")


def quiet_on_closed_pipe(command: Callable[_P, _R]) -> Callable[_P, _R]:
    """Wrap a command so that a closed standard output, wherever it is noticed, ends the run with
    :func:`stdout_closed` instead of an error line (typer would print none and exit 1)."""

    @functools.wraps(command)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        launch.resume()  # the command's own work starts: the start-up is over
        try:
            return command(*args, **kwargs)
        except OSError as exc:
            if is_closed_pipe(exc):
                stdout_closed()
            raise

    return run


# --------------------------------------------------------------------------------------------------
# A bare --tile means --tile auto
# --------------------------------------------------------------------------------------------------

TILE_OPTION = "--tile"
#: What ``--tile`` takes as its value when one follows: ``auto``, or digits and grid separators
#: (``3x1``, ``2X2``; also ``0x3`` or ``3``, so that a bad grid is refused as a grid rather than
#: read as an input's name). ``shot.png``, ``3x1.png``, ``-`` and ``clip:`` are inputs.
_TILE_VALUE = re.compile(r"\s*(auto|\d[\d\sxX*×]*)", re.IGNORECASE)


def bare_tile_means_auto(args: list[str], takes_value: frozenset[str]) -> list[str]:
    """``args`` with a ``--tile`` that has no value of its own written ``--tile=auto``.

    The issue asks that ``--tile`` alone mean ``auto``. Click (typer 0.29 vendors it, without
    ``flag_value`` for options that take a value) would take the next argument as the value,
    so ``ask --tile shot.png`` would fail with "'shot.png' is not a grid", and a last ``--tile``
    with "requires an argument". Here, before the parser runs, a ``--tile`` followed by nothing,
    by another option or by anything that is not ``auto`` or ``ROWSxCOLS`` gets ``auto``; the
    word after it stays an input. The values of other options (``-p --tile`` asks about the
    text "--tile") and everything after ``--`` are left alone: ``takes_value`` names the
    options that take one.
    """
    out: list[str] = []
    i = 0
    while i < len(args):
        arg, following = args[i], args[i + 1 : i + 2]
        i += 1
        if arg == "--":
            return [*out, *args[i - 1 :]]
        if arg == TILE_OPTION and not (following and _TILE_VALUE.fullmatch(following[0])):
            out.append(f"{TILE_OPTION}=auto")  # what follows is read as usual
            continue
        out.append(arg)
        if arg in takes_value and following:
            out += following
            i += 1
    return out


class BareTileCommand(typer.core.TyperCommand):
    """A command whose ``--tile`` may be given without a value (:func:`bare_tile_means_auto`),
    whose options get :mod:`converters`' quick converters, and whose configured options give
    way to the command line (:func:`precedence.settle`)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        takes_value = frozenset(
            opt
            for param in self.params
            if isinstance(param, typer.core.TyperOption) and not (param.is_flag or param.count)
            for opt in param.opts
        )
        if TILE_OPTION in takes_value:
            args = bare_tile_means_auto(args, takes_value)
        converters.seed(self.get_params(ctx))
        rest = super().parse_args(ctx, args)
        if ctx.default_map:
            # lazy: start-up, only a run with a configuration file
            from vision_cli.cli import precedence

            precedence.settle(ctx, self.name or "")
        return rest


class QuickGroup(typer.core.TyperGroup):
    """The application's group: its own options get :mod:`converters`' quick converters."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        converters.seed(self.get_params(ctx))
        return super().parse_args(ctx, args)
