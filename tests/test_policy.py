"""The pure core: known answers from the spec, and properties of the fit arithmetic."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.known_answers import CURRENT_TABLE, LARGEST_UNRESIZED, LEGACY_TABLE
from vision_cli import judging, limits, policy, units
from vision_cli.judging import Code, ImageFacts, Limits
from vision_cli.policy import SizePolicy

STANDARD = policy.tier("standard")
HIGH_RES = policy.tier("high-res")


@pytest.mark.parametrize(("size", "standard", "high_res"), CURRENT_TABLE)
def test_current_rule_known_answers(
    size: tuple[int, int],
    standard: tuple[tuple[int, int], int | None],
    high_res: tuple[tuple[int, int], int | None],
) -> None:
    for tier_, (api_size, tokens) in ((STANDARD, standard), (HIGH_RES, high_res)):
        pred = policy.predict(*size, tier_)
        assert pred.api_size == api_size
        if tokens is not None:
            assert pred.tokens == tokens
        assert pred.tokens == policy.patch_tokens(*api_size)


@pytest.mark.parametrize(("size", "tokens"), LEGACY_TABLE)
def test_legacy_rule_reproduces_the_seed(size: tuple[int, int], tokens: int) -> None:
    pred = policy.predict(*size, STANDARD, rule="legacy")
    assert pred.api_size == size
    assert pred.tokens == tokens


def test_legacy_rule_downscales_large_images() -> None:
    pred = policy.predict(4000, 3000, STANDARD, rule="legacy")
    assert max(pred.api_size) <= 1568
    assert pred.tokens <= limits.LEGACY_MAX_TOKENS


@pytest.mark.parametrize("size", LARGEST_UNRESIZED)
def test_seed_largest_sizes_are_not_resized(size: tuple[int, int]) -> None:
    for tier_ in (STANDARD, HIGH_RES):
        assert policy.predict(*size, tier_).api_size == size
    assert SizePolicy.native(STANDARD).target(*size) == size


def test_recommended_policy_on_a_phone_photo() -> None:
    # the size perf-notes.md measured the resize anchors at
    assert SizePolicy.recommended().target(4032, 3024) == (1238, 928)


dims = st.integers(min_value=1, max_value=12000)
edges = st.integers(min_value=28, max_value=4000)
budgets = st.integers(min_value=1, max_value=6000)


@given(dims, dims, edges, budgets)
@settings(max_examples=400)
def test_fit_patches_properties(w: int, h: int, edge: int, budget: int) -> None:
    fw, fh = policy.fit_patches(w, h, edge, budget)
    assert fw <= w and fh <= h  # never upscales
    if (fw, fh) != (1, 1):
        assert max(fw, fh) <= edge
        assert policy.patch_tokens(fw, fh) <= budget
    if (fw, fh) != (w, h):
        assert (
            policy.aspect_error((w, h), (fw, fh)) <= 1 + max(w, h) / min(w, h) / 28
            or min(fw, fh) == 1
        )
    assert policy.fit_patches(fw, fh, edge, budget) == (fw, fh)  # idempotent


@given(dims, dims, budgets)
@settings(max_examples=300)
def test_fit_patches_is_the_largest(w: int, h: int, budget: int) -> None:
    """No scale above the chosen one stays within the budget (the API's own choice)."""
    edge = 100_000
    fw, fh = policy.fit_patches(w, h, edge, budget)
    if (fw, fh) == (w, h) or min(fw, fh) == 1:
        return
    # one pixel more on the long side, with the aspect kept, costs more than the budget
    if w >= h:
        bigger = (fw + 1, math.ceil((fw + 1) * h / w))
    else:
        bigger = (math.ceil((fh + 1) * w / h), fh + 1)
    assert policy.patch_tokens(*bigger) > budget or bigger[0] > w or bigger[1] > h


@given(dims, dims, st.integers(1, 4000), st.integers(1, 20_000_000))
@settings(max_examples=400)
def test_fit_pixels_properties(w: int, h: int, edge: int, pixels: int) -> None:
    fw, fh = policy.fit_pixels(w, h, edge, pixels)
    assert fw <= w and fh <= h
    if min(fw, fh) > 1:
        assert max(fw, fh) <= edge
        assert fw * fh <= pixels
        assert policy.aspect_error((w, h), (fw, fh)) <= 1
    assert policy.fit_pixels(fw, fh, edge, pixels) == (fw, fh)


@given(dims, dims, edges, st.integers(1, 4_000_000), budgets)
@settings(max_examples=400)
@example(84, 108, 29, 667, 1).via("rounded twice before: 23x28")
def test_size_policy_with_every_bound(w: int, h: int, edge: int, pixels: int, tokens: int) -> None:
    """A pixel and a token budget together: every bound holds, the aspect within a pixel (and the
    patch rounding fit_patches is allowed), and the result is fitted only once from the original."""
    pol = SizePolicy(edge, max_pixels=pixels, max_tokens=tokens)
    fw, fh = pol.target(w, h)
    assert 1 <= fw <= w and 1 <= fh <= h
    if min(fw, fh) > 1:
        assert max(fw, fh) <= edge and fw * fh <= pixels
        assert policy.patch_tokens(fw, fh) <= tokens
        slack = max(w, h) / min(w, h) / 28
        assert policy.aspect_error((w, h), (fw, fh)) <= 1 + slack
    assert pol.target(fw, fh) == (fw, fh)  # idempotent


@given(dims, dims)
@settings(max_examples=300)
def test_recommended_policy_is_never_resized_by_the_api(w: int, h: int) -> None:
    """1568 px / 1.15 MP fits inside the standard tier for every aspect ratio (the spec's claim)."""
    target = SizePolicy.recommended().target(w, h)
    for tier_ in (STANDARD, HIGH_RES):
        assert policy.predict(*target, tier_).api_size == target


@given(dims, dims, st.sampled_from([STANDARD, HIGH_RES]))
@settings(max_examples=300)
def test_native_policy_is_what_the_api_would_do(w: int, h: int, tier_: policy.Tier) -> None:
    target = SizePolicy.native(tier_).target(w, h)
    assert target == policy.predict(w, h, tier_).api_size
    assert SizePolicy.native(tier_).target(*target) == target


@given(st.integers(1, 6000), st.integers(1, 6000), st.integers(1, 6000))
@settings(max_examples=300)
def test_fit_patches_is_monotonic(w: int, h: int, extra: int) -> None:
    """A larger original never yields a smaller result (same aspect, more pixels)."""
    small = policy.fit_patches(w, h, 1568, 1568)
    big = policy.fit_patches(w * 2, h * 2, 1568, 1568)
    assert policy.patch_tokens(*big) >= policy.patch_tokens(*small) or small == (w, h)
    more_budget = policy.fit_patches(w, h, 1568, 1568 + extra)
    assert more_budget[0] >= small[0] and more_budget[1] >= small[1]


@given(st.integers(0, 10**9))
def test_base64_length(n: int) -> None:
    import base64

    if n <= 4096:
        assert policy.base64_length(n) == len(base64.b64encode(b"x" * n))
    assert policy.base64_length(n) == 4 * math.ceil(n / 3)


def test_byte_limit_numbers() -> None:
    assert units.parse_bytes("5MB") == 5_242_880 == limits.DEFAULT_MAX_BYTES
    assert units.parse_bytes("10MB") == 10_485_760
    assert units.parse_bytes("750 KB") == 768_000
    assert units.parse_bytes("1234") == 1234
    for bad in ("", "MB", "-1MB", "5XB", "nan"):
        with pytest.raises(ValueError):
            units.parse_bytes(bad)


@given(st.integers(min_value=1, max_value=20_000_000))
@example(1023)
@example(1024)
def test_a_bare_number_is_bytes_from_1kb_on(n: int) -> None:
    """``--max-bytes 5`` is a forgotten unit, not five bytes: below 1 KB a unit is required, and
    the message suggests one; with a unit, any size counts."""
    if n < 1024:
        with pytest.raises(ValueError, match=rf"e\.g\. {n}MB"):
            units.parse_bytes(str(n))
    else:
        assert units.parse_bytes(str(n)) == n
    assert units.parse_bytes(f"{n}KB") == n * 1024
    assert units.parse_bytes(f"{n} B") == n


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (0.000162, "$0.00016"),
        (0.004, "$0.004"),
        (0.0048, "$0.0048"),
        (4.77, "$4.77"),
        (4.0, "$4.00"),
        (0.16, "$0.16"),
        (1234.5, "$1,234.50"),
        (0, "$0.00"),
    ],
)
def test_money(amount: float, text: str) -> None:
    assert units.format_usd(amount) == text


@given(st.floats(min_value=1e-9, max_value=1e6, allow_nan=False))
def test_money_keeps_two_significant_digits(amount: float) -> None:
    text = units.format_usd(amount)
    value = float(text.lstrip("$").replace(",", ""))
    assert abs(value - amount) <= max(0.005, amount * 0.05 + 1e-12)


def facts(**kw: object) -> ImageFacts:
    base: dict[str, object] = {"format": "PNG", "width": 800, "height": 600, "bytes": 1000}
    base.update(kw)
    return ImageFacts(**base)  # type: ignore[arg-type]


def codes(f: ImageFacts, **kw: object) -> list[Code]:
    return [x.code for x in judging.judge(f, Limits(tier=STANDARD, **kw))]  # type: ignore[arg-type]


def test_judge_every_image_code() -> None:
    assert codes(facts()) == []
    assert codes(facts(format="BMP")) == [Code.UNSUPPORTED_FORMAT]
    assert codes(facts(bytes=4_000_000)) == [Code.FILE_TOO_LARGE]
    assert codes(facts(bytes=4_000_000), max_bytes=limits.DIRECT_API_MAX_BYTES) == []
    assert Code.DIMENSIONS_TOO_LARGE in codes(facts(width=8001))
    assert codes(facts(width=2001, height=1000), many_images=True) == [
        Code.MANY_IMAGE_DIMENSIONS,
        Code.WILL_BE_DOWNSCALED,
    ]
    assert codes(facts(width=2000, height=1000), many_images=True) == [Code.WILL_BE_DOWNSCALED]
    assert codes(facts(width=199)) == [Code.TOO_SMALL]
    assert codes(facts(orientation=6)) == [Code.EXIF_ROTATED]
    assert codes(facts(format="JPEG", cmyk=True)) == [Code.CMYK]
    assert codes(facts(format="TIFF", cmyk=True)) == [Code.UNSUPPORTED_FORMAT]  # converted anyway
    assert codes(facts(frames=3, format="GIF")) == [Code.ANIMATED]
    assert codes(facts(format="JPEG", extension=".png")) == [Code.EXTENSION_MISMATCH]
    assert codes(facts(format="JPEG", extension=".JPG")) == []
    assert codes(facts(format="MPO", frames=2, extension=".jpg")) == []


def test_errors_come_first_and_set_the_status() -> None:
    found = judging.judge(facts(format="BMP", width=150), Limits(tier=STANDARD))
    assert [f.severity for f in found] == [judging.Severity.ERROR, judging.Severity.WARNING]
    assert judging.status_of(found) == "error"
    assert judging.status_of(found[1:]) == "warning"
    assert judging.status_of([]) == "ok"


def test_request_findings() -> None:
    assert judging.judge_request(100, 1000, 100) == []
    assert [f.code for f in judging.judge_request(101, 1000, 100)] == [Code.TOO_MANY_IMAGES]
    big = limits.MESSAGES_REQUEST_MAX_BYTES + 1
    assert [f.code for f in judging.judge_request(2, big, 100)] == [Code.REQUEST_TOO_LARGE]


def test_parse_size() -> None:
    assert units.parse_size("1920x1080") == (1920, 1080)
    assert units.parse_size("10X20") == (10, 20)
    for bad in ("1920", "0x10", "ax3", "10x-3"):
        with pytest.raises(ValueError):
            units.parse_size(bad)
