"""Request and response models of the REST API (besides the call document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from core.analysis.pipeline import AnalysisOptions
from core.calls.catalog import sentiment_label
from core.domain import Resolution, Role
from core.vocabularies.store import CallReplacements, CallTerms


class ErrorDetail(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["No call 0b5c…."])
    hint: str = Field(examples=["List calls with GET /v1/calls."])


class ErrorBody(BaseModel):
    """What every 4xx and 5xx answer carries."""

    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses an endpoint can answer (401, 403 and 422
    always: with authentication on, every /v1 endpoint needs credentials and a role)."""
    return {status: {"model": ErrorBody} for status in sorted({*statuses, 401, 403, 422})}


class AnalysisOptionsIn(BaseModel):
    """How to analyse a call; every field is optional."""

    language: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2,3}$",
        description="Spoken language (ISO 639 code); detected when left out.",
        examples=["en"],
    )
    num_speakers: int | None = Field(
        default=None, description="Exactly this many speakers (1..20)."
    )
    min_speakers: int | None = Field(
        default=None, description="At least this many speakers (1..20)."
    )
    max_speakers: int | None = Field(
        default=None, description="At most this many speakers (1..20)."
    )
    agent_channel: int | None = Field(
        default=None,
        description="Stereo calls: the channel (0 or 1) that holds the agent; the other holds "
        "the customer. Left out: the AGENT_CHANNEL setting.",
        examples=[0],
    )

    redact_pii: bool | None = Field(
        default=None,
        description="Replace personal data (card, account and phone numbers, e-mails, dates "
        "of birth, addresses, names) with typed tags in the stored transcript and silence it "
        "in the stored recording. Left out: the REDACT_PII setting.",
    )
    terms: CallTerms = Field(default_factory=list)  # custom vocabulary (docs/vocabulary.md)
    replacements: CallReplacements = Field(default_factory=list)

    agent: str | None = Field(
        default=None,
        max_length=100,
        description="Upload metadata, not an analysis option: the agent who handled the "
        "call (id or name), for the per-agent views (GET /v1/agents).",
    )

    def to_options(self) -> AnalysisOptions:
        return AnalysisOptions(**self.model_dump(exclude={"agent"}))


class JobLinks(BaseModel):
    job: str = Field(description="The job's status.")
    events: str = Field(description="The job's status with every progress event so far.")
    call: str = Field(description="The call's document, once the job has succeeded.")


class Accepted(BaseModel):
    """A queued analysis job; or, with ``duplicate``, the earlier one of the same call."""

    call_id: str
    job_id: str
    status: Literal["queued", "duplicate"] = "queued"
    links: JobLinks
    duplicate: bool = Field(
        default=False,
        description="True (answered 200, nothing queued): the same external_id or the same "
        "audio was already analysed or queued; the ids and links are that call's. Send "
        "force=true to analyse it again.",
    )


class CallSummary(BaseModel):
    """One call in a list."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    filename: str
    created_at: datetime
    duration_s: float
    language: str
    resolution: Resolution | None
    conflict: bool
    customer_sentiment: float | None = Field(description="The customer's mean sentiment, -1..1.")
    topics: list[str]
    summary: str | None
    categories: list[str] = Field(default_factory=list, description="Custom category names.")
    agent: str | None = Field(default=None, description="The agent given at upload, if any.")
    metadata: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="The call's metadata as given at upload or ingest."
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def customer_sentiment_label(self) -> str | None:
        """positive, neutral or negative: what the ``sentiment`` filter matches."""
        return sentiment_label(self.customer_sentiment)


class CallCategories(BaseModel):
    call_id: str
    categories: list[str] = Field(description="Custom category names, sorted.")


class CallPage(BaseModel):
    items: list[CallSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null: last.")
    total: int = Field(description="How many calls match the filters, over all pages.")


class JobEvent(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    stage: str = Field(examples=["asr"])
    progress: float = Field(ge=0, le=1)
    message: str
    status: Literal["queued", "running", "succeeded", "failed"]
    at: datetime


class Job(BaseModel):
    """An analysis job: where it stands, and why it failed if it did."""

    id: str
    call_id: str
    kind: Literal["analyze", "reanalyze"]
    filename: str
    status: Literal["queued", "running", "succeeded", "failed"]
    stage: str | None = Field(description="The stage it last reported from.")
    progress: float = Field(ge=0, le=1, description="Progress within that stage.")
    message: str
    error: str | None
    attempts: int
    options: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    events: list[JobEvent] | None = Field(default=None, description="With `?events=true` only.")


class JobList(BaseModel):
    items: list[Job] = Field(description="Newest first.")


class SearchHit(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    call_id: str
    utterance_index: int
    text: str
    speaker: str = Field(examples=["S2"])
    role: Role
    start: float
    end: float
    score: float = Field(description="Cosine similarity to the query, -1..1.")
    filename: str
    call_created_at: datetime


class SearchResults(BaseModel):
    query: str = Field(examples=["customer asks for a refund"])
    backend: str = Field(examples=["numpy", "pgvector"])
    hits: list[SearchHit] = Field(description="Best match first.")


class TierCounts(BaseModel):
    hits: int
    misses: int


class CacheStats(BaseModel):
    """Hit and miss counts of each cache tier since this process started."""

    model_config = ConfigDict(extra="allow")

    memory: TierCounts
    redis: TierCounts
    database: TierCounts
    misses: int = Field(description="Lookups that no tier could answer.")
    redis_errors: int
    redis_configured: bool
