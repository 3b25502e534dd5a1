"""``/{endpoint}/predict``: synchronous and asynchronous, through HTTP against a real server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SERVICES, Server, occupy

ASYNC = {"X-OctoAI-Async": "1"}


def test_sync_predict_returns_the_outputs(echo_server: Server) -> None:
    with echo_server.http() as http:
        answer = http.post("/echo/predict", json={"text": "hello", "n": [1, 2]})
    assert answer.status_code == 200
    assert answer.json() == {"echo": {"text": "hello", "n": [1, 2]}}


@pytest.mark.parametrize("headers", [ASYNC, {"Prefer": "respond-async"}], ids=["x-octoai-async", "prefer"])
def test_async_predict_answers_202_with_an_absolute_poll_url(
    echo_server: Server, headers: dict[str, str]
) -> None:
    with echo_server.http() as http:
        accepted = http.post("/echo/infer", json={"a": 1}, headers=headers)
        assert accepted.status_code == 202
        body = accepted.json()
        assert body["status"] == "pending"
        assert body["poll_url"] == f"{echo_server.url}/v1/requests/{body['response_id']}"
        assert {"created_at", "expires_at"} <= body.keys()
        state = http.get(body["poll_url"], params={"wait": 30}).json()
        assert state["status"] == "completed"
        assert http.get(state["response_url"]).json() == {"echo": {"a": 1}}


def test_the_response_is_byte_for_byte_the_synchronous_answer(echo_server: Server) -> None:
    inputs = {"x": "é ☃", "f": 1.5, "nested": {"k": [None, True]}}
    with echo_server.http() as http:
        sync = http.post("/echo/predict", json=inputs).content
        future = http.post("/echo/predict", json=inputs, headers=ASYNC).json()
        state = http.get(future["poll_url"], params={"wait": 30}).json()
        assert http.get(state["response_url"]).content == sync


def test_long_poll_wakes_when_the_request_ends(echo_server: Server) -> None:
    with echo_server.http() as http:
        future = http.post("/echo/predict", json={"delay_s": 0.5}, headers=ASYNC).json()
        answer = http.get(future["poll_url"], params={"wait": 60})
    assert answer.json()["status"] == "completed"
    # Woken by the completion, not by the 60 s deadline (a 60x margin, not a benchmark).
    assert answer.elapsed.total_seconds() < 30


def test_long_poll_returns_the_current_state_when_the_wait_runs_out(echo_server: Server) -> None:
    with echo_server.http() as http:
        future = http.post("/echo/predict", json={"delay_s": 3}, headers=ASYNC).json()
        state = http.get(future["poll_url"], params={"wait": 0.2}).json()
    assert state["status"] in ("pending", "running")
    assert state["completed_at"] is None


def test_a_pending_request_shows_its_queue_position(echo_server: Server) -> None:
    with echo_server.http() as http:
        occupy(http, 2)
        second = http.post("/echo/predict", json={"delay_s": 0}, headers=ASYNC).json()
        third = http.post("/echo/predict", json={"delay_s": 0}, headers=ASYNC).json()
        positions = [http.get(f["poll_url"]).json().get("queue_position") for f in (second, third)]
    assert positions[1] == positions[0] + 1


def test_a_model_that_raises_fails_that_request_with_its_message(echo_server: Server) -> None:
    with echo_server.http() as http:
        sync = http.post("/raises/predict", json={"a": 1})
        assert sync.status_code == 502
        assert sync.json()["error"]["type"] == "inference_failed"
        assert "model exploded on ['a']" in sync.json()["error"]["message"]
        future = http.post("/raises/predict", json={"b": 2}, headers=ASYNC).json()
        state = http.get(future["poll_url"], params={"wait": 30}).json()
        assert state["status"] == "failed"
        assert "model exploded on ['b']" in state["error"]["message"]
        assert http.get(f"{future['poll_url']}/response").status_code == 502
        # The worker goes on serving.
        assert http.post("/raises/predict", json={"c": 3}).status_code == 502
        assert http.post("/echo/predict", json={"ok": 1}).json() == {"echo": {"ok": 1}}


def test_a_synchronous_call_that_outlives_its_wait_answers_504_and_goes_on(
    shared: Callable[..., Server],
) -> None:
    server = shared("--sync-timeout", "0.5s")
    with server.http() as http:
        answer = http.post("/echo/predict", json={"delay_s": 2})
        assert answer.status_code == 504
        error = answer.json()["error"]
        state = http.get(error["poll_url"], params={"wait": 30}).json()
    assert state["status"] == "completed"


def test_healthcheck_is_503_until_a_worker_has_loaded_its_model(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    server = serve(
        endpoints=f"slow={SERVICES / 'slow_setup.py'}:SlowSetup", wait_for=(), env={"SETUP_GATE": str(gate)}
    )
    with server.http() as http:
        loading = http.get("/slow/healthcheck")
        assert loading.status_code == 503
        assert loading.headers["Retry-After"] == "1"
        assert loading.json()["error"]["type"] == "unavailable"
        gate.touch()
        server.wait_ready("slow")
        assert http.get("/slow/healthcheck").json()["status"] == "ready"
        assert http.get("/nope/healthcheck").status_code == 404


def test_idempotency_key_returns_the_same_future(echo_server: Server) -> None:
    with echo_server.http() as http:
        key = {"Idempotency-Key": "order-42", **ASYNC}
        first = http.post("/echo/predict", json={"a": 1}, headers=key).json()
        again = http.post("/echo/predict", json={"a": 1}, headers=key).json()
        other = http.post("/echo/predict", json={"a": 2}, headers=key)
        listed = http.get("/v1/requests").json()["results"]
    assert again["response_id"] == first["response_id"]
    assert other.status_code == 409
    assert other.json()["error"]["response_id"] == first["response_id"]
    assert len(listed) == 1


def test_openapi_publishes_each_endpoint_s_inputs(echo_server: Server) -> None:
    with echo_server.http() as http:
        document = http.get("/openapi.json").json()
        page = http.get("/docs")
    body = document["paths"]["/echo/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["delay_s"] == {
        "default": 0,
        "maximum": 60,
        "minimum": 0,
        "title": "Delay S",
        "type": "number",
    }
    assert "/v1/requests/{response_id}" in document["paths"]
    assert page.status_code == 200 and "delay_s" in page.text
    example = document["paths"]["/echo/predict"]["post"]["responses"]["200"]["content"]["application/json"]
    assert example["example"] == {"echo": {"hello": "world"}}
    assert "Example outputs" in page.text and "&quot;echo&quot;" in page.text
