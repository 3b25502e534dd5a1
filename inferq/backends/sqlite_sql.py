"""The SQLite backend's schema and statements, kept apart from the code that runs them."""

from inferq.backends.counters import LATENCY_BUCKETS, LE

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA secure_delete=ON",
    "PRAGMA busy_timeout=30000",
)

SCHEMA = """
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
CREATE INDEX IF NOT EXISTS requests_queue ON requests(endpoint, seq) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS requests_leases ON requests(lease_expires_at) WHERE status = 'running';
CREATE INDEX IF NOT EXISTS requests_expiry ON requests(expires_at)
    WHERE status IN ('completed', 'failed', 'cancelled');
CREATE INDEX IF NOT EXISTS requests_tenant ON requests(tenant, seq);
CREATE UNIQUE INDEX IF NOT EXISTS requests_idempotency ON requests(tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS requests_active ON requests(tenant) WHERE status IN ('pending', 'running');
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
"""

#: Columns added since their table was first created. ``start`` adds those a database
#: lacks, so a file written by an earlier version opens with everything it holds.
ADDED_COLUMNS = (
    ("requests", "progress", "REAL"),
    ("requests", "webhook", "TEXT"),
    ("requests", "webhook_events", "TEXT"),
)

INSERT_REQUEST = """
INSERT INTO requests(response_id, tenant, endpoint, status, created_at, expires_at, idempotency_key, body_hash,
    webhook, webhook_events)
VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?) RETURNING *
"""
BY_IDEMPOTENCY_KEY = "SELECT * FROM requests WHERE tenant = ? AND idempotency_key = ?"
GET = "SELECT * FROM requests WHERE response_id = ? AND tenant = ?"
GET_OUTPUTS = """
SELECT r.response_id, o.data FROM requests r JOIN outputs o ON o.seq = r.seq
WHERE r.response_id IN (SELECT value FROM json_each(?)) AND r.tenant = ? AND r.status = 'completed'
"""
GET_MANY = "SELECT * FROM requests WHERE response_id IN (SELECT value FROM json_each(?)) AND tenant = ?"
GET_OUTPUT = """
SELECT o.data FROM requests r JOIN outputs o ON o.seq = r.seq
WHERE r.response_id = ? AND r.tenant = ? AND r.status = 'completed'
"""
# The fair position: requests of this tenant ahead of it, plus, from each other tenant with
# requests waiting, as many as round robin serves before it (one more than this tenant's
# rank for a tenant whose turn comes first).
QUEUE_POSITION = """
WITH me AS (SELECT served_at, joined_at FROM turns WHERE endpoint = ?1 AND tenant = ?2),
rank AS (SELECT count(*) AS n FROM requests INDEXED BY requests_tenant_queue
         WHERE status = 'pending' AND endpoint = ?1 AND tenant = ?2 AND seq < ?3)
SELECT rank.n + coalesce((
    SELECT sum(min(t.pending, rank.n + (t.served_at < me.served_at
                                        OR (t.served_at = me.served_at AND t.joined_at < me.joined_at))))
    FROM turns t WHERE t.endpoint = ?1 AND t.pending > 0 AND t.tenant != ?2), 0)
FROM rank LEFT JOIN me ON 1
"""
LIST = """
SELECT * FROM requests WHERE tenant = ? AND seq < ?
  AND (? IS NULL OR status = ?) AND (? IS NULL OR endpoint = ?)
ORDER BY seq DESC LIMIT ?
"""
OWNER = "SELECT tenant FROM requests WHERE response_id = ?"
# Every tenant's (admins): pages down the primary key, as LIST pages down requests_tenant.
LIST_ALL = """
SELECT * FROM requests WHERE seq < ?
  AND (? IS NULL OR status = ?) AND (? IS NULL OR endpoint = ?)
ORDER BY seq DESC LIMIT ?
"""
CURSOR = "SELECT seq FROM requests WHERE response_id = ?1 AND (?2 IS NULL OR tenant = ?2)"
CANCEL = """
UPDATE requests SET status = 'cancelled', completed_at = ?, expires_at = ?, lease_id = NULL, lease_expires_at = NULL
WHERE response_id = ? AND tenant = ? AND status IN ('pending', 'running')
"""
CLAIM = """
UPDATE requests SET status = 'running', attempts = attempts + 1, started_at = ?1, lease_id = ?2,
    lease_expires_at = ?3, worker_id = ?4, progress = NULL
WHERE seq = (
    SELECT seq FROM requests INDEXED BY requests_tenant_queue
    WHERE status = 'pending' AND endpoint = ?5 AND tenant = (
        SELECT tenant FROM turns WHERE endpoint = ?5 AND pending > 0 ORDER BY served_at, joined_at LIMIT 1)
    ORDER BY seq LIMIT 1)
RETURNING *, (SELECT data FROM inputs WHERE inputs.seq = requests.seq) AS data
"""
SET_PROGRESS = "UPDATE requests SET progress = ? WHERE lease_id = ? AND status = 'running'"
RENEW_LEASE = (
    "UPDATE requests SET lease_expires_at = ? WHERE lease_id = ? AND status = 'running' RETURNING lease_id"
)
FINISH = """
UPDATE requests SET status = ?, completed_at = ?, expires_at = ?, error_type = ?, error = ?,
    lease_id = NULL, lease_expires_at = NULL
WHERE lease_id = ? AND status = 'running' RETURNING seq
"""
FAIL_LOST = """
UPDATE requests SET status = 'failed', error_type = 'inference_failed',
    error = 'its worker was lost ' || attempts || ' times (no heartbeat within the lease); giving up',
    completed_at = ?2, expires_at = ?3, lease_id = NULL, lease_expires_at = NULL
WHERE status = 'running' AND lease_expires_at < ?2 AND attempts >= ?1 RETURNING response_id
"""
REQUEUE_LOST = """
UPDATE requests SET status = 'pending', lease_id = NULL, lease_expires_at = NULL, worker_id = NULL
WHERE status = 'running' AND lease_expires_at < ? RETURNING endpoint
"""
# A released request keeps its seq, so it goes back ahead of every newer one.
FAIL_RELEASED = """
UPDATE requests SET status = 'failed', error_type = 'inference_failed',
    error = ?3 || '; giving up after ' || attempts || ' attempts',
    completed_at = ?4, expires_at = ?5, lease_id = NULL, lease_expires_at = NULL
WHERE status = 'running' AND worker_id = ?1 AND attempts >= ?2 RETURNING response_id
"""
REQUEUE_RELEASED = """
UPDATE requests SET status = 'pending', lease_id = NULL, lease_expires_at = NULL, worker_id = NULL
WHERE status = 'running' AND worker_id = ? RETURNING endpoint
"""
ACTIVE_COUNT = """
SELECT count(*) FROM (SELECT 1 FROM requests INDEXED BY requests_active
    WHERE tenant = ? AND status IN ('pending', 'running') LIMIT ?)
"""
SET_SETUP_ERROR = """
INSERT INTO setup_errors(endpoint, error, failed_at) VALUES (?, ?, ?)
ON CONFLICT(endpoint) DO UPDATE SET error = excluded.error, failed_at = excluded.failed_at
"""
EXPIRED = """
SELECT seq FROM requests WHERE status IN ('completed', 'failed', 'cancelled') AND expires_at <= ?
ORDER BY expires_at LIMIT ?
"""
UPSERT_WORKER = """
INSERT INTO workers(worker_id, endpoint, ready, seen_at) VALUES (?, ?, ?, ?)
ON CONFLICT(worker_id) DO UPDATE SET ready = excluded.ready, seen_at = excluded.seen_at
"""
READY_WORKER = "SELECT 1 FROM workers WHERE endpoint = ? AND ready = 1 AND seen_at > ? LIMIT 1"
INSERT_TOKEN = "INSERT INTO tokens(id, name, hash, admin, created_at) VALUES (?, ?, ?, ?, ?)"
REVOKE_TOKEN = "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"


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
_ENDS = "NEW.status IN ('completed', 'failed', 'cancelled') AND OLD.status IN ('pending', 'running')"

#: Triggers bump the endpoint's counters in the very transaction that ends a request,
#: whichever statement ends it (finish, cancel, a lost lease's failure).
COUNTERS_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS counters (
    endpoint TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (endpoint, name)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS count_ends AFTER UPDATE OF status ON requests WHEN {_ENDS}
BEGIN
    INSERT INTO counters(endpoint, name, value) VALUES (NEW.endpoint, 'finished:' || NEW.status, 1)
    ON CONFLICT(endpoint, name) DO UPDATE SET value = value + excluded.value;
END;
CREATE TRIGGER IF NOT EXISTS observe_ends AFTER UPDATE OF status ON requests
WHEN {_ENDS} AND NEW.started_at IS NOT NULL
BEGIN
    INSERT INTO counters(endpoint, name, value) VALUES
        {_OBSERVATIONS}
    ON CONFLICT(endpoint, name) DO UPDATE SET value = value + excluded.value;
END;
"""
_JOINS_QUEUE = """
    INSERT INTO turns(endpoint, tenant, pending, served_at, joined_at)
    VALUES (NEW.endpoint, NEW.tenant, 1, 0, NEW.created_at)
    ON CONFLICT(endpoint, tenant) DO UPDATE SET pending = pending + 1;
"""

#: Fair queuing across tokens: each endpoint serves the tenants with requests waiting in
#: turn, the one served longest ago first (newcomers at once, first come first), and each
#: tenant's own requests oldest first. ``turns`` holds, per endpoint and tenant, how many
#: wait, when one last started and when the tenant first queued; triggers keep it in step
#: with every move in or out of ``pending``.
FAIR_QUEUE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS turns (
    endpoint TEXT NOT NULL,
    tenant TEXT NOT NULL,
    pending INTEGER NOT NULL,
    served_at REAL NOT NULL,
    joined_at REAL NOT NULL,
    PRIMARY KEY (endpoint, tenant)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS turns_next ON turns(endpoint, served_at, joined_at) WHERE pending > 0;
CREATE INDEX IF NOT EXISTS requests_tenant_queue ON requests(endpoint, tenant, seq) WHERE status = 'pending';
CREATE TRIGGER IF NOT EXISTS turns_submitted AFTER INSERT ON requests WHEN NEW.status = 'pending'
BEGIN {_JOINS_QUEUE} END;
CREATE TRIGGER IF NOT EXISTS turns_requeued AFTER UPDATE OF status ON requests
WHEN NEW.status = 'pending' AND OLD.status != 'pending'
BEGIN {_JOINS_QUEUE} END;
CREATE TRIGGER IF NOT EXISTS turns_left AFTER UPDATE OF status ON requests
WHEN OLD.status = 'pending' AND NEW.status != 'pending'
BEGIN
    UPDATE turns SET pending = pending - 1,
        served_at = CASE WHEN NEW.status = 'running' THEN NEW.started_at ELSE served_at END
    WHERE endpoint = NEW.endpoint AND tenant = NEW.tenant;
END;
"""
#: Counts the waiting requests of a database made before ``turns`` existed (run once).
BACKFILL_TURNS = """
INSERT INTO turns(endpoint, tenant, pending, served_at, joined_at)
SELECT endpoint, tenant, count(*), 0, min(created_at) FROM requests WHERE status = 'pending'
GROUP BY endpoint, tenant
ON CONFLICT(endpoint, tenant) DO UPDATE SET pending = excluded.pending
"""

COUNTERS = "SELECT name, value FROM counters WHERE endpoint = ?"
# Each reads one partial index: what is queued or running, never what is retained.
QUEUE_STATS = """
SELECT count(*),
    (SELECT created_at FROM requests WHERE status = 'pending' AND endpoint = ?1 ORDER BY seq LIMIT 1)
FROM requests WHERE status = 'pending' AND endpoint = ?1
"""
RUNNING_COUNT = (
    "SELECT count(*) FROM requests INDEXED BY requests_leases WHERE status = 'running' AND endpoint = ?"
)
WORKER_COUNTS = "SELECT count(*), coalesce(sum(ready), 0) FROM workers WHERE endpoint = ? AND seen_at > ?"
