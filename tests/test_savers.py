"""Token savers through the commands: --snap in resize, ask and estimate."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import MakeImage, Run, records
from tests.fakeapi import FakeClaudeAPI


def test_resize_snap_drops_the_partial_patch_row_and_column(
    run: Run, make_image: MakeImage, tmp_path: Path
) -> None:
    src = make_image("square.png", (1000, 1000))
    plain = records(run("resize", src, "--out", tmp_path / "plain", "-f", "jsonl"))
    assert (plain[0]["width_after"], plain[0]["tokens_after"]) == (1000, 1296)
    snapped = run("resize", src, "--out", tmp_path / "snap", "--snap", "-f", "jsonl")
    assert snapped.exit_code == 0, snapped.stderr
    (rec,) = records(snapped)
    assert (rec["width_after"], rec["height_after"]) == (980, 980)
    assert (rec["tokens_before"], rec["tokens_after"]) == (1296, 1225)
    table = run("resize", src, "--out", tmp_path / "t", "--snap")
    assert "1,296 → 1,225 tokens" in table.stdout
    strict = records(
        run("resize", src, "--out", tmp_path / "s", "--snap", "--snap-max", "1%", "-f", "jsonl")
    )
    assert strict[0]["width_after"] == 1000  # 20 px of 1000 is 2%: over the limit


def test_a_bad_snap_max_is_a_usage_error(run: Run, make_image: MakeImage, tmp_path: Path) -> None:
    src = make_image("a.png")
    for command in (["resize", src, "--out", tmp_path / "o"], ["ask", src, "--dry-run"]):
        result = run(*command, "--snap", "--snap-max", "lots")
        assert result.exit_code == 2 and "--snap-max" in result.stderr


def test_ask_snap_sends_the_snapped_size(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    src = make_image("square.png", (1000, 1000))
    assert run("ask", src, "--snap").exit_code == 0
    assert run("ask", src).exit_code == 0
    snapped, plain = api.messages_requests()
    assert [(i.width, i.height, i.tokens) for i in snapped.images] == [(980, 980, 1225)]
    assert [(i.width, i.height, i.tokens) for i in plain.images] == [(1000, 1000, 1296)]
