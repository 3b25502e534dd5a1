"""The SQLite request store: reads, listing, deletion and retention.

Inputs and outputs live in their own tables so a status change never rewrites a payload;
``secure_delete`` zeroes what is deleted and a truncating checkpoint leaves no copy in
the WAL.
"""

from __future__ import annotations

import json
import secrets
import sqlite3

from inferq.backends.contracts import RequestStore
from inferq.backends.sqlite.database import Database, transaction
from inferq.backends.sqlite.render import TERMINAL_SQL, quoted
from inferq.domain.records import RequestRecord, attempts_of
from inferq.domain.status import Status
from inferq.domain.webhooks import split_events

_COMPLETED = quoted(Status.COMPLETED.value)
_ACTIVE = f"({quoted(Status.PENDING.value)}, {quoted(Status.RUNNING.value)})"

GET = "SELECT * FROM requests WHERE response_id = ? AND tenant = ?"
GET_MANY = "SELECT * FROM requests WHERE response_id IN (SELECT value FROM json_each(?)) AND tenant = ?"
GET_OUTPUT = f"""
SELECT o.data FROM requests r JOIN outputs o ON o.seq = r.seq
WHERE r.response_id = ? AND r.tenant = ? AND r.status = {_COMPLETED}
"""
GET_INPUTS = """
SELECT i.data FROM requests r JOIN inputs i ON i.seq = r.seq WHERE r.response_id = ? AND r.tenant = ?
"""
GET_OUTPUTS = f"""
SELECT r.response_id, o.data FROM requests r JOIN outputs o ON o.seq = r.seq
WHERE r.response_id IN (SELECT value FROM json_each(?)) AND r.tenant = ? AND r.status = {_COMPLETED}
"""
GET_PARTIAL = """
SELECT p.data FROM requests r JOIN partials p ON p.seq = r.seq
WHERE r.response_id = ? AND r.tenant = ? AND p.n >= ? ORDER BY p.n
"""
GET_CHECKPOINT = """
SELECT c.state FROM requests r JOIN checkpoints c ON c.seq = r.seq WHERE r.response_id = ? AND r.tenant = ?
"""
OWNER = "SELECT tenant FROM requests WHERE response_id = ?"
CURSOR = "SELECT seq FROM requests WHERE response_id = ?1 AND (?2 IS NULL OR tenant = ?2)"
_FILTERS = "AND (? IS NULL OR status = ?) AND (? IS NULL OR endpoint = ?) ORDER BY seq DESC LIMIT ?"
LIST = f"SELECT * FROM requests WHERE tenant = ? AND seq < ? {_FILTERS}"
# Every tenant's (admins): pages down the primary key, as LIST pages down requests_tenant.
LIST_ALL = f"SELECT * FROM requests WHERE seq < ? {_FILTERS}"
ACTIVE_COUNT = f"""
SELECT count(*) FROM (SELECT 1 FROM requests INDEXED BY requests_active
    WHERE tenant = ? AND status IN {_ACTIVE} LIMIT ?)
"""
EXPIRED = (
    f"SELECT seq FROM requests WHERE status IN {TERMINAL_SQL} AND expires_at <= ? ORDER BY expires_at LIMIT ?"
)


def record_from_row(row: sqlite3.Row) -> RequestRecord:
    return RequestRecord(
        response_id=row["response_id"],
        tenant=row["tenant"],
        endpoint=row["endpoint"],
        status=Status(row["status"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        attempts=row["attempts"],
        error_type=row["error_type"],
        error=row["error"],
        progress=row["progress"],
        partial_outputs=row["partial_outputs"],
        webhook=row["webhook"],
        webhook_events=split_events(row["webhook_events"]),
        priority=row["priority"],
        cost=row["cost"],
        deadline_at=row["deadline_at"],
        retention_s=row["retention_s"],
        history=attempts_of(row["history"]),
        retry_of=row["retry_of"],
        retried_by=row["retried_by"],
        reused_from=row["reused_from"],
    )


class SQLiteRequests(RequestStore):
    def __init__(self, db: Database) -> None:
        self.db = db
        self._secret: bytes | None = None
        #: The first sweep of a process checkpoints even with nothing to delete: a crash
        #: between a sweep's commit and its checkpoint leaves deleted data in the WAL.
        self._checkpoint_due = True

    async def secret(self) -> bytes:
        if self._secret is None:
            self._secret = await self.db.write(_ensure_secret)
        return self._secret

    async def get(self, tenant: str, response_id: str) -> RequestRecord | None:
        rows = self.db.read(GET, response_id, tenant)
        return record_from_row(rows[0]) if rows else None

    async def get_many(self, tenant: str, response_ids: list[str]) -> list[RequestRecord]:
        return [record_from_row(row) for row in self.db.read(GET_MANY, json.dumps(response_ids), tenant)]

    async def output(self, tenant: str, response_id: str) -> bytes | None:
        rows = self.db.read(GET_OUTPUT, response_id, tenant)
        return bytes(rows[0][0]) if rows else None

    async def inputs(self, tenant: str, response_id: str) -> bytes | None:
        rows = self.db.read(GET_INPUTS, response_id, tenant)
        return bytes(rows[0][0]) if rows else None

    async def outputs(self, tenant: str, response_ids: list[str]) -> dict[str, bytes]:
        return {row[0]: bytes(row[1]) for row in self.db.read(GET_OUTPUTS, json.dumps(response_ids), tenant)}

    async def partial(self, tenant: str, response_id: str, start: int) -> list[bytes] | None:
        pieces = [bytes(row[0]) for row in self.db.read(GET_PARTIAL, response_id, tenant, start)]
        if not pieces and not self.db.read(GET, response_id, tenant):
            return None
        return pieces

    async def checkpoint(self, tenant: str, response_id: str) -> bytes | None:
        rows = self.db.read(GET_CHECKPOINT, response_id, tenant)
        return bytes(rows[0][0]) if rows else None

    async def owner(self, response_id: str) -> str | None:
        rows = self.db.read(OWNER, response_id)
        return str(rows[0][0]) if rows else None

    async def list(
        self, tenant: str | None, status: Status | None, endpoint: str | None, limit: int, before: str | None
    ) -> list[RequestRecord]:
        before_seq = 2**62
        if before is not None:
            rows = self.db.read(CURSOR, before, tenant)
            if not rows:
                return []
            before_seq = rows[0][0]
        status_value = status.value if status is not None else None
        query, scope = (LIST_ALL, ()) if tenant is None else (LIST, (tenant,))
        rows = self.db.read(query, *scope, before_seq, status_value, status_value, endpoint, endpoint, limit)
        return [record_from_row(row) for row in rows]

    async def count_active(self, tenant: str, limit: int) -> int:
        return int(self.db.read(ACTIVE_COUNT, tenant, limit)[0][0])

    async def delete(self, tenant: str, response_id: str) -> Status | None:
        return await self.db.write(lambda conn: _delete(conn, tenant, response_id))

    async def expire(self, now: float, limit: int) -> int:
        """One batch; once a pass is over (a batch short of ``limit``) after deleting
        anything, a truncating checkpoint leaves no copy in the WAL. Checkpointing once
        per pass rather than per batch keeps a long sweep from holding up other writes."""
        deleted = await self.db.write(lambda conn: _expire(conn, now, limit))
        self._checkpoint_due = self._checkpoint_due or deleted > 0
        if deleted < limit and self._checkpoint_due:
            await self.db.write(lambda conn: conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
            self._checkpoint_due = False
        return deleted


def _ensure_secret(conn: sqlite3.Connection) -> bytes:
    conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('id_secret', ?)", (secrets.token_bytes(32),))
    return bytes(conn.execute("SELECT value FROM meta WHERE key='id_secret'").fetchone()[0])


def _expire(conn: sqlite3.Connection, now: float, limit: int) -> int:
    """One batch in one transaction, so a sweep killed halfway leaves whole requests."""
    with transaction(conn):
        seqs = [row[0] for row in conn.execute(EXPIRED, (now, limit)).fetchall()]
        _erase(conn, seqs)
    return len(seqs)


def _delete(conn: sqlite3.Connection, tenant: str, response_id: str) -> Status | None:
    with transaction(conn):
        found = conn.execute(GET, (response_id, tenant)).fetchone()
        status = None if found is None else Status(found["status"])
        erase = status is not None and status.is_terminal
        if erase:
            _erase(conn, [found["seq"]])
    if erase:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return status


def _erase(conn: sqlite3.Connection, seqs: list[int]) -> None:
    """Delete requests with their payloads (their deliveries go by trigger);
    ``secure_delete`` zeroes the freed pages."""
    for table in ("inputs", "outputs", "checkpoints", "partials", "requests"):
        conn.executemany(f"DELETE FROM {table} WHERE seq=?", [(s,) for s in seqs])
