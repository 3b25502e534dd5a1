"""The Redis counter store: a hash per endpoint, bumped by the Lua ``count_end`` of every end."""

from __future__ import annotations

from typing import cast

from inferq.backends.contracts import CounterStore
from inferq.backends.redis.client import Store


class RedisCounters(Store, CounterStore):
    async def read(self, endpoint: str) -> dict[str, float]:
        stored = cast("dict[bytes, bytes]", await self.redis.hgetall(self.keys.counters(endpoint)))
        return {name.decode(): float(value) for name, value in stored.items()}
