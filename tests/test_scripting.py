"""Scripting manners shared by the commands: one --dry-run exit rule, sizes, the install's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import MakeImage, Run
from tests.fakeapi import FakeClaudeAPI
from vision_cli.exitcodes import ExitStatus
from vision_cli.render.text import visible

DRY_RUNS = [
    ("ask",),
    ("compare",),
    ("ask", "--each", "-o", "{out}"),
    ("ask", "--batch", "-o", "{out}"),
]


@pytest.mark.parametrize("mode", DRY_RUNS, ids=" ".join)
@pytest.mark.parametrize("broken", [False, True])
def test_one_dry_run_rule_for_every_mode(
    run: Run, make_image: MakeImage, tmp_path: Path, mode: tuple[str, ...], broken: bool
) -> None:
    """--dry-run exits 1 exactly when an image fails preflight, in every mode; 0 otherwise."""
    folder = tmp_path / "imgs"
    make_image("a.png", (400, 300), folder=folder)
    make_image("b.jpg", (300, 400), folder=folder)
    if broken:
        (folder / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    args = [part.format(out=tmp_path / "r.jsonl") for part in mode]
    result = run(*args[:1], folder, *args[1:], "--dry-run")
    assert result.exit_code == (ExitStatus.FAILED if broken else ExitStatus.OK), result.stderr
    assert not (tmp_path / "r.jsonl").exists()  # a dry run writes nothing


def test_version_warns_about_the_unrelated_vision_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    from vision_cli.cli.app import version_text

    real = importlib.metadata.version

    def installed(other: str | None) -> None:
        def version(name: str) -> str:
            if name != "vision-cli":
                return real(name)
            if other is None:
                raise importlib.metadata.PackageNotFoundError(name)
            return other

        monkeypatch.setattr(importlib.metadata, "version", version)

    installed(None)
    assert "Warning" not in version_text()
    assert "(claude-vision-cli)" in version_text().splitlines()[0]
    installed("5.0.2")
    text = version_text()
    assert "the unrelated 'vision-cli' 5.0.2 is installed" in text
    assert "separate virtual environment" in text


@pytest.mark.parametrize("command", ["inspect", "resize", "estimate", "ask", "compare"])
def test_max_bytes_without_a_unit_below_1kb_is_a_usage_error(
    run: Run, make_image: MakeImage, tmp_path: Path, command: str
) -> None:
    image = make_image("a.png")
    extra = {
        "resize": ["--out", str(tmp_path / "out"), "--dry-run"],
        "ask": ["--dry-run"],
        "compare": [str(make_image("b.png")), "--dry-run"],
    }
    result = run(command, image, *extra.get(command, []), "--max-bytes", "5")
    assert result.exit_code == ExitStatus.USAGE
    assert "--max-bytes" in result.stderr and "5MB" in result.stderr
    assert "Traceback" not in result.stderr


def test_max_bytes_from_the_config_file_follows_the_same_rule(
    run: Run, make_image: MakeImage, chdir_tmp: Path
) -> None:
    (chdir_tmp / "vision-cli.toml").write_text('max-bytes = "5"\n')
    result = run("inspect", make_image("a.png"))
    assert result.exit_code == ExitStatus.USAGE and "e.g. 5MB" in result.stderr
    (chdir_tmp / "vision-cli.toml").write_text('max-bytes = "5MB"\n')
    assert run("inspect", make_image("a.png")).exit_code == ExitStatus.OK


def test_help_names_anthropics_recommendation(run: Run) -> None:
    text = " ".join(run("resize", "--help").stdout.replace("│", " ").split())
    assert "Anthropic's recommendation (1568 px, 1.15 megapixels)" in text
    assert "seed" not in text
    assert "seed" not in " ".join(run("estimate", "--help").stdout.split())


@pytest.mark.parametrize("url", ["127.0.0.1:9", "localhost:8080/v1", "ftp://example.com"])
@pytest.mark.parametrize(
    "command", [("ask",), ("ask", "--each", "-o", "{out}"), ("estimate", "--exact")], ids=" ".join
)
def test_a_base_url_without_a_scheme_is_named_before_anything_is_sent(
    run: Run,
    make_image: MakeImage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    command: tuple[str, ...],
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    args = [part.format(out=tmp_path / "r.jsonl") for part in command]
    result = run(args[0], make_image("a.png"), *args[1:])
    assert result.exit_code == ExitStatus.USAGE
    assert f"ANTHROPIC_BASE_URL={url!r} is not a URL" in result.stderr
    assert "needs a scheme (http:// or https://)" in result.stderr
    assert "://:" not in result.stderr and "could not reach" not in result.stderr
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://[::1", "its host cannot be read"),
        ("http://127.0.0.1:99999", "its port is not a number from 0 to 65535"),
        ("https://", "it has no host"),
        ("http://api\x1b[31m.example.com", "it holds a control character"),
    ],
)
def test_a_base_url_that_cannot_be_read_is_named_before_anything_is_sent(
    run: Run, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch, url: str, why: str
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    result = run("ask", make_image("a.png"), "-p", "hi")
    assert result.exit_code == ExitStatus.USAGE, result.stderr
    assert f"ANTHROPIC_BASE_URL='{visible(url)}' is not a URL: {why}" in result.stderr
    assert "\x1b[" not in result.stderr and "internal error" not in result.stderr


def test_a_base_url_with_a_scheme_is_used(
    api: FakeClaudeAPI, run: Run, make_image: MakeImage
) -> None:
    result = run("ask", make_image("a.png"), "-m", "claude-opus-4-7")
    assert result.exit_code == 0, result.stderr
    assert len(api.requests) == 1


@pytest.mark.parametrize("padding", [" ", "\n", "/ "])
def test_a_base_url_with_spaces_around_it_is_used_as_checked(
    api: FakeClaudeAPI,
    run: Run,
    make_image: MakeImage,
    monkeypatch: pytest.MonkeyPatch,
    padding: str,
) -> None:
    """The check took ``ANTHROPIC_BASE_URL`` stripped and the requests did not: a trailing space
    (a `.env` file, a copied line) sent ``POST /%20/v1/files``, answered 404 with exit 3."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f" {api.base_url}{padding}")
    result = run("ask", make_image("a.png"), "--source", "file")
    assert result.exit_code == 0, result.stderr
    assert [r.path for r in api.requests] == ["/v1/files", "/v1/messages"]
