"""``inferq requests retry`` and ``--reuse``, against a real server."""

from __future__ import annotations

import json

from tests.conftest import Server, inferq


def test_requests_retry_prints_each_new_request_or_why_not(echo_server: Server) -> None:
    env = {"INFERQ_URL": echo_server.url, "INFERQ_TOKEN": echo_server.token}
    with echo_server.http() as http:
        failed = http.post("/raises/predict", json={"a": 1}, headers={"Prefer": "respond-async"}).json()
        assert http.get(failed["poll_url"], params={"wait": 30}).json()["status"] == "failed"
    result = inferq(
        "requests", "retry", failed["response_id"], "nope", "--priority", "high", env=env, check=False
    )
    assert result.returncode == 1
    original, arrow, retry_id = result.stdout.split()
    assert (original, arrow) == (failed["response_id"], "->")
    assert "nope: no request 'nope'" in result.stderr
    with echo_server.http() as http:
        retry = http.get(f"/v1/requests/{retry_id}").json()
    assert (retry["retry_of"], retry["priority"]) == (failed["response_id"], "high")


def test_infer_reuse_answers_from_the_completed_twin(echo_server: Server) -> None:
    env = {"INFERQ_URL": echo_server.url, "INFERQ_TOKEN": echo_server.token}
    assert json.loads(inferq("infer", "echo", "-i", "n=4", env=env).stdout) == {"echo": {"n": 4}}
    queued = inferq("infer", "echo", "-i", "n=4", "--async", "--reuse", env=env)
    response_id = json.loads(queued.stdout)["response_id"]
    shown = json.loads(inferq("requests", "show", response_id, env=env).stdout)
    assert shown["status"] == "completed" and shown["reused_from"]
