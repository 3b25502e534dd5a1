"""The SQLite backend's webhook outbox: deliveries, their attempts and each tenant's key.

Triggers on ``requests`` create a delivery in the very transaction that changes a
request's status (a first claim for ``start``, any end for ``completed``), and delete a
request's deliveries with it, so no statement of :mod:`inferq.backends.sqlite` has to
remember webhooks. ``due_at`` is when a deliverer may take a pending delivery: its next
attempt, or the end of the lease while one is being sent.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any, TypeVar

from inferq.domain.webhooks import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookLease

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")

_NEW_ID = "'msg_' || lower(hex(randomblob(16)))"


def _wants(event: str) -> str:
    return f"NEW.webhook IS NOT NULL AND instr(',' || NEW.webhook_events || ',', ',{event},') > 0"


def _on_event(event: str, at: str) -> str:
    return f"""
    INSERT INTO webhook_deliveries(webhook_id, seq, event, url, created_at, due_at, next_attempt_at)
    VALUES ({_NEW_ID}, NEW.seq, '{event}', NEW.webhook, {at}, {at}, {at});"""


#: Run after the request columns ``webhook`` and ``webhook_events`` exist.
OUTBOX_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS webhook_secrets (tenant TEXT PRIMARY KEY, secret TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    webhook_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    url TEXT NOT NULL,
    created_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    due_at REAL,
    next_attempt_at REAL,
    lease_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries(due_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_request ON webhook_deliveries(seq);
CREATE TABLE IF NOT EXISTS webhook_attempts (
    webhook_id TEXT NOT NULL,
    n INTEGER NOT NULL,
    at REAL NOT NULL,
    status_code INTEGER,
    error TEXT,
    duration_ms REAL NOT NULL,
    PRIMARY KEY (webhook_id, n)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS webhook_on_start AFTER UPDATE OF status ON requests
WHEN {_wants("start")} AND OLD.status = 'pending' AND NEW.status = 'running' AND NEW.attempts = 1
BEGIN{_on_event("start", "NEW.started_at")}
END;
CREATE TRIGGER IF NOT EXISTS webhook_on_end AFTER UPDATE OF status ON requests
WHEN {_wants("completed")} AND OLD.status IN ('pending', 'running')
    AND NEW.status IN ('completed', 'failed', 'cancelled')
BEGIN{_on_event("completed", "NEW.completed_at")}
END;
CREATE TRIGGER IF NOT EXISTS webhook_forget AFTER DELETE ON requests WHEN OLD.webhook IS NOT NULL
BEGIN
    DELETE FROM webhook_attempts
    WHERE webhook_id IN (SELECT webhook_id FROM webhook_deliveries WHERE seq = OLD.seq);
    DELETE FROM webhook_deliveries WHERE seq = OLD.seq;
END;
"""

CLAIM = """
UPDATE webhook_deliveries SET due_at = ?2, lease_id = ?3
WHERE webhook_id IN (
    SELECT webhook_id FROM webhook_deliveries WHERE state = 'pending' AND due_at <= ?1 ORDER BY due_at LIMIT ?4
)
RETURNING webhook_id, event, url, created_at, attempts,
    (SELECT response_id FROM requests r WHERE r.seq = webhook_deliveries.seq) AS response_id,
    (SELECT tenant FROM requests r WHERE r.seq = webhook_deliveries.seq) AS tenant
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
INSERT INTO webhook_deliveries(webhook_id, seq, event, url, created_at, due_at, next_attempt_at)
VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *
"""


class SQLiteOutbox:
    """The webhook methods of :class:`~inferq.backends.sqlite.SQLiteBackend`."""

    if TYPE_CHECKING:

        async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

        def _read(self, query: str, *args: Any) -> list[sqlite3.Row]: ...

    async def _webhook_secret(self, tenant: str, fresh: str) -> str:
        def ensure(conn: sqlite3.Connection) -> str:
            conn.execute(
                "INSERT OR IGNORE INTO webhook_secrets(tenant, secret) VALUES (?, ?)", (tenant, fresh)
            )
            return str(
                conn.execute("SELECT secret FROM webhook_secrets WHERE tenant = ?", (tenant,)).fetchone()[0]
            )

        return await self._write(ensure)

    async def _claim_webhooks(
        self, now: float, lease_until: float, lease_id: str, limit: int
    ) -> list[WebhookLease]:
        rows = await self._write(lambda c: c.execute(CLAIM, (now, lease_until, lease_id, limit)).fetchall())
        return [
            WebhookLease(
                row["webhook_id"],
                row["response_id"],
                row["tenant"],
                row["event"],
                row["url"],
                row["created_at"],
                row["attempts"],
                lease_id,
            )
            for row in rows
        ]

    async def record_webhook_attempt(
        self,
        lease: WebhookLease,
        attempt: WebhookAttempt,
        state: DeliveryState,
        next_attempt_at: float | None,
    ) -> bool:
        def record(conn: sqlite3.Connection) -> bool:
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    RECORD, (state.value, next_attempt_at, lease.webhook_id, lease.lease_id)
                ).fetchone()
                if row is not None:
                    conn.execute(
                        INSERT_ATTEMPT,
                        (
                            lease.webhook_id,
                            row[0],
                            attempt.at,
                            attempt.status_code,
                            attempt.error,
                            attempt.duration_ms,
                        ),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return row is not None

        return await self._write(record)

    async def _webhook_log(self, tenant: str, response_id: str) -> list[WebhookDelivery] | None:
        found = self._read(REQUEST, response_id, tenant)
        if not found:
            return None
        request = found[0]
        attempts: dict[str, list[WebhookAttempt]] = {}
        for row in self._read(ATTEMPTS, request["seq"]):
            attempts.setdefault(row["webhook_id"], []).append(
                WebhookAttempt(row["at"], row["status_code"], row["error"], row["duration_ms"])
            )
        return [
            _delivery(row, tuple(attempts.get(row["webhook_id"], ())))
            for row in self._read(DELIVERIES, request["seq"])
        ]

    async def _redeliver_webhook(
        self, tenant: str, response_id: str, webhook_id: str, now: float
    ) -> WebhookDelivery | None:
        def redeliver(conn: sqlite3.Connection) -> WebhookDelivery | None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                request = conn.execute(REQUEST, (response_id, tenant)).fetchone()
                latest = None if request is None else conn.execute(LATEST, (request["seq"],)).fetchone()
                row = None
                if latest is not None:
                    args = (
                        webhook_id,
                        request["seq"],
                        latest["event"],
                        request["webhook"],
                        latest["created_at"],
                        now,
                        now,
                    )
                    row = conn.execute(REDELIVER, args).fetchone()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return None if row is None else _delivery(row, ())

        return await self._write(redeliver)


def _delivery(row: sqlite3.Row, attempts: tuple[WebhookAttempt, ...]) -> WebhookDelivery:
    return WebhookDelivery(
        webhook_id=row["webhook_id"],
        event=row["event"],
        url=row["url"],
        state=DeliveryState(row["state"]),
        next_attempt_at=row["next_attempt_at"] if row["state"] == DeliveryState.PENDING else None,
        attempts=attempts,
    )
