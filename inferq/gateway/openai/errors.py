"""OpenAI's error shape, ``{"error": {"message", "type", "param", "code"}}``, on OpenAI's routes.

The status codes are inferq's (422 for a bad input, 429, 503, ...): OpenAI's clients raise
by status. ``code`` is inferq's error type (or OpenAI's own code where one exists, such as
``model_not_found``), ``param`` the field that was wrong, and inferq's other details
(``retry_after``, ``poll_url`` of a synchronous call that timed out) are kept beside them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Paths of OpenAI's API that inferq serves; their errors take OpenAI's shape.
OPENAI_PATHS = ("/v1/audio/", "/v1/models", "/v1/embeddings")


def speaks_openai(path: str) -> bool:
    return path.startswith(OPENAI_PATHS)


def openai_error_body(status: int, kind: str, message: str, details: Mapping[str, Any]) -> dict[str, Any]:
    rest = dict(details)
    param = rest.pop("field", None)
    code = rest.pop("code", kind)
    category = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": message, "type": category, "param": param, "code": code, **rest}}
