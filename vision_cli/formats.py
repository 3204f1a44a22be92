"""Output formats, kept apart from :mod:`render` so that declaring options costs no imports."""

from __future__ import annotations

from enum import StrEnum


class Format(StrEnum):
    """Every output format (``inspect`` offers them all; other commands a subset)."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    github = "github"
    markdown = "markdown"
    html = "html"


class ReportFormat(StrEnum):
    """The formats of ``estimate`` and ``resize``."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    markdown = "markdown"


class LocateFormat(StrEnum):
    """The formats of ``locate`` (``jsonl`` and ``csv``: one box a line)."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class ResultsFormat(StrEnum):
    """The exports of ``results`` (one row per image)."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    markdown = "markdown"


class ModelsFormat(StrEnum):
    """The formats of ``models``."""

    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


# The other choice sets of the command line, each declared once: the options offer these, and the
# cores take them as they are (a StrEnum member equals its value: records and JSON are unchanged).


class ResizePolicy(StrEnum):
    """``--policy`` of ``ask``, ``compare`` and ``locate``: the size an image is fitted to."""

    native = "native"
    recommended = "recommended"


class Source(StrEnum):
    """``--source`` of ``ask`` and ``compare``: how an image is sent."""

    auto = "auto"
    base64 = "base64"
    url = "url"
    file = "file"


class Target(StrEnum):
    """``--to`` of ``resize``: the output format."""

    auto = "auto"
    jpeg = "jpeg"
    png = "png"
    webp = "webp"


class Frame(StrEnum):
    """``--frame`` of ``locate``: upright (as shown) or stored (the file's own pixel grid)."""

    upright = "upright"
    stored = "stored"
