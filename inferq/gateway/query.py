"""Query parameters the routes share the reading of."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferq.errors import InvalidInput

if TYPE_CHECKING:
    from starlette.requests import Request


def query_number(request: Request, name: str, default: float, low: float, high: float) -> float:
    """The number ``?name=`` gives, ``default`` when absent; 422 naming it when it is not a
    number from ``low`` to ``high``."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a number, got {raw!r}", field=name) from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be between {low:g} and {high:g}, got {raw}", field=name)
    return value
