"""The try form: JSON inputs to any endpoint, followed to their output or error, and data
from the API shown as text, never run as markup."""

from __future__ import annotations

import json
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.conftest import SERVICES, Server
from tests.ui.conftest import open_section, sign_in

#: Markup that would run a script if the page ever inserted data as HTML.
HOSTILE = "<img src=x onerror=\"document.title='owned'\"><script>document.title='owned'</script>"


def _submit(page: Page, endpoint: str, inputs: dict[str, object]) -> None:
    open_section(page, "Try")
    page.get_by_label("Endpoint").select_option(endpoint)
    page.get_by_label("Inputs (a JSON object)").fill(json.dumps(inputs))
    page.get_by_role("button", name="Submit").click()


def test_a_failed_request_shows_its_error_on_the_form_and_its_page(
    serve: Callable[..., Server], page: Page, screenshot: Callable[[str], None]
) -> None:
    server = serve(endpoints=f"echo,raises={SERVICES / 'raises.py'}:Raises")
    sign_in(page, server)
    _submit(page, "raises", {"boom": 1})
    result = page.locator("#result")
    expect(result.locator(".badge")).to_have_text("failed")
    expect(result.get_by_role("alert")).to_contain_text("RuntimeError: model exploded on ['boom']")
    screenshot("form")

    result.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("failed")
    expect(page.get_by_role("heading", name="Error")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("model exploded on ['boom']")
    expect(page.locator("ol.timeline li strong")).to_have_text(["Created", "Started", "Failed"])
    expect(page.locator("pre.inputs")).to_have_text('{\n  "boom": 1\n}')
    screenshot("request")


def test_bad_json_is_refused_in_the_page_and_bad_inputs_show_the_api_s_message(
    serve: Callable[..., Server], page: Page
) -> None:
    server = serve(endpoints="echo")
    sign_in(page, server)
    open_section(page, "Try")
    page.get_by_label("Inputs (a JSON object)").fill("{not json")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("alert")).to_contain_text("Inputs are not valid JSON")
    page.get_by_label("Inputs (a JSON object)").fill('{"delay_s": 999}')
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("alert")).to_contain_text("delay_s")  # the API's 422 names the field
    expect(page.locator("#result")).to_be_empty()


def test_markup_in_data_is_shown_as_text(
    echo_server: Server, page: Page, screenshot: Callable[[str], None]
) -> None:
    sign_in(page, echo_server)
    _submit(page, "echo", {"note": HOSTILE})
    output = page.locator("#result pre.output")
    expect(output).to_contain_text(HOSTILE.replace('"', '\\"'))  # as JSON text, quotes escaped
    page.locator("#result").get_by_role("link").click()
    expect(page.locator("pre.inputs")).to_contain_text(HOSTILE.replace('"', '\\"'))
    expect(page.locator("pre.output")).to_contain_text(HOSTILE.replace('"', '\\"'))
    screenshot("request")
    assert page.locator("img").count() == 0
    assert page.locator("main script").count() == 0
    assert page.title() == "inferq"
