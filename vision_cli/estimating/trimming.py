"""``estimate --trim``: decode each checked image, as ``resize --trim`` does, to find the borders
it would cut, and price what is left.

Without ``--trim`` an estimate reads headers only; with it, every image the gate lets through is
read again and its first frame decoded (within the pixel budget, a JPEG at full scale: the same
:func:`~vision_cli.imaging.trim.trimmed_frame` that ``resize``, ``ask`` and ``compare`` trim
with, so the box and the tokens are the ones they would produce). One image at a time.
"""

from __future__ import annotations

from vision_cli import fetching, inspecting, judging, sources
from vision_cli.estimating.costing import EstimatePlan, EstimateRow, row_from_record
from vision_cli.imaging import decode, trim
from vision_cli.judging import Finding


def trimmed_row(
    item: sources.Input | sources.Problem,
    rec: inspecting.Record,
    data: bytes | None,
    plan: EstimatePlan,
    max_source_pixels: int,
) -> EstimateRow:
    """The row of ``rec`` priced with ``--trim`` (``plan.trim_fuzz``). ``data``: the bytes the
    check read (standard input, a URL), else the file is read here. An image the gate refuses is
    not decoded; one that cannot be decoded to look at its borders gets that finding (``resize
    --trim`` would fail it the same way) and is not priced. What ``resize`` fixes (an image over
    8000 px) is looked at: the row then says what the API would reject, as it does without
    ``--trim``."""
    assert plan.trim_fuzz is not None
    refused = any(f.severity is judging.Severity.ERROR and not f.fixable for f in rec.findings)
    if refused or isinstance(item, sources.Problem):
        return row_from_record(rec, plan)
    try:
        if data is None:
            data = fetching.read_bytes(item)
        _, _, box = trim.trimmed_frame(data, plan.trim_fuzz, max_source_pixels, None)
    except sources.SourceError as exc:
        return row_from_record(rec, plan, trim_failure=Finding(exc.code, exc.message, final=True))
    except decode.TransformError as exc:
        return row_from_record(rec, plan, trim_failure=exc.finding)
    return row_from_record(rec, plan, box)
