"""``multipart/form-data`` bodies, read part by part as they stream in: a file part's bytes
go on to wherever its reader sends them (the blob store) without the whole body, or the
whole part, ever being held in memory.

python-multipart parses; this turns its callbacks into an async iterator of
:class:`Part`, each read (or skipped) before the next is yielded.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from inferq.errors import BadRequest, PayloadTooLarge

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request

#: The event that ends a part (``("data", bytes)`` events carry its bytes before it).
_END = ("end", b"")


@dataclass(slots=True)
class Part:
    """One part: its form name, its file name (None for a plain field), its media type."""

    name: str
    filename: str | None
    content_type: str
    _reader: MultipartReader = field(repr=False)
    _done: bool = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """The part's bytes as they arrive."""
        while not self._done:
            kind, data = await self._reader.next_event()
            if kind == "end":
                self._done = True
            elif data:
                yield data

    async def read(self, limit: int) -> bytes:
        """The whole part (a form field), refused with 413 past ``limit`` bytes."""
        parts: list[bytes] = []
        size = 0
        async for chunk in self.chunks():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(
                    f"form field {self.name!r} is over the limit of {limit} bytes", limit=limit
                )
            parts.append(chunk)
        return b"".join(parts)

    async def skip(self) -> None:
        async for _ in self.chunks():
            pass


class MultipartReader:
    """The parts of one request's multipart body."""

    def __init__(self, request: Request) -> None:
        _, params = parse_options_header(request.headers.get("content-type", ""))
        boundary = params.get(b"boundary")
        if not boundary:
            raise BadRequest("multipart/form-data body without a boundary in its Content-Type")
        self._stream = request.stream().__aiter__()
        self._events: deque[tuple[str, Any]] = deque()
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._finished = False
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_part_data": lambda data, start, end: self._events.append(("data", data[start:end])),
                "on_part_end": lambda: self._events.append(_END),
                "on_header_field": self._header_field,
                "on_header_value": self._header_value_piece,
                "on_header_end": self._header_end,
                "on_headers_finished": lambda: self._events.append(("headers", dict(self._headers))),
                "on_end": lambda: self._events.append(("done", None)),
            },
        )

    def _begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_piece(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    async def next_event(self) -> tuple[str, Any]:
        """The next parser event, reading more of the body as needed; 400 for a body that
        ends before its closing boundary."""
        while not self._events:
            if self._finished:
                raise BadRequest("multipart body ends before its closing boundary")
            try:
                chunk = await anext(self._stream)
            except StopAsyncIteration:
                self._finished = True
                self._finish()
                continue
            try:
                self._parser.write(chunk)
            except MultipartParseError as exc:
                raise BadRequest(f"malformed multipart body: {exc}") from None
        return self._events.popleft()

    def _finish(self) -> None:
        try:
            self._parser.finalize()
        except MultipartParseError as exc:
            raise BadRequest(f"malformed multipart body: {exc}") from None

    async def parts(self) -> AsyncIterator[Part]:
        """Each part in order; a part its reader left unread is skipped."""
        while True:
            kind, headers = await self.next_event()
            if kind == "done":
                return
            if kind != "headers":
                continue
            part = _part(headers, self)
            yield part
            await part.skip()


def _part(headers: dict[bytes, bytes], reader: MultipartReader) -> Part:
    disposition, params = parse_options_header(headers.get(b"content-disposition", b""))
    if disposition != b"form-data" or b"name" not in params:
        raise BadRequest("each multipart part needs Content-Disposition: form-data with a name")
    filename = params.get(b"filename")
    content_type = headers.get(b"content-type", b"application/octet-stream")
    return Part(
        name=params[b"name"].decode("utf-8", "replace"),
        filename=None if filename is None else filename.decode("utf-8", "replace"),
        content_type=content_type.decode("latin-1").split(";")[0].strip().lower(),
        _reader=reader,
    )
