"""Start-up: ``vision-cli --help`` and ``vision-cli inspect one.png`` against a bare typer app.

The anchor is a typer app with five commands and nothing else, run by the same Python, so both
pay the interpreter's and typer's own start-up. Targets (issue 2): ``--help`` within 1.3x of the
bare app's ``--help``, and ``inspect one.png`` within 2x of it.

    python benchmarks/startup_bench.py [--runs 21]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import compile_package, paired

BARE_APP = '''
import typer

app = typer.Typer()


@app.command()
def inspect(paths: list[str]) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    compile_package()
    image = Path(__file__).resolve().parents[1] / "examples" / "photo.jpg"
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare_app.py"
        bare.write_text(BARE_APP)
        bare_help = [sys.executable, str(bare), "--help"]
        ours_help = [sys.executable, "-m", "vision_cli", "--help"]
        ours_inspect = [sys.executable, "-m", "vision_cli", "inspect", str(image)]
        t_bare, t_help = paired(args.runs, bare_help, ours_help)
        t_bare2, t_inspect = paired(args.runs, bare_help, ours_inspect)
    help_ratio, inspect_ratio = t_help / t_bare, t_inspect / t_bare2
    print(f"bare typer app --help (anchor):  {t_bare * 1000:6.0f} ms")
    print(f"vision-cli --help:               {t_help * 1000:6.0f} ms  {help_ratio:.2f}x (<= 1.3x)")
    print(
        f"vision-cli inspect one.png:      {t_inspect * 1000:6.0f} ms  {inspect_ratio:.2f}x (<= 2x)"
    )


if __name__ == "__main__":
    main()
