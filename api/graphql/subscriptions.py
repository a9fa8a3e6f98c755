"""The ``jobProgress`` subscription: a job's events as they happen, over the job-event port.

:func:`core.jobs.events.watch_job` replays the stored events and then follows the event bus (the
in-process one, or Redis pub/sub when workers run elsewhere), so a subscriber sees every
event once, in order, and the stream ends after the job's last event, also when the job had
ended before anyone subscribed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import cast

import strawberry

from api.graphql.context import Info, principal_of, runtime_of
from api.graphql.limits import MAX_SUBSCRIPTIONS, counted, take_subscription
from api.graphql.live import LiveEvent, subscribe_live_call
from api.graphql.types import JobEvent
from api.runtime import Runtime
from core.jobs.events import JobEvent as DomainJobEvent
from core.jobs.events import watch_job


async def follow(runtime: Runtime, job_id: str) -> AsyncGenerator[JobEvent, None]:
    service = runtime.service
    events = cast(
        AsyncGenerator[DomainJobEvent, None],
        watch_job(job_id, service.bus, service.stored_events),
    )
    async with aclosing(events):
        async for event in events:
            yield JobEvent.from_event(event)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "Every event of a job, in order, from its first; completes after the job's last "
            "event (at once, with the whole history, when the job has already ended). "
            "An unknown job is an error (code `not_found`). At most "
            f"{MAX_SUBSCRIPTIONS} at a time per connection (code `rate_limited` past it)."
        )
    )
    async def job_progress(
        self, info: Info, job_id: strawberry.ID
    ) -> AsyncGenerator[JobEvent, None]:
        principal_of(info)
        runtime = runtime_of(info)
        # Checked before the stream starts, so an unknown job is the operation's error.
        await asyncio.to_thread(runtime.catalog.job, job_id)
        context = info.context
        take_subscription(context)
        return counted(context, follow(runtime, job_id), f"jobProgress {job_id}")

    live_call: AsyncGenerator[LiveEvent, None] = strawberry.subscription(
        resolver=subscribe_live_call,
        description=(
            "A live call's events as they happen: first what it has said so far (its final "
            "utterances, alerts and metrics), then partial and final utterances, metrics and "
            "alerts; completes after `ended` (the job and call of its post-call analysis). "
            "An unknown live call is an error (code `not_found`)."
        ),
    )
