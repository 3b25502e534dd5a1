"""The Celery reference: a no-op task with Redis as broker and result backend."""

import os

from celery import Celery

BROKER = os.environ.get("BENCH_CELERY_REDIS", "redis://127.0.0.1:6379/14")

app = Celery("bench", broker=BROKER, backend=BROKER)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=64,
    broker_connection_retry_on_startup=True,
)


@app.task
def noop(payload: dict) -> dict:  # type: ignore[type-arg]
    return payload
