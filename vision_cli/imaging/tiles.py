"""``--tile`` (Pillow only): cut one image into the tiles of its grid, each prepared like a whole
image.
"""

from __future__ import annotations

import io
from typing import NamedTuple

from vision_cli import limits, policy, tiling
from vision_cli.imaging import probe, transform
from vision_cli.imaging.decode import Target, TransformError, pillow_errors
from vision_cli.imaging.transform import PreparedImage
from vision_cli.imaging.trim import Box, head_of, like_source, trimmed_frame, upright_frame
from vision_cli.judging import Code, Finding


class Tiled(NamedTuple):
    """An image cut into tiles, each prepared like a whole image; ``tiles`` in reading order.

    With ``--trim``, ``grid`` cuts the trimmed image, ``trim`` is the box kept
    ``(left, top, right, bottom)`` in the upright original, and every offset is in the original.
    """

    grid: tiling.TileGrid
    tiles: tuple[PreparedImage, ...]
    source_format: str
    trim: Box | None = None
    #: The upright original's width and height (the grid's, unless trimmed).
    source_size: tuple[int, int] | None = None

    @property
    def width(self) -> int:
        return self.source_size[0] if self.source_size else self.grid.width

    @property
    def height(self) -> int:
        return self.source_size[1] if self.source_size else self.grid.height

    def placements(self) -> list[tiling.TilePlacement]:
        """Each tile's offset and scale in the original (see :class:`tiling.TilePlacement`)."""
        origin = (self.trim[0], self.trim[1]) if self.trim else (0, 0)
        return [
            tiling.placement(self.grid, tile, (p.width, p.height), origin)
            for tile, p in zip(self.grid.tiles, self.tiles, strict=True)
        ]


def prepare_tiles(
    data: bytes,
    spec: tiling.TileSpec,
    *,
    size_policy: policy.SizePolicy,
    found: probe.Probe | None = None,
    to: Target = Target.auto,
    quality: int | None = None,
    max_bytes: int = limits.DEFAULT_MAX_BYTES,
    max_dimension: int = limits.MAX_DIMENSION,
    max_source_pixels: int = limits.PIXEL_BUDGET,
    trim_fuzz: int | None = None,
) -> Tiled | None:
    """Cut ``data`` (upright, as a viewer shows it) into the tiles ``spec`` asks for and prepare
    each one; None when the grid is a single tile (``--tile auto`` on an image that needs none).
    ``found`` is the gate's probe of ``data``: the caller has let it through the gate, and each
    tile goes through :func:`prepare` as a whole image would. A photo's tiles stay JPEG under
    ``to="auto"``. ``trim_fuzz`` (``--trim``): the borders are cut first (the same
    :func:`~.trim.trimmed_frame` as a whole image's) and the trimmed image is tiled.
    :class:`TransformError` when it cannot be done.
    """
    with pillow_errors():
        if found is None:
            found = probe.probe_bytes(data)
        head = head_of(found)
        frame = None
        box: Box | None = None
        size = head.upright_size
        if trim_fuzz is not None:  # the trimmed size decides the grid: decode first
            frame, head, box = trimmed_frame(data, trim_fuzz, max_source_pixels, found)
            if box is not None:
                frame = frame.crop(box)
                size = frame.size
        try:
            grid = spec.grid_for(*size, size_policy)
        except ValueError as exc:  # a grid finer than the image allows
            raise TransformError(Finding(Code.TOO_SMALL, str(exc), final=True)) from None
        if len(grid) == 1:
            return None
        if frame is None:
            frame, head = upright_frame(data, max_source_pixels, found)
        icc = frame.info.get("icc_profile")
        tile_to = like_source(head.format, to)
        tiles = []
        for tile in grid.tiles:
            buffer = io.BytesIO()
            frame.crop(tile.box).save(buffer, "PNG", compress_level=1, icc_profile=icc)
            tiles.append(
                transform.prepare(
                    buffer.getvalue(),
                    size_policy=size_policy,
                    to=tile_to,
                    quality=quality,
                    max_bytes=max_bytes,
                    reencode=True,  # the crop is a quick PNG: always encode it properly
                    max_dimension=max_dimension,
                    max_source_pixels=max_source_pixels,
                )
            )
    return Tiled(grid, tuple(tiles), head.format, box, head.upright_size)
