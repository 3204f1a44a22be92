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
