"""Keep the README's command reference equal to the real ``--help`` output.

    python scripts/make_readme.py          # rewrite the blocks in README.md
    python scripts/make_readme.py --check  # exit 1 if README.md is stale (CI and tests)

Each block sits between ``<!-- BEGIN help: NAME -->`` and ``<!-- END help: NAME -->`` markers,
where NAME is a command, or ``vision-cli`` for the top-level help.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from _script import parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(
    r"(<!-- BEGIN help: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- END help: (?P=name) -->)", re.S
)
WIDTH = "100"


def help_text(name: str) -> str:
    args = ["--help"] if name == "vision-cli" else [name, "--help"]
    env = {
        **os.environ,
        "TERMINAL_WIDTH": WIDTH,
        "COLUMNS": WIDTH,
        "NO_COLOR": "1",
        "_TYPER_FORCE_DISABLE_TERMINAL": "1",
    }
    env.pop("FORCE_COLOR", None)
    env.pop("GITHUB_ACTIONS", None)
    out = subprocess.run(
        [sys.executable, "-m", "vision_cli", *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
    ).stdout
    lines = [line.rstrip() for line in out.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def render(text: str) -> str:
    def block(match: re.Match[str]) -> str:
        command = "" if match["name"] == "vision-cli" else match["name"] + " "
        body = f"```text\n$ vision-cli {command}--help\n"
        body += help_text(match["name"]) + "\n```\n"
        return match.group(1) + body + match.group(4)

    return BLOCK.sub(block, text)


def main() -> None:
    args = parser(__doc__)
    args.add_argument(
        "--check", action="store_true", help="exit 1 if README.md is stale, without writing it"
    )
    check = args.parse_args().check
    current = README.read_text()
    fresh = render(current)
    if check:
        if fresh != current:
            sys.exit("README.md's command reference is stale: run python scripts/make_readme.py")
        return
    README.write_text(fresh)


if __name__ == "__main__":
    main()
