"""``vision-cli results``: summaries and exports of results files written by real runs against
the fake API (failures, structured answers, several models, retried lines)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MakeImage, Run, sparse_file
from tests.fakeapi import FakeClaudeAPI
from vision_cli import catalog, limits

Json = dict[str, Any]
SCHEMA = "total: number, vendor.name, vendor.city, tags: string[]"


def folder_of(make_image: MakeImage, tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "imgs"
    for i in range(count):
        make_image(f"{i}.png", (30 + i, 20), folder=folder)
    return folder


@pytest.fixture
def mixed(run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path) -> Path:
    """A file with 3 images asked of one model (one mismatch then retried, one rate-limited and
    never retried), and the same 3 asked of another model."""
    folder = folder_of(make_image, tmp_path, 3)
    out = tmp_path / "r.jsonl"
    api.structured = lambda _s, images: {
        "total": float(images[0].width or 0),
        "vendor": {"name": "Acme", "city": "Paris"},
        "tags": ["a", "b"],
    }
    api.mismatch_next()
    args = ["ask", folder, "--each", "-j", "1", "--schema", SCHEMA, "-o", out]
    assert run(*args, "-m", "claude-sonnet-4-6").exit_code == 1
    assert run(*args, "-m", "claude-sonnet-4-6").exit_code == 0  # the mismatch, retried
    api.fail_next(400, message="Could not process image")
    assert run(*args, "-m", "claude-opus-4-7").exit_code == 1
    with out.open("a") as fh:
        fh.write('{"not": "a result"}\n')
    return out


def test_the_summary_counts_images_failures_skips_tokens_and_cost(run: Run, mixed: Path) -> None:
    result = run("results", mixed)
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "6 images, 5 answered, 1 failed (1 invalid_request_error)" in text
    assert "1 skipped" in text and "1 not results" in text
    assert "claude-sonnet-4-6" in text and "claude-opus-4-7" in text
    assert f"prices of {catalog.load().date}" in text
    assert "slowest: " in text and "most expensive: " in text


def test_json_has_a_row_per_image_and_the_summary(run: Run, mixed: Path) -> None:
    lines = [json.loads(line) for line in mixed.read_text().splitlines()]
    records = [r for r in lines if "path" in r]
    doc = json.loads(run("results", mixed, "--json").stdout)
    s = doc["summary"]
    assert (s["images"], s["answered"], s["failed"], s["skipped"], s["ignored"]) == (6, 5, 1, 1, 1)
    assert s["failed_by_type"] == {"invalid_request_error": 1}
    # Every line was paid for (the mismatch too): the totals add up all of them.
    assert s["input_tokens"] == sum(r["usage"]["input_tokens"] for r in records if r["usage"])
    assert s["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in records))
    assert sum(m["images"] for m in s["models"].values()) == 6
    rows = doc["images"]
    # The notable images are among the rows (an image's earlier attempts do not count).
    assert s["most_expensive"][0]["cost_usd"] == max(r["cost_usd"] for r in rows)
    assert s["slowest"][0]["seconds"] == max(r["seconds"] for r in rows if r["seconds"])
    assert len(rows) == 6
    ok = [r for r in rows if r["status"] == "answered"]
    assert all(r["vendor.name"] == "Acme" and r["tags"] == ["a", "b"] for r in ok)
    assert all(r["total"] == float(30 + int(Path(r["path"]).stem)) for r in ok)


def test_csv_flattens_the_structured_fields_into_columns(run: Run, mixed: Path) -> None:
    result = run("results", mixed, "--format", "csv")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0])[-5:] == ["total", "vendor.name", "vendor.city", "tags", "path_bytes"]
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["error_type"] == "invalid_request_error"
    assert failed[0]["total"] == ""
    assert {r["vendor.city"] for r in rows if r["status"] == "answered"} == {"Paris"}
    assert json.loads(rows[0]["tags"]) == ["a", "b"]


@pytest.mark.parametrize("fmt", ["table", "markdown", "jsonl"])
def test_other_formats_have_one_row_per_image(run: Run, mixed: Path, fmt: str) -> None:
    result = run("results", mixed, "--format", fmt)
    assert result.exit_code == 0
    body = result.stdout.splitlines()
    header = {"table": 1, "markdown": 2, "jsonl": 0}[fmt]
    assert len(body) == 6 + header
    assert "vendor.name" in result.stdout


def test_failed_lists_paths_for_files_from(run: Run, mixed: Path, tmp_path: Path) -> None:
    result = run("results", mixed, "--failed")
    assert result.stdout == str(tmp_path / "imgs" / "0.png") + "\n"
    nul = run("results", mixed, "--failed", "-0")
    assert nul.stdout == str(tmp_path / "imgs" / "0.png") + "\0"


def test_plain_answers_export_their_text(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    run("ask", folder_of(make_image, tmp_path, 2), "--each", "-o", out, "-p", "Hi")
    rows = list(csv.DictReader(io.StringIO(run("results", out, "-f", "csv").stdout)))
    assert [r["text"].startswith("I see 1 image(s)") for r in rows] == [True, True]


def test_batch_and_locate_files_are_read_too(
    run: Run, batch_api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    api = batch_api
    folder = folder_of(make_image, tmp_path, 2)
    batch = tmp_path / "b.jsonl"
    assert run("ask", folder, "--batch", "--schema", "n: integer", "-o", batch).exit_code == 0
    doc = json.loads(run("results", batch, "--json").stdout)
    assert [r["n"] for r in doc["images"]] == [7, 7]
    assert doc["summary"]["slowest"] == []  # batches do not time each request
    located = tmp_path / "l.jsonl"
    api.structured = lambda _s, _i: {"objects": [{"label": "x", "box": [1, 2, 3, 4]}]}
    assert run("locate", folder, "--find", "x", "-o", located).exit_code == 0
    rows = json.loads(run("results", located, "--json").stdout)["images"]
    assert [r["objects"][0]["label"] for r in rows] == ["x", "x"]


def test_unreadable_or_empty_files_are_usage_errors(run: Run, tmp_path: Path) -> None:
    missing = run("results", tmp_path / "nope.jsonl")
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    other = tmp_path / "other.jsonl"
    other.write_text('{"a": 1}\n')
    result = run("results", other)
    assert result.exit_code == 2 and "holds no results" in result.stderr
    assert run("results", other, "-0").exit_code == 2


def test_a_file_that_is_not_a_regular_file_is_refused_before_it_is_read(
    run: Run, not_a_file: Path
) -> None:
    """``results /dev/zero``, a FIFO with no writer, a folder: one usage error, never an endless
    read (MemoryError) or a hang."""
    result = run("results", not_a_file)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith(f"Error: {not_a_file} cannot be a results file (it is ")
    assert "not a regular file): give the --output of a run" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_file_over_the_size_limit_is_refused_with_its_size(run: Run, tmp_path: Path) -> None:
    size = limits.MAX_RESULTS_BYTES + 1
    huge = sparse_file(tmp_path / "huge.jsonl", size)
    result = run("results", huge)
    assert result.exit_code == 2, result.stderr
    assert f"Error: {huge} cannot be a results file (it holds {size:,} bytes" in result.stderr


def test_images_waiting_in_batches_are_pending(
    run: Run, batch_api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    out = tmp_path / "b.jsonl"
    batch_api.batch_polls_until_ended = 1
    folder = folder_of(make_image, tmp_path, 2)
    assert run("ask", folder, "--batch", "--no-wait", "-o", out).exit_code == 0
    assert out.read_text() == ""
    result = run("results", out)
    assert result.exit_code == 0, result.stderr
    assert "0 images" in result.stdout and "pending: 2 images in batches" in result.stdout
    date = catalog.load().date
    assert f"cost: $0.00 (prices of {date})\n" in result.stdout  # no empty list of models
    assert json.loads(run("results", out, "--json").stdout)["summary"]["pending"] == 2
    assert run("ask", folder, "--batch", "-o", out).exit_code == 0  # collected
    assert json.loads(run("results", out, "--json").stdout)["summary"]["pending"] == 0


def test_haiku_55_step_is_in_the_cost_of_locate_lines(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    # A question over 100K input tokens: the whole request at Haiku 5.5's long-context prices
    # ($0.5 / $2.5), in the line written by locate and so in the total results gives.
    api.structured = lambda _s, _i: {"objects": [{"label": "x", "box": [1, 2, 3, 4]}]}
    out = tmp_path / "l.jsonl"
    long = "Find every word. " + "word " * 81_000
    result = run("locate", make_image("a.png"), "-p", long, "-m", "haiku", "-o", out, "-q")
    assert result.exit_code == 0, result.stderr
    (line,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert line["model"] == "claude-haiku-5-5" and line["usage"]["input_tokens"] > 100_000
    want = (line["usage"]["input_tokens"] * 0.5 + line["usage"]["output_tokens"] * 2.5) / 1e6
    assert line["cost_usd"] == pytest.approx(want)
    summary = json.loads(run("results", out, "--json").stdout)["summary"]
    assert summary["cost_usd"] == pytest.approx(want)
    assert summary["models"]["claude-haiku-5-5"] == {"images": 1, "cost_usd": pytest.approx(want)}


def _line(path: str, **fields: Any) -> str:
    doc: dict[str, Any] = {
        "path": path,
        "sha256": "0" * 64,
        "model": "claude-sonnet-5-5",
        "prompt_sha256": "1",
    }
    doc.update({"text": "ok", "error": None, "seconds": 1.5, "cost_usd": 0.002}, **fields)
    return json.dumps(doc) + "\n"


def test_a_line_whose_counts_are_not_numbers_is_not_a_result(run: Run, tmp_path: Path) -> None:
    """``"input_tokens": "x"`` ended the summary with an internal error (exit 70) in every
    format; such a line is counted with the lines that are not results."""
    out = tmp_path / "r.jsonl"
    out.write_text(
        _line("a.png", usage={"input_tokens": 10, "output_tokens": 2})
        + _line("b.png", usage={"input_tokens": "x", "output_tokens": 2})
        + _line("c.png", cost_usd="cheap")
        + _line("d.png", seconds=float("inf"))
    )
    for fmt in ("table", "json", "csv"):
        result = run("results", out, "--format", fmt)
        assert result.exit_code == 0, (fmt, result.stderr)
    summary = json.loads(run("results", out, "--format", "json").stdout)["summary"]
    assert (summary["images"], summary["ignored"], summary["input_tokens"]) == (1, 3, 10)


def test_the_summary_shows_names_and_models_from_the_file_escaped(run: Run, tmp_path: Path) -> None:
    """The slowest and most expensive images, the models and the error types come from the
    file: a terminal escape or a line break in them is shown escaped, never obeyed."""
    out = tmp_path / "r.jsonl"
    evil = "evil\x1b]0;pwned\x07\nline.png"
    out.write_text(
        _line(evil, seconds=9.0, cost_usd=0.5)
        + _line("b.png", model="claude\x1b[31m", text=None, error={"type": "x\x1b[2J"})
    )
    result = run("results", out)
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "evil\\x1b]0;pwned\\x07\\nline.png (9.0 s)" in result.stdout
    assert "claude\\x1b[31m" in result.stdout and "x\\x1b[2J" in result.stdout


def test_nan_or_infinity_in_a_line_written_before_is_exported_as_null(
    run: Run, tmp_path: Path
) -> None:
    line = {
        "path": "a.png",
        "sha256": None,
        "model": "claude-sonnet-4-6",
        "prompt_sha256": "0" * 64,
        "text": "{}",
        "data": {"v": "x", "box": [1, 2, 3, 4]},
        "error": None,
    }
    file = tmp_path / "r.jsonl"
    file.write_text(json.dumps(line).replace('"x"', "NaN").replace("4]", "-Infinity]") + "\n")

    def no_constant(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    for fmt in ("json", "jsonl"):
        result = run("results", file, "--format", fmt)
        assert result.exit_code == 0, result.stderr
        assert "NaN" not in result.stdout and "Infinity" not in result.stdout
    doc = json.loads(run("results", file, "--json").stdout, parse_constant=no_constant)
    assert doc["images"][0]["v"] is None and doc["images"][0]["box"] == [1, 2, 3, None]


@pytest.mark.parametrize("fmt", [None, "csv", "json", "markdown"])
def test_a_line_whose_error_is_not_an_error_object_is_not_a_result(
    run: Run, tmp_path: Path, fmt: str | None
) -> None:
    def line(path: str, error: Any) -> str:
        record = {"path": path, "sha256": None, "model": "claude-sonnet-4-6"}
        record |= {"prompt_sha256": "0" * 64, "text": "fine", "error": error}
        return json.dumps(record) + "\n"

    bad: list[Any] = ["boom", [1], 0, False, {"type": ["x"]}, {"message": 3}]
    file = tmp_path / "r.jsonl"
    damaged = "".join(line(f"{i}.png", e) for i, e in enumerate(bad))
    file.write_text(line("good.png", None) + damaged)
    result = run("results", file, *(["--format", fmt] if fmt else []))
    assert result.exit_code == 0, result.stderr
    assert "good.png" in result.stdout if fmt else "6 not results" in result.stdout
    assert "0.png" not in result.stdout
    failed = run("results", file, "--failed")
    assert failed.exit_code == 0 and failed.stdout == ""


def test_plain_and_structured_answers_keep_their_text_and_prompt_in_one_file(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    # One image asked three ways into one file: a caption, a --schema answer, locate's boxes.
    image = make_image("a.png", (40, 30))
    out = tmp_path / "r.jsonl"
    assert run("ask", image, "--each", "-p", "caption", "-o", out).exit_code == 0
    api.structured = lambda schema, _i: (
        {"objects": [{"label": "x", "box": [1, 2, 3, 4]}]}
        if "objects" in schema["properties"]
        else {"n": 7}
    )
    assert run("ask", image, "--each", "--schema", "n: integer", "-o", out).exit_code == 0
    assert run("locate", image, "--find", "x", "-o", out).exit_code == 0
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    for fmt in ("csv", "json"):
        result = run("results", out, "--format", fmt)
        assert result.exit_code == 0, result.stderr
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(result.stdout)))
        else:
            rows = json.loads(result.stdout)["images"]
        assert [r["text"] or None for r in rows] == [lines[0]["text"], None, None]
        assert [r["prompt_sha256"] for r in rows] == [x["prompt_sha256"] for x in lines]
        assert str(rows[1]["n"]) == "7" and rows[2]["objects"]


def test_a_field_named_like_a_column_or_two_fields_one_name_lose_nothing(
    run: Run, tmp_path: Path
) -> None:
    record = {"path": "a.png", "sha256": None, "model": "claude-sonnet-4-6"}
    record |= {"prompt_sha256": "0" * 64, "text": "{}", "error": None}
    data = {"path_bytes": "mine", "a.b": 1, "a": {"b": 2}, "text": "t"}
    file = tmp_path / "r.jsonl"
    file.write_text(json.dumps(record | {"data": data}) + "\n")
    result = run("results", file, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert row["data.path_bytes"] == "mine" and row["path_bytes"] == ""
    assert (row["a.b"], row["a.b#2"], row["data.text"]) == ("1", "2", "t")
    (doc,) = json.loads(run("results", file, "--json").stdout)["images"]
    assert (doc["data.path_bytes"], doc["a.b"], doc["a.b#2"]) == ("mine", 1, 2)


#: What a model might answer, or name a box, when an image asks it to: live in plain Markdown.
LIVE = (
    "[click](https://evil.example) ![x](https://evil.example/t.png) @someone #123 *bold* "
    "https://evil.example/a <b>html</b> `` a ` b\nnext | line"
)


def test_answers_and_labels_in_markdown_are_never_live(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    """A Markdown export (a job summary, a pull-request comment) shows what a model answered
    and how it named boxes, which an image can steer: rendered, every text is in a code span on
    its own row (a line break shown as \\n), never a link, an image, a mention, emphasis or HTML."""
    from markdown_it import MarkdownIt  # rich's own Markdown parser

    folder = folder_of(make_image, tmp_path, 1)
    answers, boxes, written = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "w.jsonl"
    api.reply_text = LIVE
    assert run("ask", folder, "--each", "-p", "Hi", "-o", answers).exit_code == 0
    api.structured = lambda _s, _i: {"objects": [{"label": LIVE, "box": [1, 2, 3, 4]}]}
    assert run("locate", folder, "--find", "it", "-o", boxes).exit_code == 0
    written.write_text(_line("<img src=x>.png", text="<b>bold</b> & more"))
    for file in (answers, boxes, written):
        result = run("results", file, "--format", "markdown")
        assert result.exit_code == 0, result.stderr
        assert len(result.stdout.splitlines()) == 3  # the header, its rule and the one row
        html = MarkdownIt("commonmark").enable("table").render(result.stdout)
        assert "<a " not in html and "<img" not in html and "<em>" not in html
        assert "<b>" not in html
        cells = re.findall(r"<td>(.*?)</td>", html)
        for text in cells:  # text in a code span; numbers as they are
            assert re.fullmatch(r"<code>[^<]*</code>|[0-9.]*", text), text
        assert "[click](https://evil.example)" in html or "&lt;b&gt;bold" in html


def test_a_negative_cost_is_not_a_result(run: Run, tmp_path: Path) -> None:
    file = tmp_path / "r.jsonl"
    file.write_text(_line("a.png", cost_usd=0.25) + _line("b.png", cost_usd=-5))
    doc = json.loads(run("results", file, "--json").stdout)
    assert doc["summary"]["cost_usd"] == 0.25 and doc["summary"]["ignored"] == 1


def test_costs_no_request_can_have_are_not_results(run: Run, tmp_path: Path) -> None:
    """Two lines of ``cost_usd: 1e308`` (each finite) added up to "$inf", and ``--json`` wrote
    ``Infinity``, which is no JSON."""
    file = tmp_path / "r.jsonl"
    lines = [_line("a.png", cost_usd=0.25), *(_line(f"{n}.png", cost_usd=1e308) for n in "bc")]
    file.write_text("".join(lines))
    result = run("results", file, "--json")
    doc = json.loads(result.stdout, parse_constant=lambda name: pytest.fail(name))
    assert doc["summary"]["cost_usd"] == 0.25 and doc["summary"]["ignored"] == 2
    assert "$inf" not in run("results", file).stdout


def test_one_line_that_is_not_a_result_is_said_in_the_singular(run: Run, tmp_path: Path) -> None:
    file = tmp_path / "r.jsonl"
    file.write_text('{"a": 1}\n')
    result = run("results", file)
    assert result.exit_code == 2 and "its line is not a vision-cli result" in result.stderr


def test_a_damaged_batch_state_file_is_not_resume_advice_here(run: Run, tmp_path: Path) -> None:
    file = tmp_path / "r.jsonl"
    file.write_text(_line("a.png"))
    (tmp_path / "r.jsonl.batches.json").write_text('{"batches": 3}')
    result = run("results", file)
    assert result.exit_code == 0, result.stderr
    assert "pending batches are not counted" in result.stderr
    assert "submitted again" not in result.stderr and "move it away" not in result.stderr


def test_an_image_submitted_again_and_waiting_in_a_batch_is_pending_not_failed(
    run: Run, batch_api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    """An image whose batch result was an error, submitted again and not collected yet, is
    pending: not failed in the summary, and not in ``--failed`` (whose list, piped into
    ``--files-from - --each``, would pay for it again)."""
    folder = folder_of(make_image, tmp_path, 2)
    big = make_image("big.png", (300, 300), folder=folder)
    out = tmp_path / "b.jsonl"
    batch_api.max_image_bytes = 1000  # the fake refuses the big image inside the batch
    assert run("ask", folder, "--batch", "-o", out).exit_code == 1
    assert run("results", out, "--failed").stdout == f"{big}\n"

    batch_api.max_image_bytes = 5 * 1024 * 1024
    batch_api.batch_polls_until_ended = 10**6  # the retry stays in its batch
    assert run("ask", folder, "--batch", "--no-wait", "-o", out).exit_code == 0
    result = run("results", out)
    assert result.exit_code == 0, result.stderr
    assert f"{out}: 2 images, 2 answered, 0 failed\n" in result.stdout
    assert "pending: 1 image in batches" in result.stdout
    assert "1 skipped" in result.stdout  # the error line: an earlier attempt
    summary = json.loads(run("results", out, "--json").stdout)["summary"]
    assert summary["failed"] == 0 and summary["pending"] == 1 and summary["images"] == 2
    assert run("results", out, "--failed").stdout == ""
    rows = json.loads(run("results", out, "--json").stdout)["images"]
    assert sorted(r["status"] for r in rows) == ["answered", "answered"]
