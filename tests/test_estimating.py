"""The core of ``estimate``: choosing and pricing models, the cost arithmetic and its totals.

Prices in the known-answer tests are written out by hand from the spec's price table (USD per
million tokens), never read back from the data file, so a wrong price in the file fails here.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vision_cli import catalog, judging, policy
from vision_cli.estimating import choosing, costing, counting, tallying
from vision_cli.estimating.choosing import PlanError, PricedModel, PriceSpec
from vision_cli.estimating.costing import EstimatePlan, EstimateRow

STANDARD = policy.tier("standard")
HIGH_RES = policy.tier("high-res")


def plan_for(*names: str, **kwargs: object) -> EstimatePlan:
    models = choosing.choose_models(names)
    return EstimatePlan(models=models, **kwargs)  # type: ignore[arg-type]


def usd(width: int, height: int, plan: EstimatePlan) -> list[float]:
    return [c.usd for c in costing.price(width, height, plan)]


# --------------------------------------------------------------------------------------------------
# --price
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("3", PriceSpec(None, 3.0, None)),
        ("3/15", PriceSpec(None, 3.0, 15.0)),
        ("$0.10/$0.50", PriceSpec(None, 0.10, 0.50)),
        ("claude-x=2/10", PriceSpec("claude-x", 2.0, 10.0)),
        ("claude-x = 2", PriceSpec("claude-x", 2.0, None)),
        ("0/0", PriceSpec(None, 0.0, 0.0)),
    ],
)
def test_parse_price(text: str, spec: PriceSpec) -> None:
    assert choosing.parse_price(text) == spec


@pytest.mark.parametrize("text", ["", "free", "3/", "/15", "-1", "nan", "inf/1", "=3", "a=b"])
def test_parse_price_rejects(text: str) -> None:
    with pytest.raises(PlanError) as exc:
        choosing.parse_price(text)
    assert exc.value.param == "--price"


# --------------------------------------------------------------------------------------------------
# Choosing models
# --------------------------------------------------------------------------------------------------


def test_default_model_is_the_tables_default() -> None:
    (m,) = choosing.choose_models([])
    assert m.name == catalog.load().default == "claude-sonnet-5-5"
    assert (m.input_price, m.output_price, m.tier) == (2.0, 10.0, HIGH_RES)
    assert m.known and not m.overridden


def test_models_keep_their_order_and_lose_duplicates_by_id() -> None:
    got = choosing.choose_models(
        ["claude-opus-4-7", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929", "claude-opus-4-7"]
    )
    assert [m.name for m in got] == ["claude-opus-4-7", "claude-sonnet-4-5"]
    assert [m.tier for m in got] == [HIGH_RES, STANDARD]


def test_all_models_are_the_current_ones_after_those_named() -> None:
    cat = catalog.load()
    got = choosing.choose_models(["claude-opus-4-1"], all_models=True)
    names = [m.name for m in got]
    assert names[0] == "claude-opus-4-1"  # retired, but asked for by name
    active = [m.short_name for m in cat.active() if m.priced]  # no price: nothing to show
    assert names[1:] == active
    for gone in ("claude-opus-4-0", "claude-sonnet-4-5", "claude-opus-4-5", "claude-fable-5-2"):
        assert gone not in names
    every = choosing.choose_models([], all_models=True, include_retired=True)
    assert {"claude-sonnet-4-5", "claude-opus-4-5"} <= {m.name for m in every}
    priced = choosing.choose_models(
        [], all_models=True, prices=[PriceSpec("claude-fable-5-2", 8.0, 40.0)]
    )
    assert "claude-fable-5-2" in [m.name for m in priced]


def test_the_long_context_step_prices_the_whole_request() -> None:
    (haiku,) = choosing.choose_models(["claude-haiku-5-5"])
    plan = costing.EstimatePlan(models=(haiku,), output_tokens=100)
    assert plan.cost(100_000, haiku) == pytest.approx((100_000 * 0.1 + 100 * 0.5) / 1e6)
    assert plan.cost(100_001, haiku) == pytest.approx((100_001 * 0.5 + 100 * 2.5) / 1e6)
    (mine,) = choosing.choose_models(["claude-haiku-5-5"], prices=[PriceSpec(None, 1.0, 2.0)])
    assert mine.long_context is None  # your price is the price


def test_unknown_model_needs_a_price() -> None:
    with pytest.raises(PlanError) as exc:
        choosing.choose_models(["gpt-4o"])
    message = str(exc.value)
    assert "unknown model 'gpt-4o'" in message and "claude-sonnet-4-6" in message
    assert "--price gpt-4o=" in message and exc.value.param == "--model"


def test_a_price_makes_an_unknown_model_usable() -> None:
    (m,) = choosing.choose_models(["my-model"], prices=[PriceSpec("my-model", 2.0, 10.0)])
    assert m == PricedModel("my-model", STANDARD, 2.0, 10.0, known=False, overridden=True)
    (m,) = choosing.choose_models(
        ["my-model"], prices=[PriceSpec(None, 2.0, None)], tier="high-res"
    )
    assert (m.tier, m.output_price) == (HIGH_RES, None)


def test_a_bare_price_goes_to_the_only_model_and_keeps_its_output_price() -> None:
    (m,) = choosing.choose_models(["claude-haiku-4-5"], prices=[PriceSpec(None, 0.8)])
    assert (m.input_price, m.output_price, m.overridden) == (0.8, 5.0, True)


def test_a_named_price_matches_an_alias_or_the_id() -> None:
    got = choosing.choose_models(
        ["claude-sonnet-4-5", "claude-opus-4-7"],
        prices=[PriceSpec("claude-sonnet-4-5-20250929", 1.5, 7.5)],
    )
    assert [(m.name, m.input_price, m.overridden) for m in got] == [
        ("claude-sonnet-4-5", 1.5, True),
        ("claude-opus-4-7", 5.0, False),
    ]


@pytest.mark.parametrize(
    ("names", "prices", "tier", "output_tokens", "param", "words"),
    [
        (["claude-sonnet-4-5", "claude-opus-4-7"], [PriceSpec(None, 1)], None, 0, "--price",
         "say which one"),
        (["claude-sonnet-4-5"], [PriceSpec(None, 1), PriceSpec(None, 2)], None, 0, "--price",
         "only once"),
        (["claude-sonnet-4-5"], [PriceSpec("claude-opus-4-7", 1)], None, 0, "--price",
         "add --model claude-opus-4-7"),
        (["claude-sonnet-4-5"], [PriceSpec("claude-sonnet-4-5", 1),
                                 PriceSpec("claude-sonnet-4-5-20250929", 2)], None, 0,
         "--price", "more than one price"),
        (["claude-sonnet-4-5"], [], "high-res", 0, "--tier", "not in the price table"),
        (["x"], [PriceSpec("x", 1)], "huge", 0, "--tier", "not a tier"),
        (["x"], [PriceSpec("x", 1)], None, 100, "--price", "output price"),
    ],
)  # fmt: skip
def test_choose_models_refuses(
    names: list[str],
    prices: list[PriceSpec],
    tier: str | None,
    output_tokens: int,
    param: str,
    words: str,
) -> None:
    with pytest.raises(PlanError) as exc:
        choosing.choose_models(names, prices=prices, tier=tier, output_tokens=output_tokens)
    assert exc.value.param == param and words in str(exc.value)


# --------------------------------------------------------------------------------------------------
# Known answers
# --------------------------------------------------------------------------------------------------


def test_costs_by_hand() -> None:
    plan = plan_for("claude-sonnet-4-5", "claude-opus-4-7", "claude-haiku-4-5", "claude-haiku-5-5")
    # 1920x1080: standard tier 1456x819 -> 1560 tokens; high-res tier unchanged -> 2691 tokens.
    assert usd(1920, 1080, plan) == pytest.approx(
        [1560 * 3 / 1e6, 2691 * 5 / 1e6, 1560 * 1 / 1e6, 2691 * 0.10 / 1e6], rel=1e-12
    )
    assert usd(1920, 1080, plan) == pytest.approx([0.00468, 0.013455, 0.00156, 0.0002691])


def test_output_tokens_and_batch_by_hand() -> None:
    plan = plan_for("claude-sonnet-4-5", "claude-opus-5-5", output_tokens=500, batch=True)
    # 1000x1000: 1296 tokens in both tiers; Sonnet 4.5 $3/$15, Opus 5.5 $4/$20, half off.
    assert usd(1000, 1000, plan) == pytest.approx(
        [(1296 * 3 + 500 * 15) / 1e6 / 2, (1296 * 4 + 500 * 20) / 1e6 / 2], rel=1e-12
    )


def test_legacy_rule_ignores_the_tier() -> None:
    plan = plan_for("claude-sonnet-4-5", "claude-opus-4-7", rule="legacy")
    costs = costing.price(1000, 1000, plan)
    assert [c.tokens for c in costs] == [1334, 1334]
    assert plan.tiers() == [STANDARD]
    assert plan_for("claude-sonnet-4-5", "claude-opus-4-7").tiers() == [STANDARD, HIGH_RES]


def test_size_rows_are_judged_like_images() -> None:
    plan = plan_for("claude-sonnet-4-5")
    lim = judging.Limits(tier=STANDARD)
    ok = costing.row_from_size((1000, 1000), plan, lim)
    assert ok.path == "1000x1000" and ok.priced and ok.status == "ok" and ok.is_size
    big = costing.row_from_size((9000, 400), plan, lim)
    assert not big.priced and [f.code for f in big.errors] == [judging.Code.DIMENSIONS_TOO_LARGE]
    assert big.as_dict(plan)["costs"] == {"claude-sonnet-4-5": None}
    assert big.as_dict(plan)["tokens"] is None


# --------------------------------------------------------------------------------------------------
# Properties of the arithmetic
# --------------------------------------------------------------------------------------------------


sizes = st.tuples(st.integers(1, 9000), st.integers(1, 9000))
prices = st.floats(0, 100, allow_nan=False, allow_infinity=False)
model_sets = st.lists(
    st.sampled_from([m.short_name for m in catalog.load().models if m.priced]),
    min_size=1,
    max_size=4,
    unique=True,
)


@given(
    size=sizes,
    names=model_sets,
    rule=st.sampled_from(["current", "legacy"]),
    output_tokens=st.integers(0, 10_000),
)
def test_batch_exactly_halves(
    size: tuple[int, int], names: list[str], rule: policy.Rule, output_tokens: int
) -> None:
    full = plan_for(*names, rule=rule, output_tokens=output_tokens)
    half = plan_for(*names, rule=rule, output_tokens=output_tokens, batch=True)
    assert usd(*size, half) == [u / 2 for u in usd(*size, full)]


@given(size=sizes, names=model_sets, per=st.integers(1, 10**7))
def test_per_n_is_per_image_times_n(size: tuple[int, int], names: list[str], per: int) -> None:
    plan = plan_for(*names, per=per)
    for c in costing.price(*size, plan):
        assert plan.per_n(c.usd) == c.usd * per


@given(tokens=st.integers(0, 10**6), n=st.integers(1, 1000), inp=prices, out=prices)
def test_cost_is_linear_in_tokens(tokens: int, n: int, inp: float, out: float) -> None:
    plan = EstimatePlan(models=(PricedModel("m", STANDARD, inp, out),))
    m = plan.models[0]
    assert plan.cost(tokens * n, m) == pytest.approx(plan.cost(tokens, m) * n, rel=1e-9, abs=1e-15)
    assert plan.cost(tokens, m) == pytest.approx(tokens * inp / 1e6, rel=1e-12, abs=1e-18)


@given(output_tokens=st.integers(0, 10**5), inp=prices, out=prices, tokens=st.integers(0, 5000))
def test_output_tokens_add_their_price(
    output_tokens: int, inp: float, out: float, tokens: int
) -> None:
    m = PricedModel("m", STANDARD, inp, out)
    base = EstimatePlan(models=(m,)).cost(tokens, m)
    more = EstimatePlan(models=(m,), output_tokens=output_tokens).cost(tokens, m)
    assert more - base == pytest.approx(output_tokens * out / 1e6, rel=1e-9, abs=1e-12)


@given(
    rows=st.lists(sizes, max_size=30),
    bad=st.lists(st.booleans(), max_size=30),
    names=model_sets,
    per=st.integers(1, 100_000),
)
def test_totals_are_sums_over_priced_rows(
    rows: list[tuple[int, int]], bad: list[bool], names: list[str], per: int
) -> None:
    plan = plan_for(*names, per=per)
    lim = judging.Limits(tier=plan.models[0].tier)
    made: list[EstimateRow] = []
    for i, size in enumerate(rows):
        row = costing.row_from_size(size, plan, lim)
        if i < len(bad) and bad[i]:  # an unreadable file: listed, never priced
            row = EstimateRow(path=f"bad{i}", width=None, height=None, findings=row.errors)
        made.append(row)
    totals = tallying.total(made, plan)
    priced = [r for r in made if r.priced]
    assert totals.rows == len(made) and totals.count == len(priced)
    assert totals.tokens == sum(r.costs[0].tokens for r in priced)
    for i in range(len(plan.models)):
        assert totals.costs[i] == sum(r.costs[i].usd for r in priced)
        if priced:
            assert totals.costs_per(plan)[i] == pytest.approx(
                sum(r.costs[i].usd for r in priced) / len(priced) * per, rel=1e-12
            )
        else:
            assert totals.costs_per(plan)[i] == 0.0
    summary = totals.as_dict(plan)
    assert list(summary["costs"]) == plan.names == list(summary["costs_per"])


@given(size=sizes, names=model_sets)
def test_identical_images_per_n_equals_one_times_n(size: tuple[int, int], names: list[str]) -> None:
    plan = plan_for(*names, per=1000)
    row = costing.row_from_size(size, plan, judging.Limits(tier=plan.models[0].tier))
    if not row.priced:
        return
    totals = tallying.total([row] * 7, plan)
    for c, per in zip(row.costs, totals.costs_per(plan), strict=True):
        assert per == pytest.approx(c.usd * 1000, rel=1e-12)


# --------------------------------------------------------------------------------------------------
# Exact counting
# --------------------------------------------------------------------------------------------------


def _rows_and_files(tmp_path: Path, n: int) -> tuple[list[EstimateRow], list[Path | None]]:
    plan = plan_for("claude-sonnet-4-5")
    rows: list[EstimateRow] = []
    paths: list[Path | None] = []
    for i in range(n):
        path = tmp_path / f"{i}.bin"
        path.write_bytes(bytes([i]) * (i + 1))
        rows.append(
            EstimateRow(
                path=str(path),
                width=10,
                height=10,
                costs=costing.price(10, 10, plan),
                media_type="image/png",
            )
        )
        paths.append(path)
    return rows, paths


def test_count_exact_keeps_rows_in_place_and_skips_what_it_cannot_count(tmp_path: Path) -> None:
    rows, paths = _rows_and_files(tmp_path, 9)
    rows[2] = EstimateRow(path="bad", width=None, height=None)  # not priced
    paths[5] = None  # no file (a --size row)
    seen: list[int] = []
    lock = threading.Lock()

    def count(data: bytes, media_type: str) -> int:
        assert media_type == "image/png"
        with lock:
            seen.append(len(data))
        return len(data) * 100

    got = counting.count_exact(rows, paths, count, workers=3)
    assert [r.exact_tokens for r in got] == [
        None if i in (2, 5) else (i + 1) * 100 for i in range(9)
    ]
    assert sorted(seen) == [i + 1 for i in range(9) if i not in (2, 5)]
    assert counting.exact_difference(got[0]) == 100 - got[0].costs[0].tokens


def test_count_exact_stops_at_the_first_failure(tmp_path: Path) -> None:
    rows, paths = _rows_and_files(tmp_path, 50)
    calls: list[int] = []
    lock = threading.Lock()

    def count(data: bytes, media_type: str) -> int:
        with lock:
            calls.append(len(data))
        if len(data) == 1:
            raise RuntimeError("boom")
        return 1

    with pytest.raises(RuntimeError, match="boom"):
        counting.count_exact(rows, paths, count, workers=1)
    assert calls == [1]  # one worker: nothing after the failure was started


def test_count_exact_runs_at_most_workers_at_once(tmp_path: Path) -> None:
    rows, paths = _rows_and_files(tmp_path, 24)
    active = 0
    most = 0
    lock = threading.Lock()

    def count(data: bytes, media_type: str) -> int:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
        time.sleep(0.005)  # give the others a chance to overlap
        with lock:
            active -= 1
        return 1

    got = counting.count_exact(rows, paths, count, workers=4)
    assert all(r.exact_tokens == 1 for r in got)
    assert 1 <= most <= 4
