"""The gateway application, assembled explicitly from routes, middleware and handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import BaseRoute, Route

from inferq.backends import BackendUnavailable
from inferq.blobs import open_blob_store
from inferq.domain import clock
from inferq.errors import APIError
from inferq.gateway import (
    batch,
    endpoints_info,
    events,
    files,
    metrics,
    openapi,
    predict,
    requests,
    responses,
    retries,
    tokens,
    ui,
    waiting,
    webhooks,
)
from inferq.gateway.auth import TokenAuth
from inferq.gateway.counters import GatewayMetrics
from inferq.gateway.estimates import Estimates
from inferq.gateway.limits import Admission
from inferq.gateway.openai import embeddings, models, speech
from inferq.gateway.positions import StreamPositions
from inferq.gateway.state import Endpoint, GatewayState
from inferq.gateway.uploads import Uploads
from inferq.service.loader import load_service
from inferq.service.schema import file_inputs, input_model
from inferq.webhooks.deliverer import Deliverer

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from inferq.backends import Backend
    from inferq.protocol.endpoints import Alive
    from inferq.settings import Settings

    Handler = Callable[[Request], Awaitable[Response]]

log = logging.getLogger(__name__)

#: How often the gateway requeues lost leases and sweeps expired requests.
MAINTENANCE_INTERVAL_S = 1.0
#: Requests deleted per sweep transaction: other writes (submits, claims, ends) wait for
#: at most one batch, a few milliseconds, while a million expire. Against 250, 100 cuts the
#: round trip's p99 during a sweep by a fifth for a sweep a fifth slower (``bench sweep``).
SWEEP_BATCH = 100


async def healthz(request: Request) -> Response:
    alive: Alive = {"status": "ok"}
    return responses.json_response(alive)


def routes() -> list[BaseRoute]:
    return [*ui.routes(), *_one_route_per_path(_HANDLERS)]


#: Method, path, handler: the API, in matching order. The endpoints' doors come first: they
#: take nearly every call, and no other path can match them (endpoint names exclude ``v1``
#: and the rest, :data:`~inferq.service.loader.RESERVED_NAMES`).
_HANDLERS: list[tuple[str, str, Handler]] = [
    ("POST", "/{endpoint}/predict", predict.predict),
    ("POST", "/{endpoint}/infer", predict.predict),
    ("POST", "/{endpoint}/batch", batch.submit_batch),
    ("GET", "/{endpoint}/healthcheck", endpoints_info.healthcheck),
    ("GET", "/healthz", healthz),
    ("GET", "/metrics", metrics.metrics),
    ("GET", "/v1/endpoints", endpoints_info.list_endpoints),
    ("GET", "/openapi.json", openapi.openapi_json),
    ("GET", "/docs", openapi.docs),
    ("GET", "/v1/requests", requests.list_requests),
    ("POST", "/v1/requests/wait", waiting.wait_many),
    ("POST", "/v1/requests/retry", retries.retry_many),
    ("GET", "/v1/requests/{response_id}", requests.get_request),
    ("DELETE", "/v1/requests/{response_id}", requests.delete_request),
    ("GET", "/v1/requests/{response_id}/response", requests.get_response),
    ("GET", "/v1/requests/{response_id}/events", events.request_events),
    ("GET", "/v1/requests/{response_id}/partial", requests.get_partial),
    ("POST", "/v1/requests/{response_id}/cancel", requests.cancel_request),
    ("POST", "/v1/requests/{response_id}/retry", retries.retry_request),
    ("GET", "/v1/requests/{response_id}/webhooks", webhooks.list_deliveries),
    ("POST", "/v1/requests/{response_id}/webhooks/redeliver", webhooks.redeliver),
    ("GET", "/v1/webhooks/secret", webhooks.get_secret),
    ("GET", "/v1/files", files.list_files),
    ("POST", "/v1/files", files.upload_file),
    ("GET", "/v1/files/{file_id}", files.get_file),
    ("DELETE", "/v1/files/{file_id}", files.delete_file),
    ("GET", "/v1/files/{file_id}/content", files.get_file_content),
    ("POST", "/v1/audio/transcriptions", speech.transcriptions),
    ("POST", "/v1/audio/translations", speech.translations),
    ("POST", "/v1/embeddings", embeddings.embeddings),
    ("GET", "/v1/models", models.list_models),
    ("GET", "/v1/models/{model}", models.get_model),
    ("GET", "/v1/tokens", tokens.list_tokens),
    ("POST", "/v1/tokens", tokens.create_token),
    ("DELETE", "/v1/tokens/{token_id}", tokens.revoke_token),
]


def _one_route_per_path(handlers: list[tuple[str, str, Handler]]) -> list[BaseRoute]:
    """A Route per path taking all its methods, so that a 405 (an OPTIONS, say) names every
    method the path answers, not only those of the first route that matched."""
    table: dict[str, dict[str, Handler]] = {}
    for method, path, handler in handlers:
        table.setdefault(path, {})[method] = handler
    return [Route(path, _dispatch(by_method), methods=list(by_method)) for path, by_method in table.items()]


def _dispatch(by_method: dict[str, Handler]) -> Handler:
    if len(by_method) == 1:
        return next(iter(by_method.values()))

    async def dispatch(request: Request) -> Response:
        return await by_method["GET" if request.method == "HEAD" else request.method](request)

    return dispatch


async def _paced(batch: Awaitable[int]) -> int:
    """Run one sweep batch, then rest as long as it took: a long sweep (a million requests
    expiring at once) takes at most half of the store's writes, so submits and results go on
    between its batches instead of queueing behind them."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    done = await batch
    await asyncio.sleep(loop.time() - started)
    return done


async def maintain(
    backend: Backend,
    uploads: Uploads,
    gateway_metrics: GatewayMetrics,
    interval: float = MAINTENANCE_INTERVAL_S,
) -> None:
    """Requeue requests of dead workers, cancel those past their deadline, and delete expired
    requests and files, forever."""
    while True:
        try:
            await backend.reap_leases()
            while await backend.miss_deadlines(SWEEP_BATCH) >= SWEEP_BATCH:
                await asyncio.sleep(0)
            while (swept := await _paced(backend.expire(clock.now(), SWEEP_BATCH))) > 0:
                gateway_metrics.retention_swept.inc(swept)
            while await uploads.sweep(SWEEP_BATCH) > 0:
                await asyncio.sleep(0)
        except BackendUnavailable as exc:
            log.warning("maintenance skipped: %s", exc)
        except Exception:
            log.exception("maintenance pass failed; retrying")
        await asyncio.sleep(interval)


def create_app(settings: Settings, backend: Backend) -> Starlette:
    """The gateway for ``settings.endpoints`` over a started ``backend``, which the caller closes."""
    services = {name: load_service(target) for name, target in settings.endpoints.items()}
    endpoints = {
        name: Endpoint(
            name,
            settings.endpoints[name],
            service,
            input_model(service),
            file_inputs(service),
            service.example,
            service.formats,
            service.version(name),
        )
        for name, service in services.items()
    }
    blob_url = settings.blob_store_url()
    blobs = None if blob_url is None else open_blob_store(blob_url)
    state = GatewayState(
        settings=settings,
        backend=backend,
        uploads=Uploads(backend, blobs, settings.max_upload_bytes),
        endpoints=endpoints,
        admission=Admission(settings),
        estimates=Estimates(backend),
        positions=StreamPositions(backend),
        metrics=GatewayMetrics(endpoints),
        openapi=openapi.openapi_document(endpoints),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        maintenance = asyncio.create_task(maintain(backend, state.uploads, state.metrics))
        delivery = asyncio.create_task(Deliverer(backend, settings, state.metrics.webhooks).run())
        try:
            yield
        finally:
            for task in (maintenance, delivery):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if blobs is not None:
                await blobs.close()

    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(AuthenticationMiddleware, backend=TokenAuth(backend), on_error=responses.on_auth_error)
        ],
        exception_handlers={
            APIError: responses.on_api_error,
            HTTPException: responses.on_http_exception,
            BackendUnavailable: responses.on_backend_unavailable,
            Exception: responses.on_unexpected,
        },
        lifespan=lifespan,
    )
    # Routes read it through ``state_of``, typed; Starlette itself never reads ``app.state``.
    app.state = state  # type: ignore[assignment]  # GatewayState in place of Starlette's untyped State
    return app
