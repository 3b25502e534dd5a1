"""Absolute URLs for futures: from the configured public URL, else from the request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferq.gateway.state import state_of

if TYPE_CHECKING:
    from starlette.requests import Request


def base_url(request: Request) -> str:
    public = state_of(request).settings.public_url
    return (public or str(request.base_url)).rstrip("/")


def poll_url(request: Request, response_id: str) -> str:
    return f"{base_url(request)}/v1/requests/{response_id}"


def response_url(request: Request, response_id: str) -> str:
    return f"{poll_url(request, response_id)}/response"
