"""Fair queuing across tokens: one token's burst does not starve another token's request."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import Server, occupy

ASYNC = {"Prefer": "respond-async"}


def test_a_single_request_runs_next_after_another_tokens_burst(echo_server: Server) -> None:
    with echo_server.http() as burst, echo_server.http(token=echo_server.new_token("other")) as single:
        occupy(burst, 0.5)  # holds the one worker
        queued = burst.post("/echo/batch", json={"inputs": [{"i": i, "delay_s": 0.05} for i in range(200)]})
        mine = single.post("/echo/predict", json={"me": 1}, headers=ASYNC).json()
        position = single.get(mine["poll_url"]).json()["queue_position"]
        done = single.get(mine["poll_url"], params={"wait": 60}).json()
        burst_ids = [f["response_id"] for f in queued.json()["results"]]
        burst_states = [burst.get(f"/v1/requests/{i}").json() for i in burst_ids[:3]]
    assert position == 0  # next: its token's turn comes before the burst's token, served just now
    assert done["status"] == "completed"
    assert [s for s in burst_states if s["started_at"] and s["started_at"] < done["started_at"]] == []


def test_tokens_take_turns_and_each_keeps_its_own_order(shared: Callable[..., Server]) -> None:
    server = shared("--no-workers")  # nothing runs, so the order stays to be read
    with server.http() as a, server.http(token=server.new_token("other")) as b:
        a_ids = [
            f["response_id"]
            for f in a.post("/echo/batch", json={"inputs": [{"a": i} for i in range(4)]}).json()["results"]
        ]
        b_ids = [
            f["response_id"]
            for f in b.post("/echo/batch", json={"inputs": [{"b": i} for i in range(2)]}).json()["results"]
        ]
        a_positions = [a.get(f"/v1/requests/{i}").json()["queue_position"] for i in a_ids]
        b_positions = [b.get(f"/v1/requests/{i}").json()["queue_position"] for i in b_ids]
    # round robin, a first (it queued first): a0 b0 a1 b1 a2 a3
    assert a_positions == [0, 2, 4, 5]
    assert b_positions == [1, 3]
