"""The call document (SPEC section 3), declared once, as pydantic models.

:func:`core.analysis.document.build_document` fills it from a finished ``CallResult`` and
stores its JSON; REST answers with it (``GET /v1/calls/{id}``: its OpenAPI schema is this
one, names, descriptions and examples included); GraphQL derives its types from these
models (api/graphql/calls.py) and keeps its own wording where its descriptions differ.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

from core.domain import Resolution, Role, SentimentLabel


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


UtcDatetime = Annotated[
    datetime, AfterValidator(_utc), PlainSerializer(datetime.isoformat, when_used="json")
]
"""Times are stored in UTC; one read back without its zone gets it again. In JSON, as
``datetime.isoformat`` writes them ("+00:00"; pydantic's own form would write "Z")."""


class _Open(BaseModel):
    """Keeps keys the schema does not list (a newer document), rather than dropping them."""

    model_config = ConfigDict(extra="allow")


class AudioInfo(_Open):
    duration_s: float = Field(examples=[61.2])
    sample_rate: int = Field(examples=[8000])
    channels: int = Field(examples=[2])
    codec: str = Field(examples=["pcm_mulaw"])


class Speaker(_Open):
    id: str = Field(examples=["S1"])
    role: Role
    channel: int | None = Field(description="The stereo channel; null for a mono call.")
    talk_time_s: float
    talk_ratio: float
    words_per_minute: float | None
    interruptions: int
    sentiment_mean: float | None = Field(description="Mean utterance sentiment, -1..1.")
    loudness_dbfs: float | None


class Word(_Open):
    word: str
    start: float
    end: float
    probability: float | None


class Sentiment(_Open):
    label: SentimentLabel
    score: float = Field(ge=-1, le=1)


class Utterance(_Open):
    index: int
    speaker: str
    role: Role
    start: float
    end: float
    text: str
    sentiment: Sentiment | None = Field(
        description="Null when the sentiment stage failed, or could not read the call's "
        "language (docs/languages.md)."
    )
    words: list[Word]


class Metrics(_Open):
    talk_time_s: float
    non_talk_time_s: float
    silence_ratio: float
    longest_silence_s: float
    overlap_s: float
    interruptions: int
    agent_talk_ratio: float | None
    mean_response_latency_s: float | None
    sentiment_by_quarter: dict[str, list[float | None]] = Field(
        description="Mean sentiment of `agent` and `customer` in each quarter of the call."
    )
    customer_sentiment_trend: float | None
    interruption_utterances: list[int] = Field(
        default_factory=list,
        description="Indexes of the utterances that interrupt, in time order (one per "
        "interruption counted). Absent from calls analysed before it existed.",
    )


class Conflict(_Open):
    detected: bool
    evidence: list[int] = Field(description="Indexes of the utterances that show it.")


class Profanity(_Open):
    utterance: int
    words: list[str]


class Analysis(_Open):
    summary: str
    topics: list[str]
    reason: str
    resolution: Resolution
    conflict: Conflict
    profanity: list[Profanity]
    action_items: list[str] = Field(examples=[["agent: email the refund confirmation today"]])
    provider: str = Field(
        description="Who answered the model fields: `rules`, `llama:<model>` (the local "
        "model) or `openai:<model>` (a configured server).",
        examples=["llama:qwen2.5-coder-1.5b-instruct-q4_k_m", "openai:gpt-4o-mini", "rules"],
    )
    model: str = Field(default="", description="The model's name; empty for rules.")
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="For each field (summary, reason, resolution, conflict, action_items, "
        "topics, sentiment, roles, profanity): `model`, `rules`, or `unavailable` (left "
        "empty: the rules read English only and the call is in another language).",
        examples=[{"summary": "model", "profanity": "rules"}],
    )


class RedactedEntity(_Open):
    type: str = Field(examples=["CARD_NUMBER"])
    utterance: int
    start: float
    end: float


class Redaction(_Open):
    """Present when PII redaction was on: what was replaced by tags in the text and
    silenced in the stored recording."""

    enabled: bool
    audio: str = Field(examples=["silenced"])
    counts: dict[str, int]
    entities: list[RedactedEntity]


class QAItem(_Open):
    id: str = Field(examples=["greeting"])
    name: str
    passed: bool | None = Field(description="Null when the item does not apply to this call.")
    evidence: dict[str, Any] | None = Field(
        description="The utterance (index and text) that shows the item."
    )


class QAResult(_Open):
    scorecard: str
    method: str = Field(
        description="`rules`, `llm`, or `unavailable`: not scored, because the scorecard's "
        "phrases are in another language than the call (a `reason` key then says so).",
        examples=["rules", "llm", "unavailable"],
    )
    score: float | None = Field(description="Weighted share of applicable items passed, 0-100.")
    items: list[QAItem]


class CallDocument(_Open):
    """Everything known about one analysed call."""

    id: str
    filename: str
    created_at: UtcDatetime
    status: str = Field(examples=["succeeded"])
    audio: AudioInfo
    language: str = Field(examples=["en"])
    speakers: list[Speaker]
    utterances: list[Utterance]
    metrics: Metrics
    analysis: Analysis | None = Field(description="Null when the LLM stage failed.")
    stages: dict[str, dict[str, Any]] = Field(
        description="Per stage: backend, engine, model, device and seconds taken."
    )
    warnings: list[str]
    redaction: Redaction | None = Field(
        default=None, description="Only when PII redaction was on (REDACT_PII or redact_pii)."
    )
    agent: str | None = Field(default=None, description="The agent given at upload, if any.")
    metadata: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="The call's metadata as given at upload or ingest (agent, team, queue, "
        "direction, customer_id, external_id, started_at, and any key of your own).",
        examples=[{"agent": "a-17", "team": "billing", "external_id": "C-1001"}],
    )
    qa: QAResult | None = Field(
        default=None, description="The QA scorecard, scored when the call was analysed."
    )


# What the GraphQL types filled in, before this model existed, for keys a stored document
# may lack (written by an earlier version): a stored call reads as it did then.
_SPEAKER_OPTIONAL = ("channel", "words_per_minute", "sentiment_mean", "loudness_dbfs")
_METRICS_OPTIONAL = ("agent_talk_ratio", "mean_response_latency_s", "customer_sentiment_trend")
_ANALYSIS_DEFAULTS: dict[str, Any] = {
    "summary": "",
    "topics": [],
    "reason": "",
    "resolution": "unknown",
    "profanity": [],
    "action_items": [],
    "provider": "",
}


def read_stored(doc: dict[str, Any]) -> CallDocument:
    """A stored document as a :class:`CallDocument`; the keys an earlier version did not
    write read as they did before (null, empty, ``unknown``). ``doc`` is not changed."""
    doc = {**doc, "status": doc.get("status") or "succeeded", "language": doc.get("language") or ""}
    doc["speakers"] = [{k: None for k in _SPEAKER_OPTIONAL} | s for s in doc.get("speakers", [])]
    doc["utterances"] = [
        {"sentiment": None, "words": []}
        | u
        | {
            "role": u.get("role") or "unknown",
            "words": [{"probability": None} | w for w in u.get("words") or []],
        }
        for u in doc.get("utterances", [])
    ]
    metrics = {k: None for k in _METRICS_OPTIONAL} | doc.get("metrics", {})
    metrics["sentiment_by_quarter"] = metrics.get("sentiment_by_quarter") or {}
    doc["metrics"] = metrics
    if (analysis := doc.get("analysis")) is not None:
        conflict = analysis.get("conflict") or {}
        doc["analysis"] = (
            _ANALYSIS_DEFAULTS
            | {k: v for k, v in analysis.items() if v is not None}
            | {
                "conflict": {"evidence": []}
                | conflict
                | {"detected": bool(conflict.get("detected"))}
            }
        )
    return CallDocument.model_validate(doc)
