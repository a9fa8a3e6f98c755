"""Live calls over GraphQL: the ``liveCalls`` and ``liveCall`` queries, and the ``liveCall``
subscription (its events as they happen, from any API process: core/live/events.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.graphql.calls import Utterance
from api.graphql.context import Info, principal_of, runtime_of
from api.graphql.derived import derived_type, from_model
from api.graphql.enums import LiveEventType, Role
from api.graphql.limits import counted, take_subscription
from core.analysis import schema
from core.live import views
from core.live.events import LiveEvent as DomainLiveEvent
from core.live.manager import LiveCallInfo, LiveManager, follow_live


def _utterance(data: dict[str, Any]) -> Utterance:
    return from_model(Utterance, schema.Utterance.model_validate(data))


@derived_type(
    views.LiveAlert, "Something to look at now: a category matched, a negative streak, PII."
)
class LiveAlert:
    pass


@strawberry.type(description="An utterance still being spoken: committed words, then a guess.")
class LivePartial:
    channel: int
    speaker: str = strawberry.field(description="Empty in a mono call until the utterance ends.")
    role: Role
    start: float
    end: float
    text: str = strawberry.field(description="The committed words and the tentative tail.")
    committed: str = strawberry.field(description="The words that will not change any more.")


@strawberry.type(description="One event of a live call.")
class LiveEvent:
    live_id: strawberry.ID
    seq: int = strawberry.field(description="1, 2, ... in the order the call produced them.")
    type: LiveEventType
    at: datetime
    partial: LivePartial | None = strawberry.field(description="`partial` events.")
    utterance: Utterance | None = strawberry.field(description="`final` events.")
    alert: LiveAlert | None = strawberry.field(description="`alert` events.")
    metrics: JSON | None = strawberry.field(description="`metrics` events: the running figures.")
    job_id: strawberry.ID | None = strawberry.field(description="`ended`: the post-call job.")
    call_id: strawberry.ID | None = strawberry.field(description="`ended`: the stored call.")
    data: JSON = strawberry.field(description="The event's whole payload.")

    @classmethod
    def from_event(cls, e: DomainLiveEvent) -> LiveEvent:
        d = e.data
        partial = None
        if e.type == LiveEventType.PARTIAL:
            partial = LivePartial(
                channel=int(d["channel"]),
                speaker=str(d["speaker"]),
                role=Role(d["role"]),
                start=float(d["start"]),
                end=float(d["end"]),
                text=str(d["text"]),
                committed=str(d["committed"]),
            )
        return cls(
            live_id=strawberry.ID(e.live_id),
            seq=e.seq,
            type=e.type,
            at=e.at,
            partial=partial,
            utterance=_utterance(d["utterance"]) if "utterance" in d else None,
            alert=(
                from_model(LiveAlert, views.LiveAlert.model_validate(d["alert"]))
                if "alert" in d
                else None
            ),
            metrics=JSON(d["metrics"]) if "metrics" in d else None,
            job_id=strawberry.ID(d["job_id"]) if d.get("job_id") else None,
            call_id=strawberry.ID(d["call_id"]) if d.get("call_id") else None,
            data=JSON(d),
        )


@derived_type(views.LiveCall, "A call streamed in while it runs (`/v1/live`).")
class LiveCall:
    id: strawberry.ID
    metrics: JSON | None
    job_id: strawberry.ID | None
    call_id: strawberry.ID | None


def live_call_of(info: LiveCallInfo) -> LiveCall:
    return from_model(LiveCall, views.live_call(info))


async def live_calls(info: Info, include_ended: bool = False, first: int = 50) -> list[LiveCall]:
    principal_of(info)
    live = runtime_of(info).live
    found = await asyncio.to_thread(
        live.list_calls, open_only=not include_ended, limit=max(1, min(first, 100))
    )
    return [live_call_of(i) for i in found]


async def live_call(info: Info, id: strawberry.ID) -> LiveCall | None:
    principal_of(info)
    from core.errors import NotFoundError

    try:
        found = await asyncio.to_thread(runtime_of(info).live.get, str(id))
    except NotFoundError:
        return None
    return live_call_of(found)


async def _follow(live: LiveManager, live_id: str) -> AsyncGenerator[LiveEvent, None]:
    events = follow_live(live_id, live.bus, live.get)
    async with aclosing(events):
        async for event in events:
            yield LiveEvent.from_event(event)


async def subscribe_live_call(info: Info, id: strawberry.ID) -> AsyncGenerator[LiveEvent, None]:
    principal_of(info)
    live = runtime_of(info).live
    await asyncio.to_thread(live.get, str(id))  # an unknown live call is the operation's error
    context = info.context
    take_subscription(context)
    return counted(context, _follow(live, str(id)), f"liveCall {id}")
