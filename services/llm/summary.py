"""Extractive summary: the customer's request, the agent's key response, the outcome."""

from __future__ import annotations

from collections.abc import Sequence

from core.domain import Resolution, Utterance
from services.llm import lexicon as lx
from services.llm.rules import agent_turns, closing_quote, cue_score, is_action
from services.llm.text import (
    as_sentence,
    clip_words,
    find_phrases,
    normalize,
    normalize_all,
    split_sentences,
    strip_fillers,
)

_ACTION_CUES = normalize_all(lx.AGENT_ACTION_CUES)
_RITUAL = normalize_all(lx.AGENT_RITUAL_PHRASES)
_OUTCOME = {
    Resolution.RESOLVED: "resolved",
    Resolution.UNRESOLVED: "not resolved",
    Resolution.UNKNOWN: "unclear",
}
_QUOTE_WORDS = 30
_MAX_EVIDENCE_SHOWN = 5


def _content_words(text: str) -> set[str]:
    return {
        w
        for w in normalize(text).split()
        if len(w) >= lx.KEYWORD_MIN_LENGTH and w not in lx.STOPWORDS
    }


def key_agent_sentence(utterances: Sequence[Utterance], reason: str, after: int | None) -> str:
    """The agent sentence that best answers the reason: action cues plus shared words."""
    reason_words = _content_words(reason)
    best, best_score = "", 0.0
    for u in agent_turns(utterances):
        if after is not None and u.index <= after:
            continue
        for sentence in split_sentences(u.text):
            norm = normalize(sentence)
            words = len(sentence.split())
            if sentence.endswith("?") or words < lx.AGENT_RESPONSE_MIN_WORDS:
                continue
            if find_phrases(norm, _RITUAL):
                continue
            score = 2.0 * len(find_phrases(norm, _ACTION_CUES))
            score += (2.0 if is_action(sentence) else 0.0) + max(cue_score(sentence), 0.0)
            score += len(reason_words & _content_words(sentence))
            score += 1.0 if 6 <= words <= _QUOTE_WORDS else 0.0
            if score > best_score:
                best, best_score = sentence, score
    return as_sentence(clip_words(strip_fillers(best), _QUOTE_WORDS)) if best else ""


def summarize(
    utterances: Sequence[Utterance],
    *,
    reason: str,
    reason_index: int | None,
    resolution: Resolution,
    conflict_evidence: Sequence[int],
) -> str:
    if not utterances:
        return "The call has no transcribed speech."
    parts = []
    if reason:
        parts.append(f"Customer: {clip_words(reason, _QUOTE_WORDS)}")
    response = key_agent_sentence(utterances, reason, reason_index)
    if response:
        parts.append(f"Agent: {response}")
    if conflict_evidence:
        shown = [str(i) for i in conflict_evidence[:_MAX_EVIDENCE_SHOWN]]
        more = ", …" if len(conflict_evidence) > _MAX_EVIDENCE_SHOWN else ""
        parts.append(f"The call turned tense (utterances {', '.join(shown)}{more}).")
    quote = closing_quote(utterances, resolution)
    outcome = f"Outcome: {_OUTCOME[resolution]}"
    parts.append(f"{outcome} — “{quote}”" if quote else f"{outcome}.")
    return " ".join(parts)
