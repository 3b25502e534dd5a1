"""The embeddings endpoint: ``--texts`` short sentences (8 to 30 words), each its own request,
through inferq with batching on and off (one worker), against all-MiniLM-L6-v2 called
directly in this process with batches of 32. Figures are texts/s and their ratios:
batched to unbatched, and batched to direct.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import store_url, summarize
from bench.scaleout import forget
from inferq import Client, as_completed
from inferq.models.embeddings import ENCODE_BATCH, model_dir
from tests.conftest import Server

WORDS = [
    "the",
    "a",
    "model",
    "queue",
    "request",
    "server",
    "future",
    "result",
    "audio",
    "text",
    "speech",
    "long",
    "short",
    "quick",
    "slow",
    "worker",
    "gateway",
    "durable",
    "batch",
    "vector",
    "search",
    "meaning",
    "river",
    "city",
    "music",
    "paper",
    "light",
    "water",
    "garden",
    "window",
    "morning",
    "evening",
    "friend",
    "question",
    "answer",
    "system",
    "number",
    "table",
    "market",
    "summer",
]


def sentences(count: int, seed: int = 7) -> list[str]:
    dice = random.Random(seed)
    return [" ".join(dice.choices(WORDS, k=dice.randint(8, 30))).capitalize() + "." for _ in range(count)]


def direct(texts: list[str], cache: Path) -> float:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir(cache)), device="cpu")
    model.encode(texts[:ENCODE_BATCH])  # warm, as the worker is by its setup
    started = time.perf_counter()
    model.encode(texts, batch_size=ENCODE_BATCH, normalize_embeddings=True)
    return len(texts) / (time.perf_counter() - started)


def through_inferq(backend: str, tmp: Path, texts: list[str], batch_size: int) -> float:
    env = {"XDG_CACHE_HOME": str(tmp / "cache"), "INFERQ_EMBEDDINGS_BATCH_SIZE": str(batch_size)}
    args = ["--endpoints", "embeddings", "--workers", "1"]
    server = Server(backend, args, tmp / f"embeddings-{batch_size}.log", env=env).start(("embeddings",))
    try:
        with Client(token=server.token, base_url=server.url) as client:
            client.infer("embeddings", {"input": texts[0]})  # warm
            started = time.perf_counter()
            futures = client.infer_batch("embeddings", [{"input": text} for text in texts])
            assert sum(1 for _ in as_completed(futures, timeout=1800)) == len(texts)
            return len(texts) / (time.perf_counter() - started)
    finally:
        server.stop()
        forget(backend)


def run(backends: list[str], runs: int, count: int) -> dict[str, Any]:
    texts = sentences(count)
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for backend in backends:
            results[backend] = [
                {
                    "direct": direct(texts, root / "cache"),
                    "batched": through_inferq(store_url(backend, root), root, texts, 64),
                    "unbatched": through_inferq(store_url(backend, root), root, texts, 1),
                }
                for _ in range(runs)
            ]
    rows = []
    for backend, series in results.items():
        rows.append(summarize(backend, "embeddings_direct_texts_per_s", [r["direct"] for r in series]))
        rows.append(summarize(backend, "embeddings_unbatched_texts_per_s", [r["unbatched"] for r in series]))
        rows.append(
            summarize(
                backend,
                "embeddings_batched_texts_per_s",
                [r["batched"] for r in series],
                {
                    "unbatched": [r["batched"] / r["unbatched"] for r in series],
                    "direct": [r["batched"] / r["direct"] for r in series],
                },
            )
        )
    return {"runs": results, "rows": rows}
