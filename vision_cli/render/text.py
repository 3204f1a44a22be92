"""Text made fit to show: outside text escaped for terminals, Markdown and GitHub annotations,
CSV cells no spreadsheet runs, display widths, money. Pure functions over strings; no rich."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from vision_cli import names, units

# --------------------------------------------------------------------------------------------------
# Text from outside (file names, messages, answers) made safe to show
# --------------------------------------------------------------------------------------------------

#: Characters never shown raw to a person: C0 controls, DEL, C1 controls (ESC starts terminal
#: escape sequences, a line break lets a name forge a line of its own, such as a GitHub
#: workflow command), Unicode's line and paragraph separators (line breaks too, to some
#: viewers), the bidirectional overrides and marks that reorder what is shown, the invisible
#: zero-width space and byte-order mark (two names would look the same), and lone surrogates (a
#: byte of a file name that is not UTF-8). The zero-width joiner stays: emoji are made with it.
#: And the backslash, shown doubled (as ``ls -b`` and git show it): every escape starts with
#: one, so ``a\nb.png`` (a backslash and an ``n``) would look like a name with a line break.
#: Matched, not looked up in a table of every such character: building that table cost about a
#: millisecond on every run.
_INVISIBLE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\\\\\u061c\u200b\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
#: In an answer, line breaks and tabs are the text's own, and only C0 and C1 controls are shown.
_INVISIBLE_IN_ANSWER: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_NAMED_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[char]
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a file name that is not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    # a C1 control is a character (two bytes in UTF-8), not such a byte: \u0085, not \x85
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"


def visible(text: object, *, keep: str = "") -> str:
    """``text`` with every control character, bidirectional override and lone surrogate shown as
    an escape (``\\x1b``, ``\\n``, ``\\u202e``; a byte of a non-UTF-8 file name as ``\\xff``),
    and each backslash doubled (``\\\\``), so no two texts are shown the same: what every
    human-readable output shows of text that came from outside. ``keep``: characters left as
    they are (the caller escapes them its own way)."""
    if not keep:
        return _INVISIBLE.sub(_escape, str(text))
    return _INVISIBLE.sub(lambda m: m.group() if m.group() in keep else _escape(m), str(text))


def visible_answer(text: str) -> str:
    """An answer shown on a terminal: escape sequences shown, not obeyed; lines kept."""
    return _INVISIBLE_IN_ANSWER.sub(_escape, text)


#: The first characters of a CSV cell that a spreadsheet reads as a formula.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV cell that no spreadsheet runs and no terminal obeys: text starting like a formula
    gets a leading ``'`` (OWASP's guard), control characters are escaped as JSON escapes them
    (:func:`vision_cli.names.csv_escape`); numbers, and text that is only a number, are left
    as they are."""
    if not isinstance(value, str):
        return value
    value = names.csv_escape(value)
    if not value.startswith(_FORMULA_START):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


# --------------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------------


class _MarkdownCode(str):
    """A code span made by :func:`md_code`: already Markdown, so a table escapes only its pipes
    (a backslash inside a code span is shown as it is, never read as an escape)."""


def md_cell(text: object) -> str:
    """A Markdown table cell: control characters shown as escapes, backslashes, pipes and the
    characters of HTML (``<``, ``>``, ``&``) escaped; a code span from :func:`md_code` only has
    its pipes escaped (GitHub's tables end a cell at a bare pipe even inside one). Plain cells
    are for the commands' own words and figures: text from outside comes as a code span."""
    if isinstance(text, _MarkdownCode):
        return text.replace("|", "\\|")
    shown = visible(text, keep="\\").replace("\\", "\\\\").replace("|", "\\|")
    return shown.replace("&", "\\&").replace("<", "\\<").replace(">", "\\>")


def md_code(text: object) -> str:
    """``text`` as a Markdown code span that no backtick in it can end (CommonMark: a fence
    longer than any run of backticks inside, padded with spaces when it touches one): how every
    Markdown table shows text from outside (a name, a finding, a model's answer or label, an id
    from the API), which plain or backslash-escaped would still be a live link, image, @mention
    or emphasis on GitHub. Line breaks are shown as ``\\n`` (:func:`visible`): the row stays
    one line. Empty text is an empty cell (an empty span would show its backticks)."""
    shown = visible(text)
    if not shown:
        return _MarkdownCode("")
    longest = run = 0
    for char in shown:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") else ""
    return _MarkdownCode(f"{fence}{pad}{shown}{pad}{fence}")


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# GitHub Actions workflow commands
# --------------------------------------------------------------------------------------------------


def gh_escape_data(text: str) -> str:
    """Escape a workflow command's message, as GitHub's toolkit does."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def gh_escape_property(text: str) -> str:
    """Escape a workflow command's property value (``file=``, ``title=``)."""
    return gh_escape_data(text).replace(":", "%3A").replace(",", "%2C")


#: What an annotation's ``file=`` keeps as it is: GitHub reads it back as the name.
_KEPT_IN_FILE: Final = "\n\r\\"


def gh_annotation(severity: str, message: str, *, file: str | None = None, title: str = "") -> str:
    props = []
    if file is not None:
        # a line break is the workflow command's own escape (%0A), which GitHub reads back, so
        # the annotation lands on a file whose name holds one, and so does a backslash, left
        # single; other controls are shown escaped
        props.append(f"file={gh_escape_property(visible(file, keep=_KEPT_IN_FILE))}")
    if title:
        props.append(f"title={gh_escape_property(visible(title))}")
    prop_text = (" " + ",".join(props)) if props else ""
    lines = visible(message, keep="\r\n")  # GitHub shows %0A as a line break in the message
    return f"::{severity}{prop_text}::{gh_escape_data(lines)}"


#: Annotations of one kind (error, warning, notice) that GitHub shows of a step (and 50 of a
#: job): the later ones are only lines of the step's log, and GitHub does not say so.
GH_ANNOTATIONS_PER_STEP: Final = 10


def gh_overflow(written: Mapping[str, int]) -> str | None:
    """The notice that ends annotations (``written``: how many of each severity) of which
    GitHub shows only the first :data:`GH_ANNOTATIONS_PER_STEP` of a kind: how many are not
    shown, and where every one is. None when none is hidden."""
    cap = GH_ANNOTATIONS_PER_STEP
    hidden = [
        f"{n - cap:,} of the {plural(n, severity)}"
        for severity, n in sorted(written.items())
        if n > cap
    ]
    if not hidden:
        return None
    return gh_annotation(
        "notice",
        f"GitHub shows only the first {cap} error and {cap} warning annotations of a step: "
        f"{' and '.join(hidden)} are not shown as annotations. Every one is in this step's log; "
        "for a list of them all on the job's page, add a step writing --format markdown to "
        '"$GITHUB_STEP_SUMMARY".',
        title="more annotations than GitHub shows",
    )


# --------------------------------------------------------------------------------------------------
# Widths and figures
# --------------------------------------------------------------------------------------------------


def display_width(text: str) -> int:
    """The columns ``text`` takes in a terminal: 2 for a wide character (CJK, most emoji), 0 for
    a combining mark or a zero-width one, 1 otherwise (what ``len`` gets wrong)."""
    import unicodedata  # lazy: start-up, only a table with non-ASCII text needs it

    if text.isascii():
        return len(text)
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def pad(
    text: str, width: int, *, right: bool = False, measure: Callable[[str], int] = display_width
) -> str:
    """``text`` padded with spaces to ``width`` display columns (see :func:`display_width`;
    ``measure=len`` counts characters instead)."""
    fill = " " * max(0, width - measure(text))
    return fill + text if right else text + fill


def money(amount: float) -> str:
    return units.format_usd(amount)


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def n_images(count: int) -> str:
    """``1 image``, ``2 images``, ``1,000 images``."""
    return f"{count:,} image" + ("" if count == 1 else "s")
