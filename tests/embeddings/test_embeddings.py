"""The embeddings endpoint and OpenAI's door to it, checked against the model in process."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest

from inferq import Client
from tests.conftest import Server, inferq
from tests.embeddings.conftest import cosines

SENTENCES = [
    "The cat sat on the mat.",
    "A feline rested on a rug.",
    "Quarterly revenue grew by eight percent.",
    "Speech recognition turns audio into text.",
    "She sells seashells by the seashore.",
]


@pytest.fixture
def client(embeddings_server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{embeddings_server.url}/v1", api_key=embeddings_server.token) as made:
        yield made


def test_the_openai_client_gets_the_model_s_vectors(
    client: openai.OpenAI, reference: Callable[..., Any]
) -> None:
    answer = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])  # base64, as it asks
    vectors = [item.embedding for item in answer.data]
    assert [item.index for item in answer.data] == [0, 1]
    assert (answer.model, answer.usage.prompt_tokens, answer.usage.total_tokens) == (
        "text-embedding-3-small",
        6,
        6,
    )
    assert cosines(vectors, reference(["a", "b"])).min() >= 0.9999
    as_floats = client.embeddings.create(
        model="all-minilm-l6-v2", input=SENTENCES[0], encoding_format="float"
    )
    assert cosines([as_floats.data[0].embedding], reference(SENTENCES[:1])).min() >= 0.9999
    assert abs(np.linalg.norm(as_floats.data[0].embedding) - 1) < 1e-5


def test_requests_that_arrive_together_equal_one_at_a_time(
    embeddings_server: Server, reference: Callable[..., Any]
) -> None:
    inputs = [{"input": text} for text in SENTENCES * 8] + [{"input": SENTENCES, "normalize": False}]
    with embeddings_server.http() as http:
        futures = http.post("/embeddings/batch", json={"inputs": inputs}).json()["results"]
        states = [http.get(f["poll_url"], params={"wait": 60}).json() for f in futures]
        outputs = [http.get(state["response_url"]).json() for state in states]
    singles = np.array([output["embeddings"][0] for output in outputs[:-1]])
    assert cosines(singles, reference(SENTENCES * 8)).min() >= 0.9999
    unnormalised = outputs[-1]
    assert cosines(unnormalised["embeddings"], reference(SENTENCES, normalize=False)).min() >= 0.9999
    assert np.allclose(
        np.linalg.norm(unnormalised["embeddings"], axis=1),
        np.linalg.norm(reference(SENTENCES, normalize=False), axis=1),
        rtol=1e-4,
    )
    assert unnormalised["dimensions"] == 384 and unnormalised["tokens"] > len(SENTENCES)


def test_the_sdk_calls_it_as_any_endpoint(embeddings_server: Server) -> None:
    with Client(token=embeddings_server.token, base_url=embeddings_server.url) as sdk:
        output = sdk.infer(f"{embeddings_server.url}/embeddings/predict", {"input": SENTENCES[:2]})
    assert len(output["embeddings"]) == 2 and len(output["embeddings"][0]) == 384


def test_respond_async_gives_a_future_whose_response_reads_in_openai_s_shape(
    client: openai.OpenAI, embeddings_server: Server
) -> None:
    raw = client.embeddings.with_raw_response.create(
        model="text-embedding-3-small", input=SENTENCES, extra_headers={"Prefer": "respond-async"}
    )
    assert raw.status_code == 202
    future = json.loads(raw.text)
    with embeddings_server.http() as http:
        assert http.get(future["poll_url"], params={"wait": 60}).json()["status"] == "completed"
        document = http.get(
            f"/v1/requests/{future['response_id']}/response", params={"format": "openai"}
        ).json()
    assert document["object"] == "list" and [item["index"] for item in document["data"]] == list(range(5))
    assert len(document["data"][0]["embedding"]) == 384


def test_models_and_bad_requests(client: openai.OpenAI, embeddings_server: Server) -> None:
    assert [model.id for model in client.models.list()] == [
        "text-embedding-3-small",
        "all-minilm-l6-v2",
        "embeddings",
    ]
    with pytest.raises(openai.BadRequestError) as shortened:
        client.embeddings.create(model="text-embedding-3-small", input="x", dimensions=256)
    assert shortened.value.param == "dimensions"
    with pytest.raises(openai.NotFoundError) as unknown:
        client.embeddings.create(model="text-embedding-ada-002", input="x")
    assert unknown.value.code == "model_not_found"

    def refused(**body: Any) -> dict[str, Any]:
        with embeddings_server.http() as http:
            answer = http.post("/v1/embeddings", json={"model": "text-embedding-3-small", **body})
        assert answer.status_code == 422, answer.text
        return dict(answer.json()["error"])

    assert refused(input=[])["param"] == "input"
    assert refused(input=["ok", ""])["param"] == "input"
    assert "2048" in refused(input=["x"] * 2049)["message"]
    assert "token arrays" in refused(input=[[1, 2, 3]])["message"]
    assert refused(input="x", encoding_format="int8")["param"] == "encoding_format"
    assert refused(input="x", temperature=1)["param"] == "temperature"


def test_the_command_line_embeds_a_file_line_by_line_in_order(
    embeddings_server: Server, reference: Callable[..., Any], tmp_path: Path
) -> None:
    lines = [f"{SENTENCES[i % len(SENTENCES)]} (line {i + 1})" for i in range(150)]
    lines[9] = "   "  # blank: skipped, its number kept by the others
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    connection = ["--url", embeddings_server.url, "--token", embeddings_server.token]
    ran = inferq("embed", str(source), "--per-request", "64", "--progress", *connection)
    rows = [json.loads(row) for row in ran.stdout.splitlines()]
    assert [row["line"] for row in rows] == [n for n in range(1, 151) if n != 10]
    assert [row["text"] for row in rows] == [line for line in lines if line.strip()]
    sample = rows[::37]
    assert (
        cosines([row["embedding"] for row in sample], reference([row["text"] for row in sample])).min()
        >= 0.9999
    )
    assert "Embedding" in ran.stderr and "embedded 149 lines" in ran.stderr
