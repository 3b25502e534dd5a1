"""One SQLite file in WAL mode: the writer thread every write goes through, and the reader.

Every write runs on one writer thread per process with ``synchronous=FULL``, so a commit
is on disk before the gateway answers 202. Writes that arrive while one commits share the
next commit (:class:`GroupCommit`): one disk sync for many submits or many results. Point
reads run on the event loop over a second connection (WAL readers never wait for the writer).

A write whose loss in a power cut costs only a rerun (a claim: the request is pending
again, as after any lost lease; a lease renewal; progress; a heartbeat; a webhook lease) is
committed ``durable=False``: without waiting for the disk, which the next durable commit
syncs it with. A killed process loses none of them (the WAL is in the system's cache); a
worker's requests otherwise paid three disk syncs each (claim, its renewal, its result)
where one is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from inferq.backends.contracts import StoreFull

T = TypeVar("T")

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA secure_delete=ON",
    "PRAGMA busy_timeout=30000",
)


def db_path_from_url(url: str) -> Path:
    """``sqlite:///relative.db`` or ``sqlite:////abs/path.db`` → a path."""
    path = urlsplit(url).path.removeprefix("/")
    if not path:
        raise ValueError(f"backend URL {url!r} names no database file (sqlite:///path/to/inferq.db)")
    return Path(path).expanduser()


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction that takes the lock at once, rolled back by any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # SQLite may have ended it already (a full disk does)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Database:
    """The file's two connections, shared by the stores of one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="inferq-sqlite")
        self._scanner = ThreadPoolExecutor(1, thread_name_prefix="inferq-sqlite-scan")
        self._wconn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None
        self._sconn: sqlite3.Connection | None = None

    async def open(self, create: Callable[[sqlite3.Connection], None]) -> None:
        """Connect, and run ``create`` (the schema) on the writer."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._wconn = await self._run(lambda: connect(self.path))
        await self.write(create)
        self._rconn = connect(self.path)
        self._sconn = await asyncio.get_running_loop().run_in_executor(self._scanner, connect, self.path)

    async def close(self) -> None:
        if self._wconn is not None:
            await self.write(lambda conn: conn.close())
            self._wconn = None
        if self._rconn is not None:
            self._rconn.close()
            self._rconn = None
        if self._sconn is not None:
            conn, self._sconn = self._sconn, None
            await asyncio.get_running_loop().run_in_executor(self._scanner, conn.close)
        self._writer.shutdown(wait=True)
        self._scanner.shutdown(wait=True)

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn)

    async def write(self, fn: Callable[[sqlite3.Connection], T], *, durable: bool = True) -> T:
        """Run ``fn`` with the writer connection on the writer thread, its commit on disk
        before this returns unless ``durable`` is False (see the module's docstring); a full
        disk is :class:`BackendUnavailable` (503 with Retry-After: the store comes back once
        space is freed), never an internal error."""

        def run() -> T:
            conn = self._wconn
            assert conn is not None, "database not open"
            if durable:
                return fn(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            try:
                return fn(conn)
            finally:
                conn.execute("PRAGMA synchronous=FULL")

        try:
            return await self._run(run)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_FULL:
                raise
            raise StoreFull(f"the disk of {self.path} is full: free some space") from exc

    async def execute(
        self, query: str, args: tuple[Any, ...] | dict[str, Any], *, durable: bool = True
    ) -> int:
        """One statement on the writer, in its own transaction; returns the rows changed."""
        return await self.write(lambda conn: conn.execute(query, args).rowcount, durable=durable)

    def read(self, query: str, *args: Any) -> list[sqlite3.Row]:
        """A point read on the event loop (WAL readers never wait for the writer): for reads
        whose cost is bounded (an index lookup, a page), never one that grows with the queue."""
        assert self._rconn is not None, "database not open"
        return self._rconn.execute(query, args).fetchall()

    async def scan(self, query: str, *args: Any) -> list[sqlite3.Row]:
        """A read whose cost grows with what is queued (counting a backlog), on a thread of
        its own, so the event loop serves other clients meanwhile (SQLite lets go of the GIL)."""

        def scan() -> list[sqlite3.Row]:
            assert self._sconn is not None, "database not open"
            return self._sconn.execute(query, args).fetchall()

        return await asyncio.get_running_loop().run_in_executor(self._scanner, scan)


class GroupCommit:
    """Writes that arrive while a commit is under way wait for the next, which holds them
    all: each runs in a savepoint of that one transaction, so one that raises is undone
    and fails alone while the others commit."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` (which must not open a transaction of its own) in the next group."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending.append((fn, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def drain(self) -> None:
        """Wait for the writes gathered so far to commit (before closing)."""
        if self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def _flush(self) -> None:
        try:
            while self._pending:
                group, self._pending = self._pending, []
                try:
                    writes = [fn for fn, _ in group]
                    outcomes = await self.db.write(functools.partial(_in_savepoints, writes=writes))
                except Exception as exc:  # noqa: BLE001 - the commit failed: every write of the group did
                    outcomes = [exc] * len(group)
                for (_, future), outcome in zip(group, outcomes, strict=True):
                    if future.done():  # its caller went away; the write stands
                        continue
                    if isinstance(outcome, _Raised):
                        future.set_exception(outcome.error)
                    elif isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._flusher = None


class _Raised:
    """What a write of a group raised (its result could itself be an exception object)."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _in_savepoints(conn: sqlite3.Connection, writes: list[Callable[[sqlite3.Connection], Any]]) -> list[Any]:
    outcomes: list[Any] = []
    with transaction(conn):
        for write in writes:
            conn.execute("SAVEPOINT one_write")
            try:
                outcomes.append(write(conn))
            except Exception as exc:
                if not conn.in_transaction:  # SQLite ended the transaction (a full disk): all fail
                    raise
                conn.execute("ROLLBACK TO one_write")
                outcomes.append(_Raised(exc))
            conn.execute("RELEASE one_write")
    return outcomes
