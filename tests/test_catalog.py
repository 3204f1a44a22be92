"""``catalog``: the dated model table, and what it says about models near their end of life."""

from __future__ import annotations

from datetime import date

import pytest

from vision_cli import catalog


def test_announced_end_of_life_dates_are_in_the_table() -> None:
    # The anthropic SDK announces these (anthropic._data.DEPRECATED_MODELS).
    assert catalog.resolve("claude-sonnet-4-5").end_of_life == date(2026, 11, 30)
    assert catalog.resolve("claude-opus-4-5").end_of_life == date(2027, 1, 22)
    assert catalog.resolve("claude-sonnet-4-6").end_of_life is None


def test_end_of_life_warning_before_and_after_the_day() -> None:
    model = catalog.resolve("claude-sonnet-4-5-20250929")
    before = model.end_of_life_warning(date(2026, 11, 29))
    on_the_day = model.end_of_life_warning(date(2026, 11, 30))
    assert before is not None and on_the_day is not None
    assert before.startswith("claude-sonnet-4-5 is deprecated: from 2026-11-30")
    assert on_the_day.startswith("claude-sonnet-4-5 reached its end of life on 2026-11-30")
    for text in (before, on_the_day):
        assert "--model" in text and "$VISION_CLI_MODEL" in text


def test_no_warning_without_an_announced_date() -> None:
    assert catalog.resolve("claude-sonnet-4-6").end_of_life_warning(date(2099, 1, 1)) is None


def test_a_price_override_keeps_the_end_of_life() -> None:
    model = catalog.resolve("claude-sonnet-4-5").with_price(1.0)
    assert model.end_of_life == date(2026, 11, 30) and model.input_price == 1.0


@pytest.mark.parametrize("name", ["claude-sonnet-4-5", "claude-haiku-5-5"])
def test_short_name_is_what_people_type(name: str) -> None:
    assert catalog.resolve(name).short_name == name
