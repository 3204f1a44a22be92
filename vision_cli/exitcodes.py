"""Exit statuses, in one place: documented in the README and in ``vision-cli --help``."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    #: Everything done; no input has an error (``inspect``: no error finding).
    OK = 0
    #: At least one input failed or has an error finding (the others were still processed);
    #: ``ask``: preflight failed and nothing was sent.
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


EXIT_HELP = (
    "Exit status: 0 all good; 1 an input failed or has an error finding; 2 usage error; "
    "3 API or network error; 70 internal error; 130 interrupted; 141 standard output closed "
    "early (| head)."
)
