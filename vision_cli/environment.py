"""What a run reads from its surroundings, in one object: the standard streams, whether each is a
terminal, the environment variables and the clock (httpie's ``Environment``, in small).

The entry point builds one with :meth:`Environment.from_process` and hands it to the app
(``vision_cli.cli.app.main(argv, env)``); a command takes it from its typer context and gives its
core what that needs (a stream, ``vars``, ``clock``). A test builds one of its own, with
``io.StringIO``/``io.BytesIO`` streams, its variables and a fixed clock, and runs the app in
process. Standard library only: it sits in the bottom layer.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO, TextIO


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


@dataclass(frozen=True)
class Environment:
    """The streams, terminal flags, variables and clock one run uses.

    ``stdin`` is text and ``stdin_bytes`` the same input as bytes (an image piped in as ``-``);
    read one or the other. The ``*_isatty`` flags are read once, when the object is built.
    """

    stdin: TextIO
    stdin_bytes: BinaryIO
    stdout: TextIO
    stderr: TextIO
    stdin_isatty: bool = False
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    vars: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], datetime] = _utc_now

    @classmethod
    def from_process(cls) -> Environment:
        """This process's streams (as they are now: a test runner may have swapped them), its
        environment variables and the system clock in UTC."""
        stdin = sys.stdin
        raw = getattr(stdin, "buffer", None)
        return cls(
            stdin=stdin,
            stdin_bytes=raw if raw is not None else io.BytesIO(),
            stdout=sys.stdout,
            stderr=sys.stderr,
            stdin_isatty=_isatty(stdin),
            stdout_isatty=_isatty(sys.stdout),
            stderr_isatty=_isatty(sys.stderr),
            vars=os.environ,
            clock=_utc_now,
        )

    def now(self) -> datetime:
        """The current time, in UTC."""
        return self.clock()
