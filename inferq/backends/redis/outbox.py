"""The Redis webhook outbox: deliveries, their attempts and each tenant's key.

``outbox.lua`` is part of every script, so the script that makes a move queues the
delivery of its event in the same atomic step (``webhook_event``), and the one that
deletes a request deletes its deliveries (``forget_webhooks``). A delivery is one hash,
its attempts numbered fields of it; the ``hookdue`` zset orders pending deliveries by
when a deliverer may take them: the next attempt, or the end of the lease while one is
being sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import cast

from inferq.backends.contracts import Outbox
from inferq.backends.redis.client import Store
from inferq.domain.webhooks import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookLease


class RedisOutbox(Store, Outbox):
    async def signing_key(self, tenant: str, fresh: str) -> str:
        first = cast(
            "bytes | None", await self.redis.set(self.keys.webhook_secret(tenant), fresh, nx=True, get=True)
        )
        return fresh if first is None else first.decode()

    async def claim(
        self,
        now: float,
        lease_until: float,
        lease_id: str,
        limit: int,
        busy: Mapping[str, int],
        per_tenant: int | None,
    ) -> list[WebhookLease]:
        share = "" if per_tenant is None else per_tenant
        args = (
            repr(now),
            repr(lease_until),
            lease_id,
            limit,
            share,
            json.dumps(dict(busy)) if busy else "{}",
        )
        leased = await self.run("webhook_claim", *args)
        return [_lease(_fields(flat)) for flat in leased]

    async def record(
        self,
        lease: WebhookLease,
        attempt: WebhookAttempt,
        state: DeliveryState,
        next_attempt_at: float | None,
    ) -> bool:
        entry = json.dumps([attempt.at, attempt.status_code, attempt.error, attempt.duration_ms])
        due = "" if next_attempt_at is None else repr(next_attempt_at)
        return bool(
            await self.run("webhook_record", lease.webhook_id, lease.lease_id, state.value, due, entry)
        )

    async def log(self, tenant: str, response_id: str) -> list[WebhookDelivery] | None:
        log = await self.run("webhook_log", response_id, tenant)
        return None if log is None else [_delivery(_fields(flat)) for flat in log]

    async def redeliver(
        self, tenant: str, response_id: str, webhook_id: str, now: float
    ) -> WebhookDelivery | None:
        flat = await self.run("webhook_redeliver", response_id, tenant, webhook_id, repr(now))
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
