"""Dynamic batching: requests that arrive together run as one ``infer_batch`` call.

The shared server serves ``batches`` (tests/services/batches.py) beside echo.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Server


def run_batch(server: Server, xs: list[str]) -> list[dict[str, Any]]:
    with server.http() as http:
        futures = http.post("/batches/batch", json={"inputs": [{"x": x} for x in xs]}).json()["results"]
        states = [http.get(f["poll_url"], params={"wait": 30}).json() for f in futures]
        return [http.get(s["response_url"]).json() if s["status"] == "completed" else s for s in states]


def test_requests_that_arrive_together_run_in_one_call(echo_server: Server) -> None:
    outputs = run_batch(echo_server, [str(i) for i in range(8)])
    assert outputs == [{"x": str(i), "batch": 8} for i in range(8)]


def test_more_than_a_batch_runs_in_several_calls_of_at_most_the_batch_size(echo_server: Server) -> None:
    outputs = run_batch(echo_server, [str(i) for i in range(20)])
    assert [o["x"] for o in outputs] == [str(i) for i in range(20)]
    assert all(1 <= o["batch"] <= 8 for o in outputs)
    assert sum(1 / o["batch"] for o in outputs) <= 4  # 20 requests in a few calls, not 20


def test_a_lone_request_runs_after_the_batch_wait_and_a_sync_call_works(echo_server: Server) -> None:
    with echo_server.http() as http:
        answer = http.post("/batches/predict", json={"x": "alone"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"x": "alone", "batch": 1}


def test_one_bad_input_fails_alone_and_a_raising_batch_fails_all(echo_server: Server) -> None:
    outputs = run_batch(echo_server, ["a", "bad", "c"])
    assert outputs[0] == {"x": "a", "batch": 3} and outputs[2] == {"x": "c", "batch": 3}
    assert outputs[1]["status"] == "failed"
    assert outputs[1]["error"] == {"type": "invalid_input", "message": "x: x must not be 'bad'"}
    failed = run_batch(echo_server, ["a", "all-fail"])
    assert [s["status"] for s in failed] == ["failed", "failed"]
    assert all(s["error"]["message"] == "RuntimeError: the whole batch failed" for s in failed)
