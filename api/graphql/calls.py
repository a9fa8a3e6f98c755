"""GraphQL types for a stored call: the SPEC section 3 document, derived from its model
(core/analysis/schema.py) with strawberry's pydantic integration (api/graphql/derived.py).
The descriptions given here are GraphQL's where they are not the model's (OpenAPI's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.experimental.pydantic.conversion import convert_pydantic_model_to_strawberry_class
from strawberry.scalars import JSON

import api.graphql.enums  # noqa: F401  (registers the enums of the models' fields first)
from api.graphql.derived import derived_type, from_model
from core.analysis import schema


@derived_type(schema.AudioInfo, "The recording as decoded.")
class AudioInfo:
    pass


@derived_type(
    schema.Speaker,
    "One diarized speaker and their conversation statistics.",
    {"channel": "Stereo channel, null for mono calls.", "sentiment_mean": None},
)
class Speaker:
    pass


@derived_type(schema.Word, "A word with its timing (seconds) and recognition probability.")
class Word:
    pass


@derived_type(schema.Sentiment, "Sentiment of one utterance: a label and a score in -1..1.")
class Sentiment:
    pass


@derived_type(
    schema.Utterance,
    "One turn of one speaker, with its words and sentiment.",
    {"sentiment": "Null when the sentiment stage was unavailable."},
)
class Utterance:
    pass


@strawberry.type(description="Mean utterance sentiment per speaker role in each call quarter.")
class SentimentByQuarter:
    agent: list[float | None]
    customer: list[float | None]

    @staticmethod
    def from_pydantic(
        quarters: dict[str, list[float | None]], extra: dict[str, Any] | None = None
    ) -> SentimentByQuarter:
        """From the model's ``sentiment_by_quarter`` (a dict, as REST has it)."""
        return SentimentByQuarter(
            agent=list(quarters.get("agent") or []), customer=list(quarters.get("customer") or [])
        )


@derived_type(
    schema.Metrics,
    "Conversation metrics (definitions in the SPEC, section 4).",
    {
        "sentiment_by_quarter": None,
        "customer_sentiment_trend": "Slope of the customer's sentiment over the call; "
        "positive: improving.",
        "interruption_utterances": "Indexes of the utterances that interrupt, in time order "
        "(empty for a call analysed before they were listed).",
    },
)
class Metrics:
    sentiment_by_quarter: SentimentByQuarter  # a dict in the model, as REST has it


@derived_type(schema.Conflict, "Whether the call turned confrontational, and where.")
class Conflict:
    pass


@derived_type(schema.Profanity, "Profane words found in one utterance.")
class Profanity:
    pass


@strawberry.type(description="Which answered one analysis field: the model or the rules.")
class FieldSource:
    field: str
    source: str

    @staticmethod
    def from_pydantic(pair: tuple[str, str], extra: dict[str, Any] | None = None) -> FieldSource:
        """From one item of the model's ``sources`` (a dict, as REST has it)."""
        field, source = pair
        return FieldSource(field=field, source=source)


@derived_type(
    schema.Analysis,
    "What the call was about and how it ended (a model or rules).",
    {
        "provider": "`rules`, `llama:<model>` (the local model) or `openai:<model>`.",
        "sources": "Which answered each field: `model` or `rules`.",
    },
)
class Analysis:
    sources: list[FieldSource]  # a dict in the model (field -> source), as REST has it

    @staticmethod
    def from_pydantic(instance: schema.Analysis, extra: dict[str, Any] | None = None) -> Analysis:
        """strawberry's own conversion (the one its default ``from_pydantic`` runs), over
        the items of ``sources`` rather than its keys: see FieldSource.from_pydantic."""
        listed = instance.model_copy(update={"sources": list(instance.sources.items())})
        converted: Analysis = convert_pydantic_model_to_strawberry_class(
            Analysis, model_instance=listed, extra=extra
        )
        return converted


# Declared by hand rather than derived from schema.CallDocument: GraphQL orders its fields
# otherwise (`language` before `audio`; `durationS`, which the document lacks, after
# `status`; `agent`, `qa`, `redaction` last), and strawberry's pydantic integration keeps the
# model's order and puts a field the model lacks first. It also has `stages`, `qa` and
# `redaction` as JSON, and its own descriptions. The types of its fields are derived (but
# SentimentByQuarter and FieldSource, GraphQL's shapes of two dicts of the model).
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
    metadata: JSON = strawberry.field(
        default_factory=dict,
        description="The call's metadata as given at upload or ingest (agent, team, queue, "
        "direction, customer_id, external_id, started_at, and keys of your own).",
    )
    qa: JSON | None = strawberry.field(
        default=None,
        description="The QA scorecard: `score` (0-100), `method` (rules, llm, or unavailable "
        "with a `reason`) and `items` (id, name, passed, evidence utterance).",
    )
    redaction: JSON | None = strawberry.field(
        default=None,
        description="With PII redaction on: `counts` per type and `entities` (type, "
        "utterance, start, end) replaced by tags and silenced in the recording.",
    )

    @classmethod
    def from_document(cls, doc: schema.CallDocument) -> Call:
        return cls(
            id=strawberry.ID(doc.id),
            filename=doc.filename,
            created_at=doc.created_at,
            status=doc.status,
            duration_s=doc.audio.duration_s,
            language=doc.language,
            audio=from_model(AudioInfo, doc.audio),
            speakers=[from_model(Speaker, s) for s in doc.speakers],
            utterances=[from_model(Utterance, u) for u in doc.utterances],
            metrics=from_model(Metrics, doc.metrics),
            analysis=None if doc.analysis is None else from_model(Analysis, doc.analysis),
            stages=JSON(doc.stages),
            warnings=list(doc.warnings),
            agent=doc.agent,
            metadata=JSON(dict(doc.metadata)),
            qa=None if doc.qa is None else JSON(doc.qa.model_dump(mode="json")),
            redaction=(
                None if doc.redaction is None else JSON(doc.redaction.model_dump(mode="json"))
            ),
        )
