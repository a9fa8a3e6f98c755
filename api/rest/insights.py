"""/v1/agents and /v1/trends: per-agent averages and topics, categories, sentiment and QA
over time (core/calls/insights.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.rest.deps import RuntimeDep
from api.rest.schemas import error_responses
from api.rest.uploads import metadata_filter
from core.calls.insights import AgentDetail, AgentSummary, Interval, TrendBucket
from core.calls.metadata_filter import MetadataPairs

router = APIRouter(tags=["insights"])


Since = Annotated[datetime | None, Query(description="Calls analysed at or after (ISO 8601).")]
Until = Annotated[datetime | None, Query(description="Calls analysed before (ISO 8601).")]
Bucket = Annotated[Interval, Query(description="day, week (from Monday) or month.")]
Metadata = Annotated[MetadataPairs, Depends(metadata_filter)]


@router.get(
    "/agents",
    summary="Every agent's calls and averages",
    description="Agents are named by the `agent` given at upload. Means of the agent's talk "
    "ratio, the customer's sentiment change over the call (last quarter minus first), the "
    "agent's interruptions and the QA score; most calls first.",
    responses=error_responses(),
)
async def list_agents(
    runtime: RuntimeDep, since: Since = None, until: Until = None, metadata: Metadata = ()
) -> list[AgentSummary]:
    return await asyncio.to_thread(runtime.insights.agents, since, until, metadata)


@router.get(
    "/agents/{agent}",
    summary="One agent's averages, overall and per day, week or month",
    responses=error_responses(),
)
async def get_agent(
    runtime: RuntimeDep,
    agent: str,
    since: Since = None,
    until: Until = None,
    interval: Bucket = "week",
    metadata: Metadata = (),
) -> AgentDetail:
    return await asyncio.to_thread(runtime.insights.agent, agent, since, until, interval, metadata)


@router.get(
    "/trends",
    summary="Calls, sentiment, QA, topics and categories per day, week or month",
    responses=error_responses(),
)
async def get_trends(
    runtime: RuntimeDep,
    interval: Bucket = "week",
    since: Since = None,
    until: Until = None,
    metadata: Metadata = (),
) -> list[TrendBucket]:
    return await asyncio.to_thread(runtime.insights.trends, interval, since, until, metadata)
