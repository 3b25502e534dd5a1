"""Limits with clear errors: JSON depth (400), queue length per endpoint and per token, and a
submit rate per token (429 with Retry-After)."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable

import httpx

from tests.conftest import Server, wait_until

ASYNC = {"X-OctoAI-Async": "1", "Content-Type": "application/json"}


def _nested(depth: int) -> bytes:
    """A JSON object whose ``x`` nests lists so that the body is ``depth`` levels deep."""
    return b'{"x": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def _assert_429(answer: httpx.Response, retry_after: int, says: str) -> None:
    assert answer.status_code == 429, answer.text
    error = answer.json()["error"]
    assert error["type"] == "too_many_requests"
    assert says in error["message"]
    assert error["retry_after"] == retry_after
    assert answer.headers["Retry-After"] == str(retry_after)


def test_json_nesting_is_accepted_to_1024_levels_and_400_beyond(echo_server: Server) -> None:
    with echo_server.http() as http:
        deepest = http.post("/echo/predict", content=_nested(1024), headers=ASYNC)
        too_deep = http.post("/echo/predict", content=_nested(1025), headers=ASYNC)
    assert deepest.status_code == 202
    assert too_deep.status_code == 400
    assert too_deep.json()["error"] == {
        "type": "invalid_json",
        "message": "body nests deeper than 1024 levels",
        "limit": 1024,
    }


def test_a_full_endpoint_queue_is_429_until_it_drains(serve: Callable[..., Server]) -> None:
    server = serve("--max-queue", "2")
    with server.http() as http:
        running = http.post("/echo/predict", json={"delay_s": 2}, headers=ASYNC).json()
        wait_until(lambda: http.get(running["poll_url"]).json()["status"] == "running", what="running")
        queued = [http.post("/echo/predict", json={"i": i}, headers=ASYNC) for i in range(2)]
        refused = http.post("/echo/predict", json={"i": 2}, headers=ASYNC)
        http.get(queued[-1].json()["poll_url"], params={"wait": 30})
        later = http.post("/echo/predict", json={"i": 3}, headers=ASYNC)
    assert [answer.status_code for answer in queued] == [202, 202]
    _assert_429(
        refused, 1, "endpoint 'echo' has 2 requests waiting; 1 more would pass its limit of 2 (--max-queue)"
    )
    assert later.status_code == 202


def test_a_token_at_its_queue_limit_is_429_and_other_tokens_are_not(serve: Callable[..., Server]) -> None:
    server = serve("--max-queue-per-token", "2")
    other = server.new_token("other")
    with server.http() as http, server.http(token=other) as neighbour:
        first = [http.post("/echo/predict", json={"delay_s": 1, "i": i}, headers=ASYNC) for i in range(2)]
        refused = http.post("/echo/predict", json={"i": 2}, headers=ASYNC)
        theirs = neighbour.post("/echo/predict", json={"i": 0}, headers=ASYNC)
        http.get(first[-1].json()["poll_url"], params={"wait": 30})
        later = http.post("/echo/predict", json={"i": 3}, headers=ASYNC)
    assert [answer.status_code for answer in first] == [202, 202]
    _assert_429(
        refused,
        1,
        "this token has 2 requests pending or running; 1 more would pass its limit of 2 (--max-queue-per-token)",
    )
    assert theirs.status_code == 202
    assert later.status_code == 202


def test_submits_beyond_the_rate_are_429_for_that_token_only(serve: Callable[..., Server]) -> None:
    server = serve("--rate-limit", "0.5")
    other = server.new_token("other")
    with server.http() as http, server.http(token=other) as neighbour:
        allowed = http.post("/echo/predict", json={"i": 0}, headers=ASYNC)
        refused = http.post("/echo/predict", json={"i": 1}, headers=ASYNC)
        theirs = neighbour.post("/echo/predict", json={"i": 0}, headers=ASYNC)
        polled = http.get(allowed.json()["poll_url"])
    assert allowed.status_code == 202
    _assert_429(refused, 2, "this token is limited to 0.5 submits per second (--rate-limit)")
    assert theirs.status_code == 202
    assert polled.status_code == 200  # only submits count


def test_a_burst_of_clients_beyond_the_store_s_connections_is_all_accepted(echo_server: Server) -> None:
    """120 clients submitting at once, more than the connections a gateway keeps to Redis:
    they wait their turn for a connection rather than get 503s from a healthy store."""
    clients, each = 120, 3

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=clients)
        headers = {"Authorization": f"Bearer {echo_server.token}", **ASYNC}
        async with httpx.AsyncClient(
            base_url=echo_server.url, headers=headers, limits=limits, timeout=60
        ) as http:

            async def submit(inputs: dict[str, int]) -> int:
                # A connection dropped on a loaded machine is tried again, as any client
                # would; a 503 is an answer, and fails the test.
                for _ in range(3):
                    try:
                        return (await http.post("/echo/predict", json=inputs)).status_code
                    except httpx.TransportError:
                        continue
                return 0

            async def client(index: int) -> list[int]:
                return [await submit({"client": index, "n": n}) for n in range(each)]

            answers = await asyncio.gather(*(client(index) for index in range(clients)))
        return [status for statuses in answers for status in statuses]

    assert collections.Counter(asyncio.run(burst())) == {202: clients * each}
