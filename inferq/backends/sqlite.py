"""The embedded default: one SQLite file in WAL mode, shared by the processes of one machine.

Every write runs on one writer thread per process with ``synchronous=FULL``, so a
commit is on disk before the gateway answers 202. Submits are group-committed: while
one batch is being written, new submits gather into the next, so one disk flush
covers many requests. Point reads run on the event loop over a second connection (WAL
readers never wait for the writer). Inputs and outputs live in their own tables so a
status change never rewrites a payload; ``secure_delete`` zeroes what retention
deletes and a truncating checkpoint leaves no copy in the WAL.
"""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from inferq.backends import sqlite_sql as sql
from inferq.backends.base import Backend, EndpointStats, WorkerInfo
from inferq.backends.notify import LocalBus
from inferq.backends.sqlite_outbox import OUTBOX_SCHEMA, SQLiteOutbox
from inferq.domain import clock
from inferq.domain.records import Claim, RequestRecord, Submission
from inferq.domain.status import Status
from inferq.domain.webhooks import join_events, split_events
from inferq.errors import Conflict
from inferq.policy import Policy
from inferq.tokens import TokenInfo, new_token, token_hash

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")
_Pending = tuple[Submission, str, str, "asyncio.Future[tuple[RequestRecord, bool]]"]


def db_path_from_url(url: str) -> Path:
    """``sqlite:///relative.db`` or ``sqlite:////abs/path.db`` → a path."""
    parts = urlsplit(url)
    path = parts.path.removeprefix("/")
    if not path:
        raise ValueError(f"backend URL {url!r} names no database file (sqlite:///path/to/inferq.db)")
    return Path(path).expanduser()


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.row_factory = sqlite3.Row
    for pragma in sql.PRAGMAS:
        conn.execute(pragma)
    return conn


def _record(row: sqlite3.Row, queue_position: int | None = None) -> RequestRecord:
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
        queue_position=queue_position,
        progress=row["progress"],
        webhook=row["webhook"],
        webhook_events=split_events(row["webhook_events"]),
    )


class SQLiteBackend(SQLiteOutbox, Backend):
    def __init__(self, url: str, policy: Policy | None = None) -> None:
        super().__init__(url, policy)
        self.path = db_path_from_url(url)
        self.bus = LocalBus(self.path)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="inferq-sqlite")
        self._wconn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._secret: bytes | None = None
        #: The first sweep of a process checkpoints even with nothing to delete: a crash
        #: between a sweep's commit and its checkpoint leaves deleted data in the WAL.
        self._checkpoint_due = True

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._wconn = await self._write(lambda _: _connect(self.path))
        await self._write(lambda conn: conn.executescript(sql.SCHEMA + sql.COUNTERS_SCHEMA))
        await self._write(_migrate)
        await self._write(lambda conn: conn.executescript(sql.FAIR_QUEUE_SCHEMA))
        await self._write(_backfill_turns)
        await self._write(lambda conn: conn.executescript(OUTBOX_SCHEMA))
        self._rconn = _connect(self.path)
        await self.bus.start()

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.shield(self._flusher)
        await self.bus.close()
        if self._wconn is not None:
            await self._write(lambda conn: conn.close())
            self._wconn = None
        if self._rconn is not None:
            self._rconn.close()
            self._rconn = None
        self._writer.shutdown(wait=True)

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` with the writer connection on the writer thread."""
        return await asyncio.get_running_loop().run_in_executor(
            self._writer,
            lambda: fn(self._wconn),  # type: ignore[arg-type]
        )

    def _read(self, query: str, *args: Any) -> list[sqlite3.Row]:
        assert self._rconn is not None, "backend not started"
        return self._rconn.execute(query, args).fetchall()

    async def secret(self) -> bytes:
        if self._secret is None:
            self._secret = await self._write(_ensure_secret)
        return self._secret

    # submit and read -------------------------------------------------------------

    async def _enqueue(
        self, submission: Submission, response_id: str, body_hash: str
    ) -> tuple[RequestRecord, bool]:
        future: asyncio.Future[tuple[RequestRecord, bool]] = asyncio.get_running_loop().create_future()
        self._pending.append((submission, response_id, body_hash, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        """Group commit: write everything gathered so far in one transaction, repeat."""
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                now, retention = clock.now(), self.policy.retention_s
                try:
                    insert = functools.partial(_insert_batch, batch=batch, now=now, retention=retention)
                    results = await self._write(insert)
                except Exception as exc:  # noqa: BLE001 - the batch failed as a whole: tell every submitter
                    for *_, future in batch:
                        future.set_exception(exc)
                    continue
                for (*_, future), result in zip(batch, results, strict=True):
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._flusher = None

    async def get_outputs(self, tenant: str, response_ids: list[str]) -> dict[str, bytes]:
        return {
            row[0]: bytes(row[1]) for row in self._read(sql.GET_OUTPUTS, json.dumps(response_ids), tenant)
        }

    async def _get_many(self, tenant: str, response_ids: list[str]) -> list[RequestRecord]:
        return [_record(row) for row in self._read(sql.GET_MANY, json.dumps(response_ids), tenant)]

    async def _get(self, tenant: str, response_id: str) -> RequestRecord | None:
        rows = self._read(sql.GET, response_id, tenant)
        if not rows:
            return None
        row = rows[0]
        position = None
        if row["status"] == Status.PENDING:
            position = self._read(sql.QUEUE_POSITION, row["endpoint"], row["tenant"], row["seq"])[0][0]
        return _record(row, position)

    async def _get_output(self, tenant: str, response_id: str) -> bytes | None:
        rows = self._read(sql.GET_OUTPUT, response_id, tenant)
        return bytes(rows[0][0]) if rows else None

    async def _owner(self, response_id: str) -> str | None:
        rows = self._read(sql.OWNER, response_id)
        return str(rows[0][0]) if rows else None

    async def list_requests(
        self,
        tenant: str | None,
        *,
        status: Status | None = None,
        endpoint: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> list[RequestRecord]:
        before_seq = 2**62
        if before is not None:
            rows = self._read(sql.CURSOR, before, tenant)
            if not rows:
                return []
            before_seq = rows[0][0]
        status_value = status.value if status is not None else None
        query, scope = (sql.LIST_ALL, ()) if tenant is None else (sql.LIST, (tenant,))
        rows = self._read(query, *scope, before_seq, status_value, status_value, endpoint, endpoint, limit)
        return [_record(row) for row in rows]

    async def _cancel(self, tenant: str, response_id: str, now: float) -> RequestRecord | None:
        retention = self.policy.retention_s
        await self._write(lambda c: _tx(c, sql.CANCEL, (now, now + retention, response_id, tenant)))
        return await self._get(tenant, response_id)

    async def _delete(self, tenant: str, response_id: str) -> Status | None:
        return await self._write(lambda c: _delete(c, tenant, response_id))

    async def count_active(self, tenant: str, limit: int) -> int:
        return int(self._read(sql.ACTIVE_COUNT, tenant, limit)[0][0])

    # worker side ---------------------------------------------------------------

    async def _claim(self, endpoint: str, worker_id: str, now: float) -> tuple[Claim | None, list[str]]:
        lease_id = secrets.token_hex(16)
        args = (now, lease_id, now + self.policy.lease_s, worker_id, endpoint)
        row = await self._write(lambda c: _claim(c, args))
        if row is None:
            return None, []
        return Claim(record=_record(row), inputs=bytes(row["data"]), lease_id=lease_id), []

    async def heartbeat(self, worker: WorkerInfo, lease_ids: list[str]) -> set[str]:
        now = clock.now()
        expires = now + self.policy.lease_s

        def beat(conn: sqlite3.Connection) -> set[str]:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(sql.UPSERT_WORKER, (worker.worker_id, worker.endpoint, worker.ready, now))
            if worker.setup_error is not None:
                conn.execute(sql.SET_SETUP_ERROR, (worker.endpoint, worker.setup_error, now))
            elif worker.ready:
                conn.execute("DELETE FROM setup_errors WHERE endpoint=?", (worker.endpoint,))
            held = {
                row[0]
                for lease_id in lease_ids
                for row in conn.execute(sql.RENEW_LEASE, (expires, lease_id)).fetchall()
            }
            conn.execute("COMMIT")
            return set(lease_ids) - held

        return await self._write(beat)

    async def _finish(
        self,
        claim: Claim,
        status: Status,
        output: bytes | None,
        error_type: str | None,
        error: str | None,
        now: float,
    ) -> bool:
        args = (status.value, now, now + self.policy.retention_s, error_type, error, claim.lease_id)
        return await self._write(lambda c: _finish(c, args, output))

    async def _set_progress(self, claim: Claim, progress: float) -> bool:
        return bool(await self._write(lambda c: _tx(c, sql.SET_PROGRESS, (progress, claim.lease_id))))

    async def remove_worker(self, worker_id: str) -> None:
        await self._write(lambda c: _tx(c, "DELETE FROM workers WHERE worker_id=?", (worker_id,)))

    async def endpoint_ready(self, endpoint: str) -> bool:
        since = clock.now() - self.policy.lease_s
        return bool(self._read(sql.READY_WORKER, endpoint, since))

    async def setup_error(self, endpoint: str) -> str | None:
        rows = self._read("SELECT error FROM setup_errors WHERE endpoint=?", endpoint)
        return str(rows[0][0]) if rows else None

    async def _release_worker(self, worker_id: str, reason: str, now: float) -> tuple[list[str], list[str]]:
        args = (worker_id, self.policy.max_attempts, reason, now, now + self.policy.retention_s)
        return await self._write(lambda c: _release(c, args))

    async def _endpoint_stats(self, endpoint: str, now: float) -> EndpointStats:
        [(pending, oldest)] = self._read(sql.QUEUE_STATS, endpoint)
        [(running,)] = self._read(sql.RUNNING_COUNT, endpoint)
        [(workers, ready)] = self._read(sql.WORKER_COUNTS, endpoint, now - self.policy.lease_s)
        age = None if oldest is None else max(0.0, now - oldest)
        return EndpointStats(pending, running, age, workers, ready)

    async def _endpoint_counters(self, endpoint: str) -> dict[str, float]:
        return {name: value for name, value in self._read(sql.COUNTERS, endpoint)}

    # maintenance ---------------------------------------------------------------

    async def _reap_leases(self, now: float) -> tuple[list[str], list[str]]:
        args = (self.policy.max_attempts, now, now + self.policy.retention_s)
        return await self._write(lambda c: _reap(c, now, args))

    async def expire(self, now: float, limit: int = 1000) -> int:
        """One batch; once a pass is over (a batch short of ``limit``) after deleting
        anything, a truncating checkpoint leaves no copy in the WAL. Checkpointing once
        per pass rather than per batch keeps a long sweep from holding up other writes."""
        deleted = await self._write(lambda c: _expire(c, now, limit))
        self._checkpoint_due = self._checkpoint_due or deleted > 0
        if deleted < limit and self._checkpoint_due:
            await self._write(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
            self._checkpoint_due = False
        return deleted

    # tokens --------------------------------------------------------------------

    async def create_token(self, name: str, *, admin: bool = False) -> tuple[TokenInfo, str]:
        token_id, token = new_token()
        info = TokenInfo(id=token_id, name=name, created_at=clock.now(), admin=admin)
        args = (info.id, info.name, token_hash(token), info.admin, info.created_at)
        await self._write(lambda c: _tx(c, sql.INSERT_TOKEN, args))
        return info, token

    async def list_tokens(self) -> list[TokenInfo]:
        return [_token(row) for row in self._read("SELECT * FROM tokens ORDER BY created_at")]

    async def revoke_token(self, token_id: str) -> bool:
        args = (clock.now(), token_id)
        return bool(await self._write(lambda c: _tx(c, sql.REVOKE_TOKEN, args)))

    async def authenticate(self, token: str) -> TokenInfo | None:
        rows = self._read("SELECT * FROM tokens WHERE hash=? AND revoked_at IS NULL", token_hash(token))
        return _token(rows[0]) if rows else None


def _token(row: sqlite3.Row) -> TokenInfo:
    return TokenInfo(row["id"], row["name"], row["created_at"], row["revoked_at"], bool(row["admin"]))


def _tx(conn: sqlite3.Connection, query: str, args: tuple[Any, ...]) -> int:
    """One statement in its own transaction; returns the rows changed."""
    return conn.execute(query, args).rowcount


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a database made by an earlier version up to date; one process at a time."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table, column, declaration in sql.ADDED_COLUMNS:
            present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _backfill_turns(conn: sqlite3.Connection) -> None:
    """Count the requests that waited before fair queuing existed, once per database."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("SELECT 1 FROM meta WHERE key = 'turns_counted'").fetchone() is None:
            conn.execute(sql.BACKFILL_TURNS)
            conn.execute("INSERT INTO meta(key, value) VALUES ('turns_counted', x'01')")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _ensure_secret(conn: sqlite3.Connection) -> bytes:
    conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('id_secret', ?)", (secrets.token_bytes(32),))
    return bytes(conn.execute("SELECT value FROM meta WHERE key='id_secret'").fetchone()[0])


def _insert_batch(
    conn: sqlite3.Connection, batch: list[_Pending], now: float, retention: float
) -> list[tuple[RequestRecord, bool] | Exception]:
    results: list[tuple[RequestRecord, bool] | Exception] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for submission, response_id, body_hash, _ in batch:
            results.append(_insert_one(conn, submission, response_id, body_hash, now, retention))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return results


def _insert_one(
    conn: sqlite3.Connection, sub: Submission, response_id: str, body_hash: str, now: float, retention: float
) -> tuple[RequestRecord, bool] | Exception:
    if sub.idempotency_key is not None:
        row = conn.execute(sql.BY_IDEMPOTENCY_KEY, (sub.tenant, sub.idempotency_key)).fetchone()
        if row is not None:
            if row["body_hash"] != body_hash:
                return Conflict(
                    "Idempotency-Key was already used with a different body",
                    response_id=row["response_id"],
                )
            return _record(row), False
    args = (
        response_id,
        sub.tenant,
        sub.endpoint,
        now,
        now + retention,
        sub.idempotency_key,
        body_hash,
        sub.webhook,
        join_events(sub.webhook_events) if sub.webhook else None,
    )
    row = conn.execute(sql.INSERT_REQUEST, args).fetchone()
    conn.execute("INSERT INTO inputs(seq, data) VALUES (?, ?)", (row["seq"], sub.inputs))
    return _record(row), True


def _claim(conn: sqlite3.Connection, args: tuple[Any, ...]) -> sqlite3.Row | None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        row: sqlite3.Row | None = conn.execute(sql.CLAIM, args).fetchone()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return row


def _finish(conn: sqlite3.Connection, args: tuple[Any, ...], output: bytes | None) -> bool:
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(sql.FINISH, args).fetchone()
        if row is not None and output is not None:
            conn.execute("INSERT INTO outputs(seq, data) VALUES (?, ?)", (row[0], output))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return row is not None


def _reap(conn: sqlite3.Connection, now: float, fail_args: tuple[Any, ...]) -> tuple[list[str], list[str]]:
    conn.execute("BEGIN IMMEDIATE")
    failed = [row[0] for row in conn.execute(sql.FAIL_LOST, fail_args).fetchall()]
    requeued = [row[0] for row in conn.execute(sql.REQUEUE_LOST, (now,)).fetchall()]
    conn.execute("COMMIT")
    return failed, requeued


def _release(conn: sqlite3.Connection, args: tuple[Any, ...]) -> tuple[list[str], list[str]]:
    worker_id = args[0]
    conn.execute("BEGIN IMMEDIATE")
    failed = [row[0] for row in conn.execute(sql.FAIL_RELEASED, args).fetchall()]
    requeued = [row[0] for row in conn.execute(sql.REQUEUE_RELEASED, (worker_id,)).fetchall()]
    conn.execute("DELETE FROM workers WHERE worker_id=?", (worker_id,))
    conn.execute("COMMIT")
    return failed, requeued


def _expire(conn: sqlite3.Connection, now: float, limit: int) -> int:
    """One batch in one transaction, so a sweep killed halfway leaves whole requests."""
    conn.execute("BEGIN IMMEDIATE")
    seqs = [row[0] for row in conn.execute(sql.EXPIRED, (now, limit)).fetchall()]
    _erase(conn, seqs)
    conn.execute("COMMIT")
    return len(seqs)


def _delete(conn: sqlite3.Connection, tenant: str, response_id: str) -> Status | None:
    conn.execute("BEGIN IMMEDIATE")
    found = conn.execute(sql.GET, (response_id, tenant)).fetchone()
    status = None if found is None else Status(found["status"])
    erase = status is not None and status.is_terminal
    if erase:
        _erase(conn, [found["seq"]])
    conn.execute("COMMIT")
    if erase:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return status


def _erase(conn: sqlite3.Connection, seqs: list[int]) -> None:
    """Delete requests with their payloads; ``secure_delete`` zeroes the freed pages."""
    for table in ("inputs", "outputs", "requests"):
        conn.executemany(f"DELETE FROM {table} WHERE seq=?", [(s,) for s in seqs])
