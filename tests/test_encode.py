"""What ``transform.prepare`` writes (:mod:`vision_cli.imaging.encode`): screen content kept sharp
and small, and the byte limit met by lower quality or another format."""

from __future__ import annotations

import math

import pytest
from PIL import Image, ImageChops

from tests import imagekit as k
from vision_cli import policy
from vision_cli.imaging import decode
from vision_cli.imaging.decode import TransformError
from vision_cli.imaging.transform import PreparedImage, prepare

RECOMMENDED = policy.SizePolicy.recommended()


def run(data: bytes, **kw: object) -> PreparedImage:
    kw.setdefault("size_policy", RECOMMENDED)
    return prepare(data, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Screen content
# --------------------------------------------------------------------------------------------------


def screenshot(size: tuple[int, int] = (2560, 1600)) -> Image.Image:
    """Bars and lines of antialiased text on flat colours: a few hundred colours."""
    from PIL import ImageDraw, ImageFont

    im = Image.new("RGB", size, (245, 246, 248))
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, size[0], 72), fill=(36, 41, 47))
    font = ImageFont.load_default(size=22)
    for row in range(size[1] // 40):
        y = 100 + row * 36
        draw.rectangle((360, y, 360 + 300 + row * 37 % 1500, y + 10), fill=(87, 96, 106))
        ink = (20, 90, 200) if row % 2 else (0, 0, 0)  # links and text
        draw.text((360, y + 12), f"line {row}: The quick brown fox, 42", font=font, fill=ink)
    return im


def psnr(a: Image.Image, b: Image.Image) -> float:
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).histogram()
    mse = sum(n * (i % 256) ** 2 for i, n in enumerate(diff)) / (a.width * a.height * 3)
    return 10 * math.log10(255**2 / mse) if mse else math.inf


def test_screen_content_stays_close_to_lanczos_and_as_small() -> None:
    """A screenshot takes the faster path (Hamming window, unfiltered rows at a fast zlib level):
    its pixels stay within 35 dB of the Lanczos result and its file about as small as Pillow's
    PNG at zlib's default level."""
    im = screenshot()
    source = k.encode(im, "PNG")
    assert 256 < len(im.getcolors(1 << 16) or ()) <= decode.SCREEN_COLOURS
    result = run(source)
    out = k.opened(result.data)
    assert result.format == "PNG" and out.size == (1356, 848)
    reference = im.resize(out.size, Image.Resampling.LANCZOS)
    assert psnr(out, reference) >= 35
    assert out.tobytes() != reference.tobytes()  # the faster kernel was used
    assert len(result.data) <= 1.05 * len(k.encode(out, "PNG"))


def screen_image(mode: str, size: tuple[int, int]) -> Image.Image:
    """Flat colours with a translucent band where the mode has alpha: screen content in ``mode``."""
    im = k.flat_drawing(size).convert("RGBA")
    alpha = Image.new("L", size, 255)
    alpha.paste(96, (0, size[1] // 3, size[0], size[1] // 2))
    im.putalpha(alpha)
    return im.convert(mode)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
@pytest.mark.parametrize("size", [(333, 211), (1, 300), (1500, 7)])
def test_screen_png_is_lossless_and_bare(mode: str, size: tuple[int, int]) -> None:
    """The screen PNG holds exactly the pixels, in the source's mode, at odd widths and over
    several bands of rows, with no chunk but the image's own."""
    im = screen_image(mode, size)
    result = run(k.encode(im, "PNG"), reencode=True)
    out = k.opened(result.data)
    assert result.format == "PNG" and out.mode == mode and out.size == size
    assert out.tobytes() == im.tobytes()
    assert k.png_chunks(result.data) == [b"IHDR", b"IDAT", b"IEND"]


@pytest.mark.parametrize("transparency", [None, 0])
def test_palette_screenshot_comes_out_exact(transparency: int | None) -> None:
    """A palette PNG (with a transparent colour or none) is resized as its RGB(A) pixels are, and
    those pixels are written exactly."""
    im = screenshot((2000, 1250)).quantize(64)
    params = {} if transparency is None else {"transparency": transparency}
    source = k.encode(im, "PNG", **params)
    result = run(source)
    out = k.opened(result.data)
    mode = "RGB" if transparency is None else "RGBA"
    expected = k.opened(source).convert(mode)
    expected = expected.resize(out.size, Image.Resampling.HAMMING, reducing_gap=2.0)
    assert result.format == "PNG" and out.mode == mode
    assert out.tobytes() == expected.tobytes()


def test_screen_png_over_the_limit_is_made_smaller_or_jpeg() -> None:
    """Over the byte limit, a screenshot's PNG falls back to zlib's smallest, then to JPEG; what
    comes out fits, and a PNG that comes out is still exact."""
    free = run(k.encode(screenshot(), "PNG"))
    limit = policy.base64_length(len(free.data)) - 1
    result = run(k.encode(screenshot(), "PNG"), max_bytes=limit)
    assert policy.base64_length(len(result.data)) <= limit
    if result.format == "PNG":
        assert k.opened(result.data).tobytes() == k.opened(free.data).tobytes()
    else:
        assert result.format == "JPEG"
    with pytest.raises(TransformError, match="over the"):
        run(k.encode(screenshot(), "PNG"), to="png", max_bytes=1000)


def test_photographs_in_png_keep_lanczos_and_default_deflate() -> None:
    im = k.gradient((2400, 1800))
    im = ImageChops.add(im, k.noise(im.size), scale=8.0)  # a few thousand colours and more
    result = run(k.encode(im, "PNG"))
    out = k.opened(result.data)
    assert result.format == "PNG"
    assert out.tobytes() == im.resize(out.size, Image.Resampling.LANCZOS).tobytes()
    assert result.data == k.encode(out, "PNG")


# --------------------------------------------------------------------------------------------------
# The byte limit
# --------------------------------------------------------------------------------------------------


def test_quality_steps_down_until_it_fits() -> None:
    im = k.noise((1200, 900))  # within the policy: only the quality can change
    at_85 = policy.base64_length(len(k.encode(im, "JPEG", quality=85)))
    at_45 = policy.base64_length(len(k.encode(im, "JPEG", quality=45)))
    limit = (at_85 + at_45) // 2
    result = run(k.encode(im, "JPEG", quality=95), max_bytes=limit)
    assert result.format == "JPEG" and result.quality is not None and 45 <= result.quality < 85
    assert policy.base64_length(len(result.data)) <= limit


def test_opaque_png_switches_to_jpeg_to_fit() -> None:
    data = k.encode(k.noise((1400, 1000)), "PNG")
    result = run(data, max_bytes=1_000_000)
    assert result.format == "JPEG" and policy.base64_length(len(result.data)) <= 1_000_000


def test_transparent_png_switches_to_webp_to_fit() -> None:
    im = k.noise((1400, 1000)).convert("RGBA")
    im.putalpha(Image.linear_gradient("L").resize((1400, 1000)))
    result = run(k.encode(im, "PNG"), max_bytes=1_000_000)
    assert result.format == "WEBP" and k.opened(result.data).mode == "RGBA"
    assert policy.base64_length(len(result.data)) <= 1_000_000


def test_forced_png_does_not_switch_format() -> None:
    with pytest.raises(TransformError, match="over the"):
        run(k.encode(k.noise((1400, 1000)), "PNG"), to="png", max_bytes=1_000_000)


def test_impossible_fit_is_an_error() -> None:
    with pytest.raises(TransformError, match=r"--max-bytes"):
        run(k.encode(k.noise((1400, 1000)), "JPEG"), max_bytes=2000)
