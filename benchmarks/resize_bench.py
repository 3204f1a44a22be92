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
import array
import io
import math
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

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageMath

from vision_cli import policy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load, verdict, vision_cli

HERE = Path(__file__).resolve().parent
CORPUS = HERE / ".corpus-resize"
PHOTO_SIZE = (4032, 3024)
#: Laptop screenshots: a 16:10 panel at 2560x1600 and a 15" Retina one at 2880x1800.
SHOT_SIZES = ((2560, 1600), (2880, 1800))
ORIENTATION = 0x0112
QUALITY = 85
#: Film-grain strength of the photos: 6 gives about 3.8 MB per 12 MP photo at quality 92, what a
#: phone writes (more grain means bigger files, and decoding, which every tool shares, dominates).
GRAIN = 6


# --------------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------------


def _photo_base(grain: int) -> Image.Image:
    """A photo-like picture: smooth sky and ground, shapes with soft edges, and fine grain (which
    is what makes camera JPEGs big and slow to decode)."""
    w, h = PHOTO_SIZE
    sky = Image.linear_gradient("L").resize((w, h))
    im = Image.merge(
        "RGB",
        (
            sky.point(lambda v: 80 + v // 3),
            sky.point(lambda v: 120 + v // 4),
            sky.point(lambda v: 230 - v // 4),
        ),
    )
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, h * 2 // 3, w, h), fill=(70, 110, 55))
    for i in range(14):
        x, y, r = (i * 577) % w, h // 3 + (i * 331) % (h // 2), 120 + (i * 53) % 300
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(200 - i * 9, 90 + i * 8, 60 + i * 5))
    im = im.filter(ImageFilter.GaussianBlur(3))
    noise = Image.effect_noise((w, h), grain).convert("RGB")
    return ImageChops.add(im, noise, scale=1.0, offset=-128)


def _screenshot(i: int, size: tuple[int, int] = SHOT_SIZES[0]) -> Image.Image:
    """Flat colours, bars and text, as a UI screenshot has."""
    w, h = size
    im = Image.new("RGB", (w, h), (245, 246, 248))
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, w, 72), fill=(36, 41, 47))
    draw.rectangle((0, 72, 320, h), fill=(230, 233, 237))
    for row in range(40):
        y = 110 + row * 36
        width = 300 + (row * 131 + i * 17) % 1500
        draw.rectangle((360, y, 360 + width, y + 14), fill=(87, 96, 106))
        draw.text((360, y + 16), f"line {row} of screenshot {i}: some text", fill=(40, 40, 40))
    return im


def make_corpus(photos: int, shots: int, grain: int) -> tuple[list[Path], list[list[Path]]]:
    """``photos`` photos, and ``shots`` screenshots of each size in :data:`SHOT_SIZES`."""
    photo_dir = CORPUS / f"photos-{photos}-grain{grain}"
    made_photos = sorted(photo_dir.glob("*.jpg"))
    if len(made_photos) < photos:
        print(f"making {photos} photos in {photo_dir} (once) ...", file=sys.stderr)
        photo_dir.mkdir(parents=True, exist_ok=True)
        base = _photo_base(grain)
        for i in range(photos):
            im = ImageChops.offset(base, (i * 211) % PHOTO_SIZE[0], (i * 97) % PHOTO_SIZE[1])
            exif = Image.Exif()
            exif[ORIENTATION] = 6 if i % 4 == 0 else 1
            im.save(photo_dir / f"IMG_{i:04}.jpg", quality=92, exif=exif.tobytes())
        made_photos = sorted(photo_dir.glob("*.jpg"))
    return made_photos[:photos], [_screenshots(shots, size) for size in SHOT_SIZES]


def _screenshots(count: int, size: tuple[int, int]) -> list[Path]:
    folder = CORPUS / f"screenshots-{size[0]}x{size[1]}-{count}"
    made = sorted(folder.glob("*.png"))
    if count and len(made) < count:
        print(f"making {count} screenshots in {folder} (once) ...", file=sys.stderr)
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            _screenshot(i, size).save(folder / f"shot-{i:03}.png")
        made = sorted(folder.glob("*.png"))
    return made[:count]


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


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio of ``a`` against ``b`` over R, G and B, in dB (inf: equal)."""
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).histogram()
    squares = sum(count * (i % 256) ** 2 for i, count in enumerate(diff))
    mse = squares / (a.width * a.height * 3)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def ssim(a: Image.Image, b: Image.Image, window: int = 8) -> float:
    """Mean structural similarity of ``a`` and ``b`` (1: equal), on luma, over non-overlapping
    ``window`` x ``window`` blocks (the cheap form of Wang et al.'s index, with its constants).

    The blocks' means, mean squares and mean products come from Pillow (``reduce`` of float
    images), so only one number per block is handled in Python."""
    x, y = (im.convert("L").convert("F") for im in (a, b))

    def mean(p: Image.Image, q: Image.Image | None = None) -> list[float]:
        im = p if q is None else ImageMath.lambda_eval(lambda v: v["p"] * v["q"], p=p, q=q)
        assert isinstance(im, Image.Image)
        return array.array("f", im.reduce(window).tobytes()).tolist()  # F: native floats

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blocks = zip(mean(x), mean(y), mean(x, x), mean(y, y), mean(x, y), strict=True)
    total = 0.0
    count = 0
    for mx, my, xx, yy, xy in blocks:
        vx, vy, cov = xx - mx * mx, yy - my * my, xy - mx * my
        total += (2 * mx * my + c1) * (2 * cov + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        count += 1
    return total / count


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


def shot_breakdown(files: list[Path], count: int = 8) -> None:
    """Where a screenshot's time goes, in one process (medians over ``count`` files, ms): the
    decode (zlib inflate and PNG unfiltering), the colour count that finds screen content, the
    resize with LANCZOS and with HAMMING (vision-cli's choice for screens), and the PNG encode:
    Pillow's (every filter tried on every row) at zlib's default level and at level 1 with
    run-length matching, and vision-cli's (rows unfiltered, level 3); with the bytes of each."""
    import zlib

    from vision_cli.imaging import decode, encode

    datas = [f.read_bytes() for f in files[:count]]
    frames = [Image.open(io.BytesIO(d)) for d in datas]
    for im in frames:
        im.load()
    target = policy.SizePolicy.recommended().target(*frames[0].size)
    small = [im.resize(target, Image.Resampling.HAMMING) for im in frames]

    def timed(step: Callable[[int], object]) -> float:
        times = []
        for i in range(len(datas)):
            start = time.process_time()
            step(i)
            times.append(time.process_time() - start)
        return statistics.median(times) * 1000

    def png(im: Image.Image, **options: int) -> int:
        out = io.BytesIO()
        im.save(out, "PNG", **options)
        return out.tell()

    encoders: dict[str, Callable[[Image.Image], int]] = {
        "Pillow PNG level 6": png,
        "Pillow PNG level 1 Z_RLE": partial(png, compress_level=1, compress_type=zlib.Z_RLE),
        "unfiltered level 3 (vision-cli)": lambda im: len(encode.screen_png(im)),
    }
    steps: dict[str, Callable[[int], object]] = {
        "decode": lambda i: Image.open(io.BytesIO(datas[i])).load(),
        "colour count": lambda i: encode.colours_at_most(frames[i], decode.SCREEN_COLOURS),
        "LANCZOS": lambda i: frames[i].resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0),
        "HAMMING": lambda i: frames[i].resize(target, Image.Resampling.HAMMING, reducing_gap=2.0),
    }
    steps.update({name: partial(lambda f, i: f(small[i]), f) for name, f in encoders.items()})
    cells = [f"{name} {timed(step):.1f}" for name, step in steps.items()]
    sizes = [f"{name} {statistics.mean(map(f, small)):,.0f}" for name, f in encoders.items()]
    print(f"  where the time goes per screenshot (CPU ms, one process): {', '.join(cells)}")
    print(f"  PNG bytes: {', '.join(sizes)}")


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
