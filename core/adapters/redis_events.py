"""The job event bus over Redis pub/sub (scale-out mode); the pure bus is core/jobs/events.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from core.jobs.events import EventBus, JobEvent, LocalEventBus

log = logging.getLogger(__name__)


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
