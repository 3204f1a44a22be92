"""Models that are alive: the default the API serves, lifecycle, line aliases, ``vision-cli
models`` and ``--refresh``, prices with Haiku 5.5's step, and sends that correct themselves when
the API finds an image too large. Everything against the local fake API, through the real SDK."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import anthropic
import pytest
from PIL import Image

from tests.conftest import API_KEY, MakeImage, Run
from tests.fakeapi import FakeClaudeAPI, OpenApiValidator, RecordedRequest
from tests.test_ask_batch import creates
from vision_cli import catalog, fsutil, policy
from vision_cli.asking import building, fitting, preparing, running
from vision_cli.bulk import batch
from vision_cli.client import bodies, failures

Json = dict[str, Any]


@pytest.fixture(autouse=True)
def own_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    folder = tmp_path / "vc-cache"
    monkeypatch.setenv(fsutil.CACHE_DIR_ENV, str(folder))
    catalog.forget()
    return folder


@pytest.fixture
def checked(api: FakeClaudeAPI, openapi_validator: OpenApiValidator) -> FakeClaudeAPI:
    """The fake API, checking every body against the OpenAPI description too."""
    api.openapi = openapi_validator
    return api


def images_in(request: RecordedRequest) -> list[Json]:
    return [b for m in request.body["messages"] for b in m["content"] if b["type"] == "image"]


def size_sent(block: Json) -> tuple[int, int]:
    with Image.open(io.BytesIO(base64.b64decode(block["source"]["data"]))) as im:
        return im.size


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error")]


# --------------------------------------------------------------------------------------------------
# A default that the API serves; retired means not sent; deprecated warns
# --------------------------------------------------------------------------------------------------


def test_the_default_model_is_active_and_sends(
    run: Run, checked: FakeClaudeAPI, make_image: MakeImage
) -> None:
    result = run("ask", make_image("a.png"), "-p", "What is this?")
    assert result.exit_code == 0, result.stderr
    (request,) = checked.messages_requests()
    assert request.status == 200
    assert request.body["model"] == catalog.load().default == "claude-sonnet-5-5"
    assert request.headers["anthropic-version"] == anthropic._constants.ANTHROPIC_API_VERSION
    assert "warning" not in result.stderr.lower()


def test_the_default_follows_the_environment(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VISION_CLI_MODEL", "claude-haiku-4-5")
    assert run("ask", make_image("a.png"), "-q").exit_code == 0
    (request,) = api.messages_requests()
    assert request.body["model"] == "claude-haiku-4-5"


@pytest.mark.parametrize(
    "how",
    [
        ["ask"],
        ["ask", "--json"],
        ["compare"],
        ["ask", "--each", "-o", "out.jsonl"],
        ["ask", "--batch", "-o", "out.jsonl"],
    ],
)
def test_a_retired_model_is_refused_with_nothing_sent(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, chdir_tmp: Path, how: list[str]
) -> None:
    images = [make_image("a.png"), make_image("b.png")]
    result = run(*how, *images, "--model", "claude-sonnet-4-5")
    assert result.exit_code == 2
    (line,) = error_lines(result.stderr)
    assert "retired on 2026-11-30" in line and "claude-sonnet-5-5" in line
    assert api.requests == []
    assert result.stdout == ""


def test_a_retired_model_says_where_its_name_came_from(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    chdir_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Set in $VISION_CLI_MODEL or a configuration file, a retired model's refusal says so:
    the value to change is there, not on the command line."""
    image = make_image("a.png")
    monkeypatch.setenv("VISION_CLI_MODEL", "claude-sonnet-4-5")
    (line,) = error_lines(run("ask", image).stderr)
    assert line.startswith("Error: claude-sonnet-4-5 (from $VISION_CLI_MODEL) was retired")
    monkeypatch.delenv("VISION_CLI_MODEL")
    (chdir_tmp / "vision-cli.toml").write_text('model = "claude-sonnet-4-5"\n')
    (line,) = error_lines(run("ask", image).stderr)
    config = chdir_tmp / "vision-cli.toml"
    assert line.startswith(f"Error: claude-sonnet-4-5 (from {config}) was retired")
    assert api.requests == []


def test_the_fake_answers_a_retired_model_as_the_api_does(fake_api: FakeClaudeAPI) -> None:
    client = anthropic.Anthropic(api_key=API_KEY, base_url=fake_api.base_url, max_retries=0)
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(
            model="claude-sonnet-4-5",
            max_tokens=10,
            messages=[{"role": "user", "content": "hi"}],
        )
    assert caught.value.status_code == 404
    body: Any = caught.value.body
    assert body["type"] == "error" and body["request_id"].startswith("req_")
    assert body["error"] == {"type": "not_found_error", "message": "model: claude-sonnet-4-5"}


def test_a_404_for_the_model_says_it_may_be_retired_and_how_to_learn(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    """The table still has Sonnet 4.6 active, but the API has retired it since: the 404 says
    what it most likely means and what tells."""
    served = api.model_info("claude-sonnet-4-6")
    assert served is not None
    served["lifecycle"] = "retired"
    result = run("ask", make_image("a.png"), "-m", "claude-sonnet-4-6", "--json")
    assert result.exit_code == 3
    said = " ".join(result.stderr.split())
    assert "HTTP 404 not_found_error: model: claude-sonnet-4-6" in said
    assert "may have been retired: `vision-cli models --refresh`" in said
    other = failures.APIFailure(404, "not_found_error", "file: file_123 not found")
    assert "retired" not in str(other)
    assert failures.APIFailure(400, "invalid_request_error", "model: x").hint == ""


def test_a_deprecated_model_warns_even_with_json(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    result = run("ask", make_image("a.png"), "--json", "--model", "claude-opus-4-5")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["model"] == "claude-opus-4-5"
    assert "claude-opus-4-5 is deprecated and retires on 2027-01-22" in result.stderr
    assert "claude-opus-5-5" in result.stderr
    quiet = run("ask", make_image("b.png"), "-q", "--model", "claude-opus-4-5")
    assert "deprecated" in quiet.stderr


def test_a_deprecated_replacement_is_not_what_the_warning_recommends(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    opus55 = api.model_info("claude-opus-5-5")
    assert opus55 is not None
    opus55["lifecycle"] = "deprecated"
    assert run("models", "--refresh").exit_code == 0
    result = run("ask", make_image("a.png"), "-q", "--model", "claude-opus-4-5")
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert "switch to claude-opus-5 (--model claude-opus-5)" in said
    assert "claude-opus-5-5" not in said
    shown = json.loads(run("models", "claude-opus-4-5", "--json").stdout)
    assert shown["replacement"] == "claude-opus-5"


@pytest.mark.parametrize(
    "command",
    [
        ["inspect"],
        ["resize", "--dry-run", "--out", "shrunk"],
        ["estimate"],
    ],
)
def test_offline_commands_accept_a_retired_model_and_say_so_once(
    run: Run, make_image: MakeImage, command: list[str], chdir_tmp: Path
) -> None:
    result = run(*command, make_image("a.png"), make_image("b.png"), "-m", "claude-sonnet-4-5")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("Warning: claude-sonnet-4-5 was retired on 2026-11-30") == 1


def test_a_retired_model_priced_by_hand_names_how_to_price_its_replacement(
    run: Run, make_image: MakeImage, chdir_tmp: Path
) -> None:
    """claude-mythos-preview's replacement has no known price: naming it bare in estimate
    would only be refused, so the warning says how to give it one."""
    result = run("estimate", make_image("a.png"), "-m", "claude-mythos-preview", "--price", "5/25")
    assert result.exit_code == 0, result.stderr
    assert "--price claude-mythos-5-2=INPUT/OUTPUT" in result.stderr
    priced = run("estimate", make_image("b.png"), "-m", "claude-sonnet-4-5")
    assert "use claude-sonnet-5-5 (--model claude-sonnet-5-5)" in priced.stderr


def test_exact_counting_with_a_retired_model_is_refused(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    result = run("estimate", make_image("a.png"), "--exact", "-m", "claude-sonnet-4-5")
    assert result.exit_code == 2 and "claude-sonnet-5-5" in result.stderr
    assert api.requests == []


def test_the_seed_tables_stay_reproducible(run: Run) -> None:
    result = run(
        "estimate",
        "--model",
        "claude-sonnet-4-5",
        "--rule",
        "legacy",
        "--size",
        "1000x1000",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)["images"]
    assert row["tokens"] == 1334 and row["costs"]["claude-sonnet-4-5"] == pytest.approx(0.004002)


def test_all_models_lists_active_models_only(run: Run) -> None:
    shown = json.loads(run("estimate", "--size", "800x600", "--all-models", "--json").stdout)
    names = set(shown["images"][0]["costs"])
    cat = catalog.load()
    assert names == {m.short_name for m in cat.active() if m.priced}
    assert "claude-sonnet-4-5" not in names and "claude-opus-4-5" not in names
    every = run("estimate", "--size", "800x600", "--all-models", "--include-retired", "--json")
    more = set(json.loads(every.stdout)["images"][0]["costs"])
    assert {"claude-sonnet-4-5", "claude-opus-4-5"} <= more
    assert run("estimate", "--size", "8x8", "--include-retired").exit_code == 2


# --------------------------------------------------------------------------------------------------
# Line aliases
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "model"),
    [
        ("opus", "claude-opus-5-5"),
        ("sonnet", "claude-sonnet-5-5"),
        ("haiku", "claude-haiku-5-5"),
    ],
)
def test_a_line_alias_sends_the_newest_active_model(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, line: str, model: str
) -> None:
    result = run("ask", make_image("a.png"), "--model", line, "--json")
    assert result.exit_code == 0, result.stderr
    (request,) = api.messages_requests()
    assert request.body["model"] == model
    assert json.loads(result.stdout)["model"] == model


def test_a_line_whose_newest_model_has_no_price_asks_for_one(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    image = make_image("a.png")
    result = run("ask", image, "--model", "fable")
    assert result.exit_code == 2 and "--price claude-fable-5-2=" in result.stderr
    assert api.requests == []
    priced = run("ask", image, "--model", "fable", "--price", "8/40", "--json")
    assert priced.exit_code == 0, priced.stderr
    doc = json.loads(priced.stdout)
    usage = doc["usage"]
    assert doc["cost_usd"] == pytest.approx(
        (usage["input_tokens"] * 8 + usage["output_tokens"] * 40) / 1e6
    )


# --------------------------------------------------------------------------------------------------
# vision-cli models, --refresh
# --------------------------------------------------------------------------------------------------


def test_models_shows_what_the_api_said_of_a_lifecycle_it_does_not_know(run: Run) -> None:
    """A refreshed model with a future lifecycle is kept as deprecated; every format says what
    the API gave, so a script does not read it as a deprecation the API announced."""
    catalog.store_refresh(
        [{"id": "claude-sonnet-6", "line": "sonnet", "lifecycle": "sunset"}],
        "http://example.invalid",
    )
    catalog.forget()
    shown = json.loads(run("models", "claude-sonnet-6", "--json").stdout)
    assert shown["lifecycle"] == "deprecated" and shown["unknown_lifecycle"] == "sunset"
    known = json.loads(run("models", "claude-sonnet-5-5", "--json").stdout)
    assert known["unknown_lifecycle"] is None
    assert "deprecated (API: sunset)" in run("models", "claude-sonnet-6").stdout
    rows = list(csv.DictReader(io.StringIO(run("models", "--format", "csv").stdout)))
    assert {r["id"]: r["unknown_lifecycle"] for r in rows}["claude-sonnet-6"] == "sunset"


def test_models_markdown_shows_what_a_refresh_gave_as_code_spans(run: Run) -> None:
    """An id the Models API gave may hold ``@`` and dots (an e-mail address to GitHub, so a
    live link): in Markdown, the API's words are code spans, as every text from outside is."""
    from markdown_it import MarkdownIt  # rich's own Markdown parser

    catalog.store_refresh(
        [{"id": "claude-6@evil.example", "line": "x@evil.example", "lifecycle": "sunset"}],
        "http://example.invalid",
    )
    catalog.forget()
    md = run("models", "claude-6@evil.example", "--format", "markdown").stdout
    html = MarkdownIt("commonmark").enable("table").render(md)
    cells = re.findall(r"<td>(.*?)</td>", html)
    assert cells[0] == "<code>claude-6@evil.example</code>", cells
    assert cells[2] == "<code>x@evil.example</code>" and cells[1] == "-"  # no aliases
    assert any(c.startswith("<code>deprecated (API: ") for c in cells), cells


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_models_csv_cells_are_never_formulas(start: str) -> None:
    """``models -f csv`` guards its cells as every CSV does. A refresh keeps only ids that start
    with a letter or digit today, so the guard is checked on the records themselves."""
    from vision_cli.formats import ModelsFormat
    from vision_cli.render.models import write_models

    cat = catalog.load()
    odd = cat.get("claude-sonnet-5-5")._replace(id=f"{start}HYPERLINK(1)", aliases=(), line=None)
    out = io.StringIO()
    write_models(out, ModelsFormat.csv, [odd], cat, one=False)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["id"] == f"'{start}HYPERLINK(1)" and row["max_edge"] == "2576"  # a number: as it is


def test_models_lists_the_table_without_the_network(run: Run, api: FakeClaudeAPI) -> None:
    result = run("models", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["default"] == "claude-sonnet-5-5" and doc["fetched_at"] is None
    ids = [m["id"] for m in doc["models"]]
    assert "claude-sonnet-4-5-20250929" not in ids  # retired: --include-retired
    haiku = next(m for m in doc["models"] if m["id"] == "claude-haiku-5-5")
    assert haiku["prices"]["long_context"] == {
        "over_input_tokens": 100000,
        "input": 0.5,
        "output": 2.5,
    }
    assert haiku["prices"]["batch_input"] == 0.05 and "haiku" in haiku["aliases"]
    assert api.requests == []
    table = run("models")
    assert "claude-sonnet-5-5" in table.stdout and "never refreshed" in table.stdout
    csv = run("models", "--include-retired", "--format", "csv").stdout.splitlines()
    assert csv[0].startswith("id,aliases,line,tier,max_edge,max_tokens,images_per_request")
    assert any(row.startswith("claude-sonnet-4-5-20250929,") for row in csv)
    md = run("models", "opus", "--format", "markdown").stdout
    assert md.startswith("| id |") and "claude-opus-5-5" in md
    one = json.loads(run("models", "claude-sonnet-4-5", "--json").stdout)
    assert one["lifecycle"] == "retired" and one["replacement"] == "claude-sonnet-5-5"
    assert run("models", "claude-nonesuch").exit_code == 2


def test_refresh_then_a_model_only_the_refresh_knows(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    new = dict(api.models[0], id="claude-sonnet-6", display_name="Claude Sonnet 6")
    new.update(line="sonnet", created_at="2026-12-01T00:00:00Z")
    api.models.insert(0, new)
    opus55 = api.model_info("claude-opus-5-5")
    assert opus55 is not None
    opus55["lifecycle"] = "deprecated"  # the API now says Opus 5.5 is deprecated
    image = make_image("a.png")
    before = run("ask", image, "--model", "claude-sonnet-6")
    assert before.exit_code == 2 and "models --refresh" in before.stderr

    refreshed = run("models", "--refresh")
    assert refreshed.exit_code == 0, refreshed.stderr
    (listing,) = api.requests_to("/v1/models", "GET")
    assert sorted(v for k, v in listing.query_pairs if k == "lifecycle[]") == [
        "active",
        "deprecated",
        "retired",
    ]
    said = " ".join(refreshed.stderr.split())
    assert "not in the table of 2026-12-02: claude-sonnet-6; usable now by name" in said
    assert "The default stays the newest Sonnet with a price." in said
    cache = json.loads((fsutil.cache_dir() / "models.json").read_text())
    assert cache["fetched_at"] and len(cache["models"]) == len(api.models)

    shown = json.loads(run("models", "claude-sonnet-6", "--json").stdout)
    assert shown["source"] == "refresh" and shown["tier"]["name"] == "high-res"
    assert "after Claude Opus 4.7" in shown["tier"]["source"]
    assert shown["prices"]["input"] is None
    assert json.loads(run("models", "opus", "--json").stdout)["id"] == "claude-opus-5"

    unpriced = run("ask", image, "--model", "claude-sonnet-6")
    assert unpriced.exit_code == 2 and "--price claude-sonnet-6=" in unpriced.stderr
    sent = run("ask", image, "--model", "claude-sonnet-6", "--price", "claude-sonnet-6=2/10")
    assert sent.exit_code == 0, sent.stderr
    assert api.messages_requests()[-1].body["model"] == "claude-sonnet-6"
    # the newest Sonnet has no known price: the default stays the newest one with a price, and
    # a plain command needs no --price (it stopped every default command before); "sonnet"
    # names the newest
    plain = run("ask", image, "-q")
    assert plain.exit_code == 0, plain.stderr
    assert api.messages_requests()[-1].body["model"] == "claude-sonnet-5-5"
    assert run("estimate", image).exit_code == 0
    assert run("ask", image, "-m", "sonnet", "--price", "2/10", "-q").exit_code == 0
    assert api.messages_requests()[-1].body["model"] == "claude-sonnet-6"
    estimate = run("estimate", "--size", "800x600", "-m", "claude-sonnet-6", "--price", "2/10")
    assert estimate.exit_code == 0, estimate.stderr


def test_after_a_refresh_that_leaves_a_model_out_the_line_is_still_its_newest(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    api.models[:] = [m for m in api.models if m["id"] != "claude-sonnet-5-5"]
    assert run("models", "--refresh").exit_code == 0
    assert json.loads(run("models", "sonnet", "--json").stdout)["id"] == "claude-sonnet-5-5"
    assert json.loads(run("models", "--json").stdout)["default"] == "claude-sonnet-5-5"
    assert run("ask", make_image("a.png"), "-q").exit_code == 0
    assert api.messages_requests()[-1].body["model"] == "claude-sonnet-5-5"


def test_a_cache_without_lifecycles_keeps_a_retired_model_retired(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    """A cache entry without ``lifecycle`` was read as active: retired Sonnet 4.5 became active
    and the default, and every plain command was sent to a model the API answers 404."""
    path = fsutil.cache_dir() / "models.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 1, "models": [{"id": "claude-sonnet-4-5-20250929"}]}))
    catalog.forget()
    assert json.loads(run("models", "--json").stdout)["default"] == "claude-sonnet-5-5"
    refused = run("ask", make_image("a.png"), "-m", "claude-sonnet-4-5")
    assert refused.exit_code == 2 and "retired" in refused.stderr
    assert api.messages_requests() == []


def test_a_cache_of_another_version_is_warned_of_once_and_left_as_it_is(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    path = fsutil.cache_dir() / "models.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"version": 2, "models": {"by_line": {}}}) + "\n"
    path.write_text(text)
    catalog.forget()
    listed = run("models")
    assert listed.exit_code == 0, listed.stderr
    said = " ".join(listed.stderr.split())
    assert said.count("version 2 of the models cache") == 1 and "left as it is" in said
    assert "writes it again" not in said
    sent = run("estimate", make_image("a.png"), "-m", "sonnet", "-m", "opus")
    assert sent.exit_code == 0, sent.stderr
    assert " ".join(sent.stderr.split()).count("version 2 of the models cache") == 1
    asked = run("ask", make_image("a.png"), "-q", "-m", "sonnet")
    assert asked.exit_code == 0, asked.stderr
    assert " ".join(asked.stderr.split()).count("version 2 of the models cache") == 1
    refreshed = run("models", "--refresh")
    assert refreshed.exit_code == 1
    assert "version 2 of the models cache" in " ".join(refreshed.stderr.split())
    assert api.requests_to("/v1/models", "GET") == []  # nothing asked that could not be kept
    assert path.read_text() == text


def test_the_models_api_pages_and_hides_retired_models(fake_api: FakeClaudeAPI) -> None:
    client = anthropic.Anthropic(api_key=API_KEY, base_url=fake_api.base_url)
    served = [m.id for m in client.models.list(limit=3)]
    assert served == [m["id"] for m in fake_api.models if m["lifecycle"] != "retired"]
    every = list(client.models.list(lifecycle=["active", "deprecated", "retired"], limit=4))
    assert len(every) == len(fake_api.models)
    sonnet = next(m for m in every if m.id == "claude-sonnet-4-5-20250929")
    assert sonnet.lifecycle == "retired" and sonnet.retires_at is not None
    assert sonnet.line == "sonnet"
    pages = fake_api.requests_to("/v1/models", "GET")
    assert len(pages) > 2 and all(r.headers["anthropic-version"] for r in pages)


def test_a_failed_refresh_keeps_what_was_there(run: Run, api: FakeClaudeAPI) -> None:
    api.fail_next(401, path="/v1/models")
    result = run("models", "--refresh")
    assert result.exit_code == 3 and "HTTP 401 authentication_error" in result.stderr
    assert not (fsutil.cache_dir() / "models.json").exists()
    assert run("models", "--refresh").exit_code == 0
    assert json.loads(run("models", "--json").stdout)["fetched_at"] is not None


def test_refresh_needs_a_key(run: Run) -> None:
    result = run("models", "--refresh")
    said = " ".join(result.stderr.split())
    assert result.exit_code == 2 and "ANTHROPIC_API_KEY is not set" in said
    assert "`vision-cli models` shows the bundled table" in said
    assert "dry-run" not in said and "to see the request" not in said  # there is none to see


# --------------------------------------------------------------------------------------------------
# A bad model name never breaks an unrelated command
# --------------------------------------------------------------------------------------------------


def test_an_unknown_model_in_the_config_breaks_nothing_else(
    run: Run, chdir_tmp: Path, make_image: MakeImage
) -> None:
    (chdir_tmp / "vision-cli.toml").write_text('model = "claude-nonesuch-9"\n')
    for command in (["--help"], ["inspect", "--help"], ["ask", "--help"], ["models"]):
        result = run(*command)
        assert result.exit_code == 0, (command, result.stderr)
    image = make_image("a.png")
    result = run("inspect", image)
    assert result.exit_code == 2
    assert "claude-nonesuch-9" in result.stderr and "models --refresh" in result.stderr
    assert run("inspect", image, "--model", "claude-sonnet-5-5").exit_code == 0


# --------------------------------------------------------------------------------------------------
# Haiku 5.5's price step
# --------------------------------------------------------------------------------------------------


def test_haiku_55_step_in_estimate(run: Run) -> None:
    result = run("estimate", "--size", "1000x1000", "-m", "haiku", "--output-tokens", "100")
    assert result.exit_code == 0, result.stderr
    assert "over 100,000 input tokens is priced whole at $0.5 input, $2.5 output" in result.stdout


def test_haiku_55_step_in_the_cost_line(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    prompt = tmp_path / "long.txt"
    prompt.write_text("word " * 81_000)  # 405,000 characters: over 100K input tokens at the fake
    image = make_image("a.png")
    result = run("ask", image, "--model", "haiku", "--prompt-file", prompt)
    assert result.exit_code == 0, result.stderr
    assert (
        "at $0.5 in, $2.5 out per million tokens (the whole request: over 100,000" in result.stderr
    )
    doc = json.loads(run("ask", image, "-m", "haiku", "--prompt-file", prompt, "--json").stdout)
    usage = doc["usage"]
    assert usage["input_tokens"] > 100_000
    assert doc["cost_usd"] == pytest.approx(
        (usage["input_tokens"] * 0.5 + usage["output_tokens"] * 2.5) / 1e6
    )
    short = json.loads(run("ask", image, "-m", "haiku", "--json").stdout)
    assert short["cost_usd"] == pytest.approx(
        (short["usage"]["input_tokens"] * 0.1 + short["usage"]["output_tokens"] * 0.5) / 1e6
    )


# --------------------------------------------------------------------------------------------------
# Sends that correct themselves
# --------------------------------------------------------------------------------------------------

WIDE = (2576, 1200)  # the high-res tier's edge: sent unshrunk for Sonnet 5.5


def test_every_image_block_asks_for_an_error_not_a_silent_downsize(
    run: Run, checked: FakeClaudeAPI, make_image: MakeImage
) -> None:
    assert run("ask", make_image("a.png"), make_image("b.png"), "-q").exit_code == 0
    (request,) = checked.messages_requests()
    assert [b["transformations"] for b in images_in(request)] == [{"oversized_image": "error"}] * 2
    assert run("ask", make_image("c.png"), "-q", "--allow-downsize").exit_code == 0
    assert "transformations" not in images_in(checked.messages_requests()[-1])[0]


def test_the_resend_shrinks_exactly_the_named_images_once(
    run: Run, checked: FakeClaudeAPI, make_image: MakeImage, own_cache: Path
) -> None:
    checked.set_max_side("claude-sonnet-5-5", 1568)  # the table's tier was wrong
    wide, small = make_image("wide.png", WIDE), make_image("small.png", (800, 600))
    result = run("ask", wide, small, "-p", "Compare.", "--json")
    assert result.exit_code == 0, result.stderr
    first, second = checked.messages_requests()
    assert (first.status, second.status) == (400, 200)
    assert size_sent(images_in(first)[0]) == WIDE
    shrunk, kept = images_in(second)
    assert max(size_sent(shrunk)) == 1568
    assert size_sent(shrunk)[0] / size_sent(shrunk)[1] == pytest.approx(WIDE[0] / WIDE[1], 0.01)
    assert kept == images_in(first)[1]  # the image the 400 did not name is sent as it was
    assert "at most 1568 px a side" in result.stderr and "wide.png" in result.stderr
    assert json.loads(result.stdout)["images"][0]["width"] == 1568
    edges = json.loads((own_cache / "models.json").read_text())["edges"]
    assert edges["claude-sonnet-5-5"]["max_side_length_pixels"] == 1568

    again = run("ask", wide, "-q")  # the edge is known now: no 400 at all
    assert again.exit_code == 0, again.stderr
    assert [r.status for r in checked.messages_requests()] == [400, 200, 200]
    assert max(size_sent(images_in(checked.messages_requests()[-1])[0])) == 1568


def test_no_third_send_when_the_resend_fails_too(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    too_large = {
        "error_code": "image_dimensions_too_large",
        "max_side_length_pixels": 1568,
        "paths": ["messages.0.content.0"],
    }
    api.fail_next(400, details=too_large, times=2, path="/v1/messages")
    result = run("ask", make_image("wide.png", WIDE))
    assert result.exit_code == 3
    assert [r.status for r in api.messages_requests()] == [400, 400]
    assert "at most 1568 px a side" in result.stderr  # said once, for the one resend
    api.fail_next(500, path="/v1/messages")
    other = run("ask", make_image("wide2.png", WIDE), "--max-retries", "0")
    assert other.exit_code == 3 and len(api.messages_requests()) == 3  # a 500 is not shrunk


def test_an_edge_no_model_could_mean_is_not_obeyed_nor_kept(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, own_cache: Path
) -> None:
    """A 400 that says images may be at most 1 px a side: the image was sent as 1x1, and every
    later run of that model sent 1x1 images. Below 200 px it is the API's error, said as such."""
    api.set_max_side("claude-sonnet-5-5", 1)
    result = run("ask", make_image("wide.png", WIDE))
    said = " ".join(result.stderr.split())
    assert result.exit_code == 3 and "HTTP 400" in said and "oversized_image" in said, said
    assert [r.status for r in api.messages_requests()] == [400]  # not resent as a thumbnail
    assert not (own_cache / "models.json").exists()
    catalog.record_edge("claude-sonnet-5-5", 1)  # a cache written by an older vision-cli
    assert (
        catalog.resolve("claude-sonnet-5-5").tier == catalog.bundled().get("claude-sonnet-5-5").tier
    )


def test_allow_downsize_leaves_it_to_the_api(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, own_cache: Path
) -> None:
    api.set_max_side("claude-sonnet-5-5", 1568)
    result = run("ask", make_image("wide.png", WIDE), "--allow-downsize", "-q")
    assert result.exit_code == 0, result.stderr
    (request,) = api.messages_requests()
    assert request.status == 200 and size_sent(images_in(request)[0]) == WIDE
    assert not (own_cache / "models.json").exists()


def test_each_corrects_every_request_on_its_own(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    api.set_max_side("claude-sonnet-5-5", 1568)
    folder = tmp_path / "imgs"
    for i in range(3):
        make_image(f"w{i}.png", WIDE, folder=folder)
    out = tmp_path / "out.jsonl"
    result = run("ask", folder, "--each", "-j", "1", "-o", out, "--quiet")
    assert result.exit_code == 0, result.stderr
    assert "at most 1568 px a side" in result.stderr  # the data was wrong: said even with -q
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 3 and all(r["error"] is None for r in records)
    statuses = [r.status for r in api.messages_requests()]
    assert statuses == [400, 200, 200, 200]  # one at a time: the later ones fit at once
    assert all(
        max(size_sent(images_in(r)[0])) == 1568 for r in api.messages_requests() if r.status == 200
    )


def test_a_batch_records_the_edge_and_the_next_run_fits(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    own_cache: Path,
) -> None:
    monkeypatch.setattr(batch, "POLL_FIRST", 0.0)
    monkeypatch.setattr(batch, "POLL_MAX", 0.0)
    api.set_max_side("claude-sonnet-5-5", 1568)
    folder = tmp_path / "imgs"
    make_image("wide.png", WIDE, folder=folder)
    make_image("small.png", (640, 480), folder=folder)
    out = tmp_path / "out.jsonl"
    first = run("ask", folder, "--batch", "-o", out)
    assert first.exit_code == 1
    assert "at most 1568 px a side" in first.stderr and "run the same command again" in first.stderr
    edges = json.loads((own_cache / "models.json").read_text())["edges"]
    assert edges["claude-sonnet-5-5"]["max_side_length_pixels"] == 1568
    second = run("ask", folder, "--batch", "-o", out)
    assert second.exit_code == 0, second.stderr
    (_, retry) = creates(api)
    (item,) = retry["requests"]
    block = item["params"]["messages"][0]["content"][0]
    assert max(size_sent(block)) == 1568


def test_a_structured_400_reaches_the_client_as_the_sdk_reads_it(
    fake_api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    fake_api.set_max_side("claude-sonnet-5-5", 1000)
    data = base64.b64encode(make_image("w.png", (1200, 300)).read_bytes()).decode()
    client = anthropic.Anthropic(api_key=API_KEY, base_url=fake_api.base_url, max_retries=0)
    block: Any = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": data},
        "transformations": {"oversized_image": "error"},
    }
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model="claude-sonnet-5-5",
            max_tokens=10,
            messages=[{"role": "user", "content": [{"type": "text", "text": "x"}, block]}],
        )
    assert caught.value.error_code == "image_dimensions_too_large"
    details = caught.value.details
    assert details is not None and details.max_side_length_pixels == 1000  # type: ignore[union-attr]
    assert details.paths == ["messages.0.content.1"]  # type: ignore[union-attr]
    block["transformations"] = {"oversized_image": "downsize"}
    client.messages.create(
        model="claude-sonnet-5-5", max_tokens=10, messages=[{"role": "user", "content": [block]}]
    )
    block["transformations"] = {"oversized_image": "shrink"}
    with pytest.raises(anthropic.BadRequestError, match="'downsize' or 'error'"):
        client.messages.create(
            model="claude-sonnet-5-5",
            max_tokens=10,
            messages=[{"role": "user", "content": [block]}],
        )


def test_a_many_image_limit_is_not_taken_for_the_models_edge(make_image: MakeImage) -> None:
    model = catalog.resolve("claude-sonnet-5-5")
    settings = preparing.Settings(model=model, model_name=model.id)
    data = make_image("w.png", (2100, 100)).read_bytes()
    images = [
        fitting.Image(
            f"{i}.png", "base64", data=data, media_type="image/png", width=2100, height=100
        )
        for i in range(21)
    ]
    request = building.build_request(images, settings, prompt="x")

    def too_large(edge: int, paths: list[str]) -> failures.APIFailure:
        details = {"error_code": bodies.IMAGE_TOO_LARGE, "max_side_length_pixels": edge}
        return failures.APIFailure(
            400, "invalid_request_error", "too large", code=bodies.IMAGE_TOO_LARGE,
            details={**details, "paths": paths},
        )  # fmt: skip

    named = [f"messages.0.content.{2 * i + 1}" for i in range(21)]  # after each "Image N:"
    fixed = running.correct_oversized(too_large(2000, named), request, settings)
    assert fixed is not None and not fixed.model_edge
    assert [im.width for im in fixed.request.images] == [2000] * 21
    assert all(abs(2100 / 100 - 2000 / (im.height or 1)) < 0.3 for im in fixed.request.images)
    assert running.remember(model, fixed) == "the model's own limit is unchanged"
    assert "in this request" in fixed.describe(model.id)

    one = building.build_request(images[:1], settings, prompt="x")
    single = running.correct_oversized(too_large(1568, ["messages.0.content.0"]), one, settings)
    assert single is not None and single.model_edge
    # --each: a request still in flight when another taught the model its 1568 px edge is
    # refused for the same reason; it is the model's edge too, not "in this request"
    taught = replace(settings, model=model._replace(tier=catalog.edge_tier(model.tier, 1568)))
    late = running.correct_oversized(too_large(1568, ["messages.0.content.0"]), one, taught)
    assert late is not None and late.model_edge and "for claude" in late.describe(model.id)
    url = building.build_request(
        [fitting.Image("u", "url", url="https://example.com/a.png")], settings, prompt="x"
    )
    assert (
        running.correct_oversized(too_large(1568, ["messages.0.content.0"]), url, settings) is None
    )
    downsize = replace(settings, oversized="downsize")
    assert (
        running.correct_oversized(too_large(1568, ["messages.0.content.0"]), one, downsize) is None
    )


def test_a_refresh_of_odd_fields_says_nothing_of_pydantic(
    api: FakeClaudeAPI, tmp_path: Path
) -> None:
    """A ``created_at`` that is not a date came with pydantic's serializer warning on stderr
    (a process of its own: the test runner would catch the warning itself)."""
    api.models[0]["created_at"] = "soon"
    env = {
        **os.environ,
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": api.base_url,
        "VISION_CLI_CACHE_DIR": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "vision_cli", "models", "--refresh"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "pydantic" not in done.stderr, done.stderr


def test_the_refresh_note_offers_only_models_that_can_be_used(run: Run, api: FakeClaudeAPI) -> None:
    """The note listed an id that is no id (left out of the catalogue, so "unknown model" by
    that name) and a retired model, as "usable now by name", and counted the one left out."""
    for model_id, lifecycle in [
        ("claude opus 9", "active"),
        ("claude-haiku-6", "retired"),
        ("claude-sonnet-6", "active"),
    ]:
        api.models.insert(0, dict(api.models[0], id=model_id, lifecycle=lifecycle))
    refreshed = run("models", "--refresh")
    assert refreshed.exit_code == 0, refreshed.stderr
    said = " ".join(refreshed.stderr.split())
    assert f"{len(api.models) - 1} models from the Models API" in said
    assert "(1 left out: their ids are not model ids)" in said
    assert "not in the table of 2026-12-02: claude-sonnet-6; usable now by name" in said
    assert run("models", "claude-sonnet-6").exit_code == 0


# --------------------------------------------------------------------------------------------------
# A conversation that moves to a model of smaller images
# --------------------------------------------------------------------------------------------------


def _to_a_smaller_model(run: Run, make_image: MakeImage, tmp_path: Path, *flags: str) -> Any:
    chat = tmp_path / "c.json"
    first = run("ask", make_image("i3.png", (3000, 2000)), "--conversation", chat, "-q")
    assert first.exit_code == 0, first.stderr
    (block,) = images_in_turns(json.loads(chat.read_text())["messages"])
    assert size_sent(block) == (2352, 1568)  # the high-res default's native size
    return run(
        "ask", make_image("i0.png", (800, 600)), "--conversation", chat,
        "-m", "claude-haiku-4-5", *flags,
    )  # fmt: skip


def images_in_turns(turns: list[Json]) -> list[Json]:
    return [b for m in turns for b in m["content"] if b["type"] == "image"]


@pytest.mark.parametrize("flag", ["--allow-downsize", "--no-resize"])
def test_a_smaller_model_mid_conversation_with_downsize(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path, flag: str
) -> None:
    """The earlier turn's image kept its ``oversized_image: error``, which the flag could not
    take off: the API refused it every time (exit 3). Its blocks now follow this run."""
    result = _to_a_smaller_model(run, make_image, tmp_path, flag)
    assert result.exit_code == 0, result.stderr
    second = api.messages_requests()[-1]
    assert second.status == 200
    assert all("transformations" not in b for b in images_in(second))
    saved = images_in_turns(json.loads((tmp_path / "c.json").read_text())["messages"])
    assert len(saved) == 2 and all("transformations" not in b for b in saved)


def test_a_smaller_model_mid_conversation_gets_earlier_images_fitted(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path, own_cache: Path
) -> None:
    """The model data says Haiku 4.5 takes 1568 px: the earlier 2352 px image was sent anyway,
    refused, shrunk and sent again, and the model's normal edge "remembered". Now it is fitted
    before the one send, as this turn's images are, and saved so."""
    result = _to_a_smaller_model(run, make_image, tmp_path)
    assert result.exit_code == 0, result.stderr
    assert [r.status for r in api.messages_requests()] == [200, 200]
    assert "remembered" not in result.stderr and not (own_cache / "models.json").exists()
    earlier, now = images_in(api.messages_requests()[-1])
    tier = catalog.resolve("claude-haiku-4-5").tier
    assert max(size_sent(earlier)) <= 1568
    assert policy.predict(*size_sent(earlier), tier).api_size == size_sent(earlier)
    assert earlier["transformations"] == now["transformations"] == {"oversized_image": "error"}
    saved = images_in_turns(json.loads((tmp_path / "c.json").read_text())["messages"])
    assert saved[0] == earlier  # saved as sent


@pytest.mark.parametrize(
    "paths", [[], ["messages.0.content.0"]], ids=["no-paths", "already-within"]
)
def test_a_400_that_would_change_nothing_is_not_sent_again(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, own_cache: Path, paths: list[str]
) -> None:
    """A too-large 400 naming no image, or one already within its edge: the same request was
    sent (and paid for, or refused) again, after "so  shrunk to fit" or "big.png (1500x1125 ->
    1500x1125) shrunk", and the edge was kept. Now it is the API's error."""
    too_large = {
        "error_code": "image_dimensions_too_large",
        "max_side_length_pixels": 1600,  # within the tokens of Sonnet 5.5's tier: no shrink
        "paths": paths,
    }
    api.fail_next(400, details=too_large, path="/v1/messages")
    result = run("ask", make_image("big.png", (1500, 1125)))
    said = " ".join(result.stderr.split())
    assert result.exit_code == 3, said
    assert [r.status for r in api.messages_requests()] == [400]
    assert "shrunk" not in said and "HTTP 400" in said
    assert not (own_cache / "models.json").exists()
