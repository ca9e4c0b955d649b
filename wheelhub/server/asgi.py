"""Plain ASGI plumbing: requests, responses, content negotiation. No framework needed."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from wheelhub.index.simple import HTML_TYPE, JSON_TYPE, LATEST_HTML_TYPE, LATEST_JSON_TYPE
from wheelhub.server.errors import HubError, UploadTooLarge

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


@functools.lru_cache(maxsize=256)
def negotiate(accept: str) -> str:
    """PEP 691: pick json, html or text/html from an Accept header (HTML when unsure)."""
    if not accept:
        return "text/html"
    best, best_q = "text/html", -1.0
    for position, item in enumerate(accept.split(",")):
        media, _, params = item.strip().partition(";")
        kind = _ACCEPTED.get(media.strip().lower())
        if kind is None:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
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

    def header(self, name: bytes) -> str:
        return self.headers.get(name, b"").decode("latin-1")

    @property
    def base_url(self) -> str:
        host = self.header(b"host") or "localhost"
        return f"{self.scheme}://{host}"

    async def body(self, limit: int) -> bytes:
        """The whole body, at most *limit* bytes, else 413.

        An oversized body is read and dropped (up to a bound) before answering, so the
        client sees the 413 instead of a connection reset in the middle of its upload.
        """
        declared = self.headers.get(b"content-length")
        too_large = declared is not None and declared.isdigit() and int(declared) > limit
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise HubError("client disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            too_large = too_large or size > limit
            if too_large:
                if size > DRAIN_LIMIT:
                    break
            else:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        if too_large:
            raise UploadTooLarge.limit(limit)
        return b"".join(chunks)


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    file: str | None = None  # stream this path instead of body
    length: int | None = None

    async def send(self, send: Send, *, head: bool) -> None:
        length = self.length if self.file is not None else len(self.body)
        headers = [(b"content-type", self.content_type.encode()),
                   (b"content-length", str(length).encode()), *self.headers]
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
    return Response(status=status, body=b"", headers=[(b"location", location.encode())])


def etag_matches(if_none_match: bytes | None, etag: bytes) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == b"*":
        return True
    return any(candidate.strip().removeprefix(b"W/") == etag
               for candidate in if_none_match.split(b","))
