"""The limits of the HTTP API that clients must know, stated once.

The gateway enforces them, the SDK sizes its calls by them, the OpenAPI document and the
dashboard show them (``docs/limits.md`` lists them for people; a test holds it to these).
"""

from __future__ import annotations

#: Most inputs in one ``POST /{endpoint}/batch``: bounds one call's work and its answer.
MAX_BATCH_INPUTS = 1000
#: Most requests one ``POST /v1/requests/retry`` re-runs: a batch's worth.
MAX_RETRY_IDS = MAX_BATCH_INPUTS
#: Most ids one ``POST /v1/requests/wait`` stream follows; a client with more opens more streams.
MAX_WAIT_IDS = 10_000
#: Longest id a wait stream takes (response ids are 42 characters).
MAX_ID_LENGTH = 64
#: Most named inputs (top-level keys) in one request's body: validating millions of keys
#: would hold the gateway for seconds, and no model takes more than a few dozen.
MAX_INPUT_KEYS = 1000
#: Longest ``?wait=`` a ``GET /v1/requests/{id}`` long poll holds.
MAX_LONG_POLL_S = 60.0
#: Longest ``timeout`` one wait stream holds; a client goes on with the ids its ``end`` event lists.
MAX_WAIT_STREAM_S = 300.0
#: A wait stream's ``timeout`` when its body gives none.
DEFAULT_WAIT_STREAM_S = 60.0
#: Most requests on one page of ``GET /v1/requests`` (``?limit=``), and the default.
MAX_PAGE = 200
DEFAULT_PAGE = 50
#: The largest ``?start=`` of ``GET /v1/requests/{id}/partial`` (an index into its pieces).
MAX_PARTIAL_START = 2**31 - 1
#: Longest ``Idempotency-Key`` header.
MAX_IDEMPOTENCY_KEY = 256
#: Longest token name: a label for people, not a place to store data.
MAX_TOKEN_NAME = 200
#: Both event streams send a keep-alive comment this often, so proxies keep them open and
#: a client that hears nothing for a few of these knows the stream is lost.
STREAM_PING_S = 15.0
