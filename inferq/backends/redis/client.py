"""The connection every Redis store shares: clients, scripts, and "Redis is down" as a 503.

``redis://host:port/db?prefix=NAME`` (prefix ``inferq`` by default; every key starts with
``NAME:``, see :mod:`inferq.backends.redis.keys`). Not for Redis Cluster: scripts derive
keys from the prefix.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    ClusterDownError,
    ConnectionError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TimeoutError,
    TryAgainError,
)

from inferq.backends.contracts import BackendUnavailable, StoreFull
from inferq.backends.redis.keys import Keys
from inferq.backends.redis.lua import load_scripts

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_PREFIX = "inferq"

#: One immediate retry, on connection errors only: after a Redis restart every pooled
#: connection is dead and fails once. A reply lost after the command ran makes the retry
#: a replay: enqueue (same fresh id) and finish (same lease) are replay-safe; a replayed
#: claim leases a second request to nobody, which comes back after one lease (one
#: attempt spent). Timeouts are not retried (the command may still be running) and bound
#: every wait on a sick Redis, so callers get a 503 rather than a hang.
CLIENT_OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": 2.0,
    "socket_timeout": 5.0,
    "health_check_interval": 15,
    "retry": Retry(NoBackoff(), 1, supported_errors=(ConnectionError,)),
}
#: Connections of one process's pool. A burst of callers beyond it waits for one (up to
#: ``POOL_WAIT_S``, then 503) where redis-py's own pool refuses at once ("Too many
#: connections": 120 clients submitting at once got 503s from a healthy Redis).
MAX_CONNECTIONS = 100
POOL_WAIT_S = 5.0
#: The subscription must see every disconnection to wake its waiters (see RedisBus), so
#: its client never reconnects behind its back.
SUBSCRIBER_OPTIONS: dict[str, Any] = {**CLIENT_OPTIONS, "retry": Retry(NoBackoff(), 0)}

#: Errors that mean "Redis cannot serve right now", not "the command was wrong".
_UNAVAILABLE = (
    ConnectionError,
    TimeoutError,
    ReadOnlyError,
    TryAgainError,
    ClusterDownError,
    OutOfMemoryError,
)
_UNAVAILABLE_REPLIES = ("MISCONF", "NOREPLICAS", "LOADING", "READONLY", "MASTERDOWN")


def parse_url(url: str) -> tuple[str, str]:
    """``redis://host:port/db?prefix=NAME&...`` → (the URL redis-py understands, the prefix)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefixes = [value for name, value in query if name == "prefix"]
    prefix = prefixes[-1] if prefixes else DEFAULT_PREFIX
    if not prefix:
        raise ValueError(f"backend URL {url!r}: prefix must not be empty")
    rest = urlencode([(name, value) for name, value in query if name != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


def _translated(exc: RedisError, where: str) -> Exception:
    """:class:`BackendUnavailable` when ``exc`` means "Redis cannot serve right now" (:class:`StoreFull`
    when it refuses writes for want of disk or memory), else ``exc``."""
    if isinstance(exc, OutOfMemoryError) or (
        isinstance(exc, ResponseError) and str(exc).startswith("MISCONF")
    ):
        return StoreFull(f"Redis at {where} takes no writes: its disk or memory is full ({exc})")
    if isinstance(exc, _UNAVAILABLE) or (
        isinstance(exc, ResponseError) and str(exc).startswith(_UNAVAILABLE_REPLIES)
    ):
        return BackendUnavailable(f"Redis at {where} is unavailable ({exc})")
    return exc


class Connection:
    """The clients, key names and scripts of one deployment under one key prefix."""

    def __init__(self, url: str) -> None:
        connection_url, prefix = parse_url(url)
        parts = urlsplit(connection_url)
        self.where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or '/0'}"
        self.keys = Keys(prefix)
        pool = BlockingConnectionPool.from_url(
            connection_url, max_connections=MAX_CONNECTIONS, timeout=POOL_WAIT_S, **CLIENT_OPTIONS
        )
        self.redis: Redis = Redis.from_pool(pool)
        self.subscriber: Redis = Redis.from_url(connection_url, **SUBSCRIBER_OPTIONS)
        self.scripts = {name: self.redis.register_script(text) for name, text in load_scripts().items()}

    async def ping(self) -> None:
        try:
            await self.redis.ping()
        except RedisError as exc:
            raise _translated(exc, self.where) from exc

    async def run(self, script: str, *args: Any) -> Any:
        """Run a script with the prefix as ``ARGV[1]``."""
        return await self.scripts[script](args=[self.keys.prefix, *args])

    async def run_each(self, script: str, calls: list[tuple[Any, ...]]) -> list[Any]:
        """The script once per entry of ``calls``, in one round trip. Many go in a pipeline
        by hash, not through redis-py's scripts in pipelines, which send ``SCRIPT EXISTS``
        before each pipeline (a round trip more: a claim took two); a Redis that lost its
        scripts (restarted, flushed) is given this one again, and the pipeline sent again:
        none of it ran."""
        if len(calls) == 1:
            return [await self.run(script, *calls[0])]
        compiled = self.scripts[script]
        try:
            return await self._pipelined(compiled.sha, calls)
        except NoScriptError:
            await self.redis.script_load(compiled.script)
            return await self._pipelined(compiled.sha, calls)

    async def _pipelined(self, sha: str, calls: list[tuple[Any, ...]]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for args in calls:
                pipe.evalsha(sha, 0, self.keys.prefix, *args)
            return list(await pipe.execute())

    async def close(self) -> None:
        await self.subscriber.aclose()
        await self.redis.aclose()


class Store:
    """A store of this backend: every public coroutine method of a subclass answers "Redis
    is unreachable" with :class:`BackendUnavailable` (the gateway's 503)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.redis = connection.redis
        self.keys = connection.keys
        self.run = connection.run
        self.run_each = connection.run_each

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if not name.startswith("_") and inspect.iscoroutinefunction(value):
                setattr(cls, name, unavailable_as_503(value))


def unavailable_as_503(method: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Turn "Redis is unreachable" into :class:`BackendUnavailable` (a 503), naming the server."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except RedisError as exc:
            store = args[0]
            assert isinstance(store, Store)
            raise _translated(exc, store.connection.where) from exc

    return wrapper


def text(value: bytes | None) -> str | None:
    return None if value is None or value == b"" else value.decode()


def number(value: bytes | None) -> float | None:
    return None if value is None else float(value)


def pairs(flat: list[bytes]) -> dict[str, bytes]:
    """A flat ``HGETALL`` reply from Lua → a dict."""
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}


def decoded(fields: dict[bytes, bytes]) -> dict[str, bytes]:
    return {name.decode(): value for name, value in fields.items()}


async def each(redis: Redis, keys: list[str]) -> list[dict[bytes, bytes]]:
    """``HGETALL`` of many hashes in one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hgetall(key)
        return list(await pipe.execute())
