"""The events of a request's stream (``GET /v1/requests/{id}/events``), as the SDK yields them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from inferq.protocol.limits import STREAM_PING_S
from inferq.protocol.streams import FINAL_EVENTS

if TYPE_CHECKING:
    from httpx_sse import ServerSentEvent

    from inferq.sdk.future import InferenceFuture

#: The server keeps a stream alive with a comment every few seconds, so a read that has
#: waited for four of them has lost the stream.
STREAM_TIMEOUT = httpx.Timeout(30.0, read=4 * STREAM_PING_S)


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """One change of a request: ``type`` is ``queued``, ``running``, ``progress``,
    ``completed``, ``failed`` or ``cancelled``; ``state`` its status document then."""

    type: str
    state: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.state.get("status"))

    @property
    def progress(self) -> float | None:
        return self.state.get("progress")

    @property
    def queue_position(self) -> int | None:
        return self.state.get("queue_position")

    @property
    def is_final(self) -> bool:
        return self.type in FINAL_EVENTS


def events_url(future: InferenceFuture) -> str:
    return f"{future.poll_url.rstrip('/')}/events"


def parse(sse: ServerSentEvent) -> RequestEvent | None:
    """A request event, or None for what is not one (a comment or a message without a name)."""
    if not sse.event or sse.event == "message" or not sse.data:
        return None
    return RequestEvent(sse.event, sse.json())


class Reconnects:
    """When a stream drops before its final event, the SDK connects again (the server
    starts over with the current state); this many drops in a row without an event
    in between, and the last error is raised."""

    LIMIT = 5
    BACKOFF_S = 0.5

    def __init__(self) -> None:
        self._drops = 0

    def received(self) -> None:
        self._drops = 0

    def dropped(self, error: Exception) -> float:
        """The pause before connecting again; raises ``error`` past the limit."""
        self._drops += 1
        if self._drops > self.LIMIT:
            raise error
        return float(self.BACKOFF_S * 2 ** (self._drops - 1))
