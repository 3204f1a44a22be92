"""``completions/`` is generated from the real command tree and must match it exactly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "completions"
sys.path.insert(0, str(ROOT / "scripts"))

import make_completions  # noqa: E402


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("completions")
    make_completions.generate(folder)
    return folder


@pytest.mark.parametrize("name", sorted(make_completions.SCRIPTS))
def test_committed_completions_match_the_cli(fresh: Path, name: str) -> None:
    committed = COMMITTED / name
    assert committed.exists(), f"run: python scripts/make_completions.py ({name} is missing)"
    assert committed.read_text() == (fresh / name).read_text(), (
        f"completions/{name} is stale: run python scripts/make_completions.py"
    )


def bash_complete(script: Path, *words: str) -> list[str]:
    line = " ".join(f"'{w}'" for w in words)
    code = (
        f"source {script}; COMP_WORDS=(vision-cli {line}); COMP_CWORD={len(words)}; "
        '_vision_cli; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    out = subprocess.run(["bash", "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_bash_completes_commands_options_and_values(fresh: Path) -> None:
    script = fresh / "vision-cli.bash"
    assert bash_complete(script, "in") == ["inspect"]
    assert "--model" in bash_complete(script, "inspect", "--mo")
    assert bash_complete(script, "inspect", "--format", "js") == ["json", "jsonl"]
    assert "claude-opus-4-7" in bash_complete(script, "inspect", "--model", "claude-opus-4-")
    assert "--strict" not in bash_complete(script, "estimate", "--")  # per command


def test_a_hidden_option_is_not_offered(fresh: Path) -> None:
    """``--temperature`` is kept only to say why it is refused: no completion offers it."""
    script = fresh / "vision-cli.bash"
    assert "--max-tokens" in bash_complete(script, "ask", "--")
    assert bash_complete(script, "ask", "--temp") == []
    assert bash_complete(script, "compare", "--temp") == []
    for name in make_completions.SCRIPTS:
        assert "temperature" not in (fresh / name).read_text(), name


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is missing (apt-get install zsh)")
def test_zsh_script_parses(fresh: Path) -> None:
    subprocess.run(["zsh", "-n", str(fresh / "_vision-cli")], check=True)


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is missing (apt-get install fish)")
def test_fish_completes(fresh: Path) -> None:
    script = fresh / "vision-cli.fish"
    code = f"source {script}; complete -C 'vision-cli inspect --mo'; complete -C 'vision-cli '"
    out = subprocess.run(["fish", "-c", code], capture_output=True, text=True, check=True).stdout
    assert "--model\t" in out and "inspect\t" in out and "compare\t" in out
