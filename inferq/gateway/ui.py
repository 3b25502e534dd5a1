"""The web dashboard at ``/ui/``: a static page that reads everything from the JSON API.

The page and its assets carry no data, so they are served without a token (see
``auth.PUBLIC_PREFIXES``); the browser sends the token typed into the page with every API
call. A strict Content-Security-Policy allows only this origin's own scripts and styles,
so even data that slipped into the page as markup could not run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

if TYPE_CHECKING:
    from starlette.responses import Response
    from starlette.types import Scope

#: The page, its ES modules and its stylesheet, shipped inside the package.
ASSETS = Path(__file__).with_name("ui")

#: Sent with every asset: no inline script, no foreign origin, no framing, no referrer.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


class DashboardFiles(StaticFiles):
    """Static files with :data:`SECURITY_HEADERS` on every answer."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def mount() -> Mount:
    """``/ui/`` serves ``index.html``; ``/ui`` is redirected there by the router."""
    return Mount("/ui", app=DashboardFiles(directory=ASSETS, html=True), name="ui")
