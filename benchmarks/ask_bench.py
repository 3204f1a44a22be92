"""``vision-cli ask``'s time to its request: the SDK import against the images' preparation.

Importing the ``anthropic`` SDK takes about a second; reading, checking and preparing a 12 MP
photo (decode at a reduced scale, resize, encode) takes a fraction of one. ``ask`` imports the SDK
in a background thread while it prepares the images, so its whole run should cost about the longer
of the two, not their sum. The local fake Claude API (``tests/fakeapi.py``, real HTTP on
127.0.0.1, driven by the real SDK) answers at once, so the run is start-up, preparation and one
request. Whole processes, start-up included, runs alternated, medians:

    python -c "import anthropic"                  (the anchor)
    vision-cli ask PHOTO -p ...                   (one 12 MP photo, and ten)
    vision-cli ask PHOTO -p ... --dry-run         (the same preparation without the SDK)

The photos are resize_bench.py's (4032x3024, phone-sized JPEGs), made once.

Target (issue 16): ``ask`` on one photo at most 1.15x the anchor.

    python benchmarks/ask_bench.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import load, verdict, vision_cli, wall  # noqa: E402
from _resize_corpus import GRAIN, make_corpus  # noqa: E402

from tests.fakeapi import FakeClaudeAPI  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    photos, _ = make_corpus(10, 0, GRAIN)
    exe = vision_cli()
    with tempfile.TemporaryDirectory(prefix="ask-bench-") as tmp, FakeClaudeAPI() as fake:
        os.environ.update(
            {
                "ANTHROPIC_API_KEY": "sk-bench-not-a-real-key",
                "ANTHROPIC_BASE_URL": fake.base_url,
                "XDG_CACHE_HOME": str(Path(tmp) / "cache"),
                "NO_COLOR": "1",
            }
        )
        ask = [exe, "ask", "-p", "What is in the picture?", "-q"]
        commands = {
            'python -c "import anthropic" (anchor)': [sys.executable, "-c", "import anthropic"],
            "vision-cli ask, 1 photo": [*ask, str(photos[0])],
            "vision-cli ask --dry-run, 1 photo": [*ask, "--dry-run", str(photos[0])],
            "vision-cli ask, 10 photos": [*ask, *map(str, photos)],
            "vision-cli ask --dry-run, 10 photos": [*ask, "--dry-run", *map(str, photos)],
        }
        print(f"load before: {load()}; {len(os.sched_getaffinity(0))} CPUs")
        times: dict[str, list[float]] = {label: [] for label in commands}
        for _ in range(args.runs):
            for label, cmd in commands.items():
                times[label].append(wall(cmd))
        sent = len(fake.requests)
    median = {label: statistics.median(t) for label, t in times.items()}
    anchor = median['python -c "import anthropic" (anchor)']
    for label, seconds in median.items():
        print(f"  {label:40} {seconds * 1000:6.0f} ms  {seconds / anchor:5.2f}x")
    for n in ("1 photo", "10 photos"):
        both = anchor + median[f"vision-cli ask --dry-run, {n}"]
        print(
            f"  {n}: import then prepare in sequence would be about {both * 1000:.0f} ms; "
            f"ask took {median[f'vision-cli ask, {n}'] * 1000:.0f} ms"
        )
    print(f"requests the fake API answered: {sent}; load after: {load()}")
    verdict(
        "ask, 1 photo, against import anthropic", median["vision-cli ask, 1 photo"] / anchor, 1.15
    )


if __name__ == "__main__":
    main()
