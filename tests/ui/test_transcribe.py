"""The whole path a new user takes: sign in, upload speech to ``whisper`` through the try
form, read the transcript, and find the request on its own page."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.conftest import Server
from tests.ui.conftest import open_section, sign_in


def test_upload_speech_and_read_the_transcript(
    whisper_server: Server, seashells: Path, page: Page, screenshot: Callable[[str], None]
) -> None:
    sign_in(page, whisper_server)
    open_section(page, "Try")
    expect(page.get_by_label("Endpoint")).to_have_value("whisper")
    page.get_by_label("Audio file").set_input_files(seashells)
    expect(page.get_by_label("Language")).to_have_value("en")
    page.get_by_label("Task").select_option("transcribe")
    screenshot("form")
    page.get_by_role("button", name="Submit").click()

    transcript = page.locator("#result .transcript")
    expect(transcript).to_have_text(re.compile(r"she sells seashells by the seashore", re.IGNORECASE))
    expect(page.locator("#result .badge")).to_have_text("completed")
    expect(page.locator("#result pre.output")).to_contain_text('"segments"')
    screenshot("transcript")

    page.locator("#result").get_by_role("link").click()
    expect(page.locator(".transcript")).to_have_text(re.compile(r"she sells seashells", re.IGNORECASE))
    inputs = page.locator("pre.inputs")
    expect(inputs).to_contain_text(re.compile(r"she_sells_seashells\.wav \(audio/(x-)?wav, [\d.]+ kB\)"))
    expect(inputs).to_contain_text('"language": "en"')
    expect(page.locator("ol.timeline li strong")).to_have_text(["Created", "Started", "Completed"])
    screenshot("request")

    open_section(page, "Requests")
    expect(page.locator("#requests tbody tr td:nth-child(3)")).to_have_text(["completed"])
    page.go_back()
    expect(page.locator(".transcript")).to_be_visible()
