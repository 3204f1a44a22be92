"""Under ``CI=true`` a skipped test fails: in CI, a test that cannot run because something it
needs is missing (Chromium, zsh, a data file) must be seen, not passed over.

Loaded by ``tests/conftest.py``; ``.ci/run`` sets ``CI=true``. Locally, skips stay skips.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

STRICT_ENV = "CI"


def strict() -> bool:
    return os.environ.get(STRICT_ENV, "").lower() in ("1", "true", "yes")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.skipped and strict() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under {STRICT_ENV}=true, which fails: {reason}"
    return report
