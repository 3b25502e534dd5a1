"""The SQLite queue: every move of a request, one transaction each.

Submits and results are group-committed (:class:`~inferq.backends.sqlite.database.GroupCommit`):
while one group is being written, new ones gather into the next, so one disk flush covers
many requests; a batch of claims is one transaction too. A request's place in its endpoint's
queue is its ``seq``; fair order across tenants comes from ``turns`` (see
:mod:`inferq.backends.sqlite.schema`), whose triggers, like those of the counters and
the webhook outbox, follow every status change made here.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from typing import Any

from inferq.backends.contracts import Item, Queue, QueueStats, Standing
from inferq.backends.sqlite import render
from inferq.backends.sqlite.database import Database, GroupCommit, transaction
from inferq.backends.sqlite.requests import GET, record_from_row
from inferq.backends.sqlite.schema import REQUEUED, URGENT, WAITING
from inferq.domain import lifecycle, scheduling
from inferq.domain.records import Claim, RequestRecord
from inferq.domain.scheduling import Turn
from inferq.domain.status import Status
from inferq.domain.webhooks import join_events
from inferq.errors import Conflict
from inferq.policy import Policy

Outcome = tuple[RequestRecord, bool] | Conflict

_PENDING, _RUNNING = render.quoted(Status.PENDING.value), render.quoted(Status.RUNNING.value)
_ACTIVE = render.statuses(lifecycle.CANCEL.before)

INSERT = f"""
INSERT INTO requests(response_id, tenant, endpoint, status, created_at, expires_at, idempotency_key, body_hash,
    webhook, webhook_events, priority, cost, order_key, retention_s, deadline_at, retry_of, reuse_key)
VALUES (?, ?, ?, {_PENDING}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *
"""
RETRIED_BY = "UPDATE requests SET retried_by = ? WHERE response_id = ? AND tenant = ?"
# The newest completed request with the same reuse key (the key covers the tenant; checked
# again here), and the pending one answered from its output.
REUSABLE = f"""
SELECT seq, response_id FROM requests INDEXED BY requests_reusable
WHERE reuse_key = ? AND status = {render.quoted(Status.COMPLETED.value)} AND tenant = ? ORDER BY seq DESC LIMIT 1
"""
BY_IDEMPOTENCY_KEY = "SELECT * FROM requests WHERE tenant = ? AND idempotency_key = ?"
CLAIM = f"""
UPDATE requests SET status = {_RUNNING}, attempts = attempts + 1, started_at = ?1, lease_id = ?2,
    lease_expires_at = ?3, worker_id = ?4, progress = NULL, history = {render.opened_attempt("?4", "?1")}
WHERE seq = coalesce(
    (SELECT seq FROM requests INDEXED BY requests_requeued WHERE {REQUEUED} AND endpoint = ?5
     ORDER BY started_at, seq LIMIT 1),
    (SELECT seq FROM requests INDEXED BY requests_urgent WHERE {WAITING} AND {URGENT} AND endpoint = ?5
     ORDER BY order_key, seq LIMIT 1),
    (SELECT seq FROM requests INDEXED BY requests_in_order
     WHERE {WAITING} AND endpoint = ?5 AND tenant = (
        SELECT tenant FROM turns WHERE endpoint = ?5 AND pending > 0 ORDER BY virtual_time, joined_at LIMIT 1)
     ORDER BY order_key, seq LIMIT 1))
RETURNING *, (SELECT data FROM inputs WHERE inputs.seq = requests.seq) AS data
"""
RENEW = (
    f"UPDATE requests SET lease_expires_at = ? WHERE lease_id = ? AND status = {_RUNNING} RETURNING lease_id"
)
SET_PROGRESS = f"UPDATE requests SET progress = ? WHERE lease_id = ? AND status = {_RUNNING}"
CHECKPOINT = f"""
UPDATE requests SET progressed = attempts, partial_outputs = partial_outputs + :count
WHERE lease_id = :lease_id AND status = {_RUNNING} RETURNING seq, partial_outputs - :count
"""
# A request's own retention, when it asked for one, else the server's (lifecycle.expires_at).
_ENDED = (
    "completed_at = :now, expires_at = coalesce(:now + retention_s, :expires_at), lease_id = NULL, "
    "lease_expires_at = NULL"
)
FINISH = f"""
UPDATE requests SET status = :status, error_type = :error_type, error = :error, {_ENDED},
    history = {render.closed_attempt(":outcome", ":now")}
WHERE lease_id = :lease_id AND status = {_RUNNING} RETURNING seq
"""
CANCEL = f"""
UPDATE requests SET status = {render.quoted(lifecycle.CANCEL.after.value)}, {_ENDED},
    {render.ended_by(lifecycle.CANCEL)}
WHERE response_id = :response_id AND tenant = :tenant AND status IN {_ACTIVE}
"""
REUSE = f"""
UPDATE requests SET status = {render.quoted(lifecycle.REUSE.after.value)}, reused_from = :twin, {_ENDED}
WHERE seq = :seq AND status = {_PENDING} RETURNING *
"""
_GIVES_UP = lifecycle.GIVES_UP.format(
    attempts="attempts", progressed="progressed", max_attempts=":max_attempts"
)
_GIVE_UP = f"""
UPDATE requests SET status = {render.quoted(lifecycle.GIVE_UP.after.value)},
    error_type = {render.quoted(lifecycle.GIVE_UP_ERROR_TYPE)}, error = {{error}}, {_ENDED},
    {render.ended_by(lifecycle.GIVE_UP)}
WHERE status = {_RUNNING} AND {{lost}} AND {_GIVES_UP} RETURNING response_id
"""
_REQUEUE = f"""
UPDATE requests SET status = {render.quoted(lifecycle.REQUEUE.after.value)},
    lease_id = NULL, lease_expires_at = NULL, worker_id = NULL, {render.ended_by(lifecycle.REQUEUE)}
WHERE status = {_RUNNING} AND {{lost}} RETURNING endpoint
"""
MISS_DEADLINES = f"""
UPDATE requests SET status = {render.quoted(lifecycle.MISS_DEADLINE.after.value)},
    error_type = {render.quoted(lifecycle.DEADLINE_ERROR_TYPE)}, error = {render.quoted(lifecycle.DEADLINE_ERROR)},
    {_ENDED}, {render.ended_by(lifecycle.MISS_DEADLINE)}
WHERE seq IN (SELECT seq FROM requests INDEXED BY requests_deadlines
    WHERE status IN {_ACTIVE} AND deadline_at IS NOT NULL AND deadline_at <= :now ORDER BY deadline_at LIMIT :limit)
RETURNING *
"""
# A lost request keeps its seq, so it goes back ahead of every newer one.
_EXPIRED_LEASE = "lease_expires_at < :now"
_DEAD_WORKER = "worker_id = :worker_id"
GIVE_UP_EXPIRED = _GIVE_UP.format(
    error=render.text(lifecycle.LEASE_LOST_ERROR, attempts="attempts"), lost=_EXPIRED_LEASE
)
REQUEUE_EXPIRED = _REQUEUE.format(lost=_EXPIRED_LEASE)
GIVE_UP_RELEASED = _GIVE_UP.format(
    error=render.text(lifecycle.WORKER_DIED_ERROR, reason=":reason", attempts="attempts"), lost=_DEAD_WORKER
)
REQUEUE_RELEASED = _REQUEUE.format(lost=_DEAD_WORKER)
# Urgent requests' order keys are negative (scheduling.is_urgent): ranks in a share leave them out.
_SHARED_KEY = "order_key >= 0"
# Each waiting request's rank among its tenant's, for the tenants of the records asked about.
RANKS = f"""
SELECT response_id, rank FROM (
    SELECT response_id, row_number() OVER (PARTITION BY tenant ORDER BY order_key, seq) - 1 AS rank
    FROM requests INDEXED BY requests_in_order
    WHERE {WAITING} AND endpoint = ?1 AND tenant IN (SELECT value FROM json_each(?2)) AND {_SHARED_KEY})
WHERE response_id IN (SELECT value FROM json_each(?3))
"""
RANK_OF_KEY = f"""
SELECT count(*) FROM requests INDEXED BY requests_in_order
WHERE {WAITING} AND endpoint = ?1 AND tenant = ?2 AND order_key <= ?3 AND {_SHARED_KEY}
"""
REQUEUED_AHEAD = f"""
SELECT count(*), coalesce(sum(cost), 0) FROM requests INDEXED BY requests_requeued WHERE {REQUEUED} AND endpoint = ?1
    AND (?2 IS NULL OR (started_at, seq) < (SELECT started_at, seq FROM requests WHERE response_id = ?2))
"""
# The urgent requests that go before the request ?2 (before any other: every one), or
# before a new one with order key ?3.
URGENT_AHEAD = f"""
SELECT count(*), coalesce(sum(cost), 0) FROM requests INDEXED BY requests_urgent
WHERE {WAITING} AND {URGENT} AND endpoint = ?1
    AND (?2 IS NULL OR (order_key, seq) < (SELECT order_key, seq FROM requests WHERE response_id = ?2))
    AND (?3 IS NULL OR order_key <= ?3)
"""
JOINING_AT = """
SELECT max(coalesce((SELECT virtual_time FROM turns WHERE endpoint = ?1 AND tenant = ?2), 0),
    coalesce((SELECT virtual_time FROM clocks WHERE endpoint = ?1), 0))
"""
TURNS = "SELECT tenant, virtual_time, joined_at, pending, cost FROM turns WHERE endpoint = ? AND pending > 0"
# Each reads one partial index: what is queued or running, never what is retained.
QUEUE_STATS = f"""
SELECT count(*),
    (SELECT created_at FROM requests WHERE status = {_PENDING} AND endpoint = ?1 ORDER BY seq LIMIT 1)
FROM requests WHERE status = {_PENDING} AND endpoint = ?1
"""
RUNNING_COUNT = (
    f"SELECT count(*) FROM requests INDEXED BY requests_leases WHERE status = {_RUNNING} AND endpoint = ?"
)


class SQLiteQueue(Queue):
    def __init__(self, db: Database, policy: Policy) -> None:
        self.db = db
        self.policy = policy
        #: Submits and results share commits (one disk sync for many).
        self.group = GroupCommit(db)

    async def enqueue(self, items: list[Item], now: float, expires_at: float) -> list[Outcome]:
        return await self.group.write(lambda conn: [_insert(conn, item, now, expires_at) for item in items])

    async def drain(self) -> None:
        """Wait for the writes gathered so far to commit (before closing)."""
        await self.group.drain()

    async def claim(
        self, endpoint: str, worker_id: str, now: float, expires_at: float, limit: int
    ) -> tuple[list[Claim], list[str]]:
        lease_until = now + self.policy.lease_s

        def claim(conn: sqlite3.Connection) -> list[Claim]:
            claims: list[Claim] = []
            with transaction(conn):  # one commit for the batch
                while len(claims) < limit:
                    lease_id = secrets.token_hex(16)
                    args = (now, lease_id, lease_until, worker_id, endpoint)
                    row = conn.execute(CLAIM, args).fetchone()
                    if row is None:
                        break
                    claims.append(
                        Claim(record=record_from_row(row), inputs=bytes(row["data"]), lease_id=lease_id)
                    )
            return claims

        return await self.db.write(claim, durable=False), []

    async def renew(self, worker_id: str, lease_ids: list[str], now: float) -> set[str]:
        until = now + self.policy.lease_s

        def renew(conn: sqlite3.Connection) -> set[str]:
            with transaction(conn):
                held = {row[0] for lease_id in lease_ids for row in conn.execute(RENEW, (until, lease_id))}
            return set(lease_ids) - held

        return await self.db.write(renew, durable=False)

    async def set_progress(self, claim: Claim, progress: float) -> bool:
        return bool(await self.db.execute(SET_PROGRESS, (progress, claim.lease_id), durable=False))

    async def checkpoint(self, claim: Claim, state: bytes, outputs: list[bytes]) -> bool:
        args = {"lease_id": claim.lease_id, "count": len(outputs)}

        def checkpoint(conn: sqlite3.Connection) -> bool:
            row = conn.execute(CHECKPOINT, args).fetchone()
            if row is None:
                return False
            seq, start = row
            conn.execute("INSERT OR REPLACE INTO checkpoints(seq, state) VALUES (?, ?)", (seq, state))
            conn.executemany(
                "INSERT INTO partials(seq, n, data) VALUES (?, ?, ?)",
                [(seq, start + n, piece) for n, piece in enumerate(outputs)],
            )
            return True

        return await self.group.write(checkpoint)

    async def finish(
        self,
        claim: Claim,
        move: lifecycle.Move,
        output: bytes | None,
        error: tuple[str, str] | None,
        now: float,
        expires_at: float,
    ) -> bool:
        error_type, message = error or (None, None)
        args = {
            "status": move.after.value,
            "outcome": move.attempt_outcome,
            "error_type": error_type,
            "error": message,
            "now": now,
            "expires_at": expires_at,
            "lease_id": claim.lease_id,
        }

        def finish(conn: sqlite3.Connection) -> bool:
            row = conn.execute(FINISH, args).fetchone()
            if row is not None and output is not None:
                conn.execute("INSERT INTO outputs(seq, data) VALUES (?, ?)", (row[0], output))
            return row is not None

        return await self.group.write(finish)

    async def cancel(
        self, tenant: str, response_id: str, now: float, expires_at: float
    ) -> RequestRecord | None:
        args = {"response_id": response_id, "tenant": tenant, "now": now, "expires_at": expires_at}
        await self.db.execute(CANCEL, args)
        rows = self.db.read(GET, response_id, tenant)
        return record_from_row(rows[0]) if rows else None

    async def release(
        self, worker_id: str, reason: str, now: float, expires_at: float
    ) -> tuple[list[str], list[str]]:
        args = {
            "worker_id": worker_id,
            "reason": reason,
            "max_attempts": self.policy.max_attempts,
            "now": now,
            "expires_at": expires_at,
        }
        return await self.db.write(lambda conn: _lose(conn, GIVE_UP_RELEASED, REQUEUE_RELEASED, args))

    async def reap(self, now: float, expires_at: float) -> tuple[list[str], list[str]]:
        args = {"max_attempts": self.policy.max_attempts, "now": now, "expires_at": expires_at}
        return await self.db.write(lambda conn: _lose(conn, GIVE_UP_EXPIRED, REQUEUE_EXPIRED, args))

    async def miss_deadlines(self, now: float, expires_at: float, limit: int) -> list[RequestRecord]:
        args = {"now": now, "expires_at": expires_at, "limit": limit}

        def miss(conn: sqlite3.Connection) -> list[RequestRecord]:
            with transaction(conn):
                return [record_from_row(row) for row in conn.execute(MISS_DEADLINES, args).fetchall()]

        return await self.db.write(miss)

    async def standing_of_new(self, endpoint: str, tenant: str, order_key: float) -> Standing:
        [(requeued, requeued_cost)] = await self.db.scan(REQUEUED_AHEAD, endpoint, None)
        if scheduling.is_urgent(order_key):
            [(urgent, urgent_cost)] = await self.db.scan(URGENT_AHEAD, endpoint, None, order_key)
            return Standing(requeued=requeued + urgent, requeued_cost=requeued_cost + urgent_cost)
        [(urgent, urgent_cost)] = await self.db.scan(URGENT_AHEAD, endpoint, None, None)
        [(rank,)] = await self.db.scan(RANK_OF_KEY, endpoint, tenant, order_key)
        turns = self._turns(endpoint)
        mine = turns.pop(tenant, None) or Turn(self._joining_at(endpoint, tenant), float("inf"), 0, 0.0)
        return Standing(rank, mine, list(turns.values()), requeued + urgent, requeued_cost + urgent_cost)

    async def standings(self, endpoint: str, records: list[RequestRecord]) -> dict[str, Standing]:
        standings: dict[str, Standing] = {}
        for record in (r for r in records if r.attempts > 0):  # few: only those back from a lost worker
            [(ahead, ahead_cost)] = await self.db.scan(REQUEUED_AHEAD, endpoint, record.response_id)
            standings[record.response_id] = Standing(requeued=ahead, requeued_cost=ahead_cost)
        waiting = [record for record in records if record.attempts == 0]
        if not waiting:
            return standings
        [(requeued, requeued_cost)] = await self.db.scan(REQUEUED_AHEAD, endpoint, None)
        for record in (r for r in waiting if r.priority == scheduling.URGENT):  # few: admins' alone
            [(ahead, ahead_cost)] = await self.db.scan(URGENT_AHEAD, endpoint, record.response_id, None)
            standings[record.response_id] = Standing(
                requeued=requeued + ahead, requeued_cost=requeued_cost + ahead_cost
            )
        waiting = [record for record in waiting if record.priority != scheduling.URGENT]
        [(urgent, urgent_cost)] = await self.db.scan(URGENT_AHEAD, endpoint, None, None)
        requeued, requeued_cost = requeued + urgent, requeued_cost + urgent_cost
        tenants = json.dumps(sorted({record.tenant for record in waiting}))
        ids = json.dumps([record.response_id for record in waiting])
        ranks = {row[0]: row[1] for row in await self.db.scan(RANKS, endpoint, tenants, ids)}
        turns = self._turns(endpoint)
        for record in waiting:
            if record.response_id in ranks and record.tenant in turns:
                others = dict(turns)
                mine = others.pop(record.tenant)
                standings[record.response_id] = Standing(
                    ranks[record.response_id], mine, list(others.values()), requeued, requeued_cost
                )
        return standings

    def _turns(self, endpoint: str) -> dict[str, Turn]:
        """Each tenant with requests waiting: one row each, never a row per request."""
        return {
            row["tenant"]: Turn(row["virtual_time"], row["joined_at"], row["pending"], row["cost"])
            for row in self.db.read(TURNS, endpoint)
        }

    def _joining_at(self, endpoint: str, tenant: str) -> float:
        """The virtual time a tenant with nothing waiting would join at (``turns_submitted``)."""
        rows = self.db.read(JOINING_AT, endpoint, tenant)
        return float(rows[0][0]) if rows else 0.0

    async def stats(self, endpoint: str) -> QueueStats:
        [(pending, oldest)] = await self.db.scan(QUEUE_STATS, endpoint)
        [(running,)] = await self.db.scan(RUNNING_COUNT, endpoint)
        return QueueStats(pending, running, oldest)


def _lose(
    conn: sqlite3.Connection, give_up: str, requeue: str, args: dict[str, Any]
) -> tuple[list[str], list[str]]:
    """Give up on the lost requests past their attempts, then requeue the rest."""
    with transaction(conn):
        gave_up = [row[0] for row in conn.execute(give_up, args).fetchall()]
        requeued = [row[0] for row in conn.execute(requeue, args).fetchall()]
    return gave_up, requeued


def _insert(conn: sqlite3.Connection, item: Item, now: float, expires_at: float) -> Outcome:
    sub, response_id, body_hash = item
    order = scheduling.order_key(sub.priority, now, sub.cost, sub.pace)
    if sub.idempotency_key is not None:
        row = conn.execute(BY_IDEMPOTENCY_KEY, (sub.tenant, sub.idempotency_key)).fetchone()
        if row is not None:
            if row["body_hash"] != body_hash:
                return Conflict(
                    "Idempotency-Key was already used with a different body", response_id=row["response_id"]
                )
            return record_from_row(row), False
    events = join_events(sub.webhook_events) if sub.webhook else None
    args = (
        response_id,
        sub.tenant,
        sub.endpoint,
        now,
        expires_at if sub.retention_s is None else lifecycle.expires_at(now, sub.retention_s),
        sub.idempotency_key,
        body_hash,
        sub.webhook,
        events,
        sub.priority,
        sub.cost,
        order,
        sub.retention_s,
        None if sub.cancel_after_s is None else now + sub.cancel_after_s,
        sub.retry_of,
        sub.reuse_key,
    )
    row = conn.execute(INSERT, args).fetchone()
    conn.execute("INSERT INTO inputs(seq, data) VALUES (?, ?)", (row["seq"], sub.inputs))
    if sub.retry_of is not None:
        conn.execute(RETRIED_BY, (response_id, sub.retry_of, sub.tenant))
    if sub.reuse and sub.reuse_key is not None:
        row = _reuse(conn, row, sub.reuse_key, now, expires_at) or row
    return record_from_row(row), True


def _reuse(
    conn: sqlite3.Connection, row: sqlite3.Row, key: str, now: float, expires_at: float
) -> sqlite3.Row | None:
    """Make :data:`~inferq.domain.lifecycle.REUSE` on the new pending ``row`` when a completed
    request of its tenant has its reuse key: its output copied, its row as it is then."""
    twin = conn.execute(REUSABLE, (key, row["tenant"])).fetchone()
    if twin is None:
        return None
    conn.execute(
        "INSERT INTO outputs(seq, data) SELECT ?, data FROM outputs WHERE seq = ?", (row["seq"], twin["seq"])
    )
    reused: sqlite3.Row = conn.execute(
        REUSE, {"seq": row["seq"], "twin": twin["response_id"], "now": now, "expires_at": expires_at}
    ).fetchone()
    return reused
