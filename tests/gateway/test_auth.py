"""Tokens: every route but /healthz needs one, and tenants never see each other's requests."""

from __future__ import annotations

from tests.conftest import Server, inferq

ASYNC = {"X-OctoAI-Async": "1"}


def test_every_route_but_healthz_needs_a_token(echo_server: Server) -> None:
    with echo_server.anonymous() as anonymous:
        assert anonymous.get("/healthz").status_code == 200
        for method, path in [
            ("POST", "/echo/predict"),
            ("GET", "/echo/healthcheck"),
            ("GET", "/v1/requests"),
            ("GET", "/v1/requests/x"),
            ("POST", "/v1/requests/x/cancel"),
        ]:
            answer = anonymous.request(method, path, json={})
            assert answer.status_code == 401, path
            assert answer.json()["error"]["type"] == "unauthorized"
        wrong = anonymous.get("/v1/requests", headers={"Authorization": "Bearer iq_nope"})
        assert wrong.status_code == 401


def test_two_tokens_cannot_see_each_other_s_requests(echo_server: Server) -> None:
    other = echo_server.new_token("other")
    with echo_server.http() as mine, echo_server.http(token=other) as theirs:
        future = mine.post("/echo/predict", json={"private": 1}, headers=ASYNC).json()
        mine.get(future["poll_url"], params={"wait": 30})
        for answer in (
            theirs.get(future["poll_url"]),
            theirs.get(future["poll_url"], params={"wait": 1}),
            theirs.get(f"{future['poll_url']}/response"),
            theirs.post(f"{future['poll_url']}/cancel"),
        ):
            assert answer.status_code == 404
            assert answer.json()["error"]["type"] == "not_found"
            assert "private" not in answer.text
        assert theirs.get("/v1/requests").json()["results"] == []
        assert len(mine.get("/v1/requests").json()["results"]) == 1


def test_a_revoked_token_is_refused_at_once(echo_server: Server) -> None:
    token = echo_server.new_token("short-lived")
    listed = inferq("token", "list", "--backend", echo_server.backend).stdout
    token_id = next(line.split("\t")[0] for line in listed.splitlines() if "short-lived" in line)
    with echo_server.http(token=token) as http:
        assert http.get("/v1/requests").status_code == 200
        inferq("token", "revoke", "--backend", echo_server.backend, token_id)
        assert http.get("/v1/requests").status_code == 401
