"""The checks made before anything is sent (key, base URL) and :func:`make_client`, the one place
the SDK client is built.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from vision_cli import collector
from vision_cli.client.failures import MISSING_KEY_MESSAGE, BadKeyError, MissingKeyError, SetupError
from vision_cli.client.keys import (
    api_key,
    base_url,
    base_url_problem,
    guard_logs,
    key_problem,
)

if TYPE_CHECKING:
    import anthropic

    #: The SDK client, for the annotations of modules that must not import ``anthropic``.
    Anthropic: TypeAlias = anthropic.Anthropic


def load_sdk() -> None:
    """Import the SDK with the garbage collector paused (:func:`vision_cli.collector.paused`):
    0.7 s less than a plain import here. Called by :func:`make_client`, and by ``ask`` in a
    background thread as soon as it knows it will send; an import already under way (in the
    other thread) is waited for by the ``import`` statement that follows."""
    if "anthropic" in sys.modules:
        return
    with collector.paused():
        import anthropic  # noqa: F401  (imported for its side effect: loaded once)


def check_key(vars: Mapping[str, str] | None = None) -> str:
    """The API key, checked before anything is sent: :class:`MissingKeyError` when none is set,
    :class:`BadKeyError` when it cannot be one."""
    key = api_key(vars)
    if key is None:
        raise MissingKeyError(MISSING_KEY_MESSAGE)
    problem = key_problem(key)
    if problem:
        raise BadKeyError(problem)
    return key


def check_setup(vars: Mapping[str, str] | None = None) -> str:
    """The API key (:func:`check_key`), and a base URL that is a URL (:class:`SetupError`),
    checked before anything is sent. ``vars``: the run's variables (the process's when None)."""
    key = check_key(vars)
    problem = base_url_problem(vars)
    if problem is not None:
        raise SetupError(problem)
    return key


def make_client(
    *,
    max_retries: int = 2,
    timeout: float | None = None,
    middleware: Sequence[Any] = (),
    vars: Mapping[str, str] | None = None,
) -> anthropic.Anthropic:
    """A client for ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL`` of ``vars`` (the run's
    variables; the process's when None).

    Raises :class:`MissingKeyError` (message starting ``ANTHROPIC_API_KEY is not set``) before
    anything is sent. The key is passed explicitly, so the SDK never falls back to profiles or
    other credentials on disk. ``timeout`` None keeps the SDK's default. ``middleware``: the
    SDK's middleware callables ``(request, call_next) -> response``, run once per HTTP attempt
    (retries included); ``ask --each`` paces and watches its requests with one.
    """
    key = check_setup(vars)
    load_sdk()
    import anthropic

    guard_logs()
    # The SDK warns about deprecated model names through `warnings`; the model table knows them.
    warnings.filterwarnings(
        "ignore", message="The model .* is deprecated", category=DeprecationWarning
    )
    options: dict[str, Any] = {}
    if timeout is not None:
        options["timeout"] = timeout
    if middleware:
        options["middleware"] = list(middleware)
    with signals_held():
        return anthropic.Anthropic(
            api_key=key,
            # always given: the SDK would read the process's ANTHROPIC_BASE_URL itself otherwise
            # (it and httpx still read their own settings there: ANTHROPIC_LOG, proxies, CA files)
            base_url=base_url(vars),
            max_retries=max_retries,
            **options,
        )


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block has run (a few milliseconds), then arrive.

    A client cut short while it is built is collected half-made, and the HTTP library's clean-up
    then prints "Exception ignored in ... __del__" with a traceback after the run's own
    "interrupted" line. The signals are caught by Python handlers that only note them (masking
    them would not do: another thread of the process, the SDK's import or a progress bar, may
    take a process's signal), and raised again, to the handlers the run had, once the block is
    done. Only in the main thread, the one where Python handles signals."""
    held = (signal.SIGINT, signal.SIGTERM)
    before = {s: signal.getsignal(s) for s in held}
    if threading.current_thread() is not threading.main_thread() or None in before.values():
        yield
        return
    caught: list[int] = []

    def note(signum: int, frame: object) -> None:
        caught.append(signum)

    for s in held:
        signal.signal(s, note)
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        if caught:
            signal.raise_signal(caught[0])
