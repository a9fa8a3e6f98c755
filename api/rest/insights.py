"""/v1/agents and /v1/trends: per-agent averages and topics, categories, sentiment and QA
over time (core/insights.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.rest.deps import RuntimeDep
from api.rest.schemas import error_responses
from core.insights import Interval

router = APIRouter(tags=["insights"])


class AgentMeans(BaseModel):
    calls: int
    mean_talk_ratio: float | None
    mean_customer_sentiment_change: float | None
    mean_interruptions: float | None
    mean_qa_score: float | None


class AgentSummary(AgentMeans):
    agent: str


class AgentBucket(AgentMeans):
    start: datetime


class AgentDetail(AgentSummary):
    interval: Interval
    series: list[AgentBucket]


class TrendBucket(BaseModel):
    start: datetime
    calls: int
    mean_customer_sentiment: float | None
    mean_qa_score: float | None
    topics: dict[str, int] = Field(description="Calls per topic, most frequent first.")
    categories: dict[str, int] = Field(description="Calls per custom category.")


Since = Annotated[datetime | None, Query(description="Calls analysed at or after (ISO 8601).")]
Until = Annotated[datetime | None, Query(description="Calls analysed before (ISO 8601).")]
Bucket = Annotated[Interval, Query(description="day, week (from Monday) or month.")]


@router.get(
    "/agents",
    summary="Every agent's calls and averages",
    description="Agents are named by the `agent` given at upload. Means of the agent's talk "
    "ratio, the customer's sentiment change over the call (last quarter minus first), the "
    "agent's interruptions and the QA score; most calls first.",
    responses=error_responses(),
)
async def list_agents(
    runtime: RuntimeDep, since: Since = None, until: Until = None
) -> list[AgentSummary]:
    agents = await asyncio.to_thread(runtime.container.insights().agents, since, until)
    return [AgentSummary.model_validate(a) for a in agents]


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
) -> AgentDetail:
    detail = await asyncio.to_thread(
        runtime.container.insights().agent, agent, since, until, interval
    )
    return AgentDetail.model_validate(detail)


@router.get(
    "/trends",
    summary="Calls, sentiment, QA, topics and categories per day, week or month",
    responses=error_responses(),
)
async def get_trends(
    runtime: RuntimeDep, interval: Bucket = "week", since: Since = None, until: Until = None
) -> list[TrendBucket]:
    buckets = await asyncio.to_thread(runtime.container.insights().trends, interval, since, until)
    return [TrendBucket.model_validate(b) for b in buckets]
