"""The embedded default: one SQLite file in WAL mode, shared by the processes of one machine.

``sqlite:///relative.db`` or ``sqlite:////abs/path.db``. The stores share one
:class:`~inferq.backends.sqlite.database.Database`; notifications between processes go
over Unix datagrams (:class:`~inferq.backends.sqlite.bus.LocalBus`).
"""

from __future__ import annotations

from inferq.backends.backend import Backend
from inferq.backends.sqlite import schema
from inferq.backends.sqlite.bus import LocalBus
from inferq.backends.sqlite.counters import SQLiteCounters
from inferq.backends.sqlite.database import Database, db_path_from_url
from inferq.backends.sqlite.files import SQLiteFiles
from inferq.backends.sqlite.outbox import SQLiteOutbox
from inferq.backends.sqlite.queue import SQLiteQueue
from inferq.backends.sqlite.requests import SQLiteRequests
from inferq.backends.sqlite.tokens import SQLiteTokens
from inferq.backends.sqlite.workers import SQLiteWorkers
from inferq.policy import Policy

__all__ = ["SQLiteBackend", "db_path_from_url"]


class SQLiteBackend(Backend):
    def __init__(self, url: str, policy: Policy | None = None) -> None:
        super().__init__(url, policy)
        self.path = db_path_from_url(url)
        self.db = Database(self.path)
        self.bus = LocalBus(self.path)
        self.requests = SQLiteRequests(self.db)
        self.queue = self._queue = SQLiteQueue(self.db, self.policy)
        self.workers = SQLiteWorkers(self.db, self.policy)
        self.tokens = SQLiteTokens(self.db)
        self.outbox = SQLiteOutbox(self.db)
        self.counters = SQLiteCounters(self.db)
        self.files = SQLiteFiles(self.db)

    async def start(self) -> None:
        await self.db.open(schema.create)
        await self.bus.start()

    async def close(self) -> None:
        await self._queue.drain()
        await self.bus.close()
        await self.db.close()
