"""A model that hangs: the request fails with the timeout, the worker is replaced, service goes on."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import SERVICES, Server

ASYNC = {"X-OctoAI-Async": "1"}


def test_a_hang_fails_with_the_timeout_and_the_worker_is_replaced(serve: Callable[..., Server]) -> None:
    server = serve(endpoints=f"hangs={SERVICES / 'hangs.py'}:Hangs")
    (first_worker,) = server.workers()
    with server.http() as http:
        stuck = http.post("/hangs/predict", json={"hang": True}, headers=ASYNC).json()
        after = http.post("/hangs/predict", json={}, headers=ASYNC).json()
        state = http.get(stuck["poll_url"], params={"wait": 30}).json()
        assert state["status"] == "failed"
        assert state["error"]["message"] == "timed out after 1 s"
        assert [run["outcome"] for run in state["attempt_history"]] == ["timed_out"]
        assert http.get(after["poll_url"], params={"wait": 30}).json()["status"] == "completed"
    assert server.workers() != [first_worker]
