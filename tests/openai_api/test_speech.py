"""OpenAI's speech API through the official ``openai`` client: every ``response_format`` word
for word what the ``whisper`` endpoint gives, the asynchronous form, models and errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import Server

RESPOND_ASYNC = {"Prefer": "respond-async"}


def _client(server: Server, token: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=token or server.token, max_retries=0)


@pytest.fixture
def client(speech_server: Server) -> Iterator[openai.OpenAI]:
    """The official client pointed at inferq with this module's token."""
    with _client(speech_server) as made:
        yield made


def _whisper_endpoint_renderings(server: Server, audio: Path) -> dict[str, httpx.Response]:
    """The ``whisper`` endpoint's transcript of ``audio`` (a multipart submit) in each format."""
    with server.http() as http, audio.open("rb") as file:
        future = http.post("/whisper/predict", files={"audio": file}, headers={"X-OctoAI-Async": "1"}).json()
        assert http.get(future["poll_url"], params={"wait": 60}).json()["status"] == "completed"
        url = f"/v1/requests/{future['response_id']}/response"
        return {
            fmt: http.get(url, params={"format": fmt})
            for fmt in ("json", "text", "srt", "vtt", "verbose_json")
        }


def test_every_response_format_is_what_the_whisper_endpoint_gives(
    client: openai.OpenAI, speech_server: Server, talk: Path
) -> None:
    expected = _whisper_endpoint_renderings(speech_server, talk)
    transcriptions = client.audio.transcriptions

    def create(response_format: Any) -> Any:
        with talk.open("rb") as file:
            return transcriptions.create(model="whisper-1", file=file, response_format=response_format)

    text = expected["json"].json()["response"]["text"]
    assert "future" in text
    as_json = create("json")
    assert as_json.text == text
    assert as_json.usage is not None and as_json.usage.type == "duration"
    assert create("text") == expected["text"].text == text + "\n"
    srt = create("srt")
    assert srt == expected["srt"].text and srt.startswith("1\n00:00:00,000 --> ")
    vtt = create("vtt")
    assert vtt == expected["vtt"].text and vtt.startswith("WEBVTT\n\n")
    verbose = create("verbose_json")
    assert verbose.model_dump(exclude_none=True) == expected["verbose_json"].json()
    assert (verbose.text, verbose.language, verbose.task) == (text, "en", "transcribe")  # type: ignore[attr-defined]
    assert verbose.segments
    assert verbose.segments[0].tokens and verbose.segments[0].avg_logprob < 0
    assert verbose.words is None


def test_subtitles_and_text_come_as_plain_text(
    client: openai.OpenAI, speech_server: Server, talk: Path
) -> None:
    transcriptions = client.audio.transcriptions
    for fmt in ("text", "srt", "vtt"):
        with talk.open("rb") as file:
            raw = transcriptions.with_raw_response.create(model="whisper", file=file, response_format=fmt)
        assert raw.headers["content-type"] == "text/plain; charset=utf-8"


def test_word_timestamps_when_asked(client: openai.OpenAI, speech_server: Server, seashells: Path) -> None:
    with seashells.open("rb") as file:
        verbose = client.audio.transcriptions.create(
            model="whisper-1",
            file=file,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
        )
    assert verbose.words is not None
    assert "".join(word.word for word in verbose.words).strip() == verbose.text
    assert all(0 <= word.start <= word.end <= verbose.duration + 0.5 for word in verbose.words)
    assert verbose.segments is not None


def test_the_async_client_transcribes_too(speech_server: Server, seashells: Path) -> None:
    async def transcribe() -> str:
        async with openai.AsyncOpenAI(
            base_url=f"{speech_server.url}/v1", api_key=speech_server.token
        ) as client:
            answer = await client.audio.transcriptions.create(model="whisper-1", file=seashells.read_bytes())
            return answer.text

    assert asyncio.run(transcribe()) == "She sells seashells by the seashore."


def test_respond_async_answers_a_future_whose_response_takes_any_format(
    client: openai.OpenAI, speech_server: Server, talk: Path
) -> None:
    transcriptions = client.audio.transcriptions
    with talk.open("rb") as file:
        srt = transcriptions.create(model="whisper-1", file=file, response_format="srt")
    with talk.open("rb") as file:
        raw = transcriptions.with_raw_response.create(
            model="whisper-1", file=file, response_format="srt", extra_headers=RESPOND_ASYNC
        )
    assert raw.status_code == 202
    future = json.loads(raw.text)
    assert raw.headers["location"] == future["poll_url"]
    with speech_server.http() as http:
        state = http.get(future["poll_url"], params={"wait": 60}).json()
        fetched = http.get(f"/v1/requests/{future['response_id']}/response", params={"format": "srt"})
        listed = http.get("/v1/requests", params={"endpoint": "whisper"}).json()["results"]
    assert (state["status"], state["endpoint"]) == ("completed", "whisper")
    assert fetched.text == srt
    assert future["response_id"] in [each["response_id"] for each in listed]
    with speech_server.http(token=speech_server.new_token("other")) as other:
        assert other.get(future["poll_url"]).status_code == 404


def test_models_are_the_whisper_endpoints_and_whisper_1(client: openai.OpenAI, speech_server: Server) -> None:
    assert [model.id for model in client.models.list()] == ["whisper-1", "whisper", "short"]
    assert client.models.retrieve("short").owned_by == "inferq"
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("echo")
    assert missing.value.code == "model_not_found"


def test_each_whisper_endpoint_has_its_own_settings(
    client: openai.OpenAI, speech_server: Server, seashells: Path
) -> None:
    """``short`` is ``whisper`` with INFERQ_WHISPER_MAX_DURATION_S__SHORT=1: only it refuses the clip."""
    transcriptions = client.audio.transcriptions
    with seashells.open("rb") as file:
        assert (
            transcriptions.create(model="whisper", file=file).text == "She sells seashells by the seashore."
        )
    with seashells.open("rb") as file, pytest.raises(openai.UnprocessableEntityError) as refused:
        transcriptions.create(model="short", file=file)
    assert refused.value.param == "file"
    assert "longer than the limit of 1 seconds" in refused.value.message


def test_errors_take_openai_s_shape_and_inferq_s_statuses(
    client: openai.OpenAI, speech_server: Server, seashells: Path
) -> None:
    with seashells.open("rb") as file, pytest.raises(openai.NotFoundError) as unknown:
        client.audio.transcriptions.create(model="whisper-2", file=file)
    assert (unknown.value.code, unknown.value.param, unknown.value.type) == (
        "model_not_found",
        "model",
        "invalid_request_error",
    )
    with seashells.open("rb") as file, pytest.raises(openai.UnprocessableEntityError) as french:
        client.audio.transcriptions.create(model="whisper-1", file=file, language="fr")
    assert (french.value.param, french.value.code) == ("language", "invalid_input")
    with (
        _client(speech_server, token="iq_nope") as stranger,
        pytest.raises(openai.AuthenticationError) as unauthorized,
    ):
        stranger.models.list()
    assert unauthorized.value.code == "unauthorized"

    def form(route: str, **fields: str) -> dict[str, Any]:
        with speech_server.http() as http:
            answer = http.post(
                route, data={"model": "whisper-1", **fields}, files={"file": seashells.read_bytes()}
            )
        return {"status": answer.status_code, **answer.json()["error"]}

    translated = form("/v1/audio/translations")
    assert (translated["status"], translated["param"]) == (400, "model")
    assert "only transcribes English" in translated["message"]
    for field, value in [
        ("response_format", "xml"),
        ("temperature", "warm"),
        ("stream", "true"),
        ("include[]", "logprobs"),
        ("timestamp_granularities[]", "word"),  # only with verbose_json
        ("speed", "2"),
    ]:
        refused = form("/v1/audio/transcriptions", **{field: value})
        assert (refused["status"], refused["param"], refused["type"]) == (422, field, "invalid_request_error")
    with speech_server.http() as http:
        no_file = http.post("/v1/audio/transcriptions", files={"model": (None, "whisper-1")})
        not_form = http.post("/v1/audio/transcriptions", json={"model": "whisper-1"})
    assert (no_file.status_code, no_file.json()["error"]["param"]) == (422, "file")
    assert not_form.status_code == 415
    assert set(not_form.json()["error"]) >= {"message", "type", "param", "code"}
