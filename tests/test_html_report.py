"""``inspect --format html``: the report as a person sees it, in headless Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import MakeImage, Run, fifo_giving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def report(run: Run, make_image: MakeImage, tmp_path: Path) -> Path:
    folder = tmp_path / "imgs"
    make_image("good.png", (800, 600), folder=folder)
    make_image("turned.jpg", (400, 200), folder=folder, orientation=6)
    make_image("<b>bold</b> & co.bmp", (300, 300), folder=folder, fmt="BMP")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "report.html"
    result = run("inspect", folder, "--format", "html", "--output", out)
    assert result.exit_code == 1 and result.stdout == ""
    return out


def test_report_is_self_contained_and_escaped(report: Path) -> None:
    text = report.read_text()
    assert text.startswith("<!doctype html>")
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co.bmp" in text and "<b>bold</b>" not in text
    assert "http://" not in text and "https://" not in text  # nothing to fetch
    assert text.count("data:image/jpeg;base64,") == 3  # broken.png has none


def test_a_fifo_gets_its_thumbnail_from_the_one_read(
    run: Run, make_image: MakeImage, tmp_path: Path
) -> None:
    """A FIFO (``<(curl ...)``) can be read once: the thumbnail is made of the bytes the check
    read, not of a second open, which waited for ever for a writer."""
    data = make_image("a.png", (400, 300)).read_bytes()
    out = tmp_path / "report.html"
    with fifo_giving(tmp_path / "piped.png", data):
        result = run("inspect", tmp_path / "piped.png", "--format", "html", "--output", out)
    assert result.exit_code == 0, result.stderr
    assert out.read_text().count("data:image/jpeg;base64,") == 1


def test_html_needs_a_file_on_a_terminal_but_pipes_fine(run: Run, make_image: MakeImage) -> None:
    result = run("inspect", make_image("a.png"), "--format", "html")
    assert result.exit_code == 0 and "<table>" in result.stdout  # CliRunner's stdout is a pipe


def test_output_is_atomic_on_failure(run: Run, make_image: MakeImage, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    target = tmp_path / "a-file" / "report.json"
    result = run("inspect", make_image("a.png"), "--json", "--output", target)
    assert result.exit_code == 1
    said = " ".join(result.stderr.split())
    assert "cannot write" in said and "a part of its path is a file, not a folder" in said
    assert "Traceback" not in result.stderr
    assert (tmp_path / "a-file").read_text() == "not a folder"


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_report_in_a_browser(report: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(report.as_uri())
            totals = page.locator(".totals").inner_text()
            assert "4\nimages" in totals and "2\nerror" in totals
            names = page.locator("tbody tr td:nth-child(3)").all_inner_texts()
            assert any("<b>bold</b> & co.bmp" in n for n in names)  # shown as text
            # every thumbnail really decoded, and the EXIF-rotated one is upright (portrait)
            sizes = page.eval_on_selector_all(
                "tbody img", "els => els.map(e => [e.naturalWidth, e.naturalHeight, e.alt])"
            )
            assert len(sizes) == 3 and all(w > 0 and h > 0 for w, h, _ in sizes)
            turned = next((w, h) for w, h, alt in sizes if "turned.jpg" in alt)
            assert turned[1] > turned[0]
            # sorting by status puts the errors first
            page.click("th button[data-key=status]")
            statuses = page.locator("tbody .status").all_inner_texts()
            assert statuses[:2] == ["error", "error"] and statuses[-1] in ("ok", "warning")
            page.click("th button[data-key=status]")
            assert page.locator("tbody .status").all_inner_texts()[-1] == "error"
        finally:
            browser.close()
