"""Start-up: ``vision-cli --help`` and ``vision-cli inspect one.png`` against a bare typer app.

The anchor is a typer app with five commands and nothing else, run by the same Python and the same
typer, so both pay the interpreter's and typer's own start-up. Its ``inspect`` takes the same
kinds of parameters as vision-cli's (a list argument, optional text with an environment variable,
a choice, flags, a bounded number, a path, a repeatable option) and does nothing with them. With
typer 0.29, converting a value builds a pydantic validator for its parameter (and imports
pydantic, the anchor too): the script says how much that costs in both processes.

Targets (issue 16): ``inspect one.png`` at most 1.15x the bare app's ``inspect``, ``--help`` at
most 1.1x the bare app's ``--help``. Runs alternate (bare, ours, bare, ...); medians.

    python benchmarks/startup_bench.py [--runs 21]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import compile_package, load, paired, verdict

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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    compile_package()
    image = Path(__file__).resolve().parents[1] / "examples" / "photo.jpg"
    print(f"Python {sys.version.split()[0]}, typer {version('typer')}; load before: {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare_app.py"
        bare.write_text(BARE_APP)
        bare_help = [sys.executable, str(bare), "--help"]
        ours_help = [sys.executable, "-m", "vision_cli", "--help"]
        bare_inspect = [sys.executable, str(bare), "inspect", str(image)]
        ours_inspect = [sys.executable, "-m", "vision_cli", "inspect", str(image)]
        t_bare, t_help = paired(args.runs, bare_help, ours_help)
        t_bare2, t_inspect = paired(args.runs, bare_inspect, ours_inspect)
        bare_conv, bare_pyd = converter_cost([str(bare), "inspect", str(image)])
        ours_conv, ours_pyd = converter_cost(["-m", "vision_cli", "inspect", str(image)])
    print(f"bare typer app --help (anchor):      {t_bare * 1000:6.0f} ms")
    print(f"vision-cli --help:                   {t_help * 1000:6.0f} ms")
    print(f"bare typer app inspect one (anchor): {t_bare2 * 1000:6.0f} ms")
    print(f"vision-cli inspect one.png:          {t_inspect * 1000:6.0f} ms")
    print(
        f"typer building value converters: bare app {bare_conv:.0f} ms, vision-cli "
        f"{ours_conv:.0f} ms (pydantic imported: {bare_pyd}, {ours_pyd})"
    )
    print(f"load after: {load()} (wall times only compare on an otherwise idle machine)")
    verdict("start-up --help", t_help / t_bare, 1.1)
    verdict("start-up inspect one.png", t_inspect / t_bare2, 1.15)


if __name__ == "__main__":
    main()
