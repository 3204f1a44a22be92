"""The real-world corpus: the test images that ship in Pillow's own source distribution, written
by nobody here (about 1,500 odd, damaged and hostile files), through the gate's four contracts
(``tests/contracts.py``).

The source distribution of the installed Pillow version is fetched once from the package index
with pip (``pip download --no-binary :all: --no-deps pillow==VERSION``) and its ``Tests/images``
folder kept in ``tests/.cache/`` (git-ignored). When the index cannot be reached the test fails
with a sentence saying so: a green run always means the corpus ran. The counts (files, per status,
refusals by code, the slowest file) and the run's time are printed in the test output
(``pytest -s`` or the ``-rA`` summary).
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import PIL
import pytest

from tests import contracts

CACHE = Path(__file__).resolve().parent / ".cache"
#: Seconds pip may take to fetch the source distribution (47 MB) and read its metadata.
FETCH_TIMEOUT = 900


def pillow_test_images() -> Path:
    """``Tests/images`` of the installed Pillow's source distribution, fetched once."""
    version = PIL.__version__
    folder = CACHE / f"pillow-{version}-images"
    complete = folder / ".complete"
    if complete.exists():
        return folder
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:",
            "--no-deps", f"pillow=={version}", "-d", tmp,
        ]  # fmt: skip
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=FETCH_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"fetching Pillow {version}'s source distribution took over "
                f"{FETCH_TIMEOUT} s: check the connection to the package index."
            )
        sdists = sorted(Path(tmp).glob("pillow-*.tar.gz"))
        if proc.returncode != 0 or not sdists:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.fail(
                f"the package index could not be reached for Pillow {version}'s source "
                f"distribution (pip download: {last}): the real-world corpus needs it, so this "
                "run cannot pass; check the network and run again."
            )
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        with tarfile.open(sdists[0]) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if member.isfile() and parts[1:3] == ("Tests", "images"):
                    member.name = str(Path(*parts[3:]))
                    tar.extract(member, folder, filter="data")
    complete.touch()
    return folder


@pytest.mark.slow
def test_pillow_test_images_keep_the_four_contracts(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    source = pillow_test_images()
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.name != ".complete")
    assert len(files) > 1000, f"only {len(files)} files in {source}: delete it to fetch again"
    inputs = []
    for i, path in enumerate(files):
        copy = tmp_path / "in" / f"{i:04}-{path.name}"  # numbered: output names never clash
        copy.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, copy)
        inputs.append(copy)
    started = time.perf_counter()
    counts = contracts.check_all(inputs, tmp_path / "work")
    took = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    record_property(
        "summary",
        f"Pillow {PIL.__version__} Tests/images: {counts}; {took:.0f} s; "
        f"peak RSS of the test process {peak} MB",
    )
