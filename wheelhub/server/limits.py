"""Bounds on connections, for uvicorn's httptools protocol.

uvicorn times out idle keep-alive connections, but not a client that opens a socket and
sends nothing, or sends its headers a line a second; and it accepts any number of
sockets. This protocol adds a header deadline (from the connection's, or the request's,
first byte to the end of its headers) and closes connections beyond a limit at once.
Request bodies are bounded by the app (:meth:`wheelhub.server.asgi.Request.chunks`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True, kw_only=True, slots=True)
class ConnectionLimits:
    header_timeout: float = 10.0  # seconds to send the request line and headers
    keep_alive_timeout: float = 5.0  # seconds an idle keep-alive connection stays open
    max_connections: int = 1000  # open sockets; more are closed as they arrive


def bounded_protocol(limits: ConnectionLimits) -> type[HttpToolsProtocol]:
    """An httptools protocol class enforcing *limits* (uvicorn's ``http=`` setting)."""

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                transport.close()
                return
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(limits.header_timeout,
                                                          self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return BoundedHttpToolsProtocol
