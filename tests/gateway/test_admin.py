"""An admin token sees every tenant's requests and may cancel them, but never reads their
inputs or outputs (nor a model's error message, which may quote them); user tokens still
see only their own."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import httpx

from tests.conftest import Server, occupy, wait_until

ASYNC = {"X-OctoAI-Async": "1"}


def _tenant(admin: httpx.Client, name: str) -> str:
    return next(t["id"] for t in admin.get("/v1/tokens").json()["results"] if t["name"] == name)


def _submit(http: httpx.Client, inputs: dict[str, object]) -> str:
    answer = http.post("/echo/predict", json=inputs, headers=ASYNC)
    assert answer.status_code == 202
    return str(answer.json()["response_id"])


def _all_pages(http: httpx.Client, **params: str) -> list[dict[str, object]]:
    page = http.get("/v1/requests", params=params).json()
    results = page["results"]
    while page["next"]:
        page = http.get(page["next"]).json()
        results += page["results"]
    return results


def test_an_admin_lists_and_reads_every_tenant_s_requests_and_filters_by_tenant(
    serve: Callable[..., Server],
) -> None:
    """On a server of its own: the admin's listing holds every tenant's requests."""
    server = serve()
    with (
        server.http() as alice,
        server.http(token=server.new_token("bob")) as bob,
        server.http(token=server.new_token("ops", admin=True)) as admin,
    ):
        alice_ids = [_submit(alice, {"a": i}) for i in range(2)]
        bob_ids = [_submit(bob, {"b": i}) for i in range(2)]
        newest_first = [bob_ids[1], bob_ids[0], alice_ids[1], alice_ids[0]]
        alice_id, bob_id = _tenant(admin, "test"), _tenant(admin, "bob")
        owners = {**dict.fromkeys(alice_ids, alice_id), **dict.fromkeys(bob_ids, bob_id)}
        for rid in newest_first:  # with ?wait=, as its owner would long-poll it
            state = admin.get(f"/v1/requests/{rid}", params={"wait": 30}).json()
            assert (state["status"], state["tenant"]) == ("completed", owners[rid])
        listed = admin.get("/v1/requests").json()["results"]
        assert [(r["response_id"], r["tenant"]) for r in listed] == [(r, owners[r]) for r in newest_first]
        paged = _all_pages(admin, limit="1")  # the cursor runs across tenants
        assert [r["response_id"] for r in paged] == newest_first
        for tenant, ids in ((alice_id, alice_ids), (bob_id, bob_ids)):
            mine = _all_pages(admin, tenant=tenant, limit="1")
            assert [r["response_id"] for r in mine] == ids[::-1]
        assert admin.get("/v1/requests", params={"tenant": "tok_000000000000"}).json()["results"] == []
        completed = admin.get("/v1/requests", params={"status": "completed", "endpoint": "echo"}).json()
        assert len(completed["results"]) == 4
        empty = admin.get("/v1/requests", params={"tenant": ""})
        assert (empty.status_code, empty.json()["error"]["field"]) == (422, "tenant")
        for user, ids in ((alice, alice_ids), (bob, bob_ids)):  # users: their own, and no "tenant"
            listed = user.get("/v1/requests").json()["results"]
            assert [r["response_id"] for r in listed] == ids[::-1]
            assert all("tenant" not in r for r in listed)
            assert "tenant" not in user.get(f"/v1/requests/{ids[0]}").json()
        assert alice.get(f"/v1/requests/{bob_ids[0]}").status_code == 404


def test_an_admin_cancels_another_tenant_s_request_but_never_reads_its_inputs_or_outputs(
    echo_server: Server,
) -> None:
    marker = f"private-{secrets.token_hex(6)}"
    with (
        echo_server.http() as alice,
        echo_server.http(token=echo_server.new_token("ops", admin=True)) as admin,
    ):
        busy = occupy(alice, 2)["response_id"]
        queued = _submit(alice, {"secret": marker})
        state = admin.get(f"/v1/requests/{queued}").json()
        assert state["status"] == "pending" and marker not in str(state)
        cancelled = admin.post(f"/v1/requests/{queued}/cancel")
        assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
        assert alice.get(f"/v1/requests/{queued}").json()["status"] == "cancelled"
        assert alice.get(f"/v1/requests/{busy}", params={"wait": 30}).json()["status"] == "completed"
        done = _submit(alice, {"secret": marker})
        assert admin.get(f"/v1/requests/{done}", params={"wait": 30}).json()["status"] == "completed"
        for answer in (
            admin.get(f"/v1/requests/{done}/response"),
            admin.delete(f"/v1/requests/{done}"),
            admin.delete(f"/v1/requests/{queued}"),
        ):
            assert (answer.status_code, answer.json()["error"]["type"]) == (404, "not_found")
            assert marker not in answer.text
        assert alice.get(f"/v1/requests/{done}/response").json() == {"echo": {"secret": marker}}
        finished = admin.post(f"/v1/requests/{done}/cancel")  # ended: the owner's own 409
        assert (finished.status_code, finished.json()["error"]["status"]) == (409, "completed")
        failed = alice.post("/raises/predict", json={marker: 1}, headers=ASYNC).json()["response_id"]
        owner_sees = alice.get(f"/v1/requests/{failed}", params={"wait": 30}).json()["error"]
        assert owner_sees["type"] == "inference_failed" and marker in owner_sees["message"]
        admin_sees = [admin.get(f"/v1/requests/{failed}").json()]
        admin_sees += [r for r in admin.get("/v1/requests").json()["results"] if r["response_id"] == failed]
        for state in admin_sees:
            assert (state["status"], state["error"]) == ("failed", {"type": "inference_failed"})
            assert marker not in str(state)


def test_an_admin_is_told_when_another_tenant_s_request_expired(serve: Callable[..., Server]) -> None:
    server = serve("--retention", "1s")  # of its own: the admin's listing must end up empty
    with server.http() as alice, server.http(token=server.new_token("ops", admin=True)) as admin:
        rid = _submit(alice, {"x": 1})
        alice.get(f"/v1/requests/{rid}", params={"wait": 30})
        wait_until(lambda: admin.get(f"/v1/requests/{rid}").status_code == 404, 30, "the request to expire")
        for answer in (
            admin.get(f"/v1/requests/{rid}"),
            admin.get(f"/v1/requests/{rid}", params={"wait": 5}),
            admin.post(f"/v1/requests/{rid}/cancel"),
        ):
            assert (answer.status_code, answer.json()["error"]["type"]) == (404, "expired")
        tampered = rid[:20] + ("a" if rid[20] != "a" else "b") + rid[21:]
        unknown = admin.get(f"/v1/requests/{tampered}")
        assert (unknown.status_code, unknown.json()["error"]["type"]) == (404, "not_found")
        assert admin.get("/v1/requests").json()["results"] == []
