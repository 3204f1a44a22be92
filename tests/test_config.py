"""Project configuration: [tool.vision-cli] or vision-cli.toml set defaults; the CLI wins."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import MakeImage, Run
from vision_cli import catalog


@pytest.fixture
def project(tmp_path: Path, make_image: MakeImage, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_image("imgs/wide.png", (3000, 2000))
    make_image("imgs/tiny.png", (100, 100))
    sub = tmp_path / "imgs"
    monkeypatch.chdir(sub)  # the configuration is found by walking up from here
    return tmp_path


def summary(run: Run, *args: str) -> tuple[int, dict[str, object]]:
    result = run(*args, "inspect", ".", "--json")
    return result.exit_code, json.loads(result.stdout)


def test_pyproject_table_sets_defaults(project: Path, run: Run) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.vision-cli]\nmodel = "claude-opus-4-7"\nstrict = true\n'
    )
    code, doc = summary(run)
    assert code == 1  # strict: the small image's warning fails the run
    wide = next(r for r in doc["images"] if r["path"].endswith("wide.png"))  # type: ignore[attr-defined]
    assert wide["model"] == "claude-opus-4-7" and wide["api_width"] == 2352
    code, doc = summary(run, "--no-config")
    assert code == 0 and doc["images"][0]["model"] == catalog.load().default  # type: ignore[index]


def test_command_line_wins_and_command_tables_win_over_the_top(project: Path, run: Run) -> None:
    (project / "vision-cli.toml").write_text(
        'model = "claude-opus-4-7"\n[inspect]\nmodel = "claude-haiku-4-5"\nexclude = ["tiny*"]\n'
    )
    _, doc = summary(run)
    images = doc["images"]
    assert [Path(r["path"]).name for r in images] == ["wide.png"]  # type: ignore[attr-defined]
    assert images[0]["model"] == "claude-haiku-4-5"  # type: ignore[index]
    result = run("inspect", ".", "--json", "--model", "claude-sonnet-5")
    assert json.loads(result.stdout)["images"][0]["model"] == "claude-sonnet-5"


def test_dedicated_file_beats_a_pyproject_further_up(project: Path, run: Run) -> None:
    (project / "pyproject.toml").write_text('[tool.vision-cli]\nmodel = "claude-opus-4-7"\n')
    (project / "imgs" / "vision-cli.toml").write_text('model = "claude-sonnet-5"\n')
    _, doc = summary(run)
    assert doc["images"][0]["model"] == "claude-sonnet-5"  # type: ignore[index]


@pytest.mark.parametrize("written", ["2048", '"2048"', '"2KB"'])
def test_a_size_written_as_a_bare_toml_number_is_read(
    project: Path, run: Run, written: str
) -> None:
    """``max-bytes = 2048`` (a TOML integer) reads as ``--max-bytes 2048`` does: it was refused
    with "'int' object has no attribute 'strip'"."""
    (project / "vision-cli.toml").write_text(f"max-bytes = {written}\n")
    code, doc = summary(run)
    assert code == 1
    wide = next(r for r in doc["images"] if r["path"].endswith("wide.png"))  # type: ignore[attr-defined]
    assert "file-too-large" in [f["code"] for f in wide["findings"]]


@pytest.mark.parametrize("command", ["inspect", "resize"])
def test_a_repository_cannot_ask_for_more_workers_than_the_bound(
    project: Path, run: Run, command: str
) -> None:
    """``jobs = 100000000`` in a cloned repository's configuration made ``inspect`` fork worker
    after worker until the machine gave out (``--jobs`` had no upper bound, and a project may
    set ``jobs``): refused, as the command line's ``-j 257`` is, before any worker starts."""
    (project / "vision-cli.toml").write_text(f"[{command}]\njobs = 100000000\n")
    result = run(command, ".", "--dry-run" if command == "resize" else "--verify")
    assert result.exit_code == 2
    assert f"{command}.jobs = 100000000 is not valid: expected a whole number from 1 to 256" in (
        result.stderr
    )
    typed = run("--no-config", command, ".", "-j", "257")
    assert typed.exit_code == 2 and "from 1 to 256" in typed.stderr


def test_pyproject_without_the_table_is_passed_over(project: Path, run: Run) -> None:
    (project / "imgs" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (project / "pyproject.toml").write_text('[tool.vision-cli]\nmodel = "claude-opus-4-7"\n')
    _, doc = summary(run)
    assert doc["images"][0]["model"] == "claude-opus-4-7"  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('modle = "x"\n', "unknown key 'modle'"),
        ('max-bytes = "lots"\n', 'max-bytes = "lots" is not valid'),
        ('format = "xml"\n', 'format = "xml" is not valid'),
        ("[inspect]\nstrict = 3\n", "inspect.strict = 3 is not valid: expected true or false"),
        ("[inspect]\npolish = true\n", "unknown key 'polish' for inspect"),
        ("model = [\n", "not valid TOML"),
        ('[project]\nname = "caf\xe9"\n', "byte 22 is not UTF-8"),  # Latin-1, not UTF-8
    ],
)
def test_bad_configuration_names_file_and_key(
    project: Path, run: Run, text: str, expected: str
) -> None:
    config = project / "vision-cli.toml"
    config.write_bytes(text.encode("latin-1"))
    result = run("inspect", ".")
    assert result.exit_code == 2
    assert str(config) in result.stderr and expected in result.stderr
    assert "Traceback" not in result.stderr
    assert run("--no-config", "inspect", ".").exit_code == 0


# ---- the snippets in docs/configuration.md work in the file each is written for

DOC = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()


def _snippet(file_name: str) -> str:
    match = re.search(rf"```toml\n# {re.escape(file_name)}\n(.+?)```", DOC, re.S)
    assert match, f"docs/configuration.md has no {file_name} snippet"
    return match.group(1)


@pytest.mark.parametrize("file_name", ["vision-cli.toml", "pyproject.toml"])
def test_each_documented_snippet_works_in_its_own_file(
    run: Run, make_image: MakeImage, chdir_tmp: Path, file_name: str
) -> None:
    (chdir_tmp / file_name).write_text(_snippet(file_name))
    icon = make_image("icon.png", (64, 64))  # too-small: ignored by the snippet
    result = run("inspect", icon, "--json")
    assert result.exit_code == 0, result.stderr
    (rec,) = json.loads(result.stdout)["images"]
    assert rec["model"] == "claude-opus-4-7" and rec["findings"] == []
    turned = make_image("turned.jpg", (800, 600), orientation=6)
    assert run("inspect", turned).exit_code == 1  # strict = true for inspect


def test_the_pyproject_form_in_vision_cli_toml_says_what_to_write(
    run: Run, make_image: MakeImage, chdir_tmp: Path
) -> None:
    (chdir_tmp / "vision-cli.toml").write_text(_snippet("pyproject.toml"))
    result = run("inspect", make_image("a.png"))
    assert result.exit_code == 2
    assert "unknown key 'tool'" in result.stderr and "at the top level" in result.stderr


def test_no_config_help_loses_no_words_to_markup(run: Run) -> None:
    text = " ".join(run("--help").stdout.replace("│", " ").split())
    assert "--no-config <bool> Ignore the configuration files" in text
    assert "Ignore in" not in text


def test_a_run_builds_one_command_but_checks_the_configuration_against_all(
    project: Path, run: Run
) -> None:
    """``inspect`` builds only its own parameters; a top-level key that only ``resize`` takes
    (``to``) and a ``[resize]`` table are still known, and still checked."""
    from vision_cli.cli.app import app_for

    slim = app_for(["inspect", "."])
    assert [getattr(c.callback, "__name__", None) for c in slim.registered_commands] == ["inspect"]
    assert slim.registered_groups == []  # nor the files group's subcommands
    files = app_for(["files", "list"])
    assert files.registered_commands == [] and len(files.registered_groups) == 1
    for listing in (["--help"], [], ["inspectx"], ["--no-config"]):  # names and help only
        listed = app_for(listing)
        names = [c.name for c in listed.registered_commands]
        assert names == [
            "inspect",
            "resize",
            "estimate",
            "ask",
            "compare",
            "locate",
            "results",
            "models",
        ]
        [group] = listed.registered_groups
        assert group.typer_instance is not None
        assert group.typer_instance.registered_commands == []  # listed by name, not built
    config = project / "vision-cli.toml"
    config.write_text('to = "png"\n[resize]\nquality = 90\n')
    code, doc = summary(run)
    assert code == 0 and len(doc["images"]) == 2  # type: ignore[arg-type]
    config.write_text("[resize]\nquality = 900\n")
    result = run("inspect", ".")
    assert result.exit_code == 2 and "resize.quality = 900 is not valid" in result.stderr


@pytest.mark.parametrize("args", [["--help"], [], ["inspec"]])
def test_the_listing_says_what_the_whole_app_says(args: list[str]) -> None:
    from typer.testing import CliRunner

    from vision_cli.cli.app import app, app_for

    whole = CliRunner().invoke(app, args, prog_name="vision-cli")
    listed = CliRunner().invoke(app_for(args), args, prog_name="vision-cli")
    assert (listed.exit_code, listed.stdout, listed.stderr) == (
        whole.exit_code,
        whole.stdout,
        whole.stderr,
    )
    assert "inspect" in whole.stdout + whole.stderr  # the comparison is about something


def test_a_project_may_set_locates_frame_but_not_where_it_draws(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-" + "x" * 40)
    config = project / "vision-cli.toml"
    config.write_text('[locate]\nframe = "stored"\n')
    result = run("locate", "wide.png", "--find", "x", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    config.write_text('[locate]\ndraw = "/tmp/anywhere.png"\n')
    refused = run("locate", "wide.png", "--find", "x", "--dry-run")
    assert refused.exit_code == 2 and "draw" in refused.stderr


def _user_config(tmp_path: Path, text: str) -> None:
    path = tmp_path / "user-config" / "vision-cli" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("written", "args", "check"),
    [
        # options that only go with another: a default for when that one is given
        ("[ask]\njobs = 4\n", ["ask", "wide.png", "-p", "hi", "--dry-run"], "max_tokens"),
        ("jobs = 4\n", ["ask", "wide.png", "-p", "hi", "--dry-run"], "max_tokens"),
        ("[estimate]\ninclude-retired = true\n", ["estimate", "wide.png"], "wide.png"),
        ("[estimate]\ntile-overlap = 10\n", ["estimate", "wide.png"], "wide.png"),
        # what the user types beats a configured option it cannot go with
        ("json = true\n", ["inspect", "wide.png", "--format", "csv"], "path,status,"),
        ("json = true\n", ["models", "--format", "csv"], "id,aliases,"),
        ('format = "csv"\n', ["results", "r.jsonl", "--failed"], "wide.png"),
    ],
)
def test_a_configured_option_gives_way_to_the_command_line(
    project: Path, run: Run, written: str, args: list[str], check: str
) -> None:
    """A project may set ``ask``'s ``jobs`` and ``estimate``'s ``include-retired``, and a
    top-level ``jobs`` applies to every command that has it: every plain ``ask`` and
    ``estimate`` then stopped with "--jobs goes with --each or --batch". And ``json = true``
    beat ``--format csv``. The command line always wins."""
    _failed_result(project)
    (project / "vision-cli.toml").write_text(written)
    result = run(*args)
    assert result.exit_code in (0, 1), result.stderr  # results --failed: 1, one failed
    assert check in result.stdout


def _failed_result(project: Path) -> None:
    """imgs/r.jsonl: a results file of one image that failed."""
    (project / "imgs" / "r.jsonl").write_text(
        json.dumps(
            {
                "path": "wide.png",
                "model": "claude-sonnet-5",
                "prompt_sha256": "0" * 64,
                "error": {"type": "api_error", "status": 500, "message": "boom"},
            }
        )
        + "\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["inspect", "wide.png"],
        ["estimate", "wide.png"],
        ["resize", "wide.png", "--dry-run", "--out", "small"],
        ["models"],
        ["results", "r.jsonl"],
        ["locate", "wide.png", "--find", "x", "--dry-run"],
    ],
)
def test_json_and_another_format_both_typed_is_a_usage_error(
    project: Path, run: Run, args: list[str]
) -> None:
    """``--json -f csv`` typed: a usage error naming both, in every command that has the two
    (``inspect`` gave JSON, silently); ``--json -f json`` agrees with itself."""
    _failed_result(project)
    result = run(*args, "--json", "-f", "csv")
    assert result.exit_code == 2 and result.stdout == ""
    shown = "".join(c for c in result.stderr if c not in "│ \n")  # typer's box wraps lines
    assert "--jsonisshortfor--formatjson,not--formatcsv:giveoneofthem" in shown
    assert run(*args, "--json", "-f", "json").exit_code in (0, 1)


def test_a_user_configured_destination_gives_way_to_the_other_on_the_command_line(
    project: Path, run: Run, tmp_path: Path
) -> None:
    """``[resize] out = "small"`` (or ``in-place = true``, ``backup = ".orig"``) in the user's
    configuration with ``--in-place`` (or ``--out``) on the command line: the command line's.
    It was "give exactly one of --out DIR and --in-place". An ``--each`` configured beside
    ``ask --batch`` likewise."""
    _user_config(tmp_path, '[resize]\nout = "small"\nbackup = ".orig"\nskip-existing = true\n')
    result = run("resize", "tiny.png", "--in-place", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "tiny.png → tiny.png" in result.stdout
    _user_config(tmp_path, '[resize]\nin-place = true\nbackup = ".orig"\n')
    result = run("resize", "tiny.png", "--out", "elsewhere", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "elsewhere/tiny.png" in result.stdout
    _user_config(tmp_path, "[ask]\neach = true\n")
    result = run("ask", "tiny.png", "-p", "hi", "--batch", "-o", "r.jsonl", "--dry-run")
    assert result.exit_code == 0, result.stderr
    # a configured conversation and --each (or the other way round) exclude each other too
    result = run("ask", "tiny.png", "-p", "hi", "--conversation", "c.json", "--dry-run")
    assert result.exit_code == 0, result.stderr
    _user_config(tmp_path, '[ask]\nconversation = "c.json"\n')
    result = run("ask", "tiny.png", "-p", "hi", "--each", "-o", "r.jsonl", "--dry-run")
    assert result.exit_code == 0, result.stderr


def test_configured_values_are_checked_as_one_line_naming_the_file(project: Path, run: Run) -> None:
    """``snap-max`` and ``trim-fuzz`` were checked only when used, in typer's box."""
    for key in ("snap-max", "trim-fuzz"):
        (project / "vision-cli.toml").write_text(f'[estimate]\n{key} = "200%"\n')
        result = run("estimate", "--size", "100x100")
        assert result.exit_code == 2
        assert f'vision-cli.toml: estimate.{key} = "200%" is not valid' in result.stderr
        assert "╭" not in result.stderr


def test_a_configured_option_the_user_also_types_is_still_checked(project: Path, run: Run) -> None:
    """Only configured values give way: ``--jobs`` typed without ``--each`` is still the
    usage error it always was."""
    (project / "vision-cli.toml").write_text("[ask]\njobs = 4\n")
    result = run("ask", "wide.png", "-p", "hi", "--dry-run", "--jobs", "2")
    assert result.exit_code == 2
    assert "--jobs goes with --each or --batch" in " ".join(result.stderr.split())


def test_every_giving_way_rule_names_options_its_command_has() -> None:
    """A misspelt parameter name in a rule would never match, and the rule would do nothing."""
    import typer

    from vision_cli.cli import precedence
    from vision_cli.cli.app import whole

    commands = typer.main.get_command(whole()).commands  # type: ignore[attr-defined]
    for name, rules in precedence.RULES.items():
        params = {p.name for p in commands[name].params}
        for rule in rules:
            assert {rule.option, *rule.to, *rule.needs} <= params, (name, rule)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('tool = "x"\n', "'tool' must be a table"),  # was exit 70, from any folder above
        ("[[tool]]\nname = 1\n", "'tool' must be a table"),
        ("[tool]\nvision-cli = 3\n", "[tool.vision-cli] must be a table"),
        (
            "[tool.vision-cli]\njson = true\n[tool.vision_cli]\njson = true\n",
            "both [tool.vision-cli] and [tool.vision_cli]: keep one",
        ),
    ],
)
def test_a_pyproject_of_the_wrong_shape_is_a_usage_error(
    project: Path, run: Run, text: str, expected: str
) -> None:
    (project / "pyproject.toml").write_text(text)
    result = run("inspect", ".")
    assert result.exit_code == 2, result.stderr
    assert f"{project / 'pyproject.toml'}: {expected}" in " ".join(result.stderr.split())


def test_the_table_may_be_spelt_as_the_package_is(project: Path, run: Run) -> None:
    """``[tool.vision_cli]``, as Python spells the package, was passed over without a word."""
    (project / "pyproject.toml").write_text('[tool.vision_cli]\nmodel = "claude-opus-4-7"\n')
    _, doc = summary(run)
    assert doc["images"][0]["model"] == "claude-opus-4-7"  # type: ignore[index]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("folder", "it is a folder, not a regular file"),
        ("fifo", "it is a named pipe (FIFO), not a regular file"),
        ("broken link", "a symbolic link to a file that does not exist"),
        ("link loop", "a symbolic link that leads back to itself (a loop)"),
        ("nested", "not valid TOML here (arrays or tables nested too deeply to read)"),
        ("twice", "not valid TOML (Cannot overwrite a value (at line 2, column 15))"),
    ],
)
@pytest.mark.parametrize("whose", ["project", "user"])
def test_a_configuration_that_is_no_file_is_said_not_passed_over(
    project: Path, run: Run, tmp_path: Path, kind: str, expected: str, whose: str
) -> None:
    """A ``vision-cli.toml`` that is a folder, a FIFO or a link to nothing was skipped, and a
    configuration further up used in its place (a FIFO is refused before it is opened); the
    user's was skipped without a word; arrays nested thousands deep were exit 70 (tomllib's
    RecursionError)."""
    (project / "vision-cli.toml").write_text("strict = true\n")  # further up: must not be used
    here = project / "imgs" / "vision-cli.toml"
    if whose == "user":
        here = tmp_path / "user-config" / "vision-cli" / "config.toml"
        here.parent.mkdir(parents=True)
    if kind == "folder":
        here.mkdir()
    elif kind == "fifo":
        os.mkfifo(here)
    elif kind == "broken link":
        here.symlink_to("nowhere.toml")
    elif kind == "link loop":
        here.symlink_to(here.name)
    elif kind == "nested":
        here.write_text("exclude = " + "[" * 100_000 + "]" * 100_000 + "\n")
    else:
        here.write_text("strict = true\nstrict = false\n")
    result = run("inspect", ".")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {here}: {expected}")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("name", ["vision-cli.toml", "pyproject.toml", "user"])
def test_a_configuration_saved_with_a_byte_order_mark_is_read(
    project: Path, run: Run, tmp_path: Path, name: str
) -> None:
    """Windows Notepad's UTF-8 starts with a byte-order mark, which tomllib refuses: "not valid
    TOML (Invalid statement (at line 1, column 1))"."""
    text = "[tool.vision-cli]\nstrict = true\n" if name == "pyproject.toml" else "strict = true\n"
    path = project / name
    if name == "user":
        path = tmp_path / "user-config" / "vision-cli" / "config.toml"
        path.parent.mkdir(parents=True)
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    code, _ = summary(run)
    assert code == 1  # strict: the small image's warning fails the run


def test_a_working_folder_removed_under_the_run_reads_no_project_configuration(
    project: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shell left in a deleted folder: ``Path.cwd()`` fails, which was exit 70 for every
    command. The run goes on without the project's configuration, and says so."""
    (project / "vision-cli.toml").write_text("strict = true\n")
    image = project / "imgs" / "wide.png"
    gone = project / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    result = run("inspect", str(image))
    assert result.exit_code == 0, result.stderr
    assert "the working folder no longer exists" in " ".join(result.stderr.split())


def test_a_projects_exclude_pattern_with_a_slash_is_read_from_its_own_folder(
    project: Path, run: Run, make_image: MakeImage
) -> None:
    """``exclude = ["imgs/gen/*"]`` in the project's root excluded imgs/gen/a.png only when
    vision-cli ran from the root with ``.``: from imgs/ (the configuration is found from any
    folder below), or given the absolute path, the generated image was checked."""
    make_image("imgs/gen/a.png", (300, 200))
    (project / "vision-cli.toml").write_text('exclude = ["imgs/gen/*"]\n')
    for target in (".", str(project / "imgs"), "gen"):  # run from imgs/
        result = run("inspect", target, "--format", "jsonl")
        names = sorted(Path(json.loads(line)["path"]).name for line in result.stdout.splitlines())
        assert names == ([] if target == "gen" else ["tiny.png", "wide.png"]), target


@pytest.mark.parametrize(
    "written", ["json = true\n", "[files]\njson = true\n", "[files.list]\njson = true\n"]
)
def test_the_files_subcommands_take_their_options_from_a_configuration(
    project: Path, run: Run, tmp_path: Path, written: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``files list --json`` could not be configured at all: a top-level ``json`` was passed over
    for it, and ``[files]`` or ``[files.list]`` was "unknown key". A group's table applies to
    each of its subcommands, a subcommand's own table wins."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    _user_config(tmp_path, written)
    result = run("files", "list")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == []  # JSON: no uploads remembered


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("[files.delete]\nall = true\n", "files.delete.all cannot be set in a configuration"),
        ("[files]\nall = true\n", "files.all cannot be set in a configuration"),
        ("[files]\nlist = 3\n", "'files.list' must be a table of options"),
        ("[files.list]\nall = true\n", "unknown key 'all' for files list; its options: json"),
        ("[files.delete]\nbogus = 1\n", "unknown key 'bogus' for files delete; its options: json"),
    ],
)
def test_deleting_every_upload_is_never_configured(
    project: Path, run: Run, tmp_path: Path, written: str, expected: str
) -> None:
    _user_config(tmp_path, written)
    result = run("files", "list")
    assert result.exit_code == 2
    assert expected in " ".join(result.stderr.split())


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ('[estimate]\nprice = "garbage"\n', 'estimate.price = "garbage" is not valid'),
        ('[estimate]\nsize = ["abc"]\n', 'estimate.size = ["abc"] is not valid'),
        ('[estimate]\ntier = "bogus"\n', 'estimate.tier = "bogus" is not valid: use standard'),
        ('[estimate]\nrule = "x"\n', 'estimate.rule = "x" is not valid: use current or legacy'),
        ('[ask]\nexpires = "forever"\n', 'ask.expires = "forever" is not valid'),
        ('[ask]\ntile = "bogus"\n', 'ask.tile = "bogus" is not valid'),
        ('[ask]\nprompt = " "\n', 'ask.prompt = " " is not valid: it is empty'),
        ('model = ""\n', 'model = "" is not valid: it is empty'),
        ('format = "xml"\n', "format = \"xml\" is not valid: 'xml' is not one of"),
    ],
)
def test_every_bad_value_is_named_when_the_configuration_is_read(
    project: Path, run: Run, tmp_path: Path, written: str, expected: str
) -> None:
    """These were taken, and the command they are for later stopped with typer's "Invalid
    value for --price", naming neither the file nor the key; other commands ran."""
    _user_config(tmp_path, written)
    result = run("models")
    assert result.exit_code == 2
    said = " ".join(result.stderr.split())
    assert f"{tmp_path / 'user-config' / 'vision-cli' / 'config.toml'}: {expected}" in said


def test_a_value_checked_only_when_used_names_the_file_it_came_from(
    project: Path, run: Run, tmp_path: Path
) -> None:
    """A schema is a file, read when a command needs it: its error names the configuration."""
    user = tmp_path / "user-config" / "vision-cli" / "config.toml"
    _user_config(tmp_path, '[ask]\nschema = "nosuch.json"\n')
    result = run("ask", "wide.png", "-p", "hi", "--dry-run")
    assert result.exit_code == 2
    boxless = "".join(c for c in result.stderr if c not in "│╭╮╰╯─" and not c.isspace())
    assert "--schema(from" + "".join(str(user).split()) + "):nosuchschemafile" in boxless


@pytest.mark.parametrize(
    "args",
    [
        ("inspect", "tiny.png"),
        ("estimate", "tiny.png"),
        ("ask", "tiny.png", "-p", "hi", "--dry-run"),
    ],
)
def test_a_list_from_the_configuration_that_cannot_be_read_names_the_file(
    project: Path, run: Run, tmp_path: Path, args: tuple[str, ...]
) -> None:
    """``files-from`` in your own configuration naming a list that is not there said only
    "cannot read --files-from nolist.txt", as if it had been typed: it names the
    configuration, as a schema's error does; typed, the message stays as it was."""
    user = tmp_path / "user-config" / "vision-cli" / "config.toml"
    _user_config(tmp_path, 'files-from = "nolist.txt"\n')
    result = run(*args)
    assert result.exit_code == 2
    boxless = "".join(c for c in result.stderr if c not in "│╭╮╰╯─" and not c.isspace())
    assert "--files-from(from" + "".join(str(user).split()) + "):cannotread" in boxless
    user.unlink()
    typed = run(*args, "--files-from", "nolist.txt")
    assert typed.exit_code == 2
    boxless = "".join(c for c in typed.stderr if c not in "│╭╮╰╯─" and not c.isspace())
    assert "Invalidvalue:cannotread--files-fromnolist.txt" in boxless


def test_a_top_level_value_applies_to_the_commands_that_take_it(project: Path, run: Run) -> None:
    """``format = "github"`` was refused for every command because resize has no github
    format, even for ``inspect`` (its only user)."""
    (project / "vision-cli.toml").write_text('format = "github"\n')
    result = run("inspect", "tiny.png")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("::warning file=tiny.png,title=too-small::")
    result = run("resize", "tiny.png", "--out", str(project / "out"), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "tiny.png →" in result.stdout  # resize's own table


def test_an_unknown_key_lists_only_what_this_file_may_set(
    project: Path, run: Run, tmp_path: Path
) -> None:
    """The list under "unknown key" offered every option, those a project may not set
    (``overwrite``, ``prompt``) and ``files delete --all`` among them."""
    (project / "vision-cli.toml").write_text('modle = "x"\n')
    said = " ".join(run("inspect", ".").stderr.split())
    listed = said.split("options that can be set: ")[1].split(", ")
    assert "model" in listed and "strict" in listed
    assert not {"overwrite", "prompt", "all", "refresh"} & set(listed)
    (project / "vision-cli.toml").unlink()
    _user_config(tmp_path, 'modle = "x"\n')  # your own file may set them, --all excepted
    said = " ".join(run("inspect", ".").stderr.split())
    listed = said.split("options that can be set: ")[1].split(", ")
    assert {"overwrite", "prompt", "refresh"} <= set(listed) and "all" not in listed
