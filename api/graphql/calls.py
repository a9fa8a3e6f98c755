"""GraphQL types for a stored call: the SPEC section 3 document, field for field."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON


@strawberry.enum(description="Who a speaker is in the call.")
class Role(Enum):
    AGENT = "agent"
    CUSTOMER = "customer"
    UNKNOWN = "unknown"


@strawberry.enum(description="The tone of an utterance, or of a customer over a whole call.")
class SentimentLabel(Enum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


@strawberry.enum(description="Whether the customer's issue was resolved.")
class Resolution(Enum):
    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"
    UNKNOWN = "unknown"


def parse_time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


@strawberry.type(description="The recording as decoded.")
class AudioInfo:
    duration_s: float
    sample_rate: int
    channels: int
    codec: str

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AudioInfo:
        return cls(
            duration_s=d["duration_s"],
            sample_rate=d["sample_rate"],
            channels=d["channels"],
            codec=d["codec"],
        )


@strawberry.type(description="One diarized speaker and their conversation statistics.")
class Speaker:
    id: str
    role: Role
    channel: int | None = strawberry.field(description="Stereo channel, null for mono calls.")
    talk_time_s: float
    talk_ratio: float
    words_per_minute: float | None
    interruptions: int
    sentiment_mean: float | None
    loudness_dbfs: float | None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Speaker:
        return cls(
            id=d["id"],
            role=Role(d["role"]),
            channel=d.get("channel"),
            talk_time_s=d["talk_time_s"],
            talk_ratio=d["talk_ratio"],
            words_per_minute=d.get("words_per_minute"),
            interruptions=d["interruptions"],
            sentiment_mean=d.get("sentiment_mean"),
            loudness_dbfs=d.get("loudness_dbfs"),
        )


@strawberry.type(description="A word with its timing (seconds) and recognition probability.")
class Word:
    word: str
    start: float
    end: float
    probability: float | None


@strawberry.type(description="Sentiment of one utterance: a label and a score in -1..1.")
class Sentiment:
    label: SentimentLabel
    score: float


@strawberry.type(description="One turn of one speaker, with its words and sentiment.")
class Utterance:
    index: int
    speaker: str
    role: Role
    start: float
    end: float
    text: str
    sentiment: Sentiment | None = strawberry.field(
        description="Null when the sentiment stage was unavailable."
    )
    words: list[Word]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Utterance:
        sentiment = d.get("sentiment")
        return cls(
            index=d["index"],
            speaker=d["speaker"],
            role=Role(d.get("role") or "unknown"),
            start=d["start"],
            end=d["end"],
            text=d["text"],
            sentiment=(
                Sentiment(label=SentimentLabel(sentiment["label"]), score=sentiment["score"])
                if sentiment
                else None
            ),
            words=[
                Word(
                    word=w["word"], start=w["start"], end=w["end"], probability=w.get("probability")
                )
                for w in d.get("words") or []
            ],
        )


@strawberry.type(description="Mean utterance sentiment per speaker role in each call quarter.")
class SentimentByQuarter:
    agent: list[float | None]
    customer: list[float | None]


@strawberry.type(description="Conversation metrics (definitions in the SPEC, section 4).")
class Metrics:
    talk_time_s: float
    non_talk_time_s: float
    silence_ratio: float
    longest_silence_s: float
    overlap_s: float
    interruptions: int
    agent_talk_ratio: float | None
    mean_response_latency_s: float | None
    sentiment_by_quarter: SentimentByQuarter
    customer_sentiment_trend: float | None = strawberry.field(
        description="Slope of the customer's sentiment over the call; positive: improving."
    )
    interruption_utterances: list[int] = strawberry.field(
        description="Indexes of the utterances that interrupt, in time order (empty for a "
        "call analysed before they were listed)."
    )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Metrics:
        quarters = d.get("sentiment_by_quarter") or {}
        return cls(
            talk_time_s=d["talk_time_s"],
            non_talk_time_s=d["non_talk_time_s"],
            silence_ratio=d["silence_ratio"],
            longest_silence_s=d["longest_silence_s"],
            overlap_s=d["overlap_s"],
            interruptions=d["interruptions"],
            agent_talk_ratio=d.get("agent_talk_ratio"),
            mean_response_latency_s=d.get("mean_response_latency_s"),
            sentiment_by_quarter=SentimentByQuarter(
                agent=list(quarters.get("agent") or []),
                customer=list(quarters.get("customer") or []),
            ),
            customer_sentiment_trend=d.get("customer_sentiment_trend"),
            interruption_utterances=list(d.get("interruption_utterances") or []),
        )


@strawberry.type(description="Whether the call turned confrontational, and where.")
class Conflict:
    detected: bool
    evidence: list[int] = strawberry.field(description="Indexes of the utterances that show it.")


@strawberry.type(description="Profane words found in one utterance.")
class Profanity:
    utterance: int
    words: list[str]


@strawberry.type(description="Which answered one analysis field: the model or the rules.")
class FieldSource:
    field: str
    source: str


@strawberry.type(description="What the call was about and how it ended (a model or rules).")
class Analysis:
    summary: str
    topics: list[str]
    reason: str
    resolution: Resolution
    conflict: Conflict
    profanity: list[Profanity]
    action_items: list[str]
    provider: str = strawberry.field(
        description="`rules`, `llama:<model>` (the local model) or `openai:<model>`."
    )
    model: str = strawberry.field(description="The model's name; empty for rules.")
    sources: list[FieldSource] = strawberry.field(
        description="Which answered each field: `model` or `rules`."
    )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Analysis:
        conflict = d.get("conflict") or {}
        return cls(
            summary=d.get("summary") or "",
            topics=list(d.get("topics") or []),
            reason=d.get("reason") or "",
            resolution=Resolution(d.get("resolution") or "unknown"),
            conflict=Conflict(
                detected=bool(conflict.get("detected")),
                evidence=list(conflict.get("evidence") or []),
            ),
            profanity=[
                Profanity(utterance=p["utterance"], words=list(p["words"]))
                for p in d.get("profanity") or []
            ],
            action_items=list(d.get("action_items") or []),
            provider=d.get("provider") or "",
            model=d.get("model") or "",
            sources=[FieldSource(field=k, source=v) for k, v in (d.get("sources") or {}).items()],
        )


@strawberry.type(description="An analysed call: the same document as `GET /v1/calls/{id}`.")
class Call:
    id: strawberry.ID
    filename: str
    created_at: datetime
    status: str
    duration_s: float = strawberry.field(description="Same as `audio.durationS`.")
    language: str
    audio: AudioInfo
    speakers: list[Speaker]
    utterances: list[Utterance]
    metrics: Metrics
    analysis: Analysis | None = strawberry.field(
        description="Null when the analysis stage was unavailable (see `warnings`)."
    )
    stages: JSON = strawberry.field(
        description="Per stage: backend, engine, model, device and seconds taken."
    )
    warnings: list[str] = strawberry.field(
        description="Optional stages that failed, so parts of the document are missing."
    )
    agent: str | None = strawberry.field(
        default=None, description="The agent who handled the call, as given at upload."
    )
    qa: JSON | None = strawberry.field(
        default=None,
        description="The QA scorecard: `score` (0-100), `method` (rules or llm) and `items` "
        "(id, name, passed, evidence utterance).",
    )
    redaction: JSON | None = strawberry.field(
        default=None,
        description="With PII redaction on: `counts` per type and `entities` (type, "
        "utterance, start, end) replaced by tags and silenced in the recording.",
    )

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Call:
        analysis = doc.get("analysis")
        return cls(
            id=strawberry.ID(doc["id"]),
            filename=doc["filename"],
            created_at=parse_time(doc["created_at"]),
            status=doc.get("status") or "succeeded",
            duration_s=doc["audio"]["duration_s"],
            language=doc.get("language") or "",
            audio=AudioInfo.from_dict(doc["audio"]),
            speakers=[Speaker.from_dict(s) for s in doc.get("speakers") or []],
            utterances=[Utterance.from_dict(u) for u in doc.get("utterances") or []],
            metrics=Metrics.from_dict(doc["metrics"]),
            analysis=Analysis.from_dict(analysis) if analysis else None,
            stages=JSON(doc.get("stages") or {}),
            warnings=list(doc.get("warnings") or []),
            redaction=JSON(doc["redaction"]) if doc.get("redaction") else None,
            qa=JSON(doc["qa"]) if doc.get("qa") else None,
            agent=doc.get("agent"),
        )
