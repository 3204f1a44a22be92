"""Images per second for ``vision-cli inspect`` against ImageMagick's ``identify -ping``.

Makes a corpus of 3,000 images (JPEGs with EXIF, PNGs) once, in benchmarks/.corpus-inspect, then
times, in one run and over the same files, whole processes (start-up included):

    vision-cli inspect --format jsonl CORPUS          (one process)
    find CORPUS -type f -print0 | xargs -0 identify -ping   (as few processes as xargs makes)

    python benchmarks/inspect_bench.py [--runs 5] [--count 3000]

Target (issue 2): faster than identify -ping. Memory: the peak RSS of inspect over the corpus and
over a tenth of it are printed too; they should be about the same (records stream out).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, need, paired, vision_cli

ORIENTATION = 0x0112


def make_corpus(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    existing = sorted(p for p in folder.rglob("*") if p.is_file())
    if len(existing) >= count:
        return existing[:count]
    base = Image.linear_gradient("L").resize((1024, 768)).convert("RGB")
    paths = []
    for i in range(count):
        sub = folder / f"{i // 500:02}"
        sub.mkdir(exist_ok=True)
        if i % 3 == 2:
            path = sub / f"shot-{i:05}.png"
            base.resize((800 + i % 7, 600)).save(path, compress_level=1)
        else:
            exif = Image.Exif()
            exif[ORIENTATION] = 6 if i % 5 == 0 else 1
            path = sub / f"photo-{i:05}.jpg"
            base.resize((1024 + i % 11, 768)).save(path, quality=80, exif=exif.tobytes())
        paths.append(path)
    return paths


def peak_rss_kb(cmd: list[str]) -> int:
    """Peak resident memory of one fresh run of ``cmd`` (measured by a child of its own)."""
    probe = (
        "import resource,subprocess,sys;"
        "subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True)
    return int(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=3000)
    args = parser.parse_args()
    corpus = HERE / ".corpus-inspect"
    files = make_corpus(corpus, args.count)
    need("identify", "imagemagick")
    vc = vision_cli()
    ours = [vc, "inspect", "--format", "jsonl", str(corpus)]
    anchor = [
        "find",
        str(corpus),
        "-type",
        "f",
        "-print0",
        "|",
        "xargs",
        "-0",
        "identify",
        "-ping",
        ">/dev/null",
    ]
    t_ours, t_anchor = paired(args.runs, [" ".join(ours)], [" ".join(anchor)], shell=True)
    n = len(files)
    print(f"corpus: {n} images ({corpus})")
    print(f"vision-cli inspect --format jsonl: {n / t_ours:8.0f} images/s  ({t_ours:.2f} s)")
    print(f"identify -ping (anchor):           {n / t_anchor:8.0f} images/s  ({t_anchor:.2f} s)")
    print(f"ratio (anchor time / ours): {t_anchor / t_ours:.2f}x  (>1 means vision-cli is faster)")
    small = sorted(corpus.rglob("*.*"))[: max(1, n // 10)]
    listing = corpus.parent / ".corpus-inspect-tenth.txt"
    listing.write_text("\n".join(map(str, small)) + "\n")
    rss_all = peak_rss_kb(ours)
    rss_tenth = peak_rss_kb([vc, "inspect", "--format", "jsonl", "--files-from", str(listing)])
    print(
        f"peak RSS: {rss_all / 1024:.0f} MB over {n} images, "
        f"{rss_tenth / 1024:.0f} MB over {len(small)}"
    )


if __name__ == "__main__":
    main()
