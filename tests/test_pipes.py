"""A closed standard output (``vision-cli ... | head -1``) ends every command quietly with 141.

Real pipes: the command runs as a process whose standard output is read by a real ``head -1``,
which exits after the first line. The output is far larger than a pipe's buffer, so the command
is still writing when its reader goes away.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import POOLED_CLI
from tests.fakeapi import FakeClaudeAPI
from vision_cli.exitcodes import ExitStatus

pytestmark = pytest.mark.slow

#: More than the 500 inputs from which inspect starts worker processes, and output far larger
#: than a pipe's 64 KB in every format.
COUNT = 700
HEAD = shutil.which("head")
LONG = "an-image-with-a-long-name-" * 8


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("many")
    # long names: every format's output (a dry run's one line per image too) is several times
    # a pipe's buffer, so the command is surely still writing when head exits
    first = folder / f"0000-{LONG}.png"
    Image.new("RGB", (300, 240), "teal").save(first)
    for index in range(1, COUNT):
        shutil.copyfile(first, folder / f"{index:04}-{LONG}.png")
    return folder


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "VISION_CLI_"))}
    # With PYTHONUNBUFFERED, Python's text layer drops the rest of a short write to a pipe
    # without an error: a user's interpreter buffers, and so does the child here.
    env.pop("PYTHONUNBUFFERED", None)
    return {**env, "NO_COLOR": "1", **extra}


#: Lines ``head`` takes from ``inspect -j 2`` before it leaves: more than the main process checks
#: itself before it starts the workers (two, see POOLED_CLI), so that the pipe closes while they
#: run. With one line, the main process met the closed pipe before any worker was started.
PAST_THE_MAIN = 5


def through_head(
    args: Sequence[str | Path], env: dict[str, str], lines: int | None = None
) -> tuple[int, str, str]:
    """Run ``vision-cli ARGS | head -LINES``: the command's status, what head printed, the
    command's standard error. LINES is 1, or :data:`PAST_THE_MAIN` for ``inspect -j``."""
    assert HEAD is not None, "head is missing"
    # inspect with -j 2 starts its workers at once (their inputs would be checked here else)
    pooled = args[0] == "inspect" and "-j" in args
    if lines is None:
        lines = PAST_THE_MAIN if pooled else 1
    producer = subprocess.Popen(
        [*(POOLED_CLI if pooled else [sys.executable, "-m", "vision_cli"]), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    head = subprocess.Popen([HEAD, f"-{lines}"], stdin=producer.stdout, stdout=subprocess.PIPE)
    assert producer.stdout is not None and producer.stderr is not None
    producer.stdout.close()  # only head holds the read end now
    first, _ = head.communicate(timeout=300)
    error = producer.stderr.read()
    producer.wait(timeout=300)
    return producer.returncode, first.decode(), error.decode()


CASES = [
    ("inspect", "-f", "table"),
    ("inspect", "-f", "jsonl", "-j", "2"),  # worker processes
    ("inspect", "-f", "json", "-j", "2"),
    ("inspect", "-f", "csv"),
    ("inspect", "-f", "html"),
    ("estimate",),
    ("estimate", "-f", "csv"),
    ("estimate", "--all-models"),
    ("resize", "--dry-run", "--out", "unused"),
    ("resize", "--dry-run", "--out", "unused", "-f", "jsonl"),
    ("ask", "--each", "--dry-run", "-o", "unused.jsonl"),
]


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_a_closed_pipe_stops_quietly_with_141(
    corpus: Path, args: tuple[str, ...], tmp_path: Path
) -> None:
    command, *options = args
    status, first, error = through_head([command, corpus, *options], child_env())
    assert first  # head got its line
    assert "Error" not in error and "Broken pipe" not in error and "Traceback" not in error, error
    assert status == ExitStatus.CLOSED_PIPE


def test_ask_each_streaming_results_stops_quietly(
    corpus: Path, fake_api: FakeClaudeAPI, tmp_path: Path
) -> None:
    env = child_env(
        ANTHROPIC_API_KEY="sk-ant-test",
        ANTHROPIC_BASE_URL=fake_api.base_url,
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    args: list[str | Path] = ["ask", corpus, "--each", "-o", "-", "--quiet"]
    args += ["-m", "claude-opus-4-7", "-j", "4"]
    status, first, error = through_head(args, env)
    assert first.startswith('{"path"')
    assert error == "" and status == ExitStatus.CLOSED_PIPE
    assert len(fake_api.requests) < COUNT  # it stopped: not every image was asked


@pytest.mark.parametrize(
    ("fmt", "lines", "keep"),
    [("jsonl", 1, False), ("csv", 2, False), ("jsonl", 1, True)],
    ids=["jsonl", "csv", "jsonl -o"],
)
def test_locate_shows_each_image_as_it_is_answered_and_stops_with_its_reader(
    fake_api: FakeClaudeAPI, tmp_path: Path, fmt: str, lines: int, keep: bool
) -> None:
    """``locate ... | head -1`` stops the run after the first image's row, not after paying for
    every image (the answers are slowed, so the run is still asking when head leaves)."""
    folder = tmp_path / "many"
    folder.mkdir()
    images = 40
    for index in range(images):
        Image.new("RGB", (60, 40), (index * 6, 90, 90)).save(folder / f"{index:02}.png")
    fake_api.structured = lambda _schema, _images: {
        "objects": [{"label": "cat", "box": [1, 2, 30, 20]}]
    }
    fake_api.delay = 0.2
    env = child_env(
        ANTHROPIC_API_KEY="sk-ant-test",
        ANTHROPIC_BASE_URL=fake_api.base_url,
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    args: list[str | Path] = ["locate", folder, "-p", "cat", "-f", fmt, "-j", "4", "-q"]
    if keep:
        args += ["-o", tmp_path / "boxes.jsonl"]
    status, first, error = through_head(args, env, lines=lines)
    assert "cat" in first.splitlines()[-1]  # an image's row, not only CSV's header
    assert error == "" and status == ExitStatus.CLOSED_PIPE
    assert len(fake_api.messages_requests()) < images // 2  # far fewer than every image


def test_an_unbuffered_report_into_a_closed_pipe_is_141(corpus: Path) -> None:
    """With PYTHONUNBUFFERED (CI images set it), Python's standard output drops the rest of a
    short write without an error: the HTML report, written whole at the end, must still find
    the pipe closed (141), not end with 0 as if all of it had been read."""
    args: list[str | Path] = ["inspect", corpus, "-f", "html"]
    status, first, error = through_head(args, child_env(PYTHONUNBUFFERED="1"))
    assert first.startswith("<!doctype html>")
    assert error == "" and status == ExitStatus.CLOSED_PIPE


def test_the_buffer_under_unbuffered_stdout_leaves_it_open_when_it_goes() -> None:
    """With PYTHONUNBUFFERED the guard puts a buffer under standard output. That buffer took
    the stream's own file object over descriptor 1 and closed it when it went (at exit, or a
    guard dropped by a program that runs the app in its own process): standard output, as the
    interpreter made it, failed with "I/O operation on closed file" from then on."""
    script = (
        "import gc, os, sys\n"
        "from vision_cli.cli.common import StdoutGuard\n"
        "guard = StdoutGuard(sys.stdout)\n"
        "guard.write('guarded\\n')\n"
        "del guard\n"
        "gc.collect()\n"
        "print('printed after')\n"
        "os.write(1, b'written to 1 after\\n')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        env=child_env(PYTHONUNBUFFERED="1"),
        timeout=60,
    )
    assert done.stderr == b""
    assert done.stdout == b"guarded\nprinted after\nwritten to 1 after\n"


#: The file-size limit of the test below: a write past it is cut short, then fails (EFBIG),
#: as a write into a disk that fills up is (ENOSPC).
FILE_LIMIT = 4096


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))


@pytest.mark.parametrize("fmt", ["html", "markdown"])
def test_an_unbuffered_report_cut_short_fails(fmt: str, tmp_path: Path) -> None:
    """``-f html|markdown > report`` with PYTHONUNBUFFERED, where the file cannot grow past
    4 KB: the report is cut there, so the run says so and fails, not exit 0 with half a
    report."""
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(40):  # not images: 40 findings, in both reports' rows
        (folder / f"{index:02}-{LONG}.png").write_text("not an image")
    report = tmp_path / f"report.{fmt}"
    with report.open("w") as out:
        done = subprocess.run(
            [sys.executable, "-m", "vision_cli", "inspect", str(folder), "-f", fmt],
            stdout=out,
            stderr=subprocess.PIPE,
            env=child_env(PYTHONUNBUFFERED="1"),
            text=True,
            timeout=120,
            preexec_fn=_limit_file_size,
        )
    assert report.stat().st_size == FILE_LIMIT  # cut short
    assert done.returncode == ExitStatus.FAILED, done.stderr
    assert done.stderr.splitlines()[-1].startswith(
        "Error: cannot write standard output (File too large)"
    ), done.stderr


def _processes_with(marker: bytes) -> list[int]:
    """The live processes whose environment holds ``marker`` (a run's processes and whatever
    they forked, wherever they were reparented; no other test's)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:  # gone meanwhile, or not ours
                continue
    return found


def test_worker_processes_end_with_the_run(corpus: Path) -> None:
    """No worker outlives a run cut short: once the command has exited, no process it started is
    left (found by a mark in their environment, so a worker reparented to init counts, and
    another test's processes do not)."""
    mark = f"VISION_CLI_TEST_RUN={os.getpid()}-{time.monotonic_ns()}"
    args: list[str | Path] = ["inspect", corpus, "-f", "jsonl", "-j", "2"]
    status, _, error = through_head(args, child_env(VISION_CLI_TEST_RUN=mark.split("=")[1]))
    assert status == ExitStatus.CLOSED_PIPE and error == ""
    assert _processes_with(mark.encode()) == []


def test_a_finished_run_keeps_its_status(corpus: Path) -> None:
    """When the reader takes everything, the status is the run's own (here: all images ok)."""
    one = corpus / f"0001-{LONG}.png"
    status, text, _ = through_head(["inspect", one], child_env(), lines=1000)
    assert text.startswith("✓ ok") and "1 image" in text and status == ExitStatus.OK


def _into_full(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    with open("/dev/full", "w") as full:  # Linux's always-full device
        return subprocess.run(
            [sys.executable, "-m", "vision_cli", *command],
            stdout=full,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            timeout=120,
        )


@pytest.mark.parametrize(
    "args",
    [("ask",), ("ask", "-q"), ("compare", "-q")],
    ids=" ".join,
)
def test_an_answer_streamed_into_a_full_disk_is_not_an_api_failure(
    args: tuple[str, ...], tmp_path: Path, fake_api: FakeClaudeAPI
) -> None:
    """A streamed answer that standard output cannot take: the one line about standard output
    and status 1, not "StdoutFailed" reported as the API's failure with status 3."""
    images = [tmp_path / "a.png", tmp_path / "b.png"]
    for image, colour in zip(images, ("teal", "navy"), strict=True):
        Image.new("RGB", (300, 240), colour).save(image)
    env = child_env(ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=fake_api.base_url)
    done = _into_full([*args, *map(str, images)], env)
    assert done.returncode == ExitStatus.FAILED, done.stderr
    assert done.stderr.splitlines()[-1].startswith(
        "Error: cannot write standard output (No space left on device)"
    ), done.stderr


def test_each_into_a_full_disk_stops_at_once(tmp_path: Path, fake_api: FakeClaudeAPI) -> None:
    """``--each -o -`` into a full disk: the first answer that cannot be saved stops the run
    (its docs promise so), not 30 answers paid for and written into nothing."""
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(30):
        Image.new("RGB", (300, 240), (index * 8, 90, 90)).save(folder / f"{index:02}.png")
    env = child_env(
        ANTHROPIC_API_KEY="sk-ant-test",
        ANTHROPIC_BASE_URL=fake_api.base_url,
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    done = _into_full(["ask", str(folder), "--each", "-j", "1", "-o", "-"], env)
    assert done.returncode == ExitStatus.FAILED, done.stderr
    said = " ".join(done.stderr.split())
    assert "cannot write standard output (No space left on device): the run stopped" in said
    assert "no results file keeps the answers (--output -): give --output FILE" in said
    assert "run the same command again" not in said  # nothing to resume from
    assert len(fake_api.messages_requests()) <= 2  # the first, and one already under way


@pytest.mark.parametrize(
    "args",
    [
        ("inspect",),
        ("inspect", "-f", "jsonl", "-j", "2"),
        ("estimate",),
        ("resize", "--out", "OUT"),
        ("ask", "--dry-run"),
        ("ask", "--each", "--dry-run", "-o", "OUT.jsonl"),
        ("--help",),
    ],
    ids=" ".join,
)
def test_a_full_standard_output_is_one_line_and_status_1(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    """``> /dev/full`` (a full disk behind a redirect): one line naming standard output, exit 1;
    not "internal error" (70), not a traceback, not a message about some other file."""
    image = tmp_path / "a.png"
    Image.new("RGB", (300, 240), "teal").save(image)
    command = [a.replace("OUT", str(tmp_path / "out")) for a in args]
    inputs = [] if command == ["--help"] else [str(image), str(image)]
    done = _into_full([*command, *inputs], child_env())
    assert done.returncode == ExitStatus.FAILED, done.stderr
    assert done.stderr.splitlines()[-1] == (
        "Error: cannot write standard output (No space left on device): free some space where "
        "it goes, or redirect it elsewhere."
    )
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr


def _conversation_turns(chat: Path) -> list[str]:
    return [turn["role"] for turn in json.loads(chat.read_text())["messages"]]


@pytest.mark.parametrize("args", [(), ("-q",)], ids=["ask", "ask -q"])
def test_an_answer_streamed_into_a_full_disk_is_still_saved(
    args: tuple[str, ...], tmp_path: Path, fake_api: FakeClaudeAPI
) -> None:
    """The turn was paid for, but the failure of standard output left the conversation as it
    was (with --json it was saved): asking again would pay twice. It is saved first now."""
    image = tmp_path / "a.png"
    Image.new("RGB", (300, 240), "teal").save(image)
    chat = tmp_path / "chat.json"
    env = child_env(ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=fake_api.base_url)
    done = _into_full(["ask", str(image), "--conversation", str(chat), *args], env)
    assert done.returncode == ExitStatus.FAILED, done.stderr
    assert done.stderr.splitlines()[-1].startswith(
        "Error: cannot write standard output (No space left on device)"
    ), done.stderr
    assert len(fake_api.messages_requests()) == 1
    assert _conversation_turns(chat) == ["user", "assistant"]


def test_an_answer_streamed_into_a_closed_pipe_is_still_saved(
    tmp_path: Path, fake_api: FakeClaudeAPI
) -> None:
    """A closed pipe ends the run at once with 141, which skipped the save of the turn just
    paid for. It is saved first now, and the run still ends quietly with 141."""
    image = tmp_path / "a.png"
    Image.new("RGB", (300, 240), "teal").save(image)
    chat = tmp_path / "chat.json"
    env = child_env(ANTHROPIC_API_KEY="sk-ant-test", ANTHROPIC_BASE_URL=fake_api.base_url)
    producer = subprocess.Popen(
        [sys.executable, "-m", "vision_cli", "ask", str(image), "--conversation", str(chat)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert producer.stdout is not None
    producer.stdout.close()  # no reader at all: the first write of the answer finds it closed
    _, error = producer.communicate(timeout=300)
    assert producer.returncode == ExitStatus.CLOSED_PIPE, error.decode()
    assert "Error" not in error.decode() and "Traceback" not in error.decode()
    assert len(fake_api.messages_requests()) == 1
    assert _conversation_turns(chat) == ["user", "assistant"]
