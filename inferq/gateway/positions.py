"""The queue positions the gateway's event streams show, read for all of an endpoint's
streamed requests at once, at most once a tick.

Other requests' claims move a pending request's position and nothing names it when they
do, so a stream re-reads its position every tick. Read per stream, 500 streams on a deep
queue cost 500 reads a second; read here, they cost one per endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inferq.backends import Backend
    from inferq.domain.records import RequestRecord

#: How long positions read together serve every stream of the endpoint.
TICK_S = 1.0


class StreamPositions:
    """The streamed pending requests of each endpoint, and their positions as last read."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._watched: dict[str, dict[str, RequestRecord]] = {}
        self._read: dict[str, tuple[float, dict[str, int]]] = {}
        self._reading: dict[str, asyncio.Task[tuple[set[str], dict[str, int]]]] = {}

    @contextlib.contextmanager
    def watching(self, response_id: str, endpoint: str) -> Iterator[None]:
        """While a stream follows ``response_id``."""
        try:
            yield
        finally:
            watched = self._watched.get(endpoint, {})
            watched.pop(response_id, None)
            if not watched:
                self._watched.pop(endpoint, None)
                self._read.pop(endpoint, None)

    async def of(self, record: RequestRecord) -> int | None:
        """The pending ``record``'s position: read with every other streamed request of its
        endpoint, unless read within the tick (None if it started meanwhile)."""
        endpoint, response_id = record.endpoint, record.response_id
        self._watched.setdefault(endpoint, {})[response_id] = record
        loop = asyncio.get_running_loop()
        while True:
            read_at, positions = self._read.get(endpoint, (float("-inf"), {}))
            if loop.time() - read_at < TICK_S and response_id in positions:
                return positions[response_id]
            reading = self._reading.get(endpoint)
            if reading is None:
                reading = self._reading[endpoint] = loop.create_task(self._read_all(endpoint))
            asked, positions = await asyncio.shield(reading)
            if response_id in asked:  # else a read under way when it joined: read again
                return positions.get(response_id)

    async def _read_all(self, endpoint: str) -> tuple[set[str], dict[str, int]]:
        """The positions of every streamed request of ``endpoint``, and which were asked about."""
        records = list(self._watched.get(endpoint, {}).values())
        try:
            places = await self._backend.positions(records)
        finally:
            del self._reading[endpoint]
        positions = {response_id: place.position for response_id, place in places.items()}
        self._read[endpoint] = (asyncio.get_running_loop().time(), positions)
        return {record.response_id for record in records}, positions
