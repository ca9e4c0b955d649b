"""Plain ASGI plumbing: requests, responses, content negotiation. No framework needed."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from wheelhub.index.simple import HTML_TYPE, JSON_TYPE, LATEST_HTML_TYPE, LATEST_JSON_TYPE
from wheelhub.server.errors import HubError, RequestTimeout, UploadTooLarge

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DRAIN_LIMIT = 1024 * 1024 * 1024  # bytes of an oversized upload read before giving up
_ACCEPTED = {
    JSON_TYPE: "json",
    LATEST_JSON_TYPE: "json",
    HTML_TYPE: "html",
    LATEST_HTML_TYPE: "html",
    "text/html": "text/html",
    "*/*": "text/html",
    "application/*": "json",
}
CONTENT_TYPES = {"json": JSON_TYPE, "html": HTML_TYPE, "text/html": "text/html"}
# Every response: no MIME sniffing, never framed, no script, style or form of any origin.
# Pages with inline script or style replace the CSP with one naming their hashes. No
# Referer from our pages: a /t/<token>/ page's URL would carry its token into the next
# request's headers, and from there into logs (nginx's error log writes the referrer).
CSP = "content-security-policy"
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_SECURITY = ((b"x-content-type-options", b"nosniff"), (CSP.encode(), DEFAULT_CSP.encode()),
             (b"referrer-policy", b"no-referrer"))
# A 304 repeats the validators and caching headers, not the headers of a body it has not.
_BODY_HEADERS = {b"content-type", b"content-length", b"content-encoding"}


def _q_values(header: str) -> dict[str, float]:
    """``a;q=0.5, b`` -> {"a": 0.5, "b": 1.0}: lower-case keys in header order, the first
    mention counting; a q-value that is not a number counts as 0."""
    values: dict[str, float] = {}
    for item in header.split(","):
        token, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if token.strip():
            values.setdefault(token.strip().lower(), q)
    return values


@functools.lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str) -> bool:
    """RFC 9110: gzip is acceptable when named (or ``*`` is) with a q-value above 0."""
    values = _q_values(accept_encoding)
    return values.get("gzip", values.get("x-gzip", values.get("*", 0.0))) > 0


@functools.lru_cache(maxsize=256)
def negotiate(accept: str) -> str:
    """PEP 691: pick json, html or text/html from an Accept header (HTML when unsure)."""
    if not accept:
        return "text/html"
    best, best_q = "text/html", -1.0
    for position, (media, q) in enumerate(_q_values(accept).items()):
        kind = _ACCEPTED.get(media)
        if kind is None:
            continue
        q -= position * 1e-6  # earlier wins ties
        if q > best_q and q > 0:
            best, best_q = kind, q
    return best


@dataclass(slots=True)
class Request:
    method: str
    path: str  # without any /t/<token> prefix
    query: str
    headers: dict[bytes, bytes]
    token: str | None
    root: str  # the ASGI root_path (a proxy prefix), for URLs shown without the token
    prefix: str  # root + /t/<token>, for building absolute links and redirects
    scheme: str
    receive: Receive
    client: str = ""  # the peer's address

    def header(self, name: bytes) -> str:
        return self.headers.get(name, b"").decode("latin-1")

    @property
    def base_url(self) -> str:
        host = self.header(b"host") or "localhost"
        return f"{self.scheme}://{host}"

    async def chunks(self, limit: int, *, idle: float, min_rate: int) -> AsyncIterator[bytes]:
        """The body as it arrives, at most *limit* bytes, else 413.

        408 when no byte comes for *idle* seconds, or when, after that long, the body has
        averaged under *min_rate* bytes/s (a byte a second holds no connection for long).
        An oversized body is read and dropped (up to a bound) before answering, so the
        client sees the 413 instead of a connection reset in the middle of its upload.
        """
        declared = self.headers.get(b"content-length")
        too_large = declared is not None and declared.isdigit() and int(declared) > limit
        started = time.monotonic()
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(self.receive(), idle)
            except asyncio.TimeoutError:
                raise RequestTimeout.body(idle, min_rate) from None
            if message["type"] == "http.disconnect":
                raise HubError("client disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            elapsed = time.monotonic() - started
            if elapsed > idle and size < min_rate * elapsed:
                raise RequestTimeout.body(idle, min_rate)
            too_large = too_large or size > limit
            if too_large:
                if size > DRAIN_LIMIT:
                    break
            elif chunk:
                yield chunk
            if not message.get("more_body", False):
                break
        if too_large:
            raise UploadTooLarge.limit(limit)

    async def body(self, limit: int, *, idle: float, min_rate: int) -> bytes:
        """The whole (small) body, with the bounds of :meth:`chunks`."""
        return b"".join([chunk async for chunk in self.chunks(limit, idle=idle,
                                                               min_rate=min_rate)])


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    file: str | None = None  # stream this path instead of body
    length: int | None = None
    remove_file: bool = False  # a temporary file: removed once sent

    async def send(self, send: Send, *, head: bool) -> None:
        try:
            await self._send(send, head=head)
        finally:
            if self.remove_file and self.file is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.file)  # noqa: PTH108

    async def _send(self, send: Send, *, head: bool) -> None:
        length = self.length if self.file is not None else len(self.body)
        headers = [(b"content-type", self.content_type.encode()),
                   (b"content-length", str(length).encode()), *self.headers]
        if not any(name == CSP.encode() for name, _ in self.headers):
            headers.append(_SECURITY[1])
        headers.extend((_SECURITY[0], _SECURITY[2]))
        if self.status == 304:
            headers = [(name, value) for name, value in headers if name not in _BODY_HEADERS]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        if head or self.status == 304:
            await send({"type": "http.response.body", "body": b""})
            return
        if self.file is None:
            await send({"type": "http.response.body", "body": self.body})
            return
        with open(self.file, "rb") as handle:  # noqa: PTH123 - a plain fd is what we stream
            while True:
                chunk = handle.read(256 * 1024)
                more = len(chunk) == 256 * 1024
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
                if not more:
                    return


def text(status: int, message: str, *headers: tuple[bytes, bytes]) -> Response:
    return Response(status=status, body=(message + "\n").encode(), headers=list(headers))


def redirect(location: str, status: int = 301) -> Response:
    """A redirect within this origin: *location* is a path, and one no browser can read as
    another host (``//host``, ``/\\host``)."""
    if not location.startswith("/") or location[1:2] in {"/", "\\"}:
        location = "/" + location.lstrip("/\\")
    return Response(status=status, body=b"", headers=[(b"location", location.encode())])


def etag_matches(if_none_match: bytes | None, etag: bytes) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == b"*":
        return True
    return any(candidate.strip().removeprefix(b"W/") == etag
               for candidate in if_none_match.split(b","))
