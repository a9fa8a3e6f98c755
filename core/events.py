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
from typing import Any, Protocol

log = logging.getLogger(__name__)

TERMINAL_STATUSES = frozenset({"succeeded", "failed"})


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


class EventBus(Protocol):
    async def publish(self, event: JobEvent) -> None: ...

    def subscribe(self, job_id: str) -> contextlib.AbstractAsyncContextManager[asyncio.Queue]:
        """A queue that receives every event published for ``job_id`` while open."""
        ...

    async def close(self) -> None: ...


class LocalEventBus:
    """In-process fan-out: one asyncio queue per subscriber."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[JobEvent]]] = {}

    async def publish(self, event: JobEvent) -> None:
        for queue in list(self._subscribers.get(event.job_id, ())):
            queue.put_nowait(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, job_id: str) -> AsyncIterator[asyncio.Queue[JobEvent]]:
        queue: asyncio.Queue[JobEvent] = asyncio.Queue()
        self._subscribers.setdefault(job_id, set()).add(queue)
        try:
            yield queue
        finally:
            subscribers = self._subscribers.get(job_id)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._subscribers[job_id]

    async def close(self) -> None:
        self._subscribers.clear()


class RedisEventBus:
    """Redis pub/sub, one channel per job: workers publish, any API process subscribes.

    Redis is only the fast path. A subscription made while Redis is down, or one whose
    connection drops, is still opened: it receives nothing from the bus until Redis answers
    again (it keeps trying, backing off up to ``RETRY_MAX_S``), and :func:`watch_job` reads
    the table meanwhile. Publishing while Redis is down raises; the caller logs it.
    """

    PREFIX = "callytics:job-events:"
    CONFIRM_S = 10.0  # how long a new subscription waits for Redis to confirm it
    RETRY_MIN_S, RETRY_MAX_S = 0.5, 5.0

    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self.url = url
        # A Redis host that does not answer at all must not hold a job's progress for long.
        self.client = aioredis.Redis.from_url(url, socket_connect_timeout=2)
        self._warned = False

    def channel(self, job_id: str) -> str:
        return self.PREFIX + job_id

    async def publish(self, event: JobEvent) -> None:
        await self.client.publish(self.channel(event.job_id), event.to_json())

    @contextlib.asynccontextmanager
    async def subscribe(self, job_id: str) -> AsyncIterator[asyncio.Queue[JobEvent]]:
        queue: asyncio.Queue[JobEvent] = asyncio.Queue()
        pubsub = self.client.pubsub()
        settled = asyncio.Event()  # Redis confirmed the subscription, or could not be reached
        task = asyncio.create_task(self._pump(pubsub, self.channel(job_id), queue, settled))
        # Once Redis confirms, no event published from then on can pass us by.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(settled.wait(), self.CONFIRM_S)
        try:
            yield queue
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe()
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _pump(
        self, pubsub: Any, channel: str, queue: asyncio.Queue[JobEvent], settled: asyncio.Event
    ) -> None:
        """Subscribe and forward messages; after a Redis error, subscribe again (backing off)."""
        from redis.exceptions import RedisError

        delay = self.RETRY_MIN_S
        while True:
            try:
                await pubsub.subscribe(channel)
                async for message in pubsub.listen():
                    kind = message.get("type")
                    if kind == "subscribe":
                        settled.set()
                        delay = self.RETRY_MIN_S
                        if self._warned:
                            self._warned = False
                            log.info("job events: Redis is reachable again")
                    elif kind == "message":
                        queue.put_nowait(JobEvent.from_json(message["data"]))
            except (RedisError, OSError) as exc:
                if not self._warned:
                    self._warned = True
                    log.warning(
                        "job events: Redis unavailable (%s); subscribers read the job table "
                        "until it is back",
                        exc,
                    )
            settled.set()  # the subscriber need not wait for Redis: it reads the table
            await asyncio.sleep(delay)  # back off before subscribing again
            delay = min(delay * 2, self.RETRY_MAX_S)

    async def close(self) -> None:
        await self.client.aclose()


def build_event_bus(redis_url: str | None) -> EventBus:
    return RedisEventBus(redis_url) if redis_url else LocalEventBus()


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
