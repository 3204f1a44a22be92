"""``completions/`` is generated from the real command tree and must match it exactly."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from vision_cli import catalog
from vision_cli.cli import app

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


# --------------------------------------------------------------------------------------------------
# Every command and subcommand of the real command tree, completed by each shell for real
# --------------------------------------------------------------------------------------------------

#: Drives zsh's completion system in a pseudo-terminal (zpty): each line is typed followed by Tab,
#: and every word zsh's completion offers is printed as ``HIT::word``, then ``END::`` per line.
ZSH_CAPTURE = r"""
zmodload zsh/zpty || exit 2
zpty z zsh -f -i
zpty -w z "fpath=(${(q)1} \$fpath); PROMPT=; autoload -Uz compinit; compinit -u -D"
zpty -w z "zstyle ':completion:*' list-grouped false; zstyle ':completion:*' insert-tab false"
zpty -w z 'compadd () {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
  local -a __hits; local __h; builtin compadd -A __hits "$@"
  for __h in $__hits; do print -r -- "HIT""::$__h"; done
}'
zpty -w z "null-line () { print -r -- 'END''::' }"
zpty -w z "capture () { comppostfuncs=( null-line ); _main_complete }"
zpty -w z "zle -C capture complete-word capture; bindkey '^I' capture; bindkey '^U' kill-whole-line"
local line
for typed in "${@[2,-1]}"; do
  zpty -w -n z "$typed"$'\t'
  while zpty -r z line; do
    line=${line//[$'\r\n']/}
    [[ $line == *'HIT::'* ]] && print -r -- "${line#*HIT::}"
    [[ $line == *'END::'* ]] && { print -r -- 'END::'; break }
  done
  zpty -w -n z $'\C-u'
done
zpty -d z
"""

SHELLS = ("bash", "zsh", "fish")


def needs(shell: str) -> None:
    """Skip when ``shell`` is missing (which fails under CI=true: tests/strict_skips.py)."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is missing (apt-get install {shell})")


def complete(shell: str, folder: Path, lines: list[tuple[str, ...]], cwd: Path) -> list[list[str]]:
    """What ``shell`` offers for each line (the words after ``vision-cli``, the last one being
    completed), with the scripts in ``folder`` and ``cwd`` as the working folder."""
    if shell == "bash":
        script = folder / "vision-cli.bash"
        runs = []
        for words in lines:
            quoted = " ".join(shlex.quote(w) for w in words)
            runs.append(
                f"COMP_WORDS=(vision-cli {quoted}); COMP_CWORD={len(words)}; COMPREPLY=(); "
                '_vision_cli; printf "%s\\n" "${COMPREPLY[@]}"; echo END::'
            )
        argv = ["bash", "-c", f"source {shlex.quote(str(script))}; " + "; ".join(runs)]
    elif shell == "fish":
        script = folder / "vision-cli.fish"
        runs = [
            f"complete -C {shlex.quote(' '.join(('vision-cli', *words)))}; echo END::"
            for words in lines
        ]
        argv = ["fish", "-c", f"source {shlex.quote(str(script))}; " + "; ".join(runs)]
    else:
        argv = ["zsh", "-f", "-c", ZSH_CAPTURE, "zsh", str(folder)]
        argv += [" ".join(("vision-cli", *words)) for words in lines]
    out = subprocess.run(
        argv, capture_output=True, text=True, check=True, cwd=cwd, timeout=120
    ).stdout
    answers: list[list[str]] = [[]]
    for line in out.splitlines():
        if line == "END::":
            answers.append([])
        elif line.strip():
            answers[-1].append(line.split("\t")[0])  # fish: word<TAB>description
    assert len(answers) == len(lines) + 1, out
    return answers[:-1]


def real_tree() -> list[tuple[tuple[str, ...], Any, Any]]:
    """Every (words, click command, context) of the real app: the app, commands, subcommands."""
    found: list[tuple[tuple[str, ...], Any, Any]] = []

    def walk(words: tuple[str, ...], command: Any, parent: Any) -> None:
        name = " ".join(("vision-cli", *words))
        ctx = command.make_context(name, [], parent=parent, resilient_parsing=True)
        found.append((words, command, ctx))
        for sub_name, sub in getattr(command, "commands", {}).items():
            walk((*words, sub_name), sub, ctx)

    walk((), typer.main.get_command(app.whole()), None)
    return found


TREE = real_tree()


def real_options(command: Any, ctx: Any) -> set[str]:
    """Every name of every option ``command`` takes, the off form of a flag too, not hidden."""
    params = [p for p in command.get_params(ctx) if p.param_type_name == "option"]
    return {n for p in params if not p.hidden for n in (*p.opts, *p.secondary_opts)}


def label(words: tuple[str, ...]) -> str:
    return " ".join(words) or "(no command)"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working folder with a file and a folder whose names start with ``probe``."""
    (tmp_path / "probe.json").write_text("{}")
    (tmp_path / "probe-dir").mkdir()
    return tmp_path


@pytest.mark.parametrize("shell", SHELLS)
def test_every_command_offers_exactly_its_own_options(
    fresh: Path, workdir: Path, shell: str
) -> None:
    """After each command and subcommand, ``-`` completes exactly the options it takes: none
    missing (``--no-verify``, the off form of a flag), none of another command's (a group's
    subcommands each have their own)."""
    needs(shell)
    offered = complete(shell, fresh, [(*words, "-") for words, _, _ in TREE], workdir)
    wrong = {}
    for (words, command, ctx), got in zip(TREE, offered, strict=True):
        real = real_options(command, ctx)
        if set(got) != real:
            wrong[label(words)] = {
                "missing": sorted(real - set(got)),
                "not its own": sorted(set(got) - real),
            }
    assert not wrong, f"{shell}: {wrong}"
    ask = next((command, ctx) for words, command, ctx in TREE if words == ("ask",))
    assert "--no-verify" in real_options(*ask)  # the off form is among the real options


@pytest.mark.parametrize("shell", SHELLS)
def test_a_group_offers_its_subcommands_only_before_one_is_named(
    fresh: Path, workdir: Path, shell: str
) -> None:
    needs(shell)
    groups = [(w, c) for w, c, _ in TREE if w and getattr(c, "commands", {})]
    assert groups, "the app has a group (files)"
    lines = [(*words, "") for words, _ in groups]
    lines += [(*words, sub, "") for words, group in groups for sub in group.commands]
    offered = iter(complete(shell, fresh, lines, workdir))
    for words, group in groups:
        assert sorted(next(offered)) == sorted(group.commands), label(words)
    for words, group in groups:
        for sub in group.commands:
            got = set(next(offered))
            assert not got & set(group.commands), f"{shell}: {label((*words, sub))} offers {got}"


def path_valued() -> list[tuple[tuple[str, ...], str]]:
    """Every (command, option) whose value is a path: a path type, or a value documented as a
    FILE, DIR or OUT (``--files-from FILE``, ``--schema`` FILE.json, ``locate --draw OUT``)."""
    found = []
    for words, command, ctx in TREE:
        for p in command.get_params(ctx):
            if p.param_type_name != "option" or p.hidden or getattr(p, "is_flag", False):
                continue
            desc = p.type_descriptor
            documented = (p.metavar or "") in {"FILE", "DIR", "OUT"} or "FILE" in (p.help or "")
            if desc.is_path or desc.is_file or documented:
                found.append((words, max(p.opts, key=len)))
    return found


PATH_VALUED = path_valued()


def test_the_path_valued_options_are_found() -> None:
    found = {(" ".join(w), o) for w, o in PATH_VALUED}
    for known in [
        ("ask", "--schema"),
        ("compare", "--schema"),
        ("locate", "--draw"),
        ("ask", "--prompt-file"),
        ("ask", "--conversation"),
        ("inspect", "--files-from"),
        ("resize", "--out"),
        ("locate", "--output"),
    ]:
        assert known in found
    assert {"FILE", "DIR", "OUT", "SCHEMA"} <= make_completions.PATH_METAVARS


@pytest.mark.parametrize("shell", SHELLS)
def test_a_path_valued_option_completes_file_names(fresh: Path, workdir: Path, shell: str) -> None:
    needs(shell)
    offered = complete(shell, fresh, [(*w, o, "pro") for w, o in PATH_VALUED], workdir)
    missing = [
        f"{label(words)} {option}"
        for (words, option), got in zip(PATH_VALUED, offered, strict=True)
        if "probe.json" not in got
    ]
    assert not missing, f"{shell} completes no file name after: {missing}"


def choice_valued() -> list[tuple[tuple[str, ...], str, tuple[str, ...]]]:
    found = []
    for words, command, ctx in TREE:
        for p in command.get_params(ctx):
            desc = getattr(p, "type_descriptor", None)
            if p.param_type_name == "option" and desc is not None and desc.is_choice:
                choices = tuple(str(getattr(c, "value", c)) for c in desc.choices or ())
                found.append((words, max(p.opts, key=len), choices))
    return found


@pytest.mark.parametrize("shell", SHELLS)
def test_a_choice_option_completes_its_choices_and_models_complete_model_names(
    fresh: Path, workdir: Path, shell: str
) -> None:
    needs(shell)
    choices = choice_valued()
    assert choices, "the app has choice options (--format)"
    models = tuple(catalog.bundled().names())
    lines = [(*w, o, "") for w, o, _ in choices]
    lines += [("models", ""), ("models", "so"), ("ask", "--model", "")]
    offered = complete(shell, fresh, lines, workdir)
    for (words, option, values), got in zip(choices, offered[: len(choices)], strict=True):
        assert sorted(got) == sorted(values), f"{shell}: {label(words)} {option}"
    all_models, sonnet, model_option = offered[len(choices) :]
    assert sorted(all_models) == sorted(models), f"{shell}: models MODEL"
    assert "sonnet" in sonnet and "probe.json" not in all_models
    assert sorted(model_option) == sorted(models)
