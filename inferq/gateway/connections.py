"""The gateway's HTTP connections, guarded against slow and numerous clients.

uvicorn gives a request unlimited time to send its headers and accepts connections until the
process runs out of file descriptors, so 1,100 sockets each sending half a request line locked
every other client out. Here a request's headers must arrive within the read timeout of its
first byte (of the connection's opening, for a new one), its body may not pause longer than
that while the gateway is reading it, and a connection beyond the cap is answered 503 at once
and closed, so the clients already connected go on being served.
"""

from __future__ import annotations

import asyncio
import resource
from typing import Any, ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from inferq.protocol.errors import error_body

#: After answering a connection it closes, the gateway reads and drops what the client still
#: sends for this long at most: closing with unread data would reset the connection, and the
#: client might lose the answer.
LINGER_S = 2.0
#: File descriptors the gateway process keeps for itself beyond its connections: the store's
#: connections and files, the listening socket, the workers' pipes, logs.
RESERVED_FDS = 128


def _answer(status: str, kind: str, message: str, *headers: str) -> bytes:
    """A whole HTTP/1.1 answer with inferq's error document, after which the connection closes."""
    body = orjson.dumps(error_body(kind, message, {}))
    head = [f"HTTP/1.1 {status}", "content-type: application/json", *headers, "connection: close"]
    return "\r\n".join([*head, f"content-length: {len(body)}", "", ""]).encode() + body


BUSY = _answer(
    "503 Service Unavailable",
    "service_unavailable",
    "too many connections: try again in a moment",
    "retry-after: 1",
)
TIMED_OUT = _answer("408 Request Timeout", "request_timeout", "the request's headers came too slowly")


def connection_cap(requested: int | None) -> int:
    """The connections the gateway accepts at once: ``requested``, else what the process's
    file descriptors allow (its soft limit raised to the hard one) less those it keeps."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        soft = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return requested or max(RESERVED_FDS, soft - RESERVED_FDS)


def guarded_protocol(read_timeout_s: float, max_connections: int) -> type[HttpToolsProtocol]:
    """uvicorn's HTTP protocol with these limits, for ``uvicorn.Config(http=...)``."""
    return type(
        "GuardedProtocol",
        (GuardedProtocol,),
        {"read_timeout_s": read_timeout_s, "max_connections": max_connections},
    )


class GuardedProtocol(HttpToolsProtocol):
    read_timeout_s: ClassVar[float]
    max_connections: ClassVar[int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._in_body = False
        self._closing = False
        #: When the body's last bytes came: its deadline counts from there.
        self._read_at = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._close_with(BUSY)
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return  # answered already: dropped until the client closes, or the linger ends
        if self._in_body:
            self._read_at = self.loop.time()  # the body's deadline is on a pause, not its length
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_body = False
        if self._deadline is None:
            self._arm()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._in_body = True
        self._arm()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_body = False
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._read_at = self.loop.time()
        self._deadline = self.loop.call_later(self.read_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._in_body:
            quiet = self.loop.time() - self._read_at
            if quiet < self.read_timeout_s:  # bytes came since: wait for the rest of the pause
                self._deadline = self.loop.call_later(self.read_timeout_s - quiet, self._expired)
                return
            if self.flow.read_paused:  # the gateway stopped reading, not the client sending
                self._arm()
                return
            self.transport.close()  # the app sees the client gone
            return
        self._close_with(TIMED_OUT)

    def _close_with(self, answer: bytes) -> None:
        """Send ``answer`` and close, lingering so that the client reads it (see :data:`LINGER_S`)."""
        self._closing = True
        self.transport.write(answer)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)
