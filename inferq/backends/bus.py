"""Wake-ups: one subscription per process, fanned out to the waiters inside it.

Two topics exist: *work* for an endpoint (a worker may claim) and *changed* for a
request (it started, made progress or ended: a long poll or an event stream may
answer). A waiter registers an ``asyncio.Event`` for its topic; the process's single
listener sets them. A third, *webhooks*, tells the gateways' deliverers that a webhook
delivery was queued; a fourth, *tokens*, that a token was revoked. ``Bus`` holds the
fan-out; subclasses only move topics between processes (``LocalBus`` over Unix datagrams
for one machine, Redis pub/sub for many).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Protocol

log = logging.getLogger(__name__)

WORK = "w:"
CHANGED = "r:"
WEBHOOKS = "h:"
TOKENS = "t:"


class Waker(Protocol):
    """What a waiter registers: the bus calls ``set`` when its topic is published."""

    def set(self) -> None: ...


class ChangedSet:
    """Which of many watched requests changed since last taken, behind one event, so one
    task can follow thousands of requests and re-read only those that moved."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self._ids: set[str] = set()

    def take(self) -> set[str]:
        """The ids that changed since the last call, and clear the event."""
        ids, self._ids = self._ids, set()
        self.event.clear()
        return ids

    def mark(self, response_id: str) -> None:
        self._ids.add(response_id)
        self.event.set()


class _Mark:
    """A waker for one id of a :class:`ChangedSet`."""

    __slots__ = ("changed", "response_id")

    def __init__(self, changed: ChangedSet, response_id: str) -> None:
        self.changed = changed
        self.response_id = response_id

    def set(self) -> None:
        self.changed.mark(self.response_id)


class Bus(ABC):
    """Per-process fan-out of notifications to asyncio waiters."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[Waker]] = {}

    @abstractmethod
    async def start(self) -> None:
        """Begin receiving notifications from other processes."""

    @abstractmethod
    async def close(self) -> None:
        """Stop receiving; idempotent."""

    @abstractmethod
    def _send(self, topic: str) -> None:
        """Deliver ``topic`` to every process, this one included; best effort, never blocks."""

    def publish_work(self, endpoint: str) -> None:
        self._send(WORK + endpoint)

    def publish_changed(self, response_id: str) -> None:
        self._send(CHANGED + response_id)

    def publish_webhooks(self) -> None:
        self._send(WEBHOOKS)

    def publish_tokens(self) -> None:
        self._send(TOKENS)

    @contextlib.contextmanager
    def watch_work(self, endpoint: str) -> Iterator[asyncio.Event]:
        with self._watch(WORK + endpoint) as event:
            yield event

    @contextlib.contextmanager
    def watch_changes(self, response_id: str) -> Iterator[asyncio.Event]:
        with self._watch(CHANGED + response_id) as event:
            yield event

    @contextlib.contextmanager
    def watch_changes_of(self, response_ids: Iterable[str]) -> Iterator[ChangedSet]:
        changed = ChangedSet()
        marks = [(CHANGED + response_id, _Mark(changed, response_id)) for response_id in response_ids]
        for topic, mark in marks:
            self._waiters.setdefault(topic, set()).add(mark)
        try:
            yield changed
        finally:
            for topic, mark in marks:
                self._unwatch(topic, mark)

    @contextlib.contextmanager
    def watch_webhooks(self) -> Iterator[asyncio.Event]:
        with self._watch(WEBHOOKS) as event:
            yield event

    def follow_tokens(self, waker: Waker) -> None:
        """Call ``waker`` whenever a token is revoked (or notifications may have been lost),
        for as long as this bus lives."""
        self._waiters.setdefault(TOKENS, set()).add(waker)

    @contextlib.contextmanager
    def _watch(self, topic: str) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._waiters.setdefault(topic, set()).add(event)
        try:
            yield event
        finally:
            self._unwatch(topic, event)

    def _unwatch(self, topic: str, waker: Waker) -> None:
        waiters = self._waiters.get(topic)
        if waiters is not None:
            waiters.discard(waker)
            if not waiters:
                del self._waiters[topic]

    def _deliver(self, topic: str) -> None:
        for event in self._waiters.get(topic, ()):
            event.set()

    def _deliver_all(self) -> None:
        """Wake every waiter: after a gap in which notifications may have been lost."""
        for events in self._waiters.values():
            for event in events:
                event.set()

    @property
    def waiting(self) -> int:
        """How many waiters this process holds (for metrics and leak tests)."""
        return sum(len(events) for events in self._waiters.values())
