"""The core of ``vision-cli results``: what a results file of ``ask --each``, ``ask --batch`` or
``locate`` holds, image by image, and in total. No output of its own.

A results file is append-only: an image asked again (a failure retried on resume, ``--rerun``)
has several lines. One row per image, model and prompt is kept as resuming sees it
(:func:`vision_cli.bulk.records.latest`: the last answer, else the last failure); the other lines
are ``skipped``. Tokens and cost add up every line, since every line that was answered was paid for.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from vision_cli.bulk import records as bulk_records

#: How many of the slowest and of the most expensive images the summary names.
TOP: Final = 5
#: The columns of every export row, before ``text`` and the answer's own fields.
COLUMNS: Final = (
    "path",
    "sha256",
    "model",
    "prompt_sha256",
    "status",
    "error_type",
    "error",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "seconds",
)


@dataclass(frozen=True)
class ResultsRow:
    """One image as the file has it last."""

    record: Mapping[str, Any]

    @property
    def path(self) -> str:
        return str(self.record["path"])

    @property
    def ok(self) -> bool:
        return self.record.get("error") is None

    @property
    def error_type(self) -> str | None:
        error = self.record.get("error")
        return None if error is None else str(error.get("type") or "error")

    def cells(self) -> dict[str, Any]:
        """The fixed columns of :data:`COLUMNS`."""
        r = self.record
        usage = r.get("usage") or {}
        error = r.get("error") or {}
        return {
            "path": self.path,
            "sha256": r.get("sha256"),
            "model": r.get("model"),
            "prompt_sha256": r.get("prompt_sha256"),
            "status": "answered" if self.ok else "failed",
            "error_type": self.error_type,
            "error": error.get("message"),
            "input_tokens": usage.get("input_tokens"),
            "output_tokens": usage.get("output_tokens"),
            "cost_usd": r.get("cost_usd"),
            "seconds": r.get("seconds"),
        }


#: Names an answer's field cannot take as a column: the fixed columns, ``text`` and the CSV's
#: ``path_bytes``. A field named like one gets ``data.`` before it.
RESERVED: Final = frozenset((*COLUMNS, "text", "path_bytes"))

FieldPath = tuple[str, ...]


def leaves(data: Any, prefix: FieldPath = ()) -> list[tuple[FieldPath, Any]]:
    """A structured answer's values with the names that lead to each (nested objects are walked,
    lists stay whole); a value that is not an object is the one field ``data``."""
    if not isinstance(data, Mapping):
        return [(prefix or ("data",), data)]
    found: list[tuple[FieldPath, Any]] = []
    for name, value in data.items():
        path = (*prefix, str(name))
        if isinstance(value, Mapping) and value:
            found.extend(leaves(value, path))
        else:
            found.append((path, value))
    return found


@dataclass
class ResultsReport:
    """The whole file: rows, totals and the notable images."""

    rows: list[ResultsRow] = field(default_factory=list)
    #: Lines that are results but not the row of their image (earlier attempts).
    skipped: int = 0
    #: Lines that are not results at all.
    ignored: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    #: Per model (as the lines name it): images and dollars.
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Images in ``--batch`` batches not collected yet (from the state file beside the results).
    pending: int = 0

    @property
    def answered(self) -> int:
        return sum(row.ok for row in self.rows)

    @property
    def failed_by_type(self) -> dict[str, int]:
        counts = Counter(row.error_type for row in self.rows if not row.ok)
        return {str(k): v for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))}

    def slowest(self, top: int = TOP) -> list[ResultsRow]:
        timed = [row for row in self.rows if isinstance(row.record.get("seconds"), int | float)]
        return sorted(timed, key=lambda row: -float(row.record["seconds"]))[:top]

    def most_expensive(self, top: int = TOP) -> list[ResultsRow]:
        paid = [row for row in self.rows if float(row.record.get("cost_usd") or 0) > 0]
        return sorted(paid, key=lambda row: -float(row.record["cost_usd"]))[:top]

    def data_columns(self) -> dict[FieldPath, str]:
        """The column of each field of the structured answers, in the order they first appear:
        nested names joined with dots (``vendor.name``), ``data.`` before a name in
        :data:`RESERVED`, and ``#2``, ``#3`` ... after a name that two fields would share
        (``{"a.b": 1, "a": {"b": 2}}``), so no value is lost."""
        columns: dict[FieldPath, str] = {}
        used: set[str] = set()
        for row in self.rows:
            data = row.record.get("data")
            for path, _ in leaves(data) if data is not None else ():
                if path in columns:
                    continue
                name = ".".join(path)
                name = f"data.{name}" if name in RESERVED else name
                unique, n = name, 2
                while unique in used:
                    unique, n = f"{name}#{n}", n + 1
                columns[path] = unique
                used.add(unique)
        return columns

    def has_text(self) -> bool:
        """Whether a row without structured data holds an answer's text (a plain answer, or one
        that did not match its schema)."""
        return any(
            row.record.get("data") is None and row.record.get("text") is not None
            for row in self.rows
        )

    def export_rows(self) -> tuple[list[str], list[dict[str, Any]]]:
        """The header and one row per image: the fixed columns, ``text`` when any row without
        structured data has one, then the structured answers' fields."""
        columns = self.data_columns()
        text = ["text"] if self.has_text() else []
        rows = []
        for row in self.rows:
            cells = row.cells()
            data = row.record.get("data")
            if text:
                cells["text"] = row.record.get("text") if data is None else None
            if data is not None:
                cells.update({columns[path]: value for path, value in leaves(data)})
            rows.append(cells)
        return [*COLUMNS, *text, *columns.values()], rows

    def summary(self, prices_date: str) -> dict[str, Any]:
        """The ``summary`` of ``--format json``."""
        return {
            "images": len(self.rows),
            "answered": self.answered,
            "failed": len(self.rows) - self.answered,
            "failed_by_type": self.failed_by_type,
            "skipped": self.skipped,
            "ignored": self.ignored,
            "pending": self.pending,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost_usd, 10),
            "models": self.models,
            "prices_date": prices_date,
            "slowest": [{"path": r.path, "seconds": r.record["seconds"]} for r in self.slowest()],
            "most_expensive": [
                {"path": r.path, "cost_usd": r.record["cost_usd"]} for r in self.most_expensive()
            ],
        }


def summarise(
    records: Sequence[Mapping[str, Any]],
    ignored: int = 0,
    waiting: Collection[bulk_records.ImageKey] = frozenset(),
) -> ResultsReport:
    """The report of a file's results lines (``ignored``: its other lines). ``waiting``: the
    images (:func:`.records.image_key`) in batches not collected yet; one whose last line is a
    failure was submitted again, so it is pending, not failed, and that line an earlier
    attempt (skipped)."""
    report = ResultsReport(ignored=ignored)
    kept = {
        key: r
        for key, r in bulk_records.latest(records).items()
        if r.get("error") is None or key not in waiting
    }
    report.rows = [ResultsRow(r) for r in kept.values()]
    report.skipped = len(records) - len(kept)
    for r in records:
        usage = r.get("usage") or {}
        report.input_tokens += int(usage.get("input_tokens") or 0)
        report.output_tokens += int(usage.get("output_tokens") or 0)
        cost = float(r.get("cost_usd") or 0)
        report.cost_usd += cost
        model = report.models.setdefault(str(r.get("model")), {"images": 0, "cost_usd": 0.0})
        model["cost_usd"] = round(model["cost_usd"] + cost, 10)
    for row in report.rows:
        report.models[str(row.record.get("model"))]["images"] += 1
    return report


def failed_paths(report: ResultsReport) -> list[str]:
    """The paths of the images whose last line is a failure, once each, in file order."""
    return list(dict.fromkeys(row.path for row in report.rows if not row.ok))
