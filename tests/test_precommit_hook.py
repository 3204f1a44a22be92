"""The pre-commit hook offered by ``.pre-commit-hooks.yaml``, run the way pre-commit runs it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
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


def run_hook(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """What pre-commit does: ``entry``, then the hook's ``args``, then the staged files matching
    ``files``. The entry's ``vision-cli`` runs as this interpreter's module, so the test needs
    no console script on PATH."""
    spec = hook()
    staged = git(repo, "diff", "--cached", "--name-only", "--diff-filter=ACMR").splitlines()
    pattern = re.compile(str(spec["files"]))
    chosen = [f for f in staged if pattern.search(f)]
    program, *options = shlex.split(str(spec["entry"]))
    assert program == "vision-cli"
    cmd = [sys.executable, "-m", "vision_cli", *options, *args, *chosen]
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


def test_ignore_lets_one_kind_of_finding_through(tmp_path: Path, make_image: MakeImage) -> None:
    """An icon under 200 px is a warning, and --strict blocks the commit; ``args: [--ignore,
    too-small]`` or the repository's configuration lets it through, and nothing else."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    make_image("icons/app.png", (64, 64), folder=repo)
    git(repo, "add", ".")
    blocked = run_hook(repo)
    assert blocked.returncode == 1 and "too-small" in blocked.stdout
    passed = run_hook(repo, "--ignore", "too-small")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "too-small" not in passed.stdout
    (repo / "vision-cli.toml").write_text('[inspect]\nignore = ["too-small"]\n')
    assert run_hook(repo).returncode == 0
    make_image("icons/turned.jpg", (800, 600), folder=repo, orientation=6)
    git(repo, "add", ".")
    other = run_hook(repo)
    assert other.returncode == 1 and "exif-rotated" in other.stdout  # only that code is ignored
    assert "icons/app.png" not in other.stdout
