"""Retries: the pure delay policy, and the transports against a tiny real HTTP server."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from inferq.sdk.retry import AsyncRetryTransport, RetryPolicy, RetryTransport, parse_retry_after
from tests.sdk.conftest import Api

NOW = datetime(2026, 1, 1, tzinfo=UTC)
Answer = tuple[int, dict[str, str], bytes]


def error(status: int, kind: str, **headers: str) -> Answer:
    return status, headers, json.dumps({"error": {"type": kind, "message": kind}}).encode()


UNAVAILABLE = error(503, "unavailable", **{"Retry-After": "0"})
OK: Answer = (200, {}, b'{"echo": {}}')


# the policy --------------------------------------------------------------------


@pytest.mark.parametrize(("header", "expected"), [("3", 3.0), ("0", 0.0), ("2.5", 2.5), (" 7 ", 7.0)])
def test_retry_after_in_seconds_wins_over_backoff(header: str, expected: float) -> None:
    assert RetryPolicy().delay(1, 503, header, rand=0.5) == expected


def test_retry_after_as_an_http_date() -> None:
    later = format_datetime(NOW + timedelta(seconds=10), usegmt=True)
    earlier = format_datetime(NOW - timedelta(seconds=10), usegmt=True)
    assert RetryPolicy().delay(1, 429, later, now=NOW) == 10.0
    assert RetryPolicy().delay(1, 429, earlier, now=NOW) == 0.0


def test_retry_after_is_capped_and_garbage_falls_back_to_backoff() -> None:
    policy = RetryPolicy(max_delay=5.0, base_delay=1.0, jitter=0.0)
    assert policy.delay(1, 503, "3600") == 5.0
    assert policy.delay(1, 503, "soon") == 1.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6])
def test_backoff_doubles_within_jitter_bounds_and_the_cap(attempt: int) -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=0.5, max_delay=4.0, jitter=0.5)
    ceiling = min(0.5 * 2 ** (attempt - 1), 4.0)
    delays = [policy.delay(attempt, 503, rand=r) for r in (0.0, 0.25, 0.5, 0.999999)]
    assert delays[0] == ceiling
    assert all(d is not None and ceiling * 0.5 <= d <= ceiling for d in delays)
    assert all(
        d is not None and ceiling * 0.5 <= d <= ceiling
        for d in (policy.delay(attempt, 503) for _ in range(50))
    )


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (None, True),
        (429, True),
        (500, True),
        (503, True),
        (501, False),
        (400, False),
        (401, False),
        (404, False),
        (409, False),
        (422, False),
    ],
)
def test_what_is_retried_by_status(status: int | None, retried: bool) -> None:
    assert (RetryPolicy().delay(1, status) is not None) is retried


def test_attempts_stop_at_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.delay(2, 503, "0") == 0.0
    assert policy.delay(3, 503, "0") is None


def test_retries_stop_when_the_next_would_start_past_retry_for() -> None:
    policy = RetryPolicy(retry_for=10.0, base_delay=1.0, jitter=0.0)
    assert policy.delay(1, None, elapsed=8.0) == 1.0
    assert policy.delay(1, None, elapsed=9.5) is None
    assert policy.delay(1, 503, "5", elapsed=4.0) == 5.0
    assert policy.delay(1, 503, "5", elapsed=6.0) is None
    assert policy.delay(1, None, elapsed=9.5, retry_for=30.0) == 1.0  # a call's own budget
    assert policy.delay(40, None, elapsed=0.0) == 10.0  # no count of attempts unless asked


@pytest.mark.parametrize("bad", [{"max_attempts": 0}, {"base_delay": -1}, {"jitter": 1.5}, {"retry_for": -1}])
def test_the_policy_validates_its_arguments(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**bad)


# the transports, against a real server -------------------------------------------------


class Recorder(ThreadingHTTPServer):
    """Answers each path from a script (the last answer repeats) and records every request."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script: dict[str, list[Answer]] = {}
        self.seen: list[tuple[str, str, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def keys(self) -> list[str | None]:
        return [key for _, _, key in self.seen]


class Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?")[0]
        self.server.seen.append((self.command, path, self.headers.get("Idempotency-Key")))
        answers = self.server.script.get(path, [error(404, "not_found")])
        status, headers, body = answers.pop(0) if len(answers) > 1 else answers[0]
        self.send_response(status)
        for name, value in {**headers, "Content-Type": "application/json"}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def tiny() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def send(
    kind: str, method: str, url: str, headers: dict[str, str] | None = None, **retry: Any
) -> httpx.Response:
    """One request through RetryTransport or AsyncRetryTransport (``retry``: their options)."""
    if kind == "sync":
        with httpx.Client(transport=RetryTransport(**retry)) as client:
            return client.request(method, url, headers=headers, json={"x": 1})

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=AsyncRetryTransport(**retry)) as client:
            return await client.request(method, url, headers=headers, json={"x": 1})

    return asyncio.run(go())


def test_a_keyed_post_is_retried_with_its_key(tiny: Recorder, kind: str) -> None:
    tiny.script["/p"] = [UNAVAILABLE, UNAVAILABLE, OK]
    response = send(kind, "POST", f"{tiny.url}/p", {"Idempotency-Key": "k1"})
    assert response.status_code == 200
    assert response.json() == {"echo": {}}
    assert tiny.keys() == ["k1", "k1", "k1"]


def test_a_post_without_a_key_is_sent_once(tiny: Recorder, kind: str) -> None:
    tiny.script["/p"] = [UNAVAILABLE, OK]
    assert send(kind, "POST", f"{tiny.url}/p").status_code == 503
    assert len(tiny.seen) == 1


def test_a_get_is_retried_until_max_attempts(tiny: Recorder, kind: str) -> None:
    tiny.script["/g"] = [error(429, "too_many_requests", **{"Retry-After": "0"})]
    assert send(kind, "GET", f"{tiny.url}/g", max_attempts=3).status_code == 429
    assert len(tiny.seen) == 3


@pytest.mark.parametrize(
    "answer",
    [
        error(502, "inference_failed"),
        error(504, "timeout"),
        error(429, "deadline_unmeetable", **{"Retry-After": "0"}),
    ],
    ids=["502", "504", "429-deadline"],
)
def test_definitive_answers_of_inferq_are_not_retried(tiny: Recorder, kind: str, answer: Answer) -> None:
    tiny.script["/p"] = [answer, OK]
    assert send(kind, "POST", f"{tiny.url}/p", {"Idempotency-Key": "k2"}).status_code == answer[0]
    assert len(tiny.seen) == 1


def test_a_502_from_a_proxy_is_retried(tiny: Recorder, kind: str) -> None:
    tiny.script["/p"] = [(502, {"Retry-After": "0"}, b"<html>bad gateway</html>"), OK]
    assert send(kind, "POST", f"{tiny.url}/p", {"Idempotency-Key": "k3"}).status_code == 200
    assert len(tiny.seen) == 2


@pytest.mark.parametrize(
    ("headers", "attempts"), [({"Idempotency-Key": "k4"}, 3), ({}, 1)], ids=["keyed", "unkeyed"]
)
def test_connection_errors_are_retried_when_safe(kind: str, headers: dict[str, str], attempts: int) -> None:
    tries: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        tries.append(request)
        raise httpx.ConnectError("connection refused", request=request)

    policy = RetryPolicy(max_attempts=3, base_delay=0.0)
    with pytest.raises(httpx.ConnectError):
        send(
            kind,
            "POST",
            "http://127.0.0.1:9/p",
            headers,
            transport=httpx.MockTransport(refuse),
            policy=policy,
        )
    assert len(tries) == attempts


def test_the_sdk_retries_a_submit_with_one_fresh_key(tiny: Recorder, connect: Callable[..., Api]) -> None:
    accepted = {"response_id": "r1", "poll_url": f"{tiny.url}/v1/requests/r1", "status": "pending"}
    tiny.script["/echo/predict"] = [UNAVAILABLE, UNAVAILABLE, (202, {}, json.dumps(accepted).encode())]
    client = connect("token", tiny.url)
    future = client.infer_async("echo", {"x": 1})
    assert future.response_id == "r1"
    first_keys = tiny.keys()
    client.infer_async("echo", {"x": 1})
    assert len(first_keys) == 3 and len(set(first_keys)) == 1
    assert uuid.UUID(str(first_keys[0])).version == 4
    assert tiny.keys()[3] not in first_keys
