"""File names are bytes: carried losslessly, written safely.

On POSIX a file name is any bytes but ``/`` and NUL, and Python holds one that is not valid
UTF-8 with *surrogate escapes* (the byte ``0xff`` becomes the character U+DCFF), as ``os``
does. vision-cli keeps them so in memory, so a name read from a folder opens the same file
again. Where a name is written out:

- JSON and JSONL: the name as a JSON string in which each such byte is the escape ``\\udcff``
  (Python's ``json`` reads it back to the same name), and beside it a member named after the
  field with ``_bytes`` added (``path_bytes``, ``input_bytes``, ``output_bytes``) holding the
  name's bytes in base64. The member is there only when the name is not UTF-8.
- CSV: the same ``\\udcff`` escapes, and so a control character JSON escapes too (``\\u001b``;
  not a tab or a line break, which a quoted cell holds), and a ``path_bytes`` (``input_bytes``,
  ``output_bytes``) column at the end, empty unless the name was escaped so.
- Tables, Markdown, GitHub annotations and messages: ``\\xff``, like every other control or
  invisible character (:func:`vision_cli.render.visible`).

Pure standard library: every layer may import it.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

#: A lone surrogate: a byte of a name that is not UTF-8 (or, rarely, text that was never valid).
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
#: What a CSV cell holds escaped: a lone surrogate, and a control character but the tab and the
#: line breaks (which a quoted cell holds), DEL and C1 controls: the escape sequences a terminal
#: that the file is printed on would obey. (JSON escapes the C0 controls itself.)
_NOT_IN_CSV: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
BYTES_SUFFIX: Final = "_bytes"
#: The fields of vision-cli's records that hold file names (CSV gives each a ``_bytes`` column).
NAME_FIELDS: Final = ("path", "input", "output")
#: ``json``'s encoder of single lines, made once: what :data:`_LINE` is built from (and falls
#: back to).
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False)


def _line_encoder() -> Callable[[Any], str]:
    """``_ENCODER.encode``, less the work it repeats for every document: it makes ``json``'s C
    encoder afresh each call (a third of a record's time), so here it is made once.

    Made without the cycle check: these documents are trees of plain values built here (a cycle
    would end in RecursionError rather than ValueError). ``_ENCODER.encode`` itself where
    ``json`` has no C encoder (another Python) or a different one."""
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    try:
        # (markers, default, encoder, indent, separators, sort_keys, skipkeys, allow_nan)
        encode = make(
            None, _ENCODER.default, json.encoder.encode_basestring, None, ": ", ", ", False,
            False, True,
        )  # fmt: skip
    except TypeError:  # None, or its arguments changed
        return _ENCODER.encode
    return lambda doc: "".join(encode(doc, 0))


_LINE: Final = _line_encoder()


#: What replaces a secret (the API key, a URL's credentials) wherever it might show.
REDACTED: Final = "[redacted]"
#: ``user:password@`` in a URL (an image server's, a proxy's or a gateway's credentials).
_USERINFO: Final = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")


def without_credentials(text: str) -> str:
    """``text`` with the ``user:password@`` of every URL in it replaced by ``[redacted]@``:
    what every output shows of a URL (a URL input's label is made with it, so tables, errors,
    notes and results files never hold its password)."""
    return _USERINFO.sub(rf"\1{REDACTED}@", text) if "@" in text else text


#: What no URL may hold: C0 controls, DEL, C1 controls (a terminal's escape sequences, a line
#: break that would forge a header), and lone surrogates (a byte that is not UTF-8).
_NOT_IN_URLS: Final = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def url_problem(url: str) -> str | None:
    """Why ``url`` can be neither downloaded nor sent to the API, or None: what can be told
    without the network, checked once for every command where the URL becomes an input (so
    ``ask --source auto`` never sends one, and a download never starts), and for
    ``ANTHROPIC_BASE_URL``."""
    if _NOT_IN_URLS.search(url):
        return "it holds a control character or a byte that is not UTF-8"
    try:
        parts = urlsplit(url)
    except ValueError:  # a "[" with no "]", or a host that NFKC folds into "/", "?", "#" or "@"
        return "its host cannot be read"
    try:
        parts.port  # noqa: B018 (it raises for a port that is not a number from 0 to 65535)
    except ValueError:
        return "its port is not a number from 0 to 65535"
    host = parts.hostname
    if not host:
        return "it has no host"
    try:  # each label 1 to 63 characters, and an xn-- label real Punycode (it round-trips)
        host.encode("idna").decode("idna")
    except UnicodeError:
        return "its host is not a valid domain name"
    return None


def is_utf8(text: str) -> bool:
    """Whether ``text`` is valid Unicode (a name that is UTF-8 on disk)."""
    # (isascii reads a flag the string carries: no scan for the common case)
    return text.isascii() or _SURROGATE.search(text) is None


def _code_point(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def escape(text: str) -> str:
    """``text`` with each lone surrogate written as the escape ``\\udcXX`` (valid UTF-8)."""
    return _SURROGATE.sub(_code_point, text)


def csv_escape(text: str) -> str:
    """``text`` as a CSV cell holds it: each lone surrogate and control character but the tab
    and the line breaks written as JSON writes it (``\\udcff``, ``\\u001b``)."""
    return _NOT_IN_CSV.sub(_code_point, text)


def csv_exact(text: str) -> bool:
    """Whether a CSV cell holds ``text`` as it is (:func:`csv_escape` leaves it alone)."""
    return _NOT_IN_CSV.search(text) is None


def name_bytes(text: str) -> str:
    """The bytes of a name held with surrogate escapes, in base64."""
    return base64.b64encode(os.fsencode(text)).decode("ascii")


def with_bytes(doc: Any, exact: Callable[[str], bool] = is_utf8) -> Any:
    """``doc`` with a ``FIELD_bytes`` member beside every string member that is not UTF-8
    (recursively); ``doc`` itself when there is none, so the common case costs one scan.
    ``exact``: which text needs no such member (:func:`csv_exact` for a CSV row)."""
    if isinstance(doc, dict):
        out: dict[Any, Any] | None = None
        for key, value in doc.items():
            new = with_bytes(value, exact)
            extra = isinstance(value, str) and not exact(value)
            if new is not value or extra:
                out = dict(doc) if out is None else out
                out[key] = new
                if extra and isinstance(key, str):
                    out[key + BYTES_SUFFIX] = name_bytes(value)
        if out is None:
            return doc
        # the extra members follow their field, in the order the fields came
        ordered: dict[Any, Any] = {}
        for key in doc:
            ordered[key] = out[key]
            if isinstance(key, str) and key + BYTES_SUFFIX in out and key + BYTES_SUFFIX not in doc:
                ordered[key + BYTES_SUFFIX] = out[key + BYTES_SUFFIX]
        return ordered
    if isinstance(doc, list):
        items = [with_bytes(item, exact) for item in doc]
        return doc if all(a is b for a, b in zip(items, doc, strict=True)) else items
    return doc


def dumps(doc: Any, *, indent: int | None = None) -> str:
    """JSON for ``doc`` that is always valid UTF-8, with names that are not UTF-8 escaped and
    given their ``_bytes`` member. Non-ASCII text stays readable (``ensure_ascii`` off)."""
    encode = _LINE if indent is None else json.JSONEncoder(ensure_ascii=False, indent=indent).encode
    text = encode(doc)
    if is_utf8(text):  # every name is UTF-8: nothing to add or escape
        return text
    return escape(encode(with_bytes(doc)))
