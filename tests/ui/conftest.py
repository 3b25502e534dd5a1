"""The dashboard in a real headless Chromium (Debian's ``chromium``), driven by Playwright.

Every page a test reaches is saved under ``test-artifacts/ui/`` for a person to look at.
A page that logs a script error, a CSP violation or opens a dialog fails its test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, expect, sync_playwright

from tests.conftest import Server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]
SCREENSHOTS = Path(__file__).parents[2] / "test-artifacts" / "ui"

#: How long an expectation waits for the page; a transcription on two busy cores takes a while.
expect.set_options(timeout=60_000)

#: Chromium logs every non-2xx fetch (a 401 on sign-in, a 503 healthcheck); those are expected.
_FAILED_FETCH = re.compile(r"^Failed to load resource: the server responded with a status of")


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One browser for the dashboard's tests, stopped after them: Playwright's sync API
    keeps an event loop running in this thread, where later tests call ``asyncio.run``."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/system-deps installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def echo_server(serve: Callable[..., Server]) -> Server:
    """An echo server of the test's own: the dashboard shows a whole gateway (its endpoints,
    workers and queue), so its tests see one that nothing else uses."""
    return serve()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab (its own sessionStorage) that records what went wrong in it."""
    context = browser.new_context(viewport={"width": 1280, "height": 820})
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not _FAILED_FETCH.match(message.text):
            problems.append(message.text)

    def on_dialog(dialog: Dialog) -> None:
        problems.append(f"dialog opened: {dialog.message}")
        dialog.dismiss()

    page.on("console", on_console)
    page.on("dialog", on_dialog)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    yield page
    context.close()
    assert problems == []


@pytest.fixture
def screenshot(page: Page, request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Save the whole page as ``test-artifacts/ui/<test>-<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")

    def save(name: str) -> None:
        page.screenshot(path=SCREENSHOTS / f"{test}-{name}.png", full_page=True)

    return save


def sign_in(page: Page, server: Server, token: str | None = None) -> None:
    """Open ``/ui`` as a user would and sign in through the form."""
    page.goto(f"{server.url}/ui")
    page.get_by_label("API token").fill(token or server.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def open_section(page: Page, name: str) -> None:
    """Follow one of the header's links: Endpoints, Requests, Try or API."""
    page.locator("#nav").get_by_role("link", name=name, exact=True).click()
