"""The cluster a partition test runs (Redis, two gateways, three workers of a counting model,
each in a namespace of its own), the steady load it puts on it, and what became of it."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx

from tests.partition.rig import Member, Rig, wait_port
from tests.servers import SERVICES, create_token, wait_until

COUNTS = f"counts={SERVICES / 'counts.py'}:Counts"
LEASE_S = 2.0
#: Each request's work, and how often the load submits one: a little more than three workers
#: do, so that each is always running a request when a fault strikes it.
WORK_S = 0.1
EVERY_S = 0.03


#: Workers reach Redis through the delaying proxy on this port of Redis's namespace.
PROXY_PORT = 6380


@dataclass
class Cluster:
    rig: Rig
    redis: Member
    gateways: list[Member]
    workers: list[Member]
    backend: str
    token: str
    #: An admin token, to read the finished count from ``/metrics``.
    watcher: str
    runs: Path
    #: While this file exists, the proxy between workers and Redis delays and loses.
    fault: Path
    lease_s: float = LEASE_S

    def degrade(self, delay_ms: int, loss_percent: float) -> None:
        """Delay (and lose, as retransmission stalls) what goes between workers and Redis."""
        self.fault.write_text(json.dumps({"delay_ms": delay_ms, "loss_percent": loss_percent}))

    def heal(self) -> None:
        self.fault.unlink(missing_ok=True)

    def url(self, gateway: Member) -> str:
        return f"http://{gateway.address}:8000"

    def ready_workers(self) -> int:
        with httpx.Client(base_url=self.url(self.gateways[1]), headers=_auth(self)) as http:
            return _ready_workers(http)

    def worker_running(self) -> Member:
        """A worker: under the steady load each is nearly always running a request."""
        return self.workers[0]


#: How far behind the skewed worker's clock runs (libfaketime).
SKEW = "-300s"


@contextlib.contextmanager
def cluster_in(tmp: Path, *, skewed: bool = False) -> Iterator[Cluster]:
    """The cluster, torn down at the end; ``skewed``: the first worker's clock runs 5 minutes
    behind everyone else's (leases and liveness are judged by Redis's clock)."""
    rig = Rig()
    try:
        redis = rig.add("redis")
        redis.start(
            [
                "redis-server",
                "--bind",
                redis.address,
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ],
            tmp / "redis.log",
        )
        wait_port(redis.address, 6379, "Redis in its namespace")
        fault = tmp / "fault.json"
        proxy = [sys.executable, str(Path(__file__).parent / "delay_proxy.py")]
        redis.start(
            [*proxy, f"{redis.address}:{PROXY_PORT}", f"{redis.address}:6379", str(fault)], tmp / "proxy.log"
        )
        wait_port(redis.address, PROXY_PORT, "the proxy to Redis")
        backend = f"redis://{redis.address}:6379/0?prefix=partition"
        settings = ["--backend", backend, "--lease", f"{LEASE_S:g}s"]
        through_proxy = [
            "--backend",
            backend.replace(":6379/", f":{PROXY_PORT}/"),
            "--lease",
            f"{LEASE_S:g}s",
        ]
        gateways = [rig.add(f"gw{n}") for n in (1, 2)]
        for gateway in gateways:
            gateway.start(
                [
                    sys.executable,
                    "-m",
                    "inferq",
                    "serve",
                    "--no-workers",
                    "--host",
                    gateway.address,
                    "--port",
                    "8000",
                    "--endpoints",
                    COUNTS,
                    *settings,
                ],
                tmp / f"{gateway.name}.log",
            )
            wait_port(gateway.address, 8000, f"gateway {gateway.name}")
        runs = tmp / "runs.log"
        workers = [rig.add(f"w{n}") for n in (1, 2, 3)]
        for worker in workers:
            clock = ["faketime", "-m", "-f", SKEW] if skewed and worker is workers[0] else []
            worker.start(
                [*clock, sys.executable, "-m", "inferq", "worker", "--endpoint", COUNTS, *through_proxy],
                tmp / f"{worker.name}.log",
                env={"COUNTS_LOG": str(runs)},
            )
        tokens = create_token(backend, "load"), create_token(backend, "watch", admin=True)
        cluster = Cluster(rig, redis, gateways, workers, backend, *tokens, runs, fault)
        with httpx.Client(base_url=cluster.url(gateways[0]), headers=_auth(cluster)) as http:
            wait_until(lambda: _ready_workers(http) == len(workers), 60, "three workers ready")
        yield cluster
    finally:
        rig.close()


def _auth(cluster: Cluster) -> dict[str, str]:
    return {"Authorization": f"Bearer {cluster.token}"}


def _ready_workers(http: httpx.Client) -> int:
    [endpoint] = http.get("/v1/endpoints").json()["endpoints"]
    return int(endpoint["ready_workers"])


class Load:
    """Unique requests at a steady pace, alternating gateways; a submit that fails (a cut
    gateway times out) is sent again with its idempotency key through the other gateway."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.accepted: dict[int, str] = {}
        self.retried = 0
        #: The longest time the cluster finished nothing while requests were waiting.
        self.longest_stall_s = 0.0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=run, daemon=True) for run in (self._run, self._watch)]
        self._clients = [
            httpx.Client(base_url=cluster.url(gateway), headers=_auth(cluster), timeout=2.0)
            for gateway in cluster.gateways
        ]

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        for client in self._clients:
            client.close()

    @property
    def count(self) -> int:
        return len(self.accepted)

    def until(self, count: int) -> None:
        wait_until(lambda: self.count >= count, 120, f"{count} requests accepted")

    def for_seconds(self, seconds: float) -> None:
        time.sleep(seconds)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            self.accepted[n] = self._submit(n)
            n += 1
            time.sleep(EVERY_S)

    def _watch(self) -> None:
        """Sample the finished count (through the gateway no test cuts) every 50 ms."""
        headers = {"Authorization": f"Bearer {self.cluster.watcher}"}
        url = f"{self.cluster.url(self.cluster.gateways[1])}/metrics"
        with httpx.Client(headers=headers, timeout=2.0) as http:
            finished, since = 0, time.monotonic()
            while not self._stop.wait(0.05):
                try:
                    now_finished = _finished(http.get(url).text)
                except httpx.HTTPError:
                    continue
                now = time.monotonic()
                if now_finished > finished or now_finished >= self.count:
                    finished, since = now_finished, now
                self.longest_stall_s = max(self.longest_stall_s, now - since)

    def _submit(self, n: int) -> str:
        body = {"n": n, "delay_s": WORK_S}
        headers = {"Idempotency-Key": f"load-{n}", "Prefer": "respond-async"}
        for attempt in range(200):
            client = self._clients[(n + attempt) % len(self._clients)]
            try:
                answer = client.post("/counts/predict", json=body, headers=headers)
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code == 202:
                return str(answer.json()["response_id"])
            self.retried += 1
        raise AssertionError(f"request {n} was never accepted")


def _finished(scraped: str) -> int:
    prefix = "inferq_requests_finished_total{"
    return int(sum(float(line.split()[-1]) for line in scraped.splitlines() if line.startswith(prefix)))


@dataclass(frozen=True)
class Outcome:
    accepted: int
    lost: int
    doubled: int
    rerun: int
    longest_stall_s: float


def _every_request(http: httpx.Client) -> set[str]:
    """The ids of every request the load's token has, page by page."""
    ids: set[str] = set()
    page: dict[str, Any] = {"next": "/v1/requests?limit=200"}
    while page["next"]:
        page = http.get(page["next"]).json()
        ids |= {state["response_id"] for state in page["results"]}
    return ids


def report(cluster: Cluster, load: Load) -> Outcome:
    """What became of every accepted request, once the load stopped and all have ended."""
    ends: dict[int, dict[str, Any]] = {}
    with httpx.Client(base_url=cluster.url(cluster.gateways[1]), headers=_auth(cluster), timeout=70) as http:
        for n, response_id in load.accepted.items():
            ends[n] = http.get(f"/v1/requests/{response_id}", params={"wait": 60}).json()
        outputs = {
            n: http.get(state["response_url"]).json()
            for n, state in ends.items()
            if state["status"] == "completed"
        }
        stored = _every_request(http)
    lost = sum(1 for state in ends.values() if state["status"] != "completed")
    wrong = sum(1 for n, output in outputs.items() if output != {"n": n})
    runs = Counter(cluster.runs.read_text().split())
    outcome = Outcome(
        accepted=len(load.accepted),
        lost=lost,
        # a submit cut off after it was queued, then queued again by its retry, would show
        # as a request no 202 named; a result stored for the wrong request as a wrong output
        doubled=wrong + len(stored - set(load.accepted.values())),
        rerun=sum(1 for count in runs.values() if count > 1),
        longest_stall_s=round(load.longest_stall_s, 2),
    )
    print(outcome)
    return outcome
