"""The event buses over Redis pub/sub (scale-out mode); the pure bus is core/jobs/events.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic

from core.jobs.events import E, EventBus, JobEvent, LocalEventBus
from core.live.events import LiveBus, LiveEvent

log = logging.getLogger(__name__)


class RedisEventBus(Generic[E]):
    """Redis pub/sub, one channel per topic (a job, a live call): workers publish, any API
    process subscribes. ``decode`` reads an event back from its JSON (the job events' by
    default; the live calls' bus passes its own, with its own ``prefix``).

    Redis is only the fast path. A subscription made while Redis is down, or one whose
    connection drops, is still opened: it receives nothing from the bus until Redis answers
    again (it keeps trying, backing off up to ``RETRY_MAX_S``), and :func:`watch_job` reads
    the table meanwhile. Publishing while Redis is down raises; the caller logs it.
    """

    PREFIX = "callytics:job-events:"
    CONFIRM_S = 10.0  # how long a new subscription waits for Redis to confirm it
    RETRY_MIN_S, RETRY_MAX_S = 0.5, 5.0

    def __init__(
        self,
        url: str,
        *,
        prefix: str = PREFIX,
        decode: Callable[[str | bytes], Any] = JobEvent.from_json,
    ) -> None:
        import redis.asyncio as aioredis

        self.url = url
        self.prefix = prefix
        self.decode = decode
        # A Redis host that does not answer at all must not hold a job's progress for long.
        self.client = aioredis.Redis.from_url(url, socket_connect_timeout=2)
        self._warned = False

    def channel(self, topic: str) -> str:
        return self.prefix + topic

    async def publish(self, event: E) -> None:
        await self.client.publish(self.channel(event.topic), event.to_json())

    @contextlib.asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[asyncio.Queue[E]]:
        queue: asyncio.Queue[E] = asyncio.Queue()
        pubsub = self.client.pubsub()
        settled = asyncio.Event()  # Redis confirmed the subscription, or could not be reached
        task = asyncio.create_task(self._pump(pubsub, self.channel(topic), queue, settled))
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
        self, pubsub: Any, channel: str, queue: asyncio.Queue[E], settled: asyncio.Event
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
                        queue.put_nowait(self.decode(message["data"]))
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
    if redis_url:
        return RedisEventBus[JobEvent](redis_url)
    return LocalEventBus[JobEvent]()


def build_live_bus(redis_url: str | None) -> LiveBus:
    if redis_url:
        return RedisEventBus[LiveEvent](
            redis_url, prefix="callytics:live-events:", decode=LiveEvent.from_json
        )
    return LocalEventBus[LiveEvent]()
