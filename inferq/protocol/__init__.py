"""The wire: every document the HTTP API sends or takes, and its public limits, defined once.

The gateway builds its answers as these types (:mod:`~inferq.protocol.render` from the
domain's records), the SDK reads them and sizes its calls by :mod:`~inferq.protocol.limits`,
and the OpenAPI document's schemas are generated from them (:mod:`~inferq.protocol.schema`),
so the three cannot drift apart. The documents are ``TypedDict``: plain dicts at run time,
checked by mypy where they are built, and turned into JSON Schema by pydantic.

- :mod:`~inferq.protocol.requests`: the status document, the 202 answer, pages, deletion;
- :mod:`~inferq.protocol.streams`: the events of the two server-sent event streams;
- :mod:`~inferq.protocol.errors`: ``{"error": {"type", "message", ...}}``;
- :mod:`~inferq.protocol.tokens`, :mod:`~inferq.protocol.webhooks`,
  :mod:`~inferq.protocol.endpoints`: the rest of the API's documents.
"""
