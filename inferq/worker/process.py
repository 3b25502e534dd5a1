"""A worker process: open the backend, run one Worker until SIGTERM, leave cleanly."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import TYPE_CHECKING

from inferq.backends import open_backend
from inferq.blobs import open_blob_store
from inferq.service.loader import load_service
from inferq.worker.limits import limit_memory
from inferq.worker.loop import FatalModelError, Worker

if TYPE_CHECKING:
    from inferq.settings import Settings

log = logging.getLogger(__name__)


async def run_worker(settings: Settings, endpoint: str, target: str, worker_id: str | None = None) -> None:
    if settings.max_memory_bytes is not None:
        limit_memory(settings.max_memory_bytes)
    backend = open_backend(settings.backend, settings.policy())
    service = load_service(target)(endpoint)
    stop = asyncio.Event()
    blob_url = settings.blob_store_url()
    blobs = None if blob_url is None else open_blob_store(blob_url)
    await backend.start()
    worker = Worker(backend, endpoint, service, settings, worker_id, blobs)

    def stopping() -> None:
        if not stop.is_set() and worker.running:
            log.info(
                "worker %s stopping once its %d running request(s) end", worker.worker_id, worker.running
            )
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping)
    try:
        await worker.run(stop)
    except FatalModelError as exc:
        log.error("%s; exiting so that a fresh worker replaces this one", exc)
        await backend.close()
        os._exit(exc.exit_code)  # interpreter shutdown would wait for a stuck thread
    await backend.close()
