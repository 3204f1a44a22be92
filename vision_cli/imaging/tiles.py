"""``--tile`` (Pillow only): cut one image into the tiles of its grid, each prepared like a whole
image.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from vision_cli import limits, policy, tiling
from vision_cli.imaging import probe, transform
from vision_cli.imaging.decode import Target, TransformError, pillow_errors
from vision_cli.imaging.transform import PreparedImage
from vision_cli.imaging.trim import head_of, like_source, upright_frame
from vision_cli.judging import Code, Finding


@dataclass(frozen=True)
class Tiled:
    """An image cut into tiles, each prepared like a whole image; ``tiles`` in reading order."""

    grid: tiling.TileGrid
    tiles: tuple[PreparedImage, ...]
    source_format: str

    def placements(self) -> list[tiling.TilePlacement]:
        """Each tile's offset and scale in the original (see :class:`tiling.TilePlacement`)."""
        return [
            tiling.placement(self.grid, tile, (p.width, p.height))
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
) -> Tiled | None:
    """Cut ``data`` (upright, as a viewer shows it) into the tiles ``spec`` asks for and prepare
    each one; None when the grid is a single tile (``--tile auto`` on an image that needs none).
    ``found`` is the gate's probe of ``data``: the caller has let it through the gate, and each
    tile goes through :func:`prepare` as a whole image would. A photo's tiles stay JPEG under
    ``to="auto"``. :class:`TransformError` when it cannot be done.
    """
    with pillow_errors():
        if found is None:
            found = probe.probe_bytes(data)
        head = head_of(found)
        try:
            grid = spec.grid_for(*head.upright_size, size_policy)
        except ValueError as exc:  # a grid finer than the image allows
            raise TransformError(Finding(Code.TOO_SMALL, str(exc), final=True)) from None
        if len(grid) == 1:
            return None
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
    return Tiled(grid, tuple(tiles), head.format)
