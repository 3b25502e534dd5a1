"""The scheduling options over HTTP, on both backends: ``Inferq-Priority``, ``Cancel-After``
and ``Inferq-Retention`` at every door, shown in the status document and honoured: the
queue's order, deadlines that stop running work or refuse what cannot start in time, and
a request's own retention."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from inferq import Client, RequestCancelled
from inferq.gateway.estimates import REFRESH_S
from tests.conftest import Server
from tests.servers import wait_until

ASYNC = {"Prefer": "respond-async"}


def submit(http: httpx.Client, inputs: dict[str, Any], **headers: str) -> dict[str, Any]:
    """Queue an echo; its status document, with the ``poll_url`` of its future."""
    answer = http.post("/echo/predict", json=inputs, headers={**ASYNC, **headers})
    assert answer.status_code == 202, answer.text
    poll_url = answer.json()["poll_url"]
    state: dict[str, Any] = http.get(poll_url).json()
    return {**state, "poll_url": poll_url}


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Inferq-Priority", "asap"),
        ("Cancel-After", "soon"),
        ("Cancel-After", "-5s"),
        ("Inferq-Retention", "forever"),
    ],
)
def test_a_bad_option_is_refused_naming_its_header_at_every_door(
    echo_server: Server, header: str, value: str
) -> None:
    with echo_server.http() as http:
        for path, body in (("/echo/predict", {"x": 1}), ("/echo/batch", {"inputs": [{"x": 1}]})):
            answer = http.post(path, json=body, headers={**ASYNC, header: value})
            assert answer.status_code == 422, answer.text
            assert answer.json()["error"]["field"] == header
        assert http.get("/v1/requests").json()["results"] == []  # nothing was queued


def test_a_retention_past_the_servers_maximum_is_refused(echo_server: Server) -> None:
    with echo_server.http() as http:
        answer = http.post("/echo/predict", json={}, headers={**ASYNC, "Inferq-Retention": "31d"})
    assert answer.status_code == 422
    assert "at most 720h" in answer.json()["error"]["message"]


def test_the_status_document_shows_the_options_and_the_queue_follows_them(
    shared: Callable[..., Server],
) -> None:
    """Nothing runs on this server, so the order stays to be read: a token's high before its
    normal before its low, and its short work before its long; the cost is the endpoint's
    estimate (echo: its delay, and what any request costs)."""
    server = shared("--no-workers")
    with server.http() as http:
        low = submit(http, {"n": 1}, **{"Inferq-Priority": "low"})
        long = submit(http, {"delay_s": 30})
        short = submit(http, {"delay_s": 1})
        high = submit(http, {"n": 2}, **{"Inferq-Priority": "high", "Cancel-After": "10m"})
        states = {
            name: http.get(f"/v1/requests/{doc['response_id']}").json()
            for name, doc in {"low": low, "long": long, "short": short, "high": high}.items()
        }
    assert {name: state["queue_position"] for name, state in states.items()} == {
        "high": 0,
        "short": 1,
        "long": 2,
        "low": 3,
    }
    assert [states[n]["priority"] for n in ("high", "short", "long", "low")] == [
        "high",
        "normal",
        "normal",
        "low",
    ]
    assert states["long"]["cost"] == pytest.approx(30.01)
    assert states["short"]["cost"] == pytest.approx(1.01)
    assert states["low"]["deadline_at"] is None
    assert states["high"]["deadline_at"] is not None


def test_tokens_share_the_endpoint_by_cost(shared: Callable[..., Server]) -> None:
    """A's requests cost 10 s each, B's 1 s: B's five go after A's first and before its second."""
    server = shared("--no-workers")
    with server.http() as a, server.http(token=server.new_token("b")) as b:
        a_states = [submit(a, {"delay_s": 10}) for _ in range(2)]
        b_states = [submit(b, {"delay_s": 1}) for _ in range(5)]
        a_positions = [a.get(f"/v1/requests/{s['response_id']}").json()["queue_position"] for s in a_states]
        b_positions = [b.get(f"/v1/requests/{s['response_id']}").json()["queue_position"] for s in b_states]
    assert a_positions == [0, 6]
    assert b_positions == [1, 2, 3, 4, 5]


def test_an_admin_s_urgent_request_goes_before_every_token_s_share(shared: Callable[..., Server]) -> None:
    server = shared("--no-workers")
    with server.http() as a, server.http(token=server.new_token("ops", admin=True)) as admin:
        queued = [submit(a, {"n": n}) for n in range(2)]
        refused = a.post("/echo/predict", json={}, headers={**ASYNC, "Inferq-Priority": "urgent"})
        assert refused.status_code == 403 and refused.json()["error"]["type"] == "forbidden"
        urgent = submit(admin, {"fix": 1}, **{"Inferq-Priority": "urgent"})
        assert (urgent["priority"], urgent["queue_position"]) == ("urgent", 0)
        positions = [a.get(state["poll_url"]).json()["queue_position"] for state in queued]
        assert positions == [1, 2]
        for state in (*queued, urgent):
            admin.post(f"/v1/requests/{state['response_id']}/cancel")


def test_a_deadline_stops_running_work_and_says_why(echo_server: Server) -> None:
    """A request its endpoint's estimate expects to finish in time (chapters costs 1, its
    runs here take under 2 s) that runs longer: 20 chapters of half a second."""
    with echo_server.http() as http:
        running = http.post(
            "/chapters/predict",
            json={"chapters": ["a"] * 20, "seconds_each": 0.5},
            headers={**ASYNC, "Cancel-After": "4s"},
        ).json()
        ended = http.get(f"/v1/requests/{running['response_id']}", params={"wait": 20}).json()
        assert ended["status"] == "cancelled"
        assert ended["started_at"] is not None  # it ran, and was stopped
        assert ended["error"]["type"] == "deadline_exceeded"
        answer = http.get(f"/v1/requests/{running['response_id']}/response")
        assert answer.status_code == 409
        assert "deadline" in answer.json()["error"]["message"]
        # the worker is free again long before the 30 s the cancelled echo would have taken
        after = submit(http, {"n": 1})
        assert http.get(after["poll_url"], params={"wait": 20}).json()["status"] == "completed"


def test_a_deadline_that_passes_in_the_queue_cancels_the_request_through_the_sdk(
    shared: Callable[..., Server],
) -> None:
    server = shared("--no-workers")
    with Client(token=server.token, base_url=server.url) as client:
        future = client.infer_async("echo", {"n": 1}, deadline="1s")
        with pytest.raises(RequestCancelled, match="deadline"):
            client.wait(future, timeout=20)
    with server.http() as http:
        state = http.get(future.poll_url).json()
    assert (state["status"], state["started_at"], state["error"]["type"]) == (
        "cancelled",
        None,
        "deadline_exceeded",
    )


def test_a_deadline_the_queue_cannot_meet_is_refused_at_once(echo_server: Server) -> None:
    """A's own queue holds 20 s of work, so A's next request cannot start within 3 s: 429
    with the estimate. B's goes before A's backlog (fair share), so B's is accepted."""
    with echo_server.http() as a, echo_server.http(token=echo_server.new_token("b")) as b:
        submit(a, {"delay_s": 0.2})  # a run measured, so there is an estimate ...
        wait_until(
            lambda: a.get("/v1/requests", params={"status": "completed"}).json()["results"], what="a run"
        )
        time.sleep(REFRESH_S)  # ... once the gateway reads its figures again
        backlog = [submit(a, {"delay_s": 5}) for _ in range(4)]
        refused = a.post("/echo/predict", json={"delay_s": 5}, headers={**ASYNC, "Cancel-After": "3s"})
        accepted = b.post("/echo/predict", json={"n": 1}, headers={**ASYNC, "Cancel-After": "3s"})
        for state in backlog:
            a.post(f"/v1/requests/{state['response_id']}/cancel")
        assert refused.status_code == 429, refused.text
        error = refused.json()["error"]
        assert error["type"] == "deadline_unmeetable"
        assert error["estimated_start_at"] and int(refused.headers["Retry-After"]) >= 1
        assert accepted.status_code == 202, accepted.text
        assert (
            a.get("/v1/requests", params={"status": "pending"}).json()["results"] == []
        )  # nothing refused queued


def test_a_request_s_own_retention_deletes_it_early(echo_server: Server) -> None:
    with echo_server.http() as http:
        brief = submit(http, {"n": 1}, **{"Inferq-Retention": "1s"})
        kept = submit(http, {"n": 2})
        for state in (brief, kept):
            assert http.get(state["poll_url"], params={"wait": 20}).json()["status"] == "completed"
        wait_until(
            lambda: http.get(brief["poll_url"]).status_code == 404, what="the brief request to be swept"
        )
        assert http.get(brief["poll_url"]).json()["error"]["type"] == "expired"
        assert http.get(kept["poll_url"]).status_code == 200
