"""HEIC and HEIF: read with the optional extra (pillow-heif), named in the message without it."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import Run, picture


def heic(size: tuple[int, int] = (1200, 900), orientation: int = 1) -> bytes:
    import pillow_heif  # a test dependency: its absence must fail, not skip

    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    params: dict[str, object] = {"quality": 80}
    if orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        params["exif"] = exif.tobytes()
    picture(size).save(buf, format="HEIF", **params)
    return buf.getvalue()


@pytest.fixture
def phone_photo(tmp_path: Path) -> Path:
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(heic())
    return path


def test_with_the_extra_heic_is_read_and_reported(run: Run, phone_photo: Path) -> None:
    result = run("inspect", phone_photo, "--json")
    (rec,) = json.loads(result.stdout)["images"]
    assert rec["format"] == "HEIF" and (rec["width"], rec["height"]) == (1200, 900)
    assert rec["media_type"] is None and rec["tokens"] == 43 * 33
    assert [f["code"] for f in rec["findings"]] == ["unsupported-format"]
    assert "vision-cli resize" in rec["findings"][0]["message"]
    assert result.exit_code == 1


def test_resize_converts_heic(run: Run, phone_photo: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run("resize", phone_photo, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    (rec,) = json.loads(result.stdout)["images"]
    assert rec["action"] in ("resized", "converted") and rec["format_after"] == "JPEG"
    (made,) = out.iterdir()
    assert made.suffix == ".jpg"
    after = json.loads(run("inspect", made, "--json").stdout)["images"][0]
    assert after["status"] == "ok" and after["media_type"] == "image/jpeg"


def test_the_full_decode_reads_heic_as_the_gate_does(
    run: Run, phone_photo: Path, tmp_path: Path
) -> None:
    """--verify decodes the whole image, and is on by default for ask: it must read a HEIC as
    the gate did (it once tried the other formats only, and called every HEIC "not an image",
    so ask refused every iPhone photo)."""
    (rec,) = json.loads(run("inspect", phone_photo, "--verify", "--json").stdout)["images"]
    assert [f["code"] for f in rec["findings"]] == ["unsupported-format"]
    result = run("ask", phone_photo, "--dry-run", "-p", "hi")
    assert result.exit_code == 0, result.stderr
    assert "converted from HEIF" in result.stderr
    result = run("resize", phone_photo, "--verify", "--out", tmp_path / "out")
    assert result.exit_code == 0 and any((tmp_path / "out").iterdir())


def test_without_the_extra_the_message_names_it(
    run: Run, phone_photo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # `import pillow_heif` now fails
    (rec,) = json.loads(run("inspect", phone_photo, "--json").stdout)["images"]
    assert rec["format"] == "HEIF" and rec["width"] is None
    assert [f["code"] for f in rec["findings"]] == ["unsupported-format"]
    message = rec["findings"][0]["message"]
    assert "pip install pillow-heif" in message and "`heif` extra" in message
    result = run("resize", phone_photo, "--out", phone_photo.parent / "out", "--json")
    assert result.exit_code == 1
    assert "pip install pillow-heif" in json.loads(result.stdout)["images"][0]["error"]
