"""The SQLite store's tables, and the triggers that carry out what each move emits.

Triggers on ``requests`` run in the very transaction that changes a request's status,
whichever statement changes it: they keep the fair queue's ``turns`` in step, bump the
endpoint's counters when a request ends, and queue a webhook delivery when a move emits
an event the request asked for. Their conditions are generated from
:mod:`inferq.domain.lifecycle`, so no statement has to remember them.
"""

from __future__ import annotations

import sqlite3

from inferq.backends.counters import LATENCY_BUCKETS, LE, PACE_COST, PACE_RUN
from inferq.backends.sqlite.database import transaction
from inferq.backends.sqlite.render import ENDS, TERMINAL_SQL, made_any, quoted
from inferq.domain import lifecycle, scheduling
from inferq.domain.status import Status
from inferq.domain.webhooks import EVENTS

PENDING = quoted(Status.PENDING.value)
RUNNING = quoted(Status.RUNNING.value)
#: Pending requests not run yet, and those given back after a lost worker; the urgent ones
#: among the first are outside the fair shares (:mod:`inferq.domain.scheduling`).
WAITING = f"status = {PENDING} AND attempts = 0"
REQUEUED = f"status = {PENDING} AND attempts > 0"
URGENT = f"priority = {scheduling.URGENT}"
SHARED = f"priority != {scheduling.URGENT}"

TABLES = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    response_id TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    completed_at REAL,
    expires_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    lease_id TEXT,
    lease_expires_at REAL,
    worker_id TEXT,
    error_type TEXT,
    error TEXT,
    idempotency_key TEXT,
    body_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inputs (seq INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS outputs (seq INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (seq INTEGER PRIMARY KEY, state BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS partials (
    seq INTEGER NOT NULL,
    n INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (seq, n)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS requests_queue ON requests(endpoint, seq) WHERE status = {PENDING};
CREATE INDEX IF NOT EXISTS requests_leases ON requests(lease_expires_at) WHERE status = {RUNNING};
CREATE INDEX IF NOT EXISTS requests_expiry ON requests(expires_at) WHERE status IN {TERMINAL_SQL};
CREATE INDEX IF NOT EXISTS requests_tenant ON requests(tenant, seq);
CREATE UNIQUE INDEX IF NOT EXISTS requests_idempotency ON requests(tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS requests_active ON requests(tenant) WHERE status IN ({PENDING}, {RUNNING});
CREATE TABLE IF NOT EXISTS setup_errors (endpoint TEXT PRIMARY KEY, error TEXT NOT NULL, failed_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    admin INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS workers (
    worker_id TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    ready INTEGER NOT NULL,
    seen_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    endpoint TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (endpoint, name)
) WITHOUT ROWID;
"""

#: Columns added since their table was first created. :func:`create` adds those a database
#: lacks, so a file written by an earlier version opens with everything it holds.
ADDED_COLUMNS = (
    ("requests", "progress", "REAL"),
    ("requests", "webhook", "TEXT"),
    ("requests", "webhook_events", "TEXT"),
    ("requests", "progressed", "INTEGER NOT NULL DEFAULT 0"),
    ("requests", "partial_outputs", "INTEGER NOT NULL DEFAULT 0"),
    ("webhook_deliveries", "tenant", "TEXT"),
    ("requests", "priority", "INTEGER NOT NULL DEFAULT 1"),
    ("requests", "cost", "REAL NOT NULL DEFAULT 1"),
    ("requests", "order_key", "REAL"),
    ("requests", "retention_s", "REAL"),
    ("requests", "deadline_at", "REAL"),
    ("requests", "history", "TEXT"),
    ("requests", "retry_of", "TEXT"),
    ("requests", "retried_by", "TEXT"),
    ("requests", "reused_from", "TEXT"),
    ("requests", "reuse_key", "TEXT"),
)
#: Run once the added columns exist: deliveries queued by an earlier version learn their
#: tenant, and the index the deliverers' fair claim walks (tenant by tenant) is made.
AFTER_COLUMNS = (
    """UPDATE webhook_deliveries SET tenant = (SELECT tenant FROM requests r WHERE r.seq = webhook_deliveries.seq)
WHERE tenant IS NULL""",
    """CREATE INDEX IF NOT EXISTS webhook_deliveries_due_by_tenant ON webhook_deliveries(tenant, due_at)
WHERE state = 'pending'""",
    "DROP INDEX IF EXISTS webhook_deliveries_due",
)

#: Seconds each histogram of :mod:`inferq.backends.counters` observes, from the row that just
#: ended (never below 0, whatever the skew between the gateway's and the worker's clocks).
_SPANS = {
    "queue_wait": "max(0.0, NEW.started_at - NEW.created_at)",
    "run": "max(0.0, NEW.completed_at - NEW.started_at)",
    "end_to_end": "max(0.0, NEW.completed_at - NEW.created_at)",
}


def _bucket(seconds: str) -> str:
    """The ``le`` label of the bucket ``seconds`` falls in, as SQL."""
    whens = " ".join(f"WHEN {seconds} <= {bound!r} THEN '{le}'" for bound, le in zip(LATENCY_BUCKETS, LE))
    return f"CASE {whens} ELSE '+Inf' END"


_OBSERVATIONS = ",\n        ".join(
    f"(NEW.endpoint, '{name}:le:' || {_bucket(span)}, 1), (NEW.endpoint, '{name}:sum', {span})"
    for name, span in _SPANS.items()
)

COUNTER_TRIGGERS = (
    f"""CREATE TRIGGER count_ends AFTER UPDATE OF status ON requests WHEN {ENDS}
BEGIN
    INSERT INTO counters(endpoint, name, value) VALUES (NEW.endpoint, 'finished:' || NEW.status, 1)
    ON CONFLICT(endpoint, name) DO UPDATE SET value = value + excluded.value;
END""",
    f"""CREATE TRIGGER observe_ends AFTER UPDATE OF status ON requests
WHEN {ENDS} AND NEW.started_at IS NOT NULL
BEGIN
    INSERT INTO counters(endpoint, name, value) VALUES
        {_OBSERVATIONS}
    ON CONFLICT(endpoint, name) DO UPDATE SET value = value + excluded.value;
END""",
    f"""CREATE TRIGGER observe_pace AFTER UPDATE OF status ON requests
WHEN {made_any([lifecycle.COMPLETE])} AND NEW.started_at IS NOT NULL
BEGIN
    INSERT INTO counters(endpoint, name, value) VALUES
        (NEW.endpoint, '{PACE_RUN}', {_SPANS["run"]}), (NEW.endpoint, '{PACE_COST}', NEW.cost)
    ON CONFLICT(endpoint, name) DO UPDATE SET value = value + excluded.value;
END""",
)

#: Requests given back after a lost worker (``attempts > 0``) go first, in the order they
#: last started; the rest are queued as :mod:`inferq.domain.scheduling` says: ``turns``
#: holds, per endpoint and tenant, how many of its requests wait and their cost, its
#: virtual time and when it joined (its turn is ``(virtual_time, joined_at)``), and
#: ``clocks`` each endpoint's virtual clock; a tenant's requests go by ``order_key``.
FAIR_QUEUE = f"""
CREATE TABLE IF NOT EXISTS turns (
    endpoint TEXT NOT NULL,
    tenant TEXT NOT NULL,
    pending INTEGER NOT NULL,
    cost REAL NOT NULL,
    virtual_time REAL NOT NULL,
    joined_at REAL NOT NULL,
    PRIMARY KEY (endpoint, tenant)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS clocks (endpoint TEXT PRIMARY KEY, virtual_time REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS turns_by_time ON turns(endpoint, virtual_time, joined_at) WHERE pending > 0;
CREATE INDEX IF NOT EXISTS requests_requeued ON requests(endpoint, started_at, seq) WHERE {REQUEUED};
DROP INDEX IF EXISTS requests_tenant_queue;
DROP INDEX IF EXISTS requests_waiting;
"""
#: Run once the added columns exist: the queue's order, the deadlines, and the completed
#: requests a ``Prefer: reuse`` may be answered from.
LATER_INDEXES = (
    f"CREATE INDEX IF NOT EXISTS requests_in_order ON requests(endpoint, tenant, order_key, seq) WHERE {WAITING}",
    f"""CREATE INDEX IF NOT EXISTS requests_deadlines ON requests(deadline_at)
WHERE status IN ({PENDING}, {RUNNING}) AND deadline_at IS NOT NULL""",
    f"CREATE INDEX IF NOT EXISTS requests_urgent ON requests(endpoint, order_key, seq) WHERE {WAITING} AND {URGENT}",
    f"""CREATE INDEX IF NOT EXISTS requests_reusable ON requests(reuse_key)
WHERE status = {quoted(Status.COMPLETED.value)} AND reuse_key IS NOT NULL""",
)
_CLOCK = "coalesce((SELECT virtual_time FROM clocks WHERE endpoint = NEW.endpoint), 0)"
TURN_TRIGGERS = (
    # A tenant that starts waiting again takes the endpoint's clock where it is ahead.
    f"""CREATE TRIGGER turns_submitted AFTER INSERT ON requests WHEN NEW.status = {PENDING} AND NEW.{SHARED}
BEGIN
    INSERT INTO turns(endpoint, tenant, pending, cost, virtual_time, joined_at)
    VALUES (NEW.endpoint, NEW.tenant, 1, NEW.cost, {_CLOCK}, NEW.created_at)
    ON CONFLICT(endpoint, tenant) DO UPDATE SET pending = pending + 1, cost = cost + excluded.cost,
        virtual_time = CASE WHEN pending = 0 THEN max(virtual_time, excluded.virtual_time) ELSE virtual_time END,
        joined_at = CASE WHEN pending = 0 THEN excluded.joined_at ELSE joined_at END;
END""",
    # Serving a request sets the clock to its tenant's virtual time, then adds its cost.
    f"""CREATE TRIGGER turns_left AFTER UPDATE OF status ON requests
WHEN OLD.status = {PENDING} AND OLD.attempts = 0 AND NEW.status != {PENDING} AND OLD.{SHARED}
BEGIN
    INSERT INTO clocks(endpoint, virtual_time)
    SELECT NEW.endpoint, virtual_time FROM turns
    WHERE endpoint = NEW.endpoint AND tenant = NEW.tenant AND NEW.status = {RUNNING}
    ON CONFLICT(endpoint) DO UPDATE SET virtual_time = excluded.virtual_time;
    UPDATE turns SET pending = pending - 1, cost = CASE WHEN pending = 1 THEN 0 ELSE cost - NEW.cost END,
        virtual_time = CASE WHEN NEW.status = {RUNNING} THEN virtual_time + NEW.cost ELSE virtual_time END
    WHERE endpoint = NEW.endpoint AND tenant = NEW.tenant;
END""",
)
#: Counts the waiting requests again at each start, so a database written by an earlier
#: version (or with turns counted by other rules) is served by these.
_RECOUNT_TURNS = (
    "UPDATE turns SET pending = 0, cost = 0 WHERE pending != 0",
    f"""INSERT INTO turns(endpoint, tenant, pending, cost, virtual_time, joined_at)
SELECT endpoint, tenant, count(*), sum(cost), 0, min(created_at) FROM requests INDEXED BY requests_in_order
WHERE {WAITING} AND {SHARED} GROUP BY endpoint, tenant
ON CONFLICT(endpoint, tenant) DO UPDATE SET pending = excluded.pending, cost = excluded.cost""",
)


def _event_trigger(event: str) -> str:
    """Queue a delivery of ``event`` in the transaction of any move that emits it, when
    the request's filter asks for it. ``due_at`` is when a deliverer may take it: its next
    attempt, or the end of the lease while one is being sent."""
    moves = [move for move in lifecycle.MOVES if move.event == event]
    at = "NEW.started_at" if all(move.after is Status.RUNNING for move in moves) else "NEW.completed_at"
    wanted = f"NEW.webhook IS NOT NULL AND instr(',' || NEW.webhook_events || ',', ',{event},') > 0"
    return f"""CREATE TRIGGER webhook_on_{event} AFTER UPDATE OF status ON requests
WHEN {wanted} AND {made_any(moves)}
BEGIN
    INSERT INTO webhook_deliveries(webhook_id, seq, tenant, event, url, created_at, due_at, next_attempt_at)
    VALUES ('msg_' || lower(hex(randomblob(16))), NEW.seq, NEW.tenant, '{event}', NEW.webhook, {at}, {at}, {at});
END"""


OUTBOX = """
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
"""
#: Run after the request columns ``webhook`` and ``webhook_events`` exist.
OUTBOX_TRIGGERS = (
    """CREATE TRIGGER webhook_forget AFTER DELETE ON requests WHEN OLD.webhook IS NOT NULL
BEGIN
    DELETE FROM webhook_attempts
    WHERE webhook_id IN (SELECT webhook_id FROM webhook_deliveries WHERE seq = OLD.seq);
    DELETE FROM webhook_deliveries WHERE seq = OLD.seq;
END""",
    *(_event_trigger(event) for event in EVENTS),
)
TRIGGERS = (*COUNTER_TRIGGERS, *TURN_TRIGGERS, *OUTBOX_TRIGGERS)

#: Uploaded files (:mod:`inferq.backends.sqlite.files`); their bytes are in the blob store.
FILES = """
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    filename TEXT,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    purpose TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_by_tenant ON files(tenant, created_at);
CREATE INDEX IF NOT EXISTS files_by_expiry ON files(expires_at);
"""


def create(conn: sqlite3.Connection) -> None:
    """Create what is missing and bring a database made by an earlier version up to date.

    Triggers are code, not data: each start replaces them all in one transaction, so a
    database made by an earlier version runs this version's rules.
    """
    turns = {row["name"] for row in conn.execute("PRAGMA table_info(turns)")}
    if turns and "virtual_time" not in turns:  # counted by count: recounted below, by cost
        conn.execute("DROP TABLE turns")
    conn.executescript(TABLES + FAIR_QUEUE + OUTBOX + FILES)
    with transaction(conn):
        for table, column, declaration in ADDED_COLUMNS:
            present = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
        for statement in (*AFTER_COLUMNS, *LATER_INDEXES, *_RECOUNT_TURNS):
            conn.execute(statement)
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        for trigger in TRIGGERS:
            conn.execute(trigger)
