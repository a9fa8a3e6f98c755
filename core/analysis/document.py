"""The result document of SPEC section 3, built from a finished CallResult.

Its shape is :mod:`core.analysis.schema`'s; this module fills it from the pipeline's
domain objects and writes it as the JSON that is stored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core import domain
from core.analysis import schema
from core.analysis.pii import Redaction
from core.analysis.pipeline import CallResult


def utterance(u: domain.Utterance) -> schema.Utterance:
    return schema.Utterance(
        index=u.index,
        speaker=u.speaker,
        role=u.role,
        start=round(u.start, 3),
        end=round(u.end, 3),
        text=u.text,
        sentiment=(
            schema.Sentiment(label=u.sentiment.label, score=round(u.sentiment.score, 4))
            if u.sentiment
            else None
        ),
        words=[
            schema.Word(word=w.text, start=w.start, end=w.end, probability=w.probability)
            for w in u.words
        ],
    )


def utterance_dict(u: domain.Utterance) -> dict[str, Any]:
    return utterance(u).model_dump(mode="json")


def analysis(a: domain.CallAnalysis) -> schema.Analysis:
    return schema.Analysis(
        summary=a.summary,
        topics=list(a.topics),
        reason=a.reason,
        resolution=a.resolution,
        conflict=schema.Conflict(detected=a.conflict_detected, evidence=list(a.conflict_evidence)),
        profanity=[
            schema.Profanity(utterance=p.utterance, words=list(p.words)) for p in a.profanity
        ],
        action_items=list(a.action_items),
        provider=a.provider,
        model=a.model,
        sources=dict(a.sources),
    )


def analysis_dict(a: domain.CallAnalysis | None) -> dict[str, Any] | None:
    return None if a is None else analysis(a).model_dump(mode="json")


def analysis_state(a: domain.CallAnalysis) -> dict[str, Any]:
    """:func:`analysis_dict` plus what the pipeline applies elsewhere in the document (the
    model's per-utterance sentiment and speaker roles) and its warnings: what the analysis
    cache keeps, so that a cached analysis is applied as a fresh one would be."""
    state = analysis(a).model_dump(mode="json")
    state["utterance_sentiment"] = (
        None
        if a.utterance_sentiment is None
        else {str(i): str(label) for i, label in a.utterance_sentiment.items()}
    )
    state["speaker_roles"] = (
        None if a.speaker_roles is None else {s: str(r) for s, r in a.speaker_roles.items()}
    )
    state["warnings"] = list(a.warnings)
    return state


def redaction(redactions: Sequence[Redaction]) -> schema.Redaction:
    return schema.Redaction(
        enabled=True,
        audio="silenced",
        counts=dict(Counter(r.type for r in redactions)),
        entities=[
            schema.RedactedEntity(type=r.type, utterance=r.utterance, start=r.start, end=r.end)
            for r in redactions
        ],
    )


def build_document(
    call_id: str, filename: str, created_at: datetime, result: CallResult
) -> dict[str, Any]:
    """The document; with PII redaction on, it also says what was redacted, and where."""
    document = schema.CallDocument(
        id=call_id,
        filename=filename,
        created_at=created_at,
        status="succeeded",
        audio=schema.AudioInfo(
            duration_s=result.duration_s,
            sample_rate=result.audio.sample_rate,
            channels=result.audio.channels,
            codec=result.audio.codec,
        ),
        language=result.language,
        speakers=[schema.Speaker.model_validate(s, from_attributes=True) for s in result.speakers],
        utterances=[utterance(u) for u in result.utterances],
        metrics=schema.Metrics.model_validate(result.metrics, from_attributes=True),
        analysis=None if result.analysis is None else analysis(result.analysis),
        stages=result.stages,
        warnings=list(result.warnings),
        redaction=None if result.redactions is None else redaction(result.redactions),
    )
    # `redaction` is a key only with redaction on; `agent`, `metadata` and `qa` are added
    # when the call is scored and stored (core/jobs/service.py).
    stored = {"agent", "metadata", "qa"}
    absent = stored | {"redaction"} if result.redactions is None else stored
    return document.model_dump(mode="json", exclude=absent)
