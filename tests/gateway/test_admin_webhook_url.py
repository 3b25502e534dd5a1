"""An admin reads another tenant's request state, but never its webhook URL (API.md: an
admin never sees another tenant's inputs, outputs, error messages or webhook URLs)."""

from __future__ import annotations

from tests.conftest import Server, create_token

ASYNC = {"X-OctoAI-Async": "1"}
HOOK = "https://hooks.example.com/inferq?secret=only-mine"


def test_an_admin_never_sees_another_tenant_s_webhook(echo_server: Server) -> None:
    admin_token = create_token(echo_server.backend, "admin", admin=True)
    with echo_server.http() as owner, echo_server.http(token=admin_token) as admin:
        future = owner.post("/echo/predict", json={"x": 1}, params={"webhook": HOOK}, headers=ASYNC).json()
        own = owner.get(future["poll_url"], params={"wait": 30}).json()
        seen = admin.get(future["poll_url"]).json()
        listed = next(
            r for r in admin.get("/v1/requests").json()["results"] if r["response_id"] == own["response_id"]
        )
        mine = admin.post("/echo/predict", json={"x": 2}, params={"webhook": HOOK}, headers=ASYNC).json()
        admin_own = admin.get(mine["poll_url"]).json()
    assert future["webhook"] == own["webhook"] == HOOK
    assert seen["status"] == "completed" and seen["tenant"] != admin_own["tenant"]  # another tenant's
    assert "webhook" not in seen and "webhook" not in listed
    assert admin_own["webhook"] == HOOK  # an admin's own request is its own to read
