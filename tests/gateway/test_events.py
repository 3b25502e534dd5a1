"""``GET /v1/requests/{id}/events``, progress and estimates in the status document."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from httpx_sse import aconnect_sse, connect_sse

from inferq import AsyncClient, Client
from tests.conftest import Server, occupy
from tests.gateway.test_tokens import token_id

ASYNC = {"Prefer": "respond-async"}


def stream(http: httpx.Client, response_id: str) -> Iterator[tuple[str, dict[str, Any]]]:
    with connect_sse(http, "GET", f"/v1/requests/{response_id}/events") as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        for sse in source.iter_sse():
            if sse.event != "message":
                yield sse.event, sse.json()


def test_a_queued_request_streams_its_way_to_completion(echo_server: Server) -> None:
    with echo_server.http() as http:
        occupy(http, 1)  # the one worker is busy
        behind = http.post("/echo/predict", json={"delay_s": 2, "n": 1}, headers=ASYNC).json()
        events = list(stream(http, behind["response_id"]))
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "queued" and events[0][1]["queue_position"] == 0
    assert kinds[-1] == "completed"
    assert "running" in kinds and kinds.index("running") < kinds.index("progress")
    progress = [state["progress"] for kind, state in events if kind == "progress"]
    assert progress == sorted(progress) and all(0 < p <= 1 for p in progress)
    final = events[-1][1]
    assert final["response_id"] == behind["response_id"]
    assert final["response_url"].endswith(f"/v1/requests/{behind['response_id']}/response")


def test_the_queue_position_counts_down(echo_server: Server) -> None:
    with echo_server.http() as http:
        ids = [
            http.post("/echo/predict", json={"delay_s": 0.6, "i": i}, headers=ASYNC).json()["response_id"]
            for i in range(4)
        ]
        events = list(stream(http, ids[-1]))
    positions = [state["queue_position"] for kind, state in events if kind == "queued"]
    assert positions[0] >= 1
    assert positions == sorted(positions, reverse=True) and len(set(positions)) == len(positions)
    assert events[-1][0] == "completed"


def test_a_cancelled_request_ends_its_stream(echo_server: Server) -> None:
    with echo_server.http() as http:
        occupy(http, 2)
        queued = http.post("/echo/predict", json={"x": 1}, headers=ASYNC).json()
        with connect_sse(http, "GET", f"/v1/requests/{queued['response_id']}/events") as source:
            events = source.iter_sse()
            first = next(events)
            http.post(f"{queued['poll_url']}/cancel")
            rest = [sse.event for sse in events if sse.event != "message"]
    assert first.event == "queued"
    assert rest == ["cancelled"]


def test_a_finished_request_streams_its_end_at_once(echo_server: Server) -> None:
    with echo_server.http() as http:
        done = http.post("/echo/predict", json={"x": 1}, headers=ASYNC).json()
        http.get(done["poll_url"], params={"wait": 30})
        events = list(stream(http, done["response_id"]))
    assert [kind for kind, _ in events] == ["completed"]


def test_another_tenants_events_are_404_before_any_stream(echo_server: Server) -> None:
    other = echo_server.new_token("other")
    with echo_server.http() as http, echo_server.http(token=other) as stranger:
        mine = http.post("/echo/predict", json={"delay_s": 1}, headers=ASYNC).json()
        theirs = stranger.get(f"/v1/requests/{mine['response_id']}/events")
        unknown = http.get("/v1/requests/nope/events")
    assert theirs.status_code == 404
    assert theirs.headers["content-type"] == "application/json"
    assert theirs.json()["error"]["type"] == "not_found"
    assert unknown.status_code == 404


def test_status_shows_progress_and_estimates(echo_server: Server) -> None:
    with echo_server.http() as http:
        warm = http.post("/echo/predict", json={"delay_s": 0.5}, headers=ASYNC).json()
        http.get(warm["poll_url"], params={"wait": 30})  # one measured run
        running = occupy(http, 3)
        queued = http.post("/echo/predict", json={"x": 1}, headers=ASYNC).json()
        for kind, state in stream(http, running["response_id"]):
            if kind == "progress":
                break
        during = http.get(running["poll_url"]).json()
        waiting = http.get(queued["poll_url"]).json()
    assert during["status"] == "running"
    assert 0 < during["progress"] <= 1
    assert during["estimated_completed_at"] >= during["started_at"]
    assert waiting["status"] == "pending" and waiting["queue_position"] == 0
    assert waiting["estimated_start_at"] is not None
    assert waiting["estimated_completed_at"] > waiting["estimated_start_at"]


def test_sdk_iterates_events(echo_server: Server) -> None:
    with Client(token=echo_server.token, base_url=echo_server.url) as client:
        future = client.infer_async("echo", {"delay_s": 1})
        events = list(client.events(future))
    assert events[-1].type == "completed" and events[-1].is_final
    assert any(event.progress for event in events if event.type == "progress")
    assert all(not event.is_final for event in events[:-1])


def test_async_sdk_iterates_events(echo_server: Server) -> None:
    async def follow() -> list[str]:
        async with AsyncClient(token=echo_server.token, base_url=echo_server.url) as client:
            future = await client.infer_async("echo", {"delay_s": 1})
            return [event.type async for event in client.events(future)]

    kinds = asyncio.run(follow())
    assert kinds[-1] == "completed"
    assert "running" in kinds


def test_streams_of_a_token_revoked_meanwhile_close(shared: Callable[..., Server]) -> None:
    """The events stream and the wait stream of a pending request close once their token is
    revoked (it is checked every few seconds), instead of delivering until the request ends."""
    server = shared("--no-workers")  # nothing runs: the request stays pending
    admin = server.new_token("ops", admin=True)
    with server.http() as http:
        future = http.post("/echo/predict", json={}, headers={"Prefer": "respond-async"}).json()
        with (
            connect_sse(http, "GET", f"{future['poll_url']}/events") as events,
            connect_sse(
                http,
                "POST",
                "/v1/requests/wait",
                json={"response_ids": [future["response_id"]], "timeout": 300},
            ) as wait,
        ):
            stream = events.iter_sse()
            assert next(stream).event == "queued"
            with server.http(token=admin) as operator:
                assert operator.delete(f"/v1/tokens/{token_id(server.token)}").status_code == 200
            assert [sse.event for sse in stream] == []  # closed, with nothing more sent
            assert [sse.event for sse in wait.iter_sse()] == []


def test_many_streams_on_a_deep_queue_each_show_their_own_position(shared: Callable[..., Server]) -> None:
    """Positions are read for every stream of an endpoint at once: each stream still gets its
    own request's, across tenants, and the gateway answers other callers meanwhile."""
    server = shared("--no-workers")  # nothing runs: the queue stays as built
    first, second = server, shared("--no-workers")
    with first.http() as mine, second.http() as theirs:
        batch = {"inputs": [{"i": i} for i in range(500)]}
        ours = [f["response_id"] for f in mine.post("/echo/batch", json=batch).json()["results"]]
        their_one = theirs.post("/echo/predict", json={}, headers=ASYNC).json()["response_id"]
    watched = {index: ours[index] for index in range(0, 500, 10)}

    async def first_positions() -> dict[int, int]:
        async def position(token: str, response_id: str) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            async with (
                httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as http,
                aconnect_sse(http, "GET", f"/v1/requests/{response_id}/events") as source,
            ):
                async for sse in source.aiter_sse():
                    if sse.event == "queued":
                        return int(sse.json()["queue_position"])
            raise AssertionError("the stream ended without a queued event")

        streams = [position(first.token, response_id) for response_id in watched.values()]
        theirs_too = position(second.token, their_one)
        found = await asyncio.gather(*streams, theirs_too)
        return {**dict(zip(watched, found[:-1], strict=True)), -1: found[-1]}

    positions = asyncio.run(first_positions())
    # Round robin: the other token's one request goes second, so ours from the second on are one later.
    assert positions == {**{i: i + int(i >= 1) for i in watched}, -1: 1}
