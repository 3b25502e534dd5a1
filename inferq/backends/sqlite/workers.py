"""The SQLite worker registry: heartbeats, readiness and the last failed setup per endpoint."""

from __future__ import annotations

import sqlite3

from inferq.backends.contracts import WorkerInfo, WorkerRegistry
from inferq.backends.sqlite.database import Database, transaction
from inferq.policy import Policy

UPSERT = """
INSERT INTO workers(worker_id, endpoint, ready, seen_at) VALUES (?, ?, ?, ?)
ON CONFLICT(worker_id) DO UPDATE SET ready = excluded.ready, seen_at = excluded.seen_at
"""
SET_SETUP_ERROR = """
INSERT INTO setup_errors(endpoint, error, failed_at) VALUES (?, ?, ?)
ON CONFLICT(endpoint) DO UPDATE SET error = excluded.error, failed_at = excluded.failed_at
"""
READY = "SELECT 1 FROM workers WHERE endpoint = ? AND ready = 1 AND seen_at > ? LIMIT 1"
COUNTS = "SELECT count(*), coalesce(sum(ready), 0) FROM workers WHERE endpoint = ? AND seen_at > ?"


class SQLiteWorkers(WorkerRegistry):
    def __init__(self, db: Database, policy: Policy) -> None:
        self.db = db
        self.policy = policy

    async def beat(self, worker: WorkerInfo, now: float) -> None:
        def beat(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(UPSERT, (worker.worker_id, worker.endpoint, worker.ready, now))
                if worker.setup_error is not None:
                    conn.execute(SET_SETUP_ERROR, (worker.endpoint, worker.setup_error, now))
                elif worker.ready:
                    conn.execute("DELETE FROM setup_errors WHERE endpoint = ?", (worker.endpoint,))

        await self.db.write(beat, durable=False)

    async def remove(self, worker_id: str) -> None:
        await self.db.execute("DELETE FROM workers WHERE worker_id = ?", (worker_id,))

    async def ready(self, endpoint: str, now: float) -> bool:
        return bool(self.db.read(READY, endpoint, now - self.policy.lease_s))

    async def setup_error(self, endpoint: str) -> str | None:
        rows = self.db.read("SELECT error FROM setup_errors WHERE endpoint = ?", endpoint)
        return str(rows[0][0]) if rows else None

    async def counts(self, endpoint: str, now: float) -> tuple[int, int]:
        [(workers, ready)] = self.db.read(COUNTS, endpoint, now - self.policy.lease_s)
        return int(workers), int(ready)
