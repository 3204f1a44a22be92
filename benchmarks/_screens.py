"""Screenshots in ``resize_bench.py``: how close an output is to a full LANCZOS reference (PSNR,
SSIM), and where vision-cli's time goes per screenshot in one process.
"""

from __future__ import annotations

import array
import io
import math
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PIL import Image, ImageChops, ImageMath

from vision_cli import policy


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
