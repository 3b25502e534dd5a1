"""``python -m bench.chaos``: requests through ``inferq serve`` while its processes die by SIGKILL.

Every request is an asynchronous submit of a unique ``n`` to a counting model (it appends
``n`` to a file each time it runs, see ``tests/services/counts.py``), sent with an
``Idempotency-Key`` so that a submit retried after the gateway died cannot create a second
request. Meanwhile ``--kills`` SIGKILLs land at random moments of the run: a random worker
(its supervisor replaces it and hands its request back at once), or, with probability
``--tree-share``, the whole ``serve`` tree, which is then restarted on the same store.

Then every accepted request is checked:

- lost: accepted but not ``completed`` in the end (must be 0);
- wrong outputs: completed with anything but ``{"n": n}`` (must be 0);
- duplicates: requests stored beyond one per submit (must be 0);
- reruns: executions beyond one per request; allowed only for requests running at a kill,
  so at most ``concurrency`` per worker kill and ``workers * concurrency`` per tree kill.

CI runs a short form (``tests/faults/test_chaos.py``); the full form is
``python -m bench.chaos --requests 10000 --backend sqlite`` (and ``--backend redis``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import BENCH
from bench.scaleout import forget
from tests.conftest import REDIS_URL, SERVICES, Server, wait_until

ENDPOINT = f"counts={SERVICES / 'counts.py'}:Counts"
WORKERS, CONCURRENCY = 2, 2
#: Short leases so that requests of a killed tree come back quickly; enough attempts that
#: bad luck with kills never fails a request (this run counts losses, not attempts).
SERVE_ARGS = (
    "--workers",
    str(WORKERS),
    "--concurrency",
    str(CONCURRENCY),
    "--lease",
    "3s",
    "--max-attempts",
    "50",
    "--retention",
    "1h",
)
ASYNC = {"X-OctoAI-Async": "1"}
IN_FLIGHT = 48


@dataclass
class Report:
    """The figures of one run; see the module docstring for what each one counts."""

    backend: str
    requests: int
    worker_kills: int = 0
    tree_kills: int = 0
    lost: int = 0
    wrong_outputs: int = 0
    duplicates: int = 0
    reruns: int = 0
    reruns_allowed: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        clean = self.lost == self.wrong_outputs == self.duplicates == 0
        return clean and self.reruns <= self.reruns_allowed


class Chaos:
    """SIGKILLs at ``kills`` random points of the run's progress (submits plus completions)."""

    def __init__(self, server: Server, rng: random.Random, kills: int, total: int, tree_share: float) -> None:
        self.server = server
        self.rng = rng
        self.tree_share = tree_share
        self.moments = sorted(rng.randrange(1, total) for _ in range(kills))
        self.progress = 0
        self.worker_kills = 0
        self.tree_kills = 0

    async def run(self) -> None:
        for moment in self.moments:
            while self.progress < moment:
                await asyncio.sleep(0.02)
            if self.rng.random() < self.tree_share:
                await asyncio.to_thread(self._kill_tree)
            else:
                await asyncio.to_thread(self._kill_worker)

    def _kill_worker(self) -> None:
        """Kill one of the live workers (waiting for one while the supervisor restarts them)."""
        while True:
            workers = wait_until(self.server.workers, 60, "a worker to kill")
            try:
                os.kill(self.rng.choice(workers), signal.SIGKILL)
            except ProcessLookupError:
                continue  # it exited between the listing and the kill
            self.worker_kills += 1
            return

    def _kill_tree(self) -> None:
        self.server.kill_tree(signal.SIGKILL)
        self.tree_kills += 1
        self.server.start()


async def _until_answered(call: Any) -> httpx.Response:
    """``call()`` again while the gateway is down, restarting or busy."""
    while True:
        try:
            answer: httpx.Response = await call()
        except httpx.TransportError:
            await asyncio.sleep(0.1)
            continue
        if answer.status_code not in (429, 502, 503):
            return answer
        await asyncio.sleep(0.1)


async def _submit(http: httpx.AsyncClient, n: int, delay_s: float, run_id: str) -> str:
    headers = {**ASYNC, "Idempotency-Key": f"{run_id}-{n}"}
    answer = await _until_answered(
        lambda: http.post("/counts/predict", json={"n": n, "delay_s": delay_s}, headers=headers)
    )
    if answer.status_code != 202:
        raise RuntimeError(f"submit {n}: {answer.status_code} {answer.text}")
    response_id: str = answer.json()["response_id"]
    return response_id


async def _outcome(http: httpx.AsyncClient, response_id: str) -> tuple[str, Any]:
    """The request's final status (or the HTTP error that answered instead) and its output."""
    path = f"/v1/requests/{response_id}"
    status = "pending"
    while status in ("pending", "running"):
        answer = await _until_answered(lambda: http.get(path, params={"wait": 20}))
        if answer.status_code != 200:
            return f"HTTP {answer.status_code}", None
        status = answer.json()["status"]
    if status != "completed":
        return status, None
    return status, (await _until_answered(lambda: http.get(f"{path}/response"))).json()


async def _drive(
    server: Server, chaos: Chaos, requests: int, rng: random.Random
) -> dict[int, tuple[str, str, Any]]:
    """Submit everything, then collect everything, while ``chaos`` kills; n → (id, status, output)."""
    run_id = secrets.token_hex(4)
    delays = [rng.choice((0.0, 0.0, 0.005, 0.02)) for _ in range(requests)]
    gate = asyncio.Semaphore(IN_FLIGHT)
    headers = {"Authorization": f"Bearer {server.token}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=40) as http:

        async def submit(n: int) -> str:
            async with gate:
                response_id = await _submit(http, n, delays[n], run_id)
                chaos.progress += 1
                return response_id

        async def collect(n: int, response_id: str) -> tuple[str, str, Any]:
            async with gate:
                status, output = await _outcome(http, response_id)
                chaos.progress += 1
                return response_id, status, output

        kills = asyncio.create_task(chaos.run())
        ids = await asyncio.gather(*(submit(n) for n in range(requests)))
        outcomes = await asyncio.gather(*(collect(n, response_id) for n, response_id in enumerate(ids)))
        await kills
    return dict(enumerate(outcomes))


def _stored_ids(server: Server) -> list[str]:
    """Every request the store holds for the token, page by page."""
    ids: list[str] = []
    with server.http() as http:
        url: str | None = "/v1/requests?limit=200"
        while url is not None:
            page = http.get(url).json()
            ids += [state["response_id"] for state in page["results"]]
            url = page["next"]
    return ids


def run(
    server: Server, runs_log: Path, requests: int, kills: int, seed: int, tree_share: float = 0.3
) -> Report:
    """Drive ``requests`` through ``server`` (started with :data:`SERVE_ARGS` on :data:`ENDPOINT`,
    its model logging to ``runs_log``) under ``kills`` SIGKILLs, and check every one."""
    rng = random.Random(seed)
    chaos = Chaos(server, rng, kills, 2 * requests, tree_share)
    started = time.monotonic()
    outcomes = asyncio.run(_drive(server, chaos, requests, rng))
    report = Report(server.backend.split(":")[0], requests, chaos.worker_kills, chaos.tree_kills)
    report.seconds = round(time.monotonic() - started, 1)
    report.lost = sum(status != "completed" for _, status, _ in outcomes.values())
    report.wrong_outputs = sum(
        status == "completed" and output != {"n": n} for n, (_, status, output) in outcomes.items()
    )
    accepted = {response_id for response_id, _, _ in outcomes.values()}
    report.duplicates = len(set(_stored_ids(server)) - accepted)
    ran = Counter(int(line) for line in runs_log.read_text().split())
    report.reruns = sum(count - 1 for count in ran.values())
    report.reruns_allowed = CONCURRENCY * (chaos.worker_kills + WORKERS * chaos.tree_kills)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--backend", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument(
        "--kills", type=int, default=None, help="SIGKILLs in the run (default: one per 200 requests)"
    )
    parser.add_argument(
        "--tree-share", type=float, default=0.3, help="Share of kills that take the whole tree"
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "chaos.json")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    kills = args.kills if args.kills is not None else max(1, args.requests // 200)
    with tempfile.TemporaryDirectory() as tmp:
        runs_log = Path(tmp) / "runs.log"
        prefix = f"chaos-{secrets.token_hex(4)}"
        backend = f"sqlite:///{tmp}/chaos.db" if args.backend == "sqlite" else f"{REDIS_URL}?prefix={prefix}"
        server = Server(
            backend,
            ["--endpoints", ENDPOINT, *SERVE_ARGS],
            Path(tmp) / "serve.log",
            env={"COUNTS_LOG": str(runs_log)},
        ).start(("counts",))
        try:
            report = run(server, runs_log, args.requests, kills, seed, args.tree_share)
        finally:
            server.stop()
            forget(backend)
    figures = {**asdict(report), "seed": seed, "ok": report.ok}
    print(json.dumps(figures, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as out:  # one line per run, so runs accumulate
        out.write(json.dumps(figures) + "\n")
    raise SystemExit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
