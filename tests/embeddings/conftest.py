"""An embeddings server per backend, and the model run in this process as the reference."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from tests.conftest import BACKENDS, Server, chosen
from tests.shared_servers import drop_store, store_url


@pytest.fixture(scope="module", params=BACKENDS)
def embeddings_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("embeddings")
    server = Server(
        store_url(chosen(str(request.param)), tmp),
        ["--endpoints", "embeddings", "--sync-timeout", "120s"],
        tmp / "serve.log",
        env={"XDG_CACHE_HOME": str(tmp / "cache")},
    )
    server.start(wait_for=("embeddings",))
    yield server
    server.stop()
    drop_store(server.backend)


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., np.ndarray[Any, Any]]:
    """all-MiniLM-L6-v2 in this process, one text at a time: what the server must match."""
    from sentence_transformers import SentenceTransformer

    from inferq.models.embeddings import model_dir

    model = SentenceTransformer(str(model_dir(tmp_path_factory.mktemp("cache"))), device="cpu")

    def encode(texts: list[str], normalize: bool = True) -> np.ndarray[Any, Any]:
        return np.stack([model.encode(text, normalize_embeddings=normalize) for text in texts])

    return encode


def cosines(a: Any, b: Any) -> np.ndarray[Any, Any]:
    """Row by row cosine similarity of two stacks of vectors."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
