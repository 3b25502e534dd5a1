"""The API reference, which needs the token, opened from the signed-in dashboard."""

from __future__ import annotations

import json
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.conftest import Server
from tests.ui.conftest import open_section, sign_in


def test_the_api_reference_is_one_click_away(
    echo_server: Server, page: Page, screenshot: Callable[[str], None]
) -> None:
    sign_in(page, echo_server)
    open_section(page, "API")
    reference = page.locator(".docs")
    expect(reference.get_by_role("heading", name="echo")).to_be_visible()
    expect(reference).to_contain_text("POST /echo/predict")
    screenshot("api")
    with page.expect_download() as download:
        page.get_by_role("link", name="openapi.json").click()
    document = json.loads(download.value.path().read_text(encoding="utf-8"))
    assert "/echo/predict" in document["paths"]
