"""``vision-cli inspect`` throughput against `identify -ping` and a bare Pillow loop.

Makes two corpora once, under benchmarks/.corpus-inspect:

* ``jpegs``: 3,000 small (640x480) JPEGs with EXIF (camera make and model, an orientation), in
  folders of 500, as a phone's export or a dataset holds them;
* ``mixed``: 3,000 images of every kind the API takes, JPEG with EXIF, PNG, WebP and GIF, of
  several sizes, in folders nested three deep.

Then, in one run and over the same files, it times whole processes (start-up included), each
anchor alternated with vision-cli, medians of ``--runs``:

    vision-cli inspect --format jsonl CORPUS
    find CORPUS -type f -print0 | xargs -0 identify -ping        (as few processes as xargs makes)
    python PILLOW_LOOP CORPUS    (os.walk; Image.open, size, getexif, one JSON line per file)

Targets (issue 16): on each corpus at most 0.5x the wall time of identify -ping and at most 3x
the bare Pillow loop's. Memory: the peak RSS of inspect over 1,000 files and over ``--rss-files``
(100,000 by default: hard links to the jpegs corpus, made once) is printed; it should be flat,
since records stream out.

    python benchmarks/inspect_bench.py [--runs 5] [--count 3000] [--rss-files 100000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HERE, load, need, paired, verdict, vision_cli

ORIENTATION = 0x0112
MAKE, MODEL = 0x010F, 0x0110
CORPUS = HERE / ".corpus-inspect"

PILLOW_LOOP = """
import json, os, sys
from PIL import Image
out = sys.stdout
for folder, dirs, files in os.walk(sys.argv[1]):
    dirs.sort()
    for name in sorted(files):
        path = os.path.join(folder, name)
        with Image.open(path) as im:
            w, h = im.size
            o = im.getexif().get(0x0112, 1) if im.format == "JPEG" else 1
            out.write(json.dumps({"path": path, "format": im.format, "width": w, "height": h,
                                  "orientation": o}) + "\\n")
"""


def _exif(i: int) -> bytes:
    exif = Image.Exif()
    exif[MAKE], exif[MODEL] = "Phone", f"Model {i % 3}"
    exif[ORIENTATION] = 6 if i % 5 == 0 else 1
    return exif.tobytes()


def make_jpegs(count: int) -> Path:
    folder = CORPUS / f"jpegs-{count}"
    if len(list(folder.rglob("*.jpg"))) >= count:
        return folder
    print(f"making {count} JPEGs in {folder} (once) ...", file=sys.stderr)
    base = Image.linear_gradient("L").resize((640, 480)).convert("RGB")
    for i in range(count):
        sub = folder / f"{i // 500:02}"
        sub.mkdir(parents=True, exist_ok=True)
        base.save(sub / f"IMG_{i:05}.jpg", quality=85, exif=_exif(i))
    return folder


def make_mixed(count: int) -> Path:
    folder = CORPUS / f"mixed-{count}"
    if sum(1 for p in folder.rglob("*") if p.is_file()) >= count:
        return folder
    print(f"making {count} mixed images in {folder} (once) ...", file=sys.stderr)
    base = Image.linear_gradient("L").resize((1024, 768)).convert("RGB")
    kinds = ("jpg", "png", "webp", "gif")
    for i in range(count):
        sub = folder / f"a{i % 4}" / f"b{i % 7}" / f"c{i // 250}"
        sub.mkdir(parents=True, exist_ok=True)
        kind = kinds[i % 4]
        im = base.resize((320 + (i % 5) * 160, 240 + (i % 3) * 120))
        path = sub / f"img-{i:05}.{kind}"
        if kind == "jpg":
            im.save(path, quality=85, exif=_exif(i))
        elif kind == "png":
            im.save(path, compress_level=1)
        elif kind == "webp":
            im.save(path, quality=70, method=0)
        else:
            im.convert("P", palette=Image.Palette.ADAPTIVE, colors=64).save(path)
    return folder


def hard_links(source: Path, count: int) -> Path:
    """``count`` names for the files of ``source`` (hard links, in folders of 1,000)."""
    folder = CORPUS / f"links-{count}"
    if folder.exists() and sum(len(files) for _, _, files in os.walk(folder)) >= count:
        return folder
    print(f"making {count} hard links in {folder} (once) ...", file=sys.stderr)
    files = sorted(source.rglob("*.jpg"))
    for i in range(count):
        sub = folder / f"{i // 1000:03}"
        if i % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        target = sub / f"{i:06}.jpg"
        if not target.exists():
            os.link(files[i % len(files)], target)
    return folder


def peak_rss_kb(cmd: list[str]) -> int:
    """Peak resident memory of one fresh run of ``cmd`` (measured by a child of its own)."""
    probe = (
        "import resource,subprocess,sys;"
        "subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True)
    return int(out.stdout.strip())


def files_in(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--rss-files", type=int, default=100_000, help="0 leaves it out")
    args = parser.parse_args()
    need("identify", "imagemagick")
    vc = vision_cli()
    corpora = {"jpegs": make_jpegs(args.count), "mixed": make_mixed(args.count)}
    print(f"load before: {load()}; {len(os.sched_getaffinity(0))} CPUs")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        loop = Path(tmp) / "pillow_loop.py"
        loop.write_text(PILLOW_LOOP)
        for name, corpus in corpora.items():
            n = files_in(corpus)
            ours = [vc, "inspect", "--format", "jsonl", str(corpus), ">/dev/null"]
            identify = [
                f"find {corpus} -type f -print0 | xargs -0 identify -ping >/dev/null",
            ]
            pillow = [sys.executable, str(loop), str(corpus), ">/dev/null"]
            t_ours, t_identify = paired(args.runs, ours, identify, shell=True)
            t_ours2, t_pillow = paired(args.runs, ours, pillow, shell=True)
            print(f"\n{name}: {n} files ({corpus})")
            for label, t in (
                ("vision-cli inspect --format jsonl", min(t_ours, t_ours2)),
                ("identify -ping (anchor)", t_identify),
                ("bare Pillow loop (anchor)", t_pillow),
            ):
                print(f"  {label:34} {n / t:8.0f} images/s  ({t:.2f} s)")
            results.append((name, t_ours / t_identify, t_ours2 / t_pillow))
    if args.rss_files:
        many = hard_links(corpora["jpegs"], args.rss_files)
        listing = CORPUS / "first-1000.txt"
        listing.write_text("\n".join(str(p) for p in sorted(many.rglob("*.jpg"))[:1000]) + "\n")
        small = peak_rss_kb([vc, "inspect", "--format", "jsonl", "--files-from", str(listing)])
        big = peak_rss_kb([vc, "inspect", "--format", "jsonl", str(many)])
        print(
            f"\npeak RSS of inspect: {small / 1024:.0f} MB over 1,000 files, "
            f"{big / 1024:.0f} MB over {files_in(many):,}"
        )
    print(f"load after: {load()} (wall times only compare on an otherwise idle machine)")
    for name, to_identify, to_pillow in results:
        verdict(f"inspect {name}, against identify -ping", to_identify, 0.5)
        verdict(f"inspect {name}, against a bare Pillow loop", to_pillow, 3.0)


if __name__ == "__main__":
    main()
