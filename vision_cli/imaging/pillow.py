"""Pillow's ``Image`` module, set up once for every command: its decompression-bomb guard at
vision-cli's pixel budget, for every decode in the process.

Every module that opens or decodes images takes ``Image`` from here, never from ``PIL``
directly (``tests/test_layers.py`` holds them to it), so the guard is in force before the first
image is opened. :mod:`~vision_cli.imaging.probe` imports it only when an image's header must be
read by Pillow: a run over plain JPEGs, whose headers :mod:`~vision_cli.imaging.jpeghead` reads,
never imports Pillow (about 20 ms of start-up).
"""

from __future__ import annotations

from PIL import Image

from vision_cli import limits

# Pillow's own guard stays on, at the budget; the reader lifts it only to read a header (see
# probe._unguarded), never to decode.
Image.MAX_IMAGE_PIXELS = limits.PIXEL_BUDGET

__all__ = ["Image"]
