"""The result document of SPEC section 3, built from a finished CallResult."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from datetime import datetime
from typing import Any

from core.domain import CallAnalysis, Speaker, Utterance
from core.pipeline import CallResult


def speaker_dict(s: Speaker) -> dict[str, Any]:
    return {
        "id": s.id,
        "role": s.role.value,
        "channel": s.channel,
        "talk_time_s": s.talk_time_s,
        "talk_ratio": s.talk_ratio,
        "words_per_minute": s.words_per_minute,
        "interruptions": s.interruptions,
        "sentiment_mean": s.sentiment_mean,
        "loudness_dbfs": s.loudness_dbfs,
    }


def utterance_dict(u: Utterance) -> dict[str, Any]:
    return {
        "index": u.index,
        "speaker": u.speaker,
        "role": u.role.value,
        "start": round(u.start, 3),
        "end": round(u.end, 3),
        "text": u.text,
        "sentiment": (
            {"label": u.sentiment.label.value, "score": round(u.sentiment.score, 4)}
            if u.sentiment
            else None
        ),
        "words": [
            {"word": w.text, "start": w.start, "end": w.end, "probability": w.probability}
            for w in u.words
        ],
    }


def analysis_dict(a: CallAnalysis | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "summary": a.summary,
        "topics": list(a.topics),
        "reason": a.reason,
        "resolution": a.resolution.value,
        "conflict": {"detected": a.conflict_detected, "evidence": list(a.conflict_evidence)},
        "profanity": [{"utterance": p.utterance, "words": list(p.words)} for p in a.profanity],
        "action_items": list(a.action_items),
        "provider": a.provider,
        "model": a.model,
        "sources": dict(a.sources),
    }


def analysis_state(a: CallAnalysis) -> dict[str, Any]:
    """:func:`analysis_dict` plus what the pipeline applies elsewhere in the document (the
    model's per-utterance sentiment and speaker roles) and its warnings: what the analysis
    cache keeps, so that a cached analysis is applied as a fresh one would be."""
    state = analysis_dict(a) or {}
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


def redaction_dict(result: CallResult) -> dict[str, Any]:
    redactions = result.redactions or []
    entities = [
        {"type": r.type, "utterance": r.utterance, "start": r.start, "end": r.end}
        for r in redactions
    ]
    counts = dict(Counter(r.type for r in redactions))
    return {"enabled": True, "audio": "silenced", "counts": counts, "entities": entities}


def build_document(
    call_id: str, filename: str, created_at: datetime, result: CallResult
) -> dict[str, Any]:
    """The document; with PII redaction on, it also says what was redacted, and where."""
    document = {
        "id": call_id,
        "filename": filename,
        "created_at": created_at.isoformat(),
        "status": "succeeded",
        "audio": {
            "duration_s": result.duration_s,
            "sample_rate": result.audio.sample_rate,
            "channels": result.audio.channels,
            "codec": result.audio.codec,
        },
        "language": result.language,
        "speakers": [speaker_dict(s) for s in result.speakers],
        "utterances": [utterance_dict(u) for u in result.utterances],
        "metrics": asdict(result.metrics),
        "analysis": analysis_dict(result.analysis),
        "stages": result.stages,
        "warnings": list(result.warnings),
    }
    if result.redactions is not None:
        document["redaction"] = redaction_dict(result)
    return document
