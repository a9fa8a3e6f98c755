"""Agent and trend views over the stored calls.

- Per agent (the ``agent`` given at upload): how many calls, and the means of the agent's
  talk ratio, the customer's sentiment change over the call (last quarter minus first, from
  ``metrics.customer_sentiment_trend``), the agent's interruptions, and the QA score.
- Over time (day, week or month buckets, by ``created_at``): calls, mean customer
  sentiment, mean QA score, and how many calls carried each topic and each custom category.

Both read the calls of the period (their documents, parsed here), so their cost grows with
the number of calls in it; ``MAX_CALLS`` bounds one request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.calls.metadata_filter import MetadataPairs, combine
from core.errors import InvalidInputError
from core.persistence.database import Database
from core.persistence.models import CallRow
from core.persistence.repositories import as_utc
from core.persistence.unit_of_work import UnitOfWork

Interval = Literal["day", "week", "month"]
MAX_CALLS = 100_000


# What the views answer, as REST (/v1/agents, /v1/trends) and GraphQL (agents, trends) show
# them. No docstrings: a model's docstring would be its description in the OpenAPI document.
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


@dataclass
class _Mean:
    total: float = 0.0
    count: int = 0

    def add(self, value: float | None) -> None:
        if value is not None:
            self.total += value
            self.count += 1

    @property
    def value(self) -> float | None:
        return round(self.total / self.count, 4) if self.count else None


@dataclass
class AgentStats:
    agent: str
    calls: int = 0
    talk_ratio: _Mean = field(default_factory=_Mean)
    sentiment_change: _Mean = field(default_factory=_Mean)
    interruptions: _Mean = field(default_factory=_Mean)
    qa_score: _Mean = field(default_factory=_Mean)

    def summary(self) -> AgentSummary:
        return AgentSummary(agent=self.agent, **self._means())

    def bucket(self, start: datetime) -> AgentBucket:
        return AgentBucket(start=start, **self._means())

    def _means(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "mean_talk_ratio": self.talk_ratio.value,
            "mean_customer_sentiment_change": self.sentiment_change.value,
            "mean_interruptions": self.interruptions.value,
            "mean_qa_score": self.qa_score.value,
        }


def _agent_speaker(document: dict[str, Any]) -> dict[str, Any] | None:
    return next((s for s in document.get("speakers") or [] if s.get("role") == "agent"), None)


def bucket_start(at: datetime, interval: Interval) -> datetime:
    day = as_utc(at).replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "day":
        return day
    if interval == "week":
        return day - timedelta(days=day.weekday())  # Monday
    if interval == "month":
        return day.replace(day=1)
    raise InvalidInputError(f"Unknown interval {interval!r}.", "Use day, week or month.")


class Insights:
    def __init__(self, database: Database) -> None:
        self.database = database

    def _calls(
        self,
        since: datetime | None,
        until: datetime | None,
        agent: str | None = None,
        metadata: MetadataPairs = (),
    ) -> list[tuple[CallRow, list[str]]]:
        if since and until and since >= until:
            raise InvalidInputError("since must be earlier than until.")
        with UnitOfWork(self.database) as uow:
            rows = uow.calls.in_period(
                since, until, agent=agent, metadata=combine(metadata), limit=MAX_CALLS
            )
            names = uow.categories.names_for([r.id for r in rows])
            return [(r, sorted(names.get(r.id, []))) for r in rows]

    def agents(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        metadata: MetadataPairs = (),
    ) -> list[AgentSummary]:
        """Every agent with calls in the period (with all ``metadata`` pairs), most calls
        first."""
        stats: dict[str, AgentStats] = {}
        for row, _ in self._calls(since, until, metadata=metadata):
            if not row.agent:
                continue
            entry = stats.setdefault(row.agent, AgentStats(row.agent))
            self._add(entry, row.document or {})
        ordered = sorted(stats.values(), key=lambda s: (-s.calls, s.agent))
        return [s.summary() for s in ordered]

    def agent(
        self,
        agent: str,
        since: datetime | None = None,
        until: datetime | None = None,
        interval: Interval = "week",
        metadata: MetadataPairs = (),
    ) -> AgentDetail:
        """One agent's means, and the same means per bucket."""
        rows = self._calls(since, until, agent=agent, metadata=metadata)
        total = AgentStats(agent)
        buckets: dict[datetime, AgentStats] = {}
        for row, _ in rows:
            self._add(total, row.document or {})
            start = bucket_start(row.created_at, interval)
            self._add(buckets.setdefault(start, AgentStats(agent)), row.document or {})
        series = [s.bucket(start) for start, s in sorted(buckets.items())]
        return AgentDetail(**total.summary().model_dump(), interval=interval, series=series)

    @staticmethod
    def _add(stats: AgentStats, document: dict[str, Any]) -> None:
        stats.calls += 1
        metrics = document.get("metrics") or {}
        stats.talk_ratio.add(metrics.get("agent_talk_ratio"))
        stats.sentiment_change.add(metrics.get("customer_sentiment_trend"))
        speaker = _agent_speaker(document)
        stats.interruptions.add(speaker.get("interruptions") if speaker else None)
        stats.qa_score.add((document.get("qa") or {}).get("score"))

    def trends(
        self,
        interval: Interval = "week",
        since: datetime | None = None,
        until: datetime | None = None,
        metadata: MetadataPairs = (),
    ) -> list[TrendBucket]:
        """Per bucket: calls, mean customer sentiment, mean QA score, topic and category
        counts (most frequent first)."""
        buckets: dict[datetime, dict[str, Any]] = {}
        for row, categories in self._calls(since, until, metadata=metadata):
            start = bucket_start(row.created_at, interval)
            b = buckets.setdefault(
                start,
                {
                    "calls": 0,
                    "sentiment": _Mean(),
                    "qa": _Mean(),
                    "topics": Counter(),
                    "categories": Counter(),
                },
            )
            b["calls"] += 1
            b["sentiment"].add(row.customer_sentiment)
            b["qa"].add(((row.document or {}).get("qa") or {}).get("score"))
            b["topics"].update(_unique(t.lower() for t in row.topics or []))
            b["categories"].update(categories)
        return [
            TrendBucket(
                start=start,
                calls=b["calls"],
                mean_customer_sentiment=b["sentiment"].value,
                mean_qa_score=b["qa"].value,
                topics=dict(b["topics"].most_common()),
                categories=dict(b["categories"].most_common()),
            )
            for start, b in sorted(buckets.items())
        ]


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
