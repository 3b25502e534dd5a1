"""Crashes caused for real: the whole tree killed with requests pending, a worker killed mid-request."""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.conftest import SERVICES, Server, wait_until

ASYNC = {"X-OctoAI-Async": "1"}
COUNTS = f"counts={SERVICES / 'counts.py'}:Counts"


def test_kill_9_of_the_whole_tree_loses_nothing_and_completes_nothing_twice(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    runs = tmp_path / "runs.log"
    server = serve("--lease", "1s", endpoints=COUNTS, env={"COUNTS_LOG": str(runs)})
    with server.http() as http:
        futures = [
            http.post("/counts/predict", json={"n": n, "delay_s": 0.05}, headers=ASYNC).json()
            for n in range(60)
        ]
        wait_until(lambda: runs.exists() and len(runs.read_text().split()) >= 5, what="some requests to run")
    server.kill_tree(signal.SIGKILL)

    server.start(wait_for=("counts",))
    with server.http() as http:
        states = [http.get(f["poll_url"], params={"wait": 60}).json() for f in futures]
        outputs = [http.get(s["response_url"]).json() for s in states]
    assert [s["status"] for s in states] == ["completed"] * 60
    assert outputs == [{"n": n} for n in range(60)]
    ran = Counter(runs.read_text().split())
    assert set(ran) == {str(n) for n in range(60)}
    # A request runs again only if it was running when the tree died: one worker, so at most one.
    assert sum(count - 1 for count in ran.values()) <= 1


def test_a_worker_killed_mid_request_is_replaced_and_the_request_runs_again(
    serve: Callable[..., Server],
) -> None:
    server = serve("--lease", "1s")
    with server.http() as http:
        future = http.post("/echo/predict", json={"delay_s": 2, "tag": "x"}, headers=ASYNC).json()
        wait_until(lambda: http.get(future["poll_url"]).json()["status"] == "running", what="running")
        (worker,) = server.workers()
        os.kill(worker, signal.SIGKILL)
        state = http.get(future["poll_url"], params={"wait": 60}).json()
        assert state["status"] == "completed"
        assert state["attempts"] == 2
        lost, completed = state["attempt_history"]
        assert (lost["outcome"], completed["outcome"]) == ("worker_lost", "completed")
        assert lost["worker"] != completed["worker"] and lost["ended_at"] <= completed["started_at"]
        assert http.get(state["response_url"]).json() == {"echo": {"delay_s": 2, "tag": "x"}}
    assert server.workers() and server.workers() != [worker]


def test_a_request_that_keeps_killing_its_worker_fails_after_max_attempts(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    server = serve(
        "--lease", "1s", "--max-attempts", "2", endpoints=f"kills={SERVICES / 'kills_itself.py'}:KillsItself"
    )
    with server.http() as http:
        doomed = http.post(
            "/kills/predict", json={"marker": str(tmp_path / "m"), "always": True}, headers=ASYNC
        )
        state = http.get(doomed.json()["poll_url"], params={"wait": 60}).json()
        assert state["status"] == "failed"
        assert state["error"]["message"] == "the worker was killed by SIGKILL; giving up after 2 attempts"
        server.wait_ready("kills")
        survivor = http.post("/kills/predict", json={"marker": str(tmp_path / "s")}, headers=ASYNC).json()
        state = http.get(survivor["poll_url"], params={"wait": 60}).json()
    assert state["status"] == "completed"
    assert state["attempts"] == 2
