"""The events of a request's stream (``GET /v1/requests/{id}/events``), as the SDK yields them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from inferq.protocol.limits import STREAM_PING_S
from inferq.protocol.streams import FINAL_EVENTS
from inferq.sdk.retry import DEFAULT_RETRY_FOR_S, unreachable

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
    starts over with the current state), backing off; once drops have gone on for
    ``retry_for`` seconds without an event in between, the last one is raised as
    :class:`~inferq.errors.ServerUnreachable`."""

    BACKOFF_S = 0.5
    MAX_BACKOFF_S = 10.0

    def __init__(self, retry_for: float = DEFAULT_RETRY_FOR_S) -> None:
        self.retry_for = retry_for
        self._drops = 0
        self._since: float | None = None

    def received(self) -> None:
        self._drops, self._since = 0, None

    def dropped(self, error: httpx.TransportError) -> float:
        """The pause before connecting again; raises past ``retry_for``."""
        now = time.monotonic()
        self._since = now if self._since is None else self._since
        pause = min(self.BACKOFF_S * 2**self._drops, self.MAX_BACKOFF_S)
        self._drops += 1
        if now + pause - self._since > self.retry_for:
            raise unreachable(error) from error
        return float(pause)
