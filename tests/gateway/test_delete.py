"""``DELETE /v1/requests/{id}``: a finished request's data goes now, not at the end of retention."""

from __future__ import annotations

import secrets

from tests.conftest import Server, occupy, wait_until
from tests.store import stored_bytes

ASYNC = {"X-OctoAI-Async": "1"}


def test_a_finished_request_is_deleted_at_once_and_then_reads_as_gone(echo_server: Server) -> None:
    marker = f"secret-{secrets.token_hex(8)}"
    with echo_server.http() as http:
        future = http.post("/echo/predict", json={"m": marker}, headers=ASYNC).json()
        assert http.get(future["poll_url"], params={"wait": 30}).json()["status"] == "completed"
        deleted = http.delete(future["poll_url"])
        gone = http.get(future["poll_url"])
        response = http.get(f"{future['poll_url']}/response")
        again = http.delete(future["poll_url"])
    assert (deleted.status_code, deleted.json()) == (
        200,
        {"response_id": future["response_id"], "deleted": True},
    )
    assert gone.status_code == 404
    assert gone.json()["error"]["type"] == "expired"
    assert "was deleted" in gone.json()["error"]["message"]
    assert response.status_code == 404
    assert again.status_code == 404
    wait_until(
        lambda: marker.encode() not in stored_bytes(echo_server.backend), 10, "the store to forget the data"
    )


def test_a_live_request_is_409_until_cancelled(echo_server: Server) -> None:
    with echo_server.http() as http:
        running = occupy(http, 3)
        pending = http.post("/echo/predict", json={"x": 1}, headers=ASYNC).json()
        refused = http.delete(pending["poll_url"])
        http.post(f"{pending['poll_url']}/cancel")
        after_cancel = http.delete(pending["poll_url"])
        refused_running = http.delete(running["poll_url"])
    assert refused.status_code == 409
    assert refused.json()["error"]["status"] == "pending"
    assert "cancel it before deleting it" in refused.json()["error"]["message"]
    assert after_cancel.status_code == 200
    assert refused_running.status_code == 409


def test_another_tenants_request_is_404_and_stays(echo_server: Server) -> None:
    other = echo_server.new_token("other")
    with echo_server.http() as http, echo_server.http(token=other) as intruder:
        future = http.post("/echo/predict", json={"x": 1}, headers=ASYNC).json()
        http.get(future["poll_url"], params={"wait": 30})
        refused = intruder.delete(f"/v1/requests/{future['response_id']}")
        unknown = http.delete("/v1/requests/nope")
        still = http.get(future["poll_url"])
    assert (refused.status_code, refused.json()["error"]["type"]) == (404, "not_found")
    assert (unknown.status_code, unknown.json()["error"]["type"]) == (404, "not_found")
    assert still.json()["status"] == "completed"
