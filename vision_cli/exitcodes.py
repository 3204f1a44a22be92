"""Exit statuses, in one place: documented in the README and in ``vision-cli --help``."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    #: Everything done; no input has an error (``inspect``: no error finding).
    OK = 0
    #: At least one input failed or has an error finding (the others were still processed);
    #: ``ask``: preflight failed and nothing was sent, or the answer does not match
    #: ``--schema``, or an output (standard output, ``--conversation``) could not be written.
    FAILED = 1
    #: The command line is wrong (unknown option, bad value, unknown model).
    USAGE = 2
    #: The API or the network failed (``ask``, ``compare``, ``estimate --exact``).
    API = 3
    #: A bug in vision-cli: please report it (``VISION_CLI_DEBUG=1`` shows the traceback).
    INTERNAL = 70
    #: Interrupted (Ctrl-C, or SIGTERM: ``kill``, ``timeout``, a cancelled CI job), every command.
    INTERRUPTED = 130
    #: Standard output was closed before the run ended (``| head``): 128 + SIGPIPE, what the
    #: shell reports for ``git log | head -1``. The run stops without a message.
    CLOSED_PIPE = 141


class StdoutFailed(Exception):
    """Standard output cannot take what is written (a full disk, an I/O error; not a closed
    pipe): the run ends with one line saying so and status :attr:`ExitStatus.FAILED`
    (:func:`vision_cli.cli.app.main`). Not an ``OSError``, so that no command mistakes it for a
    failure of its own files; defined here, below every layer, so that each can let it pass (an
    answer streamed to standard output, a results line written there)."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(exc.strerror or str(exc))  # the reason: ``No space left on device``


EXIT_HELP = (
    "Exit status: 0 all good; 1 an input failed or has an error finding; 2 usage error; "
    "3 API or network error; 70 internal error; 130 interrupted; 141 standard output closed "
    "early (| head)."
)
