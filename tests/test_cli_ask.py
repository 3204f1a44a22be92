"""``vision-cli ask`` and ``vision-cli compare`` through the real entry points, against the local
fake Claude API (a real HTTP server on 127.0.0.1 that checks requests the way the API does)."""

from __future__ import annotations

import base64
import functools
import http.server
import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import API_KEY, MakeImage, Run, encode, imported_by, picture
from tests.fakeapi import FakeClaudeAPI, OpenApiValidator, RecordedRequest
from tests.imagekit import BLUE, RED, marked, near, noise, stored_for
from vision_cli import catalog, policy, units
from vision_cli.client import bodies, messages

KEY = API_KEY


@pytest.fixture(autouse=True)
def standard_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests were written for a standard-tier model at $3/$15 (the old default, now
    retired): they name one through the environment. The default itself is tested in
    test_models.py."""
    monkeypatch.setenv("VISION_CLI_MODEL", "claude-sonnet-4-6")


Json = dict[str, Any]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The SDK's waits between retries, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(time, "sleep", waited.append)
    return waited


def only_request(fake: FakeClaudeAPI) -> RecordedRequest:
    (request,) = fake.messages_requests()
    return request


def last_turn(request: RecordedRequest) -> list[Json]:
    content: list[Json] = request.body["messages"][-1]["content"]
    return content


def shape(content: list[Json]) -> list[str]:
    """``["Image 1:", "image/png", ..., "the prompt"]``: labels, media types and texts in order."""
    return [
        b["text"] if b["type"] == "text" else b["source"].get("media_type", b["source"]["type"])
        for b in content
    ]


def decoded(block: Json) -> Image.Image:
    im = Image.open(io.BytesIO(base64.b64decode(block["source"]["data"])))
    im.load()
    return im


def images_of(content: list[Json]) -> list[Json]:
    return [b for b in content if b["type"] == "image"]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error: ")]


# --------------------------------------------------------------------------------------------------
# The request: order, labels, prompts, system
# --------------------------------------------------------------------------------------------------


def test_one_image_then_the_default_prompt(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    result = run("ask", make_image("cat.png", (640, 480)))
    assert result.exit_code == 0, result.stderr
    request = only_request(api)
    assert shape(last_turn(request)) == ["image/png", "Describe this image."]
    assert request.body["model"] == "claude-sonnet-4-6" and request.body["max_tokens"] == 1024
    assert "system" not in request.body and "temperature" not in request.body
    assert result.stdout == "I see 1 image(s): 640x480 image/png. Prompt: Describe this image.\n"


def test_a_deprecated_model_is_named_before_sending(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    image = make_image("cat.png", (64, 48))
    for how in ([], ["--quiet"], ["--json"]):  # stderr is not the result: never hidden
        warned = run("ask", image, "--model", "claude-opus-4-5", *how)
        assert warned.exit_code == 0, warned.stderr
        (line,) = [x for x in warned.stderr.splitlines() if "is deprecated" in x]
        assert line.startswith("Warning: claude-opus-4-5 ") and "2027-01-22" in line
    assert "is deprecated" not in run("ask", image, "--model", "claude-sonnet-4-6").stderr


def test_several_images_are_labelled_and_system_is_top_level(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    a, b = make_image("a.png", (300, 200)), make_image("b.jpg", (200, 300))
    result = run("ask", a, b, "--system", "Respond only in Spanish.")
    assert result.exit_code == 0, result.stderr
    request = only_request(api)
    assert shape(last_turn(request)) == [
        "Image 1:", "image/png", "Image 2:", "image/jpeg", "Describe these images.",
    ]  # fmt: skip
    assert request.body["system"] == "Respond only in Spanish."
    assert [m["role"] for m in request.body["messages"]] == ["user"]


def test_compare_labels_every_image_and_asks_how_they_differ(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    paths = [make_image(f"{n}.png", (100 + 10 * i, 100)) for i, n in enumerate("abc")]
    result = run("compare", *paths, "--max-tokens", "300")
    assert result.exit_code == 0, result.stderr
    request = only_request(api)
    assert shape(last_turn(request)) == [
        "Image 1:", "image/png", "Image 2:", "image/png", "Image 3:", "image/png",
        "How are these images different?",
    ]  # fmt: skip
    assert [(i.width, i.height) for i in request.images] == [(100, 100), (110, 100), (120, 100)]
    assert request.body["max_tokens"] == 300


@pytest.mark.parametrize("count", [0, 1])
def test_compare_needs_two_images(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path, count: int
) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    for i in range(count):
        make_image(f"{i}.png", folder=folder)
    result = run("compare", folder)
    assert result.exit_code == 2
    assert "at least two images" in result.stderr
    assert api.requests == []


def test_prompt_from_option_stdin_and_file(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    path = make_image("a.png")
    assert run("ask", path, "-p", "What colour?").exit_code == 0
    assert run("ask", path, "-p", "-", input="From stdin?\n").exit_code == 0
    (tmp_path / "q.txt").write_text("From a file?\n")
    assert run("ask", path, "--prompt-file", tmp_path / "q.txt").exit_code == 0
    prompts = [last_turn(r)[-1]["text"] for r in api.messages_requests()]
    assert prompts == ["What colour?", "From stdin?", "From a file?"]


def test_a_prompt_file_is_read_from_a_pipe_and_never_past_a_request(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    """``--prompt-file <(cmd)`` (a pipe) is read; ``/dev/zero`` stops at what a request can
    carry, a usage error, instead of filling the memory."""
    path = make_image("a.png")
    read_end, write_end = os.pipe()
    os.write(write_end, b"From a pipe?\n")
    os.close(write_end)
    try:
        assert run("ask", path, "--prompt-file", f"/dev/fd/{read_end}").exit_code == 0
    finally:
        os.close(read_end)
    assert last_turn(only_request(api))[-1]["text"] == "From a pipe?"
    endless = run("ask", path, "--prompt-file", "/dev/zero")
    assert endless.exit_code == 2 and len(api.requests) == 1
    said = " ".join(endless.stderr.replace("│", " ").split())
    assert "cannot read /dev/zero (it holds more than 33,554,432 bytes" in said


@pytest.mark.parametrize(
    "args",
    [
        ["-p", "x", "--prompt-file", "q.txt"],
        ["-", "-p", "-"],
        ["-p", "   "],
        ["--temperature", "1.5"],
        ["--max-tokens", "0"],
        ["--policy", "huge"],
        ["--model", "claude-nonexistent"],
        ["--source", "url"],
        ["--download", "--source", "url", "https://example.com/a.png"],
        ["--max-bytes", "11MB"],
    ],
)
def test_usage_errors_exit_2_and_send_nothing(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, chdir_tmp: Path, args: list[str]
) -> None:
    (chdir_tmp / "q.txt").write_text("?")
    result = run("ask", make_image("a.png"), *args, input=b"")
    assert result.exit_code == 2, result.output
    assert api.requests == []
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["ask", "--temperature", "0.3"],
        ["ask", "--temperature", "0", "--dry-run"],
        ["ask", "--temperature", "hot", "-p", "-"],  # any value: nothing is parsed or read
        ["compare", "--temperature", "1"],
        ["ask", "--temperature", "0.5", "--each", "-o", "out.jsonl"],
        ["ask", "--temperature", "0.5", "--batch", "-o", "out.jsonl"],
    ],
)
def test_temperature_is_refused_before_anything_is_read_or_sent(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, chdir_tmp: Path, args: list[str]
) -> None:
    """API version 2026-10-21 (the SDK's) removed temperature: a request with it would be refused
    by the API, so the option is refused here, every mode alike."""
    command, *rest = args
    images = [make_image("a.png"), make_image("b.png")]
    result = run(command, *images, *rest, input="a prompt on stdin")
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.replace("│", " ").split())
    assert "no longer takes a sampling temperature" in said and "leave --temperature out" in said
    assert api.requests == [] and result.stdout == ""
    assert sorted(p.name for p in chdir_tmp.iterdir()) == ["a.png", "b.png"]  # nothing written


def test_a_configured_temperature_is_an_unknown_key(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, chdir_tmp: Path
) -> None:
    """The user's configuration cannot set a hidden option either: it is named as unknown, with
    the file, instead of failing every ask as if --temperature had been typed."""
    from vision_cli import config

    user = config.user_path()
    user.parent.mkdir(parents=True)
    user.write_text("[ask]\ntemperature = 0.5\n")
    result = run("ask", make_image("a.png"))
    assert result.exit_code == 2 and api.requests == []
    assert str(user) in result.stderr and "unknown key 'temperature' for ask" in result.stderr
    assert run("--no-config", "ask", make_image("a.png")).exit_code == 0


@pytest.mark.parametrize("command", ["ask", "compare"])
def test_help_no_longer_offers_temperature(run: Run, command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0 and "--temperature" not in result.stdout


@pytest.mark.parametrize("mode", [[], ["--each", "-o", "r.jsonl"], ["--dry-run"]])
def test_a_folder_without_images_is_named(
    run: Run, api: FakeClaudeAPI, chdir_tmp: Path, mode: list[str]
) -> None:
    (chdir_tmp / "shots").mkdir()
    (chdir_tmp / "shots" / "notes.txt").write_text("no image here")
    result = run("ask", "shots", *mode)
    assert result.exit_code == 2 and api.requests == []
    said = " ".join(result.stderr.replace("│", " ").split())
    assert "no image found in shots" in said


def test_ask_without_images_needs_a_conversation(run: Run, api: FakeClaudeAPI) -> None:
    result = run("ask", "-p", "Hello?")
    assert result.exit_code == 2 and api.requests == []


# --------------------------------------------------------------------------------------------------
# Preflight: what arrives is what the API wants
# --------------------------------------------------------------------------------------------------


def test_media_type_is_detected_not_taken_from_the_name(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    path = make_image("photo.png", (320, 240), fmt="JPEG")
    result = run("ask", path)
    assert result.exit_code == 0, result.stderr
    request = only_request(api)
    assert request.status == 200  # the fake checks the bytes against the declared type
    assert images_of(last_turn(request))[0]["source"]["media_type"] == "image/jpeg"


def test_exif_rotated_photo_arrives_upright(run: Run, api: FakeClaudeAPI, tmp_path: Path) -> None:
    upright = marked((400, 300))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    path.write_bytes(encode(stored_for(upright, 6), "JPEG", exif=exif.tobytes(), quality=95))
    with Image.open(path) as stored:
        assert stored.size == (300, 400)  # stored sideways
    result = run("ask", path)
    assert result.exit_code == 0, result.stderr
    sent = decoded(images_of(last_turn(only_request(api)))[0])
    assert sent.size == (400, 300)
    rgb = sent.convert("RGB")
    assert near(rgb.getpixel((10, 10)), RED)  # the red block is top left again
    assert near(rgb.getpixel((390, 290)), BLUE)
    assert near(rgb.getpixel((390, 10)), BLUE) and near(rgb.getpixel((10, 290)), BLUE)


def test_a_4032x3024_photo_arrives_at_native_size(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    path = make_image("IMG_0001.jpg", (4032, 3024), quality=80)
    result = run("ask", path)
    assert result.exit_code == 0, result.stderr
    (seen,) = only_request(api).images
    # The largest 4:3 size within 1568 px and 1568 patches of 28 px (the documented 2000x1500
    # answer is 1270x952): the API will not shrink it again.
    assert (seen.width, seen.height) == (1270, 952)
    assert seen.tokens <= 1568 and seen.media_type == "image/jpeg"
    assert "resized from 4032x3024" in result.stderr


def test_policy_recommended_keeps_within_1568_px_and_1_15_megapixels(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    path = make_image("wide.jpg", (3000, 1500), quality=80)
    result = run("ask", path, "--policy", "recommended", "--model", "claude-opus-4-7")
    assert result.exit_code == 0, result.stderr
    (seen,) = only_request(api).images
    assert seen.width is not None and seen.height is not None
    assert max(seen.width, seen.height) <= 1568 and seen.width * seen.height <= 1_150_000
    assert abs(seen.width / seen.height - 2) < 0.01


def test_native_size_follows_the_models_tier(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    path = make_image("tv.png", (1920, 1080))
    assert run("ask", path, "--model", "claude-opus-4-7").exit_code == 0
    assert run("ask", path).exit_code == 0
    hi, standard = (r.images[0] for r in api.messages_requests())
    assert (hi.width, hi.height) == (1920, 1080)  # the high-res tier takes it as it is
    assert (standard.width, standard.height) == (1456, 819)  # the documented standard answer


def test_no_resize_sends_the_bytes_as_they_are(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    path = make_image("big.png", (1920, 1080))
    result = run("ask", path, "--no-resize")
    assert result.exit_code == 0, result.stderr
    block = images_of(last_turn(only_request(api)))[0]
    assert base64.b64decode(block["source"]["data"]) == path.read_bytes()
    assert "will shrink 1920x1080" in result.stderr  # the warning that it will be downscaled


def test_unsupported_format_is_converted(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    path = make_image("scan.bmp", (300, 200))
    result = run("ask", path)
    assert result.exit_code == 0, result.stderr
    (seen,) = only_request(api).images
    assert seen.media_type in ("image/png", "image/jpeg")
    assert (seen.width, seen.height) == (300, 200)
    failed = run("ask", path, "--no-resize")
    assert failed.exit_code == 1 and "--no-resize" in failed.stderr
    assert len(api.messages_requests()) == 1


def test_image_from_standard_input(run: Run, api: FakeClaudeAPI) -> None:
    data = encode(picture((200, 100)), "WEBP")
    result = run("ask", "-", input=data)
    assert result.exit_code == 0, result.stderr
    (seen,) = only_request(api).images
    assert (seen.media_type, seen.width, seen.height) == ("image/webp", 200, 100)


def test_a_25_image_compare_arrives_within_2000_px(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    # The high-res tier takes 2400 px wide strips as they are; above 20 images the API's limit
    # is 2000 px, and the fake refuses anything larger, as the API does.
    paths = [make_image(f"strip{i:02}.png", (2400, 240)) for i in range(25)]
    result = run("compare", *paths, "--model", "claude-opus-4-7", "--quiet")
    assert result.exit_code == 0, result.stderr
    request = only_request(api)
    assert len(request.images) == 25
    assert all(max(i.width or 0, i.height or 0) <= 2000 for i in request.images)
    assert [i.width for i in request.images] == [2000] * 25
    labels = [b["text"] for b in last_turn(request) if b["type"] == "text"][:-1]
    assert labels == [f"Image {n}:" for n in range(1, 26)]
    refused = run("compare", *paths, "--model", "claude-opus-4-7", "--no-resize")
    assert refused.exit_code == 1 and "2000 px" in refused.stderr
    assert len(api.messages_requests()) == 1


# --------------------------------------------------------------------------------------------------
# Preflight failures: exit 1, nothing sent
# --------------------------------------------------------------------------------------------------


def test_unreadable_and_missing_files_stop_before_any_request(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    result = run("ask", make_image("ok.png"), junk, tmp_path / "gone.jpg")
    assert result.exit_code == 1
    errors = error_lines(result.stderr)
    assert len(errors) == 2
    assert str(junk) in errors[0] and "gone.jpg" in errors[1] and "no such file" in errors[1]
    assert api.requests == []


def test_more_images_than_the_model_takes(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    for i in range(101):
        make_image(f"{i:03}.png", (8, 8), folder=folder)
    result = run("ask", folder, "--model", "claude-haiku-4-5")  # 100 images a request
    assert result.exit_code == 1
    (error,) = error_lines(result.stderr)
    assert "101 images" in error and "at most 100" in error and "fewer" in error
    assert api.requests == []


def test_a_request_over_32_megabytes_stops_and_suggests_files(
    run: Run, api: FakeClaudeAPI, tmp_path: Path
) -> None:
    data = encode(noise((1400, 1400)), "PNG")
    assert 6_000_000 < policy.base64_length(len(data)) < 10 * 1024 * 1024
    paths = []
    for i in range(5):
        paths.append(tmp_path / f"noise{i}.png")
        paths[-1].write_bytes(data)
    result = run("ask", *paths, "--no-resize", "--max-bytes", "10MB")
    assert result.exit_code == 1
    (error,) = error_lines(result.stderr)
    assert "32 MB" in error and "--source file" in error
    assert api.requests == []


# --------------------------------------------------------------------------------------------------
# Output: streaming, usage table, --json, --dry-run
# --------------------------------------------------------------------------------------------------


def test_answer_streams_to_stdout_and_usage_goes_to_stderr(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    result = run("ask", make_image("a.png", (1000, 1000)), "-p", "What is it?")
    assert result.exit_code == 0, result.stderr
    request = only_request(api)
    assert request.body["stream"] is True
    assert result.stdout == "I see 1 image(s): 1000x1000 image/png. Prompt: What is it?\n"
    table = result.stderr.splitlines()[-4:]
    assert table[0].split() == ["tokens", "cost"]
    # the fake's usage: 1296 image tokens + ceil(11 chars / 4) = 1299; 10 words out
    assert table[1].split()[:3] == ["input", "1,299", units.format_usd(1299 * 3 / 1e6)]
    assert "images ≈ 1,296 (estimated)" in table[1]
    assert table[2].split()[:3] == ["output", "10", units.format_usd(10 * 15 / 1e6)]
    assert table[3].split()[:3] == ["total", "1,309", units.format_usd((1299 * 3 + 150) / 1e6)]
    assert "claude-sonnet-4-6" in table[3] and catalog.load().date in table[3]


def test_quiet_prints_only_the_answer(run: Run, api: FakeClaudeAPI, make_image: MakeImage) -> None:
    result = run("ask", make_image("a.png"), "--quiet")
    assert result.exit_code == 0
    assert result.stderr == "" and result.stdout.startswith("I see 1 image(s)")


def test_json_prints_one_object_with_exactly_the_documented_fields(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    a, b = make_image("a.png", (300, 200)), make_image("b.jpg", (4032, 3024))
    result = run("ask", a, b, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert list(doc) == ["id", "model", "text", "stop_reason", "usage", "cost_usd", "images"]
    request = only_request(api)
    assert "stream" not in request.body  # --json does not stream
    assert doc["id"].startswith("msg_") and doc["model"] == "claude-sonnet-4-6"
    assert doc["text"].startswith("I see 2 image(s): 300x200 image/png, 1270x952 image/jpeg")
    assert doc["stop_reason"] == "end_turn"
    assert list(doc["usage"]) == ["input_tokens", "output_tokens"]
    usage = doc["usage"]
    assert doc["cost_usd"] == pytest.approx(
        usage["input_tokens"] * 3 / 1e6 + usage["output_tokens"] * 15 / 1e6
    )
    sent = images_of(last_turn(request))
    assert doc["images"] == [
        {"path": str(a), "media_type": "image/png", "width": 300, "height": 200,
         "bytes": len(base64.b64decode(sent[0]["source"]["data"]))},
        {"path": str(b), "media_type": "image/jpeg", "width": 1270, "height": 952,
         "bytes": len(base64.b64decode(sent[1]["source"]["data"]))},
    ]  # fmt: skip
    assert result.stderr == ""


def test_dry_run_needs_no_key_sends_nothing_and_prints_the_exact_body(
    run: Run,
    fake_api: FakeClaudeAPI,
    make_image: MakeImage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.base_url)
    a, b = make_image("a.png", (640, 480)), make_image("b.jpg", (4032, 3024))
    args = ("ask", a, b, "--system", "Be brief.", "--max-tokens", "200")
    dry = run(*args, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert fake_api.requests == []
    body = json.loads(dry.stdout)
    data = images_of(body["messages"][0]["content"])[1]["source"]["data"]
    assert data.startswith("<") and data.endswith(" bytes base64>")
    assert "Estimate for claude-sonnet-4-6" in dry.stderr
    assert "images 1,978," in dry.stderr  # 414 + 1564 tokens
    # The same command for real sends exactly that body.
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    assert run(*args).exit_code == 0
    assert bodies.shorten_base64(only_request(fake_api).body) == body
    sent = images_of(last_turn(only_request(fake_api)))[1]["source"]["data"]
    assert data == f"<{len(sent)} bytes base64>"


def test_dry_run_json_holds_request_and_estimate(run: Run, make_image: MakeImage) -> None:
    result = run("ask", make_image("a.png", (1000, 1000)), "--dry-run", "--json", "-p", "x" * 8)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert list(doc) == ["request", "estimate"]
    assert "stream" not in doc["request"]
    est = doc["estimate"]
    assert (est["image_tokens"], est["text_tokens"], est["input_tokens"]) == (1296, 2, 1298)
    assert est["max_output_tokens"] == 1024
    assert est["max_cost_usd"] == pytest.approx(1298 * 3 / 1e6 + 1024 * 15 / 1e6)


def test_dry_run_json_costs_are_rounded(run: Run, make_image: MakeImage) -> None:
    """The sum of two costs showed its float error ("max_cost_usd": 0.0039239999999999995),
    where the other cost fields are round."""
    args = ("--dry-run", "--json", "-p", "x" * 8, "--max-tokens", "2")
    result = run("ask", make_image("a.png", (1000, 1000)), *args)
    assert result.exit_code == 0, result.stderr
    est = json.loads(result.stdout)["estimate"]
    assert (est["input_tokens"], est["max_output_tokens"]) == (1298, 2)
    assert est["max_cost_usd"] == 0.003924
    assert est["max_cost_usd"] == round(est["input_cost_usd"] + est["max_output_cost_usd"], 10)
    assert "0.0039239999" not in result.stdout


def test_dry_run_never_imports_the_sdk(make_image: MakeImage) -> None:
    code = (
        "import sys\n"
        "from vision_cli.cli.app import entrypoint\n"
        "try:\n"
        f"    entrypoint(['ask', {str(make_image('a.png'))!r}, '--dry-run', '--quiet'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('SDK', 'anthropic' in sys.modules, 'httpx2' in sys.modules, file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert '"model": "claude-sonnet-4-6"' in proc.stdout
    assert "SDK False False" in proc.stderr


@pytest.mark.parametrize("command", ["ask", "compare"])
def test_the_sdk_is_imported_while_the_images_are_prepared(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    """The background import starts before the images are read and prepared, not after."""
    from vision_cli.asking import fitting
    from vision_cli.cli import sending

    order: list[str] = []
    started, prepare = sending.import_sdk_early, fitting.preflight

    def start() -> None:
        order.append("import")
        started()

    def preflight(*args: Any, **kwargs: Any) -> Any:
        order.append("prepare")
        return prepare(*args, **kwargs)

    monkeypatch.setattr(sending, "import_sdk_early", start)
    monkeypatch.setattr(fitting, "preflight", preflight)
    result = run(command, make_image("a.png"), make_image("b.png"))
    assert result.exit_code == 0, result.stderr
    assert order == ["import", "prepare"] and len(api.requests) == 1
    order.clear()
    assert run(command, make_image("a.png"), make_image("b.png"), "--dry-run").exit_code == 0
    assert order == ["prepare"]  # a dry run never starts it


def test_a_failed_background_import_is_silent_and_fails_where_the_sdk_is_used(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    from vision_cli.cli import sending

    monkeypatch.setitem(sys.modules, "anthropic", None)  # `import anthropic` now fails
    before = set(threading.enumerate())
    sending.import_sdk_early()
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=30)
    assert capfd.readouterr().err == ""  # no thread traceback
    with pytest.raises(ImportError):
        import anthropic  # noqa: F401


@pytest.mark.parametrize("args", [["--help"], ["ask", "--help"], ["compare", "--help"]])
def test_help_never_imports_the_sdk(args: list[str]) -> None:
    imported = imported_by(*args)
    assert "vision_cli.cli.app" in imported  # the measurement works
    assert not {m for m in imported if m.split(".")[0] in ("anthropic", "httpx2")}


# --------------------------------------------------------------------------------------------------
# Errors and exit codes
# --------------------------------------------------------------------------------------------------


def test_missing_key_stops_before_any_request(
    run: Run, fake_api: FakeClaudeAPI, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.base_url)
    result = run("ask", make_image("a.png"))
    assert result.exit_code == 2
    (error,) = error_lines(result.stderr)
    assert error.startswith("Error: ANTHROPIC_API_KEY is not set")
    assert fake_api.requests == []


ERRORS = [
    (400, "invalid_request_error",
     "messages.0.content.0.image.source.base64: image exceeds 5 MB maximum: 15908784 bytes > "
     "5242880 bytes"),
    (401, "authentication_error", "invalid x-api-key"),
    (413, "request_too_large", "Request exceeds the maximum size"),
    (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"),
    (500, "api_error", "Internal server error"),
    (529, "overloaded_error", "Overloaded"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "kind", "message"), ERRORS)
def test_api_errors_are_one_line_and_exit_3(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    sleeps: list[float],
    status: int,
    kind: str,
    message: str,
) -> None:
    api.fail_next(status, message=message, retry_after=0.01, times=3)
    result = run("ask", make_image("a.png"), "--quiet")
    assert result.exit_code == 3
    request_id = api.requests[-1].request_id
    assert result.stderr == f"Error: HTTP {status} {kind}: {message} (request id {request_id})\n"
    assert result.stdout == ""
    retried = status in (429, 500, 529)
    assert len(api.messages_requests()) == (3 if retried else 1)  # the default: 2 retries


def test_connection_refused_exits_3(
    run: Run, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{port}")
    result = run("ask", make_image("a.png"), "--quiet", "--max-retries", "1")
    assert result.exit_code == 3
    (error,) = error_lines(result.stderr)
    assert error.startswith("Error: connection_error: could not reach the API at http://127.0.0.1")
    assert len(sleeps) == 1  # dropped connections are retried too


def _cut_mid_stream(listener: socket.socket) -> None:
    """Answer one request with the start of a streamed message, then close the connection
    before the body's announced length has come."""
    conn, _ = listener.accept()
    with conn:
        received = b""
        while b"\r\n\r\n" not in received:
            received += conn.recv(65536)
        head, _, body = received.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += conn.recv(65536)
        start = {
            "type": "message_start",
            "message": {
                "id": "msg_cut", "type": "message", "role": "assistant", "content": [],
                "model": "claude-sonnet-4-6", "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 1},
            },
        }  # fmt: skip
        events = [
            ("message_start", start),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0,
                 "content_block": {"type": "text", "text": ""}},
            ),
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0,
                 "delta": {"type": "text_delta", "text": "I see "}},
            ),
        ]  # fmt: skip
        sent = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"content-length: 100000\r\nrequest-id: req_cut\r\n\r\n" + sent.encode()
        )
    # closed here, 100,000 bytes announced and a few hundred sent


def test_a_connection_cut_mid_stream_is_a_connection_error(
    run: Run, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpx's error from inside the stream (after the SDK's retries are over) was shown as
    "Error: RemoteProtocolError: peer closed connection ..." instead of the documented
    ``connection_error: ...`` line."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        server = threading.Thread(target=_cut_mid_stream, args=(listener,), daemon=True)
        server.start()
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{port}")
        result = run("ask", make_image("a.png"), "--max-retries", "0")
        server.join(timeout=60)
    assert result.exit_code == 3, result.stderr
    (error,) = error_lines(result.stderr)
    assert error.startswith("Error: connection_error: ") and "127.0.0.1" in error, error
    assert "RemoteProtocolError" not in error and "peer closed" in error, error


def test_a_slow_api_times_out_with_exit_3(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    api.delay = 5
    result = run("ask", make_image("a.png"), "--timeout", "0.3", "--max-retries", "0")
    assert result.exit_code == 3
    assert "timeout_error" in error_lines(result.stderr)[0]


def test_429_is_retried_after_the_time_the_api_asks(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, sleeps: list[float]
) -> None:
    api.fail_next(429, retry_after=0.25, times=2)
    result = run("ask", make_image("a.png"))
    assert result.exit_code == 0, result.stderr
    assert [r.status for r in api.messages_requests()] == [429, 429, 200]
    assert sleeps == [0.25, 0.25]  # retry-after, not the SDK's own backoff


def test_529_and_500_are_retried_up_to_max_retries(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, sleeps: list[float]
) -> None:
    api.fail_next(529)
    api.fail_next(500)
    assert run("ask", make_image("a.png"), "--max-retries", "2").exit_code == 0
    assert [r.status for r in api.messages_requests()] == [529, 500, 200]
    api.fail_next(529, times=5)
    result = run("ask", make_image("b.png"), "--max-retries", "1", "--quiet")
    assert result.exit_code == 3 and "HTTP 529 overloaded_error: Overloaded" in result.stderr
    assert [r.status for r in api.messages_requests()][3:] == [529, 529]


def test_no_retries_with_max_retries_0(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, sleeps: list[float]
) -> None:
    api.fail_next(529)
    assert run("ask", make_image("a.png"), "--max-retries", "0").exit_code == 3
    assert len(api.messages_requests()) == 1 and sleeps == []


def test_a_stream_that_breaks_exits_3(run: Run, api: FakeClaudeAPI, make_image: MakeImage) -> None:
    api.fail_stream_next("overloaded_error")
    result = run("ask", make_image("a.png"))
    assert result.exit_code == 3
    assert "Error: HTTP 529 overloaded_error: Overloaded" in result.stderr


def test_interrupt_exits_130_and_saves_nothing(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def interrupted(*args: object, **kwargs: object) -> messages.Reply:
        raise KeyboardInterrupt

    monkeypatch.setattr(messages, "stream_message", interrupted)
    conversation = tmp_path / "chat.json"
    result = run("ask", make_image("a.png"), "--conversation", conversation)
    assert result.exit_code == 130
    assert "interrupted" in result.stderr and "Traceback" not in result.output
    assert not conversation.exists()


def test_the_api_key_never_appears_in_any_output(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    monkeypatch: pytest.MonkeyPatch,
    sleeps: list[float],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("VISION_CLI_DEBUG", "1")
    path = make_image("a.png")
    outputs = [run("ask", path, "--dry-run"), run("ask", path, "--dry-run", "--json")]
    api.fail_next(429, retry_after=0.01)
    outputs.append(run("ask", path, "--conversation", tmp_path / "c.json"))
    outputs.append(run("ask", path, "--json", "--source", "file"))
    api.fail_next(401, message=f"invalid x-api-key: {KEY}")
    outputs.append(run("ask", path))
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    outputs.append(run("ask", path, "--max-retries", "0"))
    assert [r.exit_code for r in outputs] == [0, 0, 0, 0, 3, 3]
    assert "debug: anthropic._base_client: Retrying request" in outputs[2].stderr
    for result in outputs:
        assert KEY not in result.stdout and KEY not in result.stderr
        assert KEY[12:30] not in result.output
    assert "[redacted]" in outputs[4].stderr
    assert KEY not in (tmp_path / "c.json").read_text()
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "vision-cli" / "files.json"
    assert KEY not in cache.read_text()


# --------------------------------------------------------------------------------------------------
# Sources: URLs, downloads, the Files API and its cache
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def image_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on 127.0.0.1 serving ``tmp_path / "www"``: (base URL, folder)."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_urls_are_sent_as_url_sources_and_not_fetched(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    url = "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg"
    result = run("ask", url, make_image("b.png"))
    assert result.exit_code == 0, result.stderr
    content = last_turn(only_request(api))
    assert content[1] == {
        "type": "image",
        "source": {"type": "url", "url": url},
        "transformations": {"oversized_image": "error"},
    }
    assert "not counted" in result.stderr  # the API fetches it: its tokens are unknown here


def test_download_fetches_checks_and_sends_base64(
    run: Run, api: FakeClaudeAPI, image_server: tuple[str, Path]
) -> None:
    base, root = image_server
    (root / "big.jpg").write_bytes(encode(picture((3000, 2000)), "JPEG"))
    url = f"{base}/big.jpg"
    # a dry run downloads nothing, but refuses what the real run refuses without connecting
    # (it passed a download from 127.0.0.1 that the real run refused)
    for args in (["--quiet"], ["--each", "-o", "dry.jsonl"]):
        refused = run("ask", url, "--download", "--dry-run", *args)
        assert refused.exit_code == 1 and "--allow-private-urls" in refused.output, args
    dry = run("ask", url, "--download", "--dry-run", "--quiet", "--allow-private-urls")
    assert dry.exit_code == 0 and url in dry.stdout
    result = run("ask", url, "--download", "--allow-private-urls")
    assert result.exit_code == 0, result.stderr
    (seen,) = only_request(api).images
    assert seen.source_type == "base64" and seen.width is not None
    assert max(seen.width, seen.height or 0) <= 1568
    missing = run("ask", f"{base}/nope.jpg", "--download", "--allow-private-urls")
    assert missing.exit_code == 1 and "HTTP 404" in missing.stderr
    assert len(api.messages_requests()) == 1


def test_files_api_uploads_once_and_the_cache_remembers(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    a, b = make_image("a.png", (300, 300)), make_image("b.jpg", (400, 300))
    first = run("ask", a, b, "--source", "file")
    assert first.exit_code == 0, first.stderr
    assert len(api.requests_to("/v1/files")) == 2
    second = run("ask", a, b, "--source", "file")
    assert second.exit_code == 0, second.stderr
    assert len(api.requests_to("/v1/files")) == 2  # the second run uploads nothing
    one, two = api.messages_requests()
    ids = [b["source"]["file_id"] for b in images_of(last_turn(one))]
    assert ids == [b["source"]["file_id"] for b in images_of(last_turn(two))]
    assert set(ids) == set(api.files)
    assert bodies.FILES_BETA in two.headers.get("anthropic-beta", "")
    assert [i.source_type for i in two.images] == ["file", "file"]
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "vision-cli" / "files.json"
    entries = json.loads(cache.read_text())["files"].values()
    assert {e[api.base_url]["file_id"] for e in entries} == set(ids)
    third = run("ask", a, "--source", "file", "--no-cache")
    assert third.exit_code == 0
    assert len(api.requests_to("/v1/files")) == 3


def test_a_cached_file_id_the_api_forgot_is_uploaded_again(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    path = make_image("a.png")
    assert run("ask", path, "--source", "file").exit_code == 0
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "vision-cli" / "files.json"
    doc = json.loads(cache.read_text())
    for endpoints in doc["files"].values():
        endpoints[api.base_url]["file_id"] = "file_gone"
    cache.write_text(json.dumps(doc))
    result = run("ask", path, "--source", "file")
    assert result.exit_code == 0, result.stderr
    assert [r.status for r in api.messages_requests()] == [200, 404, 200]
    assert len(api.requests_to("/v1/files")) == 2
    assert "file_gone" not in cache.read_text()


def test_dry_run_shows_cached_file_ids_and_placeholders(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    a, b = make_image("a.png"), make_image("b.png", (50, 60))
    assert run("ask", a, "--source", "file").exit_code == 0
    (file_id,) = api.files
    dry = run("ask", a, b, "--source", "file", "--dry-run")
    assert dry.exit_code == 0
    sources_ = [
        i["source"]["file_id"] for i in images_of(json.loads(dry.stdout)["messages"][0]["content"])
    ]
    assert sources_[0] == file_id and sources_[1].startswith("<upload of ")
    assert len(api.requests) == 2  # the first run's upload and message only


# --------------------------------------------------------------------------------------------------
# Conversations: the guide's four images over two turns
# --------------------------------------------------------------------------------------------------


def test_four_images_over_two_turns(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    chat = tmp_path / "chat.json"
    p1, p2, p3, p4 = (make_image(f"{n}.png", (200 + 20 * n, 200)) for n in range(1, 5))
    first = run("ask", p1, p2, "-p", "How are these images different?", "--conversation", chat)
    assert first.exit_code == 0, first.stderr
    saved = json.loads(chat.read_text())
    assert saved["version"] == 1 and saved["model"] == "claude-sonnet-4-6"
    assert [m["role"] for m in saved["messages"]] == ["user", "assistant"]
    second = run(
        "ask", p3, p4, "-p", "Are these images similar to the first two?", "--conversation", chat
    )
    assert second.exit_code == 0, second.stderr
    turn1, turn2 = api.messages_requests()
    messages = turn2.body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0] == turn1.body["messages"][0]  # the first turn, images and all, as sent
    assert messages[1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": first.stdout.strip()}],
    }
    assert shape(messages[2]["content"]) == [
        "Image 1:", "image/png", "Image 2:", "image/png",
        "Are these images similar to the first two?",
    ]  # fmt: skip
    assert [(i.width, i.height) for i in turn2.images] == [
        (220, 200),
        (240, 200),
        (260, 200),
        (280, 200),
    ]
    saved = json.loads(chat.read_text())
    assert [m["role"] for m in saved["messages"]] == ["user", "assistant"] * 2
    assert saved["messages"][3]["content"][0]["text"] == second.stdout.strip()
    # Images are stored as sent: base64 that decodes to the image.
    assert decoded(images_of(saved["messages"][0]["content"])[0]).size == (220, 200)
    # A follow-up without images, and the system prompt kept from the file.
    assert run("ask", "-p", "Which is widest?", "--conversation", chat).exit_code == 0
    third = api.messages_requests()[-1].body
    assert len(third["messages"]) == 5 and shape(third["messages"][-1]["content"]) == [
        "Which is widest?"
    ]


def test_conversation_keeps_model_and_system(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VISION_CLI_MODEL")  # it would choose the model of every turn
    chat = tmp_path / "chat.json"
    first = run(
        "ask", make_image("a.png"), "--conversation", chat, "--model", "claude-haiku-4-5",
        "--system", "Respond only in Spanish.",
    )  # fmt: skip
    assert first.exit_code == 0, first.stderr
    assert run("ask", make_image("b.png"), "--conversation", chat).exit_code == 0
    second = api.messages_requests()[-1].body
    assert second["model"] == "claude-haiku-4-5"
    assert second["system"] == "Respond only in Spanish."


def test_a_failed_turn_leaves_the_conversation_as_it_was(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    chat = tmp_path / "chat.json"
    assert run("ask", make_image("a.png"), "--conversation", chat).exit_code == 0
    before = chat.read_bytes()
    api.fail_next(400, message="Invalid request")
    assert run("ask", make_image("b.png"), "--conversation", chat).exit_code == 3
    assert chat.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".chat")] == []


def test_a_broken_conversation_file_is_a_usage_error(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    chat = tmp_path / "chat.json"
    chat.write_text('{"messages": [{"role": "user", "content": "hi"}]}')
    result = run("ask", make_image("a.png"), "--conversation", chat)
    assert result.exit_code == 2 and "no answer" in result.stderr
    assert api.requests == []


def _saved(**changes: Any) -> dict[str, Any]:
    """A conversation file as vision-cli writes it (one image, one answer), with ``changes``."""
    png = io.BytesIO()
    Image.new("RGB", (40, 30), "teal").save(png, "PNG")
    image = {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": "image/png",
            "data": base64.b64encode(png.getvalue()).decode(),
        },
    }
    doc: dict[str, Any] = {
        "version": 1,
        "model": "claude-sonnet-5-5",
        "messages": [
            {"role": "user", "content": [image, {"type": "text", "text": "What is it?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "A teal square."}]},
        ],
    }
    doc.update(changes)
    return doc


def _retyped(doc: dict[str, Any], media_type: str) -> dict[str, Any]:
    doc["messages"][0]["content"][0]["source"]["media_type"] = media_type
    return doc


def _first_turn(doc: dict[str, Any], **members: Any) -> dict[str, Any]:
    doc["messages"][0].update(members)
    return doc


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        (_saved(version=99), "of version 99, and this vision-cli reads version 1"),
        (_saved(model=123), "the conversation's model is not text"),
        (_first_turn(_saved(), cache="x"), "turn 1 has members the API does not take (cache)"),
        (
            _first_turn(_saved(), content=[{"type": "weird"}]),
            'a content block of type "weird", which is not sent here',
        ),
        (_retyped(_saved(), "image/jpeg"), "claims to be image/jpeg but holds PNG bytes"),
        (_saved(model="no-such-model"), "the model saved in --conversation"),
    ],
    ids=["version", "model-type", "turn-member", "block-type", "media-type", "unknown-model"],
)
def test_a_conversation_the_api_would_refuse_is_refused_before_sending(
    run: Run,
    api: FakeClaudeAPI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    doc: dict[str, Any],
    words: str,
) -> None:
    """Each of these went to the API (a 400 and exit 3, or a file rewritten around a block the
    API took), or was taken for a --model the user never gave: exit 2, the file named, nothing
    sent."""
    monkeypatch.delenv("VISION_CLI_MODEL", raising=False)  # the saved model is used
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps(doc))
    result = run("ask", "--conversation", chat, "-p", "And now?")
    said = " ".join(result.stderr.replace("│", " ").split())
    assert result.exit_code == 2, said
    assert words in said and "chat.json" in said, said
    assert api.requests == []


def _text_of(doc: dict[str, Any], old: str, new: str) -> str:
    text = json.dumps(doc)
    assert old in text
    return text.replace(old, new)


def _emptied(content: Any) -> dict[str, Any]:
    doc = _saved()
    doc["messages"][1]["content"] = content
    return doc


def _with_number(value: float) -> dict[str, Any]:
    doc = _saved()
    doc["messages"][0]["content"][1]["x"] = value  # an extra member: not checked, but sent
    return doc


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (json.dumps(_emptied("")), "turn 2 has no content"),
        (json.dumps(_emptied([])), "turn 2 has no content"),
        (json.dumps(_with_number(float("nan"))), "NaN is not a JSON number"),
        (json.dumps(_with_number(float("-inf"))), "-Infinity is not a JSON number"),
        (_text_of(_saved(), '"version": 1', '"version": ' + "9" * 5000), "not valid JSON"),
        (json.dumps(_saved(version=True)), "version is true, and it must be a whole number"),
        (json.dumps(_saved(version="1")), 'version is "1", and it must be a whole number'),
    ],
    ids=["empty-text", "empty-list", "nan", "infinity", "huge-version", "true", "text-version"],
)
@pytest.mark.parametrize("dry_run", [False, True], ids=["send", "dry-run"])
def test_a_damaged_conversation_is_a_usage_error_naming_the_file(
    run: Run, api: FakeClaudeAPI, tmp_path: Path, text: str, words: str, dry_run: bool
) -> None:
    """Each of these was taken: an empty turn or a NaN went to the API (a 400, or the SDK's
    "Out of range float values", exit 3; --dry-run printed NaN, which is not JSON), a version
    of 5,000 digits was an internal error (70), ``true`` was taken for version 1, and "1" was
    said to differ from 1. Now: exit 2 naming the file, nothing sent or printed."""
    chat = tmp_path / "chat.json"
    chat.write_text(text)
    result = run("ask", "--conversation", chat, "-p", "And now?", *(["--dry-run"] * dry_run))
    said = " ".join(result.stderr.replace("│", " ").split())
    assert result.exit_code == 2, said
    assert words in said and "chat.json" in said, said
    assert api.requests == [] and result.stdout == ""


@pytest.mark.parametrize("mode", [[], ["--json"]], ids=["stream", "json"])
def test_an_empty_answer_is_not_saved_in_the_conversation(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path, mode: list[str]
) -> None:
    """An empty answer was saved as ``{"type": "text", "text": ""}``, which the API refuses in
    every later turn. The turn is left out now, and the run says so."""
    chat = tmp_path / "chat.json"
    assert run("ask", make_image("a.png"), "--conversation", chat).exit_code == 0
    before = chat.read_bytes()
    api.reply_text = ""
    result = run("ask", make_image("b.png"), "--conversation", chat, *mode)
    said = " ".join(result.stderr.split())
    assert result.exit_code == 0, said
    assert "the answer is empty, so this turn is not saved" in said
    assert chat.read_bytes() == before
    api.reply_text = None
    assert run("ask", "--conversation", chat, "-p", "And now?").exit_code == 0
    assert len(json.loads(chat.read_text())["messages"]) == 4


def test_a_saved_empty_answer_is_refused_before_sending(
    run: Run, api: FakeClaudeAPI, tmp_path: Path
) -> None:
    """A file an older vision-cli saved with an empty answer: the API refuses the empty text
    block (400, exit 3); it is a usage error naming the file now."""
    doc = _saved()
    doc["messages"][1]["content"] = [{"type": "text", "text": " "}]
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps(doc))
    result = run("ask", "--conversation", chat, "-p", "And now?")
    said = " ".join(result.stderr.replace("│", " ").split())
    assert result.exit_code == 2 and "a text block is empty" in said and "chat.json" in said, said
    assert api.requests == []


def test_a_conversation_as_vision_cli_writes_it_is_taken(
    run: Run, api: FakeClaudeAPI, tmp_path: Path
) -> None:
    chat = tmp_path / "chat.json"
    chat.write_text(json.dumps(_saved()))
    result = run("ask", "--conversation", chat, "-p", "And now?")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(chat.read_text())["messages"]) == 4


def test_earlier_images_count_toward_the_2000_px_rule(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    chat = tmp_path / "chat.json"
    wide = [make_image(f"w{i:02}.png", (2400, 240)) for i in range(12)]
    model = ("--model", "claude-opus-4-7", "--quiet")
    assert run("ask", *wide, "--conversation", chat, *model).exit_code == 0
    assert [i.width for i in api.messages_requests()[0].images] == [2400] * 12
    more = [make_image(f"m{i:02}.png", (2400, 240)) for i in range(10)]
    result = run("ask", *more, "--conversation", chat, *model)
    assert result.exit_code == 0, result.stderr
    seen = api.messages_requests()[-1].images
    assert len(seen) == 22 and all((i.width or 0) <= 2000 for i in seen)


# --------------------------------------------------------------------------------------------------
# The OpenAPI description accepts every body sent
# --------------------------------------------------------------------------------------------------


def test_request_bodies_match_the_openapi_description(
    run: Run,
    api: FakeClaudeAPI,
    openapi_validator: OpenApiValidator,
    make_image: MakeImage,
    tmp_path: Path,
) -> None:
    api.openapi = openapi_validator  # the fake answers 400 to a body the description refuses
    a, b = make_image("a.png"), make_image("b.jpg", (300, 400))
    chat = tmp_path / "chat.json"
    runs = [
        run("ask", a),
        run("compare", a, b, "--system", "Be brief.", "--json"),
        run("ask", "https://example.com/cat.jpg", b, "-p", "Same animal?"),
        run("ask", a, b, "--source", "file"),
        run("ask", a, "--conversation", chat),
        run("ask", b, "--conversation", chat, "-p", "And this one?"),
    ]
    assert [r.exit_code for r in runs] == [0] * len(runs), [r.stderr for r in runs]
    assert all(r.status == 200 for r in api.messages_requests())
    assert len(api.messages_requests()) == len(runs)


def test_the_shared_input_options(
    run: Run, make_image: MakeImage, tmp_path: Path, api: FakeClaudeAPI
) -> None:
    """--files-from (with -0), --exclude and --hidden choose the images, as for every command."""
    for name in ("a.png", "b.png", "skip/c.png", ".hidden/d.png"):
        make_image(f"imgs/{name}", (300, 200))
    folder = tmp_path / "imgs"
    result = run("ask", folder, "--exclude", "skip", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["request"]["messages"][-1]["content"]) == 5  # 2 x 2 + 1
    result = run("ask", folder, "--hidden", "--dry-run", "--json")
    assert len(json.loads(result.stdout)["request"]["messages"][-1]["content"]) == 9
    listing = f"{folder / 'a.png'}\0{folder / 'skip' / 'c.png'}\0"
    result = run("compare", "--files-from", "-", "-0", "--dry-run", "--json", input=listing)
    assert result.exit_code == 0, result.output
    labels = [
        b["text"]
        for b in json.loads(result.stdout)["request"]["messages"][-1]["content"]
        if b["type"] == "text"
    ]
    assert labels[:2] == ["Image 1:", "Image 2:"]
    clash = run("ask", "--files-from", "-", "-p", "-", input="x")
    assert clash.exit_code == 2 and "--files-from -" in clash.stderr
    assert api.requests == []  # nothing was sent


def test_a_long_wait_the_api_asks_for_is_said_not_silent(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    sleeps: list[float],
    tmp_path: Path,
) -> None:
    """A 429 with ``retry-after: 3600``: the SDK waits an hour; vision-cli sat silent through it.
    A wait of 10 s or more is said on stderr (with -q too: it is not the result), in ask and in
    --each; a short one passes in silence, as the SDK's own backoff does."""
    path = make_image("a.png")
    api.fail_next(429, retry_after=3600)
    result = run("ask", path, "-q")
    assert result.exit_code == 0, result.stderr
    assert sleeps == [3600]
    said = " ".join(result.stderr.split())
    assert "the API asked to wait 3,600 s before the next try (retry-after): waiting" in said
    api.fail_next(429, retry_after=2)
    assert "asked to wait" not in run("ask", path, "-q").stderr
    api.fail_next(429, retry_after=60)
    each = run("ask", path, "--each", "-o", tmp_path / "r.jsonl", "-q")
    assert each.exit_code == 0, each.stderr
    assert "the API asked to wait 60 s" in " ".join(each.stderr.split())


def test_debug_shows_the_sdks_retries_under_each_too(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    monkeypatch: pytest.MonkeyPatch,
    sleeps: list[float],
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("VISION_CLI_DEBUG", "1")
    api.fail_next(429, retry_after=0.01)
    result = run("ask", make_image("a.png"), "--each", "-o", tmp_path / "r.jsonl")
    assert result.exit_code == 0, result.stderr
    assert "debug: anthropic._base_client: Retrying request" in result.stderr


def test_a_log_record_of_another_shape_is_not_a_retry_and_not_an_error() -> None:
    """The handler on the SDK's logger reads the wait from the SDK's own retry record; a record
    whose message is not text (any library may log an object) is passed over, where it raised
    inside the handler and logging printed its own traceback."""
    from vision_cli.cli import sending

    def record(msg: object, *args: object) -> logging.LogRecord:
        return logging.LogRecord("anthropic._base_client", logging.INFO, "", 0, msg, args, None)

    assert sending._retry_wait(record("Retrying request to %s in %f seconds", "/v1", 42.0)) == 42
    assert sending._retry_wait(record(ValueError("not text"))) is None
    assert sending._retry_wait(record("Sending HTTP Request: %s", "POST")) is None
