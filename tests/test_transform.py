"""``transform.prepare``: the in-memory core that `resize` and `ask` share."""

from __future__ import annotations

import io
import resource
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image, ImageCms, ImageOps

from tests import imagekit as k
from vision_cli import limits, policy
from vision_cli.imaging.decode import TransformError
from vision_cli.imaging.transform import PreparedImage, prepare

RECOMMENDED = policy.SizePolicy.recommended()
HIGH_RES = policy.SizePolicy.native(policy.tier("high-res"))


def run(data: bytes, **kw: object) -> PreparedImage:
    kw.setdefault("size_policy", RECOMMENDED)
    return prepare(data, **kw)  # type: ignore[arg-type]


def assert_upright_mark(out: Image.Image) -> None:
    """The red block is in the top-left corner, and only there."""
    w, h = out.size
    rgb = out.convert("RGB")
    assert k.near(rgb.getpixel((w // 20, h // 20)), k.RED), rgb.getpixel((w // 20, h // 20))
    for corner in (
        (w - 1 - w // 20, h // 20),
        (w // 20, h - 1 - h // 20),
        (w - 1 - w // 20, h - 1 - h // 20),
    ):
        assert k.near(rgb.getpixel(corner), k.BLUE), (corner, rgb.getpixel(corner))


# --------------------------------------------------------------------------------------------------
# Orientation
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_orientation_applied_to_pixels(orientation: int, fmt: str) -> None:
    upright = k.marked((3000, 2000))
    stored = k.stored_for(upright, orientation)
    data = k.encode(stored, fmt, exif=k.exif_bytes(orientation), quality=90)
    # the test's own construction agrees with Pillow's reading of the tag
    assert_upright_mark(ImageOps.exif_transpose(Image.open(io.BytesIO(data))))

    result = run(data)

    out = k.opened(result.data)
    assert out.size == (result.width, result.height) == RECOMMENDED.target(3000, 2000)
    assert_upright_mark(out)
    assert out.getexif().get(ExifTags.Base.Orientation) is None
    assert (result.source_width, result.source_height) == stored.size
    assert result.source_orientation == orientation
    assert result.action == "resized"


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_png_orientation_after_the_image_data_is_applied(orientation: int) -> None:
    upright = k.marked((3000, 2000))
    data = k.with_late_exif(
        k.encode(k.stored_for(upright, orientation), "PNG"), k.exif_bytes(orientation)
    )
    assert k.png_chunks(data)[-2:] == [b"eXIf", b"IEND"]
    result = run(data)
    out = k.opened(result.data)
    assert out.size == RECOMMENDED.target(3000, 2000) and result.source_orientation == orientation
    assert_upright_mark(out)


def test_compliant_png_with_a_late_orientation_is_turned_not_copied() -> None:
    upright = k.marked((400, 300))
    data = k.with_late_exif(k.encode(k.stored_for(upright, 6), "PNG"), k.exif_bytes(6))
    result = run(data)
    assert result.action == "converted" and result.source_orientation == 6
    out = k.opened(result.data)
    assert out.size == (400, 300)
    assert_upright_mark(out)


@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
def test_rotation_alone_is_a_conversion_and_never_upscales(orientation: int) -> None:
    upright = k.marked((300, 200))
    data = k.encode(k.stored_for(upright, orientation), "JPEG", exif=k.exif_bytes(orientation))
    result = run(data)
    assert (result.width, result.height) == (300, 200)
    assert result.action == "converted"
    assert_upright_mark(k.opened(result.data))


# --------------------------------------------------------------------------------------------------
# Colour: CMYK, 16-bit, palette, grey + alpha, ICC profiles
# --------------------------------------------------------------------------------------------------


def cmyk_red() -> Image.Image:
    return Image.new("CMYK", (2000, 1500), (0, 255, 255, 0))


def test_adobe_cmyk_jpeg_comes_out_red() -> None:
    data = k.encode(cmyk_red(), "JPEG")
    assert b"Adobe" in data  # Pillow writes Adobe's inverted polarity and says so
    result = run(data)
    out = k.opened(result.data)
    assert out.mode == "RGB" and result.format == "JPEG"
    assert k.near(out.getpixel((10, 10)), (255, 0, 0))


def test_plain_cmyk_jpeg_without_adobe_marker_comes_out_red() -> None:
    # Stored ink values as they are (no inversion), as a non-Adobe writer does.
    inverted = Image.eval(cmyk_red(), lambda v: 255 - v)  # Pillow inverts again on save
    data = k.without_adobe_marker(k.encode(inverted, "JPEG"))
    assert b"Adobe" not in data
    out = k.opened(run(data).data)
    assert k.near(out.getpixel((10, 10)), (255, 0, 0))


@pytest.mark.parametrize("adobe", [True, False], ids=["adobe", "plain"])
def test_a_cmyk_jpeg_that_otherwise_complies_is_converted_not_copied(adobe: bool) -> None:
    # Small enough to be sent as it is, but many decoders show CMYK wrong (a plain one, read as
    # Adobe's, comes out as a negative): what is sent is RGB, with its real colours.
    small = Image.new("CMYK", (400, 300), (0, 255, 255, 0))
    data = k.encode(small if adobe else Image.eval(small, lambda v: 255 - v), "JPEG")
    if not adobe:
        data = k.without_adobe_marker(data)
    result = run(data)
    out = k.opened(result.data)
    assert result.action == "converted" and (result.width, result.height) == (400, 300)
    assert out.mode == "RGB" and result.format == "JPEG"
    assert k.near(out.getpixel((10, 10)), (255, 0, 0))
    assert run(result.data).action == "copied"  # and the output complies


def test_16_bit_grey_png_is_scaled_not_clipped() -> None:
    ramp = Image.linear_gradient("L").resize((2000, 1000)).convert("I")
    sixteen = ramp.point(lambda v: v * 257).convert("I;16")
    data = k.encode(sixteen, "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    out = k.opened(run(data).data).convert("L")
    w, h = out.size
    top, middle, bottom = (out.getpixel((w // 2, y)) for y in (2, h // 2, h - 3))
    assert isinstance(top, int) and isinstance(middle, int) and isinstance(bottom, int)
    assert top < 10 and bottom > 245 and 100 < middle < 155  # not washed out, not black


def test_32_bit_grey_tiff_is_scaled_to_its_brightest_value() -> None:
    """A 32-bit grey TIFF holding values far above 16 bits (scientific data): scaled from 0 to its
    brightest value, not clipped to white past 65535 nor divided by 16 bits' range."""
    ramp = Image.linear_gradient("L").rotate(90).resize((2000, 1000)).convert("I")
    data = k.encode(ramp.point(lambda v: v * 1_000_000), "TIFF")
    assert Image.open(io.BytesIO(data)).mode == "I"
    out = k.opened(run(data).data).convert("L")
    w, h = out.size
    left, middle, right = (out.getpixel((x, h // 2)) for x in (2, w // 2, w - 3))
    assert isinstance(left, int) and isinstance(middle, int) and isinstance(right, int)
    assert left < 10 and right > 245 and 100 < middle < 155


def test_palette_with_transparency_keeps_alpha() -> None:
    im = Image.new("P", (2000, 1000), 0)
    im.putpalette([255, 255, 255, 200, 30, 30] + [0] * (256 * 3 - 6))
    im.paste(1, (1000, 0, 2000, 1000))
    data = k.encode(im, "PNG", transparency=0)
    result = run(data)
    out = k.opened(result.data)
    assert result.format == "PNG" and out.mode == "RGBA"
    w, h = out.size
    left, right = out.getpixel((w // 4, h // 2)), out.getpixel((3 * w // 4, h // 2))
    assert isinstance(left, tuple) and left[3] == 0
    assert k.near(right, (200, 30, 30, 255), 2)


def test_grey_with_alpha_stays_grey_with_alpha() -> None:
    grey = Image.new("L", (2000, 1000), 90)
    alpha = Image.linear_gradient("L").rotate(90).resize((2000, 1000))
    data = k.encode(Image.merge("LA", (grey, alpha)), "PNG")
    out = k.opened(run(data).data)
    assert out.mode == "LA"
    w, h = out.size
    assert out.getpixel((w - 2, h // 2))[0] == 90  # type: ignore[index]
    assert out.getpixel((1, h // 2))[1] < 5 and out.getpixel((w - 2, h // 2))[1] > 250  # type: ignore[index]


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_transparency_is_kept(fmt: str) -> None:
    im = k.gradient((3000, 2000)).convert("RGBA")
    im.putalpha(Image.linear_gradient("L").rotate(90).resize((3000, 2000)))
    result = run(k.encode(im, fmt, lossless=True) if fmt == "WEBP" else k.encode(im, fmt))
    out = k.opened(result.data)
    assert result.format == fmt and out.mode == "RGBA" and result.action == "resized"
    w, h = out.size
    left, right = out.getpixel((1, h // 2)), out.getpixel((w - 2, h // 2))
    assert isinstance(left, tuple) and isinstance(right, tuple)
    assert left[3] < 10 and right[3] > 245


def test_opaque_alpha_is_dropped() -> None:
    data = k.encode(k.gradient((2000, 1000)).convert("RGBA"), "PNG")
    assert k.opened(run(data).data).mode == "RGB"


def test_icc_profile_is_converted_to_srgb_and_dropped() -> None:
    im = Image.new("RGB", (2000, 1000), (255, 0, 0))
    data = k.encode(im, "JPEG", icc_profile=k.swapped_profile(), quality=95)
    result = run(data)
    out = k.opened(result.data)
    # pure red in the swapped profile is pure green in sRGB
    assert k.near(out.getpixel((500, 300)), (0, 255, 0))
    assert "icc_profile" not in out.info


def test_icc_conversion_keeps_alpha() -> None:
    im = Image.new("RGBA", (2000, 1000), (255, 0, 0, 128))
    data = k.encode(im, "PNG", icc_profile=k.swapped_profile())
    out = k.opened(run(data).data)
    assert out.mode == "RGBA"
    assert k.near(out.getpixel((500, 300)), (0, 255, 0, 128), 3)


def test_srgb_profile_leaves_colours_alone() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    im = Image.new("RGB", (2000, 1000), (200, 100, 50))
    out = k.opened(run(k.encode(im, "PNG", icc_profile=srgb)).data)
    assert out.getpixel((5, 5)) == (200, 100, 50)
    assert "icc_profile" not in out.info


@pytest.mark.parametrize("name", ["GIMP built-in Linear sRGB", "Linear RGB"])
def test_a_profile_is_judged_by_what_it_does_not_by_its_name(name: str) -> None:
    """A linear-light profile with sRGB's primaries (GIMP and Krita write them) is converted,
    whatever its name says: grey 128 in linear light is about 188 in sRGB."""
    p = k.SRGB_PRIMARIES_D50
    linear = k.rgb_profile(name, p["r"], p["g"], p["b"], gamma=1.0)
    im = Image.new("RGB", (2000, 1000), (128, 128, 128))
    out = k.opened(run(k.encode(im, "PNG", icc_profile=linear)).data)
    assert k.near(out.getpixel((5, 5)), (188, 188, 188), 3)


def test_dark_16_bit_grey_stays_dark() -> None:
    """16-bit grey whose brightest value is 255 of 65535 is nearly black, and stays so: it was
    taken for 8-bit values and came out as a full ramp to white."""
    ramp = Image.linear_gradient("L").rotate(90).resize((2000, 1000)).convert("I")
    out = k.opened(run(k.encode(ramp.convert("I;16"), "PNG")).data).convert("L")
    low, high = out.getextrema()
    assert low == 0 and isinstance(high, int) and high <= 1


def test_16_bit_grey_colour_key_becomes_alpha() -> None:
    """A 16-bit grey PNG's tRNS colour key: transparent where the key is, as for 8 bits."""
    im = Image.new("I", (2000, 1000), 50_000)
    im.paste(1000, (0, 0, 1000, 1000))
    data = k.encode(im.convert("I;16"), "PNG", transparency=1000)
    assert Image.open(io.BytesIO(data)).info["transparency"] == 1000
    out = k.opened(run(data).data)
    assert out.mode == "LA"
    w, h = out.size
    left, right = out.getpixel((w // 20, h // 2)), out.getpixel((w - w // 20, h // 2))
    assert isinstance(left, tuple) and isinstance(right, tuple)
    assert left[1] == 0 and right[1] == 255 and abs(right[0] - 50_000 // 257) <= 2


def test_a_palette_of_rgba_colours_keeps_its_alpha() -> None:
    """A colour-mapped TGA whose colour map holds alpha (index 0 transparent red): alpha kept,
    not the hidden red shown."""
    width, height = 300, 200
    header = struct.pack("<BBBHHBHHHHBB", 0, 1, 1, 0, 2, 32, 0, 0, width, height, 8, 0x20)
    colour_map = bytes((0, 0, 255, 0, 0, 255, 0, 255))  # BGRA: transparent red, opaque green
    pixels = bytes(1 if x < width // 2 else 0 for _ in range(height) for x in range(width))
    data = header + colour_map + pixels
    assert Image.open(io.BytesIO(data)).palette.mode == "RGBA"  # type: ignore[union-attr]
    result = run(data)
    out = k.opened(result.data)
    assert result.format == "PNG" and out.mode == "RGBA"
    assert out.getpixel((10, 100)) == (0, 255, 0, 255)
    transparent = out.getpixel((290, 100))
    assert isinstance(transparent, tuple) and transparent[3] == 0


# --------------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------------


def animation(fmt: str) -> bytes:
    frames = [Image.new("RGB", (300, 200), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return k.encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


@pytest.mark.parametrize(("fmt", "expected"), [("GIF", "PNG"), ("WEBP", "WEBP"), ("PNG", "PNG")])
def test_animation_becomes_its_first_frame(fmt: str, expected: str) -> None:
    data = animation(fmt)
    assert getattr(Image.open(io.BytesIO(data)), "is_animated", False)
    result = run(data)
    out = Image.open(io.BytesIO(result.data))
    assert result.format == expected == out.format
    assert not getattr(out, "is_animated", False)
    assert k.near(out.convert("RGB").getpixel((10, 10)), (255, 0, 0), 8)


def test_mpo_becomes_a_plain_jpeg() -> None:
    pics = [k.gradient((400, 300)), k.noise((400, 300))]
    data = k.encode(pics[0], "MPO", save_all=True, append_images=pics[1:])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    result = run(data)
    out = Image.open(io.BytesIO(result.data))
    assert result.format == "JPEG" and out.format == "JPEG"
    assert len(result.data) < len(data)


@pytest.mark.parametrize("source", ["BMP", "TIFF"])
def test_other_formats_become_png_or_jpeg_by_content(source: str) -> None:
    drawing = run(k.encode(k.flat_drawing((1200, 800)), source))
    photo = run(k.encode(k.gradient((1200, 800)), source))
    assert (drawing.format, drawing.action) == ("PNG", "converted")
    assert (photo.format, photo.action) == ("JPEG", "converted")
    assert k.opened(drawing.data).getcolors(16) is not None  # kept exact


def test_transparency_makes_png_whatever_the_colours() -> None:
    im = k.gradient((1200, 800)).convert("RGBA")
    im.putalpha(Image.linear_gradient("L").resize((1200, 800)))
    result = run(k.encode(im, "TIFF"))
    assert result.format == "PNG" and k.opened(result.data).mode == "RGBA"


def test_ico_becomes_png() -> None:
    result = run(k.encode(k.flat_drawing((64, 64)).convert("RGBA"), "ICO", sizes=[(64, 64)]))
    assert result.format == "PNG" and result.source_format == "ICO"


@pytest.mark.parametrize(("to", "fmt"), [("jpeg", "JPEG"), ("png", "PNG"), ("webp", "WEBP")])
def test_to_forces_the_format(to: str, fmt: str) -> None:
    data = k.encode(k.gradient((600, 400)), "JPEG" if to != "jpeg" else "PNG")
    result = run(data, to=to)
    assert result.format == fmt == Image.open(io.BytesIO(result.data)).format
    assert result.media_type == limits.FORMAT_MEDIA_TYPES[fmt]
    assert result.action == "converted"


def test_forced_jpeg_lays_transparency_over_white() -> None:
    im = Image.new("RGBA", (600, 400), (0, 0, 0, 0))
    im.paste((0, 0, 255, 255), (300, 0, 600, 400))
    out = k.opened(run(k.encode(im, "PNG"), to="jpeg").data)
    assert k.near(out.getpixel((100, 200)), (255, 255, 255), 3)
    assert k.near(out.getpixel((500, 200)), (0, 0, 255), 3)


def test_quality_is_used() -> None:
    data = k.encode(k.gradient((3000, 2000)), "JPEG")
    assert run(data).quality == 85
    assert run(data, quality=60).quality == 60
    assert run(k.encode(k.gradient((3000, 2000)), "WEBP")).quality == 80


def test_heif_without_the_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from vision_cli.imaging import probe as imaging

    monkeypatch.setattr(imaging, "heif_available", lambda: False)
    data = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 64
    with pytest.raises(TransformError, match=r"pillow-heif.*`heif` extra.*pip install pillow-heif"):
        run(data)


# --------------------------------------------------------------------------------------------------
# Metadata
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_no_metadata_left(fmt: str) -> None:
    im = k.gradient((2400, 1600))
    extra: dict[str, object] = {
        "exif": k.exif_bytes(6, gps=True),
        "icc_profile": k.swapped_profile(),
    }
    if fmt == "JPEG":
        extra["comment"] = b"secret comment"
        extra["xmp"] = b"<x:xmpmeta>secret</x:xmpmeta>"
    data = k.encode(im, fmt, **extra)
    assert k.metadata_left(data)  # the source does carry metadata

    result = run(data)
    assert k.metadata_left(result.data) == []
    assert b"Exif" not in result.data and b"secret" not in result.data
    out = k.opened(result.data)
    assert not out.getexif() and not out.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert "icc_profile" not in out.info


def test_reencode_drops_metadata_of_a_compliant_image() -> None:
    data = k.encode(k.gradient((800, 600)), "JPEG", exif=k.exif_bytes(1, gps=True))
    assert run(data).action == "copied"
    result = run(data, reencode=True)
    assert result.action == "converted"
    assert k.metadata_left(result.data) == []


# --------------------------------------------------------------------------------------------------
# Copy or not, sizes, idempotence
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_compliant_image_is_copied_byte_for_byte(fmt: str) -> None:
    data = k.encode(k.flat_drawing((800, 600)), fmt)
    result = run(data)
    assert result.action == "copied" and result.data is data and result.quality is None
    assert result.format == fmt


def test_copy_needs_the_forced_format() -> None:
    data = k.encode(k.gradient((800, 600)), "PNG")
    assert run(data, to="png").action == "copied"
    assert run(data, to="jpeg").action == "converted"


def test_copy_needs_the_byte_limit() -> None:
    data = k.encode(k.noise((1000, 1000)), "PNG")
    result = run(data, max_bytes=policy.base64_length(len(data)) - 1)
    assert result.action == "converted" and result.format == "JPEG"


@pytest.mark.parametrize(
    "source",
    [
        ("JPEG", (4032, 3024), 6),
        ("PNG", (2560, 1600), 1),
        ("WEBP", (3000, 1000), 3),
        ("BMP", (1600, 1600), 1),
        ("GIF", (300, 200), 1),
    ],
)
@pytest.mark.parametrize("size_policy", [RECOMMENDED, HIGH_RES])
def test_idempotent(
    source: tuple[str, tuple[int, int], int], size_policy: policy.SizePolicy
) -> None:
    fmt, size, orientation = source
    im = k.gradient(size) if fmt != "GIF" else k.flat_drawing(size)
    params: dict[str, object] = {"exif": k.exif_bytes(orientation)} if orientation != 1 else {}
    data = animation("GIF") if fmt == "GIF" else k.encode(im, fmt, **params)
    first = prepare(data, size_policy=size_policy)
    second = prepare(first.data, size_policy=size_policy)
    assert second.action == "copied" and second.data == first.data


def test_many_image_dimension_limit_applies_without_a_policy() -> None:
    data = k.encode(k.gradient((3000, 1500)), "PNG")
    assert prepare(data, size_policy=None).action == "copied"
    result = prepare(data, size_policy=None, max_dimension=limits.MANY_IMAGES_MAX_DIMENSION)
    assert (result.width, result.height) == (2000, 1000)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    w=st.integers(1, 700),
    h=st.integers(1, 700),
    max_edge=st.integers(16, 500),
    max_pixels=st.none() | st.integers(256, 200_000),
    max_tokens=st.none() | st.integers(1, 300),
    fmt=st.sampled_from(["JPEG", "PNG", "WEBP"]),
)
def test_sizes_follow_the_policy(
    w: int,
    h: int,
    max_edge: int,
    max_pixels: int | None,
    max_tokens: int | None,
    fmt: str,
) -> None:
    pol = policy.SizePolicy(max_edge, max_pixels=max_pixels, max_tokens=max_tokens)
    data = k.encode(k.gradient((w, h)), fmt)
    result = prepare(data, size_policy=pol)
    size = (result.width, result.height)
    assert size == pol.target(w, h) == k.opened(result.data).size
    assert result.width <= w and result.height <= h  # never upscaled
    # within a pixel; a token budget rounds to whole patches, which the policy's own property
    # tests allow a little more for (tests/test_policy.py, test_fit_patches_properties)
    slack = 0 if max_tokens is None else max(w, h) / min(w, h) / 28
    assert policy.aspect_error((w, h), size) <= 1 + slack or min(size) == 1
    assert result.action == ("copied" if size == (w, h) else "resized")
    assert prepare(result.data, size_policy=pol).action == "copied"


# --------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------


def test_bomb_is_refused_from_its_header() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(TransformError, match="pixel budget"):
        run(k.png_header_only(60_000, 60_000))
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 100_000  # 60000^2 RGB would be 10 GB


def test_pixel_limit_counts_what_is_decoded() -> None:
    data = k.encode(k.gradient((3000, 3000)), "JPEG")
    png = k.encode(k.gradient((3000, 3000)), "PNG")
    # the JPEG is decoded at 1/2 scale (1500 x 1500) for the recommended policy; the PNG in full
    assert run(data, max_source_pixels=2_300_000).action == "resized"
    with pytest.raises(TransformError, match="pixel budget"):
        run(png, max_source_pixels=2_300_000)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        b"\x89PNG\r\n\x1a\n" + b"\0" * 40,
        k.encode(k.gradient((3000, 2000)), "JPEG")[:20_000],
        k.encode(k.gradient((3000, 2000)), "PNG")[:20_000],
        k.encode(k.gradient((3000, 2000)), "WEBP")[:2_000],
    ],
    ids=["empty", "text", "png-garbage", "jpeg-cut", "png-cut", "webp-cut"],
)
def test_corrupt_input_is_one_error(data: bytes) -> None:
    with pytest.raises(TransformError) as info:
        run(data)
    message = str(info.value)
    assert "\n" not in message and ":" in message


def test_unknown_target_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown target"):
        run(b"", to="tiff")
