"""/v1/live (GET): the live calls, and one with what it has said so far.

Streaming a call in is the WebSocket at the same path (api/live.py, docs/live.md).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.rest.deps import RuntimeDep
from api.rest.schemas import error_responses
from core.live.manager import LiveCallInfo

router = APIRouter(prefix="/live", tags=["live"])


class LiveCall(BaseModel):
    id: str
    status: Literal["live", "dropped", "ended"] = Field(
        description="`dropped`: the client went away; it may resume within LIVE_RESUME_S."
    )
    encoding: str
    sample_rate: int
    channels: int
    agent: str | None
    created_at: datetime
    ended_at: datetime | None
    duration_s: float = Field(description="Audio received so far (seconds).")
    language: str | None
    utterances: list[dict[str, Any]] = Field(
        description="The final utterances so far (the result document's utterance shape)."
    )
    alerts: list[dict[str, Any]] = Field(description="`kind`, `message`, `at_s`, details.")
    metrics: dict[str, Any] | None = Field(description="The running conversation figures.")
    job_id: str | None = Field(description="After hang-up: the post-call analysis job.")
    call_id: str | None = Field(description="After hang-up: the stored call.")
    error: str | None = Field(default=None, description="Why the recording was not analysed.")

    @classmethod
    def of(cls, info: LiveCallInfo, *, full: bool = True) -> LiveCall:
        snapshot = info.snapshot
        return cls(
            id=info.id,
            status=info.status,  # type: ignore[arg-type]
            encoding=info.encoding,
            sample_rate=info.sample_rate,
            channels=info.channels,
            agent=info.agent,
            created_at=info.created_at,
            ended_at=info.ended_at,
            duration_s=info.duration_s,
            language=snapshot.get("language") or None,
            utterances=list(snapshot.get("utterances") or []) if full else [],
            alerts=list(snapshot.get("alerts") or []),
            metrics=snapshot.get("metrics") or None,
            job_id=info.job_id,
            call_id=info.call_id,
            error=snapshot.get("error"),
        )


class LiveCallList(BaseModel):
    live_calls: list[LiveCall] = Field(description="Newest first; without their utterances.")


@router.get(
    "",
    summary="Live calls in progress (and, with include_ended, those that hung up)",
    responses=error_responses(),
)
async def list_live_calls(
    runtime: RuntimeDep,
    include_ended: Annotated[bool, Query(description="Also the calls that hung up.")] = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> LiveCallList:
    found = await asyncio.to_thread(
        runtime.live.list_calls, open_only=not include_ended, limit=limit
    )
    return LiveCallList(live_calls=[LiveCall.of(i, full=False) for i in found])


@router.get(
    "/{live_id}",
    summary="A live call with its final utterances, alerts and metrics so far",
    responses=error_responses(404),
)
async def get_live_call(runtime: RuntimeDep, live_id: str) -> LiveCall:
    return LiveCall.of(await asyncio.to_thread(runtime.live.get, live_id))
