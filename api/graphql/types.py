"""GraphQL types for lists, search hits, jobs, job events and stages."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.graphql.calls import Call
from api.graphql.context import Info, runtime_of
from api.graphql.derived import derived_type
from api.graphql.enums import Resolution, Role, SentimentLabel
from api.runtime import StageState
from core.analysis.schema import read_stored
from core.calls import audit, catalog
from core.errors import NotFoundError
from core.jobs.events import JobEvent as DomainJobEvent


async def load_call(info: Info, call_id: str) -> Call | None:
    """The full document of a call, or None when there is none (yet)."""
    try:
        doc = await asyncio.to_thread(runtime_of(info).catalog.document, call_id)
    except NotFoundError:
        return None
    return Call.from_document(read_stored(doc))


def parse_time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


@derived_type(
    audit.CallAudit,
    "Who created, last changed and deleted a call, and when (`key:<id>`, `jwt:<subject>`, "
    "or `local` with authentication off); kept after a delete.",
    {"status": "`active` or `deleted`."},
)
class CallAudit:
    call_id: strawberry.ID
    status: str  # a Literal in the model, which GraphQL cannot type


# ---------------------------------------------------------------------- lists
@strawberry.type(description="One stored call as listed: the columns `calls` filters on.")
class CallSummary:
    id: strawberry.ID
    filename: str
    created_at: datetime
    duration_s: float
    language: str
    resolution: Resolution | None
    conflict: bool
    customer_sentiment: float | None = strawberry.field(
        description="The customer's mean utterance sentiment, -1..1."
    )
    sentiment: SentimentLabel | None = strawberry.field(
        description="`customerSentiment` as the label the `sentiment` filter uses."
    )
    topics: list[str]
    summary: str | None
    categories: list[str] = strawberry.field(description="Custom category names.")
    agent: str | None = strawberry.field(description="The agent given at upload, if any.")
    metadata: JSON = strawberry.field(
        description="The call's metadata as given at upload or ingest."
    )

    @strawberry.field(description="The whole document of this call (loaded on demand).")
    async def call(self, info: Info) -> Call | None:
        return await load_call(info, self.id)

    @classmethod
    def from_summary(cls, s: catalog.CallSummary) -> CallSummary:
        label = catalog.sentiment_label(s.customer_sentiment)
        return cls(
            id=strawberry.ID(s.id),
            filename=s.filename,
            created_at=s.created_at,
            duration_s=s.duration_s,
            language=s.language,
            resolution=Resolution(s.resolution) if s.resolution else None,
            conflict=s.conflict,
            customer_sentiment=s.customer_sentiment,
            sentiment=SentimentLabel(label) if label else None,
            topics=list(s.topics),
            summary=s.summary,
            categories=list(s.categories),
            agent=s.agent,
            metadata=JSON(dict(s.metadata)),
        )


@strawberry.type(description="A call in a `CallConnection`, with the cursor that points at it.")
class CallEdge:
    cursor: str = strawberry.field(description="Pass as `after` to list the calls after this one.")
    node: CallSummary


@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool = strawberry.field(
        description="Always false: pages are read forwards only."
    )
    start_cursor: str | None
    end_cursor: str | None = strawberry.field(description="Pass as `after` to read the next page.")


@strawberry.type(description="A page of calls, newest first (Relay connection).")
class CallConnection:
    edges: list[CallEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Calls matching the filter, on all pages.")

    @classmethod
    def from_page(cls, page: catalog.CallPage) -> CallConnection:
        edges = [
            CallEdge(
                cursor=catalog.encode_cursor(item.created_at, item.id),
                node=CallSummary.from_summary(item),
            )
            for item in page.items
        ]
        return cls(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.next_cursor is not None,
                has_previous_page=False,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=page.total,
        )


# ---------------------------------------------------------------------- search
@strawberry.type(description="An utterance that matches a semantic search, with its call.")
class SearchHit:
    call_id: strawberry.ID
    utterance_index: int
    speaker: str
    role: Role
    start: float
    end: float
    text: str
    score: float = strawberry.field(description="Cosine similarity to the query, higher is closer.")
    filename: str
    call_created_at: datetime

    @strawberry.field(description="The whole document of the call (loaded on demand).")
    async def call(self, info: Info) -> Call | None:
        return await load_call(info, self.call_id)

    @classmethod
    def from_hit(cls, hit: Any) -> SearchHit:
        return cls(
            call_id=strawberry.ID(hit.call_id),
            utterance_index=hit.utterance_index,
            speaker=hit.speaker,
            role=Role(hit.role or "unknown"),
            start=hit.start,
            end=hit.end,
            text=hit.text,
            score=hit.score,
            filename=hit.filename,
            call_created_at=parse_time(hit.call_created_at),
        )


# ---------------------------------------------------------------------- jobs
@strawberry.enum(description="Where a job stands.")
class JobStatus(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@strawberry.type(description="One step of a job: queued, start, a pipeline stage's progress, done.")
class JobEvent:
    job_id: strawberry.ID
    seq: int = strawberry.field(description="0, 1, 2, ... in the order the job produced them.")
    stage: str = strawberry.field(
        description="`queued`, `start`, a pipeline stage (decode, diarization, asr, ...) or `done`."
    )
    progress: float = strawberry.field(description="Progress of the stage, 0..1.")
    message: str
    status: JobStatus = strawberry.field(description="The job's status after this event.")
    at: datetime
    terminal: bool = strawberry.field(description="True for the job's last event.")

    @classmethod
    def from_event(cls, e: DomainJobEvent) -> JobEvent:
        return cls(
            job_id=strawberry.ID(e.job_id),
            seq=e.seq,
            stage=e.stage,
            progress=e.progress,
            message=e.message,
            status=JobStatus(e.status),
            at=e.at,
            terminal=e.terminal,
        )


@strawberry.type(description="An analysis job: one upload or re-analysis of one call.")
class Job:
    id: strawberry.ID
    call_id: strawberry.ID
    kind: str = strawberry.field(description="`analyze` (an upload) or `reanalyze`.")
    filename: str
    status: JobStatus
    stage: str | None = strawberry.field(description="The stage that reported last.")
    progress: float = strawberry.field(description="Progress of the current stage, 0..1.")
    message: str
    error: str | None = strawberry.field(description="Why the job failed.")
    attempts: int
    options: JSON
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @strawberry.field(description="Every event of the job so far, in order.")
    async def events(self, info: Info) -> list[JobEvent]:
        stored = await asyncio.to_thread(runtime_of(info).service.stored_events, self.id)
        return [JobEvent.from_event(e) for e in stored]

    @strawberry.field(
        description="The call's stored document: null until an upload's job has succeeded."
    )
    async def call(self, info: Info) -> Call | None:
        return await load_call(info, self.call_id)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Job:
        def at(key: str) -> datetime | None:
            return parse_time(d[key]) if d.get(key) else None

        return cls(
            id=strawberry.ID(d["id"]),
            call_id=strawberry.ID(d["call_id"]),
            kind=d.get("kind") or "analyze",
            filename=d.get("filename") or "",
            status=JobStatus(d["status"]),
            stage=d.get("stage"),
            progress=d.get("progress") or 0.0,
            message=d.get("message") or "",
            error=d.get("error"),
            attempts=d.get("attempts") or 0,
            options=JSON(d.get("options") or {}),
            created_at=at("created_at"),
            started_at=at("started_at"),
            finished_at=at("finished_at"),
        )


# ---------------------------------------------------------------------- stages
@strawberry.type(description="A pipeline stage as this process serves it (as in /health).")
class Stage:
    name: str
    required: bool = strawberry.field(description="A required stage down fails every job.")
    status: str = strawberry.field(description="`loading`, `up` or `down`.")
    backend: str = strawberry.field(description="`local` (in-process) or `grpc`.")
    engine: str
    model: str
    device: str
    load_seconds: float | None
    detail: str = strawberry.field(description="Why the stage is down, or where it runs.")
    target: str | None = strawberry.field(description="gRPC stages: the service's address(es).")
    circuit: str | None = strawberry.field(
        description="gRPC stages: the circuit breaker, `closed`, `opened` or `half-opened`."
    )
    consecutive_failures: int | None = strawberry.field(
        description="gRPC stages: calls that failed in a row (the circuit opens at a threshold)."
    )
    failovers: int | None = strawberry.field(
        description="gRPC stages: calls run in-process because the service was down."
    )

    @classmethod
    def from_state(cls, s: StageState) -> Stage:
        d = s.as_dict()
        remote = s.remote or {}
        return cls(
            target=remote.get("target"),
            circuit=remote.get("circuit"),
            consecutive_failures=remote.get("consecutive_failures"),
            failovers=remote.get("failovers"),
            name=d["name"],
            required=d["required"],
            status=d["status"],
            backend=d["backend"],
            engine=d["engine"],
            model=d["model"],
            device=d["device"],
            load_seconds=d["load_seconds"],
            detail=d["detail"],
        )
