"""Malformed, oversized and wrongly typed input: a clear 4xx naming the problem, never a 500."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import Server

ASYNC = {"X-OctoAI-Async": "1"}


@pytest.fixture
def server(shared: Callable[..., Server]) -> Server:
    """A shared server with a small body limit, as a tenant of this test's own: each test
    checks that nothing of its own was queued."""
    return shared("--max-body", "1024")


@pytest.mark.parametrize(
    ("body", "headers", "status", "kind", "needle"),
    [
        (b"{not json", {}, 400, "invalid_json", "not valid JSON"),
        (b"", {}, 400, "invalid_json", "not valid JSON"),
        (b"[1, 2]", {}, 422, "invalid_input", "JSON object"),
        (b'"text"', {}, 422, "invalid_input", "JSON object"),
        (b'{"delay_s": "soon"}', {}, 422, "invalid_input", "delay_s"),
        (b'{"delay_s": 61}', {}, 422, "invalid_input", "delay_s"),
        (b'{"delay_s": -1}', {}, 422, "invalid_input", "delay_s"),
        (b'{"a": "' + b"x" * 2000 + b'"}', {}, 413, "payload_too_large", "1024"),
        (
            b"a=1",
            {"Content-Type": "application/x-www-form-urlencoded"},
            415,
            "unsupported_media_type",
            "JSON",
        ),
        (b"{}", {"Idempotency-Key": ""}, 422, "invalid_input", "Idempotency-Key"),
    ],
    ids=[
        "malformed",
        "empty",
        "array",
        "string",
        "wrong-type",
        "too-big-number",
        "negative",
        "oversized",
        "form",
        "empty-idempotency-key",
    ],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_bad_bodies_get_a_clear_error(
    server: Server, body: bytes, headers: dict[str, str], status: int, kind: str, needle: str, mode: str
) -> None:
    headers = {"Content-Type": "application/json", **headers, **(ASYNC if mode == "async" else {})}
    with server.http() as http:
        answer = http.post("/echo/predict", content=body, headers=headers)
        assert answer.status_code == status, answer.text
        assert answer.json()["error"]["type"] == kind
        assert needle in answer.json()["error"]["message"]
        assert http.get("/v1/requests").json()["results"] == []  # nothing was queued


def test_true_and_false_are_not_numbers(server: Server) -> None:
    with server.http() as http:
        alone = http.post("/echo/predict", json={"delay_s": False}, headers=ASYNC)
        in_a_batch = http.post("/echo/batch", json={"inputs": [{"delay_s": 0}, {"delay_s": True}]})
        listed = http.get("/v1/requests").json()["results"]
    assert (alone.status_code, alone.json()["error"]["field"]) == (422, "delay_s")
    assert "not true or false" in alone.json()["error"]["message"]
    assert (in_a_batch.status_code, in_a_batch.json()["error"]["field"]) == (422, "inputs[1].delay_s")
    assert listed == []


def test_the_field_is_named(server: Server) -> None:
    with server.http() as http:
        error = http.post("/echo/predict", json={"delay_s": "x"}).json()["error"]
    assert error["field"] == "delay_s"


@pytest.mark.parametrize("wait", ["abc", "-1", "61", "nan"])
def test_bad_wait_is_422(server: Server, wait: str) -> None:
    with server.http() as http:
        future = http.post("/echo/predict", json={}, headers=ASYNC).json()
        answer = http.get(future["poll_url"], params={"wait": wait})
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "wait"


def test_unknown_routes_and_methods_are_json_errors(server: Server) -> None:
    with server.http() as http:
        missing = http.post("/nope/predict", json={})
        wrong_method = http.get("/echo/predict")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["type"] == "method_not_allowed"


def test_a_method_not_allowed_names_every_method_the_path_takes(server: Server) -> None:
    with server.http() as http:
        allowed = {
            path: set(http.options(path).headers["allow"].replace(" ", "").split(","))
            for path in ("/v1/requests/r1", "/v1/files", "/v1/files/f1", "/v1/tokens", "/echo/predict")
        }
        head = http.head("/v1/requests")
    assert allowed == {
        "/v1/requests/r1": {"GET", "HEAD", "DELETE"},
        "/v1/files": {"GET", "HEAD", "POST"},
        "/v1/files/f1": {"GET", "HEAD", "DELETE"},
        "/v1/tokens": {"GET", "HEAD", "POST"},
        "/echo/predict": {"POST"},
    }
    assert head.status_code == 200


def test_bodies_that_would_hold_the_gateway_are_refused_by_their_size_in_keys_and_ids(
    echo_server: Server,
) -> None:
    many = {f"k{n}": n for n in range(1001)}
    with echo_server.http() as http:
        predict = http.post("/echo/predict", json=many)
        batch = http.post("/echo/batch", json={"inputs": [{"x": 1}, many]})
        wait = http.post("/v1/requests/wait", json={"response_ids": ["r" * 65]})
        fine = http.post("/echo/predict", json=dict(list(many.items())[:1000]))
    assert (predict.status_code, predict.json()["error"]["limit"]) == (422, 1000)
    assert (batch.status_code, batch.json()["error"]["field"]) == (422, "inputs[1]")
    assert (wait.status_code, wait.json()["error"]["limit"]) == (422, 64)
    assert fine.status_code == 200


def test_a_large_body_is_judged_apart_and_refused_as_a_small_one_would_be(echo_server: Server) -> None:
    """Bodies over a MiB are parsed first in a process of the gateway's own (so that millions
    of keys do not hold its event loop); what that process refuses is named as ever."""
    keys = b"{" + b",".join(b'"k%d":1' % n for n in range(200_000)) + b"}"
    audio_sized = {"audio_like": "a" * 3_000_000}
    with echo_server.http() as http:
        too_many = http.post("/echo/predict", content=keys, headers={"Content-Type": "application/json"})
        broken = http.post("/echo/predict", content=keys[:-1], headers={"Content-Type": "application/json"})
        fine = http.post("/echo/predict", json=audio_sized, headers=ASYNC)
    assert too_many.status_code == 422, too_many.text
    assert too_many.json()["error"] == {
        "type": "invalid_input",
        "message": "body holds 200000 inputs; at most 1000 per request",
        "field": "body",
        "limit": 1000,
    }
    assert (broken.status_code, broken.json()["error"]["type"]) == (400, "invalid_json")
    assert fine.status_code == 202
