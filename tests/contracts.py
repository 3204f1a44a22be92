"""The four contracts of the image gate (issue 12), checked over a folder of inputs.

Used by the seeded damaged-file test (``test_gate.py``) and the real-world corpus test
(``test_corpus.py``). Every command runs through its real entry point (CliRunner), once over all
inputs where the command takes many (``inspect``, ``resize``) and once per input for
``ask --dry-run``; the gate's own verdict (:func:`vision_cli.imaging.preflight.judge`) says which
findings ``resize`` can fix.

1. ``resize`` writes an output iff the gate has no finding it cannot fix (strictly with
   ``--verify`` on both sides; without it, ``resize`` may also fail an input whose data it had
   to decode, and then ``inspect --verify`` says ``unreadable`` too). Every output passes
   ``inspect`` without an error or a fixable warning, and every output of ``resize --verify``
   (and every output ``resize`` encoded itself) loads fully in Pillow.
2. ``ask --dry-run`` (which verifies by default) plans an image iff ``inspect --verify`` has no
   finding ``resize`` cannot fix, and exits 1 with nothing planned otherwise.
3. The same problem gets the same code and sentence from ``inspect``, ``resize`` and ``ask``.
4. No input gives a traceback.
"""

from __future__ import annotations

import collections
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from typer.testing import CliRunner, Result

from vision_cli import catalog, judging
from vision_cli.cli.app import app
from vision_cli.imaging import preflight

#: Warnings ``resize`` fixes: none of them may be left on an output.
FIXED_BY_RESIZE = {"will-be-downscaled", "exif-rotated", "cmyk", "animated", "extension-mismatch"}


@dataclass
class Counts:
    """What a run found, for the test output."""

    files: int = 0
    status: collections.Counter[str] = field(default_factory=collections.Counter)
    refused: collections.Counter[str] = field(default_factory=collections.Counter)
    written: int = 0
    slowest: tuple[float, str] = (0.0, "")

    def __str__(self) -> str:
        return (
            f"{self.files} files; inspect status: {dict(sorted(self.status.items()))}; "
            f"refused by the gate, by code: {dict(sorted(self.refused.items()))}; "
            f"resize wrote {self.written}; slowest file through ask --dry-run: "
            f"{self.slowest[1]} ({self.slowest[0]:.2f} s)"
        )


def _invoke(runner: CliRunner, *args: str | Path) -> Result:
    result = runner.invoke(app, [str(a) for a in args])
    out = result.stdout + result.stderr
    assert "Traceback" not in out, out  # contract 4
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args,
        result.exception,
    )
    return result


def _jsonl(result: Result) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return {row.get("path") or row.get("input"): row for row in rows if "summary" not in row}


def check_all(inputs: list[Path], work: Path, *, ask: bool = True) -> Counts:
    """Run the four contracts over ``inputs`` (named so that no two outputs collide: ``resize``
    refuses a second input for one output name); ``work`` is an empty scratch folder."""
    runner = CliRunner()
    lim = judging.Limits(tier=catalog.resolve(catalog.load().default).tier)
    work.mkdir(parents=True, exist_ok=True)
    listing = work / "inputs.txt"
    listing.write_text("".join(f"{p}\n" for p in inputs))
    counts = Counts(files=len(inputs))

    inspect = ("inspect", "--files-from", listing, "--format", "jsonl", "-j", "1")
    inspected = _jsonl(_invoke(runner, *inspect))
    verified = _jsonl(_invoke(runner, *inspect, "--verify"))
    out, out_verified = work / "out", work / "out-verified"
    resize = ("resize", "--files-from", listing, "-j", "1", "--format", "jsonl")
    resized = _jsonl(_invoke(runner, *resize, "--out", out))
    resized_verified = _jsonl(_invoke(runner, *resize, "--out", out_verified, "--verify"))
    for path in inputs:
        key = str(path)
        gate = preflight.judge(path, lim, extension=path.suffix.lower())
        gate_v = preflight.judge(path, lim, extension=path.suffix.lower(), verify=True)
        record, record_v = inspected[key], verified[key]
        counts.status[record["status"]] += 1
        # contract 3: inspect reports exactly the gate's findings
        assert [f["message"] for f in record["findings"]] == [f.message for f in gate.findings]
        assert [f["message"] for f in record_v["findings"]] == [f.message for f in gate_v.findings]
        refusal, refusal_v = gate.refusal, gate_v.refusal
        if refusal_v is not None:
            counts.refused[refusal_v.code.value] += 1
        # contract 1, with --verify on both sides: written iff nothing unfixable
        done_v = resized_verified[key]
        assert (done_v["action"] != "failed") == (refusal_v is None), (key, done_v, refusal_v)
        if refusal_v is not None:
            assert (done_v["findings"][0]["code"], done_v["error"]) == (
                refusal_v.code.value,
                refusal_v.message,
            )
        # contract 1 without --verify: never writes what the gate refuses, and fails more only
        # for damage that --verify finds too
        done = resized[key]
        if refusal is not None:
            assert done["action"] == "failed", (key, done)
            assert (done["findings"][0]["code"], done["error"]) == (
                refusal.code.value,
                refusal.message,
            )  # contract 3
        elif done["action"] == "failed":
            assert done["findings"][0]["code"] == "unreadable" and refusal_v is not None, (
                key,
                done,
            )
        else:
            counts.written += 1
            if done["action"] != "copied":
                _loads(Path(done["output"]))
        if done_v["action"] != "failed":
            _loads(Path(done_v["output"]))
        if ask:
            _ask(runner, path, refusal_v, counts)
    for folder in (out, out_verified):
        if folder.exists():
            _outputs_pass(runner, folder)
    return counts


def _loads(path: Path) -> None:
    with Image.open(path) as im:
        im.load()


def _outputs_pass(runner: CliRunner, folder: Path) -> None:
    """Every output passes inspect: no error, and no warning that resize fixes."""
    for row in _jsonl(_invoke(runner, "inspect", folder, "--format", "jsonl")).values():
        codes = {f["code"] for f in row["findings"]}
        assert row["status"] != "error" and not codes & FIXED_BY_RESIZE, row


def _ask(runner: CliRunner, path: Path, refusal: judging.Finding | None, counts: Counts) -> None:
    """Contract 2: ask --dry-run plans exactly what the gate (verifying) lets through."""
    started = time.perf_counter()
    result = _invoke(runner, "ask", path, "--dry-run", "-p", "what is this?")
    took = time.perf_counter() - started
    if took > counts.slowest[0]:
        counts.slowest = (took, path.name)
    if refusal is None:
        assert result.exit_code == 0, (path, result.stderr)
    else:
        assert result.exit_code == 1, (path, result.stdout)
        assert f"{refusal.message} [{refusal.code.value}]" in result.stderr.replace("\n", " "), (
            path,
            result.stderr,
            refusal,
        )
        assert '"messages"' not in result.stdout  # nothing planned
