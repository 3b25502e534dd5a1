"""Partial output as it comes: a checkpointing model's pieces on ``/partial``, as ``output``
events, through the SDK's ``stream``; the owner's alone; a cancel stops the model at its next
checkpoint and frees the worker. The model is the documented example, examples/chapters.py."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from inferq import AsyncClient, Client, InferenceFailed, RequestCancelled
from tests.conftest import Server, wait_until

ASYNC = {"Prefer": "respond-async"}
CHAPTERS = ["one two", "three four five", "six", "seven eight", "nine ten eleven twelve"]
EXPECTED = [{"chapter": i, "words": len(text.split())} for i, text in enumerate(CHAPTERS)]


def submit(http: httpx.Client, seconds_each: float = 0.3, chapters: list[str] = CHAPTERS) -> dict[str, Any]:
    body = {"chapters": chapters, "seconds_each": seconds_each}
    answer: dict[str, Any] = http.post("/chapters/predict", json=body, headers=ASYNC).json()
    return answer


def test_pieces_come_as_output_events_and_stay_readable(echo_server: Server) -> None:
    with echo_server.http() as http:
        future = submit(http)
        with connect_sse(http, "GET", f"/v1/requests/{future['response_id']}/events") as source:
            events = [(sse.event, sse.json()) for sse in source.iter_sse() if sse.event != "message"]
        outputs = [data for kind, data in events if kind == "output"]
        assert len(outputs) >= 2, "the pieces came as they were saved, not all at the end"
        assert [piece for data in outputs for piece in data["outputs"]] == EXPECTED
        assert [data["start"] for data in outputs] == sorted({data["start"] for data in outputs})
        final = events[-1][1]
        assert (events[-1][0], final["partial_outputs"]) == ("completed", len(CHAPTERS))
        assert http.get(final["response_url"]).json() == {"chapters": EXPECTED}
        partial = http.get(f"/v1/requests/{future['response_id']}/partial").json()
        assert (partial["status"], partial["start"], partial["outputs"]) == ("completed", 0, EXPECTED)
        tail = http.get(f"/v1/requests/{future['response_id']}/partial", params={"start": 3}).json()
        assert (tail["start"], tail["outputs"]) == (3, EXPECTED[3:])
        assert http.get(f"/v1/requests/{future['response_id']}/partial?start=-1").status_code == 422


def test_partial_output_is_its_owners_alone(shared: Any) -> None:
    owner, stranger = shared(), shared()
    with owner.http() as http:
        future = submit(http, seconds_each=0)
        http.get(future["poll_url"], params={"wait": 30})
    with stranger.http() as http:
        answer = http.get(f"/v1/requests/{future['response_id']}/partial")
    assert answer.status_code == 404


def test_the_sdk_streams_each_piece_once(echo_server: Server) -> None:
    with Client(token=echo_server.token, base_url=echo_server.url) as client:
        future = client.infer_async("chapters", {"chapters": CHAPTERS, "seconds_each": 0.2})
        assert list(client.stream(future)) == EXPECTED
        with pytest.raises(InferenceFailed):
            list(client.stream(client.infer_async("raises", {})))

    async def follow() -> list[Any]:
        async with AsyncClient(token=echo_server.token, base_url=echo_server.url) as client:
            future = await client.infer_async("chapters", {"chapters": CHAPTERS, "seconds_each": 0.2})
            return [piece async for piece in client.stream(future)]

    assert asyncio.run(follow()) == EXPECTED


def test_a_cancel_stops_the_model_at_its_next_checkpoint_and_frees_the_worker(echo_server: Server) -> None:
    many = [f"chapter {n}" for n in range(200)]
    with Client(token=echo_server.token, base_url=echo_server.url) as client:
        future = client.infer_async("chapters", {"chapters": many, "seconds_each": 0.2})
        pieces = client.stream(future)
        first = next(pieces)
        future.cancel()
        with pytest.raises(RequestCancelled):
            list(pieces)
        after = client.infer_async("chapters", {"chapters": CHAPTERS, "seconds_each": 0})
        # The only chapters worker is free long before the 40 s the cancelled work had left.
        assert after.result(timeout=20) == {"chapters": EXPECTED}
    with echo_server.http() as http:
        saved = wait_until(
            lambda: http.get(f"/v1/requests/{future.response_id}/partial").json()["outputs"],
            what="the partial output",
        )
    assert first == {"chapter": 0, "words": 2}
    assert len(saved) < 20, "the model stopped at its next checkpoint"
