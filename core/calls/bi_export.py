"""The BI export's columns, declared once: one row per call, one row per utterance.

Each column has its name, its Arrow type (what the Parquet file holds) and what it means;
docs/exports.md shows the same tables (:func:`column_table` writes them, a test keeps them
equal). :func:`call_record` and :func:`utterance_records` map a stored call document, its
metadata and its custom categories to rows of these columns; core/calls/bi_stream.py reads
the calls in batches and writes the rows as CSV or Parquet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from core.calls.catalog import sentiment_label
from core.calls.metadata import KNOWN_KEYS
from core.persistence.repositories.common import as_utc

TIME = pa.timestamp("us", tz="UTC")
TEXTS = pa.list_(pa.string())
ROLES = ("agent", "customer")


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str


def _columns(*spec: tuple[str, pa.DataType, str]) -> tuple[Column, ...]:
    return tuple(Column(name, type_, description) for name, type_, description in spec)


_METADATA = (
    ("agent", pa.string(), "The agent who handled the call (metadata `agent`)."),
    ("team", pa.string(), "Metadata `team`."),
    ("queue", pa.string(), "Metadata `queue`."),
    ("direction", pa.string(), "Metadata `direction`: `inbound` or `outbound`."),
    ("customer_id", pa.string(), "Metadata `customer_id`."),
    ("external_id", pa.string(), "The call's id in your own system (metadata `external_id`)."),
    ("started_at", TIME, "When the call started (metadata `started_at`), UTC."),
)


def _per_role(role: str) -> tuple[tuple[str, pa.DataType, str], ...]:
    who = f"the {role}'s speakers (usually one)"
    return (
        (f"{role}_talk_time_s", pa.float64(), f"Seconds of speech of {who}."),
        (f"{role}_talk_ratio", pa.float64(), f"Share of the call's speech, 0-1, of {who}."),
        (f"{role}_sentiment", pa.float64(), f"Mean utterance sentiment, -1..1, of {who}."),
        (f"{role}_words_per_minute", pa.float64(), f"Speaking rate of {who}."),
        (f"{role}_interruptions", pa.int64(), f"Times {who} cut in on the other side."),
    )


CALL_COLUMNS = _columns(
    ("id", pa.string(), "The call's id."),
    ("filename", pa.string(), "The recording's name as uploaded."),
    ("created_at", TIME, "When the call was analysed and stored, UTC."),
    *_METADATA,
    ("metadata", pa.string(), "Any other metadata keys, as a JSON object; null if none."),
    ("duration_s", pa.float64(), "The recording's length in seconds."),
    ("language", pa.string(), "The language spoken (detected or given), e.g. `en`."),
    ("status", pa.string(), "The analysis's status, e.g. `succeeded`."),
    ("resolution", pa.string(), "`resolved`, `unresolved` or `unknown`."),
    ("reason", pa.string(), "Why the customer called."),
    ("summary", pa.string(), "A short summary of the call."),
    ("topics", TEXTS, "The call's topics."),
    ("conflict", pa.bool_(), "Whether a conflict was detected."),
    ("customer_sentiment_label", pa.string(), "`positive`, `neutral` or `negative`."),
    *_per_role("agent"),
    *_per_role("customer"),
    ("talk_time_s", pa.float64(), "Seconds in which someone speaks."),
    ("silence_ratio", pa.float64(), "Share of the call in which nobody speaks, 0-1."),
    ("longest_silence_s", pa.float64(), "The longest stretch of silence, in seconds."),
    ("overlap_s", pa.float64(), "Seconds in which both sides speak at once."),
    ("interruptions", pa.int64(), "Interruptions, both sides together."),
    (
        "mean_response_latency_s",
        pa.float64(),
        "Mean seconds from the end of one side's turn to the other side's reply.",
    ),
    ("customer_sentiment_trend", pa.float64(), "How the customer's sentiment moved (slope)."),
    ("categories", TEXTS, "The custom categories the call is tagged with, by name."),
    ("qa_scorecard", pa.string(), "The QA scorecard used, if the call was scored."),
    ("qa_score", pa.float64(), "The QA score, 0-100 (weighted share of items passed)."),
    ("analysis_provider", pa.string(), "Who wrote the analysis: `rules`, `llama:…`, `openai:…`."),
    ("analysis_model", pa.string(), "The model's name; empty for rules."),
)

UTTERANCE_COLUMNS = _columns(
    ("call_id", pa.string(), "The call's id (`id` in the calls table)."),
    ("index", pa.int64(), "The utterance's position in the call, from 0."),
    ("speaker", pa.string(), "The speaker's id in the call, e.g. `S1`."),
    ("role", pa.string(), "`agent`, `customer` or `unknown`."),
    ("start", pa.float64(), "Seconds from the start of the call."),
    ("end", pa.float64(), "Seconds from the start of the call."),
    ("text", pa.string(), "What was said (with PII tags when redaction was on)."),
    ("sentiment_label", pa.string(), "`positive`, `neutral` or `negative`; empty if unknown."),
    ("sentiment_score", pa.float64(), "Sentiment, -1..1; empty if unknown."),
    ("agent", pa.string(), "The call's agent (metadata `agent`)."),
    ("team", pa.string(), "The call's team (metadata `team`)."),
    ("external_id", pa.string(), "The call's id in your own system (metadata `external_id`)."),
    ("created_at", TIME, "When the call was analysed and stored, UTC."),
)

TABLES: dict[str, tuple[Column, ...]] = {"calls": CALL_COLUMNS, "utterances": UTTERANCE_COLUMNS}


def schema(columns: Sequence[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.type) for c in columns])


def type_name(type_: pa.DataType) -> str:
    """The Arrow type as the docs write it: ``string``, ``list<string>``, ``timestamp[us, tz=UTC]``."""
    if pa.types.is_list(type_):
        return f"list<{type_name(type_.value_type)}>"
    return str(type_)


def column_table(columns: Sequence[Column]) -> str:
    """The columns as the Markdown table docs/exports.md shows."""
    lines = ["| column | type | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{c.name}` | `{type_name(c.type)}` | {c.description} |" for c in columns]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------- rows
def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return as_utc(value)
    try:
        return as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        return None


def _mean(values: Sequence[float | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None


_PER_ROLE = ("talk_time_s", "talk_ratio", "sentiment", "words_per_minute", "interruptions")


def _role_metrics(role: str, speakers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Talk time and ratio, interruptions summed over the role's speakers; sentiment and
    words per minute their mean (as the list's ``customer_sentiment``); null without one."""
    own = [s for s in speakers if s.get("role") == role]
    if not own:
        return {f"{role}_{name}": None for name in _PER_ROLE}
    return {
        f"{role}_talk_time_s": sum(float(s.get("talk_time_s") or 0) for s in own),
        f"{role}_talk_ratio": sum(float(s.get("talk_ratio") or 0) for s in own),
        f"{role}_sentiment": _mean([s.get("sentiment_mean") for s in own]),
        f"{role}_words_per_minute": _mean([s.get("words_per_minute") for s in own]),
        f"{role}_interruptions": sum(int(s.get("interruptions") or 0) for s in own),
    }


def call_record(
    document: Mapping[str, Any],
    metadata: Mapping[str, Any] | None = None,
    categories: Sequence[str] = (),
) -> dict[str, Any]:
    """One row of :data:`CALL_COLUMNS` for a stored call document (its utterances are not
    read), its metadata and its custom categories' names."""
    meta = dict(metadata or {})
    analysis = document.get("analysis") or {}
    metrics = document.get("metrics") or {}
    speakers = document.get("speakers") or []
    qa = document.get("qa") or {}
    others = {k: v for k, v in sorted(meta.items()) if k not in KNOWN_KEYS}
    record: dict[str, Any] = {
        "id": document["id"],
        "filename": document.get("filename"),
        "created_at": _time(document.get("created_at")),
        **{key: None if meta.get(key) is None else str(meta[key]) for key in KNOWN_KEYS},
        "started_at": _time(meta["started_at"]) if meta.get("started_at") else None,
        "metadata": json.dumps(others, ensure_ascii=False) if others else None,
        "duration_s": (document.get("audio") or {}).get("duration_s"),
        "language": document.get("language"),
        "status": document.get("status"),
        "resolution": analysis.get("resolution"),
        "reason": analysis.get("reason"),
        "summary": analysis.get("summary"),
        "topics": list(analysis.get("topics") or []),
        "conflict": bool((analysis.get("conflict") or {}).get("detected", False)),
        **_role_metrics("agent", speakers),
        **_role_metrics("customer", speakers),
        "talk_time_s": metrics.get("talk_time_s"),
        "silence_ratio": metrics.get("silence_ratio"),
        "longest_silence_s": metrics.get("longest_silence_s"),
        "overlap_s": metrics.get("overlap_s"),
        "interruptions": metrics.get("interruptions"),
        "mean_response_latency_s": metrics.get("mean_response_latency_s"),
        "customer_sentiment_trend": metrics.get("customer_sentiment_trend"),
        "categories": list(categories),
        "qa_scorecard": qa.get("scorecard"),
        "qa_score": qa.get("score"),
        "analysis_provider": analysis.get("provider"),
        "analysis_model": analysis.get("model"),
    }
    record["customer_sentiment_label"] = sentiment_label(record["customer_sentiment"])
    return {c.name: record[c.name] for c in CALL_COLUMNS}


def utterance_records(
    document: Mapping[str, Any], metadata: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The rows of :data:`UTTERANCE_COLUMNS` for a call document's utterances, in order."""
    meta = metadata or {}
    call = {
        "call_id": document["id"],
        "agent": None if meta.get("agent") is None else str(meta["agent"]),
        "team": None if meta.get("team") is None else str(meta["team"]),
        "external_id": None if meta.get("external_id") is None else str(meta["external_id"]),
        "created_at": _time(document.get("created_at")),
    }
    rows = []
    for u in document.get("utterances") or []:
        sentiment = u.get("sentiment") or {}
        rows.append(
            {
                "call_id": call["call_id"],
                "index": u["index"],
                "speaker": u.get("speaker"),
                "role": u.get("role") or "unknown",
                "start": u.get("start"),
                "end": u.get("end"),
                "text": u.get("text"),
                "sentiment_label": sentiment.get("label"),
                "sentiment_score": sentiment.get("score"),
                "agent": call["agent"],
                "team": call["team"],
                "external_id": call["external_id"],
                "created_at": call["created_at"],
            }
        )
    return rows
