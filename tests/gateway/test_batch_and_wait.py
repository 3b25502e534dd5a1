"""Many futures at once: ``POST /{endpoint}/batch`` and ``POST /v1/requests/wait``."""

from __future__ import annotations

from typing import Any

import httpx
from httpx_sse import connect_sse

from tests.conftest import Server


def ends(
    http: httpx.Client, ids: list[str], timeout: float = 30, **options: Any
) -> list[tuple[str, dict[str, Any]]]:
    body = {"response_ids": ids, "timeout": timeout, **options}
    with connect_sse(http, "POST", "/v1/requests/wait", json=body) as source:
        assert source.response.status_code == 200, source.response.read()
        return [(sse.event, sse.json()) for sse in source.iter_sse() if sse.event != "message"]


def test_a_batch_queues_every_input_in_order_and_the_wait_streams_their_ends(echo_server: Server) -> None:
    with echo_server.http() as http:
        answer = http.post("/echo/batch", json={"inputs": [{"i": i} for i in range(50)]})
        assert answer.status_code == 202, answer.text
        futures = answer.json()["results"]
        events = ends(http, [f["response_id"] for f in futures])
        outputs = [http.get(f"{f['poll_url']}/response").json() for f in futures]
    assert [f["status"] for f in futures] == ["pending"] * 50
    assert outputs == [{"echo": {"i": i}} for i in range(50)]
    done = [state for kind, state in events if kind == "done"]
    assert sorted(s["response_id"] for s in done) == sorted(f["response_id"] for f in futures)
    assert all(s["status"] == "completed" and s["response_url"] and "output" not in s for s in done)
    assert events[-1] == ("end", {"pending": []})


def test_the_wait_carries_outputs_when_asked(echo_server: Server) -> None:
    with echo_server.http() as http:
        futures = http.post("/echo/batch", json={"inputs": [{"i": i} for i in range(5)]}).json()["results"]
        events = ends(http, [f["response_id"] for f in futures], include_output=True)
        bad = http.post("/v1/requests/wait", json={"response_ids": ["a"], "include_output": "yes"})
    outputs = {s["response_id"]: s["output"] for kind, s in events if kind == "done"}
    assert outputs == {f["response_id"]: {"echo": {"i": i}} for i, f in enumerate(futures)}
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "include_output")


def test_the_wait_reports_ends_as_they_happen_and_what_is_still_going(echo_server: Server) -> None:
    with echo_server.http() as http:
        quick = http.post("/echo/predict", json={"x": 1}, headers={"Prefer": "respond-async"}).json()
        http.get(quick["poll_url"], params={"wait": 30})
        slow = http.post("/echo/predict", json={"delay_s": 3}, headers={"Prefer": "respond-async"}).json()
        events = ends(http, [slow["response_id"], quick["response_id"]], timeout=0.5)
        later = ends(http, [slow["response_id"]], timeout=30)
    assert [kind for kind, _ in events] == ["done", "end"]
    assert events[0][1]["response_id"] == quick["response_id"]
    assert events[1][1] == {"pending": [slow["response_id"]]}
    assert [kind for kind, _ in later] == ["done", "end"] and later[0][1]["status"] == "completed"


def test_unknown_and_other_tenants_ids_are_missing(echo_server: Server) -> None:
    other = echo_server.new_token("other")
    with echo_server.http() as http, echo_server.http(token=other) as stranger:
        mine = http.post("/echo/predict", json={"x": 1}, headers={"Prefer": "respond-async"}).json()
        events = ends(stranger, [mine["response_id"], "nope"])
    missing = {state["response_id"]: state["error"]["type"] for kind, state in events if kind == "missing"}
    assert missing == {mine["response_id"]: "not_found", "nope": "not_found"}
    assert events[-1] == ("end", {"pending": []})


def test_a_bad_item_queues_nothing_and_is_named_by_its_index(echo_server: Server) -> None:
    with echo_server.http() as http:
        bad = http.post("/echo/batch", json={"inputs": [{"x": 1}, {"delay_s": -1}]})
        not_object = http.post("/echo/batch", json={"inputs": [{"x": 1}, 7]})
        empty = http.post("/echo/batch", json={"inputs": []})
        stray = http.post("/echo/batch", json={"inputs": [{}], "webhook": "x"})
        too_many = http.post("/echo/batch", json={"inputs": [{}] * 1001})
        unknown = http.post("/nope/batch", json={"inputs": [{}]})
        listed = http.get("/v1/requests").json()["results"]
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "inputs[1].delay_s")
    assert (not_object.status_code, not_object.json()["error"]["field"]) == (422, "inputs[1]")
    assert (empty.status_code, empty.json()["error"]["field"]) == (422, "inputs")
    assert (stray.status_code, stray.json()["error"]["field"]) == (422, "webhook")
    assert (too_many.status_code, too_many.json()["error"]["field"]) == (422, "inputs")
    assert unknown.status_code == 404
    assert listed == []


def test_bad_waits_are_422_naming_the_field(echo_server: Server) -> None:
    with echo_server.http() as http:
        answers = {
            "response_ids": http.post("/v1/requests/wait", json={"response_ids": []}),
            "timeout": http.post("/v1/requests/wait", json={"response_ids": ["a"], "timeout": 9999}),
            "extra": http.post("/v1/requests/wait", json={"response_ids": ["a"], "extra": 1}),
        }
    assert {field: (a.status_code, a.json()["error"]["field"]) for field, a in answers.items()} == {
        "response_ids": (422, "response_ids"),
        "timeout": (422, "timeout"),
        "extra": (422, "extra"),
    }


def test_a_batch_retried_with_its_key_queues_nothing_twice(echo_server: Server) -> None:
    body = {"inputs": [{"i": 1}, {"i": 2}]}
    with echo_server.http() as http:
        first = http.post("/echo/batch", json=body, headers={"Idempotency-Key": "k1"}).json()["results"]
        again = http.post("/echo/batch", json=body, headers={"Idempotency-Key": "k1"}).json()["results"]
        listed = http.get("/v1/requests").json()["results"]
    assert [f["response_id"] for f in again] == [f["response_id"] for f in first]
    assert len(listed) == 2


def test_a_batch_is_held_to_the_queue_limit_as_a_whole(serve: Any) -> None:
    server = serve("--max-queue", "3", "--no-workers", wait_for=())
    with server.http() as http:
        refused = http.post("/echo/batch", json={"inputs": [{}] * 4})
        accepted = http.post("/echo/batch", json={"inputs": [{}] * 3})
    assert refused.status_code == 429
    assert "4 more would pass its limit of 3" in refused.json()["error"]["message"]
    assert accepted.status_code == 202
