"""``/v1/tokens``: admin tokens create, list and revoke tokens over HTTP; user tokens get 403.

Also the two ways an admin token comes to be without HTTP: ``inferq token create --admin``
and the first token ``inferq serve`` mints on an empty store.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from inferq import APIError, Forbidden
from tests.conftest import Server, create_token, inferq

TOKEN = re.compile(r"^iq_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
LISTED_KEYS = {"id", "name", "admin", "created_at", "revoked_at"}


def token_id(token: str) -> str:
    return "tok_" + TOKEN.match(token).group(1)  # type: ignore[union-attr]


def test_a_user_token_gets_403_on_every_token_route_and_on_metrics(echo_server: Server) -> None:
    with echo_server.http(token=echo_server.admin_token) as operator:
        tokens_before = operator.get("/v1/tokens").json()
    with echo_server.http() as user:
        mine = token_id(echo_server.token)
        for method, path, body in [
            ("GET", "/v1/tokens", None),
            ("POST", "/v1/tokens", {"name": "x"}),
            ("POST", "/v1/tokens", {"name": "x", "admin": True}),
            ("DELETE", f"/v1/tokens/{mine}", None),
            ("DELETE", "/v1/tokens/tok_nope", None),
            ("GET", "/metrics", None),
            ("GET", f"/v1/requests?tenant={mine}", None),
        ]:
            answer = user.request(method, path, json=body)
            assert answer.status_code == 403, (method, path)
            assert answer.json()["error"]["type"] == "forbidden"
            assert "admin token" in answer.json()["error"]["message"]
            assert isinstance(APIError.from_body(answer.status_code, answer.json()), Forbidden)
        assert user.get("/v1/requests").status_code == 200  # nothing was revoked or created
        assert user.get("/v1/endpoints").status_code == 200  # queue and workers: open to every token
    with echo_server.http(token=echo_server.admin_token) as operator:
        assert operator.get("/v1/tokens").json() == tokens_before  # none made, none revoked


def test_an_admin_creates_a_token_that_works_until_the_admin_revokes_it(echo_server: Server) -> None:
    admin_token = echo_server.new_token("ops", admin=True)
    with echo_server.http(token=admin_token) as admin:
        created = admin.post("/v1/tokens", json={"name": "alice"})
        assert created.status_code == 201
        doc = created.json()
        assert set(doc) == {"id", "name", "admin", "created_at", "token"}
        assert (doc["name"], doc["admin"]) == ("alice", False)
        assert TOKEN.match(doc["token"]) and token_id(doc["token"]) == doc["id"]
        with echo_server.http(token=doc["token"]) as alice:
            assert alice.get("/v1/requests").status_code == 200
            assert alice.get("/v1/tokens").status_code == 403  # a user token, as asked
            revoked = admin.delete(f"/v1/tokens/{doc['id']}")
            assert revoked.status_code == 200
            assert revoked.json()["id"] == doc["id"] and revoked.json()["revoked_at"] is not None
            refused = alice.get("/v1/requests")
            assert (refused.status_code, refused.json()["error"]["type"]) == (401, "unauthorized")
        again = admin.delete(f"/v1/tokens/{doc['id']}")  # idempotent: answered as it is
        assert (again.status_code, again.json()) == (200, revoked.json())
        unknown = admin.delete("/v1/tokens/tok_000000000000")
        assert (unknown.status_code, unknown.json()["error"]["type"]) == (404, "not_found")


def test_an_admin_token_made_over_http_is_an_admin(echo_server: Server) -> None:
    admin_token = echo_server.new_token("ops", admin=True)
    with echo_server.http(token=admin_token) as admin:
        made = admin.post("/v1/tokens", json={"name": "second-operator", "admin": True}).json()
    assert made["admin"] is True
    with echo_server.http(token=made["token"]) as second:
        assert second.get("/metrics").status_code == 200
        listed = second.get("/v1/tokens").json()["results"]
    mine = [token_id(echo_server.token), token_id(admin_token), made["id"]]  # the newest three
    assert [(t["id"], t["name"], t["admin"]) for t in listed[-3:]] == [
        (mine[0], "test", False),
        (mine[1], "ops", True),
        (mine[2], "second-operator", True),
    ]
    kinds = {
        line.split("\t")[0]: line.split("\t")[-1]
        for line in inferq("token", "list", "--backend", echo_server.backend).stdout.splitlines()
    }
    assert [kinds[i] for i in mine] == ["user", "admin", "admin"]


def test_the_token_list_never_holds_a_secret(echo_server: Server) -> None:
    admin_token = echo_server.new_token("ops", admin=True)
    with echo_server.http(token=admin_token) as admin:
        made = [admin.post("/v1/tokens", json={"name": f"t{i}"}).json()["token"] for i in range(3)]
        admin.delete(f"/v1/tokens/{token_id(made[0])}")
        answer = admin.get("/v1/tokens")
    assert answer.status_code == 200
    listed = answer.json()["results"]
    newest = listed[-5:]  # this test's, after other tests' tokens on the shared server
    assert [t["name"] for t in newest] == ["test", "ops", "t0", "t1", "t2"]  # oldest first, revoked included
    assert [t["id"] for t in newest[:2]] == [token_id(echo_server.token), token_id(admin_token)]
    assert all(set(t) == LISTED_KEYS for t in listed)
    assert [t["revoked_at"] is not None for t in newest] == [False, False, True, False, False]
    for token in [echo_server.token, admin_token, *made]:
        secret = TOKEN.match(token).group(2)  # type: ignore[union-attr]
        assert secret[:16] not in answer.text
        assert hashlib.sha256(token.encode()).hexdigest() not in answer.text


BAD_BODIES = [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": 7}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "x", "admin": "yes"}, "admin"),
    ({"name": "x", "admin": 1}, "admin"),
    ({"name": "x", "role": "admin"}, "role"),
    ([{"name": "x"}], "body"),
]


def test_a_bad_token_body_is_a_422_naming_the_field(echo_server: Server) -> None:
    with echo_server.http(token=echo_server.new_token("ops", admin=True)) as admin:
        tokens_before = admin.get("/v1/tokens").json()
        for body, field in BAD_BODIES:
            answer = admin.post("/v1/tokens", json=body)
            assert answer.status_code == 422, body
            error = answer.json()["error"]
            assert (error["type"], error["field"]) == ("invalid_input", field)
        not_json = admin.post("/v1/tokens", content=b"{", headers={"Content-Type": "application/json"})
        assert (not_json.status_code, not_json.json()["error"]["type"]) == (400, "invalid_json")
        assert admin.get("/v1/tokens").json() == tokens_before  # none was made


def test_an_admin_may_revoke_its_own_token(echo_server: Server) -> None:
    """Allowed, even for the last admin: the operator mints another with ``inferq token create --admin``."""
    admin_token = echo_server.new_token("ops", admin=True)
    with echo_server.http(token=admin_token) as admin:
        assert admin.delete(f"/v1/tokens/{token_id(admin_token)}").status_code == 200
        assert admin.get("/v1/tokens").status_code == 401
    restored = create_token(echo_server.backend, "ops-again", admin=True)
    with echo_server.http(token=restored) as admin:
        assert admin.get("/v1/tokens").status_code == 200


def test_token_create_admin_on_the_command_line(backend_url: str) -> None:
    created = inferq("token", "create", "--backend", backend_url, "--name", "ops", "--admin").stdout
    user = inferq("token", "create", "--backend", backend_url, "--name", "alice").stdout
    assert "created admin token tok_" in created and "created user token tok_" in user
    listed = inferq("token", "list", "--backend", backend_url).stdout.splitlines()
    rows = [(row[1], row[3], row[4]) for row in (line.split("\t") for line in listed)]
    assert rows == [("ops", "active", "admin"), ("alice", "active", "user")]


def test_the_first_token_serve_mints_is_an_admin_token(backend_url: str, tmp_path: Path) -> None:
    server = Server(backend_url, ["--endpoints", "echo", "--no-workers"], tmp_path / "serve.log", token="-")
    server.start()
    try:
        [first] = [line.strip() for line in server.log().splitlines() if TOKEN.match(line.strip())]
        listed = inferq("token", "list", "--backend", backend_url).stdout.splitlines()
        assert [line.split("\t")[-1] for line in listed] == ["admin"]
        with server.http(token=first) as operator:
            assert operator.get("/metrics").status_code == 200
            made = operator.post("/v1/tokens", json={"name": "alice"})
            assert made.status_code == 201
            assert [(t["id"], t["admin"]) for t in operator.get("/v1/tokens").json()["results"]] == [
                (token_id(first), True),
                (made.json()["id"], False),
            ]
        with server.anonymous() as anonymous:
            assert anonymous.get("/v1/tokens").status_code == 401
    finally:
        server.stop()
