"""Every value a configuration file can hold, for every key it can set: taken, or one line.

The keys come from the commands themselves (:func:`vision_cli.cli.app.command_options`), so a new
option is covered as soon as it exists. Each is given a value of every TOML type, in the user's
configuration and in a project's, at the top level and in its command's table: a value is either
taken, or refused with one line that names the file and the key and shows the value as the file
spells it, never a crash (exit 70), a traceback, or Python's or pydantic's words.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import MakeImage, Run
from vision_cli import config
from vision_cli.cli import app

OPTIONS = app.command_options()

#: Every key a configuration can set, with the commands that take it.
KEYS = {
    key: sorted(command for command, options in OPTIONS.items() if key in options)
    for key in sorted({key for options in OPTIONS.values() for key in options})
}

#: A value of every TOML type, as a file spells it, and a few of the odd ones.
VALUES = [
    '"text"',
    '""',
    '"10MB"',
    '"\\u001b[31mred"',
    '"' + "x" * 200 + '"',
    "7",
    "-1",
    "0",
    "99999999999999999999999",  # more than 64 bits: TOML's own limit, refused by tomllib
    "2.5",
    "1e3",
    "inf",
    "nan",
    "true",
    "false",
    "1979-05-27T07:32:00Z",
    "1979-05-27T07:32:00",
    "1979-05-27",
    "07:32:00",
    "[]",
    '["a", "b"]',
    "[1, 2]",
    '[1, "a", 2.5, true, 1979-05-27]',
    "[[1], [2]]",
    "[" * 100 + "]" * 100,
    "{}",
    "{a = 1}",
    '{"b c" = [1, {d = "e"}]}',
]

#: What an error must never show: Python's spelling of a value, or pydantic's words.
FOREIGN = ("True", "False", "datetime.", "{'", "['", "Input should", "Value error")


def placements(key: str) -> list[str]:
    """Where ``key`` can be written: the top level, and each command's table that takes it."""
    return ["", *(command.replace(" ", ".") for command in KEYS[key])]


def document(key: str, value: str, where: str) -> str:
    return f"[{where}]\n{key} = {value}\n" if where else f"{key} = {value}\n"


def assert_one_line_naming(message: str, path: Path, key: str, where: str) -> None:
    shown = f"{where}.{key}" if where else key
    assert message.startswith(f"{path}: {shown} "), message
    assert "\n" not in message and "Traceback" not in message
    assert not any(words in message for words in FOREIGN), message


@pytest.mark.parametrize("key", KEYS)
def test_every_value_of_every_key_is_taken_or_refused_in_one_line(key: str) -> None:
    """``exclude = [1, 2]`` in a project was exit 70 (a TypeError); values were shown as
    Python writes them (``True``, ``datetime.date(1979, 5, 27)``) and refused in pydantic's
    words ("Input should be a valid integer")."""
    path = Path("/project/vision-cli.toml")
    for value in VALUES:
        for where in placements(key):
            try:
                table = tomllib.loads(document(key, value, where))
            except tomllib.TOMLDecodeError:
                continue  # not TOML: the file's error, tested elsewhere
            for allowed in (None, config.PROJECT_OPTIONS):
                try:
                    config.default_map(path, table, OPTIONS, allowed=allowed)
                except config.ConfigError as exc:
                    assert_one_line_naming(str(exc), path, key, where)


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("jobs = true", "jobs = true is not valid: expected a whole number from 1 to 256"),
        ('format = ["json"]', 'format = ["json"] is not valid: expected a string'),
        ("exclude = {a = 1}", "exclude = {a = 1} is not valid: expected a string or a list of"),
        ("exclude = [1, 2]", "exclude = [1, 2] is not valid: expected a string or a list of"),
        ("jobs = 1979-05-27", "jobs = 1979-05-27 is not valid: expected a whole number"),
        ("jobs = 2.5", "jobs = 2.5 is not valid: expected a whole number from 1 to 256"),
        ("[resize]\nquality = 1e3", "resize.quality = 1000.0 is not valid: expected a whole "),
        ('[resize]\nmax-edge = "big"', 'resize.max-edge = "big" is not valid: expected a whole'),
        ("[estimate]\nprice = [true]", "estimate.price = [true] is not valid: expected a string"),
        ("strict = 07:32:00", "strict = 07:32:00 is not valid: expected true or false"),
        ('jobs = "\\u001b[2J"', 'jobs = "\\x1b[2J" is not valid: expected a whole number'),
        ("exclude = " + "[" * 80 + "]" * 80, "exclude = " + "[" * 60 + "… is not valid"),
    ],
)
@pytest.mark.parametrize("where", ["vision-cli.toml", "user"])
def test_a_refused_value_is_shown_as_toml_spells_it(
    tmp_path: Path, run: Run, chdir_tmp: Path, written: str, shown: str, where: str
) -> None:
    """As the user wrote it (TOML's ``true``, ``["json"]``, ``1979-05-27``, a float as TOML
    writes it), cut short when long, and with what the option takes in the command line's words."""
    path = tmp_path / "vision-cli.toml"
    if where == "user":
        path = tmp_path / "user-config" / "vision-cli" / "config.toml"
        path.parent.mkdir(parents=True)
    path.write_text(written + "\n")
    result = run("models")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {path}: {shown}")
    assert result.stderr.count("\n") == 1 and "\x1b" not in result.stderr


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--quality", "1000", "expected a whole number from 1 to 100"),
        ("--max-edge", "big", "expected a whole number of at least 1"),
        ("--jobs", "2.5", "expected a whole number from 1 to 256"),
        ("--max-megapixels", "x", "expected a number of at least 0.001"),
        ("--format", "xml", "'xml' is not one of 'table', 'json', 'jsonl', 'csv', 'markdown'."),
    ],
)
def test_the_command_line_and_a_configuration_refuse_a_value_in_the_same_words(
    chdir_tmp: Path, run: Run, make_image: MakeImage, option: str, value: str, words: str
) -> None:
    """Both said pydantic's "Input should be a valid integer, unable to parse string as an
    integer" (and "Value error, " before a choice's list on the command line)."""
    make_image("a.png", (400, 300))
    typed = run("resize", "a.png", "--out", "small", option, value)
    assert typed.exit_code == 2
    said = " ".join(typed.stderr.replace("│", " ").split())
    assert f"Invalid value for '{option}'" in said and f"': {words}" in said
    (chdir_tmp / "vision-cli.toml").write_text(f'[resize]\n{option[2:]} = "{value}"\n')
    configured = run("resize", "a.png", "--out", "small")
    assert configured.exit_code == 2
    assert f'resize.{option[2:]} = "{value}" is not valid: {words}' in configured.stderr


@pytest.mark.parametrize("key", KEYS)
@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_run_with_any_value_of_any_key_never_crashes(
    key: str,
    data: st.DataObject,
    tmp_path: Path,
    run: Run,
    make_image: MakeImage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same, end to end: a run of ``inspect`` with the value in a file of each kind."""
    value = data.draw(st.sampled_from(VALUES), label="value")
    where = data.draw(st.sampled_from(placements(key)), label="table")
    kind = data.draw(st.sampled_from(["user", "vision-cli.toml", "pyproject.toml"]), label="file")
    project = tmp_path / "project"
    image = make_image("project/a.png", (400, 300))
    monkeypatch.chdir(project)
    written = document(key, value, where)
    path = project / kind
    if kind == "user":
        path = tmp_path / "user-config" / "vision-cli" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        (project / "vision-cli.toml").unlink(missing_ok=True)
        (project / "pyproject.toml").unlink(missing_ok=True)
    else:
        (project / ("pyproject.toml" if kind == "vision-cli.toml" else "vision-cli.toml")).unlink(
            missing_ok=True
        )
        (tmp_path / "user-config" / "vision-cli" / "config.toml").unlink(missing_ok=True)
    if kind == "pyproject.toml":
        where = f"tool.vision-cli.{where}" if where else "tool.vision-cli"
        written = document(key, value, where)
    path.write_text(written)
    result = run("inspect", image)
    assert result.exit_code in (0, 1, 2) and "Traceback" not in result.stderr, result.stderr
    if result.exit_code == 2 and result.stderr.startswith("Error: "):
        shown = where.removeprefix("tool.vision-cli").removeprefix(".")
        if "not valid TOML" not in result.stderr:  # a number beyond TOML's 64 bits
            message = result.stderr.removeprefix("Error: ").rstrip("\n")
            assert_one_line_naming(message, path, key, shown)
    # else taken by the file's check, and then used (exit 0 or 1), or refused by the command
    # that used it (the model, a file to read: typer's usage error, exit 2)
