"""The SQLite token store: token ids, names and the hashes of their secrets."""

from __future__ import annotations

import sqlite3

from inferq.backends.contracts import TokenStore
from inferq.backends.sqlite.database import Database
from inferq.tokens import TokenInfo

INSERT = "INSERT INTO tokens(id, name, hash, admin, created_at) VALUES (?, ?, ?, ?, ?)"
REVOKE = "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"


def _token(row: sqlite3.Row) -> TokenInfo:
    return TokenInfo(row["id"], row["name"], row["created_at"], row["revoked_at"], bool(row["admin"]))


class SQLiteTokens(TokenStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, info: TokenInfo, digest: str) -> None:
        await self.db.execute(INSERT, (info.id, info.name, digest, info.admin, info.created_at))

    async def list(self) -> list[TokenInfo]:
        return [_token(row) for row in self.db.read("SELECT * FROM tokens ORDER BY created_at")]

    async def revoke(self, token_id: str, now: float) -> bool:
        return bool(await self.db.execute(REVOKE, (now, token_id)))

    async def find(self, digest: str) -> TokenInfo | None:
        rows = self.db.read("SELECT * FROM tokens WHERE hash = ? AND revoked_at IS NULL", digest)
        return _token(rows[0]) if rows else None
