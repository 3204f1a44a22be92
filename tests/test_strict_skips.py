"""``tests/strict_skips.py``: under ``CI=true`` a skipped test fails the run; elsewhere it skips."""

from __future__ import annotations

import pytest

SKIPPING = """
import shutil
import pytest

@pytest.mark.skipif(shutil.which("no-such-tool") is None, reason="no-such-tool is missing")
def test_needs_a_tool():
    pass

def test_skips_inside():
    pytest.skip("the data file is missing")

@pytest.mark.xfail(reason="known")
def test_expected_to_fail():
    raise AssertionError

def test_passes():
    pass
"""


@pytest.mark.parametrize(("ci", "failed", "skipped"), [("true", 2, 0), ("", 0, 2)])
def test_skips_fail_under_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, failed: int, skipped: int
) -> None:
    monkeypatch.setenv("CI", ci)
    pytester.makepyfile(SKIPPING)
    result = pytester.runpytest("-p", "tests.strict_skips", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    # a skipif marker skips during set-up, so it is reported as an error there: the run fails
    assert outcomes.get("failed", 0) + outcomes.get("errors", 0) == failed
    assert outcomes.get("skipped", 0) == skipped
    assert outcomes["passed"] == 1 and outcomes["xfailed"] == 1
    assert (result.ret != 0) == bool(failed)
    if failed:
        result.stdout.fnmatch_lines(["*under CI=true, which fails: *no-such-tool is missing*"])
