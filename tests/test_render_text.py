"""vision_cli.render.text: escapes for GitHub annotations and Markdown that are easy to get subtly
wrong."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vision_cli import names
from vision_cli.render.text import (
    gh_annotation,
    gh_escape_data,
    gh_escape_property,
    md_cell,
    md_code,
    visible,
    visible_answer,
)


def test_github_annotation_escaping() -> None:
    line = gh_annotation("error", "50% done\r\nnext line", file="dir,x/a:b%.png", title="too-small")
    assert line == "::error file=dir%2Cx/a%3Ab%25.png,title=too-small::50%25 done%0D%0Anext line"


def test_an_annotations_file_name_with_a_line_break_reads_back_as_the_name() -> None:
    """A name with a line break was written ``new\\nline.png`` (shown escaped), which GitHub
    reads as a name with a backslash: the annotation missed its file. The workflow command's own
    ``%0A`` reads back as the name; an escape sequence is still shown, never obeyed."""
    line = gh_annotation("error", "bad", file="new\nline\x1b[2J.png")
    prop = line.split(" ", 1)[1].split("::", 1)[0]
    assert prop == "file=new%0Aline\\x1b[2J.png"
    assert unescape(prop.removeprefix("file=")) == "new\nline\\x1b[2J.png"
    assert "\n" not in line and "\x1b" not in line


def unescape(text: str) -> str:
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(code, char)
    return text


@given(st.text())
def test_annotation_message_round_trips_and_stays_one_line(message: str) -> None:
    escaped = gh_escape_data(message)
    assert "\n" not in escaped and "\r" not in escaped
    assert unescape(escaped) == message


@given(st.text())
def test_annotation_property_has_no_separators(name: str) -> None:
    escaped = gh_escape_property(name)
    assert "," not in escaped and ":" not in escaped and "\n" not in escaped
    assert unescape(escaped) == name


@given(st.text())
def test_markdown_cell_never_breaks_a_row(text: str) -> None:
    cell = md_cell(text)
    assert "\n" not in cell and "\r" not in cell
    assert "|" not in cell.replace("\\|", "")


@given(st.text())
def test_a_code_span_in_a_table_keeps_its_backslashes(text: str) -> None:
    """A name in a table is a code span: only its pipes are escaped (GitHub's tables read ``\\|``
    back as ``|`` even there); a backslash, inside a code span, shows as it is."""
    cell = md_cell(md_code(text))
    assert "\n" not in cell and "\r" not in cell
    assert "|" not in cell.replace("\\|", "")
    assert cell.replace("\\|", "|") == md_code(text)


def test_a_name_that_is_not_utf8_shows_one_backslash_in_a_table() -> None:
    assert md_cell(md_code("bad\udcffname.png")) == "`bad\\xffname.png`"
    assert md_cell("C:\\path") == "C:\\\\path"  # plain text: the backslash is escaped


#: An escape that :func:`visible` writes (a doubled backslash, a line break, a byte, a character).
_AN_ESCAPE = re.compile(r"\\(\\|n|r|t|x[0-9a-f]{2}|u[0-9a-f]{4})")


def _read_back(shown: str) -> str:
    """The text :func:`visible` was given, read back from what it showed."""

    def one(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape in ("\\", "n", "r", "t"):
            return {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}[escape]
        code = int(escape[1:], 16)
        return chr(0xDC00 + code if escape[0] == "x" and code >= 0x80 else code)

    return _AN_ESCAPE.sub(one, shown)


@given(st.text(alphabet=st.sampled_from(["a", "n", "x", "8", "5", "\\", "\n", "\x85", "\udc85"])))
def test_no_two_texts_are_shown_alike(text: str) -> None:
    """``a\\nb.png`` (a backslash and an ``n``) was shown as a name with a line break is, and a
    C1 control (U+0085) as a byte that is not UTF-8 (``\\x85``): two files looked the same in
    every table. What is shown reads back as the one text it came from."""
    assert _read_back(visible(text)) == text
    assert visible("a\\nb.png") == "a\\\\nb.png" != visible("a\nb.png")


_NAMES = st.text(alphabet=st.sampled_from(["a", "é", " ", "\udcff", "\udc80", '"', "\\"]))
_DOCS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _NAMES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_NAMES, inner, max_size=3),
    max_leaves=8,
)


@given(_DOCS, st.sampled_from([None, 2]))
def test_names_dumps_shortcut_writes_what_the_full_path_writes(
    doc: object, indent: int | None
) -> None:
    """JSON with every name UTF-8 skips the scan for names that are not; the output is the same
    as the scan's, whichever names the document holds."""
    full = names.escape(json.dumps(names.with_bytes(doc), ensure_ascii=False, indent=indent))
    assert names.dumps(doc, indent=indent) == full


def test_the_line_encoder_without_json_s_c_encoder_is_json_s_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another Python (no C encoder, or one that takes other arguments) gets ``json``'s encoder,
    and the same line."""
    doc = {"path": "a\udcff.png", "n": [1, 2.5, None, True]}
    made = names._line_encoder()
    assert made is not names._ENCODER.encode  # this Python has json's C encoder
    assert made(doc) == names._ENCODER.encode(doc) == json.dumps(doc, ensure_ascii=False)

    def other(*args: object) -> None:
        raise TypeError("c_make_encoder() takes 10 arguments")

    for stand_in in (None, other):
        monkeypatch.setattr(json.encoder, "c_make_encoder", stand_in)
        assert names._line_encoder() == names._ENCODER.encode


def _shown(code: int, *, answer: bool = False) -> str:
    """What a person is shown for one code point, the rule written out plainly."""
    control = code < 0x20 or 0x7F <= code < 0xA0
    bidi = 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069 or code in (0x061C, 0x200E, 0x200F)
    separators_and_blanks = code in (0x2028, 0x2029, 0x200B, 0xFEFF)
    hidden = bidi or separators_and_blanks or 0xD800 <= code <= 0xDFFF
    if answer and (chr(code) in "\n\t" or not control):
        return chr(code)
    if code == ord("\\"):
        return "\\" if answer else "\\\\"
    if not (control or hidden):
        return chr(code)
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(chr(code))
    if named:
        return named
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"


def test_every_code_point_is_shown_raw_or_escaped_by_the_rule() -> None:
    every = range(0x110000)
    text = "".join(map(chr, every))
    assert visible(text) == "".join(_shown(c) for c in every)
    assert visible_answer(text) == "".join(_shown(c, answer=True) for c in every)
    kept = "|\n\u202e"
    assert visible(text, keep=kept) == "".join(
        chr(c) if chr(c) in kept else _shown(c) for c in every
    )
