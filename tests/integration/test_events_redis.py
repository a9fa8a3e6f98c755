"""Job events over the real Redis: what one process publishes, another's subscriber gets."""

from __future__ import annotations

import asyncio
import uuid

from core.adapters.redis_events import RedisEventBus
from core.jobs.events import watch_job
from tests.unit.jobs.test_queue import CountingTranscriber, recording, service_for

REDIS = "redis://127.0.0.1:6379/0"


async def test_a_job_run_by_one_process_is_watched_live_from_another(database, tmp_path):
    transcriber = CountingTranscriber()
    worker_bus, api_bus = RedisEventBus(REDIS), RedisEventBus(REDIS)
    worker = service_for(database, tmp_path, transcriber, bus=worker_bus)
    handle, _ = worker.submit(recording(tmp_path))
    run = asyncio.create_task(worker.execute(handle.job_id))
    assert await transcriber.until(lambda: transcriber.running)
    received = []

    async def watch() -> None:
        # A long recheck: events must arrive over pub/sub, not from re-reading the table.
        stream = watch_job(handle.job_id, api_bus, worker.stored_events, recheck_s=600)
        async for event in stream:
            received.append(event)

    watcher = asyncio.create_task(watch())
    try:
        transcriber.release.set()
        await run
        await asyncio.wait_for(watcher, 30)
    finally:
        await worker_bus.close()
        await api_bus.close()
    stored = worker.stored_events(handle.job_id)
    assert [(e.seq, e.stage, e.status) for e in received] == [
        (e.seq, e.stage, e.status) for e in stored
    ]
    assert received[-1].status == "succeeded"


async def test_the_bus_carries_an_event_unchanged(tmp_path):
    from datetime import UTC, datetime

    from core.jobs.events import JobEvent

    bus = RedisEventBus(REDIS)
    event = JobEvent(str(uuid.uuid4()), 3, "asr", 0.5, "half", "running", datetime.now(UTC))
    try:
        async with bus.subscribe(event.job_id) as queue:
            await bus.publish(event)
            got = await asyncio.wait_for(queue.get(), 10)
    finally:
        await bus.close()
    assert got == event
