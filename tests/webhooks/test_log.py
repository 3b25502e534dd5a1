"""The delivery log and redelivery, per tenant, and deleted with its request."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from tests.conftest import Server, occupy, wait_until
from tests.shared_servers import FAST_RETRIES, LOOPBACK
from tests.store import stored_bytes
from tests.webhooks.conftest import ASYNC, deliveries, secret, settled, submit
from tests.webhooks.receiver import Receiver


def test_redeliver_sends_the_latest_event_again_with_a_new_id(
    hook_server: Server, receiver: Receiver
) -> None:
    with hook_server.http() as http:
        key = secret(http)
        accepted = submit(http, receiver.url, webhook_events_filter="start,completed")
        [first] = [d for d in settled(http, accepted["response_id"], 2) if d["event"] == "completed"]
        redelivery = http.post(f"/v1/requests/{accepted['response_id']}/webhooks/redeliver")
        posts = receiver.wait_for(3)
        log = settled(http, accepted["response_id"], 3)
    assert redelivery.status_code == 202
    fresh = redelivery.json()
    assert (fresh["event"], fresh["url"]) == ("completed", receiver.url)
    assert fresh["webhook_id"] != first["webhook_id"]
    resent = next(post for post in posts if post.headers["webhook-id"] == fresh["webhook_id"])
    assert resent.verified(key)["type"] == "request.completed"
    assert [d["webhook_id"] for d in log][-1] == fresh["webhook_id"]
    assert log[-1]["state"] == "delivered"


def test_redeliver_without_a_webhook_or_an_event_is_409(hook_server: Server, receiver: Receiver) -> None:
    with hook_server.http() as http:
        plain = http.post("/echo/predict", json={"x": 1}, headers=ASYNC).json()
        http.get(plain["poll_url"], params={"wait": 30})
        no_webhook = http.post(f"/v1/requests/{plain['response_id']}/webhooks/redeliver")
        occupy(http, 2)  # keeps the only worker busy
        waiting = submit(http, receiver.url)
        no_event = http.post(f"/v1/requests/{waiting['response_id']}/webhooks/redeliver")
        empty_log = deliveries(http, waiting["response_id"])
        settled(http, waiting["response_id"])  # delivered while its receiver still listens
    assert no_webhook.status_code == 409
    assert "without a webhook" in no_webhook.json()["error"]["message"]
    assert no_event.status_code == 409
    assert "no webhook event yet" in no_event.json()["error"]["message"]
    assert empty_log == []


def test_another_tenant_sees_no_log_and_cannot_redeliver(hook_server: Server, receiver: Receiver) -> None:
    other = hook_server.new_token("other")
    with hook_server.http() as http, hook_server.http(token=other) as intruder:
        accepted = submit(http, receiver.url)
        settled(http, accepted["response_id"])
        log = intruder.get(f"/v1/requests/{accepted['response_id']}/webhooks")
        redeliver = intruder.post(f"/v1/requests/{accepted['response_id']}/webhooks/redeliver")
        keys = (secret(http), secret(intruder), secret(http))
    assert (log.status_code, log.json()["error"]["type"]) == (404, "not_found")
    assert (redeliver.status_code, redeliver.json()["error"]["type"]) == (404, "not_found")
    assert len(receiver.posts) == 1
    assert keys[0] == keys[2] != keys[1]
    assert all(key.startswith("whsec_") for key in keys)


def test_a_loopback_webhook_is_refused_without_the_allow_list(
    serve: Callable[..., Server], receiver: Receiver
) -> None:
    server = serve(*FAST_RETRIES)
    with server.http() as http:
        accepted = submit(http, receiver.url)
        [entry] = settled(http, accepted["response_id"])
    assert entry["state"] == "failed"
    [attempt] = entry["attempts"]
    assert attempt["status_code"] is None
    assert "127.0.0.1 is a loopback address" in attempt["error"]
    assert "--webhook-allow" in attempt["error"]
    assert receiver.posts == []


def test_deleting_a_request_deletes_its_deliveries(hook_server: Server, receiver: Receiver) -> None:
    marker = f"hook-{secrets.token_hex(8)}"
    with hook_server.http() as http:
        accepted = submit(http, f"{receiver.url}/{marker}", webhook_events_filter="start,completed")
        log = settled(http, accepted["response_id"], 2)
        assert marker.encode() in stored_bytes(hook_server.backend)
        deleted = http.delete(accepted["poll_url"])
        gone = http.get(f"/v1/requests/{accepted['response_id']}/webhooks")
    assert deleted.status_code == 200
    assert (gone.status_code, gone.json()["error"]["type"]) == (404, "expired")
    _wait_forgotten(hook_server, [marker, *(d["webhook_id"] for d in log)])


def test_retention_deletes_the_deliveries_with_the_request(
    serve: Callable[..., Server], receiver: Receiver
) -> None:
    server = serve(*LOOPBACK, *FAST_RETRIES, "--retention", "2s")
    marker = f"hook-{secrets.token_hex(8)}"
    with server.http() as http:
        accepted = submit(http, f"{receiver.url}/{marker}")
        [entry] = settled(http, accepted["response_id"])
        wait_until(
            lambda: http.get(accepted["poll_url"]).status_code == 404, 30, "retention to delete the request"
        )
        gone = http.get(f"/v1/requests/{accepted['response_id']}/webhooks")
    assert (gone.status_code, gone.json()["error"]["type"]) == (404, "expired")
    _wait_forgotten(server, [marker, entry["webhook_id"]])


def _wait_forgotten(server: Server, markers: list[str]) -> None:
    """No file or key of the store holds any of ``markers`` (SQLite zeroes and checkpoints
    what it deletes, Redis deletes the keys)."""

    def forgotten() -> bool:
        held = stored_bytes(server.backend)
        return not any(marker.encode() in held for marker in markers)

    wait_until(forgotten, 10, "the store to forget the request's deliveries")
