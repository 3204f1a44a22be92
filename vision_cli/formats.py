"""Output formats, kept apart from :mod:`render` so that declaring options costs no imports."""

from __future__ import annotations

from enum import StrEnum


class Format(StrEnum):
    """Every output format; each command offers its own subset (below)."""

    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    github = "github"
    markdown = "markdown"
    html = "html"


class InspectFormat(StrEnum):
    """The formats of ``inspect``."""

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
