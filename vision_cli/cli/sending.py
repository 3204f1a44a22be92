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
from vision_cli.exitcodes import ExitStatus, StdoutFailed

if TYPE_CHECKING:
    from vision_cli.asking import answering, building, preparing, running
    from vision_cli.client import filesapi


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
    characters in it are shown as escapes, never obeyed (piped, the answer is exact).

    A write that fails (a full disk, a closed pipe) is kept in ``failed`` and the rest of the
    answer is still received, unshown: it is paid for, and is saved in its conversation before
    the failure is reported (:meth:`raise_failure`)."""

    def __init__(self) -> None:
        # lazy: start-up, --help imports none of these
        from vision_cli import render

        env = common.env()
        self.out = env.stdout
        self.last = "\n"
        self.shown = render.visible_answer if env.stdout_isatty else None
        self.failed: OSError | StdoutFailed | None = None

    def __call__(self, text: str) -> None:
        if text:
            self._write(self.shown(text) if self.shown else text)
            self.last = text[-1]

    def end(self) -> None:
        if self.last != "\n":
            self._write("\n")
            self.last = "\n"

    def _write(self, text: str) -> None:
        if self.failed is not None:
            return
        try:
            self.out.write(text)
            self.out.flush()
        except (OSError, StdoutFailed) as exc:
            self.failed = exc

    def raise_failure(self) -> None:
        """Report a failed write as the run would have: a closed pipe ends the run quietly with
        141, any other failure is :class:`StdoutFailed` (one line, status 1)."""
        failed = self.failed
        if failed is None:
            return
        cause = failed.__cause__ if isinstance(failed, StdoutFailed) else failed
        if cause is not None and common.is_closed_pipe(cause):
            common.stdout_closed()
        if isinstance(failed, StdoutFailed):
            raise failed
        raise StdoutFailed(failed) from failed


def send(
    opts: AskOptions,
    settings: preparing.Settings,
    request: building.Request,
    build: Callable[[building.Files], building.Request],
    cache: filesapi.FileCache | None,
    *,
    on_answer: Callable[[answering.Answer, building.Request], None] | None = None,
) -> tuple[answering.Answer, building.Request]:
    """Upload what needs it, send, stream; every failure becomes one line and its exit status.
    The answer, and the request as it was sent (with the file ids it got). ``on_answer`` (saving
    the conversation) is called with them once the answer is complete, also when standard
    output could not take it: that failure is reported only after."""
    # lazy: start-up, --help imports none of these
    from vision_cli.asking import answering, running
    from vision_cli.client import connect, failures, keys
    from vision_cli.render import text

    writer = _StreamWriter() if opts.streams else None
    try:
        with sdk_log(), common.closed_pipe_raises(common.env().stdout):
            env = common.env()
            api = connect.make_client(
                max_retries=opts.send.max_retries, timeout=opts.send.timeout, vars=env.vars
            )
            said = functools.partial(_uploaded, opts)
            if request.pending_uploads:
                files = running.resolve_files(api, request.images, cache, expires=settings.expires)
                said(files)
                request = build(files)
            _debug(
                f"POST {keys.base_url(env.vars)}/v1/messages: {request.size:,} bytes, "
                f"{text.n_images(request.total_images)}"
            )
            request, reply = running.send_refreshing(
                api,
                request,
                settings,
                cache,
                rebuild=build,
                expires=settings.expires,
                on_text=writer,
                on_correction=functools.partial(_corrected, settings),
                on_upload=said,
            )
            _debug(f"answered: {reply.id}, stop_reason {reply.stop_reason}")
    except failures.SetupError as exc:
        common.fail(str(exc), ExitStatus.USAGE)
    except running.GoneFromHistory as gone:
        common.fail(_gone_from_history(gone, opts), ExitStatus.FAILED)
    except failures.APIFailure as failure:
        if writer is not None:
            writer.end()
        common.fail(str(failure), ExitStatus.API)
    except KeyboardInterrupt:
        if writer is not None:
            writer.end()
        common.error("interrupted: the answer is incomplete and nothing was saved")
        raise typer.Exit(ExitStatus.INTERRUPTED) from None
    answer = answering.answer(reply, request, settings)
    if writer is not None:
        with common.closed_pipe_raises(common.env().stdout):
            writer.end()
    if on_answer is not None:
        on_answer(answer, request)
    if writer is not None:
        writer.raise_failure()
    return answer, request


def _corrected(settings: preparing.Settings, correction: running.Correction) -> None:
    """Say on stderr (even with -q and --json: the data was wrong) what was shrunk and resent."""
    # lazy: start-up, --help imports none of these
    from vision_cli.asking import running

    remembered = running.remember(settings.model, correction)
    common.warn(f"{correction.describe(settings.model_name)}; {remembered}")


def _uploaded(opts: AskOptions, files: building.Files) -> None:
    """Say how many images were uploaded (not with --quiet or --json)."""
    if not opts.show.quiet and not opts.show.json and files.uploaded:
        noun = "image" if files.uploaded == 1 else "images"
        common.note(f"uploaded {files.uploaded} {noun} through the Files API")


def _gone_from_history(gone: running.GoneFromHistory, opts: AskOptions) -> str:
    """An earlier turn's upload the API no longer has: which conversation, and what to do."""
    ids = ", ".join(gone.file_ids)
    where = opts.prompt.conversation
    return (
        f"--conversation {where}: an earlier turn's image ({ids}) is no longer on the Files API "
        "(deleted, or past its --expires), and the conversation keeps only its file id, so it "
        "cannot be sent again; start a new conversation (another --conversation file) with the "
        "image, and give a longer --expires (up to 90d) or --source base64 to a conversation "
        "that must last"
    )


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


#: A wait before a retry (what the API's ``retry-after`` asked: the SDK obeys any) from which it
#: is said on stderr; shorter ones pass in silence, as the SDK's own backoff does.
LONG_WAIT_SECONDS = 10.0


class _SdkHandler(logging.Handler):
    """The SDK's log on the run's stderr (it may log from another thread, which has no typer
    context: the Environment is taken when the handler is made), the API key redacted: every
    INFO record with VISION_CLI_DEBUG=1, else only a long wait before a retry."""

    def __init__(self, env: Environment) -> None:
        super().__init__(logging.INFO)
        self.env = env
        self.debug = common.debug(env.vars)

    def emit(self, record: logging.LogRecord) -> None:
        if self.debug:
            _debug(f"{record.name}: {record.getMessage()}", self.env)
            return
        wait = _retry_wait(record)
        if wait is not None and wait >= LONG_WAIT_SECONDS:
            common.note(
                f"the API asked to wait {wait:,.0f} s before the next try (retry-after): "
                "waiting (Ctrl-C stops; --max-retries 0 does not wait)",
                self.env,
            )


def _retry_wait(record: logging.LogRecord) -> float | None:
    """The seconds of the SDK's ``Retrying request to URL in N seconds`` record, else None."""
    args, msg = record.args, record.msg
    if not isinstance(msg, str) or not msg.startswith("Retrying request"):
        return None
    if not isinstance(args, tuple):
        return None
    wait = args[-1] if args else None
    return float(wait) if isinstance(wait, int | float) else None


@contextmanager
def sdk_log() -> Iterator[None]:
    """While the block sends: the SDK's retries and requests on stderr with VISION_CLI_DEBUG=1
    (INFO: the bodies, which hold whole images, are not dumped), and without it a wait of
    :data:`LONG_WAIT_SECONDS` or more before a retry, which would otherwise look like a hang."""
    env = common.env()
    logger = logging.getLogger("anthropic")
    handler = _SdkHandler(env)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
