"""Job progress events: what a subscriber sees, and the bus that carries them between processes.

The database is the source of truth: every event is a ``job_events`` row, written before it
is published. The bus (in-process, or Redis pub/sub in scale-out mode) only makes delivery
immediate. :func:`watch_job` therefore replays the stored events first, then follows the bus,
and re-reads the table whenever the bus is quiet, so a subscriber misses nothing and sees
each event once, in order, whether it subscribed before, during or after the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from core.jobs.status import TERMINAL_STATUSES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobEvent:
    job_id: str
    seq: int
    stage: str  # queued | start | a pipeline stage | done
    progress: float
    message: str
    status: str  # queued | running | succeeded | failed
    at: datetime

    @property
    def topic(self) -> str:
        return self.job_id

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def to_json(self) -> str:
        data = asdict(self)
        data["at"] = self.at.isoformat()
        return json.dumps(data)

    @classmethod
    def from_json(cls, raw: str | bytes) -> JobEvent:
        data = json.loads(raw)
        data["at"] = datetime.fromisoformat(data["at"])
        return cls(**data)


class Topical(Protocol):
    """An event the bus can carry: it names its topic (a job, a live call) and serialises."""

    @property
    def topic(self) -> str: ...

    def to_json(self) -> str: ...


E = TypeVar("E", bound=Topical)


class Bus(Protocol[E]):
    async def publish(self, event: E) -> None: ...

    def subscribe(self, topic: str) -> contextlib.AbstractAsyncContextManager[asyncio.Queue[E]]:
        """A queue that receives every event published on ``topic`` while open."""
        ...

    async def close(self) -> None: ...


#: The job events' bus (live calls have theirs: :mod:`core.live.events`).
EventBus = Bus[JobEvent]


class LocalEventBus(Generic[E]):
    """In-process fan-out: one asyncio queue per subscriber."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[E]]] = {}

    async def publish(self, event: E) -> None:
        for queue in list(self._subscribers.get(event.topic, ())):
            queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[asyncio.Queue[E]]:
        queue: asyncio.Queue[E] = asyncio.Queue()
        self._subscribers.setdefault(topic, set()).add(queue)
        try:
            yield queue
        finally:
            subscribers = self._subscribers.get(topic)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._subscribers[topic]

    async def close(self) -> None:
        self._subscribers.clear()


StoredEvents = Callable[[str, int], list[JobEvent]]
"""``(job_id, after_seq) -> events`` read from the database; raises NotFoundError."""


async def watch_job(
    job_id: str,
    bus: EventBus,
    stored: StoredEvents,
    *,
    recheck_s: float = 2.0,
) -> AsyncGenerator[JobEvent, None]:
    """Every event of a job, in order, once each, ending after its terminal event.

    Subscribes first, then replays what is stored, then follows the bus. When the bus is
    silent for ``recheck_s`` the table is read again, so a lost message (a Redis blip, a
    worker in another process) delays an event but never drops it.
    """
    async with bus.subscribe(job_id) as live:
        last = -1
        pending = await asyncio.to_thread(stored, job_id, last)
        while True:
            for event in pending:
                if event.seq <= last:
                    continue
                last = event.seq
                yield event
                if event.terminal:
                    return
            try:
                first = await asyncio.wait_for(live.get(), timeout=recheck_s)
            except TimeoutError:
                pending = await asyncio.to_thread(stored, job_id, last)
                continue
            if first.seq > last + 1:
                # Something between ``last`` and this event reached us only via the table.
                pending = await asyncio.to_thread(stored, job_id, last)
                if not pending or pending[-1].seq < first.seq:
                    pending.append(first)
            else:
                pending = [first]


def event_payload(event: JobEvent) -> dict[str, Any]:
    data = asdict(event)
    data["at"] = event.at.isoformat()
    return data
