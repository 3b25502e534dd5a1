"""The SQLite file store: a row per uploaded file, indexed by owner and by expiry."""

from __future__ import annotations

import sqlite3
from typing import cast

from inferq.backends.contracts import FileStore
from inferq.backends.sqlite.database import Database
from inferq.domain.files import FileRecord, Purpose

INSERT = """INSERT INTO files(id, tenant, size, sha256, content_type, filename, created_at, expires_at, purpose)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"""
EXPIRE = """DELETE FROM files WHERE id IN
(SELECT id FROM files WHERE expires_at <= ? ORDER BY expires_at LIMIT ?) RETURNING *"""


def _file(row: sqlite3.Row) -> FileRecord:
    return FileRecord(
        row["id"],
        row["tenant"],
        row["size"],
        row["sha256"],
        row["content_type"],
        row["filename"],
        row["created_at"],
        row["expires_at"],
        cast("Purpose", row["purpose"]),
    )


class SQLiteFiles(FileStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, record: FileRecord) -> None:
        r = record
        row = (
            r.id,
            r.tenant,
            r.size,
            r.sha256,
            r.content_type,
            r.filename,
            r.created_at,
            r.expires_at,
            r.purpose,
        )
        await self.db.execute(INSERT, row)

    async def get(self, tenant: str, file_id: str) -> FileRecord | None:
        rows = self.db.read("SELECT * FROM files WHERE id = ? AND tenant = ?", file_id, tenant)
        return _file(rows[0]) if rows else None

    async def newest(self, tenant: str, before: float | None, limit: int) -> list[FileRecord]:
        query = "SELECT * FROM files WHERE tenant = ? AND created_at < ? ORDER BY created_at DESC LIMIT ?"
        rows = self.db.read(query, tenant, float("inf") if before is None else before, limit)
        return [_file(row) for row in rows]

    async def delete(self, tenant: str, file_id: str) -> FileRecord | None:
        query = "DELETE FROM files WHERE id = ? AND tenant = ? RETURNING *"
        rows = await self.db.write(lambda conn: conn.execute(query, (file_id, tenant)).fetchall())
        return _file(rows[0]) if rows else None

    async def expire(self, now: float, limit: int) -> list[FileRecord]:
        rows = await self.db.write(lambda conn: conn.execute(EXPIRE, (now, limit)).fetchall())
        return [_file(row) for row in rows]
