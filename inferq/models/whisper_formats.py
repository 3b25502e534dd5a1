"""A Whisper transcript in the forms clients ask for: plain text, SubRip, WebVTT, and the
``json`` and ``verbose_json`` shapes of OpenAI's speech API.

Pure functions of the endpoint's stored outputs (``{"response": {...}}``), so the gateway
renders any of them for ``?format=`` and for the OpenAI door without the model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from inferq.service.base import Rendering
from inferq.subtitles import to_srt, to_vtt

#: OpenAI's segment fields, in its order; each transcript segment has them.
SEGMENT_FIELDS = (
    "id",
    "seek",
    "start",
    "end",
    "text",
    "tokens",
    "temperature",
    "avg_logprob",
    "compression_ratio",
    "no_speech_prob",
)


def text(output: Mapping[str, Any]) -> str:
    return str(output["response"]["text"]) + "\n"


def usage(output: Mapping[str, Any]) -> dict[str, Any]:
    """What OpenAI bills Whisper by: the audio's duration in whole seconds."""
    return {"type": "duration", "seconds": math.ceil(output["response"]["duration"])}


def openai_json(output: Mapping[str, Any]) -> str:
    """OpenAI's ``json``: the text (and the usage)."""
    return json.dumps({"text": output["response"]["text"], "usage": usage(output)}, ensure_ascii=False)


def verbose_json(output: Mapping[str, Any]) -> str:
    """OpenAI's ``verbose_json``: task, language, duration, text, the segments with OpenAI's
    fields, and every word at the top level when word timestamps were asked for."""
    response = output["response"]
    segments = response["segments"]
    document: dict[str, Any] = {
        "task": response.get("task", "transcribe"),
        "language": response["language"],
        "duration": response["duration"],
        "text": response["text"],
        "segments": [{key: segment[key] for key in SEGMENT_FIELDS if key in segment} for segment in segments],
        "usage": usage(output),
    }
    if any("words" in segment for segment in segments):
        document["words"] = [
            {"word": word["word"], "start": word["start"], "end": word["end"]}
            for segment in segments
            for word in segment.get("words", ())
        ]
    return json.dumps(document, ensure_ascii=False)


PLAIN_TEXT = Rendering("text/plain; charset=utf-8", text)
#: By the names ``?format=`` takes: OpenAI's ``response_format`` values (but ``json``, which
#: is inferq's stored outputs there), and ``txt`` as the command line names plain text.
FORMATS: Mapping[str, Rendering] = {
    "text": PLAIN_TEXT,
    "txt": PLAIN_TEXT,
    "srt": Rendering("application/x-subrip", lambda output: to_srt(output["response"]["segments"])),
    "vtt": Rendering("text/vtt; charset=utf-8", lambda output: to_vtt(output["response"]["segments"])),
    "verbose_json": Rendering("application/json", verbose_json),
}
