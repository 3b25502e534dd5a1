"""The SQLite counter store: read what the ``count_ends`` triggers bumped."""

from __future__ import annotations

from inferq.backends.contracts import CounterStore
from inferq.backends.sqlite.database import Database


class SQLiteCounters(CounterStore):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def read(self, endpoint: str) -> dict[str, float]:
        return {
            name: value
            for name, value in self.db.read("SELECT name, value FROM counters WHERE endpoint = ?", endpoint)
        }
