"""The spec's known answers (shared/spec/claude-vision.md), shared by the tests that check them."""

from __future__ import annotations

Size = tuple[int, int]

#: Current (patch) rule, from the documentation's own examples:
#: input -> ((api size, tokens) standard tier, (api size, tokens) high-res tier). Tokens None: the
#: documentation gives only the size, so the patch rule on that size is the expectation.
CURRENT_TABLE: list[tuple[Size, tuple[Size, int | None], tuple[Size, int | None]]] = [
    ((200, 200), ((200, 200), 64), ((200, 200), 64)),
    ((1000, 1000), ((1000, 1000), 1296), ((1000, 1000), 1296)),
    ((1092, 1092), ((1092, 1092), 1521), ((1092, 1092), 1521)),
    ((1920, 1080), ((1456, 819), 1560), ((1920, 1080), 2691)),
    ((2000, 1500), ((1270, 952), 1564), ((2000, 1500), 3888)),
    ((3840, 2160), ((1456, 819), 1560), ((2576, 1449), 4784)),
    ((1075, 1520), ((924, 1307), None), ((1075, 1520), None)),
]

#: The seed's legacy table: size -> tokens (Claude Sonnet 4.5 at $3 per million input tokens).
LEGACY_TABLE: list[tuple[Size, int]] = [
    ((200, 200), 54),
    ((1000, 1000), 1334),
    ((1092, 1092), 1590),
]

#: The seed's largest sizes the API does not resize, per aspect ratio.
LARGEST_UNRESIZED: list[Size] = [(1092, 1092), (951, 1268), (896, 1344), (819, 1456), (784, 1568)]
