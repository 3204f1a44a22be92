"""``imaging``: pieces of header reading that are easier to pin down alone than through inspect."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests import imagekit as k
from vision_cli.imaging import probe as imaging
from vision_cli.imaging import tails

BODY = k.exif_bytes(6).removeprefix(b"Exif\x00\x00")
IEND = k.png_chunk(b"IEND", b"")


def test_an_exif_chunk_in_the_tail_is_found() -> None:
    tail = os.urandom(300) + k.png_chunk(b"eXIf", BODY) + IEND
    assert tails.png_tail_exif(tail) == BODY


def test_the_letters_alone_are_not_a_chunk() -> None:
    fake = len(BODY).to_bytes(4, "big") + b"eXIf" + BODY + b"\x00\x00\x00\x00"  # CRC wrong
    assert tails.png_tail_exif(os.urandom(100) + fake + IEND) is None
    assert tails.png_tail_exif(b"eXIf" + BODY) is None  # no length before it


def test_a_chunk_cut_by_the_start_or_end_of_the_tail_is_not_read() -> None:
    chunk = k.png_chunk(b"eXIf", BODY)
    assert tails.png_tail_exif(chunk[:-2]) is None  # its CRC is not all there
    assert tails.png_tail_exif(chunk[2:] + IEND) is None  # its length is not all there


def test_the_last_of_two_candidates_that_checks_out_wins() -> None:
    other = k.exif_bytes(3).removeprefix(b"Exif\x00\x00")
    tail = k.png_chunk(b"eXIf", other) + b"junk eXIf junk" + IEND
    assert tails.png_tail_exif(tail) == other


def test_memory_reuse_leaves_pillows_own_setting_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    core: Any = Image.core  # type: ignore[attr-defined]  # documented, not re-exported
    previous = core.get_blocks_max(), core.get_block_size()
    try:
        core.set_blocks_max(1)
        core.set_block_size(1 << 16)
        monkeypatch.setenv("PILLOW_BLOCKS_MAX", "1")
        monkeypatch.setenv("PILLOW_BLOCK_SIZE", "64k")
        imaging.reuse_memory()
        assert (core.get_blocks_max(), core.get_block_size()) == (1, 1 << 16)
        monkeypatch.delenv("PILLOW_BLOCKS_MAX")
        monkeypatch.delenv("PILLOW_BLOCK_SIZE")
        imaging.reuse_memory()
        assert core.get_blocks_max() == imaging.KEPT_BLOCKS
        assert core.get_block_size() == imaging.BLOCK_BYTES
    finally:
        core.set_blocks_max(previous[0])
        core.set_block_size(previous[1])
