"""Shared fixtures: images made with Pillow, a clean environment, and the CLI runner."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from PIL import Image
from typer.testing import CliRunner, Result

from tests.fakeapi import FakeClaudeAPI, fake_api, openapi_validator
from vision_cli.cli.app import app_for

#: Hypothesis's per-example deadline is a timing assertion, which a loaded machine fails at
#: random (a 0.06 ms example took 268 ms once): off for every property test in the suite.
settings.register_profile("vision-cli", deadline=None)
settings.load_profile("vision-cli")

#: A suite started in the background (``&``, ``nohup``, some CI runners) inherits SIGINT ignored,
#: and every process it starts would too: Python installs no KeyboardInterrupt for a SIGINT
#: ignored at start, so the Ctrl-C tests would see nothing arrive. Ctrl-C behaves as in a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

__all__ = ["fake_api", "openapi_validator"]  # the fake API's fixtures, for every test module
pytest_plugins = ["tests.strict_skips", "pytester"]

#: A recognisable secret: tests assert that it never appears in any output.
API_KEY = "sk-ant-api03-SECRET-test-key-do-not-print-0123456789"

ORIENTATION = 0x0112

#: The console script with ``inspect``'s worker pool started at its first decision, after one
#: timed check (``inspecting.POOL_FROM_SECONDS`` 0, no warm-up, a sample of one): for tests of
#: the workers over inputs so cheap to check that the main process would check them all itself,
#: and before the main process has written enough for a reader such as ``head`` to have left.
POOLED_CLI = [
    sys.executable,
    "-c",
    "from vision_cli import inspecting; inspecting.POOL_FROM_SECONDS = 0.0; "
    "inspecting._WARM_UP = 0; inspecting._SAMPLE = 1; "
    "from vision_cli.cli.launch import entrypoint; entrypoint()",
]


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one for each worker pool a run starts (``workers.context`` is
    counted), so a test can check whether it used one."""
    from vision_cli import workers

    started: list[int] = []
    context = workers.context

    def counted() -> Any:
        started.append(1)
        return context()

    monkeypatch.setattr(workers, "context", counted)
    return started


@pytest.fixture
def pooled(monkeypatch: pytest.MonkeyPatch, pools: list[int]) -> list[int]:
    """In-process runs start ``inspect``'s workers at the first decision (see POOLED_CLI);
    the pools started are counted (:func:`pools`)."""
    from vision_cli import inspecting

    monkeypatch.setattr(inspecting, "POOL_FROM_SECONDS", 0.0)
    return pools


MakeImage = Callable[..., Path]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's keys, models, caches or configuration."""
    import os

    for name in list(os.environ):
        if name.startswith(("ANTHROPIC_", "VISION_CLI_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "user-config"))
    monkeypatch.setenv("NO_COLOR", "1")


def picture(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A deterministic picture with structure (gradients and a marked corner)."""
    w, h = size
    grad = Image.linear_gradient("L").resize(size)
    im = Image.merge(
        "RGB", (grad, grad.transpose(Image.Transpose.FLIP_LEFT_RIGHT), grad.rotate(90))
    )
    corner = (max(1, w // 8), max(1, h // 8))
    im.paste((255, 0, 0), (0, 0, *corner))
    return im.convert(mode) if mode != "RGB" else im


def encode(im: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **params)
    return buf.getvalue()


@pytest.fixture
def make_image(tmp_path: Path) -> MakeImage:
    """``make_image("a.png", (w, h), fmt="PNG", mode="RGB", orientation=1, **save_params)``."""

    def make(
        name: str,
        size: tuple[int, int] = (640, 480),
        fmt: str | None = None,
        mode: str = "RGB",
        orientation: int = 1,
        folder: Path | None = None,
        **params: Any,
    ) -> Path:
        path = (folder or tmp_path) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = fmt or Image.registered_extensions()[path.suffix.lower()]
        if orientation != 1:
            exif = Image.Exif()
            exif[ORIENTATION] = orientation
            params["exif"] = exif.tobytes()
        path.write_bytes(encode(picture(size, mode), fmt, **params))
        return path

    return make


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


Run = Callable[..., Result]


@pytest.fixture
def run(runner: CliRunner) -> Run:
    """Run the CLI in-process: ``run("inspect", path, input=b"...")``; stdout and stderr apart."""

    def invoke(*args: str | Path, input: bytes | str | None = None) -> Result:
        argv = [str(a) for a in args]
        return runner.invoke(app_for(argv), argv, input=input)  # as the console script does

    return invoke


def records(result: Result) -> list[dict[str, Any]]:
    """The JSONL records a run printed."""
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture
def chdir_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.fixture
def nothing_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    """No file is renamed, linked or chmod-ed: what writing into a device, a FIFO or an open
    descriptor must never do. A run that tries fails here, before ``os.devnull`` (or, as root,
    ``/dev/stdout``) is replaced by a regular file."""

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a file was renamed, linked or chmod-ed: {args}")

    for name in ("replace", "rename", "link", "chmod", "fchmod"):
        monkeypatch.setattr(os, name, refused)


@contextlib.contextmanager
def fifo_reader(path: Path) -> Iterator[list[bytes]]:
    """A FIFO made at ``path`` and a thread reading it to the end (``cat FIFO > got &``): the
    list holds what it read once the block is over (b"" if nothing ever wrote to the FIFO)."""
    os.mkfifo(path, 0o640)
    got: list[bytes] = []

    def read() -> None:
        with open(path, "rb") as fh:
            got.append(fh.read())

    # A reader of our own keeps the pipe, and lets the thread go (through /proc) even when the
    # FIFO was replaced and nothing will ever open it for writing.
    spare = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        yield got
    finally:
        deadline = time.monotonic() + 30
        while thread.is_alive() and time.monotonic() < deadline:
            os.close(os.open(f"/proc/self/fd/{spare}", os.O_WRONLY | os.O_NONBLOCK))
            thread.join(0.05)
        os.close(spare)
    assert not thread.is_alive(), "the FIFO's reader never saw the end of the data"


@contextlib.contextmanager
def fifo_giving(path: Path, data: bytes) -> Iterator[None]:
    """A FIFO made at ``path`` that gives ``data`` once, to its first reader (``cat img >
    FIFO &``); a later reader gets nothing (an empty read) at once, so code that opens it
    again reads an empty file instead of hanging."""
    os.mkfifo(path, 0o640)
    stop = threading.Event()

    def give() -> None:
        with contextlib.suppress(BrokenPipeError), open(path, "wb") as fh:  # the first reader
            fh.write(data)  # (BrokenPipeError: none came, and the end below let it go)
        _release_readers(path, stop)

    thread = threading.Thread(target=give, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(OSError):  # no reader came: let the writer's open return
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
        thread.join(timeout=30)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch, fake_api: FakeClaudeAPI) -> FakeClaudeAPI:
    """The fake API, with ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL pointing the CLI at it."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.base_url)
    return fake_api


#: Runs ``python -m vision_cli ARGS`` and, at exit, writes every module in ``sys.modules`` to
#: the file named by its first argument: whatever imported them (``import``, ``importlib``, a
#: background thread), which ``-X importtime`` would not all show.
_MODULES_AT_EXIT = """
import atexit, runpy, sys
out = sys.argv.pop(1)
def write():
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("\\n".join(sorted(sys.modules)))
atexit.register(write)
sys.argv[0] = "vision-cli"
runpy.run_module("vision_cli", run_name="__main__", alter_sys=True)
"""


def imported_by(*args: str | Path, timeout: float = 120) -> set[str]:
    """The modules a fresh ``python -m vision_cli ARGS`` has imported when it exits (its
    ``sys.modules``); the run must succeed."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "modules.txt"
        proc = subprocess.run(
            [sys.executable, "-c", _MODULES_AT_EXIT, str(out), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert proc.returncode == 0, proc.stderr
        return set(out.read_text(encoding="utf-8").split())


@pytest.fixture
def batch_api(monkeypatch: pytest.MonkeyPatch, api: FakeClaudeAPI) -> FakeClaudeAPI:
    """The fake API, with ``ask --batch`` polling it without waiting."""
    from vision_cli.bulk import batch

    monkeypatch.setattr(batch, "POLL_FIRST", 0.0)
    monkeypatch.setattr(batch, "POLL_MAX", 0.0)
    return api


def _release_readers(fifo: Path, stop: threading.Event) -> None:
    """Let go at once any reader of ``fifo`` (an empty read), so a test of code that opens it
    fails instead of hanging; with no reader, the open without blocking fails (ENXIO)."""
    while not stop.wait(0.02):
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
        os.close(fd)


@pytest.fixture(params=["dev-zero", "fifo", "folder"])
def not_a_file(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A name that exists and is not a regular file, where vision-cli expects one it reads back
    (a results file, a conversation): a device whose reads never end, a FIFO with no writer
    (whose open for reading never returns: it must be refused before it is opened) and a
    folder. A test that opens the FIFO anyway sees it empty instead of hanging."""
    if request.param == "dev-zero":
        yield Path("/dev/zero")
    elif request.param == "folder":
        folder = tmp_path / "a-folder"
        folder.mkdir()
        yield folder
    else:
        fifo = tmp_path / "a-fifo"
        os.mkfifo(fifo)
        stop = threading.Event()
        thread = threading.Thread(target=_release_readers, args=(fifo, stop), daemon=True)
        thread.start()
        yield fifo
        stop.set()
        thread.join(timeout=5)


def wait_for(predicate: Any, proc: subprocess.Popen[bytes]) -> None:
    """Poll until ``predicate()`` holds (the run is under way), or fail if the run ended first."""
    deadline = time.monotonic() + 120
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"the run ended ({proc.returncode}) before it could be stopped")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the run made no progress")
        time.sleep(0.01)


def once_ended(proc: subprocess.Popen[bytes], hung: str) -> tuple[bytes, bytes]:
    """The standard output and error of a run that must end by itself, once it has; ``hung``
    fails the test when it has not within a minute (it is then killed, with its workers: it
    must have been started with ``start_new_session``)."""
    try:
        return proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(hung)


def stderr_once_ended(proc: subprocess.Popen[bytes], hung: str) -> bytes:
    """The standard error of a run signalled to stop, once it has ended (:func:`once_ended`)."""
    return once_ended(proc, hung)[1]


def worker_writing(pid: int) -> int | None:
    """The child of ``pid`` blocked writing into a pipe (a worker sending a result), if any."""
    try:
        children = workers_of(pid)
    except OSError:
        return None
    for child in children:
        try:
            wchan = Path(f"/proc/{child}/wchan").read_text()
        except OSError:
            continue
        if "pipe" in wchan and "write" in wchan:
            return child
    return None


def with_a_worker_sending(proc: subprocess.Popen[bytes], act: Callable[[int], object]) -> None:
    """Stop ``proc``'s main process (it reads no result now, so a worker's next result fills the
    pipe), wait for a worker blocked sending one, call ``act`` with its pid, and let the main
    process go on: a worker ended halfway through sending a result."""
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: worker_writing(proc.pid), proc)
        writer = worker_writing(proc.pid)  # blocked, and stays so while the run is stopped
        assert writer is not None
        act(writer)
    finally:
        os.kill(proc.pid, signal.SIGCONT)


def workers_of(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def sparse_file(path: Path, size: int) -> Path:
    """A regular file of ``size`` bytes that takes no room on disk (zeros, a hole)."""
    with path.open("wb") as fh:
        fh.truncate(size)
    return path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what a test recorded as its ``summary`` property (the Pillow corpus's counts) at the
    end of every run, passed or failed: pytest captures a test's own output, and pytest-xdist
    hands the controller only the reports, which carry these properties."""
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for key, value in getattr(report, "user_properties", ()):
                if key == "summary":
                    terminalreporter.write_line(f"{report.nodeid}: {value}")
