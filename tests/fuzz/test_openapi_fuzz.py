"""Fuzz the HTTP API from its own ``/openapi.json`` with schemathesis, on real servers.

Every operation the document lists is called with generated requests, valid ones
(schemathesis's positive mode) and invalid ones (negative mode), against ``inferq
serve`` with the echo endpoint on both backends. Checks on every response:

- ``not_a_server_error``: never a 5xx;
- ``status_code_conformance``: only status codes the document declares;
- ``content_type_conformance`` and ``response_headers_conformance``: as declared;
- ``response_schema_conformance``: bodies match the declared schemas.

Bounded for CI: :data:`MAX_EXAMPLES` cases per operation and mode, derandomized (the
same cases every run): about 550 cases per backend in about 12 s. Cases are generated
with ``operation.as_strategy`` under plain hypothesis rather than schemathesis's pytest
plugin (``schemathesis.pytest.from_fixture`` sets ``Node._nodeid``, which pytest 9.2 no
longer has: ``AttributeError: 'Function' object has no attribute '_nodeid'``).

Two values are tamed before a call, and only those:

- ``wait`` on ``GET /v1/requests/{id}``: a valid wait holds the call until the request
  ends or ``wait`` runs out (up to 60 s), which tests the clock, not the parser, so
  valid values are capped at :data:`MAX_WAIT_S`. Values outside 0..60 or of the wrong
  type pass untouched, so the 422 path is still fuzzed; long polls themselves are
  tested in tests/gateway.
- ``delay_s`` in an echo body, capped the same way: echo sleeps that long, and a
  synchronous predict waits for it.

Generated ``response_id`` values are mostly random strings (a plain 404); a fixed share
of them is replaced, deterministically (by a CRC of the generated value), with real ids:
a completed and a cancelled request of the fuzzing tenant and another tenant's request,
so the routes are also fuzzed on ids that exist, and other tenants' ids must read 404.

Not enforced (reported instead): ``negative_data_rejection``. The gateway accepts an
``X-OctoAI-Async`` header with any value, reading anything but ``1``/``true`` as "sync",
while the document declares ``enum: ["1"]``.
"""

from __future__ import annotations

import os
import secrets
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import REDIS_URL, Server, occupy

MAX_EXAMPLES = 50
MAX_WAIT_S = 0.2
ASYNC = {"X-OctoAI-Async": "1"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


#: The operations of a gateway serving ``echo``, in the order they are fuzzed; the document
#: must list them all. DELETE comes last: it may delete the real ids the others use.
#: Operations the document gains later are fuzzed too, by ``test_openapi_fuzz_new_operations``.
OPERATIONS: list[Any] = [
    "GET /v1/requests",
    "GET /v1/requests/{response_id}",
    "GET /v1/requests/{response_id}/response",
    "POST /v1/requests/{response_id}/cancel",
    "POST /echo/predict",
    "POST /echo/infer",
    "GET /echo/healthcheck",
    "GET /v1/endpoints",
    "GET /metrics",
    "DELETE /v1/requests/{response_id}",
]
KNOWN = {op if isinstance(op, str) else str(op.values[0]) for op in OPERATIONS}

#: Cases run and statuses seen, per (backend, operation, mode): reported by the last test.
SEEN: dict[tuple[str, str, str], Counter[int]] = {}


@pytest.fixture(scope="module", params=["sqlite", "redis"])
def fuzz_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One echo server per backend for the whole module; Redis under a prefix of its own."""
    kind = request.param
    if kind not in os.environ.get("INFERQ_TEST_BACKENDS", "sqlite,redis").split(","):
        pytest.skip(f"INFERQ_TEST_BACKENDS leaves out {kind}")
    tmp = tmp_path_factory.mktemp(f"fuzz-{kind}")
    prefix = f"iqfuzz-{secrets.token_hex(6)}"
    backend = f"sqlite:///{tmp / 'inferq.db'}" if kind == "sqlite" else f"{REDIS_URL}?prefix={prefix}"
    server = Server(backend, ["--endpoints", "echo", "--sync-timeout", "10s"], tmp / "serve.log")
    server.start(wait_for=("echo",))
    yield server
    server.stop()
    if kind == "redis":
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}:*", count=1000):
            client.delete(key)
        client.close()


@pytest.fixture(scope="module")
def real_ids(fuzz_server: Server) -> dict[str, str]:
    """Ids that exist: a completed and a cancelled request of the fuzzing tenant, and another
    tenant's completed request (which the fuzzing tenant must never see)."""
    other = fuzz_server.new_token("other-tenant")
    with fuzz_server.http() as http, fuzz_server.http(token=other) as theirs:
        busy = occupy(http, 1)  # occupies the worker
        queued = http.post("/echo/predict", json={"queued": True}, headers=ASYNC).json()
        assert http.post(f"{queued['poll_url']}/cancel").json()["status"] == "cancelled"
        assert http.get(busy["poll_url"], params={"wait": 30}).json()["status"] == "completed"
        foreign = theirs.post("/echo/predict", json={"theirs": True}, headers=ASYNC).json()
        assert theirs.get(foreign["poll_url"], params={"wait": 30}).json()["status"] == "completed"
    return {
        "completed": busy["response_id"],
        "cancelled": queued["response_id"],
        "foreign": foreign["response_id"],
    }


@pytest.fixture(scope="module")
def api_schema(fuzz_server: Server) -> Any:
    """The gateway's own document, loaded over HTTP with the bearer token."""
    auth = {"Authorization": f"Bearer {fuzz_server.token}"}
    config = schemathesis.Config.from_dict({"headers": auth})
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json", config=config, headers=auth)


def _kind(server: Server) -> str:
    return server.backend.split(":")[0]


def _valid_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 60


def _tame(case: Any, real_ids: dict[str, str]) -> None:
    """Cap valid waits and delays (see the module docstring) and point some ids at real requests."""
    query = case.query
    if query and _valid_number(query.get("wait")):
        query["wait"] = min(float(query["wait"]), MAX_WAIT_S)
    body = case.body
    if isinstance(body, dict) and _valid_number(body.get("delay_s")):
        body["delay_s"] = min(float(body["delay_s"]), MAX_WAIT_S)
    path = case.path_parameters
    if path and isinstance(path.get("response_id"), str):
        pick = zlib.crc32(path["response_id"].encode("utf-8", "surrogatepass")) % 6
        names = sorted(real_ids)
        if pick < len(names):
            path["response_id"] = real_ids[names[pick]]


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    auth: dict[str, str],
    real_ids: dict[str, str],
    counts: Counter[int],
    failures: list[str],
) -> None:
    """Run up to MAX_EXAMPLES cases; collect every failure (not only the first) for the report."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case: Any) -> None:
        _tame(case, real_ids)
        try:
            response = case.call_and_validate(headers=auth, checks=CHECKS, timeout=30)
        except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis's FailureGroup
            failures.append(f"{operation.label} ({mode.value}): {exc}"[:4000])
            return
        counts[response.status_code] += 1
        # another tenant's request: 404 (or 422 for a bad parameter checked first), never its data
        foreign = (case.path_parameters or {}).get("response_id") == real_ids["foreign"]
        if foreign and (response.status_code not in (404, 422) or "theirs" in response.text):
            failures.append(f"{operation.label}: another tenant's id answered {response.status_code}")

    try:
        run()
    except Unsatisfiable:
        # Nothing of this operation can be made invalid (its only parameter is a free string,
        # or it has none): there are no negative cases to send.
        assert mode is GenerationMode.NEGATIVE, operation.label


def test_the_document_lists_every_operation(fuzz_server: Server, api_schema: Any) -> None:
    labels = {result.ok().label for result in api_schema.get_all_operations()}
    assert KNOWN <= labels, f"documented no more: {sorted(KNOWN - labels)}"


def _fuzz_operation(label: str, server: Server, api_schema: Any, real_ids: dict[str, str]) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, f"the document lacks {label}"
    auth = {"Authorization": f"Bearer {server.token}"}
    failures: list[str] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        counts = SEEN.setdefault((_kind(server), label, mode.value), Counter())
        _fuzz(operation, mode, auth, real_ids, counts, failures)
    assert not failures, "\n\n".join(failures[:10])
    assert sum(SEEN[(_kind(server), label, "positive")].values()) >= 1


@pytest.mark.parametrize("label", OPERATIONS)
def test_openapi_fuzz(label: str, fuzz_server: Server, api_schema: Any, real_ids: dict[str, str]) -> None:
    """Positive and negative cases of one operation: no 5xx, and what the document declares."""
    _fuzz_operation(label, fuzz_server, api_schema, real_ids)


def test_openapi_fuzz_new_operations(fuzz_server: Server, api_schema: Any, real_ids: dict[str, str]) -> None:
    """Whatever else the document lists (routes added after this file was written)."""
    labels = sorted({result.ok().label for result in api_schema.get_all_operations()} - KNOWN)
    for label in labels:
        _fuzz_operation(label, fuzz_server, api_schema, real_ids)


def test_fuzz_report(fuzz_server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    """Report how many cases ran per operation; the server logged no unexpected error."""
    kind = _kind(fuzz_server)
    mine = {(op, mode): counts for (k, op, mode), counts in SEEN.items() if k == kind}
    total = sum(sum(counts.values()) for counts in mine.values())
    if not mine:
        pytest.skip("no fuzz test ran on this backend in this session")
    with capsys.disabled():
        print(f"\n[{kind}] schemathesis: {total} cases answered without a failed check")
        for (op, mode), counts in sorted(mine.items()):
            print(f"  {op} ({mode}): {sum(counts.values())}, statuses {dict(sorted(counts.items()))}")
    assert total >= 5 * len(mine), mine  # most (operation, mode) pairs run MAX_EXAMPLES cases
    log = fuzz_server.log()
    assert "Traceback" not in log
    assert "unexpected error" not in log
