"""One tenant attacking, another tenant measured: what each attack of the hostile pass costs
everyone else.

Per backend, on one server (echo, ``--no-workers`` so that nothing drains what is queued),
token B sends ``PROBES`` submits one after another on a keep-alive connection, and as many
``/healthz`` calls each on a new connection, while token A (or anyone) attacks; the figures
are B's p50 and p99 latency under each attack, with their ratio to B's quiet latency from the
same run:

- ``streams``: A queues ``--deep`` requests and follows 500 of them on event streams;
- ``slow_sockets``: 1,000 connections each send half a request line and nothing more;
- ``big_body``: A posts a 38 MB JSON body of 3 million keys, again and again;
- ``webhooks``: A's 40 requests notify receivers that answer a byte a second, and B's one
  webhook's delivery time is measured instead (from its request's end to the receiver).
"""

from __future__ import annotations

import asyncio
import resource
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from httpx_sse import aconnect_sse

from bench.common import percentile, store_url, summarize
from bench.scaleout import forget
from tests.conftest import Server, create_token
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_delivery import Trickler

PROBES = 100
STREAMS = 500
SLOW_SOCKETS = 1000
ASYNC = {"Prefer": "respond-async"}


def probe(server: Server, token: str) -> dict[str, float]:
    """B's submit latency (keep-alive) and new-connection ``/healthz`` latency, p50 and p99 in
    ms, over the calls that were answered; and the share of calls that failed (refused, reset,
    a 5xx, or no answer within 10 s)."""
    submits: list[float] = []
    fresh: list[float] = []
    with server.http(token=token) as b:
        for i in range(PROBES):
            _timed(lambda: b.post("/echo/predict", json={"probe": i}, headers=ASYNC, timeout=10), submits)  # noqa: B023 - called at once
            _timed(lambda: httpx.get(f"{server.url}/healthz", timeout=10), fresh)
    figures = {"failed_share": 1 - (len(submits) + len(fresh)) / (2 * PROBES)}
    for name, samples in (("submit", submits), ("new_connection", fresh)):
        for q in (50, 99):
            figures[f"{name}_p{q}_ms"] = percentile(samples, q) * 1000 if samples else float("nan")
    return figures


def _timed(call: Callable[[], httpx.Response], samples: list[float]) -> None:
    """Time ``call`` into ``samples`` when it is answered (below 500)."""
    started = time.perf_counter()
    try:
        answered = call().status_code < 500
    except httpx.HTTPError:
        answered = False
    if answered:
        samples.append(time.perf_counter() - started)


@contextmanager
def streams(server: Server, deep: int) -> Iterator[None]:
    with server.http() as a:
        ids: list[str] = []
        for start in range(0, deep, 1000):
            batch = {"inputs": [{"i": i} for i in range(start, min(deep, start + 1000))]}
            ids += [f["response_id"] for f in a.post("/echo/batch", json=batch).json()["results"]]
    stop = threading.Event()

    async def follow(response_id: str, http: httpx.AsyncClient) -> None:
        while not stop.is_set():
            try:
                async with aconnect_sse(http, "GET", f"/v1/requests/{response_id}/events") as source:
                    async for _ in source.aiter_sse():
                        if stop.is_set():
                            return
            except httpx.HTTPError:
                await asyncio.sleep(0.5)

    async def all_of_them() -> None:
        limits = httpx.Limits(max_connections=STREAMS + 10)
        headers = {"Authorization": f"Bearer {server.token}"}
        async with httpx.AsyncClient(
            base_url=server.url, headers=headers, timeout=None, limits=limits
        ) as http:
            step = max(1, len(ids) // STREAMS)
            await asyncio.gather(*(follow(response_id, http) for response_id in ids[::step][:STREAMS]))

    thread = threading.Thread(target=asyncio.run, args=(all_of_them(),), daemon=True)
    thread.start()
    time.sleep(5)  # the streams connected and settled into their ticks
    try:
        yield
    finally:
        stop.set()


@contextmanager
def slow_sockets(server: Server) -> Iterator[None]:
    address = urlsplit(server.url)
    held: list[socket.socket] = []
    stop = threading.Event()

    def keep_opening() -> None:  # as the server cuts them off, the attacker opens more
        while not stop.is_set():
            held[:] = [sock for sock in held if sock.fileno() != -1]
            while len(held) < SLOW_SOCKETS and not stop.is_set():
                try:
                    sock = socket.create_connection((address.hostname, address.port), timeout=5)
                    sock.sendall(b"GET /healthz HT")
                    held.append(sock)
                except OSError:
                    break
            time.sleep(0.5)

    thread = threading.Thread(target=keep_opening, daemon=True)
    thread.start()
    time.sleep(2)
    try:
        yield
    finally:
        stop.set()
        thread.join()
        for sock in held:
            sock.close()


@contextmanager
def big_bodies(server: Server) -> Iterator[None]:
    body = b"{" + b",".join(b'"k%d":1' % i for i in range(3_000_000)) + b"}"
    stop = threading.Event()

    def keep_posting() -> None:
        with server.http() as a:
            while not stop.is_set():
                a.post("/echo/predict", content=body, headers={**ASYNC, "Content-Type": "application/json"})

    thread = threading.Thread(target=keep_posting, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def webhook_delay(server: Server, token: str, slow: bool) -> float:
    """Seconds from the end of B's request to its webhook's arrival, with A's 40 trickling
    receivers busy when ``slow``."""
    trickler, receiver = Trickler(), Receiver().start()
    try:
        if slow:
            with server.http() as a:
                for _ in range(40):
                    a.post("/echo/predict", params={"webhook": trickler.url}, json={}, headers=ASYNC)
            time.sleep(2)
        with server.http(token=token) as b:
            future = b.post("/echo/predict", params={"webhook": receiver.url}, json={}, headers=ASYNC).json()
            state = b.get(future["poll_url"], params={"wait": 60}).json()
            receiver.wait_for(1, timeout=600)
            return time.time() - datetime.fromisoformat(state["completed_at"]).timestamp()
    finally:
        trickler.stop()
        receiver.stop()


ATTACKS: dict[str, Callable[[Server, int], Any]] = {
    "streams": streams,
    "slow_sockets": lambda server, deep: slow_sockets(server),
    "big_body": lambda server, deep: big_bodies(server),
}


def run(backends: list[str], runs: int, deep: int) -> dict[str, Any]:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the attacker's sockets
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        for kind in backends:
            results[kind] = []
            for _ in range(runs):
                figures: dict[str, float] = {}
                backend = store_url(kind, tmp)
                args = ["--endpoints", "echo", "--no-workers", "--webhook-allow", "127.0.0.0/8"]
                server = Server(backend, args, tmp / "hostile.log").start(())
                other = create_token(backend, "bystander")
                try:
                    figures.update({f"quiet_{k}": v for k, v in probe(server, other).items()})
                    for name, attack in ATTACKS.items():
                        with attack(server, deep):
                            figures.update({f"{name}_{k}": v for k, v in probe(server, other).items()})
                finally:
                    server.stop()
                    forget(backend)
                hooks = Server(
                    backend, ["--endpoints", "echo", "--webhook-allow", "127.0.0.0/8"], tmp / "hooks.log"
                )
                hooks.start(("echo",))
                try:
                    other = create_token(backend, "bystander")
                    figures["webhook_quiet_s"] = webhook_delay(hooks, other, slow=False)
                    figures["webhook_under_slow_receivers_s"] = webhook_delay(hooks, other, slow=True)
                finally:
                    hooks.stop()
                    forget(backend)
                print(kind, figures, flush=True)
                results[kind].append(figures)
    rows = []
    for kind, series in results.items():
        for name in ATTACKS:
            for metric in (
                "submit_p50_ms",
                "submit_p99_ms",
                "new_connection_p50_ms",
                "new_connection_p99_ms",
            ):
                values = [r[f"{name}_{metric}"] for r in series]
                ratio = {"quiet": [r[f"{name}_{metric}"] / r[f"quiet_{metric}"] for r in series]}
                rows.append(summarize(kind, f"{name}_{metric}", values, ratio))
            rows.append(summarize(kind, f"{name}_failed_share", [r[f"{name}_failed_share"] for r in series]))
        rows.append(
            summarize(
                kind,
                "webhook_under_slow_receivers_s",
                [r["webhook_under_slow_receivers_s"] for r in series],
                {"quiet": [r["webhook_under_slow_receivers_s"] / r["webhook_quiet_s"] for r in series]},
            )
        )
    return {"runs": results, "rows": rows}
