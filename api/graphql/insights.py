"""GraphQL types of the agent and trend views (core/insights.py)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON


@strawberry.enum(description="The width of a trend bucket.")
class TrendInterval(Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@strawberry.type(description="One agent's calls and averages (agent as given at upload).")
class AgentSummary:
    agent: str
    calls: int
    mean_talk_ratio: float | None
    mean_customer_sentiment_change: float | None = strawberry.field(
        description="The customer's sentiment, last quarter of the call minus the first."
    )
    mean_interruptions: float | None
    mean_qa_score: float | None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AgentSummary:
        return cls(**{k: d[k] for k in cls.__annotations__})


@strawberry.type(description="Calls, sentiment, QA, topics and categories in one bucket.")
class TrendBucket:
    start: datetime
    calls: int
    mean_customer_sentiment: float | None
    mean_qa_score: float | None
    topics: JSON = strawberry.field(description="Calls per topic, most frequent first.")
    categories: JSON = strawberry.field(description="Calls per custom category.")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrendBucket:
        return cls(
            start=datetime.fromisoformat(d["start"]),
            calls=d["calls"],
            mean_customer_sentiment=d["mean_customer_sentiment"],
            mean_qa_score=d["mean_qa_score"],
            topics=JSON(d["topics"]),
            categories=JSON(d["categories"]),
        )
