"""The gateway application, assembled explicitly from routes, middleware and handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
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

log = logging.getLogger(__name__)

#: How often the gateway requeues lost leases and sweeps expired requests.
MAINTENANCE_INTERVAL_S = 1.0
#: Requests deleted per sweep transaction: other writes (submits, claims, ends) wait for
#: at most one batch, a few milliseconds, while a million expire.
SWEEP_BATCH = 250


async def healthz(request: Request) -> Response:
    alive: Alive = {"status": "ok"}
    return responses.json_response(alive)


def routes() -> list[BaseRoute]:
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics.metrics, methods=["GET"]),
        Route("/v1/endpoints", endpoints_info.list_endpoints, methods=["GET"]),
        Route("/openapi.json", openapi.openapi_json, methods=["GET"]),
        Route("/docs", openapi.docs, methods=["GET"]),
        *ui.routes(),
        Route("/v1/requests", requests.list_requests, methods=["GET"]),
        Route("/v1/requests/wait", waiting.wait_many, methods=["POST"]),
        Route("/v1/requests/{response_id}", requests.get_request, methods=["GET"]),
        Route("/v1/requests/{response_id}", requests.delete_request, methods=["DELETE"]),
        Route("/v1/requests/{response_id}/response", requests.get_response, methods=["GET"]),
        Route("/v1/requests/{response_id}/events", events.request_events, methods=["GET"]),
        Route("/v1/requests/{response_id}/cancel", requests.cancel_request, methods=["POST"]),
        Route("/v1/requests/{response_id}/webhooks", webhooks.list_deliveries, methods=["GET"]),
        Route("/v1/requests/{response_id}/webhooks/redeliver", webhooks.redeliver, methods=["POST"]),
        Route("/v1/webhooks/secret", webhooks.get_secret, methods=["GET"]),
        Route("/v1/files", files.list_files, methods=["GET"]),
        Route("/v1/files", files.upload_file, methods=["POST"]),
        Route("/v1/files/{file_id}", files.get_file, methods=["GET"]),
        Route("/v1/files/{file_id}", files.delete_file, methods=["DELETE"]),
        Route("/v1/files/{file_id}/content", files.get_file_content, methods=["GET"]),
        Route("/v1/audio/transcriptions", speech.transcriptions, methods=["POST"]),
        Route("/v1/audio/translations", speech.translations, methods=["POST"]),
        Route("/v1/embeddings", embeddings.embeddings, methods=["POST"]),
        Route("/v1/models", models.list_models, methods=["GET"]),
        Route("/v1/models/{model}", models.get_model, methods=["GET"]),
        Route("/v1/tokens", tokens.list_tokens, methods=["GET"]),
        Route("/v1/tokens", tokens.create_token, methods=["POST"]),
        Route("/v1/tokens/{token_id}", tokens.revoke_token, methods=["DELETE"]),
        Route("/{endpoint}/predict", predict.predict, methods=["POST"]),
        Route("/{endpoint}/infer", predict.predict, methods=["POST"]),
        Route("/{endpoint}/batch", batch.submit_batch, methods=["POST"]),
        Route("/{endpoint}/healthcheck", endpoints_info.healthcheck, methods=["GET"]),
    ]


async def maintain(
    backend: Backend,
    uploads: Uploads,
    gateway_metrics: GatewayMetrics,
    interval: float = MAINTENANCE_INTERVAL_S,
) -> None:
    """Requeue requests of dead workers and delete expired requests and files, forever."""
    while True:
        try:
            await backend.reap_leases()
            while (swept := await backend.expire(clock.now(), SWEEP_BATCH)) > 0:
                gateway_metrics.retention_swept.inc(swept)
                await asyncio.sleep(0)
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
