"""Servers shared by many tests: one ``inferq serve`` per backend and set of flags for the
whole session, each test on it a tenant (a token) of its own.

Starting a process tree costs seconds; most HTTP tests need nothing of a server but what
every server does, and see nothing of another tenant's requests. Before each test the
server is brought back to rest (nothing pending, its workers idle), so tests that count
queue positions or hold "the only worker" find it as a fresh server would be.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from tests.servers import EXAMPLES, REDIS_URL, SERVICES, Server, wait_until

RAISES = f"raises={SERVICES / 'raises.py'}:Raises"
BATCHES = f"batches={SERVICES / 'batches.py'}:Batches"
#: The documented Service that checkpoints (docs/writing-a-service.md).
CHAPTERS = f"chapters={EXAMPLES / 'chapters.py'}:Chapters"
#: What the shared servers serve: echo, a model that raises, one with a batch form and one
#: that checkpoints.
SHARED_ENDPOINTS = f"echo,{RAISES},{BATCHES},{CHAPTERS}"
#: Webhooks may reach receivers on loopback (where the tests' receivers listen) ...
LOOPBACK = ("--webhook-allow", "127.0.0.0/8")
#: ... and are retried after 5, 30, 120, ... hundredths of a second instead of seconds.
FAST_RETRIES = ("--webhook-retry-base", "10ms")
#: A request may ask to be kept up to 30 days (Inferq-Retention).
MAX_RETENTION = ("--max-retention", "30d")


def store_url(kind: str, directory: Path) -> str:
    """A store of its own: a SQLite file in ``directory``, or a fresh Redis key prefix."""
    if kind == "sqlite":
        return f"sqlite:///{directory / 'inferq.db'}"
    return f"{REDIS_URL}?prefix=iqtest-{secrets.token_hex(6)}"


def drop_store(url: str) -> None:
    """Delete a Redis store's keys (a SQLite file goes with its temporary directory)."""
    if not url.startswith("redis"):
        return
    import redis

    prefix = url.split("prefix=")[1]
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}:*", count=1000):
        client.delete(key)
    client.close()


class SharedServers:
    """Started on first use, one per (backend kind, flags), stopped at the end of the session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.servers: dict[tuple[str, tuple[str, ...]], Server] = {}

    def server(self, kind: str, flags: tuple[str, ...]) -> Server:
        key = (kind, flags)
        if key not in self.servers:
            directory = self.root / f"{kind}-{len(self.servers)}"
            directory.mkdir()
            args = ["--endpoints", SHARED_ENDPOINTS, *LOOPBACK, *FAST_RETRIES, *MAX_RETENTION, *flags]
            # token="-": no user token of its own; each test gets one (``tenant``)
            server = Server(store_url(kind, directory), args, directory / "serve.log", token="-")
            self.servers[key] = server
            names = tuple(part.split("=")[0] for part in SHARED_ENDPOINTS.split(","))
            server.start(wait_for=() if "--no-workers" in flags else names)
        return self.servers[key]

    def tenant(self, kind: str, flags: tuple[str, ...] = ()) -> Server:
        """The shared server for ``flags`` at rest, seen through a new user token."""
        server = self.server(kind, flags)
        settle(server)
        return replace(server, token=server.new_token("test"))

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
            drop_store(server.backend)


def settle(server: Server) -> None:
    """Cancel whatever is pending, on any tenant's behalf, and wait until every worker is idle.

    A request cancelled while it ran holds its worker until its model stops, and the store
    no longer counts it as running; so a probe is sent through echo, which comes back once
    the worker is free.
    """
    with server.http(token=server.admin_token) as admin:
        _cancel_pending(admin)
        if "--no-workers" not in server.args:
            probe = admin.post("/echo/predict", json={})
            assert probe.status_code == 200, probe.text
        wait_until(lambda: _queued(admin) == (0, 0), 60, "the shared server to come to rest")


def _queued(admin: httpx.Client) -> tuple[int, int]:
    """Requests pending and running, over every endpoint."""
    listing: list[dict[str, Any]] = admin.get("/v1/endpoints").json()["endpoints"]
    return sum(e["pending"] for e in listing), sum(e["running"] for e in listing)


def _cancel_pending(admin: httpx.Client) -> None:
    """Cancel every tenant's pending requests, newest first, until none is left.

    Pages come unfiltered: what is pending was submitted by the test before, so it is
    among the newest, and a page filtered by status would read through every request
    the shared store holds.
    """
    page: dict[str, Any] = {"next": "/v1/requests?limit=200"}
    while _queued(admin)[0] and page["next"]:
        page = admin.get(page["next"]).json()
        for state in page["results"]:
            if state["status"] == "pending":
                admin.post(f"/v1/requests/{state['response_id']}/cancel")
