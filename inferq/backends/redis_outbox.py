"""The Redis backend's webhook outbox: deliveries, their attempts and each tenant's key.

:data:`OUTBOX_LUA` is part of every script of :mod:`inferq.backends.redis_scripts`, so the
script that claims a request or ends it queues the delivery of that event in the same
atomic step (``webhook_event``), and the one that deletes a request deletes its deliveries
(``forget_webhooks``). A delivery is one hash, its attempts numbered fields of it; the
``hookdue`` zset orders pending deliveries by when a deliverer may take them: the next
attempt, or the end of the lease while one is being sent.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar, cast

from inferq.backends.redis_keys import lua_prelude
from inferq.domain.webhooks import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookLease

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from inferq.backends.redis_keys import Keys

T = TypeVar("T")

OUTBOX_LUA = """
local function add_delivery(id, tenant, wid, event, url, created_at, due)
  redis.call('HSET', k_webhook(wid), 'webhook_id', wid, 'response_id', id, 'tenant', tenant, 'event', event,
    'url', url, 'created_at', created_at, 'state', 'pending', 'next_attempt_at', due, 'attempts', 0)
  redis.call('ZADD', k_webhooks(id), redis.call('INCR', K_webhook_seq), wid)
  redis.call('ZADD', K_webhooks_due, due, wid)
end

-- Queue a delivery of event (happened at `at`) when the request's webhook filter asks for it.
local function webhook_event(id, event, at)
  local h = redis.call('HMGET', k_request(id), 'webhook', 'webhook_events', 'tenant')
  if not h[1] or not string.find(',' .. h[2] .. ',', ',' .. event .. ',', 1, true) then return end
  local t = redis.call('TIME')
  local wid = 'msg_' .. string.sub(redis.sha1hex(id .. event .. t[1] .. '.' .. t[2] .. redis.call('INCR', K_webhook_seq)), 1, 32)
  add_delivery(id, h[3], wid, event, h[1], at, at)
end

local function forget_webhooks(id)
  for _, wid in ipairs(redis.call('ZRANGE', k_webhooks(id), 0, -1)) do
    redis.call('DEL', k_webhook(wid))
    redis.call('ZREM', K_webhooks_due, wid)
  end
  redis.call('DEL', k_webhooks(id))
end
"""


def _script(body: str) -> str:
    return lua_prelude() + OUTBOX_LUA + body


OUTBOX_SCRIPTS = {
    # ARGV: prefix, now, lease_until, lease_id, limit → delivery hashes
    "webhook_claim": _script("""
local leased = {}
for _, wid in ipairs(redis.call('ZRANGEBYSCORE', K_webhooks_due, '-inf', ARGV[2], 'LIMIT', 0, ARGV[5])) do
  local hook = k_webhook(wid)
  if redis.call('HGET', hook, 'state') == 'pending' then
    redis.call('ZADD', K_webhooks_due, ARGV[3], wid)
    redis.call('HSET', hook, 'lease_id', ARGV[4])
    leased[#leased + 1] = redis.call('HGETALL', hook)
  else
    redis.call('ZREM', K_webhooks_due, wid)
  end
end
return leased
"""),
    # ARGV: prefix, webhook_id, lease_id, state, next_attempt_at ('' for none), attempt (JSON) → 1 | 0
    "webhook_record": _script("""
local wid, hook = ARGV[2], k_webhook(ARGV[2])
if redis.call('HGET', hook, 'lease_id') ~= ARGV[3] then return 0 end
local n = redis.call('HINCRBY', hook, 'attempts', 1)
redis.call('HSET', hook, 'state', ARGV[4], 'attempt:' .. n, ARGV[6])
redis.call('HDEL', hook, 'lease_id')
if ARGV[5] == '' then
  redis.call('HDEL', hook, 'next_attempt_at')
  redis.call('ZREM', K_webhooks_due, wid)
else
  redis.call('HSET', hook, 'next_attempt_at', ARGV[5])
  redis.call('ZADD', K_webhooks_due, ARGV[5], wid)
end
return 1
"""),
    # ARGV: prefix, id, tenant → delivery hashes, oldest first | nil (not the tenant's)
    "webhook_log": _script("""
if redis.call('HGET', k_request(ARGV[2]), 'tenant') ~= ARGV[3] then return false end
local log = {}
for _, wid in ipairs(redis.call('ZRANGE', k_webhooks(ARGV[2]), 0, -1)) do
  log[#log + 1] = redis.call('HGETALL', k_webhook(wid))
end
return log
"""),
    # ARGV: prefix, id, tenant, new webhook_id, now → the new delivery's hash | nil
    "webhook_redeliver": _script("""
local h = redis.call('HMGET', k_request(ARGV[2]), 'tenant', 'webhook')
if h[1] ~= ARGV[3] or not h[2] then return false end
local latest = redis.call('ZRANGE', k_webhooks(ARGV[2]), -1, -1)
if #latest == 0 then return false end
local prior = redis.call('HMGET', k_webhook(latest[1]), 'event', 'created_at')
add_delivery(ARGV[2], ARGV[3], ARGV[4], prior[1], h[2], prior[2], ARGV[5])
return redis.call('HGETALL', k_webhook(ARGV[4]))
"""),
}


def _translated(method: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., Coroutine[Any, Any, T]]:
    """The Redis backend's translation of "Redis is unreachable" into a 503, looked up when
    called because :mod:`inferq.backends.redis` imports this module."""

    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> T:
        from inferq.backends import redis as redis_backend

        return await redis_backend._translated(method)(*args, **kwargs)

    return wrapper


class RedisOutbox:
    """The webhook methods of :class:`~inferq.backends.redis.RedisBackend`."""

    if TYPE_CHECKING:
        keys: Keys
        _redis: Redis

        async def _run(self, script: str, *args: Any) -> Any: ...

    @_translated
    async def _webhook_secret(self, tenant: str, fresh: str) -> str:
        first = cast(
            "bytes | None", await self._redis.set(self.keys.webhook_secret(tenant), fresh, nx=True, get=True)
        )
        return fresh if first is None else first.decode()

    @_translated
    async def _claim_webhooks(
        self, now: float, lease_until: float, lease_id: str, limit: int
    ) -> list[WebhookLease]:
        leased = await self._run("webhook_claim", repr(now), repr(lease_until), lease_id, limit)
        return [_lease(_fields(flat)) for flat in leased]

    @_translated
    async def record_webhook_attempt(
        self,
        lease: WebhookLease,
        attempt: WebhookAttempt,
        state: DeliveryState,
        next_attempt_at: float | None,
    ) -> bool:
        entry = json.dumps([attempt.at, attempt.status_code, attempt.error, attempt.duration_ms])
        due = "" if next_attempt_at is None else repr(next_attempt_at)
        return bool(
            await self._run("webhook_record", lease.webhook_id, lease.lease_id, state.value, due, entry)
        )

    @_translated
    async def _webhook_log(self, tenant: str, response_id: str) -> list[WebhookDelivery] | None:
        log = await self._run("webhook_log", response_id, tenant)
        return None if log is None else [_delivery(_fields(flat)) for flat in log]

    @_translated
    async def _redeliver_webhook(
        self, tenant: str, response_id: str, webhook_id: str, now: float
    ) -> WebhookDelivery | None:
        flat = await self._run("webhook_redeliver", response_id, tenant, webhook_id, repr(now))
        return None if flat is None else _delivery(_fields(flat))


def _fields(flat: list[bytes]) -> dict[str, str]:
    return {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}


def _lease(fields: dict[str, str]) -> WebhookLease:
    return WebhookLease(
        webhook_id=fields["webhook_id"],
        response_id=fields["response_id"],
        tenant=fields["tenant"],
        event=fields["event"],
        url=fields["url"],
        created_at=float(fields["created_at"]),
        attempts_made=int(fields["attempts"]),
        lease_id=fields["lease_id"],
    )


def _delivery(fields: dict[str, str]) -> WebhookDelivery:
    state = DeliveryState(fields["state"])
    attempts = (json.loads(fields[f"attempt:{n}"]) for n in range(1, int(fields["attempts"]) + 1))
    return WebhookDelivery(
        webhook_id=fields["webhook_id"],
        event=fields["event"],
        url=fields["url"],
        state=state,
        next_attempt_at=float(fields["next_attempt_at"]) if state is DeliveryState.PENDING else None,
        attempts=tuple(WebhookAttempt(*entry) for entry in attempts),
    )
