"""``vision-cli ask --batch``: Message Batches at half price, resumable from the state file,
against the local fake Claude API (its batches end after ``batch_polls_until_ended`` polls).

Polling waits are set to zero in-process (``bulk_batch.POLL_FIRST``); the subprocess test waits for
the state file, not for a clock.
"""

from __future__ import annotations

import base64
import io
import json
import re
import signal
from pathlib import Path
from typing import Any

import anthropic
import pytest
from PIL import Image

from tests.conftest import MakeImage, Run, encode
from tests.fakeapi import FakeClaudeAPI
from tests.imagekit import near
from tests.test_ask_each import (
    KEY,
    answered_sizes,
    child_env,
    cli,
    lines,
    make_folder,
    sha,
    size_of,
    standard_model,
    wait_for,
)
from vision_cli.bulk import batch as bulk_batch
from vision_cli.bulk.log import ResultsLog
from vision_cli.bulk.records import FIELDS, prompt_sha256
from vision_cli.bulk.state import state_path

__all__ = ["standard_model"]  # the autouse fixture: a standard-tier model at $3/$15

BATCHES = "/v1/messages/batches"
Json = dict[str, Any]


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, api: FakeClaudeAPI) -> FakeClaudeAPI:
    """conftest's fake API, polled without waiting."""
    monkeypatch.setattr(bulk_batch, "POLL_FIRST", 0.0)
    monkeypatch.setattr(bulk_batch, "POLL_MAX", 0.0)
    return api


def creates(fake: FakeClaudeAPI) -> list[Json]:
    """The bodies of the batches created (answered 200)."""
    return [r.body for r in fake.requests_to(BATCHES) if r.status == 200]


def polls(fake: FakeClaudeAPI) -> int:
    return sum(
        1 for r in fake.requests if r.method == "GET" and re.fullmatch(rf"{BATCHES}/[^/]+", r.path)
    )


def state_of(out: Path) -> Json:
    doc: Json = json.loads(state_path(out).read_text())
    return doc


def half_price(usage: Json, prices: tuple[float, float] = (3.0, 15.0)) -> float:
    """Half of ``usage`` at ``prices`` (claude-sonnet-4-6's by default), USD per million."""
    full: float = (usage["input_tokens"] * prices[0] + usage["output_tokens"] * prices[1]) / 1e6
    return full / 2


def test_the_batch_flow_create_in_progress_ended_results(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 6)
    out = tmp_path / "results.jsonl"
    api.batch_polls_until_ended = 3
    result = run("ask", folder, "--batch", "-p", "What is it?", "-o", out)
    assert result.exit_code == 0, result.stderr
    (body,) = creates(api)
    ids = [item["custom_id"] for item in body["requests"]]
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", i) for i in ids) and len(set(ids)) == 6
    params = body["requests"][0]["params"]
    assert "stream" not in params and params["model"] == "claude-sonnet-4-6"
    assert [b["type"] for b in params["messages"][0]["content"]] == ["image", "text"]
    assert polls(api) >= 4  # in progress three times, then ended
    records = lines(out)
    assert sorted(r["path"] for r in records) == sorted(str(p) for p in folder.iterdir())
    for r in records:
        assert list(r) == list(FIELDS) and r["error"] is None
        assert r["text"] == f"I see 1 image(s): {size_of(r['path'])} image/png. Prompt: What is it?"
        assert r["sha256"] == sha(Path(r["path"]))
        assert r["cost_usd"] == pytest.approx(half_price(r["usage"]))
    state = state_of(out)
    (saved,) = state["batches"]
    assert saved["collected"] is True and sorted(saved["requests"]) == sorted(ids)
    assert {ref["path"] for ref in saved["requests"].values()} == {r["path"] for r in records}
    assert "batch prices (50% off)" in result.stderr

    again = run("ask", folder, "--batch", "-p", "What is it?", "-o", out)
    assert again.exit_code == 0 and len(creates(api)) == 1 and len(lines(out)) == 6
    assert "6 skipped" in again.stderr


def test_a_batch_is_split_at_the_request_limit(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bulk_batch, "BATCH_MAX_REQUESTS", 3)
    folder = make_folder(make_image, tmp_path, 5)
    out = tmp_path / "results.jsonl"
    result = run("ask", folder, "--batch", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert [len(b["requests"]) for b in creates(api)] == [3, 2]
    assert len(state_of(out)["batches"]) == 2
    assert sorted(r["path"] for r in lines(out)) == sorted(str(p) for p in folder.iterdir())


def test_a_batch_is_split_at_the_byte_limit(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = make_folder(make_image, tmp_path, 4)
    out = tmp_path / "results.jsonl"
    one = run("ask", folder / "000.png", "--batch", "--dry-run", "--json", "-o", out)
    size = json.loads(one.stdout)["images"][0]["request_bytes"]
    monkeypatch.setattr(
        bulk_batch, "BATCH_MAX_BYTES", 2 * size + 100
    )  # two requests fit, not three
    result = run("ask", folder, "--batch", "-o", out)
    assert result.exit_code == 0, result.stderr
    sent = creates(api)
    assert [len(b["requests"]) for b in sent] == [2, 2]
    assert all(len(json.dumps(b).encode()) <= 2 * size + 100 for b in sent)


def test_dry_run_shows_the_split_and_batch_prices(
    run: Run, make_image: MakeImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_batch, "BATCH_MAX_REQUESTS", 2)
    folder = make_folder(make_image, tmp_path, 5)
    out = tmp_path / "r.jsonl"
    each = json.loads(run("ask", folder, "--each", "-o", out, "--dry-run", "--json").stdout)
    batch = json.loads(run("ask", folder, "--batch", "-o", out, "--dry-run", "--json").stdout)
    assert batch["summary"]["batches"] == 3 and batch["summary"]["send"] == 5
    assert batch["summary"]["max_cost_usd"] == pytest.approx(each["summary"]["max_cost_usd"] / 2)
    assert not out.exists() and not state_path(out).exists()


def test_no_wait_submits_and_a_later_run_collects(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 4)
    out = tmp_path / "results.jsonl"
    api.batch_polls_until_ended = 1
    first = run("ask", folder, "--batch", "--no-wait", "-o", out)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == f"{state_path(out)}\n"
    assert len(creates(api)) == 1 and lines(out) == []
    assert "run the same command again to collect" in first.stderr

    second = run("ask", folder, "--batch", "--no-wait", "-o", out, "--json")
    assert second.exit_code == 0, second.stderr
    summary = json.loads(second.stdout)
    assert summary["succeeded"] == 4 and summary["pending"] == 0 and summary["batches"] == []
    assert summary["skipped"] == 0  # answered by this run's collection: not counted twice
    assert len(creates(api)) == 1  # collected, never submitted again
    assert len(lines(out)) == 4

    third = run("ask", folder, "--batch", "-o", out, "--json")
    assert third.exit_code == 0 and len(creates(api)) == 1 and len(lines(out)) == 4
    assert json.loads(third.stdout)["skipped"] == 4  # answered before this run


def test_new_images_go_in_a_new_batch_and_waiting_ones_are_not_submitted_again(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 3)
    out = tmp_path / "results.jsonl"
    api.batch_polls_until_ended = 10**6  # stays in progress
    assert run("ask", folder, "--batch", "--no-wait", "-o", out).exit_code == 0
    make_image("003.png", (40, 40), folder=folder)
    assert run("ask", folder, "--batch", "--no-wait", "-o", out).exit_code == 0
    assert [len(b["requests"]) for b in creates(api)] == [3, 1]
    api.end_batches()
    result = run("ask", folder, "--batch", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert len(creates(api)) == 2
    assert sorted(r["path"] for r in lines(out)) == sorted(str(p) for p in folder.iterdir())


def test_errored_and_canceled_requests_become_error_lines(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    small = make_folder(make_image, tmp_path, 2, name="small")
    big = make_image("big.png", (300, 300), folder=tmp_path / "big")
    out = tmp_path / "results.jsonl"
    api.max_image_bytes = 1000  # the fake refuses the big image inside the batch
    result = run("ask", small, big, "--batch", "-o", out)
    assert result.exit_code == 1, result.stderr
    records = {r["path"]: r for r in lines(out)}
    error = records[str(big)]["error"]
    assert error["type"] == "invalid_request_error" and error["status"] == 400
    assert "image exceeds" in error["message"] and records[str(big)]["cost_usd"] == 0
    assert [records[str(p)]["error"] for p in small.iterdir()] == [None, None]

    api.max_image_bytes = 5 * 1024 * 1024
    api.batch_polls_until_ended = 10**6
    other = tmp_path / "other.jsonl"
    assert run("ask", small, "--batch", "--no-wait", "-o", other).exit_code == 0
    batch_id = state_of(other)["batches"][0]["id"]
    sdk = anthropic.Anthropic(api_key=KEY, base_url=api.base_url)
    sdk.messages.batches.cancel(batch_id)  # canceled from the Console, say
    api.batch_polls_until_ended = 0
    collected = run("ask", small, "--batch", "-o", other)
    assert collected.exit_code == 0, collected.stderr  # canceled, then submitted again
    resent = lines(other)
    assert [r["error"]["type"] for r in resent[:2]] == ["canceled", "canceled"]
    assert all(r["cost_usd"] == 0 and r["usage"] is None for r in resent[:2])
    assert [r["error"] for r in resent[2:]] == [None, None]
    assert len(creates(api)) == 3
    assert "2 answered, 0 failed" in collected.stderr


def test_expired_requests_become_error_lines_and_are_sent_again(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 3)
    out = tmp_path / "results.jsonl"
    api.batch_polls_until_ended = 10**6
    assert run("ask", folder, "--batch", "--no-wait", "-o", out).exit_code == 0
    api.expire_batches()  # a day later, none of them processed
    api.batch_polls_until_ended = 0
    collected = run("ask", folder, "--batch", "-o", out)
    assert collected.exit_code == 0, collected.stderr
    written = lines(out)
    expired, answered = written[:3], written[3:]
    assert [r["error"]["type"] for r in expired] == ["expired"] * 3
    assert all("expired" in r["error"]["message"] and r["cost_usd"] == 0 for r in expired)
    assert [r["error"] for r in answered] == [None] * 3
    assert sorted(r["path"] for r in answered) == sorted(str(p) for p in folder.iterdir())
    assert len(creates(api)) == 2
    assert "3 answered, 0 failed" in collected.stderr


def test_a_collection_cut_short_writes_each_result_once(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = make_folder(make_image, tmp_path, 6)
    out = tmp_path / "results.jsonl"
    append = ResultsLog.append
    calls: list[int] = []

    def dies_on_the_fourth_line(self: ResultsLog, record: Any, written: Any = None) -> bool:
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return append(self, record, written)

    monkeypatch.setattr(ResultsLog, "append", dies_on_the_fourth_line)
    first = run("ask", folder, "--batch", "-o", out)
    assert first.exit_code == 130
    assert len(lines(out)) == 3
    monkeypatch.setattr(ResultsLog, "append", append)
    second = run("ask", folder, "--batch", "-o", out)
    assert second.exit_code == 0, second.stderr
    records = lines(out)
    assert sorted(r["path"] for r in records) == sorted(str(p) for p in folder.iterdir())
    assert len(creates(api)) == 1


def test_a_refused_create_is_retried_and_a_bad_key_stops_with_exit_3(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = make_folder(make_image, tmp_path, 2)
    out = tmp_path / "results.jsonl"
    api.fail_next(429, retry_after=0.01, times=2, path=BATCHES)
    assert run("ask", folder, "--batch", "-o", out).exit_code == 0
    statuses = [r.status for r in api.requests_to(BATCHES)]
    assert statuses == [429, 429, 200]

    other = tmp_path / "other.jsonl"
    api.expected_api_key = "sk-the-right-one"
    result = run("ask", folder, "--batch", "-o", other)
    assert result.exit_code == 3
    assert "Error: HTTP 401 authentication_error" in result.stderr
    assert not state_path(other).exists() and lines(other) == []
    assert KEY not in result.output


def test_a_damaged_state_file_stops_before_anything_is_submitted(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    out = tmp_path / "results.jsonl"
    state_path(out).write_text("{not json")
    result = run("ask", make_image("a.png", (20, 20)), "--batch", "-o", out)
    assert result.exit_code == 2
    assert "cannot read the batch state file" in result.stderr
    assert api.requests == []


def test_a_saved_batch_the_api_does_not_know_stops_with_exit_3(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    out = tmp_path / "results.jsonl"
    saved = {
        "id": "msgbatch_gone",
        "model": "claude-sonnet-4-6",
        "prompt_sha256": prompt_sha256("Describe this image."),
        "requests": {"img-1": {"path": "a.png", "sha256": None}},
        "collect_offset": None,
        "collected": False,
    }
    state_path(out).write_text(json.dumps({"version": 1, "batches": [saved]}))
    result = run("ask", make_image("a.png", (20, 20)), "--batch", "-o", out)
    assert result.exit_code == 3
    assert "HTTP 404" in result.stderr and "remove it from that file" in result.stderr
    assert creates(api) == []
    no_wait = run("ask", make_image("a.png", (20, 20)), "--batch", "--no-wait", "-o", out)
    assert no_wait.exit_code == 3 and "remove it from that file" in no_wait.stderr
    # the summary does not contradict the error with "still running ... run again"
    assert "still running" not in no_wait.stderr and "once the error is fixed" in no_wait.stderr


@pytest.mark.slow
def test_a_killed_run_resumes_from_the_state_file(
    api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path, run: Run
) -> None:
    folder = make_folder(make_image, tmp_path, 5)
    out = tmp_path / "results.jsonl"
    api.batch_polls_until_ended = 10**6  # in progress until the test ends it
    proc = cli("ask", folder, "--batch", "-o", out, env=child_env(api, tmp_path))
    try:
        state = state_path(out)
        wait_for(lambda: state.exists(), proc, "the state file")
        wait_for(lambda: polls(api) >= 1, proc, "a poll")
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(creates(api)) == 1 and lines(out) == []
    api.end_batches()
    result = run("ask", folder, "--batch", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert len(creates(api)) == 1  # polled the saved batch instead of submitting again
    records = lines(out)
    assert sorted(r["path"] for r in records) == sorted(str(p) for p in folder.iterdir())
    assert answered_sizes(api) == []  # nothing went through /v1/messages


@pytest.mark.parametrize("mode", [[], ["--each"], ["--batch"]], ids=["one", "each", "batch"])
def test_a_cmyk_jpeg_is_sent_as_rgb_by_every_way_of_asking(
    run: Run, api: FakeClaudeAPI, tmp_path: Path, mode: list[str]
) -> None:
    # Small enough to be sent byte for byte, but a CMYK JPEG, which many decoders show wrong:
    # what arrives is an RGB JPEG with its real colours, however the request is made.
    folder = tmp_path / "print"
    folder.mkdir()
    red = Image.new("CMYK", (400, 300), (0, 255, 255, 0))
    (folder / "flyer.jpg").write_bytes(encode(red, "JPEG"))
    out = ["-o", str(tmp_path / "results.jsonl")] if mode else []
    result = run("ask", folder / "flyer.jpg", *mode, "-p", "What colour?", *out)
    assert result.exit_code == 0, result.stderr
    if mode == ["--batch"]:
        (body,) = creates(api)
        blocks = [b for r in body["requests"] for b in r["params"]["messages"][0]["content"]]
    else:
        (request,) = api.messages_requests()
        blocks = request.body["messages"][-1]["content"]
    (image,) = [b for b in blocks if b["type"] == "image"]
    assert image["source"]["media_type"] == "image/jpeg"
    sent = Image.open(io.BytesIO(base64.b64decode(image["source"]["data"])))
    assert sent.mode == "RGB" and sent.size == (400, 300)
    assert near(sent.getpixel((10, 10)), (255, 0, 0))


def test_a_batch_of_a_model_retired_meanwhile_is_collected_and_nothing_new_submitted(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    """Collecting sends no model: a model retired while its batch ran only stops new
    submissions. The same command collects the batch (at that model's prices), then refuses
    to submit the images added since with the retired model (exit 2)."""
    folder = make_folder(make_image, tmp_path, 3)
    out = tmp_path / "bx.jsonl"
    args = ["ask", folder, "--batch", "-m", "claude-opus-5-5", "-o", out]
    api.batch_polls_until_ended = 1
    assert run(*args, "--no-wait").exit_code == 0
    opus55 = api.model_info("claude-opus-5-5")
    assert opus55 is not None
    opus55["lifecycle"] = "retired"  # retired while the batch ran
    assert run("models", "--refresh").exit_code == 0

    collected = run(*args, "--json")
    assert collected.exit_code == 0, collected.stderr  # nothing new to submit: all answered
    summary = json.loads(collected.stdout)
    assert summary["succeeded"] == 3 and summary["model"] == "claude-opus-5-5"
    assert len(creates(api)) == 1  # collected, never paid for twice
    records = lines(out)
    assert sorted(r["path"] for r in records) == sorted(str(p) for p in folder.iterdir())
    assert all(r["model"] == "claude-opus-5-5" and r["error"] is None for r in records)
    assert all(r["cost_usd"] == pytest.approx(half_price(r["usage"], (4, 20))) for r in records)
    assert "was retired" in collected.stderr  # said, though nothing was refused

    make_image("003.png", (40, 40), folder=folder)  # a new image: it would need a new batch
    refused = run(*args)
    assert refused.exit_code == 2
    assert "claude-opus-5-5 was retired" in refused.stderr
    assert len(creates(api)) == 1 and len(lines(out)) == 3

    api.batch_polls_until_ended = 10**6  # a batch still running when the model retires
    other = tmp_path / "other.jsonl"
    opus55["lifecycle"] = "active"
    assert run("models", "--refresh").exit_code == 0
    sent = run("ask", folder, "--batch", "-m", "claude-opus-5-5", "-o", other, "--no-wait")
    assert sent.exit_code == 0, sent.stderr
    opus55["lifecycle"] = "retired"
    assert run("models", "--refresh").exit_code == 0
    api.end_batches()
    make_image("004.png", (41, 40), folder=folder)
    both = run("ask", folder, "--batch", "-m", "claude-opus-5-5", "-o", other)
    assert both.exit_code == 2  # collected first, then refused the new image
    assert len(creates(api)) == 2 and len(lines(other)) == 4
    (error,) = [line for line in both.stderr.splitlines() if line.startswith("Error")]
    assert "claude-opus-5-5 was retired" in error
    assert "collected batch" in both.stderr and "1 image not submitted" in both.stderr


def test_each_holds_back_the_images_waiting_in_a_batch_of_its_results_file(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    """``--each`` on a results file with batches still running sends only what no batch holds:
    the images waiting are pending (said so), in the real run and in ``--dry-run``."""
    folder = make_folder(make_image, tmp_path, 3)
    out = tmp_path / "r.jsonl"
    api.batch_polls_until_ended = 10**6  # stays in progress
    assert run("ask", folder, "--batch", "--no-wait", "-o", out).exit_code == 0
    make_image("003.png", (40, 40), folder=folder)

    dry = run("ask", folder, "--each", "-o", out, "--dry-run", "--json")
    assert dry.exit_code == 0, dry.stderr
    plan_doc = json.loads(dry.stdout)
    assert plan_doc["summary"]["send"] == 1 and plan_doc["summary"]["pending"] == 3
    assert [i["action"] for i in plan_doc["images"]].count("pending") == 3
    said = run("ask", folder, "--each", "-o", out, "--dry-run")
    assert "3 waiting in batches" in said.stderr

    each = run("ask", folder, "--each", "-o", out, "--json")
    assert each.exit_code == 0, each.stderr
    summary = json.loads(each.stdout)
    assert summary["succeeded"] == 1 and summary["pending"] == 3 and summary["images"] == 4
    assert answered_sizes(api) == ["40x40"]  # only the image no batch holds: never paid twice
    assert "3 images waiting in a batch" in each.stderr and "--batch" in each.stderr
    assert [r["path"] for r in lines(out)] == [str(folder / "003.png")]

    api.end_batches()
    collected = run("ask", folder, "--batch", "-o", out)
    assert collected.exit_code == 0, collected.stderr
    assert len(creates(api)) == 1 and len(lines(out)) == 4


def test_interrupted_during_preflight_the_images_not_submitted_are_pending(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGTERM (or Ctrl-C) while the images are prepared, before any batch is full: nothing is
    submitted, and the summary counts every image as not answered, as ``--each`` does."""
    from vision_cli.bulk import plan

    folder = make_folder(make_image, tmp_path, 6)
    out = tmp_path / "results.jsonl"
    prepare = plan.prepare
    calls: list[int] = []

    def stopped_on_the_third(job: Any, config: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # what SIGTERM raises (common.sigterm_interrupts)
        return prepare(job, config, **kwargs)

    monkeypatch.setattr(plan, "prepare", stopped_on_the_third)
    result = run("ask", folder, "--batch", "-j", "1", "-o", out, "--json")
    assert result.exit_code == 130
    summary = json.loads(result.stdout)
    assert summary["images"] == 6 and summary["pending"] == 6 and summary["interrupted"]
    assert creates(api) == []
    calls.clear()
    text = run("ask", folder, "--batch", "-j", "1", "-o", tmp_path / "other.jsonl")
    assert text.exit_code == 130
    assert "6 images: 0 answered, 0 failed, 0 skipped (answered before), 6 pending" in text.stderr
    assert "interrupted: 6 images not answered" in text.stderr
