"""Retries and reuse over HTTP, on both backends: ``POST /v1/requests/{id}/retry`` re-runs a
failed or cancelled request with its stored inputs as a new request linked both ways,
``POST /v1/requests/retry`` does it for many, every status document carries each run's
history, and ``Prefer: reuse`` answers a request from a completed twin of the same token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.servers import occupy

ASYNC = {"Prefer": "respond-async"}


def submit(http: httpx.Client, path: str, inputs: dict[str, Any], **headers: str) -> dict[str, Any]:
    answer = http.post(path, json=inputs, headers={**ASYNC, **headers})
    assert answer.status_code == 202, answer.text
    future: dict[str, Any] = answer.json()
    return future


def ended(http: httpx.Client, response_id: str) -> dict[str, Any]:
    state: dict[str, Any] = http.get(f"/v1/requests/{response_id}", params={"wait": 30}).json()
    assert state["status"] in ("completed", "failed", "cancelled"), state
    return state


def failed(http: httpx.Client, inputs: dict[str, Any]) -> dict[str, Any]:
    """A request of ``raises`` that failed, as its status document."""
    state = ended(http, submit(http, "/raises/predict", inputs)["response_id"])
    assert state["status"] == "failed"
    return state


def test_a_failed_request_is_retried_with_its_inputs_and_each_names_the_other(echo_server: Server) -> None:
    with echo_server.http() as http:
        original = failed(http, {"a": 1})
        [run] = original["attempt_history"]
        assert (run["attempt"], run["outcome"]) == (1, "raised")
        assert run["worker"].startswith("raises@") and run["started_at"] <= run["ended_at"]
        answer = http.post(f"/v1/requests/{original['response_id']}/retry")
        assert answer.status_code == 202, answer.text
        retry = answer.json()
        assert answer.headers["Location"].endswith(f"/v1/requests/{retry['response_id']}")
        assert retry["response_id"] != original["response_id"]
        assert (retry["retry_of"], retry["attempt_history"]) == (original["response_id"], [])
        again = ended(http, retry["response_id"])
        assert again["error"]["message"] == original["error"]["message"]  # the same inputs ran
        assert [run["outcome"] for run in again["attempt_history"]] == ["raised"]
        assert (
            http.get(f"/v1/requests/{original['response_id']}").json()["retried_by"] == retry["response_id"]
        )


def test_a_cancelled_request_is_retried_keeping_its_retention_unless_headers_say_otherwise(
    echo_server: Server,
) -> None:
    with echo_server.http() as http:
        occupy(http, 1)
        original = submit(http, "/echo/predict", {"n": 5}, **{"Inferq-Retention": "2h"})
        http.post(f"/v1/requests/{original['response_id']}/cancel")
        retry = http.post(
            f"/v1/requests/{original['response_id']}/retry", headers={"Inferq-Priority": "high"}
        ).json()
        assert (retry["priority"], retry["retry_of"]) == ("high", original["response_id"])
        done = ended(http, retry["response_id"])
        assert done["status"] == "completed"
        assert http.get(done["response_url"]).json() == {"echo": {"n": 5}}
        kept_s = _seconds(done["expires_at"]) - _seconds(done["completed_at"])
        assert kept_s == pytest.approx(7200, abs=5)


def _seconds(moment: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(moment).timestamp()


def test_only_a_failed_or_cancelled_request_of_the_caller_can_be_retried(echo_server: Server) -> None:
    with echo_server.http() as http, echo_server.http(token=echo_server.new_token("other")) as other:
        done = ended(http, submit(http, "/echo/predict", {"n": 1})["response_id"])
        refused = http.post(f"/v1/requests/{done['response_id']}/retry")
        assert refused.status_code == 409
        assert refused.json()["error"] == {
            "type": "conflict",
            "message": f"request {done['response_id']} is completed: only a failed or cancelled request "
            "can be retried",
            "status": "completed",
        }
        mine = failed(http, {"b": 2})
        assert other.post(f"/v1/requests/{mine['response_id']}/retry").status_code == 404
        assert http.post("/v1/requests/nope/retry").status_code == 404
        http.delete(f"/v1/requests/{mine['response_id']}")
        gone = http.post(f"/v1/requests/{mine['response_id']}/retry")
        assert (gone.status_code, gone.json()["error"]["type"]) == (404, "expired")


def test_many_are_retried_by_id_each_with_its_own_outcome(echo_server: Server) -> None:
    with echo_server.http() as http:
        first, second = failed(http, {"c": 1}), failed(http, {"c": 2})
        done = ended(http, submit(http, "/echo/predict", {"n": 1})["response_id"])
        ids = [first["response_id"], done["response_id"], "nope", second["response_id"]]
        answer = http.post("/v1/requests/retry", json={"response_ids": ids})
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
    assert [result["retry_of"] for result in results] == ids
    assert [result.get("error", {}).get("type") for result in results] == [
        None,
        "conflict",
        "not_found",
        None,
    ]
    assert [results[i]["request"]["retry_of"] for i in (0, 3)] == [
        first["response_id"],
        second["response_id"],
    ]


def test_a_filter_retries_what_matches_and_was_not_retried_yet(shared: Callable[..., Server]) -> None:
    server = shared("--no-workers")
    with server.http() as http:
        queued = [submit(http, "/raises/predict", {"d": n})["response_id"] for n in range(3)]
        kept = submit(http, "/echo/predict", {"n": 1})["response_id"]
        for response_id in [*queued, kept]:
            http.post(f"/v1/requests/{response_id}/cancel")
        http.post(f"/v1/requests/{queued[0]}/retry")
        answer = http.post("/v1/requests/retry", json={"status": "cancelled", "endpoint": "raises"})
        assert answer.status_code == 200, answer.text
        retried = [result["retry_of"] for result in answer.json()["results"]]
        assert retried == [queued[2], queued[1]]  # newest first; the one retried already left out
        later = http.post(
            "/v1/requests/retry", json={"endpoint": "raises", "since": "2999-01-01T00:00:00Z"}
        ).json()
        assert later["results"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"response_ids": []}, "response_ids"),
        ({"status": "completed"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"limit": 0}, "limit"),
        ({"ids": ["x"]}, "ids"),
    ],
)
def test_a_bad_bulk_retry_is_refused_naming_its_field(
    echo_server: Server, body: dict[str, Any], field: str
) -> None:
    with echo_server.http() as http:
        answer = http.post("/v1/requests/retry", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field


def test_a_request_that_prefers_reuse_is_answered_from_its_completed_twin(echo_server: Server) -> None:
    reuse = {"Prefer": "respond-async, reuse"}
    with echo_server.http() as http, echo_server.http(token=echo_server.new_token("other")) as other:
        twin = ended(http, submit(http, "/echo/predict", {"n": 7})["response_id"])
        answer = http.post("/echo/predict", json={"n": 7}, headers=reuse)
        assert (answer.status_code, answer.json()["status"]) == (202, "completed")
        reused = http.get(answer.json()["poll_url"]).json()
        assert (reused["reused_from"], reused["attempt_history"]) == (twin["response_id"], [])
        assert http.get(reused["response_url"]).json() == {"echo": {"n": 7}}
        synchronous = http.post("/echo/predict", json={"n": 7}, headers={"Prefer": "reuse"})
        assert synchronous.json() == {"echo": {"n": 7}}
        # another token's, other inputs, or not asked: each runs
        theirs = other.post("/echo/predict", json={"n": 7}, headers=reuse).json()
        different = http.post("/echo/predict", json={"n": 8}, headers=reuse).json()
        unasked = submit(http, "/echo/predict", {"n": 7})
        for client, future in ((other, theirs), (http, different), (http, unasked)):
            state = client.get(future["poll_url"], params={"wait": 30}).json()
            assert state["status"] == "completed" and "reused_from" not in state
            assert len(state["attempt_history"]) == 1
