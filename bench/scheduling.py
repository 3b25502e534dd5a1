"""Scheduling by cost: short work behind long work, across tokens and within one, and deadlines.

One server per backend and run, each endpoint served by ONE worker; the models declare
their work (:class:`bench.services.AudioSeconds`: a request's ``seconds`` of audio is its
cost, and its run takes 1.2 s per declared hour; :class:`bench.services.WorkSeconds`: 10 ms
per declared second).

- **Mixed load** (``audio``): token A submits ``FILES`` one-hour files, then token B
  ``CLIPS`` 3 s clips, all asynchronous. Figures: B's clips' median wait (``completed_at``
  minus ``created_at``) and B's last clip's finish (from B's first submit).
- **One token** (``work``): ``LONGS`` requests of a declared minute, then ``SHORTS`` of a
  second: the short ones' median wait.
- **Deadlines** (``deadlines``): after ``WARM_UP`` requests that let the endpoint measure its
  run time, ``--deadline-requests`` requests with ``Cancel-After`` deadlines spread so that
  the worker could finish about half in time were they all submitted at once, submitted in
  shuffled order. Counted: refused at
  submit (429 ``deadline_unmeetable``), accepted then expired in the queue (cancelled with
  ``deadline_exceeded``, never started: the target is none), accepted and started but missed
  (cancelled while running, or completed late), completed in time.

The references are simulated, not run: the previous scheduler is gone, and a simulation on
the same run's measurements leaves the machine's noise out of the comparison. One worker
serves without preemption; each request costs it what it was measured to take in this run
(``completed_at`` minus ``started_at``) plus the gap the server left between the end of one
run and the start of the next while requests waited (the median of those gaps), and no
request starts before its measured ``created_at``. The orders simulated: first in first out
(``fifo``); the count-fair round robin the queue had before costs (``count_fair``: the
token whose request last started earliest goes next, a newcomer at once, each token's own
requests oldest first); and ``alone``, the clips (or short requests) with the endpoint to
themselves, first in first out. The issue's target is a ratio to ``alone`` of at most 2. With
one worker and no preemption a clip can always wait for the file already running, so the
figures are also given as a ratio to ``alone + 1 file`` (``alone`` plus one file's service
time). The deadlines' reference is the same queue first in first out, cancelling at the
deadline but refusing nothing, every request taking the warm-up's median service time.

A run takes about a minute (the twenty files alone keep the worker 24 s).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import store_url, summarize
from bench.scaleout import forget
from tests.conftest import Server

SERVICES = Path(__file__).parent / "services.py"
AUDIO, WORK, DEADLINES = "audio", "work", "deadlines"
ENDPOINTS = (
    f"{AUDIO}={SERVICES}:AudioSeconds,{WORK}={SERVICES}:WorkSeconds,{DEADLINES}={SERVICES}:WorkSeconds"
)
FILES, FILE_SECONDS = 20, 3600
CLIPS, CLIP_SECONDS = 100, 3
LONGS, LONG_SECONDS = 5, 60
SHORTS, SHORT_SECONDS = 200, 1
#: Requests run before the deadlines' load, so that the endpoint has a measured run time.
WARM_UP = 20
#: The declared work of each request of the deadlines' load (20 ms of run).
DEADLINE_SECONDS = 2
#: Requests in flight at once from the benchmark's client: submits, and long polls.
SUBMITS, POLLS = 32, 64
ASYNC = {"Prefer": "respond-async"}
ENDED = ("completed", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class Job:
    """A request as the simulated worker sees it: whose (its token; in one token's load, the
    kind of request, as the figures are per kind), when submitted, how long it keeps the
    worker, and when its deadline cancels it."""

    token: str
    created: float
    service: float
    deadline: float = math.inf


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a simulated request ended: ``completed`` in time, ``missed`` (its deadline came while
    it ran) or ``expired`` (it came while it waited; it never started)."""

    status: str
    finished: float


#: Which of the waiting requests (indices into the jobs) the worker takes at a moment.
Chooser = Callable[[list[int], float], int]


def simulate(jobs: Sequence[Job], choose: Chooser) -> list[Outcome]:
    """One worker serving ``jobs`` without preemption in the order ``choose`` picks."""
    arrivals = sorted(range(len(jobs)), key=lambda i: (jobs[i].created, i))
    outcomes: list[Outcome | None] = [None] * len(jobs)
    waiting: list[int] = []
    now, arrived = -math.inf, 0
    while arrived < len(jobs) or waiting:
        if not waiting:
            now = max(now, jobs[arrivals[arrived]].created)
        while arrived < len(jobs) and jobs[arrivals[arrived]].created <= now:
            waiting.append(arrivals[arrived])
            arrived += 1
        taken = choose(waiting, now)
        waiting.remove(taken)
        job = jobs[taken]
        if now >= job.deadline:
            outcomes[taken] = Outcome("expired", job.deadline)
        elif now + job.service > job.deadline:
            now = job.deadline
            outcomes[taken] = Outcome("missed", now)
        else:
            now += job.service
            outcomes[taken] = Outcome("completed", now)
    return [outcome for outcome in outcomes if outcome is not None]


def fifo(jobs: Sequence[Job]) -> Chooser:
    return lambda waiting, now: min(waiting, key=lambda i: (jobs[i].created, i))


def count_fair(jobs: Sequence[Job]) -> Chooser:
    """The round robin by count the queue had before costs: per token a turn key, when one of
    its requests last started (never, until one has), then when it first submitted; the least goes
    next, with its oldest request."""
    joined: dict[str, float] = {}
    for job in jobs:
        joined[job.token] = min(joined.get(job.token, math.inf), job.created)
    served = dict.fromkeys(joined, -math.inf)

    def choose(waiting: list[int], now: float) -> int:
        token = min({jobs[i].token for i in waiting}, key=lambda t: (served[t], joined[t]))
        served[token] = now
        return min((i for i in waiting if jobs[i].token == token), key=lambda i: (jobs[i].created, i))

    return choose


def at(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def run_gap(docs: Sequence[dict[str, Any]]) -> float:
    """The median time the worker took from one run's end to the next run's start, over the
    runs whose request was already waiting: the server's own overhead per request."""
    runs = sorted((d for d in docs if d["started_at"]), key=lambda d: at(d["started_at"]))
    gaps = [
        at(nxt["started_at"]) - at(prev["completed_at"])
        for prev, nxt in itertools.pairwise(runs)
        if at(nxt["created_at"]) <= at(prev["completed_at"])
    ]
    return max(0.0, statistics.median(gaps)) if gaps else 0.0


def jobs_of(docs: Sequence[dict[str, Any]], labels: Sequence[str], gap: float) -> list[Job]:
    """Each completed request as it was measured, under its label: its submit, its run plus
    ``gap``."""
    return [
        Job(label, at(d["created_at"]), at(d["completed_at"]) - at(d["started_at"]) + gap)
        for d, label in zip(docs, labels, strict=True)
    ]


def sojourns(jobs: Sequence[Job], outcomes: Sequence[Outcome], label: str) -> dict[str, float]:
    """``label``'s median wait (submit to end) and its last end after its first submit."""
    mine = [(job, out) for job, out in zip(jobs, outcomes, strict=True) if job.token == label]
    return {
        "median_wait_s": statistics.median(out.finished - job.created for job, out in mine),
        "last_finish_s": max(out.finished for _, out in mine) - min(job.created for job, _ in mine),
    }


def against_references(
    docs: Sequence[dict[str, Any]], labels: Sequence[str], label: str, tokens: int
) -> dict[str, float]:
    """``label``'s figures as measured, and under each simulated order (``count_fair`` only
    when the requests came from more than one token: with one, it is first in first out)."""
    jobs = jobs_of(docs, labels, run_gap(docs))
    alone = [job for job in jobs if job.token == label]
    orders = {
        "measured": (jobs, [Outcome("completed", at(d["completed_at"])) for d in docs]),
        "fifo": (jobs, simulate(jobs, fifo(jobs))),
        "alone": (alone, simulate(alone, fifo(alone))),
    }
    if tokens > 1:
        orders["count_fair"] = (jobs, simulate(jobs, count_fair(jobs)))
    figures = {
        f"{order}.{name}": value
        for order, (served, outcomes) in orders.items()
        for name, value in sojourns(served, outcomes, label).items()
    }
    for each in dict.fromkeys(labels):
        figures[f"{each}_service_s"] = statistics.median(job.service for job in jobs if job.token == each)
    return figures


class Caller:
    """The benchmark's one keep-alive client, calling as any of its tokens."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self._submits, self._polls = asyncio.Semaphore(SUBMITS), asyncio.Semaphore(POLLS)

    async def submit(
        self, token: str, endpoint: str, seconds: float, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        async with self._submits:
            return await self.http.post(
                f"/{endpoint}/predict",
                json={"seconds": seconds},
                headers={"Authorization": f"Bearer {token}", **ASYNC, **(headers or {})},
            )

    async def submit_all(self, token: str, endpoint: str, seconds: Sequence[float]) -> list[str]:
        """Poll URLs of ``seconds`` submitted at once, each accepted."""
        answers = await asyncio.gather(*(self.submit(token, endpoint, s) for s in seconds))
        for answer in answers:
            assert answer.status_code == 202, answer.text
        return [str(answer.json()["poll_url"]) for answer in answers]

    async def settle(self, token: str, poll_urls: Sequence[str]) -> list[dict[str, Any]]:
        """The final status document of each request."""

        async def ended(url: str) -> dict[str, Any]:
            async with self._polls:
                while True:
                    answer = await self.http.get(
                        url, params={"wait": 30}, headers={"Authorization": f"Bearer {token}"}
                    )
                    state: dict[str, Any] = answer.raise_for_status().json()
                    if state["status"] in ENDED:
                        return state

        return list(await asyncio.gather(*(ended(url) for url in poll_urls)))


def completed(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for doc in docs:
        assert doc["status"] == "completed", doc
    return docs


async def mixed_load(caller: Caller, a: str, b: str) -> dict[str, float]:
    files = await caller.submit_all(a, AUDIO, [FILE_SECONDS] * FILES)
    clips = await caller.submit_all(b, AUDIO, [CLIP_SECONDS] * CLIPS)
    docs = completed(await caller.settle(a, files) + await caller.settle(b, clips))
    return against_references(docs, ["file"] * FILES + ["clip"] * CLIPS, "clip", tokens=2)


async def one_token(caller: Caller, token: str) -> dict[str, float]:
    longs = await caller.submit_all(token, WORK, [LONG_SECONDS] * LONGS)
    shorts = await caller.submit_all(token, WORK, [SHORT_SECONDS] * SHORTS)
    docs = completed(await caller.settle(token, longs + shorts))
    return against_references(docs, ["long"] * LONGS + ["short"] * SHORTS, "short", tokens=1)


async def deadlines(caller: Caller, token: str, requests: int) -> dict[str, float]:
    """``requests`` with deadlines spread evenly over the last nine tenths of half the time the
    worker needs for all of them (as the warm-up measured it), submitted in shuffled order:
    were they submitted at once, it could finish about half in time (more, as submitting
    them takes a while and each deadline counts from its own submit)."""
    warm_up = completed(
        await caller.settle(token, await caller.submit_all(token, DEADLINES, [DEADLINE_SECONDS] * WARM_UP))
    )
    service = statistics.median(at(d["completed_at"]) - at(d["started_at"]) for d in warm_up)
    service += run_gap(warm_up)
    span = requests * service / 2
    afters = [span * (0.1 + 0.9 * i / max(1, requests - 1)) for i in range(requests)]
    random.Random(0).shuffle(afters)

    async def submit(after: float) -> tuple[float, httpx.Response]:
        cancel_after = {"Cancel-After": f"{round(after * 1000)}ms"}
        answer = await caller.submit(token, DEADLINES, DEADLINE_SECONDS, cancel_after)
        return time.time(), answer

    answers = await asyncio.gather(*(submit(after) for after in afters))
    accepted = [(i, a.json()["poll_url"]) for i, (_, a) in enumerate(answers) if a.status_code == 202]
    docs = dict(
        zip((i for i, _ in accepted), await caller.settle(token, [u for _, u in accepted]), strict=True)
    )
    outcomes = [
        outcome(docs[i], after) if i in docs else refusal(answer)
        for i, (after, (_, answer)) in enumerate(zip(afters, answers, strict=True))
    ]
    created = [at(docs[i]["created_at"]) if i in docs else answers[i][0] for i in range(requests)]
    jobs = [Job("", c, service, c + after) for c, after in zip(created, afters, strict=True)]
    simulated = [REFERENCE_OUTCOME[o.status] for o in simulate(jobs, fifo(jobs))]
    return {
        **{name: float(outcomes.count(name)) for name in DEADLINE_OUTCOMES},
        **{f"fifo.{name}": float(simulated.count(name)) for name in DEADLINE_OUTCOMES},
        "service_s": service,
        "span_s": span,
    }


#: How each request of the deadlines' load ended, in the order printed.
DEADLINE_OUTCOMES = ("in_time", "refused", "expired_in_queue", "started_missed", "other")
#: A simulated outcome under the name of the measured one.
REFERENCE_OUTCOME = {"completed": "in_time", "expired": "expired_in_queue", "missed": "started_missed"}


def refusal(answer: httpx.Response) -> str:
    refused = answer.status_code == 429 and answer.json()["error"]["type"] == "deadline_unmeetable"
    return "refused" if refused else "other"


def outcome(doc: dict[str, Any], after: float) -> str:
    """How an accepted request ended against its deadline (``deadline_at`` when the server
    shows it, else ``Cancel-After`` after its submit; both to the millisecond)."""
    deadline = at(doc["deadline_at"]) if doc.get("deadline_at") else at(doc["created_at"]) + after
    if doc["status"] == "completed":
        return "in_time" if at(doc["completed_at"]) <= deadline + 0.002 else "started_missed"
    if doc["status"] == "cancelled" and (doc.get("error") or {}).get("type") == "deadline_exceeded":
        return "started_missed" if doc["started_at"] else "expired_in_queue"
    return "other"


async def measure(server: Server, tokens: dict[str, str], requests: int) -> dict[str, dict[str, float]]:
    limits = httpx.Limits(max_connections=SUBMITS + POLLS, max_keepalive_connections=SUBMITS + POLLS)
    async with httpx.AsyncClient(base_url=server.url, timeout=70, limits=limits) as http:
        caller = Caller(http)
        return {
            "mixed": await mixed_load(caller, tokens["a"], tokens["b"]),
            "one_token": await one_token(caller, tokens["one"]),
            "deadlines": await deadlines(caller, tokens["deadlines"], requests),
        }


def one_run(backend: str, tmp: Path, requests: int) -> dict[str, dict[str, float]]:
    args = ["--endpoints", ENDPOINTS, "--workers", "1"]
    server = Server(backend, args, tmp / "scheduling.log").start((AUDIO, WORK, DEADLINES))
    try:
        tokens = {name: server.new_token(name) for name in ("a", "b", "one", "deadlines")}
        return asyncio.run(measure(server, tokens, requests))
    finally:
        server.stop()
        forget(backend)


def compared(
    backend: str, metric: str, series: list[dict[str, float]], name: str, allowance: str
) -> dict[str, Any]:
    """A row of measured ``name``, as a ratio to each simulated order, and to ``alone`` plus the
    service time of one of the requests called ``allowance``."""
    measured = [r[f"measured.{name}"] for r in series]
    orders = [order for order in ("fifo", "count_fair", "alone") if f"{order}.{name}" in series[0]]
    ratios = {
        order: [m / r[f"{order}.{name}"] for m, r in zip(measured, series, strict=True)] for order in orders
    }
    ratios[f"alone+1 {allowance}"] = [
        m / (r[f"alone.{name}"] + r[f"{allowance}_service_s"]) for m, r in zip(measured, series, strict=True)
    ]
    return summarize(backend, metric, measured, ratios)


def rows_of(backend: str, runs: list[dict[str, dict[str, float]]]) -> list[dict[str, Any]]:
    mixed, one, late = ([r[part] for r in runs] for part in ("mixed", "one_token", "deadlines"))
    rows = [
        compared(backend, "clips_median_wait_s", mixed, "median_wait_s", "file"),
        compared(backend, "clips_last_finish_s", mixed, "last_finish_s", "file"),
        summarize(backend, "clip_service_ms", [r["clip_service_s"] * 1000 for r in mixed]),
        summarize(backend, "file_service_ms", [r["file_service_s"] * 1000 for r in mixed]),
        compared(backend, "one_token_short_median_wait_s", one, "median_wait_s", "long"),
    ]
    for name in DEADLINE_OUTCOMES:
        reference = [r[f"fifo.{name}"] for r in late]
        ratios = {"fifo": [r[name] / r[f"fifo.{name}"] for r in late]} if all(reference) else {}
        rows.append(summarize(backend, f"deadlines_{name}", [r[name] for r in late], ratios))
        if name != "refused" and name != "other":
            rows.append(summarize(backend, f"deadlines_{name}_fifo_sim", reference))
    return rows


def run(backends: list[str], runs: int, requests: int) -> dict[str, Any]:
    results: dict[str, list[dict[str, dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            results[backend] = []
            for _ in range(runs):
                results[backend].append(one_run(store_url(backend, Path(tmp)), Path(tmp), requests))
                for part, figures in results[backend][-1].items():
                    print(backend, part, {k: round(v, 3) for k, v in figures.items()}, flush=True)
    return {"runs": results, "rows": [row for b, series in results.items() for row in rows_of(b, series)]}
