"""Absolute URLs for futures: from the configured public URL, else from the request."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.requests import Request


def base_url(request: Request) -> str:
    public: str | None = request.app.state.settings.public_url
    return (public or str(request.base_url)).rstrip("/")


def poll_url(request: Request, response_id: str) -> str:
    return f"{base_url(request)}/v1/requests/{response_id}"


def response_url(request: Request, response_id: str) -> str:
    return f"{poll_url(request, response_id)}/response"
