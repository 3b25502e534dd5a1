"""``python -m bench sweep``: deleting 1,000,000 expired requests, and the API while it runs.

For each backend, a store is filled with ``--rows`` echo requests that completed long ago
and whose retention has passed (``expires_at`` spread over the last hour), then a gateway
with an echo worker starts on it; its maintenance loop sweeps them, 1,000 at a time, from
the moment it starts. Measured:

- the wall time from the gateway's launch until its ``inferq_retention_swept`` counter on
  ``/metrics`` reaches ``--rows`` (start-up included), and the rate between the first and
  the last scrape (start-up excluded);
- while the sweep runs, two clients one request at a time: echo round trips (submit →
  completed → fetched) and status reads of one completed request; then the same for as
  long again (5 to 30 s) on the same server once the sweep is done. The reference is
  that second phase: ratio p99 during / p99 after.

The setup bypasses HTTP: the expired requests are written straight into the store (rows of
the SQLite file, keys of the Redis prefix) laid out as the backend lays out a completed
request, because a million submits and completions through the API would take most of an
hour and are not what is measured. The sweep and the requests measured all go through the
gateway and its backend as in production. On Redis the keys carry a one-hour TTL only as a
safety net should the run die; the sweep deletes them long before it.

Tokens are made through the backend's Python API: a normal one for the measured requests,
and an admin one to scrape ``/metrics`` whether or not it is restricted to admins.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.common import percentile, store_url, summarize
from bench.scaleout import forget
from inferq.backends import open_backend
from inferq.backends.redis import parse_url
from inferq.backends.redis.keys import PER_ID, SINGLE
from inferq.backends.sqlite import db_path_from_url
from inferq.domain.ids import new_response_id
from tests.conftest import Server

ASYNC = {"X-OctoAI-Async": "1"}
#: Requests written per transaction (SQLite) or pipeline (Redis) while filling.
CHUNK = 10_000
#: How long an expired request had been retained (the default retention).
RETENTION_S = 24 * 3600.0
SAFETY_TTL_MS = 3600 * 1000
AFTER_S = (5.0, 30.0)
#: A sweep still running after this long has stalled: the run fails rather than waits.
SWEEP_LIMIT_S = 1800.0
SWEPT = re.compile(r"^inferq_retention_swept_total (\S+)$", re.MULTILINE)


# setup -------------------------------------------------------------------------------


def expired(secret: bytes, tenant: str, rows: int) -> Iterator[tuple[int, str, float]]:
    """``(seq, response_id, expires_at)`` of ``rows`` requests whose retention ran out over the last hour."""
    now = time.time()
    for seq in range(1, rows + 1):
        yield seq, new_response_id(secret, tenant), now - 3600 + 3000 * seq / rows


def fill_sqlite(url: str, secret: bytes, tenant: str, rows: int) -> None:
    conn = sqlite3.connect(db_path_from_url(url), isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    batch: list[tuple[int, str, float]] = []
    for request in expired(secret, tenant, rows):
        batch.append(request)
        if len(batch) == CHUNK:
            _insert(conn, tenant, batch)
            batch = []
    if batch:
        _insert(conn, tenant, batch)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def _insert(conn: sqlite3.Connection, tenant: str, batch: list[tuple[int, str, float]]) -> None:
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO requests(seq, response_id, tenant, endpoint, status, created_at, started_at, completed_at,"
        " expires_at, attempts, body_hash) VALUES (?, ?, ?, 'echo', 'completed', ?, ?, ?, ?, 1, '')",
        [
            (seq, rid, tenant, at - RETENTION_S - 0.01, at - RETENTION_S - 0.005, at - RETENTION_S, at)
            for seq, rid, at in batch
        ],
    )
    conn.executemany(
        "INSERT INTO inputs(seq, data) VALUES (?, ?)", [(seq, _inputs(seq)) for seq, _, _ in batch]
    )
    conn.executemany(
        "INSERT INTO outputs(seq, data) VALUES (?, ?)", [(seq, _output(seq)) for seq, _, _ in batch]
    )
    conn.execute("COMMIT")


def fill_redis(url: str, secret: bytes, tenant: str, rows: int) -> None:
    import redis

    connection_url, prefix = parse_url(url)
    client = redis.Redis.from_url(connection_url)
    key = {name: f"{prefix}:{stem}:" for name, stem in PER_ID.items()}
    expiry, last_seq = f"{prefix}:{SINGLE['expiry']}", f"{prefix}:{SINGLE['seq']}"
    batch: list[tuple[int, str, float]] = []

    def flush() -> None:
        pipe = client.pipeline(transaction=False)
        for seq, rid, at in batch:
            pipe.hset(
                key["request"] + rid,
                mapping={
                    "response_id": rid,
                    "tenant": tenant,
                    "endpoint": "echo",
                    "status": "completed",
                    "created_at": at - RETENTION_S - 0.01,
                    "started_at": at - RETENTION_S - 0.005,
                    "completed_at": at - RETENTION_S,
                    "expires_at": at,
                    "attempts": 1,
                    "seq": seq,
                },
            )
            pipe.pexpire(key["request"] + rid, SAFETY_TTL_MS)
            pipe.set(key["inputs"] + rid, _inputs(seq), px=SAFETY_TTL_MS)
            pipe.set(key["outputs"] + rid, _output(seq), px=SAFETY_TTL_MS)
        pipe.zadd(key["tenant"] + tenant, {rid: seq for seq, rid, _ in batch})
        pipe.zadd(expiry, {f"{tenant} {rid}": at for _, rid, at in batch})
        pipe.set(last_seq, batch[-1][0])
        pipe.execute()
        batch.clear()

    for request in expired(secret, tenant, rows):
        batch.append(request)
        if len(batch) == CHUNK:
            flush()
    if batch:
        flush()
    client.close()


def _inputs(seq: int) -> bytes:
    return b'{"text": "hello", "n": %d}' % seq


def _output(seq: int) -> bytes:
    return b'{"echo": {"text": "hello", "n": %d}}' % seq


async def _prepare(url: str) -> tuple[str, str, str, bytes]:
    """Create the store's schema; (tenant, its token, an admin token, the id secret)."""
    backend = open_backend(url)
    await backend.start()
    try:
        info, token = await backend.create_token("bench")
        _, admin = await backend.create_token("bench-metrics", admin=True)
        return info.id, token, admin, await backend.secret()
    finally:
        await backend.close()


# measurement -------------------------------------------------------------------------


def sample(server: Server, call: Callable[[httpx.Client], object], stop: threading.Event) -> list[float]:
    """``call`` again and again from one client until ``stop``; the latency of each."""
    samples = []
    with server.http() as http:
        while not stop.is_set():
            start = time.perf_counter()
            call(http)
            samples.append(time.perf_counter() - start)
    return samples


def round_trip(http: httpx.Client) -> str:
    """Submit, long-poll until completed, fetch the output; the request's poll URL."""
    future = http.post("/echo/predict", json={"text": "hello"}, headers=ASYNC).raise_for_status().json()
    state = http.get(future["poll_url"], params={"wait": 60}).raise_for_status().json()
    http.get(state["response_url"]).raise_for_status()
    return str(future["poll_url"])


def swept(http: httpx.Client) -> int:
    match = SWEPT.search(http.get("/metrics").raise_for_status().text)
    return int(float(match.group(1))) if match else 0


def latencies(server: Server, stop: threading.Event, status_url: str) -> dict[str, list[float]]:
    """Round trips and status reads of a completed request, side by side, until ``stop``."""
    calls: dict[str, Callable[[httpx.Client], object]] = {
        "round_trip": round_trip,
        "status": lambda http: http.get(status_url).raise_for_status(),
    }
    with ThreadPoolExecutor(len(calls)) as pool:
        jobs = {name: pool.submit(sample, server, call, stop) for name, call in calls.items()}
        return {name: job.result() for name, job in jobs.items()}


def one_run(kind: str, tmp: Path, rows: int) -> dict[str, float]:
    url = store_url(kind, tmp)
    try:
        started = time.perf_counter()
        tenant, token, admin, secret = asyncio.run(_prepare(url))
        (fill_sqlite if kind == "sqlite" else fill_redis)(url, secret, tenant, rows)
        figures = {"fill_s": time.perf_counter() - started}
        launched = time.perf_counter()
        server = Server(url, ["--endpoints", "echo"], tmp / "serve.log", token=token).start(("echo",))
        try:
            figures.update(measure(server, admin, rows, launched))
        finally:
            server.stop()
        return figures
    finally:
        forget(url)


def measure(server: Server, admin: str, rows: int, launched: float) -> dict[str, float]:
    """Latencies while the sweep runs and after it; its duration and rate."""
    with server.http() as http:
        status_url = round_trip(http)
    done = threading.Event()
    scrapes: list[tuple[float, int]] = []

    def swept_all() -> bool:
        return bool(scrapes) and scrapes[-1][1] >= rows

    def watch() -> None:
        try:
            with server.http(token=admin) as http:
                while not swept_all() and time.perf_counter() - launched < SWEEP_LIMIT_S:
                    scrapes.append((time.perf_counter(), swept(http)))
                    time.sleep(0.2)
        finally:
            done.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    during = latencies(server, done, status_url)
    watcher.join()
    if not swept_all():
        raise RuntimeError(f"the sweep did not delete {rows} requests within {SWEEP_LIMIT_S:.0f} s")
    (t0, n0), (t1, n1) = scrapes[0], scrapes[-1]
    after_stop = threading.Event()
    threading.Timer(min(max(t1 - t0, AFTER_S[0]), AFTER_S[1]), after_stop.set).start()
    after = latencies(server, after_stop, status_url)
    figures = {
        "sweep_s": t1 - launched,
        "swept_per_s": (n1 - n0) / (t1 - t0) if t1 > t0 else float("nan"),
        "swept_at_first_scrape": n0,
    }
    for name in ("round_trip", "status"):
        figures[f"{name}_samples_during"] = len(during[name])
        for q in (50, 99):
            figures[f"{name}_p{q}_ms_during"] = (
                percentile(during[name], q) * 1000 if during[name] else float("nan")
            )
            figures[f"{name}_p{q}_ms_after"] = percentile(after[name], q) * 1000
    return figures


def run(backends: list[str], runs: int, rows: int) -> dict[str, Any]:
    """``runs`` rounds over ``backends``; the raw figures and the table's rows."""
    results: list[dict[str, dict[str, float]]] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            results.append({kind: one_run(kind, Path(tmp), rows) for kind in backends})
    table = []
    for kind in backends:
        series = [result[kind] for result in results]
        table.append(summarize(kind, "sweep_s", [f["sweep_s"] for f in series]))
        table.append(summarize(kind, "swept_per_s", [f["swept_per_s"] for f in series]))
        for name in ("round_trip", "status"):
            for q in (50, 99):
                during = [f[f"{name}_p{q}_ms_during"] for f in series]
                after = [f[f"{name}_p{q}_ms_after"] for f in series]
                ratios = [d / a for d, a in zip(during, after, strict=True)]
                table.append(summarize(kind, f"{name}_p{q}_ms_during_sweep", during, {"after_sweep": ratios}))
                table.append(summarize(kind, f"{name}_p{q}_ms_after_sweep", after))
    return {"runs": results, "rows": table, "rows_swept": rows}
