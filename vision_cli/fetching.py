"""Reading an input's bytes: a file (capped, with one clear error), standard input, the clipboard,
or a URL, fetched over HTTPS or HTTP with a deadline, a size cap, checked redirects, no private
addresses, and bounded decompression.
"""

from __future__ import annotations

import contextlib
import sys
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO, Final
from urllib.parse import urlsplit

from vision_cli import limits
from vision_cli.fsutil import file_error, read_at_most
from vision_cli.judging import Code, too_large_input
from vision_cli.names import without_credentials
from vision_cli.sources import Input, SourceError, is_url

#: Seconds to wait for a URL, for connecting and between bytes.
URL_TIMEOUT = 30.0


_MAX_REDIRECTS = 5


#: Seconds a whole download may take, redirects included (a module global: tests lower it).
URL_DEADLINE: float = 60.0


def read_bytes(item: Input, *, cap: int | None = None, stdin: BinaryIO | None = None) -> bytes:
    """The input's bytes, at most ``cap`` (by default :data:`vision_cli.limits.MAX_INPUT_BYTES`,
    one limit for files, pipes, devices, standard input and URLs alike: never more is read).
    Raises SourceError."""
    cap = limits.MAX_INPUT_BYTES if cap is None else cap
    if item.data is not None:  # the clipboard, read once when the inputs were collected
        return _capped(item.data, cap)
    if item.path is not None:
        try:
            return _capped(read_at_most(item.path, cap + 1), cap)
        except OSError as exc:
            raise SourceError(Code.NOT_FOUND, file_error(exc)) from None
    if item.url is not None:
        return fetch(item.url, cap=cap, allow_private=item.allow_private)
    stream = stdin if stdin is not None else sys.stdin.buffer
    return _capped(stream.read(cap + 1), cap)


def _capped(data: bytes, cap: int) -> bytes:
    if len(data) > cap:
        raise SourceError(Code.FILE_TOO_LARGE, too_large_input(cap))
    return data


def fetch(
    url: str, *, cap: int, timeout: float = URL_TIMEOUT, allow_private: bool = False
) -> bytes:
    """Download ``url``: at most ``cap`` bytes once decoded, within :data:`URL_DEADLINE` seconds
    in all, redirects only to http(s) and never from https to http, and (unless
    ``allow_private``) never from a loopback, private, link-local or reserved address, checked
    for every hop both before connecting and on the connection itself. Raises SourceError."""
    import httpx  # imported here: only URL inputs pay for it

    clock = _Deadline(URL_DEADLINE)
    headers = {"Accept-Encoding": "gzip, deflate"}  # only what is decoded here, within the cap
    try:
        with (
            clock,
            httpx.Client(timeout=timeout, follow_redirects=False, headers=headers) as client,
        ):
            for _ in range(_MAX_REDIRECTS + 1):
                if not allow_private:
                    _check_host(url)
                left = min(timeout, clock.left())
                with client.stream("GET", url, timeout=left, extensions=clock.extensions) as resp:
                    if not allow_private and not _proxied(client, url):
                        _check_peer(resp)
                    if resp.is_redirect:
                        url = _redirect_target(url, resp)
                        continue
                    if resp.status_code >= 400:
                        advice = "check the URL" if resp.status_code < 500 else "try again later"
                        raise SourceError(
                            Code.NOT_FOUND,
                            f"the server answered HTTP {resp.status_code}: {advice}.",
                        )
                    encodings = _encodings(resp.headers.get("content-encoding", ""))
                    data = _read_capped(_decoded(resp.iter_raw(), encodings, cap), cap)
                    if clock.expired:  # a body without a length, cut short by the deadline
                        raise clock.error()
                    return data
            raise SourceError(Code.NOT_FOUND, "too many redirects: check the URL.")
    except (SourceError, httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        # whatever a connection shut down at the deadline made of it, the deadline is the cause
        raise clock.error() if clock.expired else _failure(exc, timeout) from None


def _failure(exc: Exception, timeout: float) -> SourceError:
    """What a failed download says."""
    import httpx

    if isinstance(exc, SourceError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return SourceError(
            Code.NOT_FOUND, f"the server did not answer within {timeout:g} s: try again later."
        )
    if isinstance(exc, httpx.HTTPError):
        return SourceError(
            Code.NOT_FOUND,
            f"download failed ({type(exc).__name__}: {without_credentials(str(exc))}): check "
            "the URL.",
        )
    # httpx.InvalidURL, or a UnicodeError of a host: what sources.url_problem could not tell
    return SourceError(Code.NOT_FOUND, "not a valid URL: check the URL.")


class _Deadline:
    """The time a whole download may take: connecting, the headers and the body, redirects
    included. Each read waits at most for what is left, but a server sending a byte now and
    then (its headers or its body) never makes one wait that long; so, once the time is up, a
    timer shuts the download's connections down, which ends the read under way. The sockets
    are found through httpcore's ``trace`` extension, as each connection is made."""

    def __init__(self, seconds: float) -> None:
        import threading

        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self.extensions = {"trace": self._trace}
        self._sockets: list[Any] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def left(self) -> float:
        return max(0.001, self.end - time.monotonic())

    def error(self) -> SourceError:
        return SourceError(
            Code.NOT_FOUND,
            f"the download took more than {self.seconds:g} s: download it yourself.",
        )

    def _trace(self, event: str, info: dict[str, Any]) -> None:
        if event.endswith(("connect_tcp.complete", "start_tls.complete")):
            sock = info["return_value"].get_extra_info("socket")
            with self._lock:
                self._sockets.append(sock)
                if self.expired:
                    _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: Any) -> None:
    """Shut a connection down from another thread: the plain socket's ``shutdown`` (an
    ``SSLSocket``'s own would pull its TLS state from under the reading thread)."""
    import socket

    with contextlib.suppress(OSError, TypeError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _redirect_target(url: str, resp: Any) -> str:
    target = str(resp.next_request.url) if resp.next_request else ""
    if not is_url(target):
        raise SourceError(
            Code.NOT_FOUND,
            f"redirected to {without_credentials(target) or 'nowhere'}, which is not http(s): "
            "download it yourself.",
        )
    if url.startswith("https://") and target.startswith("http://"):
        raise SourceError(
            Code.NOT_FOUND,
            f"redirected from https to plain http ({without_credentials(target)}): refused, as a "
            "browser would; "
            "download it yourself if you trust it.",
        )
    return target


def _private(address: str) -> bool:
    """Whether an IP address is one a download must not reach by default."""
    import ipaddress  # only downloads pay for it

    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _refuse(host: str, address: str) -> SourceError:
    return SourceError(
        Code.NOT_FOUND,
        f"{host} is a loopback, private or link-local address ({address}): refused; give "
        "--allow-private-urls to download from your own network.",
    )


def refuse_private_literal(url: str) -> None:
    """SourceError for a URL whose host is an IP address that is not public: what a dry run,
    which connects to nothing, can tell of a download the real run would refuse (a name needs
    resolving, which it does not do)."""
    host = urlsplit(url).hostname or ""
    try:
        private = _private(host)
    except ValueError:  # a name, not an address
        return
    if private:
        raise _refuse(host, host)


def _check_host(url: str) -> None:
    """Refuse a URL whose host is, or resolves to, an address that is not public."""
    import socket  # only downloads pay for it

    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return  # the download itself says the host is unknown
    for info in infos:
        address = str(info[4][0])
        if _private(address):
            raise _refuse(host, address)


def _check_peer(resp: Any) -> None:
    """Refuse a connection that reached an address that is not public after all (a name that
    resolved again differently: DNS rebinding)."""
    stream = resp.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer and _private(str(peer[0])):
        raise _refuse(urlsplit(str(resp.url)).hostname or "", str(peer[0]))


def _proxied(client: Any, url: str) -> bool:
    """Whether the client reaches ``url`` through a proxy (``HTTPS_PROXY`` and the like): the
    connection's peer is then the proxy, often on the network's own addresses, and says nothing
    of the host; :func:`_check_host`, on the address the host resolves to, is the check then."""
    import httpx

    return bool(client._transport_for_url(httpx.URL(url)) is not client._transport)


def _encodings(header: str) -> list[str]:
    """The content codings to undo, the last applied first. SourceError for one not handled."""
    names = [name.strip().lower() for name in header.split(",") if name.strip()]
    names = [name for name in names if name != "identity"]
    for name in names:
        if name not in _WBITS:
            raise SourceError(
                Code.UNSUPPORTED_FORMAT,
                f"the server sent it as {name!r}, which vision-cli does not decode: download it "
                "yourself.",
            )
    return names[::-1]


#: zlib's window bits for each content coding (gzip; deflate as zlib or gzip, auto-detected).
_WBITS: Final = {"gzip": 16 + 15, "x-gzip": 16 + 15, "deflate": 32 + 15}


_DECODE_STEP: Final = 64 * 1024


def _decoded(chunks: Iterable[bytes], encodings: Sequence[str], cap: int) -> Iterator[bytes]:
    """``chunks`` with each content coding undone in turn, never more than ``cap`` + 1 bytes of
    any layer and never more than a step at a time in memory (a gzip bomb stops at the cap)."""
    stream: Iterable[bytes] = chunks
    for name in encodings:
        stream = _inflate(stream, _WBITS[name], cap)
    yield from stream


def _inflate(chunks: Iterable[bytes], wbits: int, cap: int) -> Iterator[bytes]:
    decoder = zlib.decompressobj(wbits)
    produced = 0
    try:
        for chunk in chunks:
            data = chunk
            while data and produced <= cap:
                out = decoder.decompress(data, _DECODE_STEP)
                produced += len(out)
                yield out
                data = decoder.unconsumed_tail
            if produced > cap:
                return  # the reader stops at the cap
        yield decoder.flush()
    except zlib.error as exc:
        raise SourceError(
            Code.UNREADABLE, f"the server's compressed data is damaged ({exc}): try again."
        ) from None


def _read_capped(chunks: Iterable[bytes], cap: int) -> bytes:
    buf = bytearray()
    for chunk in chunks:
        buf += chunk
        if len(buf) > cap:
            raise SourceError(Code.FILE_TOO_LARGE, too_large_input(cap))
    return bytes(buf)
