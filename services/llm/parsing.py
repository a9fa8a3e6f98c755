"""Turn a model's reply into a :class:`CallAnalysis`: find the JSON, validate it, clean it.

Lenient where a json_object reply may drift from the schema (a string for a list, "Resolved."
for "resolved", a bare bool for ``conflict``), strict where it matters: utterance indexes
that the transcript does not have are dropped.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from core.domain import CallAnalysis, ProfanityHit, Resolution

log = logging.getLogger(__name__)

MAX_TOPICS = 5
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)


class ReplyError(ValueError):
    """The reply holds no valid analysis."""


def _as_list(value: Any) -> Any:
    """A lone value where a list belongs becomes a one-item list; null becomes []."""
    if value is None:
        return []
    if isinstance(value, str | int | dict):
        return [value]
    return value


Ints = Annotated[list[int], BeforeValidator(_as_list)]
Strings = Annotated[list[str], BeforeValidator(_as_list)]
_RESOLUTIONS = {r.value for r in Resolution}


class ConflictReply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    detected: bool = False
    evidence: Ints = Field(default_factory=list)


class ProfanityReply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    utterance: int
    words: Strings = Field(default_factory=list)


class AnalysisReply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    summary: str
    topics: Strings = Field(default_factory=list)
    reason: str = ""
    resolution: Resolution = Resolution.UNKNOWN
    conflict: ConflictReply = Field(default_factory=ConflictReply)
    profanity: Annotated[list[ProfanityReply], BeforeValidator(_as_list)] = Field(
        default_factory=list
    )
    action_items: Strings = Field(default_factory=list)

    @field_validator("reason", mode="before")
    @classmethod
    def _none_reason(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("resolution", mode="before")
    @classmethod
    def _resolution(cls, value: Any) -> Resolution:
        word = re.sub(r"[^a-z]", "", str(value).lower())
        return Resolution(word) if word in _RESOLUTIONS else Resolution.UNKNOWN

    @field_validator("conflict", mode="before")
    @classmethod
    def _conflict(cls, value: Any) -> Any:
        if value is None:
            return {}
        return {"detected": value} if isinstance(value, bool) else value


def extract_json(content: str) -> dict[str, Any]:
    """The JSON object in ``content``: bare, in ```json fences, or after a <think> block."""
    text = _THINK.sub("", content).strip()
    fenced = _FENCE.search(text)
    candidates = [fenced.group(1).strip()] if fenced else []
    candidates.append(text)
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    raise ReplyError("the reply holds no JSON object")


def parse_reply(content: str) -> AnalysisReply:
    try:
        return AnalysisReply.model_validate(extract_json(content))
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        raise ReplyError(f"the JSON does not match the analysis schema ({fields})") from exc


def _clean_strings(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        text = " ".join(value.split())
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    return out


def _valid(indexes: Iterable[int], known: set[int], what: str) -> list[int]:
    kept = sorted({i for i in indexes if i in known})
    dropped = sorted({i for i in indexes if i not in known})
    if dropped:
        log.warning("llm: dropped %s indexes not in the transcript: %s", what, dropped)
    return kept


def to_analysis(reply: AnalysisReply, known: set[int], provider: str) -> CallAnalysis:
    """Clean the reply: indexes checked against ``known``, strings trimmed and deduplicated."""
    words_by_utterance: dict[int, list[str]] = {}
    for hit in reply.profanity:
        words_by_utterance.setdefault(hit.utterance, []).extend(hit.words)
    profanity = [
        ProfanityHit(utterance=i, words=words)
        for i in _valid(words_by_utterance, known, "profanity")
        if (words := _clean_strings(words_by_utterance[i]))
    ]
    detected = reply.conflict.detected
    evidence = _valid(reply.conflict.evidence, known, "conflict") if detected else []
    return CallAnalysis(
        summary=" ".join(reply.summary.split()),
        topics=_clean_strings(reply.topics)[:MAX_TOPICS],
        reason=" ".join(reply.reason.split()),
        resolution=reply.resolution,
        conflict_detected=detected,
        conflict_evidence=evidence,
        profanity=profanity,
        action_items=_clean_strings(reply.action_items),
        provider=provider,
    )
