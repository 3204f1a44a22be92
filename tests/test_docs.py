"""The README and docs/ document every command and option, their generated parts are fresh, every
install line installs this project, and CI runs the README's own test command."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import make_readme  # noqa: E402

README = (ROOT / "README.md").read_text()
DOCS = {path: path.read_text() for path in sorted((ROOT / "docs").glob("*.md"))}
GROUP: Any = make_readme.app_group()
# The prose, without the generated help blocks: what a person wrote must cover everything.
PROSE = "\n".join(make_readme.BLOCK.sub("", text) for text in [README, *DOCS.values()])


def test_generated_parts_are_fresh() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, text in make_readme.fresh_files().items()
        if not path.exists() or path.read_text() != text
    ]
    assert not stale, "run: python scripts/make_readme.py"


def test_the_readme_stays_a_landing_page() -> None:
    assert len(README.splitlines()) < 150
    assert "<!-- BEGIN help:" not in README  # the reference lives in docs/


@pytest.mark.parametrize("name", sorted(GROUP.commands))
def test_every_command_is_documented(name: str) -> None:
    command = GROUP.commands[name]
    assert command.help, f"{name} has no --help text"
    page = make_readme.page(name)
    assert page in DOCS, f"{name} has no page: run python scripts/make_readme.py"
    assert DOCS[page].startswith(f"# {name}\n"), f"{page.name} does not start with its title"
    for sub in make_readme.help_names(name, GROUP):
        assert f"<!-- BEGIN help: {sub} -->" in DOCS[page], f"{page.name} lacks {sub} --help"
    assert f"(docs/{name}.md)" in README, f"the README does not link to {page.name}"
    assert command.epilog and "Examples" in command.epilog, f"{name} --help has no examples"


@pytest.mark.parametrize(
    ("name", "option"),
    sorted(
        (name, opt)
        for name, command in GROUP.commands.items()
        for param in command.params
        if param.param_type_name == "option"
        for opt in param.opts
        if opt.startswith("--")
    ),
)
def test_every_option_is_documented(name: str, option: str) -> None:
    assert f"`{option}" in PROSE, f"{name} {option} is not described in docs/"


def test_a_new_command_gets_a_page_with_its_help(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(make_readme, "command_names", lambda group=None: ["inspect"])
    monkeypatch.setattr(make_readme, "page", lambda name: ROOT / "docs" / "not-there.md")
    fresh = make_readme.fresh_files()
    text = fresh[ROOT / "docs" / "not-there.md"]
    assert text.startswith("# inspect\n\nCheck images before they are sent")
    assert "$ vision-cli inspect --help\n Usage: vision-cli inspect" in text


def test_internal_links_reach_a_file() -> None:
    for path, text in [(ROOT / "README.md", README), *DOCS.items()]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (path.parent / target).exists(), f"{path.name} links to missing {target}"


# ---- every install line installs this project, never the unrelated `vision-cli` on PyPI


def _install_lines() -> list[str]:
    texts = [README, *DOCS.values()]
    return [
        line
        for text in texts
        for line in re.findall(r"pip install[^\n`]*", text)
        if line.strip() != "pip install"  # the command named in prose
    ]


THIS_PROJECT = re.compile(
    r"^(\.|\.\[[\w,]+\]|claude-vision-cli(\[[\w,]+\])? @ git\+\S+|pillow-heif)$"
)


def _packages(line: str) -> list[str]:
    """What a ``pip install ...`` line installs: its arguments up to ``&&`` or a comment."""
    words = shlex.split(line.split(" #")[0].split("&&")[0])
    return [w for w in words[2:] if not w.startswith("-")]


def _installs_this_project(line: str) -> bool:
    packages = _packages(line)
    return bool(packages) and all(THIS_PROJECT.match(p) for p in packages)


def test_every_install_line_installs_this_project() -> None:
    lines = _install_lines()
    assert len(lines) >= 5
    for line in lines:
        assert _installs_this_project(line), f"installs something else: {line}"
    assert not re.search(r"pip install '?vision-cli\b", "\n".join([README, *DOCS.values()]))


def test_the_distribution_is_not_named_vision_cli() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^name = "claude-vision-cli"$', pyproject, re.M)
    # the command keeps its name
    assert 'vision-cli = "vision_cli.cli.launch:entrypoint"' in pyproject


def test_the_precommit_recipe_uses_the_hook_this_repository_defines() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["language"] == "python"  # pre-commit installs the repository that defines it
    assert hook["entry"].startswith("vision-cli inspect")
    ci = DOCS[ROOT / "docs" / "ci.md"]
    recipe = re.search(r"```yaml\n(# \.pre-commit-config\.yaml\n.+?)```", ci, re.S)
    assert recipe
    (repo,) = yaml.safe_load(recipe.group(1))["repos"]
    assert repo["hooks"][0]["id"] == hook["id"]
    assert "OWNER" not in repo["repo"]


def test_ci_runs_the_readme_test_command() -> None:
    match = re.search(r"Run the tests.*?```sh\n(.+?)\n```", README, re.S)
    assert match, "the README has no test command"
    command = match.group(1).strip()
    assert command in (ROOT / ".ci" / "run").read_text()


def test_changelog_has_an_unreleased_section() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text and "### Added" in text


def test_the_readmes_speed_figures_come_from_one_benchmark_run() -> None:
    """Every figure the README quotes is a row of the table ``benchmarks/run_all.py --readme``
    writes (one run, its date, and the load beside each figure), and every target the scripts
    check has its row: a figure typed by hand, or a target left out, fails here."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import run_all

    found = run_all.BLOCK.search(README)
    assert found, "README.md lost its <!-- BEGIN benchmarks --> block"
    block = found.group(0)
    assert re.search(
        r"Measured \d{4}-\d{2}-\d{2} by `python benchmarks/run_all.py --readme`", block
    )
    rows = re.findall(r"^\| (.+?) \| ([0-9.]+)x \| ([0-9.]+)x \| (met|\*\*not met\*\*) \| (.+) \|$",
                      block, re.M)  # fmt: skip
    assert {name for name, *_ in rows} >= {
        "start-up --help",
        "start-up inspect one.png",
        "inspect jpegs, against identify -ping",
        "inspect mixed, against identify -ping",
        "resize -j 2, 2560x1600 screenshots, against two vipsthumbnail",
        "resize -j 2, 2880x1800 screenshots, against two vipsthumbnail",
        "ask, 1 photo, against import anthropic",
    }
    for name, ratio, limit, mark, load in rows:
        assert (mark == "met") == (float(ratio) <= float(limit)), name
        assert re.fullmatch(r"[0-9.]+ → [0-9.]+", load), f"{name}: no load beside it"
    outside = README.replace(block, "")
    assert not re.search(r"\b\d+(\.\d+)?x\b", outside), "a speed ratio outside the measured table"


#: The sample outputs the docs show of commands over the shipped examples: they are run here, so
#: a change in the output (a default model's tier, an encoder's bytes) cannot leave them stale.
SAMPLES = re.compile(
    r"```text\n\$ (vision-cli (?:inspect|resize) examples\S*(?: [^\n]*)?)\n(.*?)```", re.S
)


@pytest.mark.parametrize(
    ("page", "command", "shown"),
    [
        (path.name, match[1], match[2])
        for path, text in DOCS.items()
        for match in SAMPLES.finditer(text)
    ],
    ids=lambda value: str(value)[:40],
)
def test_sample_outputs_are_what_the_command_prints(
    page: str,
    command: str,
    shown: str,
    run: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every line of the sample (``...`` stands for lines left out) is printed, in order."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    printed = run(*shlex.split(command)[1:]).stdout.splitlines()
    at = 0
    for line in (line for line in shown.splitlines() if line != "..."):
        assert line in printed[at:], f"{page}: {line!r} is not printed by {command!r}"
        at = printed.index(line, at) + 1


def test_the_docs_show_samples_of_both_offline_commands() -> None:
    """The guard above runs something: both sample blocks are found."""
    found = {match[1] for text in DOCS.values() for match in SAMPLES.finditer(text)}
    assert found == {"vision-cli inspect examples/", "vision-cli resize examples --out out"}
