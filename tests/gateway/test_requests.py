"""``/v1/requests``: state, response, cancel and list."""

from __future__ import annotations

from tests.conftest import Server, occupy

ASYNC = {"X-OctoAI-Async": "1"}


def test_response_is_409_until_the_request_is_done(echo_server: Server) -> None:
    with echo_server.http() as http:
        future = http.post("/echo/predict", json={"delay_s": 2}, headers=ASYNC).json()
        early = http.get(f"{future['poll_url']}/response")
    assert early.status_code == 409
    assert early.json()["error"]["type"] == "conflict"


def test_cancel_a_pending_request(echo_server: Server) -> None:
    with echo_server.http() as http:
        occupy(http, 2)
        queued = http.post("/echo/predict", json={"x": 1}, headers=ASYNC).json()
        cancelled = http.post(f"{queued['poll_url']}/cancel")
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
        assert http.get(queued["poll_url"], params={"wait": 5}).json()["status"] == "cancelled"
        again = http.post(f"{queued['poll_url']}/cancel")  # idempotent, so it can be retried
        assert (again.status_code, again.json()["status"]) == (200, "cancelled")
        assert http.get(f"{queued['poll_url']}/response").status_code == 409


def test_cancel_a_finished_request_is_409(echo_server: Server) -> None:
    with echo_server.http() as http:
        done = http.post("/echo/predict", json={"x": 1}, headers=ASYNC).json()
        http.get(done["poll_url"], params={"wait": 30})
        refused = http.post(f"{done['poll_url']}/cancel")
    assert refused.status_code == 409
    assert refused.json()["error"]["status"] == "completed"


def test_list_is_newest_first_paginated_and_filtered(echo_server: Server) -> None:
    with echo_server.http() as http:
        ids = [
            http.post("/echo/predict", json={"i": i}, headers=ASYNC).json()["response_id"] for i in range(5)
        ]
        for response_id in ids:
            http.get(f"/v1/requests/{response_id}", params={"wait": 30})
        first = http.get("/v1/requests", params={"limit": 3}).json()
        second = http.get(first["next"]).json()
        completed = http.get("/v1/requests", params={"status": "completed", "endpoint": "echo"}).json()
        pending = http.get("/v1/requests", params={"status": "pending"}).json()
        bad = http.get("/v1/requests", params={"status": "nope"})
    assert [r["response_id"] for r in first["results"] + second["results"]] == ids[::-1]
    assert second["next"] is None
    assert len(completed["results"]) == 5
    assert pending["results"] == []
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "status"


def test_unknown_request_is_404(echo_server: Server) -> None:
    with echo_server.http() as http:
        for path in ("/v1/requests/abc", "/v1/requests/abc/response"):
            answer = http.get(path)
            assert answer.status_code == 404
            assert answer.json()["error"]["type"] == "not_found"
        assert http.post("/v1/requests/abc/cancel").status_code == 404
