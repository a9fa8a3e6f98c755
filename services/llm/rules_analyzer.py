"""Deterministic, rule-based call analysis for when no LLM server is configured.

Honest about what it is: ``provider`` is ``"rules"`` and ``info().engine`` is ``"rules"``.
Everything comes from phrase lists (:mod:`services.llm.lexicon`) and the per-utterance
sentiment already in the :class:`Conversation`; the same input always gives the same output.
"""

from __future__ import annotations

import asyncio

from core.domain import CallAnalysis, Conversation, StageInfo
from services.llm.parsing import FIELDS
from services.llm.profanity import find_profanity
from services.llm.rules import detect_conflict, find_action_items, find_reason, judge_resolution
from services.llm.summary import summarize
from services.llm.topics import extract_topics

PROVIDER = "rules"


def analyze_conversation(conversation: Conversation) -> CallAnalysis:
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
        return StageInfo(backend="local", engine="rules", model="lexicon-v1")

    async def load(self) -> None:
        """Nothing to load: the lexicon is plain data imported with the module."""

    async def analyze(self, conversation: Conversation) -> CallAnalysis:
        return await asyncio.to_thread(analyze_conversation, conversation)
