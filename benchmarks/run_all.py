"""Every speed target in one run: the figures the README quotes come from here.

Runs the benchmark scripts one after another, on the same machine in the same session, and
collects each one's PASS/FAIL lines (every target is a ratio to an anchor measured in the same
script run) and the load averages each printed before and after:

    benchmarks/startup_bench.py    start-up against a bare typer app
    benchmarks/inspect_bench.py    inspect over 3,000 files against identify -ping and Pillow
    benchmarks/resize_bench.py     resize -j 2 against two vipsthumbnail processes
    benchmarks/ask_bench.py        ask's first request against `import anthropic`

It prints a Markdown table of the targets. With ``--readme`` it also writes that table into
README.md between ``<!-- BEGIN benchmarks -->`` and ``<!-- END benchmarks -->``, with the date, the
versions and the load, so the README never quotes a figure that this run did not produce. Run it
on an otherwise idle machine: wall-time ratios under load are noise, and the load is printed
beside each figure so a reader can tell.

    python benchmarks/run_all.py [--readme] [--quick]

``--quick`` runs fewer repetitions (for trying the script, not for figures to quote).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- BEGIN benchmarks -->\n).*?(<!-- END benchmarks -->)", re.S)
VERDICT = re.compile(r"^(PASS|FAIL) (.+?): ([0-9.]+)x \(limit ([0-9.]+)x\)", re.M)
LOAD = re.compile(r"load(?: average)? before: ([0-9., ]+?)(?:;|$)", re.M)
LOAD_AFTER = re.compile(r"load(?: average)? after: ([0-9., ]+?)(?: \(|;|$)", re.M)

#: (script, arguments for figures, arguments for --quick)
SCRIPTS: list[tuple[str, list[str], list[str]]] = [
    ("startup_bench.py", ["--runs", "21"], ["--runs", "3"]),
    ("inspect_bench.py", ["--runs", "5"], ["--runs", "1", "--rss-files", "0"]),
    (
        "resize_bench.py",
        ["--runs", "3", "--no-magick", "--no-breakdown"],
        ["--runs", "1", "--photos", "4", "--screenshots", "4", "--no-magick", "--no-breakdown"],
    ),
    ("ask_bench.py", ["--runs", "7"], ["--runs", "1"]),
]


@dataclass(frozen=True)
class Target:
    script: str
    name: str
    ratio: float
    limit: float
    passed: bool
    load: str


def run(script: str, args: list[str]) -> list[Target]:
    """Run one script; its verdict lines, each with the load the script printed."""
    print(f"$ python benchmarks/{script} {' '.join(args)}", flush=True)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    print(proc.stdout, end="", flush=True)
    if proc.returncode != 0:
        sys.exit(f"{script} failed ({proc.returncode}):\n{proc.stderr}")
    before = LOAD.search(proc.stdout)
    after = LOAD_AFTER.search(proc.stdout)
    load = " → ".join(m.group(1).split(",")[0].strip() for m in (before, after) if m)
    return [
        Target(script, m.group(2), float(m.group(3)), float(m.group(4)), m.group(1) == "PASS", load)
        for m in VERDICT.finditer(proc.stdout)
    ]


def table(targets: list[Target], when: str) -> str:
    versions = ", ".join(
        f"{name} {version(dist)}"
        for name, dist in (("Pillow", "Pillow"), ("typer", "typer"), ("anthropic", "anthropic"))
    )
    lines = [
        f"Measured {when} by `python benchmarks/run_all.py --readme` on {os.cpu_count()} CPUs "
        f"(Python {sys.version.split()[0]}, {versions}); each ratio is vision-cli's wall time "
        "over its anchor's in the same script run (below 1: vision-cli is faster). Load: the "
        "1-minute load average as the script started → ended.",
        "",
        "| target | ratio | limit | | load |",
        "|---|---|---|---|---|",
    ]
    for t in targets:
        mark = "met" if t.passed else "**not met**"
        lines.append(f"| {t.name} | {t.ratio:.2f}x | {t.limit:.2f}x | {mark} | {t.load} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    parser.add_argument("--quick", action="store_true", help="fewer runs (not for quoting)")
    args = parser.parse_args()
    if args.readme and args.quick:
        parser.error("--quick figures are not for the README")
    targets: list[Target] = []
    for script, full, quick in SCRIPTS:
        targets += run(script, quick if args.quick else full)
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    text = table(targets, when)
    print()
    print(text, end="")
    if args.readme:
        readme = README.read_text(encoding="utf-8")
        if not BLOCK.search(readme):
            sys.exit("README.md has no <!-- BEGIN benchmarks --> ... <!-- END benchmarks --> block")
        README.write_text(BLOCK.sub(lambda m: m.group(1) + text + m.group(2), readme), "utf-8")
        print("README.md updated.")


if __name__ == "__main__":
    main()
