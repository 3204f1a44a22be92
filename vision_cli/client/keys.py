"""The API key and base URL from the environment, and the redaction that keeps the key out of
every message and log line.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Final

from vision_cli import names
from vision_cli.client.bodies import REDACTED

API_KEY_ENV: Final = "ANTHROPIC_API_KEY"


BASE_URL_ENV: Final = "ANTHROPIC_BASE_URL"


DEFAULT_BASE_URL: Final = "https://api.anthropic.com"


#: Every key read (from the process's variables or a run's): :func:`redact` hides them all.
_SEEN: set[str] = set()


def _vars(given: Mapping[str, str] | None) -> Mapping[str, str]:
    """The variables a run was given; the process's for a caller that gives none (a library
    use, or a test of one function)."""
    return os.environ if given is None else given


def api_key(vars: Mapping[str, str] | None = None) -> str | None:
    """``ANTHROPIC_API_KEY`` from ``vars`` (the process's when None), or None."""
    key = _vars(vars).get(API_KEY_ENV, "").strip()
    if key:
        _SEEN.add(key)
    return key or None


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be an API key, in words that never quote it; None when it can be.

    A key is one HTTP header value: visible ASCII, no spaces. What goes wrong is a pasted
    ``.env`` line (a line break and the next setting, or ``NAME=`` in front) or a stray quote.
    """
    if key.startswith(f"{API_KEY_ENV}="):
        return (
            f"{API_KEY_ENV} holds its own name too (a pasted .env line?): set it to the key alone"
        )
    for char in key:
        if char in "\r\n":
            return (
                f"{API_KEY_ENV} holds a line break (a pasted .env line?): set it to the key "
                "alone, on one line"
            )
        if char.isspace():
            return f"{API_KEY_ENV} holds a space: set it to the key alone"
        if not "!" <= char <= "~":
            return (
                f"{API_KEY_ENV} holds a control or non-ASCII character (U+{ord(char):04X}): set it "
                "to the key alone, as the Console shows it"
            )
    return None


def base_url_problem(vars: Mapping[str, str] | None = None) -> str | None:
    """What is wrong with ``ANTHROPIC_BASE_URL`` (a scheme or host missing, a host or port that
    cannot be read), or None."""
    raw = _vars(vars).get(BASE_URL_ENV, "").strip()
    if not raw:
        return None
    if "://" not in raw:
        example = "" if any(c.isspace() for c in raw) else f", e.g. http://{raw}"
        why = f"it needs a scheme (http:// or https://){example}"
    elif not raw.lower().startswith(("http://", "https://")):
        why = "it needs a scheme (http:// or https://), e.g. https://api.example.com"
    elif problem := names.url_problem(raw):
        why = problem
    else:
        return None
    return f"{BASE_URL_ENV}='{raw}' is not a URL: {why}"  # (an error line shows it escaped)


def base_url(vars: Mapping[str, str] | None = None) -> str:
    """The API's address: ``ANTHROPIC_BASE_URL`` from ``vars`` (the process's when None), or
    the default."""
    return (_vars(vars).get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL).rstrip("/")


#: The shortest piece of the key's start that is hidden wherever it appears. Longer than the
#: ``sk-ant-api03-`` every key shares, so that naming the kind of key is not a leak.
_KEY_PREFIX: Final = 16


def _key_forms(key: str) -> set[str]:
    """The key as messages may show it: raw, escaped as Python or JSON does, and each piece of a
    key that holds line breaks or spaces (a pasted ``NAME=`` in front is not secret)."""
    key = key.removeprefix(f"{API_KEY_ENV}=")
    forms = {key, repr(key)[1:-1], json.dumps(key)[1:-1], repr(key.encode("utf-8"))[2:-1]}
    forms.update(piece for piece in key.split() if len(piece) >= 8)
    return {form for form in forms if len(form) >= 4}


def _hide(text: str, form: str) -> str:
    """``text`` with ``form`` and every piece of its start (at least :data:`_KEY_PREFIX`
    characters, or the whole of a shorter form) replaced."""
    head = form[: min(len(form), _KEY_PREFIX)]
    pieces: list[str] = []
    at = 0
    while (start := text.find(head, at)) >= 0:
        end = start + len(head)
        while end < len(text) and end - start < len(form) and text[end] == form[end - start]:
            end += 1
        pieces += [text[at:start], REDACTED]
        at = end
    return "".join([*pieces, text[at:]])


def redact(text: str) -> str:
    """``text`` without the API key in any form (raw, escaped, cut short) and without the
    credentials of any URL: neither may reach any output."""
    api_key()  # the process's, even before anything asked for it
    forms = {form for key in _SEEN if len(key) >= 4 for form in _key_forms(key)}
    for form in sorted(forms, key=len, reverse=True):
        text = _hide(text, form)
    return names.without_credentials(text)


class _RedactingFilter(logging.Filter):
    """Removes the API key from the SDK's and httpx2's log records (``ANTHROPIC_LOG=debug``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        hidden = redact(message)
        if hidden != message:
            record.msg = hidden
            record.args = None
        return True


_FILTER: Final = _RedactingFilter()


def guard_logs() -> None:
    for name in ("anthropic", "httpx2", "httpx", "httpcore"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
