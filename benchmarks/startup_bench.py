"""Start-up: ``vision-cli --help`` and ``vision-cli inspect one.png`` against a bare typer app.

The anchor is a typer app with five commands and nothing else, run by the same Python and the same
typer, so both pay the interpreter's and typer's own start-up. Its ``inspect`` takes the same
kinds of parameters as vision-cli's (a list argument, optional text with an environment variable,
a choice, flags, a bounded number, a path, a repeatable option) and does nothing with them. With
typer 0.29, converting a value builds a pydantic validator for its parameter (and imports
pydantic, the anchor too): the script says how much that costs in both processes.

Targets (issue 16): ``inspect one.png`` at most 1.15x the bare app's ``inspect``, ``--help`` at
most 1.1x the bare app's ``--help``. Runs alternate (bare, ours, bare, ...); medians. Wall time is
noise on a busy machine, so each line also gives the CPU time (user + system) of the process and
the total of ``python -X importtime``'s self times, which move far less with the load.
``--before DIR`` adds another copy of the package (a directory holding ``vision_cli/``, e.g.
``git archive main vision_cli | tar -x -C DIR``) to the same alternation, for a before/after.

    python benchmarks/startup_bench.py [--runs 21] [--before DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import compile_package, load, verdict

BARE_APP = '''
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer()


class Fmt(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"


@app.command()
def inspect(
    inputs: Annotated[list[str] | None, typer.Argument()] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", envvar="BARE_MODEL")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", "-f", case_sensitive=False)] = Fmt.table,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1)] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", dir_okay=False)] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude")] = None,
) -> None:
    """Inspect."""


@app.command()
def resize(paths: list[str]) -> None:
    """Resize."""


@app.command()
def estimate(paths: list[str]) -> None:
    """Estimate."""


@app.command()
def ask(paths: list[str]) -> None:
    """Ask."""


@app.command()
def compare(paths: list[str]) -> None:
    """Compare."""


app()
'''

#: Run in-process before a command: how long typer spends building its value converters (the
#: pydantic import and one TypeAdapter per parameter under typer 0.29; nothing before it).
CONVERTER_COST = """
import runpy, sys, time
try:
    import typer._coercion as c, typer.core as core
except ImportError:
    c = core = None
spent = [0.0]
if c is not None and hasattr(core, "build_runtime_param"):
    build = c.build_runtime_param
    def timed(d):
        t = time.perf_counter()
        try:
            return build(d)
        finally:
            spent[0] += time.perf_counter() - t
    core.build_runtime_param = timed
sys.argv = sys.argv[1:]
try:
    if sys.argv[0] == "-m":
        sys.argv = sys.argv[1:]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit:
    pass
print(f"{spent[0] * 1000:.1f}", "pydantic" in sys.modules, file=sys.stderr)
"""


def converter_cost(cmd: list[str], runs: int = 5) -> tuple[float, bool]:
    """Median milliseconds typer spends building converters in ``cmd``, and whether it imported
    pydantic."""
    costs: list[float] = []
    pydantic = False
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-c", CONVERTER_COST, *cmd], capture_output=True, text=True
        )
        ms, imported = proc.stderr.strip().splitlines()[-1].split()
        costs.append(float(ms))
        pydantic = imported == "True"
    return sorted(costs)[len(costs) // 2], pydantic


class Runs:
    """Wall and CPU seconds of each run of one command, and its ``-X importtime`` totals."""

    def __init__(self, label: str, cmd: Sequence[str], env: dict[str, str] | None = None):
        self.label, self.cmd, self.env = label, list(cmd), env
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.imports: list[float] = []

    def once(self) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(self.cmd, capture_output=True, env=self.env, check=False)
        self.wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode not in (0, 1):
            sys.exit(f"benchmark command failed ({proc.returncode}): {self.cmd}\n{proc.stderr!r}")

    def import_time(self) -> None:
        """One run under ``-X importtime``: the sum of every module's own time, in seconds."""
        cmd = [self.cmd[0], "-X", "importtime", *self.cmd[1:]]
        err = subprocess.run(cmd, capture_output=True, text=True, env=self.env).stderr
        rows = [line.split("|") for line in err.splitlines() if line.startswith("import time:")]
        self.imports.append(
            sum(int(r[0].split(":")[1]) for r in rows if r[1].strip().isdigit()) / 1e6
        )

    def line(self, anchor: Runs | None = None) -> str:
        wall, cpu = statistics.median(self.wall), statistics.median(self.cpu)
        imports = statistics.median(self.imports)
        text = f"{self.label:<36} wall {wall * 1000:5.0f} ms  cpu {cpu * 1000:5.0f} ms  "
        text += f"imports {imports * 1000:5.0f} ms"
        if anchor is not None:
            text += (
                f"  ({wall / statistics.median(anchor.wall):.2f}x, "
                f"{cpu / statistics.median(anchor.cpu):.2f}x, "
                f"{imports / statistics.median(anchor.imports):.2f}x)"
            )
        return text


def alternate(runs: int, *groups: Runs) -> None:
    """Run the commands in turn (a, b, c, a, b, c, ...) so each sees the same machine state."""
    for _ in range(runs):
        for group in groups:
            group.once()
    for _ in range(max(3, runs // 3)):
        for group in groups:
            group.import_time()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--before", type=Path, help="another copy of the package to time too")
    args = parser.parse_args()
    compile_package()
    image = Path(__file__).resolve().parents[1] / "examples" / "photo.jpg"
    print(f"Python {sys.version.split()[0]}, typer {version('typer')}; load before: {load()}")
    before_env = None
    if args.before is not None:
        import compileall

        compileall.compile_dir(args.before / "vision_cli", quiet=1)
        before_env = {**os.environ, "PYTHONPATH": str(args.before.resolve())}
    ours = [sys.executable, "-m", "vision_cli"]
    verdicts: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare_app.py"
        bare.write_text(BARE_APP)
        for what, argv in (("--help", ["--help"]), ("inspect one", ["inspect", str(image)])):
            groups = [
                Runs(f"bare typer app {what} (anchor)", [sys.executable, str(bare), *argv]),
                Runs(f"vision-cli {what}", [*ours, *argv]),
            ]
            if before_env is not None:
                groups.append(
                    Runs(f"vision-cli {what} ({args.before.name})", [*ours, *argv], before_env)
                )
            alternate(args.runs, *groups)
            print(groups[0].line())
            for group in groups[1:]:
                print(group.line(groups[0]))
            ratio = statistics.median(groups[1].wall) / statistics.median(groups[0].wall)
            limit = 1.1 if what == "--help" else 1.15
            name = "start-up --help" if what == "--help" else "start-up inspect one.png"
            verdicts.append((name, ratio, limit))
        bare_conv, bare_pyd = converter_cost([str(bare), "inspect", str(image)])
        ours_conv, ours_pyd = converter_cost(["-m", "vision_cli", "inspect", str(image)])
    print(
        f"typer building value converters: bare app {bare_conv:.0f} ms, vision-cli "
        f"{ours_conv:.0f} ms (pydantic imported: {bare_pyd}, {ours_pyd})"
    )
    print(f"load after: {load()} (wall times only compare on an otherwise idle machine)")
    for name, ratio, limit in verdicts:
        verdict(name, ratio, limit)


if __name__ == "__main__":
    main()
