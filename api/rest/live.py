"""/v1/live (GET): the live calls, and one with what it has said so far.

Streaming a call in is the WebSocket at the same path (api/live.py, docs/live.md).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.rest.deps import RuntimeDep
from api.rest.schemas import error_responses
from core.live.views import LiveCall, live_call

router = APIRouter(prefix="/live", tags=["live"])


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
    return LiveCallList(live_calls=[live_call(i, utterances=False) for i in found])


@router.get(
    "/{live_id}",
    summary="A live call with its final utterances, alerts and metrics so far",
    responses=error_responses(404),
)
async def get_live_call(runtime: RuntimeDep, live_id: str) -> LiveCall:
    return live_call(await asyncio.to_thread(runtime.live.get, live_id))
