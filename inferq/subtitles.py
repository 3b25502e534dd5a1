"""Subtitles from a transcription's segments: SubRip (``.srt``) and WebVTT (``.vtt``).

Pure functions over Whisper's ``segments`` (``{"start", "end", "text", ...}``, times in
seconds), so the formats are tested without a model and reused by any caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["timestamp", "to_srt", "to_vtt"]

Segment = Mapping[str, Any]


def timestamp(seconds: float, separator: str = ",") -> str:
    """``HH:MM:SS,mmm`` (SRT) or, with ``separator="."``, ``HH:MM:SS.mmm`` (VTT).

    Rounded to the millisecond once, so 59.9996 s reads ``00:01:00,000``, never ``00:00:60,000``.
    """
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_srt(segments: Iterable[Segment]) -> str:
    """SubRip: cues numbered from 1, ``00:00:01,234 --> 00:00:02,000``, a blank line after each."""
    cues = [
        f"{number}\n{timestamp(start)} --> {timestamp(end)}\n{text}\n"
        for number, (start, end, text) in enumerate(_cues(segments), start=1)
    ]
    return "\n".join(cues)


def to_vtt(segments: Iterable[Segment]) -> str:
    """WebVTT: the ``WEBVTT`` header, then ``00:00:01.234 --> 00:00:02.000`` cues.

    ``&``, ``<`` and ``>`` are escaped: in a cue's text they would open markup.
    """
    cues = [
        f"{timestamp(start, '.')} --> {timestamp(end, '.')}\n{_escape_vtt(text)}\n"
        for start, end, text in _cues(segments)
    ]
    return "\n".join(["WEBVTT\n", *cues])


def _cues(segments: Iterable[Segment]) -> list[tuple[float, float, str]]:
    """Start, end and text of each segment with words in it, the text on one line.

    A blank line ends a cue in both formats, so text is joined on single spaces, and
    segments without text (Whisper emits some) are dropped rather than shown empty.
    """
    cues = []
    for segment in segments:
        text = " ".join(str(segment.get("text", "")).split())
        if text:
            cues.append((float(segment["start"]), float(segment["end"]), text))
    return cues


def _escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
