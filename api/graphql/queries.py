"""Queries: read calls, search utterances, look at a job or at the stages."""

from __future__ import annotations

import asyncio
from datetime import datetime

import strawberry

from api.graphql import categories as custom
from api.graphql import vocabularies as vocab
from api.graphql import webhooks as hooks
from api.graphql.calls import Call
from api.graphql.context import Info, principal_of, runtime_of
from api.graphql.derived import from_model
from api.graphql.enums import Role
from api.graphql.inputs import CallFilter, MetadataPairInput, metadata_pairs
from api.graphql.insights import AgentSummary, TrendBucket, TrendInterval
from api.graphql.live import LiveCall, live_call, live_calls
from api.graphql.types import (
    CallAudit,
    CallConnection,
    Job,
    JobStatus,
    SearchHit,
    Stage,
    load_call,
)
from core.calls import audit as call_audit
from core.errors import NotFoundError


@strawberry.type
class Query:
    @strawberry.field(description="One call by id; null when there is no such call.")
    async def call(self, info: Info, id: strawberry.ID) -> Call | None:
        principal_of(info)
        return await load_call(info, id)

    @strawberry.field(
        description=(
            "Stored calls, newest first, filtered; Relay pagination: `first` (1..100, default "
            "20) calls after the cursor `after` (a previous page's `pageInfo.endCursor`)."
        )
    )
    async def calls(
        self,
        info: Info,
        filter: CallFilter | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> CallConnection:
        principal_of(info)
        catalog = runtime_of(info).catalog
        filters = filter.to_filters() if filter else None
        page = await catalog.page(filters, limit=first, cursor=after)
        return CallConnection.from_page(page)

    @strawberry.field(description="Semantic search over every stored utterance, best match first.")
    async def search(
        self,
        info: Info,
        query: str,
        k: int = 10,
        call_id: strawberry.ID | None = None,
        role: Role | None = None,
        min_score: float | None = None,
        metadata: list[MetadataPairInput] | None = None,
    ) -> list[SearchHit]:
        runtime = runtime_of(info)
        await runtime.limiter.hit("search", principal_of(info).rate_key)
        hits = await runtime.search.search(
            query,
            k,
            call_id=call_id,
            role=role.value if role else None,
            min_score=min_score,
            metadata=metadata_pairs(metadata),
        )
        return [SearchHit.from_hit(hit) for hit in hits]

    @strawberry.field(
        description="Who created, changed and deleted a call; also for a deleted call. "
        "Null when there never was such a call."
    )
    async def call_audit(self, info: Info, id: strawberry.ID) -> CallAudit | None:
        principal_of(info)
        try:
            audit = await asyncio.to_thread(runtime_of(info).catalog.audit, id)
        except NotFoundError:
            return None
        return from_model(CallAudit, call_audit.CallAudit.model_validate(audit))

    categories: list[custom.Category] = strawberry.field(
        resolver=custom.categories, description="The custom categories, by name."
    )
    vocabularies: list[vocab.Vocabulary] = strawberry.field(
        resolver=vocab.vocabularies, description="The custom vocabularies, by name."
    )
    webhooks: list[hooks.Webhook] = strawberry.field(
        resolver=hooks.webhooks, description="The webhooks, oldest first (admin role)."
    )
    webhook_deliveries: list[hooks.WebhookDelivery] = strawberry.field(
        resolver=hooks.webhook_deliveries,
        description="A webhook's delivery log, newest first (admin role).",
    )

    @strawberry.field(description="Every agent with calls in the period, most calls first.")
    async def agents(
        self,
        info: Info,
        since: datetime | None = None,
        until: datetime | None = None,
        metadata: list[MetadataPairInput] | None = None,
    ) -> list[AgentSummary]:
        principal_of(info)
        insights = runtime_of(info).insights
        pairs = metadata_pairs(metadata)
        return [
            from_model(AgentSummary, a)
            for a in await asyncio.to_thread(insights.agents, since, until, pairs)
        ]

    @strawberry.field(description="Calls, sentiment, QA, topics and categories over time.")
    async def trends(
        self,
        info: Info,
        interval: TrendInterval = TrendInterval.WEEK,
        since: datetime | None = None,
        until: datetime | None = None,
        metadata: list[MetadataPairInput] | None = None,
    ) -> list[TrendBucket]:
        principal_of(info)
        insights = runtime_of(info).insights
        pairs = metadata_pairs(metadata)
        buckets = await asyncio.to_thread(insights.trends, interval.value, since, until, pairs)
        return [from_model(TrendBucket, b) for b in buckets]

    @strawberry.field(
        description="Recent jobs, newest first; only those in `status` when given "
        "(`[QUEUED, RUNNING]`: what is in progress now). `first`: 1..100."
    )
    async def jobs(
        self, info: Info, status: list[JobStatus] | None = None, first: int = 20
    ) -> list[Job]:
        principal_of(info)
        statuses = [s.value for s in status] if status else None
        jobs = await asyncio.to_thread(runtime_of(info).catalog.jobs, statuses, limit=first)
        return [Job.from_dict(job) for job in jobs]

    @strawberry.field(description="One job by id; null when there is no such job.")
    async def job(self, info: Info, id: strawberry.ID) -> Job | None:
        principal_of(info)
        try:
            job = await asyncio.to_thread(runtime_of(info).catalog.job, id)
        except NotFoundError:
            return None
        return Job.from_dict(job)

    @strawberry.field(description="The pipeline stages and how this process serves each.")
    async def stages(self, info: Info) -> list[Stage]:
        principal_of(info)
        runtime = runtime_of(info)
        await runtime.refresh_remote()
        return [Stage.from_state(state) for state in runtime.stages.values()]

    live_calls: list[LiveCall] = strawberry.field(
        resolver=live_calls,
        description=(
            "Live calls, newest first: those in progress (`live`, or `dropped` and waiting "
            "for the client to resume), and with `includeEnded` those that hung up. "
            "`first`: 1..100 (default 50)."
        ),
    )
    live_call: LiveCall | None = strawberry.field(
        resolver=live_call,
        description="One live call with its final utterances, alerts and metrics so far; "
        "null when there is no such call.",
    )
