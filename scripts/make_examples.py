"""Make the sample images in ``examples/`` (each under 200 KB), deterministically.

They are chosen so that ``vision-cli inspect examples/`` shows ok, warning and error rows:

    python scripts/make_examples.py [FOLDER]
"""

from __future__ import annotations

from pathlib import Path

from _script import output_folder
from PIL import Image, ImageDraw

ORIENTATION = 0x0112


def _scene(size: tuple[int, int], seed: int) -> Image.Image:
    """A smooth, photo-like picture: a gradient sky, a horizon and a few shapes."""
    w, h = size
    sky = Image.linear_gradient("L").resize(size).convert("RGB")
    im = Image.merge(
        "RGB",
        (
            sky.getchannel(0).point(lambda v: 90 + v // 3),
            sky.getchannel(0).point(lambda v: 140 + v // 4),
            Image.new("L", size, 220),
        ),
    )
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, h * 2 // 3, w, h), fill=(70, 120 + seed * 10, 60))
    for i in range(5):
        x = (i * 97 + seed * 31) % max(1, w - w // 8)
        draw.ellipse((x, h // 4, x + w // 8, h // 4 + w // 8), fill=(230, 180 - i * 20, 60))
    return im


def _screenshot(size: tuple[int, int]) -> Image.Image:
    """Flat colours and text-like bars, as a UI screenshot has."""
    w = size[0]
    im = Image.new("RGB", size, (245, 246, 248))
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, w, 48), fill=(36, 41, 47))
    for row in range(8):
        y = 80 + row * 64
        draw.rectangle((40, y, 40 + (row * 53) % 400 + 200, y + 14), fill=(87, 96, 106))
        draw.rectangle((40, y + 24, 40 + (row * 71) % 500 + 150, y + 34), fill=(170, 177, 186))
    draw.text((60, 16), "vision-cli", fill=(255, 255, 255))
    return im


def make(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []

    def save(name: str, im: Image.Image, **params: object) -> None:
        path = folder / name
        im.save(path, **params)  # type: ignore[arg-type]
        made.append(path)

    # ok: within every limit, nothing to fix
    save("screenshot.png", _screenshot((1000, 640)), optimize=True)
    save("photo.jpg", _scene((1092, 819), 1), quality=80)
    # warnings: the API will shrink it; sideways EXIF; too small; animated; wrong extension
    save("wide-photo.jpg", _scene((3000, 2000), 2), quality=60)
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    save("sideways.jpg", _scene((800, 600), 3), quality=80, exif=exif.tobytes())
    save("icon.png", _screenshot((160, 120)))
    frames = [_scene((400, 300), i).quantize(64) for i in range(3)]
    save("animated.gif", frames[0], save_all=True, append_images=frames[1:], duration=300, loop=0)
    save("really-a-jpeg.png", _scene((640, 480), 4), format="JPEG", quality=80)
    # errors: a format the API refuses; over the 8000 px limit
    save("scan.bmp", _screenshot((240, 180)))
    save("panorama.png", Image.new("P", (9000, 400), 3), optimize=True)
    return made


def main() -> None:
    default = Path(__file__).resolve().parents[1] / "examples"
    for path in make(output_folder(__doc__, default, "the images")):
        print(f"{path}  {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
