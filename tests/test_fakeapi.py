"""Tests of the fake Claude API itself, driven through the real ``anthropic`` SDK and httpx."""

from __future__ import annotations

import base64
import io
import json
import math
import struct
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, cast

import anthropic
import httpx
import pytest
from anthropic.types import ImageDimensionsTooLargeError, Message
from PIL import Image

from tests.fakeapi import (
    DIRECT_API_MAX_IMAGE_BYTES,
    MB,
    FakeClaudeAPI,
    OpenApiValidator,
    SchemaViolation,
    load_openapi_validator,
)

Json = dict[str, Any]
MODEL = "claude-sonnet-4-6"
PROMPT = "What is in the picture?"
KEY = "test-key"


# --------------------------------------------------------------------------------------------
# Helpers


def image_bytes(size: tuple[int, int] = (64, 48), fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, fmt)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (a decompression bomb when large)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def base64_block(data: str, media_type: str = "image/png") -> Json:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def image(data: bytes, media_type: str = "image/png") -> Json:
    return base64_block(b64(data), media_type)


def user(*blocks: Json, text: str = PROMPT) -> Json:
    return {"role": "user", "content": [*blocks, {"type": "text", "text": text}]}


def assistant(text: str = "Noted.") -> Json:
    return {"role": "assistant", "content": text}


def create(client: anthropic.Anthropic, *messages: Json, **kwargs: Any) -> Message:
    """``messages.create`` with raw JSON turns (some deliberately invalid)."""
    kwargs.setdefault("max_tokens", 256)
    message: Message = client.messages.create(model=MODEL, messages=cast(Any, messages), **kwargs)
    return message


def error_json(error: anthropic.APIStatusError) -> Json:
    assert isinstance(error.body, dict)
    return cast(Json, error.body)


class Post(Protocol):
    def __call__(self, path: str, body: Any, **headers: str) -> httpx.Response: ...


@pytest.fixture(scope="module")
def sdk() -> Iterator[anthropic.Anthropic]:
    """One SDK client for the module: building one costs ~30 ms, ``with_options`` nothing."""
    with anthropic.Anthropic(api_key=KEY, base_url="http://127.0.0.1:9", max_retries=0) as shared:
        yield shared


@pytest.fixture
def client(sdk: anthropic.Anthropic, fake_api: FakeClaudeAPI) -> anthropic.Anthropic:
    """An SDK client on this test's fake that never retries unless a test asks it to."""
    return sdk.with_options(base_url=fake_api.base_url)


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as shared:
        yield shared


@pytest.fixture
def post(http: httpx.Client, fake_api: FakeClaudeAPI) -> Post:
    """A raw POST to this test's fake, with the test key unless headers say otherwise."""

    def send(path: str, body: Any, **headers: str) -> httpx.Response:
        sent = {"x-api-key": KEY, "anthropic-version": "2023-06-01", **headers}
        return http.post(fake_api.base_url + path, json=body, headers=sent)

    return send


def expect_bad_request(client: anthropic.Anthropic, *messages: Json) -> anthropic.BadRequestError:
    with pytest.raises(anthropic.BadRequestError) as caught:
        create(client, *messages)
    assert caught.value.type == "invalid_request_error"
    return caught.value


# --------------------------------------------------------------------------------------------
# Messages


def test_message_describes_every_image_and_estimates_tokens(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic
) -> None:
    png, jpeg = image_bytes((64, 48)), image_bytes((30, 30), "JPEG")
    message = create(client, user(image(png), image(jpeg, "image/jpeg")), system="Be brief.")

    text = f"I see 2 image(s): 64x48 image/png, 30x30 image/jpeg. Prompt: {PROMPT}"
    assert message.content[0].type == "text"
    assert message.content[0].text == text
    assert message.model == MODEL
    assert message.stop_reason == "end_turn"
    text_tokens = math.ceil(len("Be brief." + PROMPT) / 4)
    assert message.usage.input_tokens == text_tokens + 3 * 2 + 2 * 2
    assert message.usage.output_tokens == len(text.split())
    [record] = fake_api.messages_requests()
    assert record.status == 200
    assert record.request_id == message._request_id
    assert [(im.width, im.height, im.media_type) for im in record.images] == [
        (64, 48, "image/png"),
        (30, 30, "image/jpeg"),
    ]


def test_reply_text_override_extra_body_and_max_tokens_cut(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic
) -> None:
    fake_api.reply_text = "one two three four"
    message = create(client, user(), max_tokens=2, extra_body={"metadata": {"user_id": "u-1"}})

    assert message.content[0].type == "text"
    assert message.content[0].text == "one two"
    assert message.stop_reason == "max_tokens"
    assert fake_api.messages_requests()[0].body["metadata"] == {"user_id": "u-1"}


@pytest.mark.parametrize("name", ["temperature", "top_p", "top_k"])
def test_sampling_parameters_are_refused_from_api_version_2026_10_21(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic, post: Post, name: str
) -> None:
    refusal = {
        "type": "invalid_request_error",
        "message": f"{name}: Extra inputs are not permitted",
    }
    body = {"model": MODEL, "max_tokens": 16, "messages": [user()], name: 0.5}
    newer = {"anthropic-version": "2026-10-21"}
    for path in ("/v1/messages", "/v1/messages/count_tokens"):
        sent = (
            body if path == "/v1/messages" else {k: v for k, v in body.items() if k != "max_tokens"}
        )
        refused = post(path, sent, **newer)
        assert refused.status_code == 400 and refused.json()["error"] == refusal
        assert post(path, sent).status_code == 200  # 2023-06-01 still takes it
    with pytest.raises(anthropic.BadRequestError) as caught:  # the SDK sends 2026-10-21
        create(client, user(), extra_body={name: 0.5})
    assert error_json(caught.value)["error"] == refusal
    batch = client.messages.batches.create(
        requests=[
            {"custom_id": "a", "params": cast(Any, {**batch_request("a")["params"], name: 0.5})}
        ]
    )
    (line,) = client.messages.batches.results(batch.id)
    assert line.result.type == "errored" and line.result.error.error.message == refusal["message"]


def test_url_source_is_recorded_not_fetched(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic
) -> None:
    url = "https://example.invalid/cat.png"
    message = create(client, user({"type": "image", "source": {"type": "url", "url": url}}))

    assert message.content[0].type == "text"
    assert message.content[0].text.startswith(f"I see 1 image(s): url {url}.")
    assert fake_api.messages_requests()[0].images[0].reference == url


def test_images_in_earlier_turns_and_tool_results_are_found(client: anthropic.Anthropic) -> None:
    tool_result = {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": [image(image_bytes((10, 10)), "image/bmp")],
    }
    error = expect_bad_request(
        client, user(image(image_bytes())), assistant(), {"role": "user", "content": [tool_result]}
    )
    assert error.api_message == (
        "messages.2.content.0.tool_result.content.0.image.source.base64.media_type: "
        "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
    )


# --------------------------------------------------------------------------------------------
# Streaming


def test_stream_text_matches_final_message(client: anthropic.Anthropic) -> None:
    messages = cast(Any, [user(image(image_bytes((20, 10))))])
    with client.messages.stream(model=MODEL, max_tokens=256, messages=messages) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()

    assert len(pieces) > 3
    assert final.content[0].type == "text"
    assert "".join(pieces) == final.content[0].text
    assert final.content[0].text == f"I see 1 image(s): 20x10 image/png. Prompt: {PROMPT}"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == len(final.content[0].text.split())


def test_stream_sends_the_api_event_sequence(fake_api: FakeClaudeAPI, post: Post) -> None:
    fake_api.reply_text = "two words"
    body = {"model": MODEL, "max_tokens": 10, "stream": True, "messages": [user()]}
    response = post("/v1/messages", body)

    assert response.headers["content-type"] == "text/event-stream"
    events = [
        line.removeprefix("event: ") for line in response.text.splitlines() if "event:" in line
    ]
    assert events == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_stream_error_event_raises(fake_api: FakeClaudeAPI, client: anthropic.Anthropic) -> None:
    fake_api.fail_stream_next("overloaded_error")
    messages = cast(Any, [user()])
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model=MODEL, max_tokens=256, messages=messages) as stream,
    ):
        stream.get_final_message()

    assert caught.value.type == "overloaded_error"
    assert caught.value.api_message == "Overloaded"


# --------------------------------------------------------------------------------------------
# Token counting


def test_count_tokens_matches_the_message_usage(client: anthropic.Anthropic) -> None:
    turn = user(image(image_bytes((100, 60))))
    counted = client.messages.count_tokens(model=MODEL, messages=cast(Any, [turn]))

    assert counted.input_tokens == math.ceil(len(PROMPT) / 4) + 4 * 3
    assert counted.input_tokens == create(client, turn).usage.input_tokens


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                "messages": [
                    user({"type": "image", "source": {"type": "url", "url": "https://x/a"}})
                ]
            },
            "messages.0.content.0.image.source.url: "
            "token counting accepts base64 image sources only",
        ),
        ({"max_tokens": 5, "messages": [user()]}, "max_tokens: Extra inputs are not permitted"),
    ],
)
def test_count_tokens_refuses(body: Json, message: str, post: Post) -> None:
    response = post("/v1/messages/count_tokens", {"model": MODEL, **body})

    assert response.status_code == 400
    assert response.json()["error"] == {"type": "invalid_request_error", "message": message}


# --------------------------------------------------------------------------------------------
# Files


def test_upload_then_send_a_file_source(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic
) -> None:
    data = image_bytes((40, 30), "WEBP")
    uploaded = client.files.upload(file=("photo.webp", data, "image/webp"))

    assert uploaded.id.startswith("file_")
    assert (uploaded.filename, uploaded.mime_type, uploaded.size_bytes) == (
        "photo.webp",
        "image/webp",
        len(data),
    )
    assert fake_api.files[uploaded.id].data == data  # the multipart body arrived byte for byte
    assert client.files.retrieve_metadata(uploaded.id).id == uploaded.id
    file_block = {"type": "image", "source": {"type": "file", "file_id": uploaded.id}}
    message = create(client, user(file_block))
    assert message.content[0].type == "text"
    assert message.content[0].text.startswith("I see 1 image(s): 40x30 image/webp.")


def test_beta_upload_sends_the_beta_header(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic
) -> None:
    data = image_bytes((5, 5), "GIF")
    uploaded = client.beta.files.upload(
        file=("a.gif", data, "image/gif"), betas=["files-api-2025-04-14"]
    )

    [record] = fake_api.requests_to("/v1/files")
    assert record.headers["anthropic-beta"] == "files-api-2025-04-14"
    assert record.body["file"] == {
        "filename": "a.gif",
        "content_type": "image/gif",
        "size": len(data),
    }
    assert fake_api.files[uploaded.id].mime_type == "image/gif"


def test_unknown_file_id_is_not_found(client: anthropic.Anthropic) -> None:
    file_block = {"type": "image", "source": {"type": "file", "file_id": "file_missing"}}
    with pytest.raises(anthropic.NotFoundError) as caught:
        create(client, user(file_block))
    assert caught.value.type == "not_found_error"
    with pytest.raises(anthropic.NotFoundError):
        client.files.retrieve_metadata("file_missing")


# --------------------------------------------------------------------------------------------
# Message Batches


def batch_request(custom_id: str, *blocks: Json) -> Any:
    params = {"model": MODEL, "max_tokens": 100, "messages": [user(*blocks)]}
    return {"custom_id": custom_id, "params": params}


def test_batch_create_poll_end_and_results(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic
) -> None:
    fake_api.batch_polls_until_ended = 2
    good = batch_request("good", image(image_bytes()))
    bad = batch_request("bad", image(image_bytes(), "image/jpeg"))
    batch = client.messages.batches.create(requests=[good, bad])

    statuses = [batch.processing_status]
    while batch.processing_status != "ended" and len(statuses) < 10:
        batch = client.messages.batches.retrieve(batch.id)
        statuses.append(batch.processing_status)
    assert statuses == ["in_progress", "in_progress", "in_progress", "ended"]
    assert batch.request_counts.succeeded == batch.request_counts.errored == 1
    assert batch.results_url == f"{fake_api.base_url}/v1/messages/batches/{batch.id}/results"

    results = {line.custom_id: line.result for line in client.messages.batches.results(batch.id)}
    assert results["good"].type == "succeeded"
    assert results["good"].message.usage.service_tier == "batch"
    assert results["bad"].type == "errored"
    assert results["bad"].error.error.message == (
        "messages.0.content.0.image.source.base64.data: "
        "Image does not match the provided media type image/jpeg"
    )


def test_batch_cancel_ends_as_canceled(client: anthropic.Anthropic) -> None:
    batch = client.messages.batches.create(requests=[batch_request("a"), batch_request("b")])

    assert client.messages.batches.cancel(batch.id).processing_status == "canceling"
    ended = client.messages.batches.retrieve(batch.id)
    assert (ended.processing_status, ended.request_counts.canceled) == ("ended", 2)
    assert {r.result.type for r in client.messages.batches.results(batch.id)} == {"canceled"}


def test_batch_refuses_bad_custom_ids(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.batches.create(requests=[batch_request("photo.jpg")])
    assert caught.value.api_message == (
        "requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"
    )


def test_unknown_batch_is_not_found(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve("msgbatch_missing")


# --------------------------------------------------------------------------------------------
# Image validation


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            image(image_bytes(), "image/bmp"),
            "messages.0.content.0.image.source.base64.media_type: "
            "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'",
        ),
        (
            base64_block("@@"),
            "messages.0.content.0.image.source.base64: invalid base64 data",
        ),
        (
            base64_block(""),
            "messages.0.content.0.image.source.base64: image cannot be empty",
        ),
        (
            image(image_bytes(fmt="JPEG"), "image/png"),
            "messages.0.content.0.image.source.base64.data: "
            "Image does not match the provided media type image/png",
        ),
        (image(b"plain text, not an image"), "Could not process image"),
        (image(b"\x89PNG\r\n\x1a\n broken header"), "Could not process image"),
        (
            {"type": "image", "source": {"type": "s3", "bucket": "b"}},
            "messages.0.content.0.image.source: Input tag 's3' found using 'type' does not match "
            "any of the expected tags: 'base64', 'url', 'file'",
        ),
    ],
    ids=["media-type", "base64", "empty", "mismatch", "not-an-image", "broken", "source-type"],
)
def test_image_errors(client: anthropic.Anthropic, block: Json, message: str) -> None:
    assert expect_bad_request(client, user(block)).api_message == message


def test_mismatch_in_the_current_wording(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic
) -> None:
    fake_api.mismatch_wording = "current"
    error = expect_bad_request(client, user(image(image_bytes(fmt="GIF"), "image/webp")))
    assert error.api_message == (
        "messages.0.content.0.image.source.base64.data: The image was specified using the "
        "image/webp media type, but the image appears to be a image/gif image"
    )


@pytest.mark.parametrize("data", [image_bytes((8001, 8)), png_header_only(30_000, 30_000)])
def test_over_8000_pixels(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic, data: bytes
) -> None:
    with pytest.raises(ImageDimensionsTooLargeError) as caught:
        create(client, user(image(image_bytes())), assistant(), user(image(data)))

    assert caught.value.api_message == (
        "messages.2.content.0.image.source.base64.data: "
        "At least one of the image dimensions exceed max allowed size: 8000 pixels"
    )
    assert error_json(caught.value)["error"]["details"] == {
        "error_code": "image_dimensions_too_large",
        "max_side_length_pixels": 8000,
        "paths": ["messages.2.content.0"],
    }
    assert create(client, user(image(image_bytes((8000, 8))))).stop_reason == "end_turn"
    assert not fake_api.internal_errors


def test_many_image_limit_counts_every_turn(client: anthropic.Anthropic) -> None:
    small = image(image_bytes((4, 4)))
    large = image(image_bytes((2001, 4)))
    first, third = user(*[small] * 10), user(*[small] * 9, large)

    assert create(client, first, assistant(), third).stop_reason == "end_turn"  # 20 images
    error = expect_bad_request(client, first, assistant(), user(small, *third["content"]))
    assert error.api_message == (
        "messages.2.content.10.image.source.base64.data: At least one of the image dimensions "
        "exceed max allowed size for many-image requests: 2000 pixels"
    )


def test_images_per_request_limit_follows_the_model(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic
) -> None:
    turn = user(*[image(image_bytes((2, 2)))] * 101)
    error = expect_bad_request(client, turn)
    assert error.api_message == "Too much media: 0 document pages + 101 images > 100"

    fake_api.model_max_images[MODEL] = 600
    assert create(client, turn).content[0].type == "text"


def padded_png(base64_length: int) -> bytes:
    """A valid PNG padded so that its base64 form is at least ``base64_length`` characters."""
    data = image_bytes()
    return data + b"\0" * max(0, base64_length * 3 // 4 + 3 - len(data))


def test_byte_limit_is_measured_on_the_base64_string(client: anthropic.Anthropic) -> None:
    block = image(padded_png(5 * MB + 1))
    length = len(block["source"]["data"])

    error = expect_bad_request(client, user(block))
    assert error.api_message == (
        "messages.0.content.0.image.source.base64: "
        f"image exceeds 5 MB maximum: {length} bytes > 5242880 bytes"
    )


def test_ten_megabyte_option(fake_api: FakeClaudeAPI, client: anthropic.Anthropic) -> None:
    fake_api.max_image_bytes = DIRECT_API_MAX_IMAGE_BYTES
    assert create(client, user(image(padded_png(6 * MB)))).stop_reason == "end_turn"

    block = base64_block("A" * 11_174_516)
    error = expect_bad_request(client, user(block))
    assert error.api_message == (
        "messages.0.content.0.image.source.base64: "
        "image exceeds 10 MB maximum: 11174516 bytes > 10485760 bytes"
    )


def test_body_over_32_megabytes_is_413(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic
) -> None:
    block = base64_block("A" * (32 * MB))
    with pytest.raises(anthropic.ContentTooLargeError) as caught:
        create(client, user(block))

    assert error_json(caught.value)["error"] == {
        "type": "request_too_large",
        "message": "Request exceeds the maximum size",
    }
    [record] = fake_api.messages_requests()
    assert (record.status, record.body) == (413, None)
    assert create(client, user()).stop_reason == "end_turn"  # the connection is still usable


# --------------------------------------------------------------------------------------------
# Shape of the request


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"max_tokens": 5, "messages": [user()]}, "model: Field required"),
        ({"model": MODEL, "messages": [user()]}, "max_tokens: Field required"),
        (
            {"model": MODEL, "max_tokens": 0, "messages": [user()]},
            "max_tokens: Input should be greater than or equal to 1",
        ),
        (
            {"model": MODEL, "max_tokens": 5, "messages": []},
            "messages: at least one message is required",
        ),
        (
            {"model": MODEL, "max_tokens": 5, "messages": [assistant(), user()]},
            'messages: first message must use the "user" role',
        ),
        (
            {"model": MODEL, "max_tokens": 5, "messages": [user(), user()]},
            'messages: roles must alternate between "user" and "assistant", '
            'but found multiple "user" roles in a row',
        ),
        (
            {"model": MODEL, "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
            "messages.0.role: Input should be 'user' or 'assistant'",
        ),
        (
            {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": []}]},
            "messages.0: all messages must have non-empty content except for the optional final "
            "assistant message",
        ),
    ],
    ids=[
        "model",
        "max-tokens",
        "max-tokens-0",
        "empty",
        "first-role",
        "alternate",
        "role",
        "content",
    ],
)
def test_shape_errors(body: Json, message: str, post: Post) -> None:
    response = post("/v1/messages", body)

    assert response.status_code == 400
    assert response.json()["error"] == {"type": "invalid_request_error", "message": message}


def test_a_final_empty_assistant_turn_is_allowed(post: Post) -> None:
    body = {"model": MODEL, "max_tokens": 5, "messages": [user(), assistant("")]}
    assert post("/v1/messages", body).status_code == 200


# --------------------------------------------------------------------------------------------
# Auth, request ids, routing


def test_missing_key_is_401_with_a_request_id(fake_api: FakeClaudeAPI, post: Post) -> None:
    response = post("/v1/messages", {}, **{"x-api-key": ""})

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert response.headers["request-id"].startswith("req_")
    assert response.json()["request_id"] == response.headers["request-id"]
    assert fake_api.requests[0].api_key_given is False


def test_expected_key_is_enforced_and_never_recorded(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic, post: Post
) -> None:
    fake_api.expected_api_key = "right-key"
    with pytest.raises(anthropic.AuthenticationError) as caught:
        create(client.with_options(api_key="wrong-key"), user())
    assert caught.value.api_message == "invalid x-api-key"

    body = {"model": MODEL, "messages": [user()]}
    by_header = post("/v1/messages/count_tokens", body, **{"x-api-key": "right-key"})
    bearer = {"x-api-key": "", "authorization": "Bearer right-key"}
    by_bearer = post("/v1/messages/count_tokens", body, **bearer)
    assert (by_header.status_code, by_bearer.status_code) == (200, 200)
    recorded = json.dumps([r.headers for r in fake_api.requests])
    assert "right-key" not in recorded and "wrong-key" not in recorded
    assert all(r.api_key_given for r in fake_api.requests)


def test_unknown_route_is_404(post: Post) -> None:
    response = post("/v1/complete", {})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
    assert response.headers["request-id"].startswith("req_")


# --------------------------------------------------------------------------------------------
# Failure injection


def test_429_with_retry_after_is_retried_by_the_sdk(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic
) -> None:
    fake_api.fail_next(429, retry_after=0.05, times=2)
    started = time.monotonic()
    message = create(client.with_options(max_retries=2), user())
    elapsed = time.monotonic() - started

    assert message.stop_reason == "end_turn"
    records = fake_api.messages_requests()
    assert [r.status for r in records] == [429, 429, 200]
    assert [r.headers["x-stainless-retry-count"] for r in records] == ["0", "1", "2"]
    assert 0.1 <= elapsed < 0.6  # the SDK's own backoff (0.5 s, then 1 s) was not used


def test_529_exhausted_raises_overloaded_with_the_request_id(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic
) -> None:
    fake_api.fail_next(529, retry_after=0.01, times=3)
    with pytest.raises(anthropic.OverloadedError) as caught:
        create(client.with_options(max_retries=2), user())

    records = fake_api.messages_requests()
    assert [r.status for r in records] == [529, 529, 529]
    assert caught.value.request_id == records[-1].request_id
    assert error_json(caught.value)["error"] == {
        "type": "overloaded_error",
        "message": "Overloaded",
    }


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (413, anthropic.ContentTooLargeError, "request_too_large"),
        (500, anthropic.InternalServerError, "api_error"),
    ],
)
def test_fail_next_uses_the_status_error_type(
    client: anthropic.Anthropic,
    fake_api: FakeClaudeAPI,
    status: int,
    error_class: type[anthropic.APIStatusError],
    error_type: str,
) -> None:
    fake_api.fail_next(status, message="injected")
    with pytest.raises(error_class) as caught:
        create(client, user())
    assert (caught.value.status_code, caught.value.type) == (status, error_type)
    assert caught.value.api_message == "injected"
    assert create(client, user()).stop_reason == "end_turn"  # only the next request fails


def test_fail_next_can_target_one_path(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic
) -> None:
    fake_api.fail_next(500, path="/v1/messages/count_tokens")

    assert create(client, user()).stop_reason == "end_turn"
    with pytest.raises(anthropic.InternalServerError):
        client.messages.count_tokens(model=MODEL, messages=cast(Any, [user()]))


def test_fail_every_throttles_one_call_in_five_across_threads(
    fake_api: FakeClaudeAPI, post: Post
) -> None:
    fake_api.fail_every(5, 429, retry_after=1)
    body = {"model": MODEL, "messages": [user()]}

    def count(_: int) -> int:
        return post("/v1/messages/count_tokens", body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(count, range(20)))

    assert sorted(statuses) == [200] * 16 + [429] * 4
    throttled = [r for r in fake_api.requests if r.status == 429]
    assert len(throttled) == 4


def test_delay_slows_answers_and_times_the_client_out(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic
) -> None:
    fake_api.delay = 5.0
    with pytest.raises(anthropic.APITimeoutError):
        create(client.with_options(timeout=0.2), user())
    # the fixture's stop() wakes the sleeping handler: this test stays fast


def test_a_bug_in_the_fake_is_answered_500_and_kept(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> Json:
        raise RuntimeError("boom")

    monkeypatch.setattr(fake_api, "build_message", broken)
    with pytest.raises(anthropic.InternalServerError):
        create(client, user())

    [crash] = fake_api.internal_errors
    assert "RuntimeError: boom" in crash
    fake_api.internal_errors.clear()  # handled here, so the fixture need not fail the test


# --------------------------------------------------------------------------------------------
# OpenAPI


def test_openapi_validator_accepts_and_rejects(openapi_validator: OpenApiValidator) -> None:
    body = {"model": MODEL, "max_tokens": 5, "messages": [user(image(image_bytes()))]}
    openapi_validator.validate_messages_body(body)

    with pytest.raises(SchemaViolation, match="image/bmp"):
        openapi_validator.validate_messages_body(
            {**body, "messages": [user(image(image_bytes(), "image/bmp"))]}
        )
    file_block = {"type": "image", "source": {"type": "file", "file_id": "file_1"}}
    file_body = {**body, "messages": [user(file_block)]}
    openapi_validator.validate_messages_body(file_body, "/v1/messages?beta=true")
    count_body = {"model": MODEL, "messages": body["messages"]}
    openapi_validator.validate_messages_body(count_body, "/v1/messages/count_tokens")


def test_openapi_validator_is_loaded_once(openapi_validator: OpenApiValidator) -> None:
    assert load_openapi_validator() is openapi_validator
    assert openapi_validator.load_seconds < 5


def test_fake_can_validate_every_body_with_openapi(
    fake_api: FakeClaudeAPI, client: anthropic.Anthropic, openapi_validator: OpenApiValidator
) -> None:
    fake_api.openapi = openapi_validator
    uploaded = client.files.upload(file=("a.png", image_bytes(), "image/png"))
    file_block = {"type": "image", "source": {"type": "file", "file_id": uploaded.id}}
    metadata = {"metadata": {"user_id": "u-1"}}
    assert create(client, user(file_block), extra_body=metadata).stop_reason == "end_turn"

    batch = client.messages.batches.create(requests=[batch_request("a", file_block)])
    assert batch.processing_status == "in_progress"

    with pytest.raises(anthropic.BadRequestError) as caught:
        create(client, user(), extra_body={"stop_sequences": "END"})
    assert caught.value.api_message == (
        "request body does not match the OpenAPI description: "
        "stop_sequences: 'END' is not of type 'array'"
    )
