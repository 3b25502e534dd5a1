"""The reference: a bare Starlette POST endpoint on uvicorn, the HTTP ceiling of one process here."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def hello(request: Request) -> Response:
    await request.body()
    return Response(b'{"hello":"world"}', media_type="application/json")


app = Starlette(routes=[Route("/hello", hello, methods=["POST", "GET"])])
