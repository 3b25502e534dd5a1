"""Priority, deadline and retention through the SDK: checked before any call, sent as the
contract's headers, and seen in the request's status document; each with both clients."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from inferq import InvalidInput, ServerUnreachable
from tests.conftest import Server, free_port
from tests.sdk.conftest import Api

Connect = Callable[..., Api]


def status(server: Server, response_id: str) -> dict[str, Any]:
    """``GET /v1/requests/{id}`` as the server answers it."""
    with server.http() as http:
        answer = http.get(f"/v1/requests/{response_id}")
    assert answer.status_code == 200, answer.text
    state: dict[str, Any] = answer.json()
    return state


def seconds_between(state: dict[str, Any], start: str, end: str) -> float:
    return (datetime.fromisoformat(state[end]) - datetime.fromisoformat(state[start])).total_seconds()


def assert_scheduled(state: dict[str, Any], priority: str, deadline_s: float, retention_s: float) -> None:
    """The status document shows the options: ``expires_at`` counts from the end, or from
    the submit while the request has not ended."""
    assert state["priority"] == priority
    assert isinstance(state["cost"], int | float)
    assert seconds_between(state, "created_at", "deadline_at") == pytest.approx(deadline_s, abs=1)
    ended = "completed_at" if state["completed_at"] else "created_at"
    assert seconds_between(state, ended, "expires_at") == pytest.approx(retention_s, abs=1)


def test_the_options_show_in_the_status_document(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    future = client.infer_async("echo", {"x": 1}, priority="low", deadline="10m", retention="1h")
    assert_scheduled(status(echo_server, future.response_id), "low", 600, 3600)
    assert client.wait(future, timeout=30) == {"echo": {"x": 1}}
    done = status(echo_server, future.response_id)
    assert done["status"] == "completed"
    assert_scheduled(done, "low", 600, 3600)


def test_infer_takes_them_too_with_durations_in_seconds(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    assert client.infer("echo", {"y": 2}, priority="high", deadline=90.0, retention=7200) == {
        "echo": {"y": 2}
    }
    with echo_server.http() as http:
        [state] = http.get("/v1/requests").json()["results"]
    assert_scheduled(state, "high", 90, 7200)


def test_a_batch_applies_them_to_each_request(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    futures = client.infer_batch("echo", [{"a": 1}, {"b": 2}], priority="low", deadline="5m", retention="2h")
    assert [client.result(future, timeout=30) for future in futures] == [
        {"echo": {"a": 1}},
        {"echo": {"b": 2}},
    ]
    for future in futures:
        assert_scheduled(status(echo_server, future.response_id), "low", 300, 7200)


def test_no_options_leave_the_server_defaults(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    future = client.infer_async("echo", {"z": 3})
    state = status(echo_server, future.response_id)
    assert state["priority"] == "normal" and state["deadline_at"] is None


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"priority": "asap"}, "priority"),
        ({"priority": "LOW"}, "priority"),
        ({"deadline": "soon"}, "deadline"),
        ({"deadline": 0}, "deadline"),
        ({"retention": "-1h"}, "retention"),
        ({"retention": -5.0}, "retention"),
    ],
)
def test_a_bad_option_raises_before_any_call(connect: Connect, options: dict[str, Any], named: str) -> None:
    """Nothing listens at the URL and there are no retries: a call made would raise ServerUnreachable."""
    client = connect("token", f"http://127.0.0.1:{free_port()}", max_attempts=1)
    for method, inputs in (("infer_async", {}), ("infer", {}), ("infer_batch", [{}])):
        with pytest.raises(ValueError, match=named):
            getattr(client, method)("echo", inputs, **options)
    with pytest.raises(ServerUnreachable):
        client.infer_async("echo", {})


def test_a_retention_past_the_server_maximum_is_refused_naming_the_header(
    shared: Callable[..., Server], connect: Connect
) -> None:
    server = shared()  # its --max-retention is 30d
    client = connect(server.token, server.url)
    with pytest.raises(InvalidInput) as refused:
        client.infer_async("echo", {"x": 1}, retention="400d")
    assert refused.value.details["field"] == "Inferq-Retention"
    assert refused.value.http_status == 422
    with server.http() as http:
        assert http.get("/v1/requests").json()["results"] == []  # nothing was queued
    at_most = client.infer_async("echo", {"x": 1}, retention="30d")
    assert client.wait(at_most, timeout=30) == {"echo": {"x": 1}}
    kept = seconds_between(status(server, at_most.response_id), "completed_at", "expires_at")
    assert kept == pytest.approx(30 * 86400, abs=1)
