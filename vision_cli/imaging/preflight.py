"""The gate every command calls: probe + policy -> findings, one judgement per input.

``inspect`` and ``estimate`` report what :func:`judge` finds; ``resize`` and ``ask`` (``compare``,
``--each``, ``--batch``) first ask :func:`judge` and go on only when :meth:`Gated.refusal` is None,
so nothing the gate calls an error that ``resize`` cannot fix is ever copied, written or sent,
and the same problem gets the same code and sentence everywhere. :func:`output_findings` judges
what ``resize`` and ``ask`` produce, so their warnings (``too-small``) travel with the output.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, NamedTuple

from vision_cli import judging, policy
from vision_cli.imaging import probe
from vision_cli.judging import Code, Finding, Severity


class Gated(NamedTuple):
    """One input judged: its probe (None when it could not be read) and every finding."""

    probe: probe.Probe | None
    findings: tuple[Finding, ...]
    #: The format, when it is known although the input could not be read (HEIF without the extra).
    format: str | None = None
    #: What the API does with it (None when it could not be read).
    prediction: policy.Prediction | None = None
    #: The bytes of a path that is a pipe or a device, read whole to probe it: they cannot be
    #: read again (:func:`vision_cli.imaging.probe.probe_path_keeping`).
    data: bytes | None = None

    @property
    def refusal(self) -> Finding | None:
        """The first error that ``resize`` cannot fix, if any: the input stops here."""
        for finding in self.findings:
            if finding.severity is Severity.ERROR and not finding.fixable:
                return finding
        return None


def judge(
    source: Path | bytes,
    lim: judging.Limits,
    *,
    extension: str = "",
    verify: bool = False,
) -> Gated:
    """Probe ``source`` (a file, or bytes already read) and judge it against ``lim``.

    ``verify`` decodes the whole image (within the pixel budget) and turns damage inside the
    data into an ``unreadable`` finding, the same one for every command.
    """
    kept: bytes | None = None
    try:
        if isinstance(source, Path):
            found, kept = probe.probe_path_keeping(source)
        else:
            found = probe.probe_bytes(source, extension)
    except probe.ProbeError as exc:
        return Gated(None, (exc.finding,), exc.format)
    if verify:
        damage = find_damage(source if kept is None else kept, found)
        if damage:
            return Gated(found, (Finding(Code.UNREADABLE, damage, final=True),), data=kept)
    facts = found.facts
    pred = policy.predict(facts.width, facts.height, lim.tier)
    return Gated(found, tuple(judging.judge(facts, lim, pred)), prediction=pred, data=kept)


def output_findings(
    fmt: str, width: int, height: int, n_bytes: int, lim: judging.Limits
) -> tuple[Finding, ...]:
    """What the gate says about an image ``resize`` or ``ask`` produced (``too-small`` for the
    sliver a panorama becomes): the same judgement ``inspect`` makes of that output."""
    facts = judging.ImageFacts(format=fmt, width=width, height=height, bytes=n_bytes)
    return tuple(judging.judge(facts, lim))


def find_damage(source: Path | bytes, found: probe.Probe) -> str | None:
    """Decode the whole image to find damage inside the data; a sentence when it is damaged.

    PNG chunks' CRCs are checked too; a JPEG's data is decoded in full at 1/8 scale (every bit
    is still read). Nothing over :data:`probe.PIXEL_BUDGET` is decoded (the gate refuses it anyway).
    """
    if found.facts.decode_pixels > probe.PIXEL_BUDGET:
        return None
    try:
        opened: IO[bytes] = io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
    except OSError as exc:
        return f"cannot read it again ({probe.describe(exc)}): check the file."
    try:
        heif = found.facts.format == "HEIF"  # read as the gate read it
        with opened, probe.quiet():
            im = probe.open_image(opened, heif=heif)
            if im.format == "PNG":
                im.verify()  # checks every chunk's CRC
                opened.seek(0)
                im = probe.open_image(opened)
            elif im.format in ("JPEG", "MPO"):
                im.draft(im.mode, (1, 1))
            im.load()
    except probe.ProbeError as exc:
        return exc.message
    except Exception as exc:
        return probe.damaged(exc)
    return None
