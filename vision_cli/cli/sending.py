"""Sending one request of ``ask`` or ``compare``: uploads, the call, the streamed answer, and what
``VISION_CLI_DEBUG=1`` shows of it. The SDK is imported only here, and only when something is
really sent.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

import typer

from vision_cli.cli import common
from vision_cli.cli.ask_groups import AskOptions
from vision_cli.environment import Environment
from vision_cli.exitcodes import ExitStatus

if TYPE_CHECKING:
    from vision_cli.asking import answering, building, preparing, running
    from vision_cli.client import connect, filesapi


def import_sdk_early() -> None:
    """Start importing the SDK (about 1.2 s, most of it ``anthropic.types``) in a background
    thread, so that it overlaps with reading, checking and preparing the images (Pillow decodes
    and resizes without holding the GIL) instead of following them.

    Called once the run is known to send (never for ``--dry-run``, ``--help`` or a usage error).
    The first use of the SDK in the main thread imports it as usual: Python's import lock makes it
    wait for this import, or do it itself if this one failed (its error is then raised there, in
    the ordinary way). A daemon thread: an early exit does not wait for it.
    """

    def load() -> None:
        with suppress(BaseException):
            from vision_cli.client import connect  # (its own imports are light)

            connect.load_sdk()  # with the collector paused: 0.7 s less

    threading.Thread(target=load, name="vision-cli-import-sdk", daemon=True).start()


class _StreamWriter:
    """Writes the answer to stdout as it arrives; ``end`` closes the line. On a terminal, control
    characters in it are shown as escapes, never obeyed (piped, the answer is exact)."""

    def __init__(self) -> None:
        # lazy: start-up, --help imports none of these
        from vision_cli import render

        env = common.env()
        self.out = env.stdout
        self.last = "\n"
        self.shown = render.visible_answer if env.stdout_isatty else None

    def __call__(self, text: str) -> None:
        if text:
            self.out.write(self.shown(text) if self.shown else text)
            self.out.flush()
            self.last = text[-1]

    def end(self) -> None:
        if self.last != "\n":
            self.out.write("\n")
            self.out.flush()
            self.last = "\n"


def send(
    opts: AskOptions,
    settings: preparing.Settings,
    request: building.Request,
    build: Callable[[building.Files], building.Request],
    cache: filesapi.FileCache | None,
) -> tuple[answering.Answer, building.Request]:
    """Upload what needs it, send, stream; every failure becomes one line and its exit status.
    The answer, and the request as it was sent (with the file ids it got)."""
    # lazy: start-up, --help imports none of these
    from vision_cli.asking import answering, running
    from vision_cli.client import connect, failures, keys

    writer = _StreamWriter() if opts.streams else None
    try:
        with _debug_log():
            env = common.env()
            api = connect.make_client(
                max_retries=opts.send.max_retries, timeout=opts.send.timeout, vars=env.vars
            )
            request = _upload(api, request, build, cache, opts, expires=settings.expires)
            _debug(
                f"POST {keys.base_url(env.vars)}/v1/messages: {request.size:,} bytes, "
                f"{request.total_images} images"
            )
            fix = functools.partial(_corrected, settings)
            try:
                request, reply = running.send_correcting(
                    api, request, settings, on_text=writer, on_correction=fix
                )
            except failures.APIFailure as failure:
                if not (running.stale_file(failure) and request.cached_file_ids):
                    raise
                # A cached file id the API no longer knows (deleted, expired): upload again, once.
                _debug(f"stale cached file ids, uploading again: {failure}")
                if cache is not None:
                    cache.forget(request.cached_file_ids)
                request = _upload(
                    api, request, build, cache, opts, expires=settings.expires, refresh=True
                )
                request, reply = running.send_correcting(
                    api, request, settings, on_text=writer, on_correction=fix
                )
            _debug(f"answered: {reply.id}, stop_reason {reply.stop_reason}")
    except failures.SetupError as exc:
        common.fail(str(exc), ExitStatus.USAGE)
    except failures.APIFailure as failure:
        if writer is not None:
            writer.end()
        common.fail(str(failure), ExitStatus.API)
    except KeyboardInterrupt:
        if writer is not None:
            writer.end()
        common.error("interrupted: the answer is incomplete and nothing was saved")
        raise typer.Exit(ExitStatus.INTERRUPTED) from None
    if writer is not None:
        writer.end()
    return answering.answer(reply, request, settings), request


def _corrected(settings: preparing.Settings, correction: running.Correction) -> None:
    """Say on stderr (even with -q and --json: the data was wrong) what was shrunk and resent."""
    # lazy: start-up, --help imports none of these
    from vision_cli.asking import running

    remembered = running.remember(settings.model, correction)
    common.warn(f"{correction.describe(settings.model_name)}; {remembered}")


def _upload(
    api: connect.Anthropic,
    request: building.Request,
    build: Callable[[building.Files], building.Request],
    cache: filesapi.FileCache | None,
    opts: AskOptions,
    *,
    expires: int,
    refresh: bool = False,
) -> building.Request:
    """The request with every ``file`` image uploaded (those the cache knows are not), each to
    expire after ``expires`` seconds."""
    # lazy: start-up, --help imports none of these
    from vision_cli.asking import running

    if not request.pending_uploads and not refresh:
        return request
    files = running.resolve_files(api, request.images, cache, refresh=refresh, expires=expires)
    if not opts.show.quiet and not opts.show.json and files.uploaded:
        noun = "image" if files.uploaded == 1 else "images"
        common.note(f"uploaded {files.uploaded} {noun} through the Files API")
    return build(files)


# --------------------------------------------------------------------------------------------------
# VISION_CLI_DEBUG=1
# --------------------------------------------------------------------------------------------------


def _debug(message: str, env: Environment | None = None) -> None:
    env = env or common.env()
    if common.debug(env.vars):
        # lazy: start-up, --help imports none of these
        from vision_cli.client import keys

        env.stderr.write(f"debug: {keys.redact(message)}\n")
        env.stderr.flush()


class _StderrHandler(logging.Handler):
    """Log records on the run's stderr (the SDK may log from another thread, which has no typer
    context: the Environment is taken when the handler is made), the API key redacted."""

    def __init__(self, env: Environment) -> None:
        super().__init__(logging.INFO)
        self.env = env

    def emit(self, record: logging.LogRecord) -> None:
        _debug(f"{record.name}: {record.getMessage()}", self.env)


@contextmanager
def _debug_log() -> Iterator[None]:
    """With VISION_CLI_DEBUG=1, the SDK's retries and requests show on stderr (INFO: the bodies,
    which hold whole images, are not dumped)."""
    env = common.env()
    if not common.debug(env.vars):
        yield
        return
    logger = logging.getLogger("anthropic")
    handler = _StderrHandler(env)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
