"""Throughput of ``vision-cli ask --each`` against a fake API that answers after a fixed delay.

The local fake Claude API (``tests/fakeapi.py``, a real HTTP server on 127.0.0.1) holds every
request for ``--delay`` seconds before answering. With ``-j J`` requests in flight, the ideal is
``J / delay`` images per second; the ratio to it says how much the run loses to preflight, the
SDK, the results file (a write and an fsync per line) and scheduling.

Two figures per run: the sending phase (first request in to last answer out, seen by the fake)
and the whole command (a fresh process: start-up, reading and hashing every image included).

    python benchmarks/each_bench.py [--images 96] [--delay 0.2] [--jobs 1,4,16]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import load, vision_cli  # noqa: E402
from PIL import Image  # noqa: E402

from tests.fakeapi import FakeClaudeAPI  # noqa: E402


@dataclass(frozen=True)
class Result:
    jobs: int
    sending: float  # seconds from the first request received to the last answer sent
    command: float  # seconds of the whole process

    def rate(self, images: int) -> float:
        return images / self.sending


class Clock:
    """When the fake received its first request and finished its last answer."""

    def __init__(self, fake: FakeClaudeAPI) -> None:
        self.first: float | None = None
        self.last = 0.0
        self._lock = threading.Lock()
        handle = fake.handle

        def timed(request: Any) -> Any:
            with self._lock:
                if self.first is None:
                    self.first = time.perf_counter()
            reply = handle(request)
            with self._lock:
                self.last = time.perf_counter()
            return reply

        fake.handle = timed  # type: ignore[method-assign]

    def reset(self) -> None:
        with self._lock:
            self.first, self.last = None, 0.0

    def span(self) -> float:
        assert self.first is not None, "no request reached the fake"
        return self.last - self.first


def make_images(folder: Path, count: int) -> None:
    """``count`` small PNGs, each of its own size (one tile: the preflight is cheap)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("RGB", (64 + i % 32, 48 + i // 32), (i % 256, 80, 160)).save(folder / f"{i}.png")


def run_once(fake: FakeClaudeAPI, clock: Clock, folder: Path, jobs: int, scratch: Path) -> Result:
    out = scratch / f"results-j{jobs}.jsonl"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "VISION_CLI_"))},
        "ANTHROPIC_API_KEY": "sk-bench-not-a-real-key",
        "ANTHROPIC_BASE_URL": fake.base_url,
        "XDG_CACHE_HOME": str(scratch / "cache"),
        "NO_COLOR": "1",
    }
    cmd = [vision_cli(), "ask", str(folder), "--each", "-j", str(jobs), "-o", str(out), "-q"]
    clock.reset()
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    command = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"vision-cli failed ({proc.returncode}): {proc.stderr}")
    answered = out.read_bytes().count(b"\n")
    expected = len(list(folder.iterdir()))
    if answered != expected:
        sys.exit(f"-j {jobs}: {answered} lines for {expected} images")
    return Result(jobs, clock.span(), command)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--delay", type=float, default=0.2, help="seconds per answer")
    parser.add_argument("--jobs", default="1,4,16", help="comma-separated -j values")
    args = parser.parse_args()
    jobs = [int(j) for j in args.jobs.split(",")]
    with tempfile.TemporaryDirectory(prefix="each-bench-") as tmp, FakeClaudeAPI() as fake:
        scratch = Path(tmp)
        folder = scratch / "images"
        make_images(folder, args.images)
        fake.delay = args.delay
        clock = Clock(fake)
        print(
            f"vision-cli ask --each: {args.images} images, the fake API answers after "
            f"{args.delay:g} s; python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
            f"load {load()}"
        )
        print(f"{'-j':>4} {'images/s':>9} {'ideal':>7} {'ratio':>6} {'command s':>10} {'img/s':>7}")
        for j in jobs:
            r = run_once(fake, clock, folder, j, scratch)
            ideal = j / args.delay
            rate = r.rate(args.images)
            print(
                f"{j:>4} {rate:>9.1f} {ideal:>7.1f} {rate / ideal:>6.2f} "
                f"{r.command:>10.2f} {args.images / r.command:>7.1f}"
            )
        print(f"load after: {load()}")
        print(
            "images/s and ratio: the sending phase (first request to last answer) against the "
            "ideal jobs/delay; command s and img/s: the whole process, start-up included."
        )


if __name__ == "__main__":
    main()
