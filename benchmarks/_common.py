"""Shared helpers for the benchmark scripts: timing whole processes, medians, tool lookup.

Benchmarks compare vision-cli against a named anchor in the same run and print a ratio; they are
scripts, never tests, and their numbers belong in the README with the command that produced them.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent


def wall(cmd: Sequence[str], *, stdin: bytes | None = None, shell: bool = False) -> float:
    """Seconds one run of ``cmd`` takes, start-up included; fails loudly if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(
        " ".join(cmd) if shell else list(cmd),
        input=stdin,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        shell=shell,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # inspect exits 1 when it finds errors: that is a result
        sys.exit(f"benchmark command failed ({proc.returncode}): {cmd}\n{proc.stderr.decode()}")
    return elapsed


def median_of(runs: int, cmd: Sequence[str], **kw: bool) -> float:
    return statistics.median(wall(cmd, **kw) for _ in range(runs))  # type: ignore[arg-type]


def paired(
    runs: int, a: Sequence[str], b: Sequence[str], *, shell: bool = False
) -> tuple[float, float]:
    """Medians of ``a`` and ``b`` run alternately, so both see the same machine state."""
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(runs):
        ta.append(wall(a, shell=shell))
        tb.append(wall(b, shell=shell))
    return statistics.median(ta), statistics.median(tb)


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        sys.exit(f"{tool} is missing: install it (apt-get install -y {package}) and run again.")
    return path


def vision_cli() -> str:
    """The installed ``vision-cli``, with its package compiled to bytecode first (see
    :func:`compile_package`)."""
    exe = shutil.which("vision-cli")
    if exe is None:
        sys.exit("vision-cli is not installed: pip install -e . first.")
    compile_package()
    return exe


def compile_package() -> None:
    """Compile vision_cli's modules to bytecode, as ``pip install .`` does. An editable install
    run with ``PYTHONDONTWRITEBYTECODE=1`` (set on some CI machines) has none and would compile
    its ~25 modules on every run, about 40 ms that no installed copy pays."""
    import compileall

    import vision_cli

    compileall.compile_dir(Path(vision_cli.__file__).parent, quiet=1)


def load() -> str:
    """The machine's load averages (1, 5, 15 minutes), printed beside every figure: a wall-time
    ratio means little on a machine that other work keeps busy."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def verdict(name: str, ratio: float, limit: float, what: str = "") -> bool:
    """One line the lead can grep for: ``PASS``/``FAIL``, the target, the ratio and the limit."""
    ok = ratio <= limit
    print(f"{'PASS' if ok else 'FAIL'} {name}: {ratio:.2f}x (limit {limit:.2f}x){what}")
    return ok
