"""The SQLite webhook outbox: deliveries (queued by the triggers of
:mod:`inferq.backends.sqlite.schema`), their attempts and each tenant's key.

``due_at`` is when a deliverer may take a pending delivery: its next attempt, or the end
of the lease while one is being sent.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from inferq.backends.contracts import Outbox
from inferq.backends.sqlite.database import Database, transaction
from inferq.domain.webhooks import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookLease

# The tenants with pending deliveries, one index seek each (a skip scan of the index).
PENDING_TENANTS = """
WITH RECURSIVE t(tenant) AS (
    SELECT min(tenant) FROM webhook_deliveries INDEXED BY webhook_deliveries_due_by_tenant WHERE state = 'pending'
    UNION ALL
    SELECT (SELECT min(tenant) FROM webhook_deliveries INDEXED BY webhook_deliveries_due_by_tenant
            WHERE state = 'pending' AND tenant > t.tenant)
    FROM t WHERE t.tenant IS NOT NULL
)
SELECT tenant FROM t WHERE tenant IS NOT NULL
"""
TENANT_DUE = """
SELECT webhook_id, due_at FROM webhook_deliveries INDEXED BY webhook_deliveries_due_by_tenant
WHERE state = 'pending' AND tenant = ?1 AND due_at <= ?2 ORDER BY due_at LIMIT ?3
"""
LEASE = """
UPDATE webhook_deliveries SET due_at = ?1, lease_id = ?2 WHERE webhook_id = ?3
RETURNING webhook_id, tenant, event, url, created_at, attempts,
    (SELECT response_id FROM requests r WHERE r.seq = webhook_deliveries.seq) AS response_id
"""
RECORD = """
UPDATE webhook_deliveries SET state = ?1, due_at = ?2, next_attempt_at = ?2, lease_id = NULL,
    attempts = attempts + 1
WHERE webhook_id = ?3 AND lease_id = ?4 RETURNING attempts
"""
INSERT_ATTEMPT = "INSERT INTO webhook_attempts(webhook_id, n, at, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)"
REQUEST = "SELECT seq, webhook FROM requests WHERE response_id = ? AND tenant = ?"
DELIVERIES = "SELECT * FROM webhook_deliveries WHERE seq = ? ORDER BY rowid"
ATTEMPTS = """
SELECT a.* FROM webhook_attempts a JOIN webhook_deliveries d ON d.webhook_id = a.webhook_id
WHERE d.seq = ? ORDER BY a.n
"""
LATEST = "SELECT event, created_at FROM webhook_deliveries WHERE seq = ? ORDER BY rowid DESC LIMIT 1"
REDELIVER = """
INSERT INTO webhook_deliveries(webhook_id, seq, tenant, event, url, created_at, due_at, next_attempt_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *
"""
SIGNING_KEY = "SELECT secret FROM webhook_secrets WHERE tenant = ?"


class SQLiteOutbox(Outbox):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def signing_key(self, tenant: str, fresh: str) -> str:
        def ensure(conn: sqlite3.Connection) -> str:
            conn.execute(
                "INSERT OR IGNORE INTO webhook_secrets(tenant, secret) VALUES (?, ?)", (tenant, fresh)
            )
            return str(conn.execute(SIGNING_KEY, (tenant,)).fetchone()[0])

        return await self.db.write(ensure)

    async def claim(
        self,
        now: float,
        lease_until: float,
        lease_id: str,
        limit: int,
        busy: Mapping[str, int],
        per_tenant: int | None,
    ) -> list[WebhookLease]:
        """Each tenant's soonest due, up to its room, then the soonest of those: one index
        seek per tenant with deliveries pending, plus what is taken."""

        def claim(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            with transaction(conn):
                due: list[tuple[float, str]] = []
                for (tenant,) in conn.execute(PENDING_TENANTS).fetchall():
                    room = limit if per_tenant is None else min(limit, per_tenant - busy.get(tenant, 0))
                    if room > 0:
                        due += [(row[1], row[0]) for row in conn.execute(TENANT_DUE, (tenant, now, room))]
                taken = [webhook_id for _, webhook_id in sorted(due)[:limit]]
                return [conn.execute(LEASE, (lease_until, lease_id, wid)).fetchone() for wid in taken]

        return [
            WebhookLease(
                webhook_id=row["webhook_id"],
                response_id=row["response_id"],
                tenant=row["tenant"],
                event=row["event"],
                url=row["url"],
                created_at=row["created_at"],
                attempts_made=row["attempts"],
                lease_id=lease_id,
            )
            for row in await self.db.write(claim, durable=False)
        ]

    async def record(
        self,
        lease: WebhookLease,
        attempt: WebhookAttempt,
        state: DeliveryState,
        next_attempt_at: float | None,
    ) -> bool:
        def record(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                row = conn.execute(
                    RECORD, (state.value, next_attempt_at, lease.webhook_id, lease.lease_id)
                ).fetchone()
                if row is not None:
                    logged = (attempt.at, attempt.status_code, attempt.error, attempt.duration_ms)
                    conn.execute(INSERT_ATTEMPT, (lease.webhook_id, row[0], *logged))
            return row is not None

        return await self.db.write(record)

    async def log(self, tenant: str, response_id: str) -> list[WebhookDelivery] | None:
        found = self.db.read(REQUEST, response_id, tenant)
        if not found:
            return None
        seq = found[0]["seq"]
        attempts: dict[str, list[WebhookAttempt]] = {}
        for row in self.db.read(ATTEMPTS, seq):
            attempts.setdefault(row["webhook_id"], []).append(
                WebhookAttempt(row["at"], row["status_code"], row["error"], row["duration_ms"])
            )
        return [
            _delivery(row, tuple(attempts.get(row["webhook_id"], ())))
            for row in self.db.read(DELIVERIES, seq)
        ]

    async def redeliver(
        self, tenant: str, response_id: str, webhook_id: str, now: float
    ) -> WebhookDelivery | None:
        def redeliver(conn: sqlite3.Connection) -> WebhookDelivery | None:
            with transaction(conn):
                request = conn.execute(REQUEST, (response_id, tenant)).fetchone()
                latest = None if request is None else conn.execute(LATEST, (request["seq"],)).fetchone()
                if latest is None:
                    return None
                args = (
                    webhook_id,
                    request["seq"],
                    tenant,
                    latest["event"],
                    request["webhook"],
                    latest["created_at"],
                    now,
                    now,
                )
                row = conn.execute(REDELIVER, args).fetchone()
            return _delivery(row, ())

        return await self.db.write(redeliver)


def _delivery(row: sqlite3.Row, attempts: tuple[WebhookAttempt, ...]) -> WebhookDelivery:
    return WebhookDelivery(
        webhook_id=row["webhook_id"],
        event=row["event"],
        url=row["url"],
        state=DeliveryState(row["state"]),
        next_attempt_at=row["next_attempt_at"] if row["state"] == DeliveryState.PENDING else None,
        attempts=attempts,
    )
