"""Uploads that clean up after themselves: --expires, file_expired, and ``vision-cli files``."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import MakeImage, Run
from tests.fakeapi import FakeClaudeAPI
from vision_cli import limits, units
from vision_cli.asking import running
from vision_cli.client import bodies, connect, failures, filesapi, messages

DAY = 86_400


def cache_file() -> Path:
    from vision_cli import fsutil

    return fsutil.cache_dir() / filesapi.FileCache.FILENAME


def listed(run: Run) -> list[dict[str, Any]]:
    result = run("files", "list", "--json")
    assert result.exit_code == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def upload(run: Run, path: Path, *extra: str) -> None:
    result = run("ask", path, "--source", "file", *extra)
    assert result.exit_code == 0, result.stderr


# -- --expires --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"), [("7d", 7 * DAY), ("12h", 43_200), ("90m", 5_400), ("3600", 3_600)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert units.parse_duration(text) == seconds


@given(st.integers(min_value=1, max_value=10**8))
def test_durations_read_back(seconds: int) -> None:
    assert units.parse_duration(units.format_duration(seconds)) == seconds


def test_uploads_expire_after_seven_days_unless_told(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    upload(run, make_image("a.png"))
    upload(run, make_image("b.png", (300, 200)), "--expires", "12h")
    first, second = api.requests_to("/v1/files")
    assert first.body["expires_in_seconds"] == str(limits.FILE_DEFAULT_EXPIRY_SECONDS)
    assert second.body["expires_in_seconds"] == "43200"
    a, b = sorted(api.files.values(), key=lambda f: f.created_at)
    assert a.expires_at is not None and b.expires_at is not None
    entries = {e.file_id: e for e in filesapi.FileCache(endpoint=api.base_url).entries()}
    assert entries[a.id].expires_at == a.expires_at.replace(microsecond=0)
    assert entries[b.id].expires_at == b.expires_at.replace(microsecond=0)
    assert entries[a.id].filename == "a.png"


@pytest.mark.parametrize("value", ["30m", "91d", "soon", "0", "\u0661h", "\uff13600"])
def test_expires_out_of_range_is_a_usage_error(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, value: str
) -> None:
    result = run("ask", make_image("a.png"), "--source", "file", "--expires", value)
    assert result.exit_code == 2
    assert "--expires" in result.stderr
    assert not api.requests


def test_an_expired_upload_is_dropped_and_sent_again_once(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    path = make_image("a.png")
    upload(run, path)
    (old,) = api.files
    api.expire_file(old)
    upload(run, path)
    assert [r.status for r in api.messages_requests()] == [200, 400, 200]
    assert len(api.requests_to("/v1/files")) == 2
    assert old not in cache_file().read_text()
    (bad,) = [r for r in api.messages_requests() if r.status == 400]
    assert bad.body["messages"][0]["content"][0]["source"]["file_id"] == old


def test_the_api_failure_carries_the_error_code(api: FakeClaudeAPI, make_image: MakeImage) -> None:
    stored = api.add_file(make_image("a.png").read_bytes(), "a.png", expires_in_seconds=3600)
    api.expire_file(stored.id)
    image = bodies.image_block(bodies.file_source(stored.id))
    body = bodies.request_body(
        model="claude-sonnet-4-6", max_tokens=10, messages=[bodies.user_turn([image], "Hi")]
    )
    with pytest.raises(failures.APIFailure) as raised:
        messages.create_message(connect.make_client(max_retries=0), body)
    assert raised.value.code == "file_expired" and raised.value.status == 400
    assert running.stale_file(raised.value)


def test_the_cache_does_not_offer_an_upload_about_to_expire(tmp_path: Path) -> None:
    cache = filesapi.FileCache(tmp_path / "files.json", endpoint="http://one")
    now = datetime.now(UTC)
    cache.put("a", "file_a", media_type="image/png", size=1, expires_at=now + timedelta(days=1))
    cache.put("b", "file_b", media_type="image/png", size=1, expires_at=now + timedelta(minutes=1))
    cache.put("c", "file_c", media_type="image/png", size=1)  # an old entry: no expiry known
    assert cache.get("a") == "file_a"
    assert cache.get("b") is None
    assert cache.get("c") == "file_c"
    assert [e.file_id for e in cache.entries()] == ["file_a", "file_b", "file_c"]


# -- files list | delete | prune --------------------------------------------------------------


def test_files_list_joins_the_cache_with_the_api(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    assert listed(run) == []
    for name, size in (("a.png", (300, 200)), ("b.png", (200, 300)), ("c.png", (100, 100))):
        upload(run, make_image(name, size))
    ids = [row["id"] for row in listed(run)]
    assert len(ids) == 3 and {row["state"] for row in listed(run)} == {"present"}
    api.expire_file(ids[1])
    filesapi.delete_file(connect.make_client(), ids[2])
    rows = {row["id"]: row for row in listed(run)}
    assert [rows[i]["state"] for i in ids] == ["present", "expired", "gone"]
    assert rows[ids[0]]["filename"] == "a.png" and rows[ids[0]]["bytes"] > 0
    assert rows[ids[0]]["expires_at"] > rows[ids[0]]["uploaded_at"]
    table = run("files", "list")
    assert table.exit_code == 0
    header, *lines = table.stdout.splitlines()
    assert header.split() == ["id", "name", "bytes", "uploaded", "expires", "state"]
    assert [line.split()[0] for line in lines] == ids
    assert [line.split()[-1] for line in lines] == ["present", "expired", "gone"]


def test_files_delete_some_or_all(run: Run, api: FakeClaudeAPI, make_image: MakeImage) -> None:
    for name in ("a.png", "b.png", "c.png"):
        upload(run, make_image(name, (100 + len(api.files) * 10, 100)))
    first, *rest = [row["id"] for row in listed(run)]
    result = run("files", "delete", first)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [f"deleted {first} (deleted on request)"]
    assert first not in api.files and [row["id"] for row in listed(run)] == rest
    everything = run("files", "delete", "--all", "--json")
    assert [c["id"] for c in json.loads(everything.stdout)] == rest
    assert not api.files and listed(run) == []


def test_files_delete_needs_ids_or_all(run: Run, api: FakeClaudeAPI) -> None:
    assert run("files", "delete").exit_code == 2
    assert run("files", "delete", "file_x", "--all").exit_code == 2
    assert not api.requests


def test_files_prune_deletes_the_expired_and_forgets_the_gone(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    for name in ("a.png", "b.png", "c.png"):
        upload(run, make_image(name, (100 + len(api.files) * 10, 100)))
    kept, old, gone = [row["id"] for row in listed(run)]
    api.expire_file(old)
    filesapi.delete_file(connect.make_client(), gone)
    before = cache_file().read_text()
    dry = run("files", "prune", "--dry-run", "--json")
    assert json.loads(dry.stdout) == [
        {"id": old, "action": "would-delete", "reason": "past its expiry"},
        {"id": gone, "action": "would-forget", "reason": "the API no longer has it"},
    ]
    assert cache_file().read_text() == before and old in api.files
    result = run("files", "prune")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"deleted {old} (past its expiry)",
        f"forgotten {gone} (the API no longer has it)",
    ]
    assert list(api.files) == [kept]
    assert [row["id"] for row in listed(run)] == [kept]
    assert run("files", "prune").stdout == ""


def test_files_without_a_key_or_with_a_failing_api(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload(run, make_image("a.png"))
    api.fail_next(500, times=5)
    failed = run("files", "list")
    assert failed.exit_code == 3 and "HTTP 500" in failed.stderr
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    for command in (["list"], ["prune"], ["delete", "--all"]):
        result = run("files", *command)
        assert result.exit_code == 2
        assert "ANTHROPIC_API_KEY is not set" in result.stderr
        assert "--dry-run" not in result.stderr


def test_ask_each_uploads_with_the_expiry_and_sends_an_expired_one_again(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    for n, name in enumerate(("a.png", "b.png")):  # two different images: two uploads
        make_image(name, (200 + n * 10, 100), folder=folder)
    out = tmp_path / "results.jsonl"
    first = run("ask", folder, "--each", "--source", "file", "--expires", "2h", "-o", out)
    assert first.exit_code == 0, first.stderr
    assert {r.body["expires_in_seconds"] for r in api.requests_to("/v1/files")} == {"7200"}
    for file_id in api.files:
        api.expire_file(file_id)
    again = run("ask", folder, "--each", "--source", "file", "--rerun", "-o", out)
    assert again.exit_code == 0, again.stderr
    assert len(api.requests_to("/v1/files")) == 4  # each expired upload sent again, once
    assert sorted(r.status for r in api.messages_requests()) == [200] * 4 + [400] * 2


def test_files_refuses_a_key_of_the_wrong_shape_without_echoing_it(
    run: Run, api: FakeClaudeAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret\nX-Injected: 1")
    result = run("files", "list")
    assert result.exit_code == 2
    assert "secret" not in result.stderr and "is not set" not in result.stderr
    assert not api.requests


def test_files_shows_names_and_ids_from_outside_escaped(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    """A name with an escape sequence (or bytes that are not UTF-8) cannot drive the terminal
    from ``files list``, nor an id given to ``files delete``; JSON keeps the name exact."""
    name = os.fsdecode(b"evil\x1b[2J\xff.png")
    path = make_image("plain.png", (120, 80)).rename(tmp_path / name)
    upload(run, path)
    table = run("files", "list")
    assert table.exit_code == 0, table.stderr
    assert "\x1b" not in table.stdout and "evil\\x1b[2J" in table.stdout
    (row,) = listed(run)
    assert row["filename"].startswith("evil\x1b[2J")  # JSON: exact (the escape is JSON's own)
    deleted = run("files", "delete", "file_\x1b]0;pwned\x07")
    assert deleted.exit_code == 1, deleted.stderr  # not found
    assert "\x1b" not in deleted.stderr and "file_\\x1b]0;pwned\\x07" in deleted.stderr


# -- a record of uploads that cannot be used ---------------------------------------------------


def test_a_damaged_record_of_uploads_is_kept_aside_and_said(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    """A damaged files.json was taken for empty and written over, so the uploads it named could
    no longer be listed or pruned, without a word. It is moved aside now, and said once."""
    damaged = b'{"version": 1, "files": {"abc": {'
    cache_file().parent.mkdir(parents=True, exist_ok=True)
    cache_file().write_bytes(damaged)
    result = run("ask", make_image("a.png"), "--source", "file")
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert said.count("was damaged") == 1 and "files.json.damaged" in said
    assert cache_file().with_name("files.json.damaged").read_bytes() == damaged
    assert len(listed(run)) == 1  # the new upload is remembered


def test_a_second_damaged_record_keeps_the_first_aside_too(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    """The second damaged record was moved over the first's ``files.json.damaged``, losing the
    uploads that one named; each is kept under its own name."""
    cache_file().parent.mkdir(parents=True, exist_ok=True)
    for text in (b"{first", b"{second", b"{third"):
        cache_file().write_bytes(text)
        assert run("files", "prune").exit_code == 0
    kept = {p.name: p.read_bytes() for p in cache_file().parent.glob("files.json.damaged*")}
    assert kept == {
        "files.json.damaged": b"{first",
        "files.json.damaged.1": b"{second",
        "files.json.damaged.2": b"{third",
    }


def test_entries_that_are_not_uploads_are_left_out_not_a_crash(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    """An entry edited into something other than an object (``"x"``, a list) made ``ask
    --source file`` exit 70 when it met the image's digest; it is left out, said once, and the
    image is uploaded and remembered."""
    image = make_image("a.png", (120, 80))
    digest = hashlib.sha256(image.read_bytes()).hexdigest()  # small: sent as it is
    cache_file().parent.mkdir(parents=True, exist_ok=True)
    cache_file().write_text(json.dumps({"version": 1, "files": {digest: "x", "other": [1]}}))
    result = run("ask", image, "--source", "file")
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert said.count("2 entries that are not uploads") == 1
    assert [row["filename"] for row in listed(run)] == ["a.png"]


def test_a_record_of_uploads_that_cannot_be_written_is_said(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cache folder that is a file: every run uploaded again, paying again, in silence."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("VISION_CLI_CACHE_DIR", str(blocker))
    result = run("ask", make_image("a.png"), "--source", "file")
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert "cannot write the record of uploads" in said
    assert "the next run uploads them again" in said


def test_models_says_when_its_cache_is_damaged(run: Run) -> None:
    from vision_cli import catalog

    catalog.cache_path().parent.mkdir(parents=True, exist_ok=True)
    catalog.cache_path().write_text("{not json")
    result = run("models")
    assert result.exit_code == 0
    said = " ".join(result.stderr.split())
    assert "cannot be used" in said and "models --refresh` writes it again" in said


def test_a_record_of_uploads_out_of_reach_is_never_written_over(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record that could not be read counted as empty, and the upload then wrote a record of
    that one upload over it, losing every other. It may be whole (permission denied: the tests
    run as root, so the refusal is made here): it is said once, neither moved aside as damaged
    nor written over, and the run goes on without it."""
    whole = '{"version": 1, "files": {"abc": {"x": {"file_id": "file_old"}}}}'
    cache_file().parent.mkdir(parents=True, exist_ok=True)
    cache_file().write_text(whole)
    real = Path.read_text

    def denied(path: Path, *args: Any, **kwargs: Any) -> str:
        if path == cache_file():
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", denied)
    result = run("ask", make_image("a.png"), "--source", "file")
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "record of uploads" in line]
    assert len(warnings) == 1 and "goes on without it" in warnings[0]
    assert "cannot read the record of uploads" in " ".join(result.stderr.split())
    assert cache_file().read_bytes() == whole.encode()
    assert not cache_file().with_name("files.json.damaged").exists()


def test_a_damaged_record_with_no_name_free_aside_is_never_written_over(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    """With every ``.damaged`` name taken, a damaged record was written over with one upload."""
    folder = cache_file().parent
    folder.mkdir(parents=True, exist_ok=True)
    cache_file().write_bytes(b"{damaged")
    (folder / "files.json.damaged").write_bytes(b"")
    for n in range(1, 1000):
        (folder / f"files.json.damaged.{n}").write_bytes(b"")
    result = run("ask", make_image("a.png"), "--source", "file")
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert said.count("no name beside it is free") == 1 and "goes on without it" in said
    assert cache_file().read_bytes() == b"{damaged"


def test_the_record_is_changed_under_a_lock_other_runs_take(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs uploading at once each wrote what they had read, and one run's uploads were
    lost: the record is read again and written while holding ``files.json.lock``, which
    another run waits for."""
    import fcntl

    from vision_cli import fsutil

    path = tmp_path / "files.json"
    filesapi.FileCache(path, endpoint="http://one").put("b", "file_b", media_type="x", size=1)
    real = fsutil.write_text
    held = []

    def write_text(target: Path, text: str) -> None:
        fd = os.open(path.with_name("files.json.lock"), os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.append(target)
        finally:
            os.close(fd)
        real(target, text)

    monkeypatch.setattr(fsutil, "write_text", write_text)
    filesapi.FileCache(path, endpoint="http://one").put("a", "file_a", media_type="x", size=1)
    assert held == [path]
    entries = filesapi.FileCache(path, endpoint="http://one").entries()
    assert [e.file_id for e in entries] == ["file_b", "file_a"]


def test_entries_of_the_wrong_shape_are_left_out_and_dropped(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    """An entry whose file id was not text (a list) made ``files delete --all`` exit 70."""
    upload(run, make_image("a.png", (120, 80)))
    doc = json.loads(cache_file().read_text())
    doc["files"]["bad"] = {api.base_url.rstrip("/"): {"file_id": ["file_x"]}}
    doc["files"]["worse"] = {api.base_url.rstrip("/"): {"file_id": 7}, "elsewhere": "x"}
    cache_file().write_text(json.dumps(doc))
    result = run("files", "delete", "--all")
    assert result.exit_code == 0, result.stderr
    assert " ".join(result.stderr.split()).count("3 entries that are not uploads") == 1
    assert not api.files
    assert json.loads(cache_file().read_text())["files"] == {}


@pytest.mark.parametrize(
    "command",
    [
        ["ask", "{image}", "--source", "file", "--dry-run"],
        ["ask", "{folder}", "--each", "--source", "file", "--dry-run", "-o", "-"],
        ["files", "list"],
        ["files", "prune", "--dry-run"],
    ],
)
def test_a_dry_run_or_a_listing_leaves_a_damaged_record_where_it_is(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path, command: list[str]
) -> None:
    """Read-only commands moved a damaged files.json aside: they only say it now."""
    image = make_image("a.png", folder=tmp_path / "in")
    cache_file().parent.mkdir(parents=True, exist_ok=True)
    cache_file().write_bytes(b"{damaged")
    args = [a.format(image=image, folder=image.parent) for a in command]
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert said.count("is damaged") == 1 and "left as it is" in said
    assert sorted(p.name for p in cache_file().parent.iterdir()) == ["files.json"]
    assert cache_file().read_bytes() == b"{damaged"


def test_a_record_of_a_newer_version_is_read_but_never_written(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    """A version 2 record was rewritten as version 1, losing whatever version 2 added."""
    image = make_image("a.png", (120, 80))
    stored = api.add_file(image.read_bytes(), "a.png", expires_in_seconds=3600)
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    entry = {"file_id": stored.id, "filename": "a.png", "new": {"in": "v2"}}
    newer = json.dumps({"version": 2, "files": {digest: {api.base_url.rstrip("/"): entry}}})
    cache_file().parent.mkdir(parents=True, exist_ok=True)
    cache_file().write_text(newer)
    reused = run("ask", image, "--source", "file")
    assert reused.exit_code == 0, reused.stderr
    assert not api.requests_to("/v1/files")  # what it holds is still used
    other = run("ask", make_image("b.png", (100, 90)), "--source", "file")
    assert other.exit_code == 0, other.stderr
    assert len(api.requests_to("/v1/files")) == 1
    said = " ".join(other.stderr.split())
    assert said.count("version 2, newer than") == 1
    assert cache_file().read_text() == newer


# -- a file id the API no longer has ----------------------------------------------------------


def _ids_by_name(api: FakeClaudeAPI) -> dict[str, str]:
    return {f.filename: f.id for f in api.files.values()}


def test_one_gone_upload_is_sent_again_alone(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    """One deleted upload made ask forget every cached id and upload every image again."""
    a, b = make_image("a.png", (120, 80)), make_image("b.png", (90, 120))
    upload(run, a, str(b))
    ids = _ids_by_name(api)
    filesapi.delete_file(connect.make_client(), ids["a.png"])
    upload(run, a, str(b))
    assert len(api.requests_to("/v1/files")) == 3  # a.png again, b.png not
    assert sorted(f.filename for f in api.files.values()) == ["a.png", "b.png"]
    assert [r.status for r in api.messages_requests()] == [200, 404, 200]
    remembered = {row["id"] for row in listed(run)}
    assert ids["b.png"] in remembered and ids["a.png"] not in remembered


def test_a_gone_upload_the_error_does_not_name_is_found_by_listing(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    a, b = make_image("a.png", (120, 80)), make_image("b.png", (90, 120))
    upload(run, a, str(b))
    filesapi.delete_file(connect.make_client(), _ids_by_name(api)["b.png"])
    api.fail_next(404, message="File not found", path="/v1/messages")
    upload(run, a, str(b))
    assert len(api.requests_to("/v1/files")) == 3  # b.png again, a.png not
    assert sorted(f.filename for f in api.files.values()) == ["a.png", "b.png"]


def test_a_conversation_whose_earlier_upload_is_gone_says_what_to_do(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    """An earlier turn's deleted upload gave an HTTP 404 (exit 3) after forgetting and
    uploading this turn's images again: it names the conversation and what to do, uploading
    nothing."""
    conversation = tmp_path / "talk.json"
    first, second = make_image("a.png", (120, 80)), make_image("b.png", (90, 120))
    upload(run, first, "--conversation", str(conversation))
    upload(run, second)  # cached
    saved = conversation.read_bytes()
    filesapi.delete_file(connect.make_client(), _ids_by_name(api)["a.png"])
    before = len(api.requests_to("/v1/files"))
    result = run("ask", second, "--source", "file", "--conversation", conversation, "-p", "And?")
    assert result.exit_code == 1, result.stderr
    said = " ".join(result.stderr.split())
    assert f"--conversation {conversation}: an earlier turn's image" in said
    assert "start a new conversation" in said and "Traceback" not in said
    assert len(api.requests_to("/v1/files")) == before
    assert conversation.read_bytes() == saved
    assert _ids_by_name(api)["b.png"] in {row["id"] for row in listed(run)}


def test_a_failed_upload_names_its_image(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    api.fail_next(500, path="/v1/files", times=10)
    result = run("ask", make_image("named.png"), "--source", "file", "--max-retries", "0")
    assert result.exit_code == 3
    (line,) = [line for line in result.stderr.splitlines() if "HTTP 500" in line]
    assert "(uploading " in line and "named.png" in line


# -- files delete and prune: each id on its own ------------------------------------------------


@pytest.mark.parametrize("bad", ["", ".", "..", ";x", " "])
def test_files_delete_of_what_cannot_be_an_id_is_a_usage_error(
    run: Run, api: FakeClaudeAPI, bad: str
) -> None:
    """An empty id, ``.`` or ``..`` reached the SDK, whose ValueError was exit 3."""
    result = run("files", "delete", "file_fine", bad)
    assert result.exit_code == 2
    assert f'"{bad}" is not a file id' in " ".join(result.stderr.split())
    assert not api.requests


def test_files_delete_goes_on_past_a_failure_and_says_what_was_done(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    """A failure to delete one file stopped ``files delete --all`` without a word of what it had
    deleted before it."""
    for name in ("a.png", "b.png", "c.png"):
        upload(run, make_image(name, (100 + len(api.files) * 10, 100)))
    first, stuck, last = [row["id"] for row in listed(run)]
    api.fail_next(500, path=f"/v1/files/{stuck}", times=10)
    result = run("files", "delete", "--all")
    assert result.exit_code == 3
    assert result.stdout.splitlines() == [
        f"deleted {first} (deleted on request)",
        f"deleted {last} (deleted on request)",
    ]
    said = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(said) == 1 and f"cannot delete {stuck} (HTTP 500" in said[0]
    assert list(api.files) == [stuck] and [row["id"] for row in listed(run)] == [stuck]


def test_files_prune_goes_on_past_a_failure(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    for name in ("a.png", "b.png"):
        upload(run, make_image(name, (100 + len(api.files) * 10, 100)))
    stuck, old = [row["id"] for row in listed(run)]
    api.expire_file(stuck)
    api.expire_file(old)
    api.fail_next(500, path=f"/v1/files/{stuck}", times=10)
    result = run("files", "prune", "--json")
    assert result.exit_code == 3
    assert json.loads(result.stdout)[1] == {
        "id": old,
        "action": "deleted",
        "reason": "past its expiry",
    }
    assert json.loads(result.stdout)[0]["action"] == "failed"
    assert list(api.files) == [stuck]


def test_files_delete_of_an_id_vision_cli_did_not_upload(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    """An unknown id was "forgotten (the API no longer has it)", exit 0; an id vision-cli did
    not upload was deleted without a word. Not found is exit 1, as ``rm`` of a missing file;
    another's upload is deleted when named, and said; one of ours the API no longer has is
    forgotten."""
    upload(run, make_image("a.png", (120, 80)))
    (ours,) = [row["id"] for row in listed(run)]
    filesapi.delete_file(connect.make_client(), ours)
    theirs = api.add_file(make_image("b.png").read_bytes(), "b.png").id
    result = run("files", "delete", ours, theirs, "file_unknown")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"forgotten {ours} (the API no longer has it)",
        f"deleted {theirs} (not one vision-cli uploaded)",
    ]
    said = " ".join(result.stderr.split())
    assert said.count("Error:") == 1 and "file_unknown: not found" in said
    assert not api.files and listed(run) == []


def test_files_says_when_there_is_nothing_to_do_and_makes_no_record(
    run: Run, api: FakeClaudeAPI
) -> None:
    for command in (["delete", "--all"], ["prune"]):
        result = run("files", *command)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == "" and "nothing to" in result.stderr
    assert run("files", "delete", "file_unknown").exit_code == 1
    assert not cache_file().parent.exists() or not list(cache_file().parent.iterdir())


@pytest.mark.parametrize("option", [["--expires", "2h"], ["--no-cache"]])
def test_upload_options_without_source_file_are_a_usage_error(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, option: list[str]
) -> None:
    """``--expires`` and ``--no-cache`` were ignored in silence without ``--source file``."""
    result = run("ask", make_image("a.png"), *option)
    assert result.exit_code == 2
    assert f"{option[0]} is about uploads" in " ".join(result.stderr.split())
    assert not api.requests


def test_one_entry_that_is_not_an_upload_is_said_in_good_grammar(
    run: Run, api: FakeClaudeAPI
) -> None:
    cache_file().parent.mkdir(parents=True, exist_ok=True)
    cache_file().write_text(json.dumps({"version": 1, "files": {"abc": "x"}}))
    said = " ".join(run("files", "list").stderr.split())
    assert "holds 1 entry that is not an upload" in said
