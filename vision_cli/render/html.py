"""``inspect --format html``: one self-contained HTML file for a CI artifact.

Thumbnails are embedded as data URIs, styles and the small sorting script are inline, so the file
opens anywhere with nothing else beside it. Every value from a file name or a finding is escaped.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from vision_cli import policy
from vision_cli.inspecting import InspectSummary, Record
from vision_cli.judging import Code
from vision_cli.render.inspect import size_text
from vision_cli.render.text import visible

_RANK = {"error": 0, "warning": 1, "ok": 2}

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem; color: #1f2328; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
.meta { color: #59636e; margin-bottom: 1rem; }
.totals { display: flex; gap: .75rem; margin: 1rem 0; flex-wrap: wrap; }
.totals div { border: 1px solid #d1d9e0; border-radius: 6px; padding: .4rem .8rem; }
.totals b { font-size: 1.2rem; display: block; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #d1d9e0; padding: .4rem .6rem; text-align: left; }
td { vertical-align: top; }
th { background: #f6f8fa; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; }
th button { cursor: pointer; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 160px; max-height: 120px; display: block; }
.status { font-weight: 600; border-radius: 1rem; padding: .1rem .6rem; white-space: nowrap; }
.ok { background: #dafbe1; color: #116329; }
.warning { background: #fff8c5; color: #7d4e00; }
.error { background: #ffebe9; color: #a40e26; }
ul { margin: 0; padding-left: 1.1rem; }
code { font-size: .9em; }
"""

_SCRIPT = """
document.querySelectorAll("th button[data-key]").forEach(function (button) {
  button.addEventListener("click", function () {
    var key = button.dataset.key;
    var body = document.querySelector("tbody");
    var rows = Array.prototype.slice.call(body.rows);
    var down = button.dataset.dir !== "asc";
    rows.sort(function (a, b) {
      var x = a.dataset[key], y = b.dataset[key];
      var nx = Number(x), ny = Number(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return down ? c : -c;
    });
    button.dataset.dir = down ? "asc" : "desc";
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""


@dataclass(frozen=True)
class HtmlRow:
    record: Record
    index: int
    thumbnail: str | None  # a data: URI, or None when there is nothing safe to show


def _e(text: object) -> str:
    """Escaped for HTML, control characters and bytes of non-UTF-8 names shown as escapes."""
    return html.escape(visible(text), quote=True)


def _row(row: HtmlRow) -> str:
    rec = row.record
    thumb = (
        f'<img src="{row.thumbnail}" alt="thumbnail of {_e(rec.path)}">' if row.thumbnail else "–"
    )
    findings = "".join(
        f'<li><span class="{f.severity.value}">{_e(f.code.value)}</span>: {_e(f.message)}</li>'
        for f in rec.findings
    )
    return (
        f'<tr data-status="{_RANK[rec.status]}" data-index="{row.index}" '
        f'data-path="{_e(rec.path)}" data-tokens="{rec.tokens or 0}">'
        f"<td>{thumb}</td>"
        f'<td><span class="status {rec.status}">{rec.status}</span></td>'
        f"<td><code>{_e(rec.path)}</code></td>"
        f"<td>{_e(rec.format or '–')}</td>"
        f"<td>{size_text(rec, by='×', unknown='–')}</td>"
        f'<td class="num">{f"{rec.tokens:,}" if rec.tokens is not None else "–"}</td>'
        f"<td><ul>{findings}</ul></td></tr>"
    )


THUMBNAIL_EDGE = 160


def thumbnail_uri(data: bytes) -> str | None:
    """A small upright JPEG of the image as a data: URI; None when it cannot be made safely."""
    from vision_cli.imaging import decode, transform  # lazy: start-up, it imports Pillow

    try:
        thumb = transform.prepare(
            data,
            size_policy=policy.SizePolicy(THUMBNAIL_EDGE),
            to=decode.Target.jpeg,
            reencode=True,
        )
    except decode.TransformError:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(thumb.data).decode("ascii")


class HtmlReport:
    """Collects rows (with thumbnails) as ``inspect`` goes, and writes the page at the end."""

    def __init__(
        self,
        stream: TextIO,
        *,
        model: str,
        quiet: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``clock``: the run's (UTC), which dates the report; the system's when None."""
        self.stream = stream
        self.clock = clock or (lambda: datetime.now(UTC))
        self.model = model
        self.quiet = quiet
        self.rows: list[HtmlRow] = []

    def add(
        self, rec: Record, item: object = None, data: bytes | None = None, line: str | None = None
    ) -> None:
        if self.quiet and not rec.findings:
            return
        self.rows.append(HtmlRow(rec, len(self.rows), self._thumbnail(rec, item, data)))

    @staticmethod
    def _thumbnail(rec: Record, item: object, data: bytes | None) -> str | None:
        if rec.width is None or Code.UNREADABLE in {f.code for f in rec.findings}:
            return None
        if data is None:
            path = getattr(item, "path", None)
            if path is None:
                return None
            try:
                data = path.read_bytes()
            except OSError:
                return None
        return thumbnail_uri(data)

    def finish(self, summary: InspectSummary) -> None:
        when = self.clock().strftime("%Y-%m-%d %H:%M UTC")
        write(self.rows, summary, self.model, self.stream, when)
        self.stream.flush()


def write(
    rows: Sequence[HtmlRow], summary: InspectSummary, model: str, stream: TextIO, when: str
) -> None:
    s = summary
    request = "".join(
        f'<li><span class="error">{_e(f.code.value)}</span>: {_e(f.message)}</li>'
        for f in s.request_findings
    )
    totals = "".join(
        f'<div class="{cls}"><b>{value:,}</b>{label}</div>'
        for cls, value, label in (
            ("", s.count, "images"),
            ("ok", s.ok, "ok"),
            ("warning", s.warning, "warning"),
            ("error", s.error, "error"),
            ("", s.tokens, "tokens"),
        )
    )
    stream.write(
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>vision-cli inspect: {s.error:,} error, {s.warning:,} warning</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>vision-cli inspect</h1>"
        f'<div class="meta">model <code>{_e(model)}</code> · {_e(when)}</div>'
        f'<div class="totals">{totals}</div>'
        + (f'<ul class="request">{request}</ul>' if request else "")
        + "<table><thead><tr><th>image</th>"
        '<th><button data-key="status" title="sort by status">status</button></th>'
        '<th><button data-key="path" title="sort by path">path</button></th>'
        "<th>format</th><th>size</th>"
        '<th><button data-key="tokens" title="sort by tokens">tokens</button></th>'
        "<th>findings</th></tr></thead><tbody>"
        + "".join(_row(r) for r in rows)
        + f"</tbody></table><script>{_SCRIPT}</script></body></html>\n"
    )
