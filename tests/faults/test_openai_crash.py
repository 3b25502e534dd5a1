"""A synchronous call through OpenAI's door whose gateway is killed mid-call loses nothing:
the request it accepted is found in ``GET /v1/requests`` and completes after the restart."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import Server, wait_until


def test_a_gateway_killed_mid_call_loses_no_accepted_transcription(
    serve: Callable[..., Server], seashells: Path
) -> None:
    gateway = serve("--no-workers", endpoints="whisper", wait_for=())
    answers: list[httpx.Response | Exception] = []

    def call() -> None:
        try:
            with gateway.http() as http:
                files = {"file": seashells.read_bytes()}
                answers.append(
                    http.post("/v1/audio/transcriptions", data={"model": "whisper-1"}, files=files)
                )
        except httpx.HTTPError as exc:
            answers.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    with gateway.http() as http:
        [pending] = wait_until(
            lambda: http.get("/v1/requests").json()["results"], what="the accepted request"
        )
    gateway.kill_tree(signal.SIGKILL)
    caller.join(30)
    assert isinstance(answers[0], httpx.HTTPError)  # the call was cut: the caller saw no answer

    restarted = serve(endpoints="whisper", backend=gateway.backend)
    with restarted.http(token=gateway.token) as http:
        state = http.get(f"/v1/requests/{pending['response_id']}", params={"wait": 60}).json()
        text = http.get(f"/v1/requests/{pending['response_id']}/response", params={"format": "text"})
    assert state["status"] == "completed"
    assert text.text == "She sells seashells by the seashore.\n"
