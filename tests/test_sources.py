"""Inputs: URLs from a real local HTTP server, and the walk's edge cases."""

from __future__ import annotations

import contextlib
import glob
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from PIL import Image

from tests.conftest import MakeImage, Run, encode, picture, records
from tests.fakeapi import FakeClaudeAPI
from vision_cli import fetching, limits, sources
from vision_cli.judging import Code

PNG = encode(picture((640, 480)), "PNG")


class Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}

    def do_GET(self) -> None:
        status, headers, body = self.routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    Handler.routes = {
        "/cat.png": (200, {"Content-Type": "image/png"}, PNG),
        "/moved": (302, {"Location": "/cat.png"}, b""),
        "/to-ftp": (302, {"Location": "ftp://example.invalid/cat.png"}, b""),
        "/huge.png": (200, {}, PNG + b"\0" * 200_000),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/broken.png": (500, {}, b"internal error"),
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_url_inputs(run: Run, web: str) -> None:
    urls = (f"{web}/cat.png", f"{web}/moved", f"{web}/missing.png")
    result = run("inspect", *urls, "-f", "jsonl", "--allow-private-urls")
    cat, moved, missing = records(result)
    assert cat["path"] == f"{web}/cat.png" and cat["media_type"] == "image/png"
    assert cat["bytes"] == len(PNG) and cat["status"] == "ok"
    assert moved["status"] == "ok"
    assert missing["findings"][0]["code"] == "not-found"
    assert "HTTP 404" in missing["findings"][0]["message"]
    assert result.exit_code == 1


def test_a_urls_fragment_is_not_part_of_its_output_name(run: Run, web: str, tmp_path: Path) -> None:
    """``resize URL#top`` wrote ``cat.png#top.png``: the query was left out of the name, the
    fragment was not."""
    out = tmp_path / "out"
    result = run("resize", f"{web}/cat.png#top", "--out", out, "--allow-private-urls")
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["cat.png"]


def test_urls_in_a_files_from_list_are_downloaded(
    run: Run, web: str, make_image: MakeImage
) -> None:
    """A URL in a ``--files-from`` list was taken for a path: "no such file: check the path"."""
    listing = f"{web}/cat.png\n{make_image('a.png', (300, 200))}\n{web}/missing.png\n"
    result = run(
        "inspect", "--files-from", "-", "-f", "jsonl", "--allow-private-urls", input=listing
    )
    cat, local, missing = records(result)
    assert cat["path"] == f"{web}/cat.png" and cat["status"] == "ok"
    assert local["status"] == "ok"
    assert "HTTP 404" in missing["findings"][0]["message"]
    refused = records(run("inspect", "--files-from", "-", "-f", "jsonl", input=listing))[0]
    assert "--allow-private-urls" in refused["findings"][0]["message"]


def test_a_server_error_is_not_blamed_on_the_url(run: Run, web: str) -> None:
    """An HTTP 500 said "check the URL", as a 404 does; the server failed, not the address."""
    (broken,) = records(run("inspect", f"{web}/broken.png", "-f", "jsonl", "--allow-private-urls"))
    assert broken["findings"][0]["message"] == "the server answered HTTP 500: try again later."


def test_a_link_loop_is_said_as_a_loop_not_a_missing_file(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two links to each other (or one to itself) were "a symbolic link to a file that does not
    exist", in a walk and named."""
    folder = tmp_path / "links"
    folder.mkdir()
    (folder / "a.png").symlink_to("b.png")
    (folder / "b.png").symlink_to("a.png")
    (folder / "self.png").symlink_to("self.png")
    monkeypatch.chdir(tmp_path)
    for args in (["links"], ["links/a.png", "links/b.png", "links/self.png"]):
        found = records(run("inspect", *args, "-f", "jsonl"))
        assert [r["findings"][0]["message"] for r in found] == [
            "a symbolic link that leads back to itself (a loop): fix the link."
        ] * 3, args


def test_url_redirect_to_another_scheme_and_loops(web: str) -> None:
    with pytest.raises(sources.SourceError, match="not http"):
        fetching.fetch(f"{web}/to-ftp", cap=10_000_000, allow_private=True)
    with pytest.raises(sources.SourceError, match="too many redirects"):
        fetching.fetch(f"{web}/loop", cap=10_000_000, allow_private=True)


def test_url_size_cap(web: str) -> None:
    with pytest.raises(sources.SourceError) as exc:
        fetching.fetch(f"{web}/huge.png", cap=100_000, allow_private=True)
    assert exc.value.code is Code.FILE_TOO_LARGE
    whole = fetching.fetch(f"{web}/huge.png", cap=1_000_000, allow_private=True)
    assert len(whole) == len(PNG) + 200_000


def test_unreachable_url_is_one_finding(run: Run) -> None:
    url = "http://127.0.0.1:9/x.png"
    (rec,) = records(run("inspect", url, "-f", "jsonl", "--allow-private-urls"))
    assert rec["findings"][0]["code"] == "not-found"
    assert "download failed" in rec["findings"][0]["message"]


MALFORMED_URLS = [
    "http://example.com/\x1b[31mred.png",
    "http://example.com/a\nb.png",
    "http://example.com/red.png?q=\udcff",  # the byte 0xff, as a name that is not UTF-8 holds it
    "http://[bad/x.png",
    "http://xn--/x.png",
    f"http://{'a' * 64}.example/x.png",
    "http://127.0.0.1:abc/x.png",
    "http://127.0.0.1:99999/x.png",
]


@pytest.mark.parametrize("private", [[], ["--allow-private-urls"]])
def test_a_malformed_url_fails_alone(run: Run, make_image: MakeImage, private: list[str]) -> None:
    """Each of these crashed the run (exit 70, the inputs after it lost): an invalid URL is one
    error row, shown escaped, and the other inputs go on."""
    good = make_image("good.png", (300, 200))
    result = run("inspect", *MALFORMED_URLS, good, *private)
    assert result.exit_code == 1, result.output
    assert "internal error" not in result.output
    assert result.stdout.count("not a valid URL") == len(MALFORMED_URLS)
    assert "\x1b" not in result.stdout and "\\x1b[31m" in result.stdout
    rows = records(run("inspect", *MALFORMED_URLS, good, *private, "-f", "jsonl"))
    assert [r["path"] for r in rows] == [*MALFORMED_URLS, str(good)]
    assert [r["status"] for r in rows] == ["error"] * len(MALFORMED_URLS) + ["ok"]


def test_a_url_with_a_control_character_is_never_sent(
    run: Run, api: FakeClaudeAPI, make_image: MakeImage
) -> None:
    """``ask`` (``--source auto``) sent a URL holding an escape sequence to the API as it was."""
    result = run("ask", "https://example.com/\x1b[2Jcat.png", make_image("b.png"), "-p", "hi")
    assert result.exit_code == 1, result.output
    assert "not a valid URL" in result.stderr and "\\x1b[2J" in result.stderr
    assert api.messages_requests() == []


@pytest.mark.parametrize("url", ["http://xn--/x.png", "http://a\x1b/x.png"])
def test_fetch_says_a_url_it_cannot_read_is_not_valid(url: str) -> None:
    for private in (False, True):
        with pytest.raises(sources.SourceError, match="not a valid URL"):
            fetching.fetch(url, cap=1000, allow_private=private)


def test_relative_paths_below_roots(make_image: MakeImage, tmp_path: Path) -> None:
    make_image("tree/a/b.png")
    make_image("tree/c.jpg")
    items = list(sources.iter_inputs([str(tmp_path / "tree")], sources.Selection()))
    assert [i.relative.as_posix() for i in items if isinstance(i, sources.Input)] == [
        "a/b.png",
        "c.jpg",
    ]
    (single,) = sources.iter_inputs([str(tmp_path / "tree/a/b.png")], sources.Selection())
    assert isinstance(single, sources.Input) and single.relative == Path("b.png")


def test_glob_root_is_the_part_before_the_wildcard(make_image: MakeImage, tmp_path: Path) -> None:
    make_image("g/x/one.png")
    pattern = str(tmp_path / "g" / "**" / "*.png")
    (item,) = sources.iter_inputs([pattern], sources.Selection())
    assert isinstance(item, sources.Input)
    assert item.root == tmp_path / "g" and item.relative == Path("x/one.png")


def test_symlink_cycles_are_not_followed(make_image: MakeImage, tmp_path: Path) -> None:
    make_image("loop/a.png")
    (tmp_path / "loop" / "again").symlink_to(tmp_path / "loop")
    items = list(sources.iter_inputs([str(tmp_path / "loop")], sources.Selection()))
    assert [i.label for i in items] == [str(tmp_path / "loop" / "a.png")]


def test_a_folder_reached_by_many_links_is_walked_once(
    run: Run, make_image: MakeImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two folders linking to each other were walked until the path was too long (``ask`` sent
    one image 21 times), and two links to one folder walked it twice: only links back to an
    ancestor were cut. Every command sees each image once."""
    make_image("cyc/a/red.png", (300, 200))
    (tmp_path / "cyc" / "c").mkdir()
    (tmp_path / "cyc" / "a" / "toc").symlink_to("../c")
    (tmp_path / "cyc" / "c" / "toa").symlink_to("../a")
    make_image("shared/blue.png", (300, 200))
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "x1").symlink_to("../shared")
    (tmp_path / "two" / "x2").symlink_to("../shared")
    monkeypatch.chdir(tmp_path)
    for args, paths in [
        (["cyc/a"], ["cyc/a/red.png"]),
        (["cyc"], ["cyc/a/red.png"]),
        (["cyc/a", "cyc/c"], ["cyc/a/red.png"]),
        (["two"], ["two/x1/blue.png"]),
    ]:
        found = records(run("inspect", *args, "--format", "jsonl"))
        assert [r["path"] for r in found] == paths, args
    estimated = json.loads(run("estimate", "cyc", "two", "--json").stdout)["images"]
    assert [r["path"] for r in estimated] == ["cyc/a/red.png", "two/x1/blue.png"]
    dry = run("ask", "cyc", "two", "--dry-run", "--json", "-p", "hi")
    assert dry.exit_code == 0, dry.stderr
    blocks = json.loads(dry.stdout)["request"]["messages"][0]["content"]
    assert sum(block["type"] == "image" for block in blocks) == 2


def test_a_glob_that_matches_a_file_and_its_folders_names_it_once(
    run: Run, make_image: MakeImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``g/**`` matches ``g/``, ``g/x/`` and ``g/x/one.png``: the folders were walked and the
    file named too, so one argument named the image three times (and ``ask`` sent it thrice)."""
    make_image("g/x/one.png", (300, 200))
    monkeypatch.chdir(tmp_path)
    found = records(run("inspect", "g/**", "--format", "jsonl"))
    assert [r["path"] for r in found] == ["g/x/one.png"]


def test_a_glob_over_folders_linking_to_each_other_ends(
    run: Run, make_image: MakeImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's glob follows links to folders with no check: ``'cyc/**'`` over two folders
    linking to each other named x.png by ever longer paths (two links into one folder doubled
    them at each step) until the memory was gone. A ``**`` enters each folder once, as a folder
    walk does, for every command. The first run is in a child process with 1 GB of address
    space, so a regression fails instead of taking the machine."""
    make_image("cyc/a/x.png", (300, 200))
    (tmp_path / "cyc" / "b").mkdir()
    (tmp_path / "cyc" / "a" / "tob").symlink_to("../b")
    (tmp_path / "cyc" / "a" / "tob2").symlink_to("../b")
    (tmp_path / "cyc" / "b" / "toa").symlink_to("../a")
    code = (
        "import resource;"
        "resource.setrlimit(resource.RLIMIT_AS,(1<<30,1<<30));"
        "from vision_cli.cli.app import entrypoint;"
        "entrypoint(['inspect','cyc/**','--format','jsonl'])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [json.loads(line)["path"] for line in proc.stdout.splitlines()] == ["cyc/a/x.png"]
    monkeypatch.chdir(tmp_path)
    for pattern in ("cyc/**/*.png", "cyc/*/**/*.png", "**/*.png", "cyc/**/**/*.png"):
        found = records(run("inspect", pattern, "--format", "jsonl"))
        assert [r["path"] for r in found] == ["cyc/a/x.png"], pattern
    estimated = json.loads(run("estimate", "cyc/**", "--json").stdout)["images"]
    assert [r["path"] for r in estimated] == ["cyc/a/x.png"]
    dry = run("ask", "cyc/*/**/*.png", "--dry-run", "--json", "-p", "hi")
    assert dry.exit_code == 0, dry.stderr
    blocks = json.loads(dry.stdout)["request"]["messages"][0]["content"]
    assert sum(block["type"] == "image" for block in blocks) == 1


@pytest.mark.parametrize("hidden", [False, True])
def test_a_glob_over_a_tree_without_links_matches_what_python_globs(
    make_image: MakeImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hidden: bool
) -> None:
    """The ``**`` that enters each folder once gives, over a tree without links, the inputs
    Python's ``glob`` gave, in the same order: hidden files, ``--exclude``, a pattern's own
    ``.*``, folders matched and walked, names with ``./`` and ``//`` kept as matched."""
    for name in [
        "g/x/one.png", "g/x/y/two.jpg", "g/x/x/three.png", "g/.h/four.png", "g/.h/z/five.jpg",
        "g/x/.six.png", "g/seven.PNG", "g/k/l/m/eight.jpg", "top.jpg", ".hid/nine.jpg",
        "g-h/ten.png", "g/skip/eleven.png",
    ]:  # fmt: skip
        make_image(name, (300, 200))
    (tmp_path / "g" / "notes.txt").write_text("not an image")
    (tmp_path / "g" / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    sel = sources.Selection(hidden=hidden, exclude=("skip",))
    patterns = [
        "g/**/*.png", "**/*.jpg", "g/**", "**", "**/", "g/*/**/*.png", "g/**/x/**",
        "**/**/*.jpg", "g/.*/**", "./g/**/*.png", "g//**//*.png", "g/x/**/*", "?/**/?/*",
        f"{glob.escape(str(tmp_path))}/g*/**/*.png", "g/**/x", "nothing/**", "g/**/*.gif",
    ]  # fmt: skip

    def labels() -> list[list[tuple[str, str]]]:
        found = [list(sources.iter_inputs([pattern], sel)) for pattern in patterns]
        return [[(type(item).__name__, item.label) for item in items] for items in found]

    new = labels()
    monkeypatch.setattr(
        sources,
        "_glob",
        lambda pattern, hidden: glob.iglob(pattern, recursive=True, include_hidden=hidden),
    )
    assert new == labels()
    assert ("Input", "g/x/x/three.png") in new[patterns.index("g/**/x/**")]


def test_a_link_to_an_image_that_is_not_there_is_reported(
    run: Run, make_image: MakeImage, tmp_path: Path
) -> None:
    """A repository's ``logo.png`` linking to a file that was not checked out is a broken asset:
    a walk reports it (not-found, saying it is a link) instead of skipping it, as naming it does;
    a dangling link without an image extension, or a hidden one, is still left out of a walk."""
    folder = tmp_path / "assets"
    make_image("assets/ok.png")
    (folder / "logo.png").symlink_to(tmp_path / "shared" / "logo.png")
    (folder / "notes.txt").symlink_to(tmp_path / "shared" / "notes.txt")
    (folder / ".old.png").symlink_to(tmp_path / "shared" / "old.png")
    found = list(sources.iter_inputs([str(folder)], sources.Selection()))
    assert [(type(i).__name__, Path(i.label).name) for i in found] == [
        ("Problem", "logo.png"),
        ("Input", "ok.png"),
    ]
    walked = run("inspect", folder, "--format", "jsonl")
    named = run("inspect", folder / "logo.png", "--format", "jsonl")
    assert walked.exit_code == named.exit_code == 1
    broken = [r for r in [*records(walked), *records(named)] if r["path"].endswith("logo.png")]
    assert len(broken) == 2
    for rec in broken:
        (finding,) = rec["findings"]
        assert finding["code"] == "not-found"
        assert finding["message"].startswith("a symbolic link to a file that does not exist")
    result = run("resize", folder, "--out", tmp_path / "out")
    assert result.exit_code == 1 and (tmp_path / "out" / "ok.png").exists()
    missing = run("inspect", tmp_path / "nothing.png", "--format", "jsonl")
    (rec,) = records(missing)
    assert rec["findings"][0]["message"] == "no such file: check the path."


def test_files_from_missing_list_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    result = run("inspect", "--files-from", tmp_path / "nope.txt")
    assert result.exit_code == 2
    flat = "".join(c for c in result.stderr if c not in "│ \n")  # typer's box wraps long paths
    assert "nope.txt" in flat


def flat(stderr: str) -> str:
    """typer's boxed error as one string (its box wraps long lines)."""
    return "".join(c for c in stderr if c not in "│ \n")


@pytest.mark.parametrize(
    "listing", [None, b"", b"b.png\nc\0d.png\n"], ids=["missing", "folder", "nul-in-line-2"]
)
def test_a_list_that_cannot_be_read_stops_the_run_before_any_input(
    make_image: MakeImage, tmp_path: Path, listing: bytes | None
) -> None:
    """The --files-from list was opened only after the images named before it were taken (and
    reported by a command that streams): it is opened, and its first read checked, before the
    first input is given, so its usage error comes with nothing done yet."""
    image = make_image("a.png")
    listed = tmp_path / ("list.txt" if listing is not None else "nope.txt")
    if listing == b"":
        listed.mkdir()
    elif listing is not None:
        listed.write_bytes(listing)
    items = sources.iter_inputs([str(image)], sources.Selection(files_from=str(listed)))
    with pytest.raises(sources.UsageError, match="--files-from"):
        next(items)


@pytest.mark.parametrize("problem", ["missing", "folder"])
def test_a_list_that_cannot_be_read_leaves_stdout_empty_in_every_command(
    run: Run, make_image: MakeImage, tmp_path: Path, problem: str
) -> None:
    """``estimate ok.png --files-from /missing -f csv`` printed ok.png's row (and the header),
    then the usage error: every command that takes inputs prints nothing, writes nothing and
    exits 2, whatever it streams."""
    image = make_image("ok.png", (300, 200))
    before = image.read_bytes()
    listed = tmp_path / "nope.txt"
    if problem == "folder":
        listed = tmp_path / "lists"
        listed.mkdir()
    present = sorted(os.listdir(tmp_path))
    out, results = tmp_path / "out", tmp_path / "r.jsonl"
    commands: list[list[str | Path]] = [
        ["inspect", "-f", "jsonl", "-j", "1"],
        ["inspect", "-f", "csv", "-j", "1"],
        ["inspect"],
        ["estimate", "-f", "csv"],
        ["estimate", "-f", "jsonl"],
        ["estimate"],
        ["resize", "--out", out, "-f", "jsonl", "-j", "1"],
        ["resize", "--in-place"],
        ["ask", "--dry-run", "-p", "hi"],
        ["ask", "--each", "--dry-run", "-p", "hi", "-o", "-"],
        ["ask", "--each", "--dry-run", "-p", "hi", "-o", results],
        ["ask", "--batch", "--dry-run", "-p", "hi", "-o", results],
        ["compare", "--dry-run", "-p", "hi", image],
        ["locate", "--dry-run", "--find", "a cat"],
    ]
    for command in commands:
        result = run(*command, image, "--files-from", listed)
        assert (result.exit_code, result.stdout) == (2, ""), command
        assert f"--files-from{listed}" in flat(result.stderr), command
    assert sorted(os.listdir(tmp_path)) == present  # no out/, no r.jsonl, no backup
    assert image.read_bytes() == before


@pytest.mark.parametrize("null", [(), ("-0",)], ids=["lines", "nul"])
def test_files_from_a_stream_with_no_path_ends_with_a_usage_error(
    run: Run, null: tuple[str, ...]
) -> None:
    """``--files-from /dev/zero`` (no newline ever; with -0, NULs and never a path): one usage
    error once an entry outgrows the limit, not an endless read (MemoryError, or a run for
    ever)."""
    result = run("inspect", "--files-from", "/dev/zero", *null)
    assert result.exit_code == 2, result.stderr
    assert f"--files-from/dev/zero:morethan{limits.MAX_LIST_ENTRY_BYTES:,}bytes" in flat(
        result.stderr
    )


def test_files_from_stdin_with_an_entry_over_the_limit_is_a_usage_error(run: Run) -> None:
    listing = b"x" * (limits.MAX_LIST_ENTRY_BYTES + 1) + b"\n"
    result = run("inspect", "--files-from", "-", input=listing)
    assert result.exit_code == 2, result.stderr
    assert "--files-from-(standardinput):morethan" in flat(result.stderr)


def test_files_from_a_nul_separated_list_without_0_is_a_usage_error(
    run: Run, make_image: MakeImage, tmp_path: Path
) -> None:
    """``find -print0 | vision-cli inspect --files-from -`` (no ``-0``) crashed, exit 70, on
    the NUL byte the path could not hold: it is a usage error naming the list and its line,
    suggesting ``-0``, whether the list is standard input or a file."""
    a, b = make_image("a.png", (300, 200)), make_image("b.png", (300, 200))
    listing = os.fsencode(a) + b"\0" + os.fsencode(b) + b"\0"
    result = run("inspect", "--files-from", "-", input=listing)
    assert result.exit_code == 2, result.output
    assert "--files-from-(standardinput),line1:aNULbyte" in flat(result.stderr)
    assert "add-0" in flat(result.stderr)
    (tmp_path / "list.txt").write_bytes(os.fsencode(a) + b"\n" + listing)
    result = run("inspect", "--files-from", tmp_path / "list.txt")
    assert result.exit_code == 2, result.output
    assert "list.txt,line2:aNULbyte" in flat(result.stderr)
    assert run("inspect", "--files-from", "-", "-0", input=listing).exit_code == 0


def test_files_from_a_fifo_that_nothing_writes_into_is_a_usage_error(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list is opened as every input file is: a FIFO with no writer gets its time
    (fsutil.FIFO_WAIT_SECONDS, lowered here), then the run stops with one line naming it."""
    from vision_cli import fsutil

    monkeypatch.setattr(fsutil, "FIFO_WAIT_SECONDS", 0.2)
    fifo = tmp_path / "list"
    os.mkfifo(fifo)
    unblock = threading.Event()

    def watchdog() -> None:  # a run that waits for ever is failed, not hung
        if not unblock.wait(20):
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    guard = threading.Thread(target=watchdog, daemon=True)
    guard.start()
    started = time.monotonic()
    result = run("inspect", "--files-from", fifo)
    unblock.set()
    guard.join()
    assert time.monotonic() - started < 20
    assert result.exit_code == 2
    assert f"--files-from{fifo}(nothingwroteintoitwithin0.2s)" in flat(result.stderr)


def test_files_from_a_fifo_is_read_as_it_arrives(
    run: Run, make_image: MakeImage, tmp_path: Path
) -> None:
    """``--files-from <(find ...)`` or a FIFO with a writer: each path is an input as soon as its
    line is read, while the writer is still writing; the limit is on one entry, never on the
    list (here several times the limit)."""
    a, b = make_image("a.png", (16, 16)), make_image("b.png", (16, 16))
    fifo = tmp_path / "list"
    os.mkfifo(fifo)
    first_read = threading.Event()
    done = threading.Event()
    copies = 4 * limits.MAX_LIST_ENTRY_BYTES // len(f"{b}\n") + 1

    def writer() -> None:
        with fifo.open("wb") as fh:  # opens once the reader does, as a shell's <(...) would
            fh.write(f"{a}\n".encode())
            fh.flush()
            first_read.wait(timeout=10)  # a reader that waits for the end sees it after that
            fh.write(f"{b}\n".encode() * copies)
        done.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    items = sources.iter_inputs([], sources.Selection(files_from=str(fifo)))
    first = next(items)
    assert not done.is_set(), "the first path waited for the end of the list"
    first_read.set()
    rest = list(items)
    thread.join(timeout=10)
    assert first == sources.Input(str(a), path=a)
    assert [i.label for i in rest] == [str(b)] * copies

    def write_list() -> None:
        with fifo.open("wb") as fh:
            fh.write(f"{a}\n{b}\n".encode())

    thread = threading.Thread(target=write_list, daemon=True)
    thread.start()
    result = run("inspect", "--files-from", fifo, "-f", "jsonl")
    thread.join(timeout=10)
    assert result.exit_code == 0, result.stderr
    assert [r["path"] for r in records(result)] == [str(a), str(b)]


@pytest.mark.parametrize("null", [(), ("-0",)], ids=["lines", "nul"])
def test_files_from_a_list_with_a_byte_order_mark(
    run: Run, make_image: MakeImage, tmp_path: Path, null: tuple[str, ...]
) -> None:
    """A list saved by a Windows editor or PowerShell starts with UTF-8's byte-order mark: its
    first path is read without it (it was not-found, its name printed with an invisible mark)."""
    image = make_image("a.png")
    sep = b"\0" if null else b"\r\n"
    listing = tmp_path / "list.txt"
    listing.write_bytes(b"\xef\xbb\xbf" + bytes(image) + sep + bytes(image) + sep)
    result = run("inspect", "--files-from", listing, "--format", "jsonl", *null)
    assert [r["status"] for r in records(result)] == ["ok", "ok"], result.stdout


def test_files_from_a_utf16_list_is_a_usage_error_that_says_so(
    run: Run, make_image: MakeImage, tmp_path: Path
) -> None:
    listing = tmp_path / "list.txt"
    listing.write_bytes(f"{make_image('a.png')}\r\n".encode("utf-16"))  # with its BOM
    result = run("inspect", "--files-from", listing)
    assert result.exit_code == 2
    assert "isUTF-16text(asPowerShell5's`>`writesit)" in flat(result.stderr)


def test_jfif_and_mpo_files_are_found_by_walks(run: Run, tmp_path: Path) -> None:
    """Windows browsers save JPEGs as .jfif, cameras write .mpo: walks take both, and resize
    names the main picture of an MPO .jpg (it was named ``3d.mpo.jpg``)."""
    folder = tmp_path / "in"
    folder.mkdir()
    picture((300, 200)).save(folder / "download.jfif", "JPEG")
    pics = [picture((300, 200)), picture((300, 200))]
    pics[0].save(folder / "3d.mpo", "MPO", save_all=True, append_images=pics[1:])
    (folder / "notes.txt").write_text("not an image")
    found = records(run("inspect", folder, "--format", "jsonl"))
    assert sorted((Path(r["path"]).name, r["format"]) for r in found) == [
        ("3d.mpo", "MPO"),
        ("download.jfif", "JPEG"),
    ]
    result = run("resize", folder, "--out", tmp_path / "out", "--to", "jpeg", "--quality", "80")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["3d.jpg", "download.jfif"]


def test_apng_files_are_found_and_their_still_output_is_named_png(run: Run, tmp_path: Path) -> None:
    """Browsers and apngasm save animated PNGs as .apng: walks take them, and resize's output,
    one still frame, is ``NAME.png`` (it was ``NAME.apng.png``; keeping ``.apng`` would promise
    an animation), with --out and --in-place alike."""
    folder = tmp_path / "in"
    folder.mkdir()
    frames = [picture((300, 200)), picture((300, 200)).transpose(Image.Transpose.ROTATE_180)]
    frames[0].save(folder / "spinner.apng", save_all=True, append_images=frames[1:])
    picture((300, 200)).save(folder / "still.APNG", "PNG")
    found = records(run("inspect", folder, "--format", "jsonl"))
    assert sorted((Path(r["path"]).name, r["format"], r["status"]) for r in found) == [
        ("spinner.apng", "PNG", "warning"),  # animated: Claude sees the first frame
        ("still.APNG", "PNG", "ok"),
    ]
    result = run("resize", folder, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["spinner.png", "still.png"]
    with Image.open(tmp_path / "out" / "spinner.png") as im:
        assert getattr(im, "n_frames", 1) == 1
    result = run("resize", folder / "spinner.apng", "--in-place")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["spinner.png", "still.APNG"]


def test_an_exclude_pattern_with_a_slash_matches_from_the_working_folder(
    run: Run, make_image: MakeImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--exclude 'sub/gen/*'`` matched the path as typed only: ``inspect $PWD`` (or a path
    given from elsewhere) checked the files it names. It is read from the working folder too,
    as the shell's own globs are."""
    make_image("sub/gen/a.png", (300, 200))
    make_image("sub/b.png", (300, 200))
    monkeypatch.chdir(tmp_path)
    for target in (".", str(tmp_path), "sub", str(tmp_path / "sub")):
        found = records(run("inspect", target, "--format", "jsonl", "--exclude", "sub/gen/*"))
        assert [Path(r["path"]).name for r in found] == ["b.png"], target


@pytest.mark.parametrize("command", ["inspect", "estimate", "resize"])
def test_an_input_named_again_is_taken_once_by_every_command(
    run: Run, make_image: MakeImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """``resize dir dir/a.png --out d`` failed a.png ("already the output of ..."), exit 1,
    while ``ask --each`` took it once and ``inspect``/``estimate`` counted it twice."""
    make_image("imgs/a.png", (300, 200))
    make_image("imgs/b.png", (300, 200))
    monkeypatch.chdir(tmp_path)
    args = ["imgs", "imgs/a.png", "./imgs/a.png", str(tmp_path / "imgs" / "b.png")]
    extra = {"resize": ["--out", "out", "--json"], "inspect": ["--json"], "estimate": ["--json"]}
    result = run(command, *args, *extra[command])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["images"]
    assert [Path(r.get("path") or r["input"]).name for r in rows] == ["a.png", "b.png"]


@pytest.mark.parametrize(
    "pattern", ["node_modules/", "./node_modules/", "**/node_modules", "**/node_modules/"]
)
def test_exclude_patterns_written_as_in_gitignore_mean_the_folder(
    run: Run, make_image: MakeImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pattern: str
) -> None:
    """``--exclude node_modules/`` (as ``.gitignore`` writes a folder) and ``**/node_modules``
    excluded nothing: a folder's path has no trailing slash, and ``**/`` wanted a folder above."""
    make_image("node_modules/pkg/a.png", (300, 200))
    make_image("src/node_modules/b.png", (300, 200))
    make_image("src/c.png", (300, 200))
    monkeypatch.chdir(tmp_path)
    found = records(run("inspect", ".", "--exclude", pattern, "--format", "jsonl"))
    kept = [r["path"] for r in found]
    if pattern.startswith("./"):  # a slash before the end: from the working folder only
        assert kept == ["src/c.png", "src/node_modules/b.png"]
    else:  # a name, at any depth (a trailing slash does not anchor, as in .gitignore)
        assert kept == ["src/c.png"]
