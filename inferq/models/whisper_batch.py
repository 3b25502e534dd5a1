"""Several short clips in one CTranslate2 call: the batch form of the Whisper endpoint.

Clips of at most 30 s that share their options are padded to one 30-second window each
and decoded together by faster-whisper's batched pipeline (``BatchedInferencePipeline``),
greedy or beam search alike, with the prompt and timestamp rules of one-by-one decoding;
``tests/whisper`` checks that each transcript is word for word the one-by-one one. What
that pipeline cannot do the same way (longer clips, ``vad_filter``, language detection,
the temperature fallback) runs one by one instead.

Off by default (``INFERQ_WHISPER_BATCH_SIZE`` = 1): on a 2-core CPU, two workers decoding
up to eight clips per call served 1.76x direct against 1.72x for the same two workers one
clip at a time (``python -m bench.whisper_throughput --clips 16 --runs 2``), a difference
within the run's noise, while a batch costs each clip the wait for the others; the CPU
kernels gain little from batching. On a GPU, batching is where the throughput is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]

SAMPLE_RATE = 16000
WINDOW_S = 30.0
#: Options under which one-by-one decoding takes a path the batched pipeline lacks.
_ONE_BY_ONE = {"vad_filter": True, "language": None}


def batchable(samples: np.ndarray, options: dict[str, Any]) -> bool:
    return len(samples) <= WINDOW_S * SAMPLE_RATE and all(options[k] != v for k, v in _ONE_BY_ONE.items())


def transcribe_together(
    model: WhisperModel, clips: list[np.ndarray], options: dict[str, Any]
) -> list[list[dict[str, Any]]]:
    """Each clip's segments (``text``, ``start``, ``end`` and ``words`` when asked), decoded in one batch."""
    import numpy as np
    from faster_whisper import BatchedInferencePipeline
    from faster_whisper.audio import pad_or_trim  # type: ignore[import-untyped]
    from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]
    from faster_whisper.transcribe import TranscriptionOptions, get_suppressed_tokens  # type: ignore[import-untyped]

    tokenizer = Tokenizer(
        model.hf_tokenizer, model.model.is_multilingual, task=options["task"], language=options["language"]
    )
    settings = TranscriptionOptions(
        beam_size=options["beam_size"],
        best_of=5,
        patience=1,
        length_penalty=1,
        repetition_penalty=1,
        no_repeat_ngram_size=0,
        log_prob_threshold=-1.0,
        no_speech_threshold=0.6,
        compression_ratio_threshold=2.4,
        condition_on_previous_text=False,
        prompt_reset_on_temperature=0.5,
        temperatures=[options["temperature"]],
        initial_prompt=options["prompt"],
        prefix=None,
        suppress_blank=True,
        suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        without_timestamps=False,
        max_initial_timestamp=1.0,
        word_timestamps=options["word_timestamps"],
        prepend_punctuations="\"'“¿([{-",
        append_punctuations="\"'.。,，!！?？:：”)]}、",
        multilingual=False,
        max_new_tokens=None,
        clip_timestamps="0",
        hallucination_silence_threshold=None,
        hotwords=None,
    )
    features = np.stack([pad_or_trim(model.feature_extractor(clip)[..., :-1]) for clip in clips])
    chunks = [
        {"offset": 0.0, "duration": len(clip) / SAMPLE_RATE, "segments": [{"start": 0, "end": len(clip)}]}
        for clip in clips
    ]
    return list(BatchedInferencePipeline(model).forward(features, tokenizer, chunks, settings))
