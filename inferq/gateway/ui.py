"""The web dashboard at ``/ui/``: a static page that reads everything from the JSON API.

The page and its assets carry no data, so they are served without a token (see
``auth.PUBLIC_PREFIXES``); the browser sends the token typed into the page with every API
call. A strict Content-Security-Policy allows only this origin's own scripts and styles,
so even data that slipped into the page as markup could not run.

One asset is made here rather than shipped: ``protocol.js``, the statuses of
:mod:`inferq.protocol` as an ES module, so the page never spells them again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from inferq.protocol.requests import STATUSES, TERMINAL_STATUSES

if TYPE_CHECKING:
    from starlette.requests import Request
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


#: The wire's values the page needs, as an ES module.
PROTOCOL_JS = (
    "// Made by the gateway from inferq.protocol: the statuses a request goes through.\n"
    f"export const STATUSES = {orjson.dumps(STATUSES).decode()};\n"
    f"export const TERMINAL = new Set({orjson.dumps(sorted(TERMINAL_STATUSES)).decode()});\n"
).encode()


async def protocol_js(request: Request) -> Response:
    return Response(PROTOCOL_JS, media_type="text/javascript", headers=SECURITY_HEADERS)


def routes() -> list[BaseRoute]:
    """``/ui/`` serves ``index.html`` and the assets beside it; ``/ui`` is redirected there
    by the router."""
    return [
        Route("/ui/protocol.js", protocol_js, methods=["GET"]),
        Mount("/ui", app=DashboardFiles(directory=ASSETS, html=True), name="ui"),
    ]
