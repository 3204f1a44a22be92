"""The corpus of ``resize_bench.py``, made once in benchmarks/.corpus-resize: photo-like
4032x3024 JPEGs (every fourth tagged with EXIF orientation 6) and screenshot-like PNGs with text at
2560x1600 and 2880x1800.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

CORPUS = Path(__file__).resolve().parent / ".corpus-resize"
PHOTO_SIZE = (4032, 3024)
#: Laptop screenshots: a 16:10 panel at 2560x1600 and a 15" Retina one at 2880x1800.
SHOT_SIZES = ((2560, 1600), (2880, 1800))
ORIENTATION = 0x0112
#: Film-grain strength of the photos: 6 gives about 3.8 MB per 12 MP photo at quality 92, what a
#: phone writes (more grain means bigger files, and decoding, which every tool shares, dominates).
GRAIN = 6


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
