"""Scale-out: gateways and workers on many machines share one Redis.

``redis://host:port/db?prefix=NAME`` (prefix ``inferq`` by default; every key starts with
``NAME:``, see :mod:`inferq.backends.redis_keys`). Each request is a hash with its inputs
and outputs in keys of their own. Each endpoint's queue is a stream with one consumer
group: a claim reads the next undelivered entry, and the group's pending-entries list is
the lease table: a lease is live while its entry's idle time (reset by every heartbeat)
is under the lease its holder asked for, measured by Redis's clock, not the machines'
(so neither clock skew nor a gateway with a shorter ``--lease`` takes a live lease away).
Every state change is one Lua script (:mod:`inferq.backends.redis_scripts`), so "complete
only while holding the lease" cannot race.

Lost leases are handled in two places, by the same Lua helper: a claim first takes over an
expired lease (so a worker pool with no gateway still recovers), and ``reap_leases`` (each
gateway, every second) puts expired leases back to ``pending`` or fails them after
``max_attempts``, so that happens, and the caller hears of it, even while no worker of
that endpoint is free to claim.

When a request ends, its four keys get a TTL of the retention and it joins an ``expiry``
sorted set; ``expire`` walks that set by score, so a sweep costs what expired. Durability
is Redis's: run it with ``appendonly yes`` (and ``appendfsync always`` for "durable before
the 202" across a power cut). Not for Redis Cluster: scripts derive keys from the prefix.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    ClusterDownError,
    ConnectionError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TimeoutError,
    TryAgainError,
)

from inferq.backends.base import Backend, BackendUnavailable, EndpointStats, WorkerInfo
from inferq.backends.redis_bus import RedisBus
from inferq.backends.redis_keys import Keys
from inferq.backends.redis_outbox import RedisOutbox
from inferq.backends.redis_scripts import SCRIPTS
from inferq.domain import clock
from inferq.domain.records import Claim, RequestRecord, Submission
from inferq.domain.status import Status
from inferq.domain.webhooks import join_events, split_events
from inferq.errors import Conflict
from inferq.policy import Policy
from inferq.tokens import TokenInfo, new_token, token_hash

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


def _unavailable(exc: RedisError) -> bool:
    if isinstance(exc, _UNAVAILABLE):
        return True
    return isinstance(exc, ResponseError) and str(exc).startswith(_UNAVAILABLE_REPLIES)


def _translated(method: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Turn "Redis is unreachable" into :class:`BackendUnavailable` (a 503), naming the server."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(*args, **kwargs)
        except RedisError as exc:
            if not _unavailable(exc):
                raise
            backend = args[0]
            assert isinstance(backend, RedisBackend)
            raise BackendUnavailable(f"Redis at {backend.where} is unavailable ({exc})") from exc

    return wrapper


def _text(value: bytes | None) -> str | None:
    return None if value is None or value == b"" else value.decode()


def _pairs(flat: list[bytes]) -> dict[str, bytes]:
    """A flat ``HGETALL`` reply from Lua → a dict."""
    return {flat[i].decode(): flat[i + 1] for i in range(0, len(flat), 2)}


def _float(value: bytes | None) -> float | None:
    return None if value is None else float(value)


def _record(fields: dict[str, bytes], queue_position: int | None = None) -> RequestRecord:
    return RequestRecord(
        response_id=fields["response_id"].decode(),
        tenant=fields["tenant"].decode(),
        endpoint=fields["endpoint"].decode(),
        status=Status(fields["status"].decode()),
        created_at=float(fields["created_at"]),
        expires_at=float(fields["expires_at"]),
        started_at=_float(fields.get("started_at")),
        completed_at=_float(fields.get("completed_at")),
        attempts=int(fields.get("attempts", b"0")),
        error_type=_text(fields.get("error_type")),
        error=_text(fields.get("error")),
        queue_position=queue_position,
        progress=_float(fields.get("progress")),
        webhook=_text(fields.get("webhook")),
        webhook_events=split_events(_text(fields.get("webhook_events"))),
    )


def _enqueued(reply: list[Any]) -> tuple[RequestRecord, bool]:
    """The ``enqueue`` script's answer → ``(record, created)``, or Conflict."""
    outcome, value = reply
    if outcome == b"conflict":
        raise Conflict("Idempotency-Key was already used with a different body", response_id=value.decode())
    return _record(_pairs(value)), outcome == b"created"


def _token(fields: dict[str, bytes]) -> TokenInfo:
    return TokenInfo(
        id=fields["id"].decode(),
        name=fields["name"].decode(),
        created_at=float(fields["created_at"]),
        revoked_at=_float(fields.get("revoked_at")),
        admin=fields.get("admin") == b"1",
    )


class RedisBackend(RedisOutbox, Backend):
    """Requests, queues, workers and tokens of one deployment under one key prefix."""

    def __init__(self, url: str, policy: Policy | None = None) -> None:
        super().__init__(url, policy)
        connection_url, prefix = parse_url(url)
        parts = urlsplit(connection_url)
        self.where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or '/0'}"
        self.keys = Keys(prefix)
        self._redis: Redis = Redis.from_url(connection_url, **CLIENT_OPTIONS)
        self._subscriber: Redis = Redis.from_url(connection_url, **SUBSCRIBER_OPTIONS)
        self._scripts = {name: self._redis.register_script(text) for name, text in SCRIPTS.items()}
        self.bus = RedisBus(self._redis, self._subscriber, self.keys.notify)
        self._secret: bytes | None = None
        self._closed = False
        self._lease_ms = max(1, round(self.policy.lease_s * 1000))
        self._retention_ms = max(1, round(self.policy.retention_s * 1000))

    async def _run(self, script: str, *args: Any) -> Any:
        return await self._scripts[script](args=[self.keys.prefix, *args])

    def _ends_at(self, now: float) -> float:
        return now + self.policy.retention_s

    @_translated
    async def start(self) -> None:
        await self._redis.ping()
        await self.bus.start()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.bus.close()
        await self._subscriber.aclose()
        await self._redis.aclose()

    @_translated
    async def secret(self) -> bytes:
        if self._secret is None:
            fresh = secrets.token_bytes(32)
            first = await self._redis.set(self.keys.secret, fresh, nx=True, get=True)
            self._secret = cast("bytes | None", first) or fresh
        return self._secret

    # submit and read -------------------------------------------------------------

    @_translated
    async def _enqueue(
        self, submission: Submission, response_id: str, body_hash: str
    ) -> tuple[RequestRecord, bool]:
        return _enqueued(await self._run("enqueue", *self._enqueue_args(submission, response_id, body_hash)))

    @_translated
    async def _enqueue_many(
        self, items: list[tuple[Submission, str, str]]
    ) -> list[tuple[RequestRecord, bool]]:
        """One pipeline, one round trip: a batch of a thousand costs about what one submit does."""
        script = self._scripts["enqueue"]
        async with self._redis.pipeline(transaction=False) as pipe:
            for item in items:
                await script(args=[self.keys.prefix, *self._enqueue_args(*item)], client=pipe)
            replies = await pipe.execute()
        return [_enqueued(reply) for reply in replies]

    def _enqueue_args(self, sub: Submission, response_id: str, body_hash: str) -> tuple[Any, ...]:
        now = clock.now()
        idem = "" if sub.idempotency_key is None else self.keys.idempotency(sub.tenant, sub.idempotency_key)
        return (
            response_id,
            sub.tenant,
            sub.endpoint,
            now,
            self._ends_at(now),
            body_hash,
            sub.inputs,
            idem,
            sub.webhook or "",
            join_events(sub.webhook_events),
        )

    @_translated
    async def get_outputs(self, tenant: str, response_ids: list[str]) -> dict[str, bytes]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for response_id in response_ids:
                pipe.hmget(self.keys.request(response_id), ["tenant", "status"])
                pipe.get(self.keys.outputs(response_id))
            replies = await pipe.execute()
        wanted = [tenant.encode(), Status.COMPLETED.value.encode()]
        return {
            response_id: bytes(output)
            for response_id, owner, output in zip(response_ids, replies[::2], replies[1::2], strict=True)
            if owner == wanted and output is not None
        }

    @_translated
    async def _get_many(self, tenant: str, response_ids: list[str]) -> list[RequestRecord]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for response_id in response_ids:
                pipe.hgetall(self.keys.request(response_id))
            replies = await pipe.execute()
        owner = tenant.encode()
        return [
            _record({name.decode(): value for name, value in fields.items()})
            for fields in replies
            if fields.get(b"tenant") == owner
        ]

    @_translated
    async def _get(self, tenant: str, response_id: str) -> RequestRecord | None:
        reply = await self._run("get", response_id, tenant)
        if reply is None:
            return None
        flat, position = reply
        return _record(_pairs(flat), None if position < 0 else position)

    @_translated
    async def _get_output(self, tenant: str, response_id: str) -> bytes | None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hmget(self.keys.request(response_id), ["tenant", "status"])
            pipe.get(self.keys.outputs(response_id))
            (owner, status), output = await pipe.execute()
        if owner != tenant.encode() or status != Status.COMPLETED.value.encode():
            return None
        return bytes(output) if output is not None else None

    @_translated
    async def _owner(self, response_id: str) -> str | None:
        return _text(cast("bytes | None", await self._redis.hget(self.keys.request(response_id), "tenant")))

    @_translated
    async def list_requests(
        self,
        tenant: str | None,
        *,
        status: Status | None = None,
        endpoint: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[RequestRecord]:
        index = self.keys.all_requests if tenant is None else self.keys.tenant(tenant)
        below = "+inf"
        if before is not None:
            score = await self._redis.zscore(index, before)
            if score is None:
                return []
            below = f"({int(score)}"
        # unfiltered, one page of ids is one page of records (bar a few expired)
        batch = limit if status is None and endpoint is None else max(limit, 100)
        records: list[RequestRecord] = []
        while len(records) < limit:
            reply = await self._redis.zrevrangebyscore(
                index, below, "-inf", start=0, num=batch, withscores=True
            )
            page = cast("list[tuple[bytes, float]]", reply)
            if not page:
                break
            rows = await _each(self._redis, [self.keys.request(rid.decode()) for rid, _ in page])
            for row in rows:
                fields = {key.decode(): value for key, value in row.items()}
                if fields and _matches(fields, status, endpoint) and len(records) < limit:
                    records.append(_record(fields))
            below = f"({int(page[-1][1])}"
        return records

    @_translated
    async def _cancel(self, tenant: str, response_id: str, now: float) -> RequestRecord | None:
        flat = await self._run("cancel", response_id, tenant, now, self._ends_at(now), self._retention_ms)
        return None if flat is None else _record(_pairs(flat))

    @_translated
    async def _delete(self, tenant: str, response_id: str) -> Status | None:
        status = await self._run("delete", response_id, tenant)
        return None if status is None else Status(status.decode())

    @_translated
    async def count_active(self, tenant: str, limit: int) -> int:
        return min(limit, int(await self._redis.scard(self.keys.active(tenant))))

    # worker side ---------------------------------------------------------------

    @_translated
    async def _claim(self, endpoint: str, worker_id: str, now: float) -> tuple[Claim | None, list[str]]:
        opts = self.policy
        args = (
            endpoint,
            worker_id,
            secrets.token_hex(8),
            now,
            self._lease_ms,
            opts.max_attempts,
            self._ends_at(now),
            self._retention_ms,
        )
        failed, claimed = await self._run("claim", *args)
        failed_ids = [response_id.decode() for response_id in failed]
        if claimed is None:
            return None, failed_ids
        flat, inputs = claimed
        fields = _pairs(flat)
        lease_id = fields["lease_id"].decode()
        return Claim(record=_record(fields), inputs=bytes(inputs), lease_id=lease_id), failed_ids

    @_translated
    async def heartbeat(self, worker: WorkerInfo, lease_ids: list[str]) -> set[str]:
        args = (
            worker.worker_id,
            worker.endpoint,
            int(worker.ready),
            self._lease_ms,
            worker.setup_error or "",
            *lease_ids,
        )
        lost = await self._run("heartbeat", *args)
        return {lease_id.decode() for lease_id in lost}

    @_translated
    async def _finish(
        self,
        claim: Claim,
        status: Status,
        output: bytes | None,
        error_type: str | None,
        error: str | None,
        now: float,
    ) -> bool:
        args = (
            claim.record.response_id,
            claim.lease_id,
            status.value,
            now,
            self._ends_at(now),
            self._retention_ms,
            error_type or "",
            error or "",
            output or b"",
        )
        return bool(await self._run("finish", *args))

    @_translated
    async def _set_progress(self, claim: Claim, progress: float) -> bool:
        return bool(await self._run("progress", claim.record.response_id, claim.lease_id, repr(progress)))

    @_translated
    async def remove_worker(self, worker_id: str) -> None:
        await self._run("remove_worker", worker_id)

    @_translated
    async def endpoint_ready(self, endpoint: str) -> bool:
        return bool(await self._run("ready_workers", endpoint, self._lease_ms))

    @_translated
    async def setup_error(self, endpoint: str) -> str | None:
        return _text(cast("bytes | None", await self._redis.get(self.keys.setup_error(endpoint))))

    @_translated
    async def _release_worker(self, worker_id: str, reason: str, now: float) -> tuple[list[str], list[str]]:
        args = (worker_id, reason, self.policy.max_attempts, now, self._ends_at(now), self._retention_ms)
        failed, requeued = await self._run("release_worker", *args)
        return [response_id.decode() for response_id in failed], [endpoint.decode() for endpoint in requeued]

    @_translated
    async def _endpoint_stats(self, endpoint: str, now: float) -> EndpointStats:
        pending, running, oldest, workers, ready = await self._run("endpoint_stats", endpoint, self._lease_ms)
        age = None if oldest is None else max(0.0, now - float(oldest))
        return EndpointStats(pending, running, age, workers, ready)

    @_translated
    async def _endpoint_counters(self, endpoint: str) -> dict[str, float]:
        stored = cast("dict[bytes, bytes]", await self._redis.hgetall(self.keys.counters(endpoint)))
        return {name.decode(): float(value) for name, value in stored.items()}

    # maintenance ---------------------------------------------------------------

    @_translated
    async def _reap_leases(self, now: float) -> tuple[list[str], list[str]]:
        """Lease expiry is judged by Redis's clock (stream idle times), so ``now`` only
        stamps the requests that fail."""
        ended: list[str] = []
        requeued: list[str] = []
        args = (self._lease_ms, self.policy.max_attempts, now, self._ends_at(now), self._retention_ms)
        endpoints = cast("set[bytes]", await self._redis.smembers(self.keys.endpoints))
        for endpoint in sorted(raw.decode() for raw in endpoints):
            failed, count = await self._run("reap", endpoint, *args)
            ended += [response_id.decode() for response_id in failed]
            requeued += [endpoint] * count
        return ended, requeued

    @_translated
    async def expire(self, now: float, limit: int = 1000) -> int:
        return int(await self._run("expire", now, limit))

    # tokens --------------------------------------------------------------------

    @_translated
    async def create_token(self, name: str, *, admin: bool = False) -> tuple[TokenInfo, str]:
        token_id, token = new_token()
        info = TokenInfo(id=token_id, name=name, created_at=clock.now(), admin=admin)
        digest = token_hash(token)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self.keys.token(token_id),
                mapping={
                    "id": token_id,
                    "name": name,
                    "hash": digest,
                    "admin": int(admin),
                    "created_at": info.created_at,
                },
            )
            pipe.set(self.keys.token_hash(digest), token_id)
            pipe.zadd(self.keys.tokens, {token_id: info.created_at})
            await pipe.execute()
        return info, token

    @_translated
    async def list_tokens(self) -> list[TokenInfo]:
        ids = cast("list[bytes]", await self._redis.zrange(self.keys.tokens, 0, -1))
        rows = await _each(self._redis, [self.keys.token(token_id.decode()) for token_id in ids])
        return [_token({key.decode(): value for key, value in row.items()}) for row in rows if row]

    @_translated
    async def revoke_token(self, token_id: str) -> bool:
        return bool(await self._run("revoke_token", token_id, clock.now()))

    @_translated
    async def authenticate(self, token: str) -> TokenInfo | None:
        flat = await self._run("authenticate", token_hash(token))
        if flat is None:
            return None
        info = _token(_pairs(flat))
        return None if info.revoked_at is not None else info


def _matches(fields: dict[str, bytes], status: Status | None, endpoint: str | None) -> bool:
    if status is not None and fields["status"] != status.value.encode():
        return False
    return endpoint is None or fields["endpoint"] == endpoint.encode()


async def _each(redis: Redis, keys: list[str]) -> list[dict[bytes, bytes]]:
    """``HGETALL`` of many hashes in one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hgetall(key)
        return list(await pipe.execute())
