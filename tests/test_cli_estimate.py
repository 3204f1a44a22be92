"""``vision-cli estimate`` through its real entry points: known answers, formats, exit codes.

Every price below is written out by hand from the spec's price table (USD per million tokens):
Sonnet 4.5 $3 / $15, Opus 4.7 $5 / $25, Opus 5.5 $4 / $20, Haiku 4.5 $1 / $5, Haiku 5.5 $0.10 /
$0.50. ``--exact`` runs against the local fake API on 127.0.0.1.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from tests.conftest import API_KEY, MakeImage, Run, encode, imported_by, picture, records
from tests.fakeapi import FakeClaudeAPI, OpenApiValidator
from tests.known_answers import CURRENT_TABLE
from vision_cli import catalog, render
from vision_cli.render.text import display_width, pad

SEED = ("--size", "200x200", "--size", "1000x1000", "--size", "1092x1092")


@pytest.fixture(autouse=True)
def standard_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests were written for a standard-tier default at $3/$15 (Sonnet 4.5, now retired):
    they name such a model through the environment. The default itself: test_models.py."""
    monkeypatch.setenv("VISION_CLI_MODEL", "claude-sonnet-4-6")


def doc_of(result: Result) -> dict[str, Any]:
    assert result.exit_code in (0, 1), result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


def estimate_json(run: Run, *args: str | Path) -> dict[str, Any]:
    return doc_of(run("estimate", *args, "--json"))


def patches(w: int, h: int) -> int:
    return math.ceil(w / 28) * math.ceil(h / 28)


# --------------------------------------------------------------------------------------------------
# Known answers
# --------------------------------------------------------------------------------------------------


def near_seed(value: float, seed: str) -> bool:
    """Within 1% of the seed's figure, or within the rounding of its last shown digit (the seed
    writes 54 tokens x $3 = $0.000162 as $0.00016)."""
    shown = float(seed)
    decimals = len(seed.partition(".")[2])
    return abs(value - shown) <= max(0.01 * shown, 0.5 / 10.0**decimals)


def test_the_seeds_legacy_table(run: Run) -> None:
    args = ("--rule", "legacy", "--model", "claude-sonnet-4-5", *SEED)
    doc = estimate_json(run, *args)
    rows = doc["images"]
    assert [r["path"] for r in rows] == ["200x200", "1000x1000", "1092x1092"]
    assert [r["tokens"] for r in rows] == [54, 1334, 1590]
    seed_per_image = ["0.00016", "0.004", "0.0048"]
    seed_per_1000 = ["0.16", "4.00", "4.80"]
    for row, per_image, per_1000 in zip(rows, seed_per_image, seed_per_1000, strict=True):
        cost = row["costs"]["claude-sonnet-4-5"]
        assert near_seed(cost, per_image), (cost, per_image)
        assert near_seed(cost * 1000, per_1000), (cost, per_1000)
    assert not near_seed(0.00017, "0.00016") and not near_seed(4.85, "4.80")  # the check bites
    # the per-1,000 figure itself, one size at a time (the summary's per N is the average image)
    for size, per_1000 in zip(SEED[1::2], seed_per_1000, strict=True):
        one = estimate_json(run, "--rule", "legacy", "-m", "claude-sonnet-4-5", "--size", size)
        assert near_seed(one["summary"]["costs_per"]["claude-sonnet-4-5"], per_1000)
    table = run("estimate", *args)
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    for name, tokens, per_image, per_1000 in [
        ("200x200", "54", "$0.00016", "$0.16"),
        ("1000x1000", "1,334", "$0.004", "$4.00"),
        ("1092x1092", "1,590", "$0.0048", "$4.77"),  # the seed's ~$4.80, exactly 1590 x $3
    ]:
        line = next(x for x in lines if x.startswith(name + " "))
        assert line.split()[-3:] == [tokens, per_image, per_1000]
    assert any(line.startswith("total (3 images)") for line in lines)


@pytest.mark.parametrize(("size", "standard", "high_res"), CURRENT_TABLE)
def test_the_current_rule_table(
    run: Run,
    size: tuple[int, int],
    standard: tuple[tuple[int, int], int | None],
    high_res: tuple[tuple[int, int], int | None],
) -> None:
    w, h = size
    for model, price, ((aw, ah), tokens) in [
        ("claude-sonnet-4-6", 3, standard),
        ("claude-opus-4-7", 5, high_res),
    ]:
        (row,) = estimate_json(run, "--model", model, "--size", f"{w}x{h}")["images"]
        expected = tokens if tokens is not None else patches(aw, ah)
        assert (row["width"], row["height"]) == (w, h)
        assert (row["api_width"], row["api_height"], row["tokens"]) == (aw, ah, expected)
        assert row["costs"] == {model: pytest.approx(expected * price / 1e6, rel=1e-12)}


def test_costs_for_several_models_by_hand(run: Run) -> None:
    doc = estimate_json(
        run,
        "--size", "1920x1080", "--size", "3840x2160",
        "-m", "claude-sonnet-4-6", "-m", "claude-opus-4-7", "-m", "claude-haiku-4-5",
        "-m", "claude-haiku-5-5", "-m", "claude-opus-5-5",
    )  # fmt: skip
    first, second = doc["images"]
    # the row's tokens and API size are the first model's (Sonnet 4.5, standard tier)
    assert (first["api_width"], first["api_height"], first["tokens"]) == (1456, 819, 1560)
    assert first["costs"] == pytest.approx(
        {
            "claude-sonnet-4-6": 0.00468,  # 1560 x $3
            "claude-opus-4-7": 0.013455,  # 2691 x $5 (high-res: not resized)
            "claude-haiku-4-5": 0.00156,  # 1560 x $1
            "claude-haiku-5-5": 0.0002691,  # 2691 x $0.10
            "claude-opus-5-5": 0.010764,  # 2691 x $4
        },
        rel=1e-12,
    )
    assert second["costs"] == pytest.approx(
        {
            "claude-sonnet-4-6": 0.00468,  # 1560 x $3
            "claude-opus-4-7": 0.02392,  # 4784 x $5
            "claude-haiku-4-5": 0.00156,  # 1560 x $1
            "claude-haiku-5-5": 0.0004784,  # 4784 x $0.10
            "claude-opus-5-5": 0.019136,  # 4784 x $4
        },
        rel=1e-12,
    )
    summary = doc["summary"]
    assert summary["count"] == 2 and summary["tokens"] == 1560 * 2
    assert summary["costs"]["claude-opus-4-7"] == pytest.approx(0.013455 + 0.02392, rel=1e-12)
    assert summary["costs_per"]["claude-opus-4-7"] == pytest.approx(
        (0.013455 + 0.02392) / 2 * 1000, rel=1e-12
    )


def test_output_tokens_and_per(run: Run) -> None:
    doc = estimate_json(
        run, "--size", "1000x1000", "-m", "claude-sonnet-4-6", "--output-tokens", "500",
        "--per", "250",
    )  # fmt: skip
    cost = 0.003888 + 0.0075  # 1296 x $3 + 500 x $15
    assert doc["images"][0]["costs"]["claude-sonnet-4-6"] == pytest.approx(cost, rel=1e-12)
    assert doc["summary"]["per"] == 250
    assert doc["summary"]["costs_per"]["claude-sonnet-4-6"] == pytest.approx(cost * 250, rel=1e-12)


def test_batch_halves_every_cost(run: Run) -> None:
    args = ("--size", "1920x1080", "--size", "640x480", "--all-models", "--output-tokens", "300")
    full = estimate_json(run, *args)
    half = estimate_json(run, *args, "--batch")
    assert half["summary"]["batch"] is True and full["summary"]["batch"] is False
    for a, b in zip(full["images"], half["images"], strict=True):
        assert b["costs"] == {m: usd / 2 for m, usd in a["costs"].items()}
    for key in ("costs", "costs_per"):
        assert half["summary"][key] == pytest.approx(
            {m: usd / 2 for m, usd in full["summary"][key].items()}, rel=1e-12
        )
    assert half["images"][0]["costs"]["claude-sonnet-4-6"] == pytest.approx(
        (1560 * 3 + 300 * 15) / 1e6 / 2, rel=1e-12
    )
    assert "Batch prices: yes" in run("estimate", *args, "--batch").stdout


def test_price_overrides(run: Run) -> None:
    doc = estimate_json(run, "--size", "1000x1000", "--price", "10/50", "--output-tokens", "100")
    assert doc["images"][0]["costs"] == {
        "claude-sonnet-4-6": pytest.approx((1296 * 10 + 100 * 50) / 1e6, rel=1e-12)
    }
    doc = estimate_json(
        run, "--size", "1000x1000", "-m", "claude-sonnet-4-6", "-m", "claude-opus-4-7",
        "--price", "claude-opus-4-7=1",
    )  # fmt: skip
    assert doc["images"][0]["costs"] == pytest.approx(
        {"claude-sonnet-4-6": 1296 * 3 / 1e6, "claude-opus-4-7": 1296 * 1 / 1e6}, rel=1e-12
    )
    table = run("estimate", "--size", "1000x1000", "--price", "10/50").stdout
    assert "claude-sonnet-4-6: your --price, $10 input, $50 output." in table


def test_a_price_makes_an_unknown_model_usable(run: Run) -> None:
    args = ("--size", "1920x1080", "-m", "my-model", "--price", "my-model=2/10")
    (row,) = estimate_json(run, *args)["images"]
    assert (row["tokens"], row["costs"]) == (1560, {"my-model": pytest.approx(1560 * 2 / 1e6)})
    (row,) = estimate_json(run, *args, "--tier", "high-res")["images"]
    assert (row["tokens"], row["costs"]) == (2691, {"my-model": pytest.approx(2691 * 2 / 1e6)})
    assert "not in the table: standard tier assumed" in run("estimate", *args).stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("-m", "gpt-4o"), "known models"),
        (("-m", "a", "-m", "claude-opus-4-7", "--price", "a=1", "--price", "2"), "say which"),
        (("--price", "claude-opus-4-7=1"), "add --model claude-opus-4-7"),
        (("--price", "cheap"), "not a price"),
        (("--tier", "high-res"), "--tier is only for models"),
        (("-m", "x", "--price", "x=1", "--output-tokens", "9"), "output price"),
        (("--rule", "newest"), "not a rule"),
        (("--size", "big"), "not a size"),
        (("--size", "0x10"), "not a size"),
        (("--per", "0"), "--per"),
        (("--output-tokens", "-1"), "--output-tokens"),
        (("--format", "github"), "is not one of"),
        (("--max-bytes", "lots"), "not a size"),
    ],
)
def test_usage_errors_exit_2(run: Run, args: tuple[str, ...], words: str) -> None:
    result = run("estimate", "--size", "100x100", *args)
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.stderr.replace("│", " ").split())
    assert result.stdout == ""


def test_unknown_model_lists_the_known_ones(run: Run) -> None:
    result = run("estimate", "--size", "100x100", "--model", "gpt-4o")
    assert result.exit_code == 2
    err = result.stderr
    assert "gpt-4o" in err and "claude-sonnet-4-6" in err and "claude-opus-4-7" in err


def test_nothing_to_estimate_is_a_usage_error(run: Run) -> None:
    result = run("estimate")
    assert result.exit_code == 2 and "--size" in result.stderr


def test_all_models_are_the_current_ones(run: Run) -> None:
    doc = estimate_json(run, "--size", "1000x1000", "--all-models")
    names = list(doc["images"][0]["costs"])
    assert "claude-sonnet-4-6" in names and "claude-opus-4-7" in names
    assert "claude-opus-4-1" not in names and "claude-opus-4-0" not in names  # retired
    active = [m.short_name for m in catalog.load().active() if m.priced]
    assert names == ["claude-sonnet-4-6", *(n for n in active if n != "claude-sonnet-4-6")]
    assert list(doc["summary"]["costs"]) == names


# --------------------------------------------------------------------------------------------------
# Images, errors and exit codes
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def mixed(make_image: MakeImage, tmp_path: Path) -> Path:
    folder = tmp_path / "mixed"
    make_image("good.png", (1000, 1000), folder=folder)
    make_image("wide.jpg", (1920, 1080), folder=folder)
    make_image("scan.bmp", (300, 300), folder=folder, fmt="BMP")
    (folder / "broken.png").write_bytes(b"not an image at all")
    return folder


def test_images_are_priced_from_their_real_size(run: Run, make_image: MakeImage) -> None:
    path = make_image("photo.jpg", (1920, 1080))
    result = run("estimate", path, "--json")
    assert result.exit_code == 0
    (row,) = json.loads(result.stdout)["images"]
    assert row == {
        "path": str(path), "width": 1920, "height": 1080, "api_width": 1456,
        "api_height": 819, "tokens": 1560,
        "costs": {"claude-sonnet-4-6": pytest.approx(0.00468, rel=1e-12)},
    }  # fmt: skip


def test_rejected_images_get_a_marked_row_and_exit_1(run: Run, mixed: Path) -> None:
    result = run("estimate", mixed, "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    rows = {Path(r["path"]).name: r for r in doc["images"]}
    assert sorted(rows) == ["broken.png", "good.png", "scan.bmp", "wide.jpg"]
    for name in ("broken.png", "scan.bmp"):
        assert rows[name]["tokens"] is None and rows[name]["api_width"] is None
        assert rows[name]["costs"] == {"claude-sonnet-4-6": None}
    assert (rows["scan.bmp"]["width"], rows["broken.png"]["width"]) == (300, None)
    assert doc["summary"]["count"] == 2 and doc["summary"]["tokens"] == 1296 + 1560
    assert doc["summary"]["costs"]["claude-sonnet-4-6"] == pytest.approx(
        (1296 + 1560) * 3 / 1e6, rel=1e-12
    )
    assert "Error: unsupported-format (" in result.stderr and "scan.bmp" in result.stderr
    assert "Error: unreadable (" in result.stderr and "Traceback" not in result.stderr

    table = run("estimate", mixed)
    assert table.exit_code == 1
    lines = table.stdout.splitlines()
    scan = next(line for line in lines if "scan.bmp" in line and "rejected" in line)
    assert scan.startswith("✗ ")
    assert any(line.startswith("✗ ") and "unsupported-format:" in line for line in lines)
    assert any(line.startswith("total (2 images, 2 rejected)") for line in lines)
    assert table.stderr == ""  # the table lists the errors itself


def test_exit_codes(run: Run, make_image: MakeImage, mixed: Path) -> None:
    assert run("estimate", make_image("ok.png", (800, 600))).exit_code == 0
    assert run("estimate", make_image("small.png", (50, 50))).exit_code == 0  # a warning only
    assert run("estimate", mixed).exit_code == 1
    assert run("estimate", "--size", "9000x100").exit_code == 1  # the API would refuse it
    assert run("estimate", "--size", "100x100", "-m", "nope").exit_code == 2


def test_size_rows_come_after_inputs_and_stdin_works(run: Run) -> None:
    data = encode(picture((500, 400)), "WEBP")
    doc = doc_of(run("estimate", "-", "--size", "28x28", "--json", input=data))
    assert [(r["path"], r["tokens"]) for r in doc["images"]] == [("-", 18 * 15), ("28x28", 1)]


# --------------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------------


def test_json_structure_is_exactly_the_documented_one(run: Run, mixed: Path) -> None:
    doc = doc_of(run("estimate", mixed, "--size", "1000x1000", "-m", "claude-opus-4-7", "--json"))
    assert list(doc) == ["images", "summary"]
    for row in doc["images"]:
        assert list(row) == [
            "path", "width", "height", "api_width", "api_height", "tokens", "costs",
        ]  # fmt: skip
        assert list(row["costs"]) == ["claude-opus-4-7"]
    summary = doc["summary"]
    assert list(summary) == [
        "count", "tokens", "rule", "batch", "per", "costs", "costs_per", "prices_date",
    ]  # fmt: skip
    assert (summary["rule"], summary["batch"], summary["per"]) == ("current", False, 1000)
    assert summary["prices_date"] == catalog.load().date
    assert isinstance(summary["tokens"], int) and isinstance(
        summary["costs"]["claude-opus-4-7"], float
    )
    assert doc["images"][-1]["path"] == "1000x1000"


def test_jsonl_is_the_json_rows(run: Run, mixed: Path) -> None:
    whole = json.loads(run("estimate", mixed, "--json").stdout)
    lines = records(run("estimate", mixed, "--format", "jsonl"))
    assert lines == whole["images"]


def test_csv(run: Run, mixed: Path) -> None:
    result = run("estimate", mixed, "-f", "csv", "-m", "claude-sonnet-4-6", "-m", "claude-opus-4-7")
    assert result.exit_code == 1
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [
        "path", "status", "codes", "width", "height", "api_width", "api_height", "tokens",
        "cost_claude-sonnet-4-6", "cost_claude-opus-4-7", "path_bytes",
    ]  # fmt: skip
    by_name = {Path(r["path"]).name: r for r in rows}
    assert by_name["wide.jpg"]["tokens"] == "1560" and by_name["wide.jpg"]["status"] == "warning"
    assert float(by_name["wide.jpg"]["cost_claude-opus-4-7"]) == pytest.approx(2691 * 5 / 1e6)
    assert by_name["scan.bmp"]["status"] == "error" and by_name["scan.bmp"]["tokens"] == ""
    assert "unsupported-format" in by_name["scan.bmp"]["codes"]
    assert by_name["scan.bmp"]["cost_claude-sonnet-4-6"] == ""


def test_table_footer_and_tiers(run: Run) -> None:
    out = run("estimate", "--size", "1920x1080", "-m", "claude-sonnet-4-6", "-m", "claude-opus-4-7")
    text = out.stdout
    header = text.splitlines()[0]
    assert "tokens (standard)" in header and "tokens (high-res)" in header
    row = next(line for line in text.splitlines() if line.startswith("1920x1080 "))
    assert "1456x819" in row and "1,560" in row and "2,691" in row
    assert f"table of {catalog.load().date}" in text and "Claude models overview" in text
    assert "Rule: current" in text and "Batch prices: no." in text
    legacy = run("estimate", "--size", "1920x1080", "--rule", "legacy").stdout
    assert "Rule: legacy" in legacy and "(standard)" not in legacy


def test_table_on_a_terminal_uses_rich_and_cuts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    from vision_cli import judging
    from vision_cli.estimating import choosing, costing, tallying
    from vision_cli.formats import Format
    from vision_cli.render.estimate import EstimateReport

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    plan = costing.EstimatePlan(
        models=choosing.choose_models(["claude-sonnet-4-6", "claude-opus-4-7"], all_models=True),
        prices_date="2026-11-01",
    )
    stream = Terminal()
    monkeypatch.setenv("COLUMNS", "60")
    report = EstimateReport(Format.table, plan, stream=stream)
    lim = judging.Limits(tier=plan.models[0].tier)
    rows = [costing.row_from_size(s, plan, lim) for s in [(3840, 2160), (9000, 10)]]
    for row in rows:
        report.add(row)
    report.finish(tallying.total(rows, plan))
    text = stream.getvalue()
    assert "…" not in text  # nothing truncated, however narrow the terminal
    assert "claude-mythos-5" in text and "$0.02" in text and "✗ 9000x10" in text
    assert "dimensions-too-large" in text


# --------------------------------------------------------------------------------------------------
# --exact, against the fake API
# --------------------------------------------------------------------------------------------------


COUNT = "/v1/messages/count_tokens"


def test_exact_counts_side_by_side(run: Run, api: FakeClaudeAPI, mixed: Path) -> None:
    result = run("estimate", mixed, "--size", "640x480", "--exact", "--json")
    assert result.exit_code == 1  # the rejected images still count
    doc = json.loads(result.stdout)
    rows = {Path(r["path"]).name: r for r in doc["images"]}
    # the fake counts patches of the image as sent (it does not shrink it the way the API does)
    assert rows["good.png"]["exact_tokens"] == 1296
    assert rows["wide.jpg"]["exact_tokens"] == patches(1920, 1080)
    assert rows["scan.bmp"]["exact_tokens"] is None and rows["broken.png"]["exact_tokens"] is None
    assert rows["640x480"]["exact_tokens"] is None  # a size has no image to send
    assert doc["summary"]["exact_tokens"] == 1296 + patches(1920, 1080)
    sent = api.requests_to(COUNT)
    assert len(sent) == 2 and all(r.status == 200 for r in sent)
    assert sorted(im.describe() for r in sent for im in r.images) == [
        "1000x1000 image/png",
        "1920x1080 image/jpeg",
    ]
    for r in sent:
        assert r.body["model"] == "claude-sonnet-4-6" and len(r.body["messages"]) == 1
        (block,) = r.body["messages"][0]["content"]
        assert block["type"] == "image" and block["source"]["type"] == "base64"
    by_type = {r.images[0].media_type: r for r in sent}
    sent_bytes = base64.b64decode(
        by_type["image/png"].body["messages"][0]["content"][0]["source"]["data"]
    )
    assert sent_bytes == (mixed / "good.png").read_bytes()  # the original, as it would be sent


def test_exact_table_shows_the_difference(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    path = make_image("wide.png", (1920, 1080))
    result = run("estimate", path, "--exact")
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()[:2]
    assert "exact" in header and "diff" in header
    assert f"{patches(1920, 1080):,}" in row and f"+{patches(1920, 1080) - 1560:,}" in row
    assert "Exact: the token-counting endpoint for claude-sonnet-4-6" in result.stdout


def test_exact_counts_many_images_in_their_own_rows(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    sizes = [(56 * (i + 1), 28 * (i + 2)) for i in range(10)]
    for i, size in enumerate(sizes):
        make_image(f"{i:02}.png", size, folder=folder)
    doc = doc_of(run("estimate", folder, "--exact", "--json"))
    assert [r["exact_tokens"] for r in doc["images"]] == [patches(*s) for s in sizes]
    assert len(api.requests_to(COUNT)) == 10


def test_exact_counts_stdin_read_once(run: Run, api: FakeClaudeAPI, make_image: MakeImage) -> None:
    """Standard input can be read only once: what was checked is what gets counted."""
    data = encode(picture((300, 200)), "PNG")
    doc = doc_of(run("estimate", "-", "--exact", "--json", input=data))
    assert doc["images"][0]["exact_tokens"] == patches(300, 200)
    (req,) = api.requests_to(COUNT)
    assert base64.b64decode(req.body["messages"][0]["content"][0]["source"]["data"]) == data


def test_exact_body_matches_the_openapi_description(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    openapi_validator: OpenApiValidator,
) -> None:
    api.openapi = openapi_validator
    assert run("estimate", make_image("a.jpg", (400, 300)), "--exact").exit_code == 0
    assert [r.status for r in api.requests_to(COUNT)] == [200]


def test_exact_without_a_key_stops_before_any_request(
    run: Run,
    fake_api: FakeClaudeAPI,
    monkeypatch: pytest.MonkeyPatch,
    make_image: MakeImage,
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.base_url)
    result = run("estimate", make_image("a.png"), "--exact")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ANTHROPIC_API_KEY is not set")
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    assert fake_api.requests == []


@pytest.mark.parametrize(
    ("status", "kind", "message", "times"),
    [
        (400, "invalid_request_error", "messages.0.content.0.image.source.base64: bad", 1),
        (401, "authentication_error", "invalid x-api-key", 1),
        (529, "overloaded_error", "Overloaded", 3),  # the SDK's two retries fail too
    ],
)
def test_api_failure_exits_3(
    run: Run,
    api: FakeClaudeAPI,
    make_image: MakeImage,
    status: int,
    kind: str,
    message: str,
    times: int,
) -> None:
    api.fail_next(status, kind, message, retry_after=0.01, times=times, path=COUNT)
    result = run("estimate", make_image("a.png"), "--exact")
    assert result.exit_code == 3
    err = result.stderr.strip()
    assert err.startswith(f"Error: token counting failed: HTTP {status} {kind}: {message}")
    assert len(err.splitlines()) == 1 and API_KEY not in err and "Traceback" not in err
    assert result.stdout == ""


def test_exact_on_an_unreachable_api_exits_3(
    run: Run, monkeypatch: pytest.MonkeyPatch, make_image: MakeImage
) -> None:
    import socket

    with socket.socket() as s:  # a port on 127.0.0.1 that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    result = run("estimate", make_image("a.png"), "--exact")
    assert result.exit_code == 3 and "connection_error" in result.stderr


# --------------------------------------------------------------------------------------------------
# Imports
# --------------------------------------------------------------------------------------------------


def test_help_and_sizes_load_neither_pillow_nor_the_sdk() -> None:
    for args in (("estimate", "--help"), ("estimate", "--size", "1000x1000", "--json")):
        imported = imported_by(*args)
        assert "vision_cli.cli.estimate" in imported  # the measurement works
        heavy = {m for m in imported if m.split(".")[0] in ("PIL", "anthropic", "httpx", "httpx2")}
        assert not heavy, (args, heavy)


def test_files_load_pillow_but_not_the_sdk(make_image: MakeImage) -> None:
    imported = imported_by("estimate", str(make_image("a.png")), "--json")
    assert "PIL.Image" in imported  # the measurement works
    assert not {m for m in imported if m.split(".")[0] in ("anthropic", "httpx", "httpx2")}


def test_model_from_the_environment(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISION_CLI_MODEL", "claude-haiku-4-5")
    doc = estimate_json(run, "--size", "1000x1000")
    assert doc["images"][0]["costs"] == {"claude-haiku-4-5": pytest.approx(1296 * 1 / 1e6)}


def test_project_configuration_sets_defaults(
    run: Run, chdir_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VISION_CLI_MODEL")  # the environment wins over the file
    (chdir_tmp / "vision-cli.toml").write_text(
        '[estimate]\nmodel = ["claude-opus-4-7", "claude-haiku-4-5"]\nbatch = true\nper = 500\n'
    )
    doc = estimate_json(run, "--size", "1920x1080")
    assert list(doc["summary"]["costs"]) == ["claude-opus-4-7", "claude-haiku-4-5"]
    assert (doc["summary"]["batch"], doc["summary"]["per"]) == (True, 500)
    assert doc["images"][0]["costs"]["claude-haiku-4-5"] == pytest.approx(1560 * 1 / 1e6 / 2)


def test_markdown_totals_first_then_rejected_rows(run: Run, mixed: Path) -> None:
    result = run(
        "estimate", mixed, "-f", "markdown", "-m", "claude-sonnet-4-6", "-m", "claude-haiku-4-5"
    )
    text = result.stdout
    assert result.exit_code == 1
    assert text.startswith("### ❌ vision-cli estimate:")
    assert text.index("| `claude-sonnet-4-6` |") < text.index("| rejected | why |")
    assert "| `claude-haiku-4-5` |" in text
    assert result.stderr == ""  # the rejections are in the markdown, not repeated on stderr
    clean = run("estimate", "--size", "1000x1000", "-f", "markdown").stdout
    assert clean.startswith("### ✅") and "| `claude-sonnet-4-6` | $0.0039 | $3.89 |" in clean
    assert "rejected" not in clean


# ---- several models in a table: a column per model while it fits, else a row per model


def test_all_models_fit_the_width_as_a_row_per_model(
    run: Run, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    image = make_image("photo.png", (3000, 2000))
    doc = doc_of(run("estimate", image, "--all-models", "--json"))
    text = run("estimate", image, "--all-models").stdout
    images, table = text.split("\n\nPrices:")[0].split("\n\n")
    assert "claude-" not in images.splitlines()[0]  # no column per model
    assert table.startswith("model ")
    assert max(len(line) for line in table.splitlines()) <= 120  # piped: 120 columns
    models = dict(doc["summary"]["costs"])
    assert len(models) > 5
    split = [line.split() for line in table.splitlines()]
    rows = {cells[0]: cells for cells in split if cells[0].startswith("claude-")}
    assert rows.keys() == models.keys()
    cheapest = min(models, key=lambda m: models[m])
    assert f"cheapest: {cheapest}" in table
    for name, cells in rows.items():  # model, tier, $/MTok in, out, tokens, cost, per 1,000
        tokens, price = int(cells[4].replace(",", "")), float(cells[2])
        assert tokens * price / 1e6 == pytest.approx(models[name], rel=1e-9)
        assert cells[5] == render.money(models[name])


def test_a_column_per_model_when_it_fits(
    run: Run, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = make_image("photo.png", (3000, 2000))
    monkeypatch.setenv("COLUMNS", "1000")
    wide = run("estimate", image, "--all-models").stdout
    header = wide.splitlines()[0]
    assert "claude-opus-4-7" in header and "claude-haiku-4-5" in header
    two = run("estimate", image, "-m", "claude-sonnet-4-5", "-m", "claude-haiku-4-5").stdout
    assert "claude-haiku-4-5" in two.splitlines()[0]  # two models fit in 1000 columns
    monkeypatch.setenv("COLUMNS", "80")
    narrow = run("estimate", image, "-m", "claude-sonnet-4-5", "-m", "claude-haiku-4-5").stdout
    assert "claude-haiku-4-5" not in narrow.splitlines()[0]
    assert any(line.startswith("claude-haiku-4-5 ") for line in narrow.splitlines())


def test_wide_characters_keep_the_columns_aligned(
    run: Run, make_image: MakeImage, tmp_path: Path
) -> None:
    folder = tmp_path / "imgs"
    for name in ("plain.png", "日本語の名前.png", "café-é.png", "한국어.png"):
        make_image(name, (300, 240), folder=folder)
    text = run("estimate", folder).stdout
    lines = [line for line in text.splitlines() if "300x240" in line]
    assert len(lines) == 4
    starts = {display_width(line[: line.index("300x240")]) for line in lines}
    assert len(starts) == 1, text  # every size starts in the same terminal column
    header = text.splitlines()[0]
    assert display_width(header[: header.index("size")]) in starts


@pytest.mark.parametrize(
    ("text", "width"),
    [("abc", 3), ("日本", 4), ("café", 4), ("cafe\u0301", 4), ("한국어", 6), ("a\u200bb", 2)],
)
def test_display_width(text: str, width: int) -> None:
    assert display_width(text) == width
    assert display_width(pad(text, 10)) == 10


# ---- found by running estimate as users do (session 12)


def test_exact_with_tiles_counts_only_files_the_api_takes_as_they_are(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    # A 9000 px panorama is priced as its tiles, but the file itself would only be refused:
    # counting it sent a request the API refuses, and the whole run failed with exit 3.
    folder = tmp_path / "shots"
    make_image("wide.png", (9000, 600), folder=folder)
    make_image("small.png", (560, 280), folder=folder)
    result = run("estimate", folder, "--tile", "--exact", "--json")
    assert result.exit_code == 0, result.stderr
    rows = {Path(r["path"]).name: r for r in doc_of(result)["images"]}
    assert rows["wide.png"]["exact_tokens"] is None and rows["wide.png"]["tokens"] > 0
    assert rows["small.png"]["exact_tokens"] == patches(560, 280)
    assert len(api.requests_to(COUNT)) == 1 and api.requests_to(COUNT)[0].status == 200
    table = run("estimate", folder, "--tile", "--exact").stdout
    assert "1 row not counted" in table and "over the rows counted" in table


def test_tiles_never_price_an_image_over_the_pixel_budget(run: Run) -> None:
    # No command decodes it, so no command can cut it into tiles: it stays rejected.
    result = run("estimate", "--size", "10000x10000", "--tile", "4x4", "--json")
    assert result.exit_code == 1
    (row,) = doc_of(result)["images"]
    assert row["tokens"] is None and row["tiles"] is None
    assert "pixel budget" in result.stderr


def test_a_configured_price_or_tier_gives_way_to_the_models_typed(
    run: Run, chdir_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VISION_CLI_MODEL")
    (chdir_tmp / "vision-cli.toml").write_text(
        '[estimate]\nmodel = "my-model"\nprice = ["my-model=2/10"]\ntier = "high-res"\n'
    )
    mine = estimate_json(run, "--size", "1568x1568")  # the configuration's own model
    assert list(mine["summary"]["costs"]) == ["my-model"]
    typed = estimate_json(run, "--size", "200x200", "-m", "claude-opus-4-7")
    assert list(typed["summary"]["costs"]) == ["claude-opus-4-7"]
    # typed, the same values are still usage errors
    bad = run("estimate", "--size", "200x200", "-m", "claude-opus-4-7", "--tier", "high-res")
    assert bad.exit_code == 2 and "--tier" in bad.stderr
    bad = run("estimate", "--size", "2x2", "-m", "claude-opus-4-7", "--price", "x=1/2")
    assert bad.exit_code == 2 and "not among the models" in bad.stderr


@pytest.mark.parametrize("price", ["0,10/0,50", "1,5", "$1,000"])
def test_a_price_with_a_comma_is_refused_not_read_as_a_bigger_number(run: Run, price: str) -> None:
    result = run("estimate", "--size", "1000x1000", "-m", "claude-haiku-4-5", "--price", price)
    assert result.exit_code == 2 and "point" in result.stderr


def test_snap_under_the_legacy_rule_prices_the_snapped_size(run: Run) -> None:
    args = ("estimate", "--size", "1000x1000", "--rule", "legacy", "-m", "claude-sonnet-4-6")
    plain = estimate_json(run, *args[1:])
    snapped = estimate_json(run, *args[1:], "--snap")
    (row,) = snapped["images"]
    assert (row["api_width"], row["api_height"]) == (980, 980)
    assert row["tokens"] == math.ceil(980 * 980 / 750) < plain["images"][0]["tokens"]


def test_trim_totals_hold_size_rows_and_say_what_they_count(
    run: Run, make_image: MakeImage, tmp_path: Path
) -> None:
    result = run("estimate", "--size", "560x560", "--trim", "-f", "csv")
    assert result.exit_code == 0
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert row["untrimmed_tokens"] == row["tokens"] == str(patches(560, 560))
    total = run("estimate", "--size", "560x560", "--trim").stdout
    assert "0 trimmed" in total


def test_a_model_without_a_price_names_model_not_price(run: Run) -> None:
    result = run("estimate", "--size", "100x100", "-m", "claude-fable-5-2")
    assert result.exit_code == 2 and "--model" in result.stderr and "--price" in result.stderr
    assert "Invalid value for --price" not in result.stderr
