"""Signing in to the dashboard with a token, and out again; the page itself needs no token."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.conftest import Server
from tests.ui.conftest import sign_in


def test_a_wrong_token_shows_the_api_s_message_and_a_right_one_signs_in(
    echo_server: Server, page: Page, screenshot: Callable[[str], None]
) -> None:
    sign_in_form = page.locator("#sign-in")
    page.goto(f"{echo_server.url}/ui")
    page.get_by_label("API token").fill("iq_not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(sign_in_form.get_by_role("alert")).to_have_text("invalid or revoked token")
    screenshot("wrong-token")

    sign_in(page, echo_server)
    expect(page.get_by_role("heading", name="Endpoints")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('inferq.token')") == echo_server.token

    page.get_by_role("button", name="Sign out").click()
    expect(sign_in_form).to_be_visible()
    expect(sign_in_form.get_by_role("alert")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0
    page.goto(f"{echo_server.url}/ui/#/requests")  # a bookmarked view asks for the token first
    expect(sign_in_form).to_be_visible()


def test_the_page_is_public_strict_and_carries_no_data(echo_server: Server) -> None:
    with echo_server.anonymous() as anonymous:
        redirect = anonymous.get("/ui")
        assert redirect.status_code in (307, 308)
        assert redirect.headers["location"].endswith("/ui/")
        for path in ("/ui/", "/ui/app.js", "/ui/style.css"):
            answer = anonymous.get(path)
            assert answer.status_code == 200, path
            assert "default-src 'self'" in answer.headers["content-security-policy"]
            assert "'unsafe-inline'" not in answer.headers["content-security-policy"]
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["referrer-policy"] == "no-referrer"
        assert anonymous.get("/ui/app.js").headers["content-type"].startswith("text/javascript")
        missing = anonymous.get("/ui/nothing-here.js")
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "not_found"
        assert anonymous.post("/ui/").status_code == 405
        assert anonymous.get("/v1/endpoints").status_code == 401  # the data still needs a token
