"""The Redis worker registry: per endpoint, sorted sets of live and of ready workers by
their last heartbeat (Redis time in ms), and the last failed setup's error."""

from __future__ import annotations

from typing import cast

from inferq.backends.contracts import WorkerInfo, WorkerRegistry
from inferq.backends.redis.client import Connection, Store, text
from inferq.policy import Policy


class RedisWorkers(Store, WorkerRegistry):
    def __init__(self, connection: Connection, policy: Policy) -> None:
        super().__init__(connection)
        self._lease_ms = max(1, round(policy.lease_s * 1000))

    async def beat(self, worker: WorkerInfo, now: float) -> None:
        args = (
            worker.worker_id,
            worker.endpoint,
            int(worker.ready),
            self._lease_ms,
            worker.setup_error or "",
        )
        await self.run("beat", *args)

    async def remove(self, worker_id: str) -> None:
        await self.run("remove_worker", worker_id)

    async def ready(self, endpoint: str, now: float) -> bool:
        return bool(await self.run("ready_workers", endpoint, self._lease_ms))

    async def setup_error(self, endpoint: str) -> str | None:
        return text(cast("bytes | None", await self.redis.get(self.keys.setup_error(endpoint))))

    async def counts(self, endpoint: str, now: float) -> tuple[int, int]:
        workers, ready = await self.run("worker_counts", endpoint, self._lease_ms)
        return int(workers), int(ready)
