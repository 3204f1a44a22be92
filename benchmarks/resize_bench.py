"""Images per second and CPU per image: ``vision-cli resize`` against vipsthumbnail and ImageMagick.

Makes a corpus once, in benchmarks/.corpus-resize: photo-like 4032x3024 JPEGs (every fourth tagged
with EXIF orientation 6, as a phone held upright writes them) and screenshot-like PNGs with text
at 2560x1600 and at 2880x1800. Then, in one run, over the same files and to the same size (the
recommended policy: 1238x928 for the photos, 1356x848 and 1288x805 for the screenshots), JPEG
quality 85, metadata stripped, it times whole processes, start-up included:

    vision-cli resize -j 2 FOLDER --out OUT
    vipsthumbnail (libvips) run two at a time, each given half of the files (the issue's anchor)
    vipsthumbnail as one process over all the files, with its own threads (for reference)
    ImageMagick convert -auto-orient -resize WxH -strip, one process per file, two at a time

Runs are interleaved (ours, vips, ImageMagick, ours, ...) and the medians reported. After the
photos comes where vision-cli's time goes per photo: the decode at Pillow's 1/2 scale and at 3/8,
the LANCZOS pass after each, the encode, the CPU of the whole command with and without Pillow
keeping freed memory blocks (``PILLOW_BLOCKS_MAX=0``), and the command's start-up. CPU time is the
user + system time of all child processes (resource.getrusage(RUSAGE_CHILDREN)), so worker
processes and libvips' threads count. For the screenshots, the PSNR and SSIM of vision-cli's
output and of vipsthumbnail's against a full LANCZOS reference (Pillow, whole image) say whether
text stayed sharp, and where the time goes per screenshot follows (decode, resize, PNG encode).

    python benchmarks/resize_bench.py [--runs 3] [--photos 60] [--screenshots 20] [--grain 6]
                                      [--no-magick] [--no-breakdown]

Targets, against two vipsthumbnail processes (a PASS/FAIL line each, at the end): photos at most
0.75x its wall time (issue 4), screenshots of each size at most 1.0x (issue 16).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from PIL import Image

from vision_cli import policy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load, verdict, vision_cli
from _resize_corpus import CORPUS, GRAIN, make_corpus
from _screens import psnr, shot_breakdown, ssim

HERE = Path(__file__).resolve().parent
QUALITY = 85


# --------------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------------


def find_tools() -> tuple[str, str, str]:
    """vision-cli, vipsthumbnail and ImageMagick's convert; exits with a message if one is missing.

    A stand-in named ``convert`` may come first on PATH, so the first program that is a binary and
    says it is ImageMagick is taken (``magick``, then each ``convert`` on PATH, then Debian's).
    """
    ours = vision_cli()
    vips = shutil.which("vipsthumbnail")
    if vips is None:
        sys.exit("vipsthumbnail is missing: apt-get install -y libvips-tools, and run again.")
    candidates = [shutil.which("magick")]
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidates.append(str(Path(folder) / "convert"))
    candidates.append("/usr/bin/convert")
    for exe in candidates:
        if exe and Path(exe).is_file() and _is_imagemagick(exe):
            return ours, vips, exe
    sys.exit("ImageMagick is missing: apt-get install -y imagemagick, and run again.")


def _is_imagemagick(exe: str) -> bool:
    """ImageMagick's own program: a script that passes calls on would add its start-up time."""
    try:
        with Path(exe).resolve().open("rb") as fh:
            if fh.read(4) != b"\x7fELF":
                return False
        out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "ImageMagick" in out.stdout


def _version(cmd: Sequence[str]) -> str:
    out = subprocess.run(list(cmd), capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0].strip()


# --------------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds
    cpu: float  # seconds of user + system time in child processes


def measured(job: Callable[[], None]) -> Sample:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    job()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(wall, cpu)


def _check(proc: subprocess.CompletedProcess[bytes], what: str) -> None:
    if proc.returncode != 0:
        sys.exit(f"{what} failed ({proc.returncode}):\n{proc.stderr.decode(errors='replace')}")


def _two_at_a_time(commands: Sequence[Sequence[str]], what: str) -> None:
    def one(cmd: Sequence[str]) -> None:
        _check(subprocess.run(list(cmd), capture_output=True, check=False), what)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, commands))


def target_edge(size: tuple[int, int]) -> int:
    """The long edge vision-cli's default policy gives an image of ``size``."""
    return max(policy.SizePolicy.recommended().target(*size))


def run_ours(exe: str, folder: Path, out: Path, env: dict[str, str] | None = None) -> None:
    cmd = [exe, "resize", "-j", "2", str(folder), "--out", str(out), "--format", "jsonl"]
    run_env = {**os.environ, **env} if env else None
    _check(subprocess.run(cmd, capture_output=True, check=False, env=run_env), "vision-cli resize")


def _cpu_split(job: Callable[[], None]) -> tuple[float, float]:
    """User and system CPU seconds that ``job``'s child processes took."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    job()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def _suffix(files: Sequence[Path]) -> str:
    """The anchors write what vision-cli writes: JPEG for photos, PNG for screenshots."""
    return ".png" if files[0].suffix == ".png" else ".jpg"


def run_vips(exe: str, files: Sequence[Path], out: Path, processes: int = 2) -> None:
    """``processes`` vipsthumbnail processes at once, each given its share of the files."""
    edge = target_edge(Image.open(files[0]).size)
    halves = [files[i::processes] for i in range(processes)]
    suffix = _suffix(files)
    opts = f"{out}/%s{suffix}[Q={QUALITY},strip]" if suffix == ".jpg" else f"{out}/%s.png[strip]"
    commands = [[exe, *map(str, half), "--size", f"{edge}x{edge}", "-o", opts] for half in halves]
    _two_at_a_time(commands, "vipsthumbnail")


def run_magick(exe: str, files: Sequence[Path], out: Path) -> None:
    edge = target_edge(Image.open(files[0]).size)
    commands = [
        [
            exe,
            str(f),
            "-auto-orient",
            "-resize",
            f"{edge}x{edge}",
            "-strip",
            "-quality",
            str(QUALITY),
            str(out / (f.stem + _suffix(files))),
        ]
        for f in files
    ]
    _two_at_a_time(commands, "ImageMagick convert")


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


OURS = "vision-cli resize -j 2"
ANCHOR = "vipsthumbnail x2"


def compare(
    name: str,
    files: list[Path],
    tools: tuple[str, str, str],
    runs: int,
    scratch: Path,
    magick: bool = True,
) -> dict[str, list[Sample]]:
    """Every tool once per round, rounds repeated: a sample per tool and round."""
    ours, vips, _ = tools
    out = scratch / "out"
    jobs: dict[str, Callable[[], None]] = {
        OURS: partial(run_ours, ours, files[0].parent, out),
        ANCHOR: partial(run_vips, vips, files, out),
        "vipsthumbnail x1": partial(run_vips, vips, files, out, 1),
    }
    if magick:
        jobs["ImageMagick convert x2"] = partial(run_magick, tools[2], files, out)
    samples: dict[str, list[Sample]] = {k: [] for k in jobs}
    for _ in range(runs):
        for label, job in jobs.items():
            fresh(out)
            samples[label].append(measured(job))
            made = len(list(out.iterdir()))
            if made != len(files):
                sys.exit(f"{label} wrote {made} files for {len(files)} {name}")
    return samples


def report(name: str, files: list[Path], samples: dict[str, list[Sample]]) -> float:
    """Medians per tool, and each ratio as the median of the rounds' ratios (a round's tools ran
    back to back, so a change in the machine's load between rounds cancels out). Returns the
    wall ratio to the issue's anchor, two vipsthumbnail processes."""
    count = len(files)
    mean_mb = sum(f.stat().st_size for f in files) / count / 1e6
    print(f"\n{name}: {count} files of {mean_mb:.1f} MB on average, median of runs")
    print(f"  {'':26} {'images/s':>9} {'wall s':>8} {'CPU s/image':>12}")
    for label, got in samples.items():
        wall = statistics.median(s.wall for s in got)
        cpu = statistics.median(s.cpu for s in got)
        print(f"  {label:26} {count / wall:9.1f} {wall:8.2f} {cpu / count:12.3f}")
    ours = samples[OURS]
    ratios = {}
    for label, got in samples.items():
        if label == OURS:
            continue
        wall = statistics.median(a.wall / b.wall for a, b in zip(ours, got, strict=True))
        cpu = statistics.median(a.cpu / b.cpu for a, b in zip(ours, got, strict=True))
        ratios[label] = wall
        print(
            f"  ours / {label}: wall {wall:.2f}x, CPU {cpu:.2f}x"
            "  (below 1 means vision-cli is faster)"
        )
    return ratios[ANCHOR]


def quality(files: list[Path], tools: tuple[str, str, str], scratch: Path, count: int = 4) -> None:
    """PSNR and SSIM of vision-cli's and vipsthumbnail's screenshots against a full LANCZOS
    reference (Pillow, the whole image decoded, no reducing gap), over the first ``count`` files:
    text that blurs or rings loses decibels and similarity."""
    sample = files[:count]
    ours, vips = fresh(scratch / "q-ours"), fresh(scratch / "q-vips")
    folder = fresh(scratch / "q-in")
    for f in sample:
        shutil.copy(f, folder / f.name)
    run_ours(tools[0], folder, ours)
    run_vips(tools[1], sample, vips)
    scores: dict[str, list[tuple[float, float, int]]] = {OURS: [], "vipsthumbnail": []}
    for f in sample:
        with Image.open(f) as src:
            src.load()
            for label, out in ((OURS, ours), ("vipsthumbnail", vips)):
                made = out / f"{f.stem}.png"
                with Image.open(made) as got:
                    # each against the reference at its own size (libvips may round a pixel off)
                    ref = src.resize(got.size, Image.Resampling.LANCZOS)
                    scores[label].append((psnr(got, ref), ssim(got, ref), made.stat().st_size))
    print(
        f"  against a full LANCZOS reference ({len(sample)} files, higher is closer): "
        + ", ".join(
            f"{label} PSNR {statistics.mean(v[0] for v in got):.1f} dB, "
            f"SSIM {statistics.mean(v[1] for v in got):.4f}, "
            f"{statistics.mean(v[2] for v in got):,.0f} bytes"
            for label, got in scores.items()
        )
    )


def breakdown(exe: str, files: list[Path], count: int = 20) -> None:
    """Where vision-cli's time goes per photo, in one process (medians over ``count`` photos):
    the reduced-scale decode and the LANCZOS pass after it, with Pillow's own 1/2 scale beside
    vision-cli's 3/8; the encode; the CPU of the whole command with and without Pillow keeping
    freed memory blocks; and the command's start-up."""
    from vision_cli.imaging import jpegscale

    target = policy.SizePolicy.recommended().target(*Image.open(files[0]).size)
    datas = [f.read_bytes() for f in files[:count]]

    def decoded(data: bytes, scale: str) -> Image.Image:
        im = Image.open(io.BytesIO(data))
        if scale == "3/8":
            jpegscale.draft(im, target)
        else:
            im.draft("RGB", target)
        im.load()
        return im

    def timed(step: Callable[[bytes], object]) -> float:
        times = []
        for data in datas:
            start = time.perf_counter()
            step(data)
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    def shrunk(data: bytes, scale: str) -> Image.Image:
        return decoded(data, scale).resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)

    print(f"\nwhere the time goes, one process, median of {len(datas)} photos (ms per photo):")
    for scale in ("1/2", "3/8"):
        size = decoded(datas[0], scale).size
        decode = timed(partial(decoded, scale=scale))
        both = timed(partial(shrunk, scale=scale))
        print(
            f"  decode at {scale} ({size[0]}x{size[1]}): {decode:5.1f}   "
            f"LANCZOS to {target[0]}x{target[1]}: {both - decode:5.1f}"
        )
    small = shrunk(datas[0], "3/8")
    encode = timed(lambda _: small.save(io.BytesIO(), "JPEG", quality=QUALITY))
    print(f"  JPEG encode at quality {QUALITY}: {encode:5.1f}")
    out = Path(tempfile.mkdtemp(prefix="resize-bench-blocks-"))
    kept: dict[str, list[tuple[float, float]]] = {"kept (vision-cli)": [], "not kept": []}
    for _ in range(3):
        for label in kept:
            blocks = {"PILLOW_BLOCKS_MAX": "0"} if label == "not kept" else {}
            kept[label].append(
                _cpu_split(partial(run_ours, exe, files[0].parent, fresh(out), blocks))
            )
    shutil.rmtree(out)
    for label, runs in kept.items():
        user = statistics.median(u for u, _ in runs) / len(files) * 1000
        system = statistics.median(s for _, s in runs) / len(files) * 1000
        print(f"  {OURS}, freed memory {label:17}: CPU user {user:5.1f}, system {system:5.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        nothing = partial(run_ours, exe, Path(tmp), Path(tmp) / "out")
        start_up = statistics.median(measured(nothing).wall for _ in range(5))
    print(f"  start-up of {OURS} with nothing to do: {start_up * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--screenshots", type=int, default=20, help="of each size")
    parser.add_argument("--no-magick", action="store_true", help="leave ImageMagick out")
    parser.add_argument(
        "--no-breakdown", action="store_true", help="leave out where the photos' time goes"
    )
    parser.add_argument(
        "--grain", type=int, default=GRAIN, help="film grain of the photos (18: about 6 MB each)"
    )
    args = parser.parse_args()
    tools = find_tools()
    photos, shots = make_corpus(args.photos, args.screenshots, args.grain)
    print(f"vision-cli: {tools[0]} ({_version([tools[0], '--version'])})")
    print(f"vipsthumbnail: {tools[1]} ({_version([tools[1], '--vips-version'])})")
    print(f"ImageMagick: {tools[2]} ({_version([tools[2], '-version'])})")
    print(f"CPUs available: {len(os.sched_getaffinity(0))}; corpus: {CORPUS}")
    print(f"load average before: {load()}")
    with tempfile.TemporaryDirectory(prefix="resize-bench-") as tmp:
        scratch = Path(tmp)
        verdicts: list[tuple[str, float, float]] = []
        if photos:  # --photos 0 or --screenshots 0 leaves a part out
            photo_results = compare("photos", photos, tools, args.runs, scratch, not args.no_magick)
            ratio = report("photos (4032x3024 JPEG -> 1238x928 JPEG)", photos, photo_results)
            verdicts.append(("resize -j 2, photos, against two vipsthumbnail", ratio, 0.75))
            if not args.no_breakdown:
                breakdown(tools[0], photos)
        for files in shots:
            if not files:
                continue
            size = Image.open(files[0]).size
            target = policy.SizePolicy.recommended().target(*size)
            name = f"screenshots ({size[0]}x{size[1]} PNG -> {target[0]}x{target[1]} PNG)"
            ratio = report(
                name,
                files,
                compare("screenshots", files, tools, args.runs, scratch, not args.no_magick),
            )
            quality(files, tools, scratch)
            if not args.no_breakdown:
                shot_breakdown(files)
            verdicts.append(
                (
                    f"resize -j 2, {size[0]}x{size[1]} screenshots, against two vipsthumbnail",
                    ratio,
                    1.0,
                )
            )
    print(f"\nload average after: {load()} (wall times only compare on an otherwise idle machine)")
    for name, ratio, limit in verdicts:
        verdict(name, ratio, limit)


if __name__ == "__main__":
    main()
