"""GraphQL types of the agent and trend views (core/calls/insights.py)."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.scalars import JSON

from api.graphql.derived import derived_type
from core.calls import insights


@strawberry.enum(description="The width of a trend bucket.")
class TrendInterval(Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@derived_type(
    insights.AgentMeans,
    "One agent's calls and averages (agent as given at upload).",
    {
        "mean_customer_sentiment_change": "The customer's sentiment, last quarter of the call "
        "minus the first."
    },
)
class AgentSummary:
    # Not a field of AgentMeans: strawberry puts it first, as GraphQL has it (REST's
    # AgentSummary, which has it, has it last). It is read from an insights.AgentSummary.
    agent: str


@derived_type(insights.TrendBucket, "Calls, sentiment, QA, topics and categories in one bucket.")
class TrendBucket:
    topics: JSON
    categories: JSON
