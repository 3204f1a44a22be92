"""Turn command-line arguments into inputs: files, folders, globs, URLs, standard input, lists and
the clipboard (``clip:``).

Inputs are produced lazily and in a stable order (arguments in the order given, folders walked in
sorted order), so a run over a hundred thousand files holds one at a time. A problem with one
argument (a missing file, an unreadable folder, a glob that matches nothing) becomes a
:class:`Problem` in the stream, in its place, and the other arguments go on.

Reading the bytes of an input (files, standard input, URLs) lives in :mod:`vision_cli.fetching`.
"""

from __future__ import annotations

import codecs
import functools
import glob
import itertools
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import filter as names_matching
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Final, NamedTuple, NoReturn
from urllib.parse import urlsplit

from vision_cli import limits
from vision_cli.fsutil import link_problem, open_input, os_reason, read_at_most
from vision_cli.judging import IMAGE_EXTENSIONS, Code, too_large_input
from vision_cli.names import url_problem, without_credentials

STDIN = "-"
#: The argument that names the image on the clipboard (``--clipboard`` adds it).
CLIPBOARD = "clip:"
#: Seconds to wait for ``wl-paste`` or ``xclip``.
CLIPBOARD_TIMEOUT = 10.0
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Input:
    """One image to process. Exactly one of ``path``, ``url``, ``stdin`` or ``data`` (the
    clipboard's image, read once when the arguments are expanded) says where it is."""

    #: as given: a path as typed or found under a folder, ``-``, ``clip:``, or the URL without
    #: its ``user:password@`` (:func:`vision_cli.names.without_credentials`)
    label: str
    path: Path | None = None
    url: str | None = None
    stdin: bool = False
    data: bytes | None = field(default=None, compare=False, repr=False)
    #: The folder argument (or glob base) it was found under; outputs mirror the tree below it.
    root: Path | None = field(default=None, compare=False)
    #: A URL that may be downloaded from a loopback, private or link-local address.
    allow_private: bool = field(default=False, compare=False)

    @property
    def extension(self) -> str:
        if self.path is not None:
            return self.path.suffix.lower()
        if self.url is not None:
            return self._url_path.suffix.lower()
        return ""  # standard input and the clipboard claim no format (a copied JPEG stays JPEG)

    @property
    def _url_path(self) -> PurePosixPath:
        """The path of the URL, without its query and fragment (``a.png?v=2#top``: ``a.png``)."""
        return PurePosixPath(urlsplit(self.url or "").path)

    @property
    def relative(self) -> Path:
        """Where it sits below its root: the name alone for a file given directly."""
        if self.path is not None and self.root is not None:
            try:
                return self.path.relative_to(self.root)
            except ValueError:
                pass
        if self.path is not None:
            return Path(self.path.name)
        if self.url is not None:
            return Path(self._url_path.name or "download")
        # an output adds the extension of the format it is written in (clipboard.png, .jpg)
        return Path("clipboard" if self.label == CLIPBOARD else "stdin")


class Problem(NamedTuple):
    """An argument that yields no image: the record says so, and the others go on."""

    label: str
    code: Code
    message: str


class SourceError(Exception):
    """Reading an input failed: ``code`` is the finding it becomes."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class UsageError(ValueError):
    """The arguments cannot be combined (reported as a usage error, exit 2). ``option``: the
    option whose value is at fault, named with where it came from when that was a
    configuration file (``files-from`` in your own ``config.toml``)."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option


class Selection(NamedTuple):
    """How arguments become inputs (the options every command shares)."""

    files_from: str | None = None
    null: bool = False
    exclude: tuple[str, ...] = ()
    hidden: bool = False
    #: ``--allow-private-urls``: downloads may reach loopback, private and link-local hosts.
    allow_private_urls: bool = False


def is_url(arg: str) -> bool:
    return arg.startswith(("http://", "https://"))


def path_key(label: str) -> str:
    """What tells two labels of one local file apart from two files: its absolute path, with
    ``./``, doubled slashes and ``..`` folded (``./a.png``, ``a.png`` and ``$PWD/a.png`` are one
    image; a run keys its answers by this and the bytes' SHA-256, so a folded symbolic link
    cannot merge two different images). URLs, ``-`` and ``clip:`` are their own keys."""
    if is_url(label) or label in (STDIN, CLIPBOARD):
        return label
    return os.path.abspath(label)


def _excluded(path: Path, given: Sequence[str]) -> bool:
    """``--exclude`` matches the whole path, its name, or any folder on the way to it; a
    pattern with a ``/`` also matches the path from where it is anchored (:func:`anchored`).
    Written as in ``.gitignore``, ``node_modules/`` and ``**/node_modules`` mean the folder
    (:func:`_forms`)."""
    if not given:
        return False
    patterns = _forms(tuple(given))
    posix = path.as_posix()
    parts = path.parts
    if any(
        fnmatchcase(posix, pat) or any(fnmatchcase(part, pat) for part in parts) for pat in patterns
    ):
        return True
    if not any("/" in pat for pat in patterns):
        return False
    try:
        rooted = anchored(tuple(patterns), os.getcwd())
    except OSError:  # no working folder: patterns match the paths as given only
        return False
    return any(fnmatchcase(_absolute(path), pat) for pat in rooted)


@functools.cache
def _forms(patterns: tuple[str, ...]) -> tuple[str, ...]:
    """Each pattern as it is matched: without a trailing ``/`` (a folder's path has none), and a
    leading ``**/`` also left out (any folders above, none included), as ``.gitignore`` reads
    them; the pattern as written is kept too."""
    forms: dict[str, None] = {}
    for pat in patterns:
        bare = pat.rstrip("/") or pat
        forms.update(dict.fromkeys((pat, bare)))
        if bare.startswith("**/") and bare != "**/":
            forms[bare.removeprefix("**/")] = None
    return tuple(forms)


def _absolute(path: Path) -> str:
    return Path(os.path.abspath(path)).as_posix()  # not resolved: links are matched as named


@functools.cache
def anchored(patterns: tuple[str, ...], folder: str) -> tuple[str, ...]:
    """The patterns with a ``/`` as absolute ones, from ``folder`` (the working folder for the
    command line's; a project configuration's own folder for its patterns), so ``sub/gen/*``
    means the same files from any working folder and for any spelling of the inputs (``.``,
    ``$PWD``). An absolute pattern stays as it is, and so does one that starts with ``**/``
    (any depth: anchoring it would only narrow it)."""
    base = glob.escape(Path(folder).as_posix()).rstrip("/")
    return tuple(
        pat if pat.startswith(("/", "**/")) else f"{base}/{pat.removeprefix('./')}"
        for pat in patterns
        if "/" in pat
    )


def _hidden(name: str) -> bool:
    return name.startswith(".") and name not in (".", "..")


#: The folders a run has walked, as (device, inode): links can lead to one folder by many names.
_Walked = set[tuple[int, int]]


def _walk(folder: Path, sel: Selection, root: Path, walked: _Walked) -> Iterator[Input | Problem]:
    """Image files below ``folder``, depth first, in sorted order; unreadable folders reported.
    A folder already in ``walked`` is not walked again: a link back up the tree, two folders
    linking to each other, or two links to one folder would name its images again (and a run
    would pay for each name)."""
    try:
        entries = _entries(folder, walked)
    except OSError as exc:
        yield Problem(
            str(folder),
            Code.NOT_FOUND,
            f"cannot read this folder ({os_reason(exc)}): check its permissions.",
        )
        return
    hidden, exclude = sel.hidden, sel.exclude
    for entry in entries or ():
        name = entry.name
        if not hidden and _hidden(name):
            continue
        path = folder / name
        if exclude and _excluded(path, exclude):
            continue
        if _is_dir(entry):  # follows links, as `find -L` would; cycles are cut by `walked`
            yield from _walk(path, sel, root, walked)
        elif os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
            if _regular(entry):
                yield Input(str(path), path=path, root=root)
            elif entry.is_symlink() and (why := link_problem(entry.path)):
                yield Problem(str(path), Code.NOT_FOUND, why)  # an image to be there: said


def _entries(folder: str | Path, walked: _Walked) -> list[os.DirEntry[str]] | None:
    """The entries of ``folder`` in sorted order, and the folder added to ``walked``; None when
    it is there already (reached again, through a link). Raises OSError."""
    info = os.stat(folder)
    if (info.st_dev, info.st_ino) in walked:
        return None
    walked.add((info.st_dev, info.st_ino))
    return _listing(folder)


def _listing(folder: str | Path) -> list[os.DirEntry[str]]:
    """The entries of ``folder`` in sorted order. Raises OSError."""
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: e.name)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows links
    except OSError:
        return False


def _regular(entry: os.DirEntry[str]) -> bool:
    """Only regular files are read from a folder walk: a FIFO named ``pipe.png`` would block."""
    try:
        return entry.is_file()  # follows links; False for pipes, sockets and devices
    except OSError:
        return False


def _glob_base(pattern: str) -> Path:
    """The folder part of a pattern before its first wildcard (what outputs mirror below)."""
    parts: list[str] = []
    for part in Path(pattern).parts:
        if any(c in part for c in _GLOB_CHARS):
            break
        parts.append(part)
    return Path(*parts) if parts else Path()


def _glob(pattern: str, hidden: bool, dironly: bool = False) -> Iterator[str]:
    """What ``glob.iglob(pattern, recursive=True, include_hidden=hidden)`` yields (by Python's
    own steps: the folders matching the pattern's folder part, then its last part in each), but
    a ``**`` enters each folder once, as a folder walk does (:func:`_walk`): glob follows links
    to folders unchecked, so two folders linking to each other made ``'cyc/**'`` run until the
    memory was gone. A link to a folder is followed; a folder reached again is left out, with
    everything below it. Folders are read in sorted order, so which name of a folder is kept
    (the first reached) does not depend on the file system's order."""
    folder, name = os.path.split(pattern)
    folders = _glob(folder, hidden, dironly=True) if _GLOB_CHARS & set(folder) else [folder]
    walked: _Walked = set()  # this part's: another `**` in the pattern walks its own
    for found in folders:
        for match in _glob_in(found, name, hidden, dironly, walked):
            yield os.path.join(found, match)


def _glob_in(folder: str, name: str, hidden: bool, dironly: bool, walked: _Walked) -> Iterable[str]:
    """The names in ``folder`` (``""``: the working folder) one part of a pattern matches."""
    if name == "**":
        return _below(folder, hidden, dironly, walked)
    if _GLOB_CHARS & set(name):
        try:
            entries = _listing(folder or os.curdir)
        except OSError:  # as glob: a folder that cannot be read matches nothing in it
            entries = []
        names = [entry.name for entry in entries if not dironly or _is_dir(entry)]
        if not (hidden or name.startswith(".")):  # as glob: `.*` names hidden files itself
            names = [n for n in names if not _hidden(n)]
        return names_matching(names, name)
    if name:
        return [name] if os.path.lexists(os.path.join(folder, name)) else []
    return [name] if os.path.isdir(folder) else []  # `dir/`: folders only


def _below(folder: str, hidden: bool, dironly: bool, walked: _Walked) -> Iterator[str]:
    """What ``**`` matches in ``folder``: ``""`` (the folder itself), then every name below it
    (folders only if ``dironly``), depth first; nothing for a folder in ``walked``."""
    try:
        entries = _entries(folder or os.curdir, walked)
    except OSError:  # as glob: the folder itself still matches, nothing below it
        entries = []
    if entries is None:
        return
    yield ""
    for entry in entries:
        if not hidden and _hidden(entry.name):
            continue
        if _is_dir(entry):
            for sub in _below(os.path.join(folder, entry.name), hidden, dironly, walked):
                yield os.path.join(entry.name, sub) if sub else entry.name
        elif not dironly:
            yield entry.name


def input_folder_at(args: Sequence[str], folder: Path) -> str | None:
    """The argument whose images sit straight in ``folder`` (a folder walked, or a pattern's
    folder), if one does: outputs written there would land beside their inputs."""
    if not os.path.isdir(folder):
        return None
    for arg in args:
        if arg in (STDIN, CLIPBOARD) or is_url(arg):
            continue
        base = _glob_base(arg) if _GLOB_CHARS & set(arg) and not _is_there(Path(arg)) else Path(arg)
        if _is_folder(base) and os.path.samefile(base, folder):
            return arg
    return None


def _is_folder(path: Path) -> bool:
    """Whether ``path`` is a folder; False when the system will not say (a name too long, a
    folder above it that may not be searched): it is then taken as a file, whose read reports
    why, for that input alone."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _is_there(path: Path) -> bool:
    """Whether something (a link included) is at ``path``; True when the system will not say,
    as in :func:`_is_folder`."""
    try:
        return path.exists() or path.is_symlink()
    except OSError:
        return True


def _url_input(url: str, sel: Selection) -> Input | Problem:
    """A URL, given as an argument or in a ``--files-from`` list."""
    label = without_credentials(url)  # shown everywhere: never its password
    if why := url_problem(url):
        return Problem(label, Code.NOT_FOUND, f"not a valid URL ({why}): check the URL.")
    return Input(label, url=url, allow_private=sel.allow_private_urls)


def _expand_arg(arg: str, sel: Selection, walked: _Walked) -> Iterator[Input | Problem]:
    if arg == STDIN:
        yield Input(STDIN, stdin=True)
        return
    if arg == CLIPBOARD:
        try:
            data = read_clipboard()
        except SourceError as exc:  # more than an input may hold: that input fails
            yield Problem(CLIPBOARD, exc.code, exc.message)
        else:
            yield Input(CLIPBOARD, data=data)
        return
    if is_url(arg):
        yield _url_input(arg, sel)
        return
    path = Path(arg)
    if _is_folder(path):
        yield from _walk(path, sel, path, walked)
        return
    if not (_GLOB_CHARS & set(arg)) or _is_there(path):
        # a file named explicitly is taken whatever its extension; a missing one is reported
        yield Input(arg, path=path, root=path.parent)
        return
    base = _glob_base(arg)
    matches = sorted(match for match in _glob(arg, sel.hidden) if match)  # not "" for `**`
    if not matches:
        yield Problem(arg, Code.NOT_FOUND, "no file matches this pattern: check the pattern.")
        return
    for match in matches:
        mpath = Path(match)
        if _excluded(mpath, sel.exclude):
            continue
        if _is_folder(mpath):
            yield from _walk(mpath, sel, base, walked)
        else:
            yield Input(match, path=mpath, root=base)


#: How much of a ``--files-from`` list is asked for at once (a pipe gives what it has).
_LIST_CHUNK: Final = 64 * 1024


def _read_list(stream: BinaryIO, null: bool, name: str) -> Iterator[str]:
    """The paths of a list as they arrive (a pipe, ``<(find ...)``, a FIFO: the paths a read
    delivers, as soon as it returns), holding at most
    :data:`vision_cli.limits.MAX_LIST_ENTRY_BYTES`: more than that without a path ended by its
    separator (``/dev/zero``, with or without ``-0``) is a :class:`UsageError`, not an endless
    read. Each read is checked whole before its first path is given: a list wrong in its first
    read (a NUL byte without ``-0``, in any line) stops the run before any input
    (:func:`_opened_list`)."""
    sep = b"\0" if null else b"\n"
    most = limits.MAX_LIST_ENTRY_BYTES
    read: Callable[[int], bytes] = getattr(stream, "read1", stream.read)
    pending = _without_bom(_first_bytes(read, len(codecs.BOM_UTF8)), name)  # not ended yet
    blank = 0  # bytes of blank entries (and their separators) since the last path
    line = 0  # entries read, for a message naming one
    while chunk := read(_LIST_CHUNK):
        entries = (pending + chunk).split(sep)  # whole entries, then the one not ended yet
        pending = entries.pop()
        paths: list[str] = []
        for raw in entries:
            line += 1
            path = _path(raw, null, name, line)
            if path is None:
                blank += len(raw) + 1
            elif len(raw) > most:
                _too_long(null, name)
            else:
                blank = 0
                paths.append(path)
        if blank + len(pending) > most:
            _too_long(null, name)
        yield from paths
    path = _path(pending, null, name, line + 1)
    if path is not None:
        yield path


def _first_bytes(read: Callable[[int], bytes], count: int) -> bytes:
    """The first ``count`` bytes of a stream (fewer at its end): a pipe may give fewer at once."""
    start = b""
    while len(start) < count and (more := read(count - len(start))):
        start += more
    return start


#: The option a list's problems are about.
_LIST: Final = "--files-from"


def _without_bom(start: bytes, name: str) -> bytes:
    """A list's first bytes without the UTF-8 byte-order mark Windows editors and PowerShell
    write; a UTF-16 list (PowerShell 5's ``>``) is a :class:`UsageError` that says so."""
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UsageError(
            f"--files-from {name} is UTF-16 text (as PowerShell 5's `>` writes it): save it as "
            "UTF-8, for example with `Out-File -Encoding utf8`",
            _LIST,
        )
    return start.removeprefix(codecs.BOM_UTF8)


def _path(raw: bytes, null: bool, name: str, number: int) -> str | None:
    """One entry of a list as a path; None for a blank one. A NUL byte in a line (no path holds
    one) is a :class:`UsageError`: the list is ``find -print0``'s, read without ``-0``."""
    line = raw if null else raw.rstrip(b"\r")
    if b"\0" in line:
        raise UsageError(
            f"--files-from {name}, line {number}: a NUL byte, which no path holds: for a "
            "NUL-separated list (find -print0), add -0",
            _LIST,
        )
    return os.fsdecode(line) if line.strip() else None


def _too_long(null: bool, name: str) -> NoReturn:
    sep = "a NUL byte" if null else "a newline"
    hint = "" if null else " (for NUL-separated paths, add -0)"
    raise UsageError(
        f"--files-from {name}: more than {limits.MAX_LIST_ENTRY_BYTES:,} bytes without a path "
        f"ended by {sep}: it is not a list of paths{hint}",
        _LIST,
    )


def _listed(sel: Selection, stdin: BinaryIO) -> Iterator[str]:
    assert sel.files_from is not None
    if sel.files_from == STDIN:
        yield from _read_list(stdin, sel.null, "- (standard input)")
        return
    try:
        # opened as every input file is (a FIFO with no writer never holds the run)
        with open(open_input(Path(sel.files_from))[0], "rb") as fh:
            yield from _read_list(fh, sel.null, sel.files_from)
    except OSError as exc:
        raise UsageError(
            f"cannot read --files-from {sel.files_from} ({os_reason(exc)})", _LIST
        ) from None


def check_arguments(args: Sequence[str], sel: Selection) -> None:
    """Raise :class:`UsageError` for argument combinations that cannot work."""
    if sel.files_from == STDIN and STDIN in args:
        raise UsageError("`-` and `--files-from -` both want standard input: use one of them")
    if list(args).count(STDIN) > 1:
        raise UsageError("`-` (standard input) can be given only once")
    if list(args).count(CLIPBOARD) > 1:
        raise UsageError("`clip:` (the clipboard) can be given only once")
    if sel.null and sel.files_from is None:
        raise UsageError("-0/--null goes with --files-from")


def iter_inputs(
    args: Sequence[str], sel: Selection, stdin: BinaryIO | None = None
) -> Iterator[Input | Problem]:
    """Every input the arguments name, in order, then those listed by ``--files-from`` (the
    list opened before the first input is given: :func:`_opened_list`); an input named again
    (``dir dir/a.png``, ``a.png ./a.png``: the same :func:`path_key`) is taken once, where it
    first comes."""
    check_arguments(args, sel)
    # the process's standard input only for a caller that gives none (the CLI gives the run's)
    stdin = stdin if stdin is not None else sys.stdin.buffer
    listed = _opened_list(sel, stdin) if sel.files_from is not None else ()
    found = _named(args, sel, listed)
    # one argument: a walk names each file once (not a glob: `a/**` matches a file and the
    # folders above it, which are walked)
    if len(args) + (sel.files_from is not None) < 2 and not _GLOB_CHARS & set("".join(args)):
        yield from found
        return
    seen: set[str] = set()
    for item in found:
        key = path_key(item.label)
        if key not in seen:
            seen.add(key)
            yield item


def _opened_list(sel: Selection, stdin: BinaryIO) -> Iterator[str]:
    """The ``--files-from`` list, opened and read up to its first path now, before any input is
    taken: a missing list, a folder, a NUL byte without ``-0`` in its first read is a usage
    error before any output, not after the named inputs were reported. The rest is read as it
    is needed (a pipe's paths as they come)."""
    lines = _listed(sel, stdin)
    first = next(lines, None)
    return iter(()) if first is None else itertools.chain((first,), lines)


def _named(args: Sequence[str], sel: Selection, listed: Iterable[str]) -> Iterator[Input | Problem]:
    walked: _Walked = set()  # across the arguments: `a b` with b a link to a walks it once
    for arg in args:
        yield from _expand_arg(arg, sel, walked)
    for line in listed:
        path = Path(line)
        if is_url(line):  # a list of URLs is read as they are on the command line
            yield _url_input(line, sel)
        elif _is_folder(path):
            yield from _walk(path, sel, path, walked)
        elif not _excluded(path, sel.exclude):
            yield Input(line, path=path, root=path.parent)


def collect(
    args: Sequence[str], sel: Selection, stdin: BinaryIO | None = None
) -> list[Input | Problem]:
    return list(iter_inputs(args, sel, stdin))


# --------------------------------------------------------------------------------------------------
# Reading bytes
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# The clipboard
# --------------------------------------------------------------------------------------------------


class ClipboardError(UsageError):
    """No image on the clipboard, or no way to read it (a usage error: exit 2)."""


def read_clipboard(platform: str = sys.platform) -> bytes:
    """The image on the clipboard, as bytes (PNG, or the file copied when files were copied).

    macOS and Windows: Pillow's ``ImageGrab.grabclipboard()``. Elsewhere: ``wl-paste`` (first
    when a Wayland session is running) or ``xclip``, asked for ``image/png``. Raises
    :class:`ClipboardError` with one sentence naming what to do or install, and
    :class:`SourceError` for more than :data:`vision_cli.limits.MAX_INPUT_BYTES`.
    """
    if platform in ("darwin", "win32"):
        return _grab_with_pillow()
    import shutil
    import subprocess

    tools = {
        "wl-paste": ["wl-paste", "--no-newline", "--type", "image/png"],
        "xclip": ["xclip", "-selection", "clipboard", "-target", "image/png", "-out"],
    }
    # the process's variables, not a run's: the tools run in them and find the display there
    order = ["wl-paste", "xclip"] if os.environ.get("WAYLAND_DISPLAY") else ["xclip", "wl-paste"]
    found = next((name for name in order if shutil.which(name)), None)
    if found is None:
        raise ClipboardError(
            "clip: needs a clipboard tool, and neither wl-paste nor xclip is installed: install "
            "wl-clipboard (Wayland) or xclip (X11), e.g. `sudo apt install wl-clipboard xclip`"
        )
    try:
        code, data, said = _run_capped(tools[found], limits.MAX_INPUT_BYTES)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ClipboardError(f"clip: {found} could not be run ({exc}): check the tool") from None
    if code != 0 or not data:
        why = f" ({found}: {said})" if said else ""
        raise ClipboardError(
            f"clip: the clipboard holds no image{why}: copy an image (or take a screenshot to "
            "the clipboard) and try again"
        )
    return data


#: The most of a clipboard tool's error output kept, and the most of its first line shown.
_TOOL_ERROR_BYTES: Final = 4096
_TOOL_ERROR_CHARS: Final = 200


def _run_capped(command: list[str], cap: int) -> tuple[int, bytes, str]:
    """Run a clipboard tool for at most :data:`CLIPBOARD_TIMEOUT` seconds: its exit status, its
    output and the first line of its error output. Its output is read as it comes and the tool
    killed once it passes ``cap`` (SourceError, as for any input over the limit): a clipboard
    holding gigabytes, or a tool that never stops, cannot fill the memory."""
    import selectors
    import subprocess
    import time

    deadline = time.monotonic() + CLIPBOARD_TIMEOUT
    out, err = bytearray(), bytearray()
    pipe = subprocess.PIPE
    with (
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=pipe, stderr=pipe) as proc,
        selectors.DefaultSelector() as ready,
    ):
        try:
            ready.register(proc.stdout, selectors.EVENT_READ, out)  # type: ignore[arg-type]
            ready.register(proc.stderr, selectors.EVENT_READ, err)  # type: ignore[arg-type]
            while ready.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise subprocess.TimeoutExpired(command, CLIPBOARD_TIMEOUT)
                for key, _ in ready.select(left):
                    chunk = os.read(key.fd, _LIST_CHUNK)
                    if not chunk:
                        ready.unregister(key.fileobj)
                    elif key.data is out:
                        out += chunk
                        if len(out) > cap:
                            raise SourceError(Code.FILE_TOO_LARGE, too_large_input(cap))
                    elif len(err) < _TOOL_ERROR_BYTES:
                        err += chunk
            code = proc.wait(max(0.0, deadline - time.monotonic()))
        except BaseException:
            proc.kill()  # (the pipes are closed on the way out: a child it left cannot hold us)
            raise
    first = (os.fsdecode(bytes(err[:_TOOL_ERROR_BYTES])).strip().splitlines() or [""])[0].strip()
    if len(first) > _TOOL_ERROR_CHARS:
        first = first[: _TOOL_ERROR_CHARS - 1] + "…"
    return code, bytes(out), first


def _grab_with_pillow() -> bytes:
    import io

    from PIL import ImageGrab

    from vision_cli.imaging.pillow import Image  # (the guard: ImageGrab opens what it finds)

    try:
        grabbed = ImageGrab.grabclipboard()
    except (OSError, NotImplementedError) as exc:
        raise ClipboardError(f"clip: the clipboard could not be read ({exc})") from None
    if isinstance(grabbed, Image.Image):
        buffer = io.BytesIO()
        grabbed.save(buffer, "PNG")
        return buffer.getvalue()
    cap = limits.MAX_INPUT_BYTES
    for name in grabbed or []:  # files copied in the file manager: the first image among them
        if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
            try:  # read as any file is: capped
                data = read_at_most(Path(name), cap + 1)
            except OSError:
                continue
            if len(data) > cap:
                raise SourceError(Code.FILE_TOO_LARGE, too_large_input(cap))
            return data
    raise ClipboardError(
        "clip: the clipboard holds no image: copy an image (or take a screenshot to the "
        "clipboard) and try again"
    )
