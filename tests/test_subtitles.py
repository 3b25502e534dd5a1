"""SubRip and WebVTT from Whisper segments: timestamps, numbering, what breaks a cue."""

from __future__ import annotations

import re

import pytest

from inferq.subtitles import timestamp, to_srt, to_vtt

SEGMENTS = [
    {"id": 0, "start": 0.0, "end": 1.234, "text": " She sells seashells"},
    {"id": 1, "start": 1.234, "end": 3661.5, "text": " by the seashore."},
]


@pytest.mark.parametrize(
    ("seconds", "srt", "vtt"),
    [
        (0, "00:00:00,000", "00:00:00.000"),
        (1.234, "00:00:01,234", "00:00:01.234"),
        (3661.5, "01:01:01,500", "01:01:01.500"),
        (59.9996, "00:01:00,000", "00:01:00.000"),  # rounded once: never 00:00:60,000
        (0.0004, "00:00:00,000", "00:00:00.000"),
        (-0.2, "00:00:00,000", "00:00:00.000"),
        (360000, "100:00:00,000", "100:00:00.000"),
    ],
)
def test_timestamps_use_a_comma_for_srt_and_a_dot_for_vtt(seconds: float, srt: str, vtt: str) -> None:
    assert timestamp(seconds) == srt
    assert timestamp(seconds, ".") == vtt


def test_srt_numbers_cues_from_one_with_a_blank_line_between() -> None:
    assert to_srt(SEGMENTS) == (
        "1\n00:00:00,000 --> 00:00:01,234\nShe sells seashells\n"
        "\n"
        "2\n00:00:01,234 --> 01:01:01,500\nby the seashore.\n"
    )


def test_vtt_starts_with_its_header_and_has_no_numbers() -> None:
    assert to_vtt(SEGMENTS) == (
        "WEBVTT\n"
        "\n"
        "00:00:00.000 --> 00:00:01.234\nShe sells seashells\n"
        "\n"
        "00:00:01.234 --> 01:01:01.500\nby the seashore.\n"
    )


def test_segments_without_words_are_left_out_and_numbering_stays_continuous() -> None:
    segments = [SEGMENTS[0], {"start": 1.3, "end": 1.9, "text": "  "}, SEGMENTS[1]]
    numbers = re.findall(r"^(\d+)$", to_srt(segments), re.MULTILINE)
    assert numbers == ["1", "2"]
    assert to_vtt(segments).count("-->") == 2


def test_text_that_would_end_a_cue_early_is_kept_on_one_line() -> None:
    segments = [{"start": 0, "end": 1, "text": "one\n\ntwo \n three"}]
    assert to_srt(segments) == "1\n00:00:00,000 --> 00:00:01,000\none two three\n"


def test_vtt_escapes_what_would_open_markup() -> None:
    cue = to_vtt([{"start": 0, "end": 1, "text": "Tom & Jerry <3 -> a>b"}])
    assert cue.splitlines()[-1] == "Tom &amp; Jerry &lt;3 -&gt; a&gt;b"


def test_no_segments_give_an_empty_srt_and_a_bare_vtt_header() -> None:
    assert to_srt([]) == ""
    assert to_vtt([]) == "WEBVTT\n"
