"""Every answer the gateway gives matches its own ``/openapi.json``, on real servers.

Each route is called over HTTP until it has given each status it can give here (errors
included), and every answer is checked against the document: its status is declared for
the operation, its media type too, and its body validates against the declared schema
(JSON bodies as they are; each server-sent event by its name, its ``data`` against the
event's ``contentSchema``). Validation is strict: an object may hold no field its schema
does not list, so a field the gateway sends and the document forgets fails here.

Two servers per backend: the echo server, and a gateway alone (``--no-workers``) serving
the echo Service as ``held``, with small limits, for the answers only limits give (413,
429, 503, 504) and for requests that stay pending. At the end, every (operation, status)
the document declares must have been seen, or be one of :data:`NOT_PRODUCED`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
from httpx_sse import connect_sse

from tests.conftest import Server, create_token, wait_until
from tests.shared_servers import CHAPTERS

ASYNC = {"X-OctoAI-Async": "1"}
#: The endpoint names of the two servers, which the document lists as paths of their own.
ENDPOINTS = ("echo", "held", "chapters")
#: An id no request has.
UNKNOWN = "req_0000000000000000"
#: Deeper than an output may nest (254 levels): the echo worker fails to serialise it (502).
TOO_DEEP: Any = 0
for _ in range(300):
    TOO_DEEP = [TOO_DEEP]

#: Declared answers these tests cannot cause, and why.
NOT_PRODUCED = {
    ("POST /{endpoint}/predict", 503): "the store unavailable",
    ("POST /{endpoint}/batch", 503): "the store unavailable",
    ("GET /v1/endpoints", 503): "the store unavailable",
    ("POST /v1/files", 429): "a rate limit",
    ("POST /v1/requests/retry", 429): "a rate limit",
    ("POST /v1/files", 503): "the blob store unavailable",
    ("GET /v1/files/{file_id}/content", 503): "the blob store unavailable",
}


def _strict(node: Any) -> Any:
    """The schema with ``additionalProperties: false`` on every object that lists its fields."""
    if isinstance(node, dict):
        strict = {key: _strict(value) for key, value in node.items()}
        if "properties" in strict and "additionalProperties" not in strict:
            strict["additionalProperties"] = False
        return strict
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


@dataclass
class Conformance:
    """Checks answers against one server's document and records what it has seen."""

    document: dict[str, Any]
    seen: set[tuple[str, int]] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.components = _strict(copy.deepcopy(self.document["components"]))
        self.endpoint = next(name for name in ENDPOINTS if f"/{name}/predict" in self.document["paths"])
        self.routes = [
            (re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$"), path, path.count("{"))
            for path in self.document["paths"]
        ]

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        """The documented operation ``method path`` calls: the most literal template that
        matches; an endpoint this server does not serve is answered by the routes of those it does."""
        for candidate in (path, re.sub(r"^/[^/]+/", f"/{self.endpoint}/", path)):
            matches = sorted(
                (params, template)
                for pattern, template, params in self.routes
                if pattern.match(candidate) and method.lower() in self.document["paths"][template]
            )
            if matches:
                template = matches[0][1]
                return template, self.document["paths"][template][method.lower()]
        raise AssertionError(f"{method} {path} is not in the document")

    def call(
        self, http: httpx.Client, method: str, path: str, expect: int | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Call ``method path`` and check its JSON answer; ``expect`` is the status the call
        is made to cause."""
        response = http.request(method, path, **kwargs)
        self._check(method, path, response, expect)
        return response

    def stream(
        self, http: httpx.Client, method: str, path: str, expect: int = 200, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """Call a route that answers server-sent events; check each event (or the error
        answered instead of a stream); return the events parsed."""
        events: list[tuple[str, Any]] = []
        with connect_sse(http, method, path, **kwargs) as source:
            response = source.response
            if response.status_code >= 400:
                response.read()
                self._check(method, path, response, expect)
                return []
            assert response.status_code == expect, f"{method} {path}: {response.status_code}"
            declared = self._declared(method, path, response)
            assert declared is not None and declared[0] == "text/event-stream", declared
            branches = {branch["properties"]["event"]["const"]: branch for branch in declared[1]["oneOf"]}
            for sse in source.iter_sse():
                where = f"{method} {path} event {sse.event!r}"
                branch = branches.get(sse.event)
                if branch is None:
                    self.failures.append(f"{where}: not an event the document names")
                    continue
                self._validate(branch, {"event": sse.event, "data": sse.data, "id": sse.id}, where)
                data = json.loads(sse.data)
                self._validate(branch["properties"]["data"]["contentSchema"], data, where)
                events.append((sse.event, data))
        return events

    def _check(self, method: str, path: str, response: httpx.Response, expect: int | None) -> None:
        if expect is not None:
            assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        declared = self._declared(method, path, response)
        if declared is not None and declared[0] == "application/json":
            self._validate(declared[1], response.json(), f"{method} {path} → {response.status_code}")

    def _declared(self, method: str, path: str, response: httpx.Response) -> tuple[str, Any] | None:
        """The media type and schema the document declares for this answer; a failure if none."""
        template, operation = self.operation(method, path)
        status = response.status_code
        self.seen.add((f"{method} {_generic(template)}", status))
        answers = operation["responses"]
        answer = answers.get(str(status)) or answers.get(f"{str(status)[0]}XX")
        where = f"{method} {path} → {status}"
        if answer is None:
            self.failures.append(f"{where}: status not declared ({sorted(answers)}): {response.text[:300]}")
            return None
        media_type = response.headers.get("content-type", "").split(";")[0].strip()
        content = answer.get("content", {})
        declared = content.get(media_type) or content.get("*/*")
        if declared is None:
            self.failures.append(f"{where}: {media_type!r} is not declared ({sorted(content)})")
            return None
        return media_type, declared["schema"]

    def _validate(self, schema: dict[str, Any], instance: Any, where: str) -> None:
        validator = jsonschema_rs.validator_for({**_strict(schema), "components": self.components})
        errors = [str(error).split("\n")[0] for error in validator.iter_errors(instance)]
        if errors:
            self.failures.append(f"{where}: {'; '.join(errors)}: {json.dumps(instance)[:500]}")


def _generic(template: str) -> str:
    """An endpoint's route as the routes of every endpoint (``/{endpoint}/predict``); the
    ``/infer`` alias counts as ``/predict``, which it is."""
    parts = template.split("/")
    if len(parts) == 3 and parts[1] in ENDPOINTS:
        action = "predict" if parts[2] == "infer" else parts[2]
        return f"/{{endpoint}}/{action}"
    return template


def _finished(http: httpx.Client, poll_url: str) -> None:
    state = http.get(poll_url, params={"wait": 30}).json()
    assert state["status"] in ("completed", "failed", "cancelled"), state


def _service_routes(check: Conformance, http: httpx.Client, admin: httpx.Client) -> None:
    check.call(http, "GET", "/healthz")
    check.call(http, "GET", "/openapi.json")
    check.call(http, "GET", "/docs")
    check.call(http, "GET", "/v1/endpoints")
    check.call(http, "GET", "/metrics")
    check.call(admin, "GET", "/metrics")
    check.call(http, "GET", "/echo/healthcheck")
    check.call(http, "GET", "/nope/healthcheck")


def _submit_routes(check: Conformance, http: httpx.Client) -> dict[str, str]:
    """Every answer of predict and batch; returns the ids of requests that ended each way."""
    check.call(http, "POST", "/echo/predict", json={"a": 1}, expect=200)
    check.call(http, "POST", "/echo/infer", json={"a": 2}, expect=200)
    done = check.call(http, "POST", "/echo/predict", json={"a": 3}, headers=ASYNC).json()
    hooked = check.call(
        http,
        "POST",
        "/echo/predict",
        json={"a": 4},
        params={"webhook": "http://127.0.0.1:9/hook"},
        headers={"Prefer": "respond-async"},
    ).json()
    keyed = {"Idempotency-Key": "conformance", **ASYNC}
    check.call(http, "POST", "/echo/predict", json={"a": 5}, headers=keyed)
    check.call(http, "POST", "/echo/predict", json={"a": 6}, headers=keyed, expect=409)
    check.call(http, "POST", "/echo/predict", content=b"{nope", expect=400)
    check.call(http, "POST", "/nope/predict", json={}, expect=404)
    check.call(
        http, "POST", "/echo/predict", content=b"a", headers={"Content-Type": "text/plain"}, expect=415
    )
    check.call(http, "POST", "/echo/predict", json={"delay_s": -1}, expect=422)
    urgent = {"Inferq-Priority": "urgent"}
    check.call(http, "POST", "/echo/predict", json={}, headers=urgent, expect=403)  # for admin tokens
    check.call(http, "POST", "/echo/batch", json={"inputs": [{}]}, headers=urgent, expect=403)
    check.call(http, "POST", "/echo/predict", json={"deep": TOO_DEEP}, expect=502)
    failed = check.call(http, "POST", "/echo/predict", json={"deep": TOO_DEEP}, headers=ASYNC).json()

    batch_key = {"Idempotency-Key": "conformance-batch"}
    check.call(
        http, "POST", "/echo/batch", json={"inputs": [{"b": 1}, {"b": 2}]}, headers=batch_key, expect=202
    )
    check.call(http, "POST", "/echo/batch", json={"inputs": [{"b": 3}]}, headers=batch_key, expect=409)
    check.call(
        http, "POST", "/echo/batch", content=b"[", headers={"Content-Type": "application/json"}, expect=400
    )
    check.call(http, "POST", "/nope/batch", json={"inputs": [{}]}, expect=404)
    check.call(http, "POST", "/echo/batch", content=b"{}", headers={"Content-Type": "text/csv"}, expect=415)
    check.call(http, "POST", "/echo/batch", json={"inputs": [{}, 7]}, expect=422)
    for future in (done, hooked, failed):
        _finished(http, future["poll_url"])
    return {
        "completed": done["response_id"],
        "hooked": hooked["response_id"],
        "failed": failed["response_id"],
    }


def _request_routes(check: Conformance, http: httpx.Client, admin: httpx.Client, ids: dict[str, str]) -> None:
    for response_id in ids.values():
        check.call(http, "GET", f"/v1/requests/{response_id}")
        check.call(admin, "GET", f"/v1/requests/{response_id}")  # another tenant's, as an admin sees it
    running = check.call(http, "POST", "/echo/predict", json={"delay_s": 3}, headers=ASYNC).json()
    wait_until(lambda: http.get(running["poll_url"]).json()["status"] == "running", 30, "a running request")
    check.call(http, "GET", f"/v1/requests/{running['response_id']}")
    check.call(http, "GET", f"/v1/requests/{UNKNOWN}", expect=404)
    check.call(http, "GET", f"/v1/requests/{UNKNOWN}", params={"wait": "soon"}, expect=422)

    check.call(http, "GET", "/v1/requests", params={"limit": 1})
    check.call(admin, "GET", "/v1/requests")
    check.call(http, "GET", "/v1/requests", params={"tenant": "tok_x"}, expect=403)
    check.call(http, "GET", "/v1/requests", params={"status": "lost"}, expect=422)

    check.call(http, "GET", f"/v1/requests/{ids['completed']}/response", expect=200)
    check.call(http, "GET", f"/v1/requests/{ids['completed']}/response", params={"format": "srt"}, expect=422)
    check.call(http, "GET", f"/v1/requests/{ids['failed']}/response", expect=502)
    check.call(http, "GET", f"/v1/requests/{UNKNOWN}/response", expect=404)
    check.call(http, "POST", f"/v1/requests/{ids['completed']}/cancel", expect=409)
    check.call(http, "POST", f"/v1/requests/{UNKNOWN}/cancel", expect=404)

    events = check.stream(http, "GET", f"/v1/requests/{running['response_id']}/events")
    assert events and events[-1][0] == "completed", events
    check.stream(http, "GET", f"/v1/requests/{UNKNOWN}/events", expect=404)
    body = {"chapters": ["a b", "c"], "seconds_each": 0.3}
    chapters = check.call(http, "POST", "/chapters/predict", json=body, headers=ASYNC).json()
    events = check.stream(http, "GET", f"/v1/requests/{chapters['response_id']}/events")
    assert "output" in [kind for kind, _ in events], events
    check.call(http, "GET", f"/v1/requests/{chapters['response_id']}/partial", params={"start": 1})
    check.call(http, "GET", f"/v1/requests/{UNKNOWN}/partial", expect=404)
    check.call(
        http, "GET", f"/v1/requests/{chapters['response_id']}/partial", params={"start": "x"}, expect=422
    )
    wait = {"response_ids": [ids["completed"], ids["failed"], UNKNOWN], "include_output": True}
    ends = check.stream(http, "POST", "/v1/requests/wait", json=wait)
    assert sorted(kind for kind, _ in ends) == ["done", "done", "end", "missing"], ends
    check.stream(http, "POST", "/v1/requests/wait", json={"response_ids": ["a"], "timeout": 0.2})
    check.stream(
        http,
        "POST",
        "/v1/requests/wait",
        content=b"{",
        headers={"Content-Type": "application/json"},
        expect=400,
    )
    check.stream(
        http, "POST", "/v1/requests/wait", content=b"{}", headers={"Content-Type": "text/plain"}, expect=415
    )
    check.stream(http, "POST", "/v1/requests/wait", json={"response_ids": []}, expect=422)

    _retry_routes(check, http, ids)
    check.call(http, "DELETE", f"/v1/requests/{ids['completed']}", expect=200)
    check.call(http, "DELETE", f"/v1/requests/{ids['completed']}", expect=404)


def _retry_routes(check: Conformance, http: httpx.Client, ids: dict[str, str]) -> None:
    check.call(http, "POST", f"/v1/requests/{ids['failed']}/retry", expect=202)
    check.call(http, "POST", f"/v1/requests/{ids['completed']}/retry", expect=409)
    check.call(http, "POST", f"/v1/requests/{UNKNOWN}/retry", expect=404)
    check.call(
        http, "POST", f"/v1/requests/{ids['failed']}/retry", headers={"Inferq-Priority": "x"}, expect=422
    )
    urgent = {"Inferq-Priority": "urgent"}
    check.call(http, "POST", f"/v1/requests/{ids['failed']}/retry", headers=urgent, expect=403)
    check.call(http, "POST", "/v1/requests/retry", json={"status": "failed"}, headers=urgent, expect=403)
    bulk = {"response_ids": [ids["failed"], ids["completed"], UNKNOWN]}
    results = check.call(http, "POST", "/v1/requests/retry", json=bulk).json()["results"]
    assert ["request" in result for result in results] == [True, False, False], results
    check.call(http, "POST", "/v1/requests/retry", json={"status": "failed", "since": "2020-01-01T00:00:00Z"})
    check.call(http, "POST", "/v1/requests/retry", json={"status": "lost"}, expect=422)
    check.call(
        http,
        "POST",
        "/v1/requests/retry",
        content=b"{",
        headers={"Content-Type": "application/json"},
        expect=400,
    )
    check.call(
        http, "POST", "/v1/requests/retry", content=b"{}", headers={"Content-Type": "text/plain"}, expect=415
    )


def _webhook_routes(check: Conformance, http: httpx.Client, ids: dict[str, str]) -> None:
    check.call(http, "GET", "/v1/webhooks/secret")
    check.call(http, "GET", f"/v1/requests/{ids['hooked']}/webhooks")
    check.call(http, "GET", f"/v1/requests/{UNKNOWN}/webhooks", expect=404)
    check.call(http, "POST", f"/v1/requests/{ids['hooked']}/webhooks/redeliver", expect=202)
    check.call(http, "POST", f"/v1/requests/{ids['failed']}/webhooks/redeliver", expect=409)
    check.call(http, "POST", f"/v1/requests/{UNKNOWN}/webhooks/redeliver", expect=404)


def _token_routes(check: Conformance, http: httpx.Client, admin: httpx.Client) -> None:
    check.call(admin, "GET", "/v1/tokens")
    check.call(http, "GET", "/v1/tokens", expect=403)
    created = check.call(admin, "POST", "/v1/tokens", json={"name": "conformance"}).json()
    check.call(http, "POST", "/v1/tokens", json={"name": "x"}, expect=403)
    check.call(
        admin, "POST", "/v1/tokens", content=b"{", headers={"Content-Type": "application/json"}, expect=400
    )
    check.call(admin, "POST", "/v1/tokens", content=b"x", headers={"Content-Type": "text/plain"}, expect=415)
    check.call(admin, "POST", "/v1/tokens", json={"name": ""}, expect=422)
    check.call(admin, "DELETE", f"/v1/tokens/{created['id']}", expect=200)
    check.call(http, "DELETE", f"/v1/tokens/{created['id']}", expect=403)
    check.call(admin, "DELETE", "/v1/tokens/tok_000000000000", expect=404)


def _file_routes(check: Conformance, http: httpx.Client) -> None:
    made = check.call(http, "POST", "/v1/files", files={"file": ("a.txt", b"hello")}, expect=201).json()
    check.call(http, "POST", "/v1/files", content=b"raw", headers={"Content-Type": "audio/ogg"}, expect=201)
    check.call(http, "POST", "/v1/files", files={"other": ("a.txt", b"x")}, expect=422)
    broken = {"Content-Type": "multipart/form-data; boundary=b"}
    check.call(http, "POST", "/v1/files", content=b"--b\r\nnonsense", headers=broken, expect=400)
    check.call(http, "GET", "/v1/files", params={"limit": 1}, expect=200)
    check.call(http, "GET", "/v1/files", params={"limit": 0}, expect=422)
    check.call(http, "GET", "/v1/files", params={"before": "file_x"}, expect=404)
    check.call(http, "GET", f"/v1/files/{made['id']}", expect=200)
    response = http.get(f"/v1/files/{made['id']}/content")
    assert response.content == b"hello"
    check._check("GET", f"/v1/files/{made['id']}/content", response, 200)
    check.call(http, "GET", "/v1/files/file_x/content", expect=404)
    check.call(http, "POST", f"/{check.endpoint}/predict", files={"file": ("a", b"x")}, expect=200)
    check.call(http, "DELETE", f"/v1/files/{made['id']}", expect=200)
    check.call(http, "GET", f"/v1/files/{made['id']}", expect=404)
    check.call(http, "DELETE", f"/v1/files/{made['id']}", expect=404)


def _limit_routes(check: Conformance, http: httpx.Client, admin: httpx.Client) -> None:
    """On the gateway without workers: 503, 504, 413, 429, and requests that stay pending."""
    check.call(http, "GET", "/held/healthcheck", expect=503)
    check.call(http, "POST", "/held/predict", json={"sync": True}, expect=504)
    big = {"x": "x" * 5000}
    check.call(http, "POST", "/held/predict", json=big, expect=413)
    check.call(http, "POST", "/held/batch", json={"inputs": [big]}, expect=413)
    check.call(admin, "POST", "/v1/tokens", json={"name": "x" * 5000}, expect=413)
    check.stream(http, "POST", "/v1/requests/wait", json={"response_ids": ["x" * 5000]}, expect=413)
    check.call(http, "POST", "/v1/files", files={"file": ("big", b"x" * 5000)}, expect=413)
    pending = check.call(http, "POST", "/held/predict", json={"pending": True}, headers=ASYNC).json()
    check.call(http, "POST", "/held/predict", json={"one": "more"}, headers=ASYNC, expect=429)
    check.call(http, "POST", "/held/batch", json={"inputs": [{}]}, expect=429)
    response_id = pending["response_id"]
    check.call(http, "GET", f"/v1/requests/{response_id}")
    check.call(http, "GET", f"/v1/requests/{response_id}/response", expect=409)
    check.call(http, "DELETE", f"/v1/requests/{response_id}", expect=409)
    check.call(http, "POST", f"/v1/requests/{response_id}/cancel", expect=200)
    check.call(http, "POST", f"/v1/requests/{response_id}/retry", expect=202)
    check.call(http, "POST", f"/v1/requests/{response_id}/retry", expect=429)  # the queue is full again
    check.call(http, "POST", "/v1/requests/retry", json={"response_ids": ["x" * 5000]}, expect=413)


def _unauthorized(check: Conformance, server: Server) -> None:
    """Every operation but the public ones, without a token: 401."""
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        for template, operations in check.document["paths"].items():
            path = re.sub(r"\{[^/]+\}", "x", template)
            for method, operation in operations.items():
                if operation.get("security") == []:
                    continue
                check.call(anonymous, method.upper(), path, expect=401)


def test_every_answer_matches_the_document(serve: Callable[..., Server], tmp_path: Path) -> None:
    """On a store of its own: the listing and token routes are checked with every tenant's data."""
    echo_server = serve("--blob-store", (tmp_path / "blobs").as_uri(), endpoints=f"echo,{CHAPTERS}")
    held = serve(
        "--no-workers",
        "--max-queue",
        "2",
        "--sync-timeout",
        "1s",
        "--max-body",
        "4096",
        "--max-upload",
        "4096",
        endpoints="held=inferq.models.echo:Echo",
        wait_for=(),
        backend=echo_server.backend,
    )
    admin_token = create_token(echo_server.backend, "conformance-admin", admin=True)
    other = create_token(echo_server.backend, "conformance-other")
    with echo_server.http() as mine, echo_server.http(token=admin_token) as admin:
        check = Conformance(mine.get("/openapi.json").json())
        _service_routes(check, mine, admin)
        ids = _submit_routes(check, mine)
        _request_routes(check, mine, admin, ids)
        _webhook_routes(check, mine, ids)
        _token_routes(check, mine, admin)
        _file_routes(check, mine)
        _unauthorized(check, echo_server)
    with held.http(token=other) as theirs, held.http(token=admin_token) as admin:
        limits = Conformance(theirs.get("/openapi.json").json())
        _limit_routes(limits, theirs, admin)

    failures = check.failures + limits.failures
    assert not failures, "\n".join(failures)
    seen = check.seen | limits.seen
    declared = {
        (f"{method.upper()} {_generic(template)}", int(status))
        for document in (check.document, limits.document)
        for template, operations in document["paths"].items()
        for method, operation in operations.items()
        for status in operation["responses"]
    }
    missing = sorted(declared - seen - set(NOT_PRODUCED))
    assert not missing, f"declared answers no call produced: {missing}"
    assert not set(NOT_PRODUCED) & seen, "produced after all: take them out of NOT_PRODUCED"
