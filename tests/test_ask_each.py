"""``vision-cli ask --each``: one request per image, answers appended to a JSONL file, resumable,
against the local fake Claude API (a real HTTP server on 127.0.0.1).

No test measures time: a run is frozen mid-way with the fake's ``hold`` (answers wait until
``release``), and subprocess tests wait for what the run writes, not for a clock.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import pytest
from typer.testing import Result

from tests.conftest import API_KEY, MakeImage, Run, encode, picture, sparse_file
from tests.fakeapi import FakeClaudeAPI, RecordedRequest
from vision_cli import limits
from vision_cli.bulk import plan
from vision_cli.bulk.each import STOP_AFTER_FAILURES
from vision_cli.bulk.limiter import Abandoned, Limiter
from vision_cli.bulk.records import FIELDS, prompt_sha256

KEY = API_KEY


@pytest.fixture(autouse=True)
def standard_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests were written for a standard-tier model at $3/$15 (the old default, now
    retired): they name one through the environment. The default itself is tested in
    test_models.py."""
    monkeypatch.setenv("VISION_CLI_MODEL", "claude-sonnet-4-6")


PROMPT = "What colour is it?"
Json = dict[str, Any]


def make_folder(make_image: MakeImage, tmp_path: Path, count: int, name: str = "imgs") -> Path:
    """``count`` tiny PNGs, each of its own size, so the fake's answer names the image."""
    folder = tmp_path / name
    for i in range(count):
        make_image(f"{i:03d}.png", (8 + i % 25, 8 + i // 25), folder=folder)
    return folder


def size_of(path: str) -> str:
    """``WxH`` of one of :func:`make_folder`'s images, from its name."""
    i = int(Path(path).stem)
    return f"{8 + i % 25}x{8 + i // 25}"


def lines(path: Path) -> list[Json]:
    """Every line of the results file, each of which must be a JSON object."""
    text = path.read_text("utf-8")
    assert text == "" or text.endswith("\n"), "the file must end with a whole line"
    return [json.loads(line) for line in text.splitlines()]


def answered_sizes(fake: FakeClaudeAPI, requests: list[RecordedRequest] | None = None) -> list[str]:
    """``WxH`` of the image in each answered ``POST /v1/messages``."""
    seen = fake.messages_requests() if requests is None else requests
    return [f"{r.images[0].width}x{r.images[0].height}" for r in seen if r.status == 200]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error: ")]


# --------------------------------------------------------------------------------------------------
# The run and the file
# --------------------------------------------------------------------------------------------------


def test_200_images_with_8_jobs_are_each_answered_exactly_once(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 200)
    out = tmp_path / "results.jsonl"
    result = run("ask", folder, "--each", "-j", "8", "-p", PROMPT, "-o", out)
    assert result.exit_code == 0, result.stderr
    records = lines(out)
    assert len(records) == 200
    assert sorted(r["path"] for r in records) == sorted(str(p) for p in folder.iterdir())
    assert sorted(answered_sizes(api)) == sorted(size_of(r["path"]) for r in records)
    for r in records:
        assert list(r) == list(FIELDS)
        assert r["error"] is None and r["stop_reason"] == "end_turn"
        assert r["text"] == f"I see 1 image(s): {size_of(r['path'])} image/png. Prompt: {PROMPT}"
        assert r["sha256"] == sha(Path(r["path"]))
        assert r["model"] == "claude-sonnet-4-6"
        assert r["prompt_sha256"] == hashlib.sha256(PROMPT.encode()).hexdigest()
        usage = r["usage"]
        # claude-sonnet-4-6: $3 in, $15 out per million tokens
        expected = (usage["input_tokens"] * 3 + usage["output_tokens"] * 15) / 1e6
        assert r["cost_usd"] == pytest.approx(expected)
    assert "200 images: 200 answered, 0 failed, 0 skipped" in result.stderr
    assert result.stdout == ""


def test_each_request_is_the_one_ask_builds_for_one_image(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    make_image("big.jpg", (4032, 3024), folder=tmp_path / "in")
    out = tmp_path / "r.jsonl"
    args = ["--system", "Be brief.", "--max-tokens", "50"]
    result = run("ask", tmp_path / "in", "--each", "-o", out, *args)
    assert result.exit_code == 0, result.stderr
    (request,) = api.messages_requests()
    body = request.body
    assert body["system"] == "Be brief." and body["max_tokens"] == 50
    assert "stream" not in body
    content = body["messages"][0]["content"]
    assert [b["type"] for b in content] == ["image", "text"]
    assert content[1]["text"] == "Describe this image."  # the one-image default
    assert (request.images[0].width, request.images[0].height) == (1270, 952)  # native size


def test_throttling_one_call_in_five_still_answers_everything(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 40)
    out = tmp_path / "results.jsonl"
    api.fail_every(5, 429, retry_after=0.01)
    result = run("ask", folder, "--each", "-j", "4", "-o", out)
    assert result.exit_code == 0, result.stderr
    records = lines(out)
    assert len(records) == 40 and all(r["error"] is None for r in records)
    statuses = [r.status for r in api.messages_requests()]
    assert statuses.count(429) >= 8 and statuses.count(200) == 40
    assert sorted(answered_sizes(api)) == sorted(size_of(r["path"]) for r in records)


def test_preflight_failures_are_recorded_and_not_sent(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 3)
    (folder / "broken.png").write_bytes(b"this is not a png")
    out = tmp_path / "results.jsonl"
    result = run("ask", folder, tmp_path / "missing.png", "--each", "-o", out)
    assert result.exit_code == 1, result.stderr
    records = {r["path"]: r for r in lines(out)}
    assert len(records) == 5
    broken, missing = records[str(folder / "broken.png")], records[str(tmp_path / "missing.png")]
    for bad in (broken, missing):
        assert bad["error"]["type"] == "preflight_error" and bad["error"]["status"] is None
        assert bad["text"] is None and bad["usage"] is None and bad["cost_usd"] == 0
    assert broken["sha256"] == sha(folder / "broken.png") and missing["sha256"] is None
    assert "no such file" in missing["error"]["message"]
    assert len(api.messages_requests()) == 3
    assert "5 images: 3 answered, 2 failed" in result.stderr


def test_api_errors_for_one_image_are_recorded_and_the_others_go_on(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 4)
    out = tmp_path / "results.jsonl"
    api.fail_next(400, message="messages.0.content.0.image.source.base64: Could not process image")
    result = run("ask", folder, "--each", "-j", "1", "-o", out)
    assert result.exit_code == 1
    first, *rest = lines(out)
    assert first["error"] == {
        "type": "invalid_request_error",
        "status": 400,
        "message": "messages.0.content.0.image.source.base64: Could not process image",
    }
    assert [r["error"] for r in rest] == [None] * 3
    assert error_lines(result.stderr) == []  # per-image errors live in the file


def test_source_file_uploads_each_image_once_and_the_cache_remembers(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 3)
    out = tmp_path / "r.jsonl"
    assert run("ask", folder, "--each", "--source", "file", "-o", out).exit_code == 0
    assert len(api.requests_to("/v1/files")) == 3
    assert [r.images[0].source_type for r in api.messages_requests()] == ["file"] * 3
    again = run("ask", folder, "--each", "--source", "file", "-o", out, "--rerun")
    assert again.exit_code == 0, again.stderr
    assert len(api.requests_to("/v1/files")) == 3 and len(api.messages_requests()) == 6


def test_standard_input_is_one_image_matched_by_its_bytes(
    run: Run, api: FakeClaudeAPI, tmp_path: Path
) -> None:
    data = encode(picture((30, 20)), "PNG")
    out = tmp_path / "r.jsonl"
    assert run("ask", "-", "--each", "-o", out, input=data).exit_code == 0
    (record,) = lines(out)
    assert record["path"] == "-" and record["sha256"] == hashlib.sha256(data).hexdigest()
    assert run("ask", "-", "--each", "-o", out, input=data).exit_code == 0
    assert len(api.messages_requests()) == 1  # the same bytes: answered before
    other = encode(picture((31, 20)), "PNG")
    assert run("ask", "-", "--each", "-o", out, input=other).exit_code == 0
    assert len(api.messages_requests()) == 2


def test_a_bug_with_one_image_is_recorded_and_the_others_go_on(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = make_folder(make_image, tmp_path, 3)
    out = tmp_path / "r.jsonl"
    prepare = plan.prepare

    def buggy(job: plan.Job, config: plan.Config, **kw: Any) -> plan.EachRequest:
        if job.label.endswith("001.png"):
            raise RuntimeError("boom")
        return prepare(job, config, **kw)

    monkeypatch.setattr(plan, "prepare", buggy)
    result = run("ask", folder, "--each", "-o", out)
    assert result.exit_code == 1
    errors = {Path(r["path"]).name: r["error"] for r in lines(out)}
    assert errors["000.png"] is None and errors["002.png"] is None
    assert errors["001.png"]["type"] == "internal_error" and "boom" in errors["001.png"]["message"]
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------------------------------
# Resuming
# --------------------------------------------------------------------------------------------------


def test_a_second_run_skips_answers_retries_failures_and_cuts_a_torn_line(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 6)
    out = tmp_path / "results.jsonl"
    api.fail_next(500, times=3, retry_after=0.01)  # the first image: all 3 tries fail
    assert run("ask", folder, "--each", "-j", "1", "--max-retries", "2", "-o", out).exit_code == 1
    failed = [r["path"] for r in lines(out) if r["error"] is not None]
    assert failed == [str(folder / "000.png")]
    with out.open("a") as fh:
        fh.write('{"path": "' + str(folder / "001.png") + '", "sha2')  # a kill -9 mid-line
    before = len(api.messages_requests())

    result = run("ask", folder, "--each", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert "cut a torn last line" in result.stderr
    assert answered_sizes(api, api.messages_requests()[before:]) == [size_of(failed[0])]
    records = lines(out)
    assert len(records) == 7  # 6 answers and the earlier error line, which stays
    ok = [r["path"] for r in records if r["error"] is None]
    assert sorted(ok) == sorted(str(p) for p in folder.iterdir())
    assert "5 skipped (answered before)" in result.stderr


def test_a_changed_image_prompt_or_model_is_asked_again_and_an_alias_is_the_same_model(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 3)
    out = tmp_path / "r.jsonl"
    base = ["ask", folder, "--each", "-o", out, "-p", PROMPT]
    assert run(*base, "-m", "claude-haiku-4-5").exit_code == 0
    assert run(*base, "-m", "claude-haiku-4-5-20251001").exit_code == 0  # the alias's id
    assert len(api.messages_requests()) == 3
    make_image("001.png", (30, 30), folder=folder)  # new bytes under the same name
    assert run(*base, "-m", "claude-haiku-4-5").exit_code == 0
    assert len(api.messages_requests()) == 4
    assert run("ask", folder, "--each", "-o", out, "-p", "Another question?").exit_code == 0
    assert len(api.messages_requests()) == 7
    assert run(*base, "-m", "claude-opus-4-7").exit_code == 0
    assert len(api.messages_requests()) == 10


def test_rerun_asks_about_every_image_again(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 4)
    out = tmp_path / "r.jsonl"
    assert run("ask", folder, "--each", "-o", out).exit_code == 0
    assert run("ask", folder, "--each", "-o", out).exit_code == 0
    assert len(api.messages_requests()) == 4
    assert run("ask", folder, "--each", "-o", out, "--rerun").exit_code == 0
    assert len(api.messages_requests()) == 8
    assert len(lines(out)) == 8


def test_an_input_named_twice_is_asked_once(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    path = make_image("a.png", (20, 20))
    out = tmp_path / "r.jsonl"
    assert run("ask", path, path, "--each", "-o", out).exit_code == 0
    assert len(api.messages_requests()) == 1 and len(lines(out)) == 1


@pytest.mark.parametrize("batch", [False, True], ids=["each", "batch"])
def test_every_spelling_of_a_path_is_one_image(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    batch: bool,
) -> None:
    """A walk of ``.`` labels ``imgs/a.png``; ``find . | --files-from -`` gives ``./imgs/a.png``
    and ``$PWD/imgs/`` the absolute path. Resume compared the strings, so every spelling paid
    for every image again, and ``a.png ./a.png`` in one run asked twice."""
    make_folder(make_image, tmp_path, 3)
    monkeypatch.chdir(tmp_path)
    mode = ["--batch"] if batch else ["--each"]
    out = tmp_path / "r.jsonl"

    def sent() -> int:
        batches = api.requests_to("/v1/messages/batches")
        created = [r.body for r in batches if r.status == 200 and r.method == "POST"]
        return len(api.messages_requests()) + sum(len(b["requests"]) for b in created)

    assert run("ask", "imgs", *mode, "-o", out).exit_code == 0
    assert sent() == 3
    listing = "".join(f"./imgs/{p.name}\n" for p in sorted((tmp_path / "imgs").iterdir()))
    for again in (
        ["--files-from", "-"],
        [str(tmp_path / "imgs") + "/"],
        ["./imgs/000.png", "imgs//000.png", "imgs/../imgs/000.png"],
    ):
        result = run("ask", *again, *mode, "-o", out, input=listing)
        assert result.exit_code == 0, result.stderr
        assert sent() == 3, again
    assert len(lines(out)) == 3


def test_a_file_that_is_not_results_is_left_alone(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    out = tmp_path / "notes.txt"
    out.write_text("my notes\nmore notes\n")
    result = run("ask", make_image("a.png", (20, 20)), "--each", "-o", out)
    assert result.exit_code == 2
    assert "not a vision-cli results file" in result.stderr
    assert out.read_text() == "my notes\nmore notes\n" and api.requests == []


#: Every run that reads a results file back: ``--each``, ``--batch`` and ``locate``, each with
#: and without ``--dry-run`` (which reads the file but never opens it for writing).
READ_BACK = {
    "each": ("ask", "--each", "-p", "hi"),
    "batch": ("ask", "--batch", "-p", "hi"),
    "locate": ("locate", "--find", "a cat"),
}


def refused_output(result: Result, out: Path) -> None:
    """One usage error naming --output and the file, never an endless read (MemoryError), a
    hang or an internal error."""
    assert result.exit_code == 2, result.stderr
    [line] = error_lines(result.stderr)
    assert f"--output {out} cannot be used" in line
    assert "not a regular file" in line and "read back to resume" in line


@pytest.mark.parametrize("dry_run", [(), ("--dry-run",)], ids=["run", "dry-run"])
@pytest.mark.parametrize("mode", ["each", "batch"])
def test_an_output_that_is_not_a_regular_file_is_refused_before_it_is_read(
    run: Run,
    batch_api: FakeClaudeAPI,
    make_image: MakeImage,
    not_a_file: Path,
    mode: str,
    dry_run: tuple[str, ...],
) -> None:
    """``-o /dev/zero``, a FIFO with no writer or a folder: a results file is read back to
    resume, so anything but a regular file is refused before it is opened."""
    command, *flags = READ_BACK[mode]
    result = run(command, make_image("a.png", (20, 20)), *flags, "-o", not_a_file, *dry_run)
    refused_output(result, not_a_file)
    assert batch_api.requests == []


@pytest.mark.parametrize("dry_run", [(), ("--dry-run",)], ids=["run", "dry-run"])
@pytest.mark.parametrize("not_a_file", ["dev-zero", "fifo"], indirect=True)
def test_locate_reads_its_output_back_by_the_same_rule(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, not_a_file: Path, dry_run: tuple[str, ...]
) -> None:
    """(A folder is typer's own error for locate's --output.)"""
    command, *flags = READ_BACK["locate"]
    result = run(command, make_image("a.png", (20, 20)), *flags, "-o", not_a_file, *dry_run)
    refused_output(result, not_a_file)
    assert api.requests == []


def test_an_output_over_the_size_limit_is_refused_with_its_size(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    size = limits.MAX_RESULTS_BYTES + 1
    out = sparse_file(tmp_path / "huge.jsonl", size)
    image = make_image("a.png", (20, 20))
    for dry_run in ((), ("--dry-run",)):
        result = run("ask", image, "--each", "-o", out, *dry_run)
        assert result.exit_code == 2, result.stderr
        [line] = error_lines(result.stderr)
        assert f"--output {out} cannot be used" in line
        assert f"{size:,} bytes, more than the {limits.MAX_RESULTS_BYTES:,}" in line
    assert out.stat().st_size == size and api.requests == []


def test_a_second_run_on_the_same_file_is_refused(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    import fcntl

    out = tmp_path / "r.jsonl"
    with out.open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        result = run("ask", make_image("a.png", (20, 20)), "--each", "-o", out)
    assert result.exit_code == 2
    assert "another vision-cli run is writing" in result.stderr
    assert api.requests == []


# --------------------------------------------------------------------------------------------------
# Whole-run failures, options, outputs
# --------------------------------------------------------------------------------------------------


def test_a_bad_key_stops_the_whole_run_with_exit_3(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 30)
    out = tmp_path / "r.jsonl"
    api.expected_api_key = "sk-the-right-one"
    result = run("ask", folder, "--each", "-j", "2", "-o", out)
    assert result.exit_code == 3
    errors = [line.split(" (request id")[0] for line in error_lines(result.stderr)]
    assert errors == ["Error: HTTP 401 authentication_error: invalid x-api-key"]
    assert len(api.messages_requests()) <= 2  # the requests in flight, no more
    assert lines(out) == []  # not the images' fault: nothing recorded, the next run sends them
    assert KEY not in result.output


def test_an_api_that_keeps_failing_stops_the_run(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 30)
    out = tmp_path / "r.jsonl"
    api.fail_every(1, 500)
    result = run("ask", folder, "--each", "-j", "1", "--max-retries", "0", "-o", out)
    assert result.exit_code == 3
    assert f"{STOP_AFTER_FAILURES} requests in a row failed" in result.stderr
    assert len(lines(out)) == STOP_AFTER_FAILURES


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--each"], "--output"),
        (["--each", "--batch", "-o", "r.jsonl"], "pick one"),
        (["-o", "r.jsonl"], "--output goes with --each or --batch"),
        (["-j", "3"], "--jobs goes with"),
        (["--rerun"], "--rerun goes with"),
        (["--each", "--no-wait", "-o", "r.jsonl"], "--no-wait goes with --batch"),
        (["--each", "-o", "r.jsonl", "--conversation", "c.json"], "--conversation"),
        (["--batch", "-o", "-"], "give --output a file name"),
        (["--each", "-o", "-", "--json"], "--json"),
        (["--batch", "-o", "r.jsonl", "--source", "file"], "--source file"),
        (["--each", "-o", "r.jsonl", "-j", "0"], "--jobs"),
    ],
)
def test_usage_errors_exit_2_and_send_nothing(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    chdir_tmp: Path,
    args: list[str],
    message: str,
) -> None:
    result = run("ask", make_image("a.png", (20, 20)), *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split())
    assert api.requests == [] and not (chdir_tmp / "r.jsonl").exists()


def test_output_dash_writes_the_lines_to_stdout(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 3)
    result = run("ask", folder, "--each", "-o", "-")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 3 and all(r["error"] is None for r in records)


def test_json_prints_the_summary_on_stdout(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 3)
    (folder / "bad.png").write_bytes(b"nope")
    out = tmp_path / "r.jsonl"
    result = run("ask", folder, "--each", "-o", out, "--json", "--quiet")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    records = lines(out)
    assert summary["images"] == 4 and summary["succeeded"] == 3 and summary["failed"] == 1
    assert summary["skipped"] == 0 and summary["pending"] == 0 and not summary["interrupted"]
    answers = [r for r in records if r["usage"] is not None]
    assert summary["input_tokens"] == sum(r["usage"]["input_tokens"] for r in answers)
    assert summary["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in records))
    assert summary["output"] == str(out) and summary["stopped"] is None
    assert result.stderr == ""


def test_dry_run_prints_the_plan_and_needs_no_key(
    run: Run, make_image: MakeImage, tmp_path: Path, fake_api: FakeClaudeAPI
) -> None:
    folder = make_folder(make_image, tmp_path, 3)
    (folder / "bad.png").write_bytes(b"nope")
    out = tmp_path / "r.jsonl"
    done = folder / "000.png"
    out.write_text(json.dumps({  # an earlier answer for one image
        "path": str(done), "sha256": sha(done), "model": "claude-sonnet-4-6",
        "prompt_sha256": prompt_sha256("Describe this image."), "text": "red",
        "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1},
        "cost_usd": 0.0, "error": None,
    }) + "\n")  # fmt: skip
    result = run("ask", folder, "--each", "-o", out, "--dry-run", "--json")
    assert result.exit_code == 1, result.stderr  # bad.png fails preflight, as in a real run
    plan = json.loads(result.stdout)
    actions = {Path(r["path"]).name: r["action"] for r in plan["images"]}
    assert actions == {"000.png": "skip", "001.png": "send", "002.png": "send", "bad.png": "fail"}
    assert plan["summary"]["send"] == 2 and plan["summary"]["input_tokens"] > 0
    assert fake_api.requests == [] and len(lines(out)) == 1


def test_the_dry_run_plan_shows_hostile_names_escaped(
    run: Run, make_image: MakeImage, tmp_path: Path, fake_api: FakeClaudeAPI
) -> None:
    """A name is data: its escape sequences, line breaks, bidirectional overrides and bytes that
    are not UTF-8 are shown as escapes, never obeyed or split into lines of their own."""
    folder = tmp_path / "in"
    for name in ("red\x1b[31m.png", "two\nlines.png", "rtl\u202egnp.png"):
        make_image(name, (64, 48), folder=folder)
    raw = os.path.join(os.fsencode(folder), b"not-utf8-\xff.png")
    with open(raw, "wb") as fh:
        fh.write(b"nope")  # fails preflight: its line carries the name and the error
    result = run("ask", folder, "--each", "-o", tmp_path / "r.jsonl", "--dry-run")
    assert result.exit_code == 1, result.stderr
    out = result.stdout
    assert "\x1b" not in out and "\u202e" not in out and "\udcff" not in out
    assert len(out.splitlines()) == 4  # one line per image: no name broke its line
    assert "red\\x1b[31m.png" in out and "two\\nlines.png" in out and "rtl\\u202egnp.png" in out
    assert "not-utf8-\\xff.png" in out


# --------------------------------------------------------------------------------------------------
# Adaptive concurrency (pure: no clocks, no network)
# --------------------------------------------------------------------------------------------------


def test_the_limiter_halves_on_throttling_once_per_generation_and_grows_back() -> None:
    limiter = Limiter(8)
    slots = [limiter.acquire() for _ in range(8)]
    assert slots == [0] * 8 and limiter.in_flight == 8
    limiter.release(0, 429)  # the first throttled answer halves the limit
    limiter.release(0, 529)  # answers from the same generation do not cut again
    assert limiter.limit == 4 and limiter.cuts == 1
    for _ in range(6):
        limiter.release(0, 200)
    assert limiter.in_flight == 0
    generation = limiter.acquire()
    assert generation == 1
    limiter.release(1, 429)
    assert limiter.limit == 2 and limiter.lowest == 2
    for _ in range(2):  # two successes in a row at 2 allow a third
        limiter.release(limiter.acquire() or 0, 200)
    assert limiter.limit == 3
    for _ in range(3 + 4 + 5 + 6 + 7):
        limiter.release(limiter.acquire() or 0, 200)
    assert limiter.limit == 8  # never above --jobs
    limiter.release(limiter.acquire() or 0, 400)  # an error of the request's own: no change
    assert limiter.limit == 8


def test_the_limiter_holds_attempts_beyond_the_limit_and_stops_cleanly() -> None:
    limiter = Limiter(1)
    pace = limiter.middleware()

    class Answer:
        status_code = 429

    got: list[object] = []
    first = limiter.acquire()
    assert first == 0
    waiter = threading.Thread(target=lambda: got.append(pace(None, lambda _: Answer())))
    waiter.start()
    waiter.join(0.2)
    assert waiter.is_alive() and got == []  # held: the one slot is taken
    limiter.release(0, 200)
    waiter.join()
    assert len(got) == 1 and limiter.limit == 1 and limiter.cuts == 1
    limiter.stop()
    with pytest.raises(Abandoned):
        pace(None, lambda _: Answer())


# --------------------------------------------------------------------------------------------------
# Kill -9 and Ctrl-C: real processes
# --------------------------------------------------------------------------------------------------


def cli(*args: str | Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "vision_cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def child_env(fake: FakeClaudeAPI, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "VISION_CLI_"))}
    return {
        **env,
        "ANTHROPIC_API_KEY": KEY,
        "ANTHROPIC_BASE_URL": fake.base_url,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "NO_COLOR": "1",
        "VISION_CLI_MODEL": os.environ.get("VISION_CLI_MODEL", ""),
    }


def wait_for(condition: Any, proc: subprocess.Popen[str], what: str) -> None:
    """Until ``condition()`` holds; fails (never hangs) if the process ends first or after a
    generous bound, which only a broken run reaches."""
    bound = time.monotonic() + 60
    while not condition():
        assert proc.poll() is None, f"the run ended before {what}: {proc.communicate()}"
        assert time.monotonic() < bound, f"no {what} after 60 s"
        time.sleep(0.01)


def line_count(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


@pytest.mark.slow
def test_a_killed_run_resumes_and_no_image_is_answered_twice_or_missed(
    api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path, run: Run
) -> None:
    folder = make_folder(make_image, tmp_path, 40)
    out = tmp_path / "results.jsonl"
    proc = cli("ask", folder, "--each", "-j", "4", "-o", out, env=child_env(api, tmp_path))
    try:
        wait_for(lambda: line_count(out) >= 8, proc, "8 answers")
        api.delay = 3600  # the requests still to come never answer: the run cannot finish
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
    api.delay = 0
    first_requests = len(api.messages_requests())
    kept = lines(out)  # valid JSONL after a kill -9
    assert 8 <= len(kept) < 40
    written = {size_of(r["path"]) for r in kept}

    result = run("ask", folder, "--each", "-j", "4", "-o", out)
    assert result.exit_code == 0, result.stderr
    second = answered_sizes(api, api.messages_requests()[first_requests:])
    assert not written & set(second), "an answer in the file was asked for again"
    records = lines(out)
    assert sorted(r["path"] for r in records) == sorted(str(p) for p in folder.iterdir())
    asked_twice = set(answered_sizes(api, api.messages_requests()[:first_requests])) & set(second)
    assert len(asked_twice) <= 4  # at most the answers in flight at the kill were lost


def read_until(stream: IO[str], pattern: str, proc: subprocess.Popen[str]) -> list[str]:
    """Lines of ``stream`` up to the first that matches ``pattern`` (or the end)."""
    seen: list[str] = []
    for line in iter(stream.readline, ""):
        seen.append(line)
        if re.search(pattern, line):
            return seen
    raise AssertionError(f"{pattern!r} never came: {seen} (exit {proc.wait()})")


@pytest.mark.slow
def test_ctrl_c_lets_requests_in_flight_finish_prints_the_summary_and_exits_130(
    api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 40)
    out = tmp_path / "results.jsonl"
    proc = cli("ask", folder, "--each", "-j", "4", "-o", out, env=child_env(api, tmp_path))
    watchdog = threading.Timer(60, proc.kill)  # a broken Ctrl-C fails the test, never hangs it
    watchdog.start()
    try:
        wait_for(lambda: line_count(out) >= 4, proc, "4 answers")
        api.hold()  # answers wait: requests in flight stay in flight
        proc.send_signal(signal.SIGINT)
        assert proc.stderr is not None
        seen = read_until(proc.stderr, r"^stopping: no new requests", proc)
        api.release()
        rest, tail = proc.communicate(timeout=60)
    finally:
        watchdog.cancel()
        api.release()
        if proc.poll() is None:
            proc.kill()
    stderr = "".join(seen) + tail
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and rest == ""
    records = lines(out)
    answered = answered_sizes(api)
    assert 4 <= len(records) < 40
    assert sorted(size_of(r["path"]) for r in records) == sorted(answered)  # in flight: written
    assert len({r["path"] for r in records}) == len(records)
    assert re.search(rf"40 images: {len(records)} answered, 0 failed, 0 skipped", stderr)
    assert f"interrupted: {40 - len(records)} images not answered" in stderr
