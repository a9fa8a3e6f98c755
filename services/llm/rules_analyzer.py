"""Deterministic, rule-based call analysis for when no LLM server is configured.

Honest about what it is: ``provider`` is ``"rules"`` and ``info().engine`` is ``"rules"``.
Everything comes from phrase lists (:mod:`services.llm.lexicon`) and the per-utterance
sentiment already in the :class:`Conversation`; the same input always gives the same output.

The phrase lists are English. A call in another language gets no English-lexicon guesses:
its summary, reason, topics, action items and conflict are empty, its outcome ``unknown``,
no profanity is looked for, every source says ``unavailable``, and a warning says why (a
model provider, LLM_PROVIDER=llama or openai, answers those fields in any language).
"""

from __future__ import annotations

import asyncio

from core.analysis.languages import is_english
from core.domain import CallAnalysis, Conversation, Resolution, StageInfo
from services.llm.parsing import FIELDS
from services.llm.profanity import find_profanity
from services.llm.rules import detect_conflict, find_action_items, find_reason, judge_resolution
from services.llm.summary import summarize
from services.llm.topics import extract_topics

PROVIDER = "rules"
UNAVAILABLE = "unavailable"


def unavailable_warnings(sources: dict[str, str], language: str = "") -> list[str]:
    """The warning for the fields left empty because the rules could not read the call."""
    names = [name for name, source in sources.items() if source == UNAVAILABLE]
    if not names:
        return []
    call = f"call language {language}; " if language else ""
    return [
        f"llm: {', '.join(names)} left empty: the rules read English only "
        f"({call}LLM_PROVIDER=llama or openai answers in any language)."
    ]


def unavailable_analysis(language: str) -> CallAnalysis:
    """The rules' answer for a call whose language they do not read: nothing guessed."""
    sources = dict.fromkeys((*FIELDS, "profanity"), UNAVAILABLE)
    return CallAnalysis(
        summary="",
        topics=[],
        reason="",
        resolution=Resolution.UNKNOWN,
        conflict_detected=False,
        conflict_evidence=[],
        profanity=[],
        action_items=[],
        provider=PROVIDER,
        sources=sources,
        warnings=unavailable_warnings(sources, language),
    )


def analyze_conversation(conversation: Conversation) -> CallAnalysis:
    if not is_english(conversation.language):
        return unavailable_analysis(conversation.language)
    utterances = [u for u in conversation.utterances if u.text.strip()]
    reason, reason_index = find_reason(utterances)
    resolution = judge_resolution(utterances)
    detected, evidence = detect_conflict(utterances)
    return CallAnalysis(
        summary=summarize(
            utterances,
            reason=reason,
            reason_index=reason_index,
            resolution=resolution,
            conflict_evidence=evidence,
        ),
        topics=extract_topics(utterances),
        reason=reason,
        resolution=resolution,
        conflict_detected=detected,
        conflict_evidence=evidence,
        profanity=find_profanity(utterances),
        action_items=find_action_items(utterances),
        provider=PROVIDER,
        sources=dict.fromkeys((*FIELDS, "profanity"), "rules"),
    )


class LocalCallAnalyzer:
    """The ``CallAnalyzer`` of ``LLM_PROVIDER=rules`` (and of ``auto`` with no model)."""

    def info(self) -> StageInfo:
        return StageInfo(
            backend="local", engine="rules", model="lexicon-v2", extra={"languages": "en"}
        )

    async def load(self) -> None:
        """Nothing to load: the lexicon is plain data imported with the module."""

    async def analyze(self, conversation: Conversation) -> CallAnalysis:
        return await asyncio.to_thread(analyze_conversation, conversation)
