"""The stores the backend suite runs against: a fresh, empty one of each kind, dropped afterwards.

A third backend joins the suite with one class here and one entry in :data:`STORES`:
every contract test and the state machine then run against it too.
``INFERQ_TEST_BACKENDS=sqlite`` (a comma-separated list) narrows a run to some kinds.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import ClassVar, Protocol

from tests.conftest import REDIS_URL


class Store(Protocol):
    """A fresh store: the URL ``open_backend`` takes, and how to drop everything in it."""

    kind: ClassVar[str]
    url: str

    def drop(self) -> None: ...


#: Where SQLite stores live: in memory where the machine has a tmpfs, since every commit
#: waits for its fsync and the suite commits thousands of times (on a shared disk, half its
#: run time). What the suite tests is the same there; surviving a crash is tested by killing
#: real processes, in tests/faults.
MEMORY_DIR = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


class SQLiteStore:
    """A database file of its own, in a directory of its own."""

    kind: ClassVar[str] = "sqlite"

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="iq-backend-", dir=MEMORY_DIR))
        self.url = f"sqlite:///{self.directory / 'inferq.db'}"

    def drop(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class RedisStore:
    """A key prefix of its own on the test Redis; dropping deletes every key under it."""

    kind: ClassVar[str] = "redis"

    def __init__(self) -> None:
        self.prefix = f"iqtest-{secrets.token_hex(6)}"
        self.url = f"{REDIS_URL}?prefix={self.prefix}"

    def drop(self) -> None:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        try:
            for key in client.scan_iter(f"{self.prefix}:*", count=1000):
                client.delete(key)
        finally:
            client.close()


STORES: dict[str, type[SQLiteStore | RedisStore]] = {"sqlite": SQLiteStore, "redis": RedisStore}


def unavailable(kind: str) -> str | None:
    """Why the stores of ``kind`` cannot run here (the test is skipped, visibly), or None."""
    if kind not in os.environ.get("INFERQ_TEST_BACKENDS", ",".join(STORES)).split(","):
        return f"INFERQ_TEST_BACKENDS leaves out {kind}"
    if kind == "redis" and not redis_answers():
        return f"no Redis answers at {REDIS_URL}"
    return None


@functools.cache
def redis_answers() -> bool:
    """True when the test Redis answers a ping (asked once per session, waiting a second at most)."""
    try:
        import redis
    except ImportError:
        return False
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()
