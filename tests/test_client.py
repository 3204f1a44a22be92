"""``vision_cli.client`` and the core of ``vision_cli.asking``: request building, sending through
the real SDK to the local fake API, error mapping, the Files API cache, conversations, estimates."""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import API_KEY, encode, picture
from tests.fakeapi import FakeClaudeAPI, OpenApiValidator
from vision_cli import catalog, sources
from vision_cli.asking import building, conversations, fitting, preparing, pricing, running
from vision_cli.client import bodies, connect, failures, filesapi, messages

KEY = API_KEY
MODEL = "claude-sonnet-4-6"


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    return encode(picture(size), "PNG")


def settings(**changes: Any) -> preparing.Settings:
    model = catalog.resolve(changes.pop("model_name", MODEL))
    return preparing.Settings(model=model, model_name=changes.pop("name", MODEL), **changes)


def body_with(*blocks: bodies.Block, prompt: str = "What is this?", **kw: Any) -> bodies.Body:
    return bodies.request_body(
        model=MODEL, max_tokens=64, messages=[bodies.user_turn(list(blocks), prompt)], **kw
    )


# --------------------------------------------------------------------------------------------------
# Request building
# --------------------------------------------------------------------------------------------------


def test_one_image_goes_before_the_prompt_without_a_label() -> None:
    block = bodies.image_block(bodies.url_source("https://example.com/a.jpg"))
    assert bodies.user_content([block], "Describe this image.") == [
        block,
        {"type": "text", "text": "Describe this image."},
    ]


def test_several_images_are_labelled_in_order_before_the_prompt() -> None:
    blocks = [bodies.image_block(bodies.file_source(f"file_{i}")) for i in range(3)]
    content = bodies.user_content(blocks, "How are these images different?")
    assert [b["type"] for b in content] == ["text", "image"] * 3 + ["text"]
    assert [b["text"] for b in content if b["type"] == "text"] == [
        "Image 1:",
        "Image 2:",
        "Image 3:",
        "How are these images different?",
    ]
    assert [b["source"]["file_id"] for b in content if b["type"] == "image"] == [
        "file_0",
        "file_1",
        "file_2",
    ]


def test_a_turn_without_images_is_just_the_prompt() -> None:
    assert bodies.user_content([], "And the colours?") == [
        {"type": "text", "text": "And the colours?"}
    ]


def test_body_has_system_at_the_top_and_stream_only_when_asked() -> None:
    plain = body_with()
    assert set(plain) == {"model", "max_tokens", "messages"}
    full = body_with(system="Respond only in Spanish.", stream=True)
    assert full["system"] == "Respond only in Spanish."
    assert full["stream"] is True and "temperature" not in full
    assert all(turn["role"] in ("user", "assistant") for turn in full["messages"])


def test_base64_source_round_trips_the_bytes() -> None:
    data = png()
    source = bodies.base64_source(data, "image/png")
    assert source["type"] == "base64" and source["media_type"] == "image/png"
    assert base64.b64decode(source["data"]) == data


def test_shorten_base64_names_the_length_and_leaves_the_body_alone() -> None:
    data = png()
    body = body_with(bodies.image_block(bodies.base64_source(data, "image/png")))
    short = bodies.shorten_base64(body)
    encoded = body["messages"][0]["content"][0]["source"]["data"]
    assert short["messages"][0]["content"][0]["source"]["data"] == f"<{len(encoded)} bytes base64>"
    assert body["messages"][0]["content"][0]["source"]["data"] == encoded  # not mutated


def test_call_arguments_name_what_the_sdk_names_and_put_files_in_the_beta() -> None:
    body = body_with(bodies.image_block(bodies.file_source("file_x")), system="Hi", stream=True)
    kwargs = messages.call_arguments(body)
    assert set(kwargs) == {"model", "max_tokens", "messages", "system", "betas"}
    assert kwargs["betas"] == [bodies.FILES_BETA]
    assert "betas" not in messages.call_arguments(body_with())
    # a member the SDK's methods do not name still goes, in extra_body
    later = {**body_with(), "a_later_member": {"x": 1}}
    assert messages.call_arguments(later)["extra_body"] == {"a_later_member": {"x": 1}}


# --------------------------------------------------------------------------------------------------
# Sending, through the real SDK, to the fake
# --------------------------------------------------------------------------------------------------


def test_missing_key_is_raised_before_anything_is_sent(fake_api: FakeClaudeAPI) -> None:
    with pytest.raises(failures.MissingKeyError) as caught:
        connect.make_client()
    assert str(caught.value).startswith("ANTHROPIC_API_KEY is not set")
    assert fake_api.requests == []


def test_create_message_sends_the_body_built(api: FakeClaudeAPI) -> None:
    body = body_with(bodies.image_block(bodies.base64_source(png(), "image/png")), system="Hi")
    reply = messages.create_message(connect.make_client(max_retries=0), body)
    assert reply.text == "I see 1 image(s): 64x48 image/png. Prompt: What is this?"
    assert reply.stop_reason == "end_turn" and reply.id.startswith("msg_")
    (seen,) = api.messages_requests()
    assert seen.body == body  # exactly the body built, system prompt included
    assert seen.api_key_given and "stream" not in seen.body
    assert reply.input_tokens > 0 and reply.output_tokens == len(reply.text.split())


def test_stream_message_calls_back_with_every_piece(api: FakeClaudeAPI) -> None:
    pieces: list[str] = []
    body = body_with(bodies.image_block(bodies.base64_source(png(), "image/png")), stream=True)
    reply = messages.stream_message(connect.make_client(max_retries=0), body, pieces.append)
    assert len(pieces) > 3 and "".join(pieces) == reply.text
    assert api.messages_requests()[0].body["stream"] is True


def test_a_stream_broken_by_an_error_event_is_an_api_failure(api: FakeClaudeAPI) -> None:
    api.fail_stream_next("overloaded_error")
    with pytest.raises(failures.APIFailure) as caught:
        messages.stream_message(connect.make_client(max_retries=0), body_with(stream=True), print)
    assert (caught.value.status, caught.value.type) == (529, "overloaded_error")


@pytest.mark.parametrize(
    ("status", "kind", "message"),
    [
        (400, "invalid_request_error", "messages.0.content.0.image.source.base64: image exceeds "
         "5 MB maximum: 15908784 bytes > 5242880 bytes"),
        (401, "authentication_error", "invalid x-api-key"),
        (413, "request_too_large", "Request exceeds the maximum size"),
        (429, "rate_limit_error",
         "Number of request tokens has exceeded your per-minute rate limit"),
        (500, "api_error", "Internal server error"),
        (529, "overloaded_error", "Overloaded"),
    ],
)  # fmt: skip
def test_status_errors_map_to_one_line(
    api: FakeClaudeAPI, status: int, kind: str, message: str
) -> None:
    api.fail_next(status, message=message)
    with pytest.raises(failures.APIFailure) as caught:
        messages.create_message(connect.make_client(max_retries=0), body_with())
    failure = caught.value
    request_id = api.requests[-1].request_id
    assert (failure.status, failure.type, failure.message) == (status, kind, message)
    assert failure.request_id == request_id
    assert str(failure) == f"HTTP {status} {kind}: {message} (request id {request_id})"
    assert "\n" not in str(failure)


def test_connection_refused_has_no_status(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(failures.APIFailure) as caught:
        messages.create_message(connect.make_client(max_retries=0), body_with())
    assert caught.value.status is None and caught.value.type == "connection_error"
    assert f"127.0.0.1:{port}" in str(caught.value) and caught.value.retryable


def test_a_slow_answer_times_out(api: FakeClaudeAPI) -> None:
    api.delay = 3
    with pytest.raises(failures.APIFailure) as caught:
        messages.create_message(connect.make_client(max_retries=0, timeout=0.2), body_with())
    assert caught.value.status is None and caught.value.type == "timeout_error"


def test_the_key_is_redacted_from_failures(api: FakeClaudeAPI) -> None:
    api.fail_next(401, message=f"invalid x-api-key {KEY}")
    with pytest.raises(failures.APIFailure) as caught:
        messages.create_message(connect.make_client(max_retries=0), body_with())
    assert KEY not in str(caught.value) and KEY not in caught.value.message
    assert bodies.REDACTED in str(caught.value)


def test_api_failure_of_any_other_exception() -> None:
    failure = failures.api_failure(ValueError("odd\nsecond line"))
    assert (failure.status, failure.type, str(failure)) == (None, "ValueError", "ValueError: odd")
    assert failure.as_dict() == {"type": "ValueError", "status": None, "message": "odd"}


def test_retries_follow_max_retries(api: FakeClaudeAPI) -> None:
    api.fail_next(529, retry_after=0.01, times=2)
    reply = messages.create_message(connect.make_client(max_retries=2), body_with())
    assert reply.text
    assert [r.status for r in api.messages_requests()] == [529, 529, 200]


def test_count_tokens_sends_only_what_the_endpoint_takes(api: FakeClaudeAPI) -> None:
    sdk = connect.make_client(max_retries=0)
    assert messages.count_image_tokens(sdk, MODEL, png((1000, 1000)), "image/png") == 1296
    body = body_with(
        bodies.image_block(bodies.base64_source(png((56, 28)), "image/png")),
        prompt="abcd" * 10,
        system="abcd",
        stream=True,
    )
    assert messages.count_tokens(sdk, body) == 2 + 11  # 2 patches, 44 characters of text
    sent = api.requests_to("/v1/messages/count_tokens")
    assert set(sent[0].body) == {"model", "messages"}
    assert set(sent[1].body) == {"model", "messages", "system"}


# --------------------------------------------------------------------------------------------------
# Files API and its cache
# --------------------------------------------------------------------------------------------------


def test_upload_stores_the_bytes_through_the_beta(api: FakeClaudeAPI) -> None:
    data = png()
    file_id = filesapi.upload_file(
        connect.make_client(), data, filename="a.png", media_type="image/png"
    ).id
    stored = api.files[file_id]
    assert stored.data == data and stored.mime_type == "image/png" and stored.filename == "a.png"
    (upload,) = api.requests_to("/v1/files")
    assert bodies.FILES_BETA in upload.headers.get("anthropic-beta", "")


def test_file_cache_remembers_per_endpoint_and_forgets(tmp_path: Path) -> None:
    path = tmp_path / "c" / "files.json"
    one = filesapi.FileCache(path, endpoint="http://one")
    assert one.get("abc") is None
    assert one.put("abc", "file_1", media_type="image/png", size=10)
    assert one.get("abc") == "file_1"
    assert filesapi.FileCache(path, endpoint="http://two").get("abc") is None
    assert filesapi.FileCache(path, endpoint="http://one/").get("abc") == "file_1"
    names = sorted(p.name for p in path.parent.iterdir())
    assert names == ["files.json", "files.json.lock"]  # no temporary left
    one.forget(["file_1"])
    assert one.get("abc") is None


def test_a_damaged_cache_counts_as_empty_and_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "files.json"
    path.write_text("{not json")
    cache = filesapi.FileCache(path, endpoint="http://one")
    assert cache.get("abc") is None
    cache.put("abc", "file_1", media_type="image/png", size=1)
    assert json.loads(path.read_text())["files"]["abc"]["http://one"]["file_id"] == "file_1"


def test_resolve_files_uploads_each_content_once(api: FakeClaudeAPI, tmp_path: Path) -> None:
    data = png()
    same = [fitting.Image(f"{n}.png", "file", data=data, media_type="image/png") for n in "ab"]
    other = fitting.Image("c.png", "file", data=png((30, 30)), media_type="image/png")
    cache = filesapi.FileCache(tmp_path / "files.json")
    sdk = connect.make_client()
    files = running.resolve_files(sdk, [*same, other], cache)
    assert files.uploaded == 2 and len(api.files) == 2 and not files.cached
    again = running.resolve_files(sdk, [*same, other], cache)
    assert (
        again.uploaded == 0 and again.ids == files.ids and again.cached == set(files.ids.values())
    )
    assert len(api.requests_to("/v1/files")) == 2


# --------------------------------------------------------------------------------------------------
# OpenAPI: the bodies built here are valid requests
# --------------------------------------------------------------------------------------------------


def test_built_bodies_match_the_openapi_description(openapi_validator: OpenApiValidator) -> None:
    b64 = bodies.image_block(bodies.base64_source(png(), "image/png"))
    url = bodies.image_block(bodies.url_source("https://example.com/a.jpg"))
    history = [bodies.user_turn([b64, url], "How are these different?"), bodies.assistant_turn("A")]
    body = bodies.request_body(
        model=MODEL,
        max_tokens=100,
        system="Respond only in Spanish.",
        messages=[*history, bodies.user_turn([b64], "And this one?")],
        stream=True,
    )
    openapi_validator.validate_messages_body(body)
    files = body_with(bodies.image_block(bodies.file_source("file_abc")))
    openapi_validator.validate_messages_body(files, "/v1/messages?beta=true")


# --------------------------------------------------------------------------------------------------
# asking: preflight, request, estimate, conversations
# --------------------------------------------------------------------------------------------------


def test_default_prompts_are_the_guides() -> None:
    assert preparing.default_prompt(1) == "Describe this image."
    assert preparing.default_prompt(2) == "Describe these images."
    assert preparing.default_prompt(2, compare=True) == "How are these images different?"


def test_too_many_images_is_found_before_any_file_is_read(tmp_path: Path) -> None:
    items = [
        sources.Input(f"missing{i}.png", path=tmp_path / f"missing{i}.png") for i in range(101)
    ]
    with pytest.raises(preparing.PreflightError) as caught:
        fitting.preflight(items, settings(model_name="claude-haiku-4-5"))
    (failure,) = caught.value.failures
    assert "101 images" in failure.message and "at most 100" in failure.message


def test_earlier_images_count_toward_the_limit(tmp_path: Path) -> None:
    items = [sources.Input("a.png", path=tmp_path / "a.png")]
    with pytest.raises(preparing.PreflightError) as caught:
        fitting.preflight(items, settings(model_name="claude-haiku-4-5"), earlier_images=100)
    assert "100 of them in earlier turns" in str(caught.value)


def test_every_unfixable_input_is_reported(tmp_path: Path) -> None:
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    (tmp_path / "ok.png").write_bytes(png())
    items: list[sources.Input | sources.Problem] = [
        sources.Input("junk.png", path=tmp_path / "junk.png"),
        sources.Input("ok.png", path=tmp_path / "ok.png"),
        sources.Input("gone.png", path=tmp_path / "gone.png"),
    ]
    with pytest.raises(preparing.PreflightError) as caught:
        fitting.preflight(items, settings())
    assert [f.label for f in caught.value.failures] == ["junk.png", "gone.png"]


def test_no_resize_sends_the_bytes_unless_they_break_a_limit(tmp_path: Path) -> None:
    data = png((2400, 100))
    (tmp_path / "wide.png").write_bytes(data)
    item = sources.Input("wide.png", path=tmp_path / "wide.png")
    (image,) = fitting.preflight([item], settings(resize=False))
    assert image.data == data and image.action == "as-is"
    assert any("shrink" in w for w in image.warnings)
    with pytest.raises(preparing.PreflightError) as caught:
        fitting.prepare_image(item, settings(resize=False), many=True)
    assert "2000 px" in str(caught.value) and "--no-resize" in str(caught.value)


def test_request_estimate_and_cost() -> None:
    data = png((1000, 1000))
    image = fitting.fit_bytes(data, settings())
    assert image.tokens == 1296  # the documented answer for 1000 x 1000
    request = building.build_request([image], settings(), prompt="x" * 40)
    assert request.image_tokens == 1296 and request.text_tokens == 10
    est = pricing.estimate(request, settings(max_tokens=1000))
    assert est.input_tokens == 1306
    assert est.input_cost_usd == pytest.approx(1306 * 3 / 1e6)
    assert est.max_output_cost_usd == pytest.approx(1000 * 15 / 1e6)
    model = catalog.resolve(MODEL)
    assert pricing.cost_usd(model, 1_000_000, 1_000_000) == pytest.approx(18.0)
    assert pricing.cost_usd(model, 1_000_000, 1_000_000, batch=True) == pytest.approx(9.0)
    assert request.params == {k: v for k, v in request.body.items() if k != "stream"}


def test_request_over_32_megabytes_is_refused() -> None:
    big = fitting.Image("a.png", "base64", data=b"\0" * (9 * 1024 * 1024), media_type="image/png")
    request = building.build_request([big] * 3, settings(), prompt="?")
    with pytest.raises(preparing.PreflightError) as caught:
        building.check_request(request, settings())
    assert "32 MB" in str(caught.value) and "--source file" in str(caught.value)


def test_conversation_files_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    assert conversations.load_conversation(path) == conversations.Conversation()
    path.write_text(json.dumps([{"role": "user", "content": "hi"}]))
    with pytest.raises(preparing.PreflightError, match="no answer"):
        conversations.load_conversation(path)
    path.write_text(json.dumps({"messages": [{"role": "assistant", "content": "hi"}]}))
    with pytest.raises(preparing.PreflightError, match="turn 1 should be a user turn"):
        conversations.load_conversation(path)
    path.write_text("[")
    with pytest.raises(preparing.PreflightError, match="not valid JSON"):
        conversations.load_conversation(path)
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    path.write_text(json.dumps({"version": 1, "model": "m", "system": "s", "messages": turns}))
    assert conversations.load_conversation(path) == conversations.Conversation(
        tuple(turns), "s", "m"
    )


def test_earlier_images_are_shrunk_when_the_request_passes_20() -> None:
    wide = png((2400, 200))
    block = bodies.image_block(bodies.base64_source(wide, "image/png"))
    history = conversations.Conversation(
        (bodies.user_turn([block], "first"), bodies.assistant_turn("ok"))
    )
    # (--no-resize: only the 2000 px rule could shrink it; the model's size is the API's to fit)
    as_is = settings(resize=False, oversized="downsize")
    few = conversations.fit_history(history, as_is, 20)
    assert few == history
    fitted = conversations.fit_history(history, settings(), 21)
    source = next(bodies.iter_image_blocks(fitted.messages))["source"]
    with Image.open(io.BytesIO(base64.b64decode(source["data"]))) as im:
        assert max(im.size) <= 2000
    assert (
        next(bodies.iter_image_blocks(history.messages))["source"]["data"]
        == block["source"]["data"]
    )  # the original is untouched


def test_the_module_never_imports_the_sdk_at_import_time() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pkgutil, importlib, vision_cli.client, vision_cli.asking, vision_cli.cli.ask;"
        "[importlib.import_module(f'{p.__name__}.{m.name}') for p in (vision_cli.client,"
        " vision_cli.asking) for m in pkgutil.iter_modules(p.__path__)];"
        "print('anthropic' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ
    )
    assert out.stdout.strip() == "False", out.stderr


def test_a_signal_while_the_client_is_built_arrives_once_it_is_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGTERM or Ctrl-C in the middle of the SDK client's constructor left a half-built client,
    whose clean-up printed "Exception ignored in SyncHttpxClientWrapper.__del__" and a traceback
    after ``--each``'s "interrupted" line (about one run in twelve, in a sweep of SIGTERMs)."""
    import os
    import signal
    import threading
    import time

    import anthropic

    from vision_cli.client import connect

    built: list[str] = []

    class Constructor:
        def __init__(self, **kwargs: object) -> None:
            os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of the constructor
            time.sleep(0.05)  # the rest of its work: time for the signal to be handled
            built.append("whole")

    monkeypatch.setattr(anthropic, "Anthropic", Constructor)
    # Another thread, as the SDK's import or a progress bar may be: the kernel may hand it the
    # process's signal, so masking signals in the main thread alone would not hold them.
    done = threading.Event()
    other = threading.Thread(target=done.wait, daemon=True)
    other.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            connect.make_client(vars={"ANTHROPIC_API_KEY": "sk-test"})
    finally:
        done.set()
        other.join()
    assert built == ["whole"]  # the constructor ran to its end before the interrupt
