"""The SQLite backend's schema and statements, kept apart from the code that runs them."""

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

INSERT_REQUEST = """
INSERT INTO requests(response_id, tenant, endpoint, status, created_at, expires_at, idempotency_key, body_hash)
VALUES (?, ?, ?, 'pending', ?, ?, ?, ?) RETURNING *
"""
BY_IDEMPOTENCY_KEY = "SELECT * FROM requests WHERE tenant = ? AND idempotency_key = ?"
GET = "SELECT * FROM requests WHERE response_id = ? AND tenant = ?"
GET_OUTPUT = """
SELECT o.data FROM requests r JOIN outputs o ON o.seq = r.seq
WHERE r.response_id = ? AND r.tenant = ? AND r.status = 'completed'
"""
QUEUE_POSITION = "SELECT count(*) FROM requests WHERE status = 'pending' AND endpoint = ? AND seq < ?"
LIST = """
SELECT * FROM requests WHERE tenant = ? AND seq < ?
  AND (? IS NULL OR status = ?) AND (? IS NULL OR endpoint = ?)
ORDER BY seq DESC LIMIT ?
"""
CANCEL = """
UPDATE requests SET status = 'cancelled', completed_at = ?, expires_at = ?, lease_id = NULL, lease_expires_at = NULL
WHERE response_id = ? AND tenant = ? AND status IN ('pending', 'running')
"""
CLAIM = """
UPDATE requests SET status = 'running', attempts = attempts + 1, started_at = ?1, lease_id = ?2,
    lease_expires_at = ?3, worker_id = ?4
WHERE seq = (SELECT seq FROM requests WHERE status = 'pending' AND endpoint = ?5 ORDER BY seq LIMIT 1)
RETURNING *, (SELECT data FROM inputs WHERE inputs.seq = requests.seq) AS data
"""
RENEW_LEASE = "UPDATE requests SET lease_expires_at = ? WHERE lease_id = ? AND status = 'running' RETURNING lease_id"
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
