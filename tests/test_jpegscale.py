"""``jpegscale``: JPEGs decoded at 3/8 where that is still at least the target, and only where
the linked libjpeg is shown to do exactly that."""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import pytest
from PIL import Image, ImageChops, ImageFile

from tests import imagekit as k
from tests.conftest import encode
from vision_cli import policy
from vision_cli.imaging import decode, jpegscale, transform


def opened_jpeg(data: bytes) -> ImageFile.ImageFile:
    im = Image.open(io.BytesIO(data))
    assert im.format == "JPEG"
    return im


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio of ``b`` against ``a`` over all RGB channels, in dB."""
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    squares = sum(v * v * n for band in diff.split() for v, n in enumerate(band.histogram()))
    mean = squares / (a.width * a.height * 3)
    return math.inf if mean == 0 else 10 * math.log10(255**2 / mean)


def reference(data: bytes, size: tuple[int, int]) -> Image.Image:
    """A full-size decode shrunk with LANCZOS: what the reduced decode has to match."""
    im = Image.open(io.BytesIO(data))
    return im.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def test_the_linked_libjpeg_scales_by_three_eighths() -> None:
    # Without it resize loses its biggest saving; this fails loudly if a Pillow upgrade loses it.
    assert jpegscale._three_eighths_supported()


@pytest.mark.parametrize(
    ("denominator", "exact"),
    [(3, True), (2, False), (4, False)],
)
def test_the_probe_accepts_only_an_exact_three_eighths(denominator: int, exact: bool) -> None:
    # Asking for 1/2 or 1/4 stands in for a libjpeg that rounds 1/3 to another scale: both stay
    # within the probe's buffer, and the probe must see that the result is not 3/8.
    assert jpegscale._probe(denominator) is exact


@pytest.mark.parametrize(
    ("size", "target", "decoded"),
    [
        ((4032, 3024), (1238, 928), (1512, 1134)),  # a phone photo to 1568 px / 1.15 MP: 3/8
        ((4031, 3023), (1238, 928), (1512, 1134)),  # odd sizes: libjpeg rounds up
        ((2000, 1500), (1000, 750), (1000, 750)),  # 3/8 would be smaller than the target: 1/2
        ((2000, 1500), (760, 560), (1000, 750)),  # 3/8 is ten pixels too narrow: 1/2
        ((4032, 3024), (1000, 750), (1008, 756)),  # a 4x reduction: Pillow's own 1/4
        ((3000, 2000), (1920, 1280), (3000, 2000)),  # under 2x: no reduction at all
    ],
)
def test_the_smallest_scale_still_at_least_the_target(
    size: tuple[int, int], target: tuple[int, int], decoded: tuple[int, int]
) -> None:
    im = opened_jpeg(encode(k.gradient(size), "JPEG"))
    jpegscale.draft(im, target)
    assert im.size == decoded
    im.load()
    assert im.size == decoded
    assert im.width >= target[0] and im.height >= target[1]


@pytest.mark.parametrize(
    ("content", "floor"),
    [
        (lambda: k.gradient((4032, 3024)), 45.0),  # smooth, like most of a photo
        (lambda: k.noise((2016, 1512)).resize((4032, 3024)), 25.0),  # the worst case: fine noise
    ],
    ids=["smooth", "noise"],
)
def test_a_three_eighths_decode_is_as_good_as_a_half_one(
    content: Callable[[], Image.Image], floor: float
) -> None:
    data = encode(content(), "JPEG", quality=92)
    ref = reference(data, (1238, 928))
    half = opened_jpeg(data)
    half.draft("RGB", (1238, 928))
    three_eighths = opened_jpeg(data)
    jpegscale.draft(three_eighths, (1238, 928))
    assert (half.size, three_eighths.size) == ((2016, 1512), (1512, 1134))
    half_db = psnr(ref, half.resize((1238, 928), Image.Resampling.LANCZOS))
    ours_db = psnr(ref, three_eighths.resize((1238, 928), Image.Resampling.LANCZOS))
    # Both are well past what the eye sees; the JPEG re-encode that follows costs more (~41 dB).
    assert ours_db > floor and ours_db > half_db - 7, (ours_db, half_db)


def test_without_support_pillows_own_scales_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jpegscale, "_three_eighths_supported", lambda: False)
    im = opened_jpeg(encode(k.gradient((4032, 3024)), "JPEG"))
    jpegscale.draft(im, (1238, 928))
    assert im.size == (2016, 1512)


@pytest.mark.parametrize("orientation", [1, 6])
def test_prepare_decodes_a_phone_photo_at_three_eighths(
    orientation: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    upright = k.marked((4032, 3024) if orientation == 1 else (3024, 4032))
    data = encode(k.stored_for(upright, orientation), "JPEG", exif=k.exif_bytes(orientation))
    decoded: list[tuple[int, int]] = []
    real_resize = decode.shrink

    def spy(im: Image.Image, head: object, target: policy.Size, screen: bool) -> Image.Image:
        decoded.append(im.size)
        return real_resize(im, head, target, screen)  # type: ignore[arg-type]

    monkeypatch.setattr(transform, "shrink", spy)
    result = transform.prepare(data, size_policy=policy.SizePolicy.recommended())
    assert decoded == [(1512, 1134)]  # stored orientation: 4032x3024 at 3/8
    out = k.opened(result.data)
    assert out.size == ((1238, 928) if orientation == 1 else (928, 1238))
    assert psnr(upright.resize(out.size, Image.Resampling.LANCZOS), out) > 30


@pytest.mark.parametrize(
    ("mode", "options"),
    [("L", {}), ("CMYK", {}), ("RGB", {"progressive": True}), ("RGB", {"subsampling": 0})],
    ids=["grey", "cmyk", "progressive", "no-chroma-subsampling"],
)
def test_every_kind_of_jpeg_decodes_at_three_eighths(mode: str, options: dict[str, bool]) -> None:
    data = encode(k.gradient((4032, 3024)).convert(mode), "JPEG", quality=90, **options)
    im = opened_jpeg(data)
    jpegscale.draft(im, (1238, 928))
    im.load()
    assert (im.mode, im.size) == (mode, (1512, 1134))
    full = Image.open(io.BytesIO(data)).resize((1238, 928), Image.Resampling.LANCZOS)
    assert psnr(full, im.resize((1238, 928), Image.Resampling.LANCZOS)) > 45
