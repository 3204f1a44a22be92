"""The pre-commit hook offered by ``.pre-commit-hooks.yaml``, run the way pre-commit runs it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import yaml

from tests.conftest import MakeImage

ROOT = Path(__file__).resolve().parents[1]


def hook() -> dict[str, object]:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (found,) = [h for h in hooks if h["id"] == "vision-cli-inspect"]
    return found  # type: ignore[no-any-return]


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    ).stdout


def run_hook(repo: Path) -> subprocess.CompletedProcess[str]:
    """What pre-commit does: the staged files matching ``files``, appended to ``entry``."""
    spec = hook()
    staged = git(repo, "diff", "--cached", "--name-only", "--diff-filter=ACMR").splitlines()
    pattern = re.compile(str(spec["files"]))
    chosen = [f for f in staged if pattern.search(f)]
    cmd = [*shlex.split(str(spec["entry"])), *chosen]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=60)


def test_hook_definition() -> None:
    spec = hook()
    assert spec["language"] == "python"
    assert str(spec["entry"]).startswith("vision-cli inspect --strict")
    pattern = re.compile(str(spec["files"]))
    assert pattern.search("a/B.JPG") and pattern.search("x.webp") and not pattern.search("x.svg")


def test_hook_guards_a_repository(tmp_path: Path, make_image: MakeImage) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    make_image("docs/good.png", (800, 600), folder=repo)
    (repo / "README.md").write_text("hello\n")
    git(repo, "add", ".")
    ok = run_hook(repo)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    git(repo, "commit", "-qm", "start")

    make_image("docs/scan.bmp", (300, 300), folder=repo, fmt="BMP")
    make_image("docs/turned.jpg", (800, 600), folder=repo, orientation=6)
    git(repo, "add", ".")
    bad = run_hook(repo)
    assert bad.returncode == 1
    assert "docs/scan.bmp" in bad.stdout and "unsupported-format" in bad.stdout
    assert "docs/turned.jpg" in bad.stdout and "exif-rotated" in bad.stdout  # --strict
    assert "good.png" not in bad.stdout  # not staged in this commit, and --quiet
