"""The whisper endpoint through HTTP: real speech, every common container, the same text as in process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from inferq.models.whisper_config import MAX_CPU_WORKERS
from inferq.models.whisper_formats import SEGMENT_FIELDS
from tests.audio import SEASHELLS, make_speech
from tests.conftest import Server, b64, wait_until
from tests.whisper_reference import direct_transcribe

ASYNC = {"X-OctoAI-Async": "1"}


def test_transcribes_speech_synchronously_and_asynchronously_alike(
    whisper_server: Server, seashells: Path
) -> None:
    inputs = {"audio": b64(seashells), "language": "en", "task": "transcribe"}
    with whisper_server.http() as http:
        sync = http.post("/whisper/predict", json=inputs)
        future = http.post("/whisper/predict", json=inputs, headers=ASYNC).json()
        state = http.get(future["poll_url"], params={"wait": 60}).json()
        fetched = http.get(state["response_url"])
    assert sync.status_code == 200, sync.text
    response = sync.json()["response"]
    assert "She sells seashells by the seashore" in response["segments"][0]["text"]
    assert response["language"] == "en"
    assert 1.0 < response["duration"] < 10.0
    assert response["task"] == "transcribe"
    assert set(response["segments"][0]) == set(SEGMENT_FIELDS)
    assert fetched.content == sync.content


@pytest.mark.parametrize(
    ("fmt", "rate", "channels"),
    [
        ("wav", 16000, 1),
        ("wav", 44100, 2),
        ("flac", 48000, 2),
        ("ogg", 22050, 1),
        ("mp3", 44100, 2),
        ("m4a", 44100, 1),
        ("webm", 48000, 2),
    ],
    ids=lambda v: str(v),
)
def test_every_common_container_gives_what_faster_whisper_gives_in_process(
    whisper_server: Server, tmp_path: Path, fmt: str, rate: int, channels: int
) -> None:
    clip = make_speech(tmp_path / f"clip.{fmt}", SEASHELLS, rate=rate, channels=channels, fmt=fmt)
    with whisper_server.http() as http:
        answer = http.post("/whisper/predict", json={"audio": b64(clip)})
    assert answer.status_code == 200, answer.text
    assert answer.json()["response"]["text"] == direct_transcribe(clip)


def test_without_workers_given_there_is_one_per_core_each_with_a_thread(whisper_server: Server) -> None:
    cores = len(os.sched_getaffinity(0))
    expected = min(cores, MAX_CPU_WORKERS)
    with whisper_server.http() as http:

        def ready_workers() -> int:
            [whisper] = http.get("/v1/endpoints").json()["endpoints"]
            return int(whisper["ready_workers"])

        wait_until(lambda: ready_workers() == expected, what=f"{expected} whisper workers")
    for pid in whisper_server.workers():
        with open(f"/proc/{pid}/environ", "rb") as environ:
            variables = dict(line.split(b"=", 1) for line in environ.read().split(b"\0") if b"=" in line)
        assert int(variables[b"INFERQ_WORKER_THREADS"]) == max(1, cores // expected)
    threads = max(1, cores // expected)
    assert f"on cpu (int8), {threads} CPU threads, batches of up to 1" in whisper_server.log()  # auto, no GPU


def test_word_timestamps_when_asked(whisper_server: Server, seashells: Path) -> None:
    with whisper_server.http() as http:
        segment = http.post(
            "/whisper/predict", json={"audio": b64(seashells), "word_timestamps": True}
        ).json()["response"]["segments"][0]
    words = [w["word"].strip(" .") for w in segment["words"]]
    assert words[:3] == ["She", "sells", "seashells"]
    assert all(w["start"] <= w["end"] for w in segment["words"])


def test_options_reach_the_model(whisper_server: Server, seashells: Path) -> None:
    options = {"beam_size": 1, "temperature": 0.0, "vad_filter": True, "prompt": "Seashells."}
    with whisper_server.http() as http:
        answer = http.post("/whisper/predict", json={"audio": b64(seashells), **options})
    assert answer.status_code == 200
    assert answer.json()["response"]["text"] == direct_transcribe(
        seashells, beam_size=1, temperature=0.0, vad_filter=True, initial_prompt="Seashells."
    )


def test_an_mp3_sent_as_a_part_or_an_upload_is_heard_as_its_base64_is(
    whisper_server: Server, tmp_path: Path
) -> None:
    clip = make_speech(tmp_path / "talk.mp3", SEASHELLS, rate=44100, channels=2, fmt="mp3")
    with whisper_server.http() as http:
        inline = http.post("/whisper/predict", json={"audio": b64(clip)})
        part = http.post("/whisper/predict", files={"audio": ("talk.mp3", clip.read_bytes(), "audio/mpeg")})
        upload = http.post("/v1/files", files={"file": ("talk.mp3", clip.read_bytes(), "audio/mpeg")}).json()
        future = http.post(
            "/whisper/predict",
            json={"audio": f"inferq://files/{upload['id']}", "language": "en"},
            headers=ASYNC,
        ).json()
        state = http.get(future["poll_url"], params={"wait": 60}).json()
        by_reference = http.get(state["response_url"])
    assert inline.status_code == part.status_code == by_reference.status_code == 200, part.text
    assert "seashells" in inline.json()["response"]["text"].lower().replace(" ", "")
    assert part.json() == by_reference.json() == inline.json()


def test_a_transcript_is_rendered_as_text_subtitles_or_verbose_json(
    whisper_server: Server, seashells: Path
) -> None:
    with whisper_server.http() as http:
        future = http.post("/whisper/predict", json={"audio": b64(seashells)}, headers=ASYNC).json()
        state = http.get(future["poll_url"], params={"wait": 60}).json()
        output = http.get(state["response_url"]).json()["response"]
        rendered = {
            fmt: http.get(state["response_url"], params={"format": fmt})
            for fmt in ("txt", "srt", "vtt", "verbose_json", "json", "docx")
        }
    assert rendered["txt"].text == output["text"] + "\n"
    assert rendered["txt"].headers["content-type"].startswith("text/plain")
    first = output["segments"][0]
    assert rendered["srt"].text.startswith(f"1\n00:00:00,000 --> 00:00:0{int(first['end'])},")
    assert rendered["vtt"].text.startswith("WEBVTT\n\n00:00:00.000 --> ")
    assert rendered["vtt"].headers["content-type"].startswith("text/vtt")
    assert rendered["verbose_json"].json() == {
        **{k: output[k] for k in ("task", "text", "language", "duration", "segments")},
        "usage": {"type": "duration", "seconds": 3},
    }
    assert rendered["json"].json()["response"] == output
    assert rendered["docx"].status_code == 422
    assert "json, text, txt, srt, vtt, verbose_json" in rendered["docx"].json()["error"]["message"]
