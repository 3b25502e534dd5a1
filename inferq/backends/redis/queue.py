"""The Redis queue: one stream per endpoint, whose consumer group's pending entries are the leases.

A request waits in its tenant's sorted set of the endpoint, by its order key, and the
endpoint's ``shares`` set orders the tenants with requests waiting by virtual time, ties
by name (:mod:`inferq.domain.scheduling`). A claim takes the first tenant's first request
and only then adds it to the stream. A lease is live while
its entry's idle time (reset by every renewal) is under the lease its holder asked for,
measured by Redis's clock, not the machines', so neither clock skew nor a gateway with a
shorter ``--lease`` takes a live lease away.

Lost leases are handled in two places, by the same Lua helper: a claim first takes over an
expired lease (so a worker pool with no gateway still recovers), and :meth:`RedisQueue.reap`
(each gateway, every second) requeues or gives up on them, so that happens, and the caller
hears of it, even while no worker of that endpoint is free to claim.
"""

from __future__ import annotations

import secrets
from typing import Any, cast

from inferq.backends.contracts import Item, Queue, QueueStats, Standing
from inferq.backends.redis.client import Connection, Store, pairs
from inferq.backends.redis.requests import record_from_fields
from inferq.domain import lifecycle, scheduling
from inferq.domain.records import Claim, RequestRecord
from inferq.domain.scheduling import Turn
from inferq.domain.webhooks import join_events
from inferq.errors import Conflict
from inferq.policy import Policy

Outcome = tuple[RequestRecord, bool] | Conflict


def _enqueued(reply: list[Any]) -> Outcome:
    """The ``enqueue`` script's answer → ``(record, created)``, or a Conflict."""
    outcome, value = reply
    if outcome == b"conflict":
        return Conflict("Idempotency-Key was already used with a different body", response_id=value.decode())
    return record_from_fields(pairs(value)), outcome == b"created"


class RedisQueue(Store, Queue):
    def __init__(self, connection: Connection, policy: Policy) -> None:
        super().__init__(connection)
        self.policy = policy
        self._lease_ms = max(1, round(policy.lease_s * 1000))
        self._retention_ms = max(1, round(policy.retention_s * 1000))

    async def enqueue(self, items: list[Item], now: float, expires_at: float) -> list[Outcome]:
        """One pipeline, one round trip: a batch of a thousand costs about what one submit does."""
        replies = await self.run_each(
            "enqueue", [self._enqueue_args(item, now, expires_at) for item in items]
        )
        return [_enqueued(reply) for reply in replies]

    def _enqueue_args(self, item: Item, now: float, expires_at: float) -> tuple[Any, ...]:
        sub, response_id, body_hash = item
        idem = "" if sub.idempotency_key is None else self.keys.idempotency(sub.tenant, sub.idempotency_key)
        webhook = (sub.webhook or "", join_events(sub.webhook_events))
        if sub.retention_s is not None:
            expires_at = lifecycle.expires_at(now, sub.retention_s)
        order = (
            sub.priority,
            repr(sub.cost),
            repr(scheduling.order_key(sub.priority, now, sub.cost, sub.pace)),
            "" if sub.retention_s is None else max(1, round(sub.retention_s * 1000)),
            "" if sub.cancel_after_s is None else repr(now + sub.cancel_after_s),
            self._retention_ms,
            sub.retry_of or "",
            sub.reuse_key or "",
            "1" if sub.reuse else "",
        )
        return (
            response_id,
            sub.tenant,
            sub.endpoint,
            now,
            expires_at,
            body_hash,
            sub.inputs,
            idem,
            *webhook,
            *order,
        )

    async def claim(
        self, endpoint: str, worker_id: str, now: float, expires_at: float, limit: int
    ) -> tuple[list[Claim], list[str]]:
        """``limit`` runs of the claim script, one round trip."""
        each = (now, self._lease_ms, self.policy.max_attempts, expires_at, self._retention_ms)
        calls = [(endpoint, worker_id, secrets.token_hex(8), *each) for _ in range(limit)]
        replies = await self.run_each("claim", calls)
        claims: list[Claim] = []
        gave_up_ids: list[str] = []
        for gave_up, claimed in replies:
            gave_up_ids += [response_id.decode() for response_id in gave_up]
            if claimed is not None:
                flat, inputs = claimed
                fields = pairs(flat)
                record, lease_id = record_from_fields(fields), fields["lease_id"].decode()
                claims.append(Claim(record=record, inputs=bytes(inputs), lease_id=lease_id))
        return claims, gave_up_ids

    async def renew(self, worker_id: str, lease_ids: list[str], now: float) -> set[str]:
        lost = await self.run("renew", worker_id, *lease_ids)
        return {lease_id.decode() for lease_id in lost}

    async def set_progress(self, claim: Claim, progress: float) -> bool:
        return bool(await self.run("progress", claim.record.response_id, claim.lease_id, repr(progress)))

    async def checkpoint(self, claim: Claim, state: bytes, outputs: list[bytes]) -> bool:
        return bool(await self.run("checkpoint", claim.record.response_id, claim.lease_id, state, *outputs))

    async def finish(
        self,
        claim: Claim,
        move: lifecycle.Move,
        output: bytes | None,
        error: tuple[str, str] | None,
        now: float,
        expires_at: float,
    ) -> bool:
        error_type, message = error or ("", "")
        args = (
            claim.record.response_id,
            claim.lease_id,
            move.name,
            now,
            expires_at,
            self._retention_ms,
            error_type,
            message,
            output or b"",
        )
        return bool(await self.run("finish", *args))

    async def cancel(
        self, tenant: str, response_id: str, now: float, expires_at: float
    ) -> RequestRecord | None:
        flat = await self.run("cancel", response_id, tenant, now, expires_at, self._retention_ms)
        return None if flat is None else record_from_fields(pairs(flat))

    async def release(
        self, worker_id: str, reason: str, now: float, expires_at: float
    ) -> tuple[list[str], list[str]]:
        args = (worker_id, reason, self.policy.max_attempts, now, expires_at, self._retention_ms)
        gave_up, requeued = await self.run("release", *args)
        return [response_id.decode() for response_id in gave_up], [endpoint.decode() for endpoint in requeued]

    async def reap(self, now: float, expires_at: float) -> tuple[list[str], list[str]]:
        """Lease expiry is judged by Redis's clock (stream idle times), so ``now`` only
        stamps the requests given up on."""
        gave_up: list[str] = []
        requeued: list[str] = []
        args = (self._lease_ms, self.policy.max_attempts, now, expires_at, self._retention_ms)
        endpoints = cast("set[bytes]", await self.redis.smembers(self.keys.endpoints))
        for endpoint in sorted(raw.decode() for raw in endpoints):
            failed, count = await self.run("reap", endpoint, *args)
            gave_up += [response_id.decode() for response_id in failed]
            requeued += [endpoint] * count
        return gave_up, requeued

    async def miss_deadlines(self, now: float, expires_at: float, limit: int) -> list[RequestRecord]:
        missed = await self.run("miss_deadlines", now, expires_at, self._retention_ms, limit)
        return [record_from_fields(pairs(flat)) for flat in missed]

    async def standing_of_new(self, endpoint: str, tenant: str, order_key: float) -> Standing:
        reply = await self.run("standing", "", endpoint, tenant, repr(order_key))
        return _standing(reply)

    async def standings(self, endpoint: str, records: list[RequestRecord]) -> dict[str, Standing]:
        """The standing script of each record (O(log n) for its rank), in one pipeline."""
        calls = [(record.response_id, endpoint, record.tenant, "") for record in records]
        replies = await self.run_each("standing", calls)
        return {
            record.response_id: _standing(reply)
            for record, reply in zip(records, replies, strict=True)
            if reply[4] == b"pending"
        }

    async def stats(self, endpoint: str) -> QueueStats:
        pending, running, oldest = await self.run("queue_stats", endpoint)
        return QueueStats(pending, running, None if oldest is None else float(oldest))


def _standing(reply: list[Any]) -> Standing:
    """The standing script's answer (numbers as strings; a tie goes to the share that
    joined first, and its name says when)."""
    rank, mine, others, (requeued, requeued_cost), _ = reply
    if rank is None:
        return Standing(requeued=int(requeued), requeued_cost=float(requeued_cost))

    def turn(share: bytes, virtual_time: bytes, waiting: int, cost: bytes) -> Turn:
        return Turn(float(virtual_time), share, int(waiting), float(cost))

    return Standing(
        int(rank), turn(*mine), [turn(*other) for other in others], int(requeued), float(requeued_cost)
    )
