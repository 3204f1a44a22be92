"""``main(argv, env)``: every command run in process with its own streams, variables and clock
(:class:`vision_cli.environment.Environment`), and the same output, byte for byte, as the console
script gives in a subprocess. The process's ``os.environ`` holds conflicting values where it
matters, to show the run reads ``env.vars`` and nothing else.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import API_KEY, MakeImage
from tests.fakeapi import FakeClaudeAPI
from tests.test_results import mixed  # noqa: F401  (a fixture: a results file from real runs)
from vision_cli.cli.app import main
from vision_cli.environment import Environment

FIXED = datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)
#: Nothing listens there: a run that read the process's variables would fail to connect.
DEAD_URL = "http://127.0.0.1:9"


@dataclass
class Ran:
    status: int
    stdout: str
    stderr: str
    env: Environment = field(repr=False)


def memory(
    stdin: bytes = b"", vars: Mapping[str, str] | None = None, clock: datetime = FIXED
) -> Environment:
    """An Environment of in-memory streams (none a terminal), ``vars`` and a stopped clock."""
    raw = io.BytesIO(stdin)
    return Environment(
        stdin=io.TextIOWrapper(raw, encoding="utf-8"),
        stdin_bytes=raw,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        vars=dict(vars or {}),
        clock=lambda: clock,
    )


def run_in_process(*args: str | Path, env: Environment | None = None) -> Ran:
    env = env or memory()
    status = main([str(a) for a in args], env)
    assert isinstance(env.stdout, io.StringIO) and isinstance(env.stderr, io.StringIO)
    return Ran(status, env.stdout.getvalue(), env.stderr.getvalue(), env)


def run_subprocess(
    *args: str | Path, stdin: bytes = b"", vars: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The console script's run of the same command, for the byte-for-byte comparison."""
    proc = subprocess.run(
        [sys.executable, "-m", "vision_cli", *map(str, args)],
        input=stdin,
        capture_output=True,
        timeout=120,
        env={**os.environ, **(vars or {})},
    )
    out, err = (b.decode("utf-8", "surrogateescape") for b in (proc.stdout, proc.stderr))
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def same_as_subprocess(*args: str | Path, stdin: bytes = b"") -> Ran:
    ran = run_in_process(*args, env=memory(stdin))
    proc = run_subprocess(*args, stdin=stdin)
    assert (ran.status, ran.stdout, ran.stderr) == (proc.returncode, proc.stdout, proc.stderr)
    return ran


# --------------------------------------------------------------------------------------------------
# Each command, in process, as in a subprocess
# --------------------------------------------------------------------------------------------------


def test_inspect(make_image: MakeImage) -> None:
    ran = same_as_subprocess("inspect", "--json", make_image("a.png", (300, 200)))
    assert ran.status == 0 and json.loads(ran.stdout)["images"][0]["width"] == 300


def test_inspect_reads_the_image_from_env_stdin(make_image: MakeImage) -> None:
    data = make_image("a.png", (64, 48)).read_bytes()
    ran = same_as_subprocess("inspect", "--format", "jsonl", "-", stdin=data)
    record = json.loads(ran.stdout)
    assert (record["path"], record["width"], record["height"]) == ("-", 64, 48)


def test_inspect_with_a_bad_file_says_so_on_env_stderr(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    ran = same_as_subprocess("inspect", bad)
    assert ran.status == 1 and "bad.png" in ran.stdout + ran.stderr


def test_resize(make_image: MakeImage, tmp_path: Path) -> None:
    big = make_image("big.png", (3000, 1000))
    ran = run_in_process("resize", big, "--out", tmp_path / "one", "--json")
    proc = run_subprocess("resize", big, "--out", tmp_path / "two", "--json")
    assert (ran.status, ran.stderr) == (proc.returncode, proc.stderr) == (0, "")
    out = ran.stdout.replace(str(tmp_path / "one"), "OUT")
    assert out == proc.stdout.replace(str(tmp_path / "two"), "OUT")
    assert (tmp_path / "one" / "big.png").exists()


def test_resize_reads_the_image_from_env_stdin(make_image: MakeImage, tmp_path: Path) -> None:
    data = make_image("a.png", (3000, 1000)).read_bytes()
    ran = run_in_process("resize", "-", "--out", tmp_path / "out", env=memory(data))
    assert ran.status == 0, ran.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["stdin.png"]


def test_estimate(make_image: MakeImage) -> None:
    ran = same_as_subprocess("estimate", "--json", make_image("a.png", (1000, 1000)))
    assert ran.status == 0 and json.loads(ran.stdout)["images"][0]["tokens"] > 0


def test_estimate_a_size_as_markdown() -> None:
    same_as_subprocess("estimate", "--size", "1920x1080", "--format", "markdown")


def test_models() -> None:
    ran = same_as_subprocess("models", "--json")
    assert ran.status == 0 and json.loads(ran.stdout)["models"]
    same_as_subprocess("models", "sonnet", "--format", "csv")
    same_as_subprocess("models", "--format", "markdown")


def test_results(mixed: Path) -> None:  # noqa: F811  (the fixture imported above)
    same_as_subprocess("results", mixed)
    same_as_subprocess("results", mixed, "--format", "csv")
    same_as_subprocess("results", mixed, "--failed")


def test_usage_errors_go_to_env_stderr() -> None:
    ran = same_as_subprocess("inspect")
    assert ran.status == 2 and ran.stdout == "" and "give at least one image" in ran.stderr
    ran = same_as_subprocess("inspect", "--no-such-option")
    assert ran.status == 2 and "No such option" in ran.stderr


def test_version_goes_to_env_stdout() -> None:
    ran = same_as_subprocess("--version")
    assert ran.status == 0 and ran.stdout.startswith("vision-cli ")


# --------------------------------------------------------------------------------------------------
# Variables: env.vars, never os.environ
# --------------------------------------------------------------------------------------------------


def api_vars(api: FakeClaudeAPI, tmp_path: Path) -> dict[str, str]:
    return {
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_BASE_URL": api.base_url,
        "VISION_CLI_CACHE_DIR": str(tmp_path / "env-cache"),
    }


@pytest.fixture
def wrong_process_vars(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The process's variables point at nothing: a run that reads them fails."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-the-process-key-not-this-one-000")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", DEAD_URL)
    monkeypatch.setenv("VISION_CLI_CACHE_DIR", str(tmp_path / "process-cache"))


@pytest.mark.usefixtures("wrong_process_vars")
def test_ask_uses_the_key_and_base_url_of_env_vars(
    fake_api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    image = make_image("a.png", (300, 200))
    vars = api_vars(fake_api, tmp_path)
    ran = run_in_process("ask", image, "-p", "What is it?", env=memory(vars=vars))
    assert ran.status == 0, ran.stderr
    assert len(fake_api.requests) == 1 and ran.stdout.strip()
    assert "tokens" in ran.stderr and API_KEY not in ran.stdout + ran.stderr
    proc = run_subprocess("ask", image, "-p", "What is it?", vars=vars)
    assert (proc.returncode, proc.stdout) == (0, ran.stdout)


@pytest.mark.usefixtures("wrong_process_vars")
def test_ask_json_and_the_prompt_from_env_stdin(
    fake_api: FakeClaudeAPI, make_image: MakeImage, tmp_path: Path
) -> None:
    env = memory(b"Describe it.", vars=api_vars(fake_api, tmp_path))
    ran = run_in_process("ask", make_image("a.png"), "-p", "-", "--json", env=env)
    assert ran.status == 0, ran.stderr
    assert json.loads(ran.stdout)["text"]
    sent = fake_api.requests[0].body["messages"][0]["content"]
    assert {"type": "text", "text": "Describe it."} in sent


def test_ask_without_a_key_in_env_vars_is_exit_2(
    monkeypatch: pytest.MonkeyPatch, make_image: MakeImage
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)  # the process has one; the run does not
    ran = run_in_process("ask", make_image("a.png"), "-p", "hi")
    assert ran.status == 2 and "ANTHROPIC_API_KEY" in ran.stderr and ran.stdout == ""


@pytest.mark.usefixtures("wrong_process_vars")
def test_files_list_asks_the_api_of_env_vars(fake_api: FakeClaudeAPI, tmp_path: Path) -> None:
    ran = run_in_process("files", "list", "--json", env=memory(vars=api_vars(fake_api, tmp_path)))
    assert (ran.status, json.loads(ran.stdout), ran.stderr) == (0, [], "")


@pytest.mark.usefixtures("wrong_process_vars")
def test_models_refresh_keeps_the_time_of_env_clock(
    fake_api: FakeClaudeAPI, tmp_path: Path
) -> None:
    vars = api_vars(fake_api, tmp_path)
    ran = run_in_process("models", "--refresh", "--json", env=memory(vars=vars))
    assert ran.status == 0, ran.stderr
    assert fake_api.base_url in ran.stderr
    # the model table's cache is still found through the process's VISION_CLI_CACHE_DIR: every
    # command reads it (catalog.load), most of them far from any Environment
    cached = json.loads((tmp_path / "process-cache" / "models.json").read_text())
    assert cached["fetched_at"] == "2031-02-03T04:05:06+00:00"


# --------------------------------------------------------------------------------------------------
# Failures: a closed stdout, a bug, VISION_CLI_DEBUG
# --------------------------------------------------------------------------------------------------


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_is_141_and_quiet(make_image: MakeImage) -> None:
    env = dataclasses.replace(memory(), stdout=ClosedPipe())
    status = main(["inspect", str(make_image("a.png"))], env)
    assert status == 141
    assert isinstance(env.stderr, io.StringIO) and env.stderr.getvalue() == ""


def test_a_bug_is_one_line_unless_env_vars_ask_for_the_traceback(
    monkeypatch: pytest.MonkeyPatch, make_image: MakeImage
) -> None:
    from vision_cli import inspecting

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaput")

    monkeypatch.setattr(inspecting, "check_keeping_data", boom)
    monkeypatch.setenv("VISION_CLI_DEBUG", "1")  # the process's: not the run's
    ran = run_in_process("inspect", make_image("a.png"))
    assert ran.status == 70 and ran.stdout == ""
    assert "internal error (RuntimeError: kaput)" in ran.stderr and "Traceback" not in ran.stderr
    monkeypatch.delenv("VISION_CLI_DEBUG")
    with pytest.raises(RuntimeError):
        main(["inspect", str(make_image("b.png"))], memory(vars={"VISION_CLI_DEBUG": "1"}))


def test_from_process_reads_the_process_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISION_CLI_SOMETHING", "yes")
    env = Environment.from_process()
    assert env.vars["VISION_CLI_SOMETHING"] == "yes" and env.stdout is sys.stdout
    assert env.now().tzinfo is UTC and isinstance(env.stdout_isatty, bool)
