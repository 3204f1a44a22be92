"""``catalog``: the dated model table, lifecycle, line aliases, the default, prices with Haiku
5.5's step, and the merge with what the Models API said (``models --refresh``)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vision_cli import catalog, fsutil, lifecycle


@pytest.fixture(autouse=True)
def fresh_catalog(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(fsutil.CACHE_DIR_ENV, str(tmp_path / "vc-cache"))
    catalog.forget()


def test_the_default_is_the_newest_active_sonnet() -> None:
    cat = catalog.load()
    default = cat.get(cat.default)
    assert default.line == "sonnet" and default.lifecycle == "active"
    sonnets = [m for m in cat.models if m.line == "sonnet" and m.lifecycle == "active"]
    assert default == sonnets[0]  # listed newest first
    assert cat.default == "claude-sonnet-5-5"


@pytest.mark.parametrize("line", catalog.LINES)
def test_a_line_resolves_to_its_newest_active_model(line: str) -> None:
    model = catalog.resolve(line)
    assert model.line == line and model.lifecycle == "active"
    assert catalog.load().newest(line) == model


def test_lifecycle_comes_from_the_data() -> None:
    sonnet45 = catalog.resolve("claude-sonnet-4-5")
    assert sonnet45.retired and sonnet45.retires_at == date(2026, 11, 30)
    assert catalog.load().replacement(sonnet45) == catalog.resolve("claude-sonnet-5-5")
    opus45 = catalog.resolve("claude-opus-4-5")
    assert opus45.deprecated and opus45.retires_at == date(2027, 1, 22)
    assert catalog.resolve("claude-sonnet-4-6").lifecycle == "active"


def test_messages_name_the_replacement() -> None:
    refusal = lifecycle.refusal(catalog.resolve("claude-sonnet-4-5"))
    assert "retired on 2026-11-30" in refusal and "claude-sonnet-5-5" in refusal
    warning = lifecycle.deprecation_warning(catalog.resolve("claude-opus-4-5"))
    assert "2027-01-22" in warning and "claude-opus-5-5" in warning


@pytest.mark.parametrize("state", ["deprecated", "retired"])
def test_a_replacement_that_is_no_longer_active_is_not_recommended(state: str) -> None:
    """With Opus 5.5 deprecated, Opus 4.5's warning said "switch to claude-opus-5-5": the named
    replacement was only refused when retired. The newest active Opus is offered instead."""
    opus55 = catalog.bundled().get("claude-opus-5-5")
    catalog.store_refresh([_as_listed(opus55, lifecycle=state)], "http://example.invalid")
    cat = catalog.load()
    opus45 = cat.get("claude-opus-4-5")
    assert cat.replacement(opus45) == cat.get("claude-opus-5") == cat.newest("opus")
    warning = lifecycle.deprecation_warning(opus45, cat)
    assert "switch to claude-opus-5 (--model claude-opus-5)" in warning
    assert "claude-opus-5-5" not in warning


def test_context_window_sets_images_per_request() -> None:
    assert catalog.images_for(200_000) == 100
    assert catalog.images_for(200_001) == 600
    assert catalog.images_for(None) == 100
    assert catalog.resolve("claude-haiku-4-5").images_per_request == 100
    assert catalog.resolve("claude-sonnet-5-5").images_per_request == 600


def test_models_without_a_public_price_are_unpriced() -> None:
    fable = catalog.resolve("claude-fable-5-2")
    assert not fable.priced
    with pytest.raises(catalog.UnpricedModelError, match="--price claude-fable-5-2="):
        fable.cost_usd(1000, 10)
    assert fable.with_price(8, 40).cost_usd(1_000_000, 0) == 8


def test_haiku_55_prices_the_whole_request_above_100k() -> None:
    haiku = catalog.resolve("claude-haiku-5-5")
    assert haiku.prices(100_000) == (0.10, 0.50)
    assert haiku.prices(100_001) == (0.50, 2.50)
    assert haiku.cost_usd(100_001, 1000) == pytest.approx((100_001 * 0.5 + 1000 * 2.5) / 1e6)
    assert haiku.prices(100_001, batch=True) == (0.25, 1.25)


@given(st.integers(min_value=0, max_value=2_000_000), st.integers(min_value=0, max_value=100_000))
def test_a_request_never_costs_less_for_more_input(tokens: int, out: int) -> None:
    haiku = catalog.bundled().get("claude-haiku-5-5")
    assert haiku.cost_usd(tokens + 1, out) >= haiku.cost_usd(tokens, out)
    assert haiku.cost_usd(tokens, out, batch=True) == pytest.approx(haiku.cost_usd(tokens, out) / 2)


def test_an_unknown_name_points_at_refresh() -> None:
    with pytest.raises(catalog.UnknownModelError, match="models --refresh"):
        catalog.resolve("claude-nonesuch-9")


def _listed(*entries: dict[str, object]) -> list[dict[str, object]]:
    return [dict(e) for e in entries]


def test_a_refresh_adds_models_and_its_lifecycle_wins() -> None:
    listed = _listed(
        {
            "id": "claude-sonnet-6",
            "display_name": "Claude Sonnet 6",
            "line": "sonnet",
            "lifecycle": "active",
            "created_at": "2026-12-01T00:00:00Z",
            "max_input_tokens": 2_000_000,
        },
        {
            "id": "claude-sonnet-5-5",
            "display_name": "Claude Sonnet 5.5",
            "line": "sonnet",
            "lifecycle": "deprecated",
            "retires_at": "2027-06-01T00:00:00Z",
        },
        {
            "id": "claude-opus-4-7",
            "display_name": "Claude Opus 4.7",
            "line": "opus",
            "lifecycle": "active",
        },
        {"id": "claude-old-1", "display_name": "Claude Old", "line": None, "lifecycle": "active"},
    )
    catalog.store_refresh(listed, "http://example.invalid")
    cat = catalog.load()
    assert cat.fetched_at is not None
    new = cat.get("claude-sonnet-6")
    assert new.source == "refresh" and new.tier.name == "high-res" and not new.priced
    assert "after Claude Opus 4.7" in new.tier_source
    assert new.images_per_request == 600
    assert cat.get("claude-old-1").tier.name == "standard"  # listed after Opus 4.7: older
    # the newest Sonnet has no price: the default is the newest one with a price (the table's),
    # so that no command needs --price; "sonnet" still names the newest
    assert cat.default == "claude-sonnet-5" and cat.get("claude-sonnet-5").priced
    assert cat.get("sonnet").id == "claude-sonnet-6"
    sonnet55 = cat.get("claude-sonnet-5-5")
    assert sonnet55.deprecated and sonnet55.retires_at == date(2027, 6, 1)
    assert sonnet55.source == "table+refresh" and sonnet55.priced


def _as_listed(model: catalog.Model, **changes: object) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": model.id,
        "display_name": model.name,
        "line": model.line,
        "lifecycle": model.lifecycle,
    }
    entry.update(changes)
    return entry


def test_a_line_goes_to_its_newest_model_whatever_the_api_leaves_out() -> None:
    """The merge put the table models the API did not list after all the listed ones, so a list
    without Sonnet 5.5 made Sonnet 5 the newest Sonnet and the default, though the table still
    has Sonnet 5.5 active and newer."""
    table = catalog.bundled()
    listed = [_as_listed(m) for m in table.models if m.id != "claude-sonnet-5-5"]
    catalog.store_refresh(listed, "http://example.invalid")
    cat = catalog.load()
    assert cat.get("sonnet").id == "claude-sonnet-5-5"
    assert cat.default == "claude-sonnet-5-5"
    assert [m.id for m in cat.models] == [m.id for m in table.models]  # the table's order kept


def test_a_new_model_keeps_its_place_and_unlisted_ones_theirs() -> None:
    table = catalog.bundled()
    listed: list[dict[str, Any]] = [
        {"id": "claude-opus-6", "line": "opus", "lifecycle": "active"},
        *(_as_listed(m) for m in table.models if m.line == "opus" and m.id != "claude-opus-5-5"),
    ]
    catalog.store_refresh(listed, "http://example.invalid")
    cat = catalog.load()
    opus = [m.id for m in cat.models if m.line == "opus"]
    assert opus[:3] == ["claude-opus-6", "claude-opus-5-5", "claude-opus-5"]
    assert cat.get("opus").id == "claude-opus-6"
    assert {m.id for m in cat.models} == {m.id for m in table.models} | {"claude-opus-6"}


@pytest.mark.parametrize("said", [{}, {"lifecycle": "sunset"}, {"lifecycle": None}])
def test_a_missing_or_unknown_lifecycle_keeps_the_tables(said: dict[str, object]) -> None:
    """A missing lifecycle was read as active: a cache naming only Sonnet 4.5 made the retired
    model active and the default."""
    catalog.store_refresh([{"id": "claude-sonnet-4-5-20250929", **said}], "http://x.invalid")
    cat = catalog.load()
    sonnet45 = cat.get("claude-sonnet-4-5")
    assert sonnet45.retired and sonnet45.source == "table+refresh"
    assert cat.default == "claude-sonnet-5-5" and cat.get("sonnet").id == "claude-sonnet-5-5"
    assert cat.get("claude-opus-4-5").deprecated  # the models it did not list: the table's too


@pytest.mark.parametrize(
    ("said", "named"), [({"lifecycle": "sunset"}, "'sunset'"), ({}, "missing")]
)
def test_a_new_model_with_an_unknown_lifecycle_is_not_offered(
    said: dict[str, object], named: str
) -> None:
    listed = [{"id": "claude-sonnet-6", "line": "sonnet", **said}]
    catalog.store_refresh(listed, "http://example.invalid")
    cat = catalog.load()
    new = cat.get("claude-sonnet-6")
    assert new.lifecycle != "active" and new.unknown_lifecycle == named
    assert cat.get("sonnet").id == "claude-sonnet-5-5"
    assert cat.default == "claude-sonnet-5-5"
    warning = lifecycle.deprecation_warning(new, cat)
    assert named in warning and "does not know" in warning and "claude-sonnet-5-5" in warning


def test_listed_models_with_ids_that_are_not_ids_are_left_out() -> None:
    """What the Models API lists is printed and sent: an id with a terminal escape, a space or
    no characters is left out, a display name with control characters falls back to the id."""
    base = {"line": "sonnet", "lifecycle": "active", "created_at": "2026-12-01T00:00:00Z"}
    listed = [
        dict(base, id="claude-x\x1b]0;pwn\x07", display_name="X"),
        dict(base, id="claude sonnet", display_name="Y"),
        dict(base, id="", display_name="Z"),
        dict(base, id="claude-sonnet-7", display_name="Sonnet\x1b[2J 7", line="son\nnet"),
    ]
    catalog.store_refresh(listed, "http://example.invalid")
    cat = catalog.load()
    assert all(m.id.isprintable() and " " not in m.id and m.id for m in cat.models)
    new = cat.get("claude-sonnet-7")
    assert new.name == "claude-sonnet-7" and new.line is None
    assert "claude sonnet" not in cat.names()


def test_a_damaged_cache_is_the_table_alone() -> None:
    catalog.cache_path().parent.mkdir(parents=True)
    catalog.cache_path().write_text("{not json")
    assert catalog.load().models == catalog.bundled().models


def test_a_cache_of_another_version_is_neither_read_nor_overwritten() -> None:
    """A cache file of a version this vision-cli does not know (a newer one's) was read as if
    it were its own, or as never refreshed, and then overwritten as version 1."""
    path = catalog.cache_path()
    path.parent.mkdir(parents=True)
    newer = {
        "version": 2,
        "lists": {"models": [{"id": "claude-sonnet-6", "line": "sonnet", "lifecycle": "active"}]},
        "models": [{"id": "claude-sonnet-5-5", "lifecycle": "retired"}],
    }
    text = json.dumps(newer)
    path.write_text(text)
    assert catalog.load().models == catalog.bundled().models
    foreign = catalog.foreign_cache()
    assert foreign is not None and foreign.version == 2
    assert "version 2" in str(foreign) and "left as it is" in str(foreign)
    assert "version 2" in (catalog.cache_problem() or "")
    with pytest.raises(catalog.ForeignCacheError):
        catalog.record_edge("claude-sonnet-5-5", 1568)
    with pytest.raises(OSError, match="does not know"):
        catalog.store_refresh([], "http://example.invalid")
    assert path.read_text() == text


def test_a_cache_without_a_version_is_this_ones() -> None:
    path = catalog.cache_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"models": [{"id": "claude-sonnet-6", "lifecycle": "active"}]}))
    assert catalog.foreign_cache() is None
    assert catalog.load().get("claude-sonnet-6").source == "refresh"
    catalog.record_edge("claude-sonnet-5-5", 1568)
    assert json.loads(path.read_text())["version"] == catalog.CACHE_VERSION


def test_a_recorded_edge_wins_over_the_tier() -> None:
    path = catalog.record_edge("claude-sonnet-5-5", 1568)
    assert json.loads(path.read_text())["edges"]["claude-sonnet-5-5"]["max_side_length_pixels"]
    model = catalog.resolve("claude-sonnet-5-5")
    assert model.tier.name == "standard" and "image_dimensions_too_large" in model.tier_source
    catalog.record_edge("claude-sonnet-5-5", 2000)
    odd = catalog.resolve("claude-sonnet-5-5").tier
    assert odd.max_edge == 2000 and odd.max_tokens == 4784


def test_cache_dir_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(fsutil.CACHE_DIR_ENV, str(tmp_path / "mine"))
    assert fsutil.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(fsutil.CACHE_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fsutil.cache_dir() == tmp_path / "xdg" / "vision-cli"


@pytest.mark.parametrize("name", ["claude-sonnet-4-5", "claude-haiku-5-5"])
def test_short_name_is_what_people_type(name: str) -> None:
    assert catalog.resolve(name).short_name == name
