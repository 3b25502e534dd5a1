"""Scale-out: gateways and workers on many machines share one Redis.

``redis://host:port/db?prefix=NAME``. Each store of :mod:`inferq.backends.contracts` is a
module here over one :class:`~inferq.backends.redis.client.Connection`; every move is one
Lua script (:mod:`inferq.backends.redis.lua`). Durability is Redis's: run it with
``appendonly yes`` (and ``appendfsync always`` for "durable before the 202" across a
power cut).
"""

from __future__ import annotations

from inferq.backends.backend import Backend
from inferq.backends.redis.bus import RedisBus
from inferq.backends.redis.client import Connection, parse_url
from inferq.backends.redis.counters import RedisCounters
from inferq.backends.redis.files import RedisFiles
from inferq.backends.redis.outbox import RedisOutbox
from inferq.backends.redis.queue import RedisQueue
from inferq.backends.redis.requests import RedisRequests
from inferq.backends.redis.tokens import RedisTokens
from inferq.backends.redis.workers import RedisWorkers
from inferq.policy import Policy

__all__ = ["RedisBackend", "parse_url"]


class RedisBackend(Backend):
    """Requests, queues, workers and tokens of one deployment under one key prefix."""

    def __init__(self, url: str, policy: Policy | None = None) -> None:
        super().__init__(url, policy)
        self.connection = Connection(url)
        self.keys = self.connection.keys
        self.bus = RedisBus(self.connection.redis, self.connection.subscriber, self.keys.notify)
        self.requests = RedisRequests(self.connection)
        self.queue = RedisQueue(self.connection, self.policy)
        self.workers = RedisWorkers(self.connection, self.policy)
        self.tokens = RedisTokens(self.connection)
        self.outbox = RedisOutbox(self.connection)
        self.counters = RedisCounters(self.connection)
        self.files = RedisFiles(self.connection)
        self._closed = False

    async def start(self) -> None:
        await self.connection.ping()
        await self.bus.start()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.bus.close()
        await self.connection.close()
