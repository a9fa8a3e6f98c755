"""Rules over the turns: who is the customer, conflict, resolution, reason, action items."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from core.domain import Resolution, Role, Utterance
from services.llm import lexicon as lx
from services.llm.profanity import profane_words
from services.llm.text import (
    as_sentence,
    clip_chars,
    clip_words,
    find_phrases,
    normalize,
    normalize_all,
    split_sentences,
    strip_fillers,
)

_HOSTILE = normalize_all(lx.HOSTILE_PHRASES)
_DEESCALATION = normalize_all(lx.DEESCALATION_PHRASES)
_RESOLUTION_CUES = tuple((normalize(p), w) for p, w in lx.RESOLUTION_CUES)
_REASON_CUES = normalize_all(lx.REASON_CUES)
_ACTIONS = tuple(re.compile(p) for p in lx.ACTION_PATTERNS)
_REASON_SEARCH_TURNS = 4
_SHORT_SENTENCE_WORDS = 6

# --------------------------------------------------------------------------- roles


def customer_turns(utterances: Sequence[Utterance]) -> list[Utterance]:
    """Customer turns; when no turn is labelled customer, every turn not labelled agent."""
    customers = [u for u in utterances if u.role == Role.CUSTOMER]
    if customers:
        return customers
    return [u for u in utterances if u.role != Role.AGENT]


def agent_turns(utterances: Sequence[Utterance]) -> list[Utterance]:
    return [u for u in utterances if u.role == Role.AGENT]


def role_label(utterance: Utterance) -> str:
    if utterance.role == Role.UNKNOWN:
        return utterance.speaker or "Speaker"
    return utterance.role.value.capitalize()


# ------------------------------------------------------------------------ conflict


def is_hostile(text: str) -> bool:
    """Hostile phrases, escalation demands, de-escalation pleas or strong profanity."""
    norm = normalize(text)
    if find_phrases(norm, _HOSTILE) or find_phrases(norm, _DEESCALATION):
        return True
    return any(w.strong for w in profane_words(text))


def detect_conflict(utterances: Sequence[Utterance]) -> tuple[bool, list[int]]:
    """(detected, evidence indexes): hostile turns, or several strongly negative customer turns."""
    hostile = {u.index for u in utterances if is_hostile(u.text)}
    negative = {
        u.index
        for u in customer_turns(utterances)
        if u.sentiment is not None and u.sentiment.score <= lx.STRONG_NEGATIVE
    }
    detected = bool(hostile) or len(negative) >= lx.NEGATIVE_TURNS_FOR_CONFLICT
    return detected, sorted(hostile | negative) if detected else []


# ---------------------------------------------------------------------- resolution


def closing_window(utterances: Sequence[Utterance]) -> list[Utterance]:
    size = max(lx.CLOSING_MIN, math.ceil(len(utterances) * lx.CLOSING_SHARE))
    return list(utterances[-size:])


def cue_score(text: str) -> float:
    """Resolution cues in one text: the strongest positive plus the strongest negative."""
    norm = normalize(text)
    weights = [w for phrase, w in _RESOLUTION_CUES if find_phrases(norm, (phrase,))]
    return max((w for w in weights if w > 0), default=0.0) + min(
        (w for w in weights if w < 0), default=0.0
    )


def final_customer_mood(utterances: Sequence[Utterance]) -> float | None:
    """The customer's last two scores, the last counting double."""
    scored = [u.sentiment.score for u in customer_turns(utterances) if u.sentiment is not None]
    if not scored:
        return None
    if len(scored) == 1:
        return scored[0]
    return (scored[-2] + 2.0 * scored[-1]) / 3.0


def judge_resolution(utterances: Sequence[Utterance]) -> Resolution:
    """Closing phrases plus the customer's final sentiment; unknown when the signals are weak."""
    closing = closing_window(utterances)
    score = sum(cue_score(u.text) for u in closing)
    mood = final_customer_mood(closing)
    if mood is not None and abs(mood) >= lx.FINAL_SENTIMENT_THRESHOLD:
        score += math.copysign(lx.FINAL_SENTIMENT_WEIGHT, mood)
    if score >= lx.RESOLUTION_DECISION:
        return Resolution.RESOLVED
    if score <= -lx.RESOLUTION_DECISION:
        return Resolution.UNRESOLVED
    return Resolution.UNKNOWN


def closing_quote(utterances: Sequence[Utterance], resolution: Resolution) -> str:
    """The closing sentence that best backs ``resolution``: strongest cue, customer first."""
    if resolution == Resolution.UNKNOWN:
        return ""
    sign = 1.0 if resolution == Resolution.RESOLVED else -1.0
    closing = closing_window(utterances)
    customers = {u.index for u in customer_turns(closing)}
    best, best_key = "", (0.0, False, -1)
    for position, u in enumerate(closing):
        for sentence in split_sentences(u.text):
            strength = cue_score(sentence) * sign
            key = (strength, u.index in customers, position)
            if strength > 0 and key > best_key:
                best, best_key = sentence, key
    return as_sentence(clip_words(strip_fillers(best), lx.MAX_ITEM_WORDS)) if best else ""


# -------------------------------------------------------------------------- reason


def _tidy(sentence: str) -> str:
    return as_sentence(clip_chars(strip_fillers(sentence), lx.REASON_MAX_CHARS))


def find_reason(utterances: Sequence[Utterance]) -> tuple[str, int | None]:
    """(reason, utterance index): the first customer sentence stating a need."""
    turns = customer_turns(utterances)[:_REASON_SEARCH_TURNS]
    for u in turns:
        sentences = split_sentences(u.text)
        for i, sentence in enumerate(sentences):
            if not find_phrases(normalize(sentence), _REASON_CUES):
                continue
            if len(sentence.split()) < _SHORT_SENTENCE_WORDS and i + 1 < len(sentences):
                sentence = f"{sentence} {sentences[i + 1]}"
            return _tidy(sentence), u.index
    for u in turns:
        text = strip_fillers(u.text)
        if len(text.split()) >= 4 and not text.endswith("?"):
            return _tidy(max(split_sentences(text), key=lambda s: len(s.split()))), u.index
    return "", None


# -------------------------------------------------------------------- action items


def is_action(sentence: str) -> bool:
    return any(p.search(normalize(sentence)) for p in _ACTIONS)


def _action_clause(sentence: str) -> str:
    """From the clause holding the commitment to the end of the sentence."""
    clauses = re.split(r"(?<=[,;])\s+", sentence)
    for i, clause in enumerate(clauses):
        if is_action(clause):
            return " ".join(clauses[i:])
    return sentence


# "Could you please confirm your name?": something to answer now, not to do after the call.
_IN_CALL = re.compile(r"\bplease (confirm|verify|spell|repeat|hold|give|tell|provide|read)\b", re.I)


def find_action_items(utterances: Sequence[Utterance]) -> list[str]:
    """Commitments and requests ("I'll send", "you should receive", "please email us")."""
    items: list[str] = []
    seen: set[str] = set()
    for u in utterances:
        for sentence in split_sentences(u.text):
            is_question = sentence.rstrip().endswith("?")
            if is_question and ("please" not in sentence.lower() or _IN_CALL.search(sentence)):
                continue  # a question is a request only with please, and not for the call itself
            if not is_action(sentence):
                continue
            item = as_sentence(
                clip_words(strip_fillers(_action_clause(sentence)), lx.MAX_ITEM_WORDS)
            )
            key = normalize(item)
            if key in seen:
                continue
            seen.add(key)
            items.append(f"{role_label(u)}: {item}")
            if len(items) >= lx.MAX_ACTION_ITEMS:
                return items
    return items
