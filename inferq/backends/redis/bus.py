"""Wake-ups between machines over Redis pub/sub: one channel, one subscription per process.

Every process subscribes once to ``{prefix}:notify``; a message is a topic (``w:<endpoint>``
or ``r:<response_id>``) that :meth:`Bus._deliver` fans out to the waiters of this process.
One subscription per process (saq's ``PubSubMultiplexer``) because each one holds a
connection; one channel because topics are cheap to filter locally and a process would
otherwise (un)subscribe on every long poll.

Notifications are hints, never state: a waiter always re-reads the store after waking.
That is what lets both directions be lossy without losing a request:

* Publishing never blocks or fails the caller. Topics go into a bounded in-process
  outbox that one task drains, pipelining (and de-duplicating) whatever gathered.
  When Redis is unreachable they are dropped.
* The listener resubscribes after any error with exponential backoff, and on each
  (re)subscription wakes every local waiter once, because what was published while it
  was away is unknowable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from inferq.backends.bus import Bus

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)


class RedisBus(Bus):
    """Notifications for every process sharing one Redis (and one key prefix)."""

    #: Topics waiting to be published; beyond this they are dropped (Redis is down or slow).
    OUTBOX_SIZE = 10_000
    #: Most topics sent in one pipeline.
    BATCH = 500
    #: How long the listener waits for a message before checking the connection's health.
    LISTEN_TIMEOUT_S = 15.0
    MIN_BACKOFF_S = 0.1
    MAX_BACKOFF_S = 5.0
    #: ``start`` waits this long for the first subscription, then goes on (it keeps trying).
    SUBSCRIBE_WAIT_S = 5.0
    #: ``close`` waits this long for queued topics to reach Redis (a worker's last "done").
    FLUSH_S = 2.0

    def __init__(self, publisher: Redis, subscriber: Redis, channel: str) -> None:
        """``subscriber`` must not retry internally: the listener has to see each
        disconnection to wake its waiters. Neither client is closed here."""
        super().__init__()
        self.channel = channel
        self._publisher = publisher
        self._subscriber = subscriber
        self._outbox: asyncio.Queue[str] | None = None
        self._subscribed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Subscribe and start publishing; waits (briefly) for the first subscription."""
        self._outbox = asyncio.Queue(self.OUTBOX_SIZE)
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._publish())]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), self.SUBSCRIBE_WAIT_S)

    async def close(self) -> None:
        if not self._tasks:
            return
        if self._outbox is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox.join(), self.FLUSH_S)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._outbox = None

    def _send(self, topic: str) -> None:
        if self._outbox is None:  # not started: there is no one else to tell
            self._deliver(topic)
            return
        try:
            self._outbox.put_nowait(topic)
        except asyncio.QueueFull:
            log.warning("notification %s dropped: %d are already waiting for Redis", topic, self.OUTBOX_SIZE)

    async def _publish(self) -> None:
        assert self._outbox is not None
        outbox = self._outbox
        while True:
            topics = [await outbox.get()]
            while len(topics) < self.BATCH and not outbox.empty():
                topics.append(outbox.get_nowait())
            try:
                async with self._publisher.pipeline(transaction=False) as pipe:
                    for topic in dict.fromkeys(topics):
                        pipe.publish(self.channel, topic)
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                log.warning("%d notifications dropped: Redis unreachable (%s)", len(topics), exc)
            finally:
                for _ in topics:
                    outbox.task_done()

    async def _listen(self) -> None:
        backoff = self.MIN_BACKOFF_S
        while True:
            try:
                async with self._subscriber.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._deliver_all()  # notifications sent while unsubscribed are lost
                    self._subscribed.set()
                    backoff = self.MIN_BACKOFF_S
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=self.LISTEN_TIMEOUT_S
                        )
                        if message is not None:
                            self._deliver(message["data"].decode())
            except (RedisError, OSError) as exc:
                log.warning(
                    "notifications from Redis interrupted (%s); resubscribing in %.1f s", exc, backoff
                )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.MAX_BACKOFF_S)
