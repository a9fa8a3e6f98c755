"""Text helpers for the rule-based analyzer: normalisation, phrase matching, sentences."""

from __future__ import annotations

import re
from collections.abc import Iterable

from services.llm.lexicon import FILLERS, INTERJECTIONS

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})
_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), repl)
    for pattern, repl in (
        (r"\bwon't\b", "will not"),
        (r"\bcan't\b", "can not"),
        (r"\bshan't\b", "shall not"),
        (r"\bcannot\b", "can not"),
        (r"n't\b", " not"),
        (r"'ll\b", " will"),
        (r"'re\b", " are"),
        (r"'ve\b", " have"),
        (r"\bi'm\b", "i am"),
        (r"'d\b", " would"),
        (r"\blet's\b", "let us"),
        (r"\b(it|that|what|there|here|he|she|who|where|how)'s\b", r"\1 is"),
        (r"'s\b", ""),
    )
)
_NON_WORD = re.compile(r"[^a-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _alternatives(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_FILLER_RE = re.compile(
    rf"^(?:(?:{_alternatives(INTERJECTIONS)})\b[\s,.!;:\-]*"
    rf"|(?:{_alternatives(FILLERS)})(?:[\s]*[,.!;:\-]+\s*|$))",
    re.IGNORECASE,
)


def normalize(text: str) -> str:
    """Lower case, contractions expanded, punctuation dropped, single spaces."""
    out = text.lower().translate(_APOSTROPHES)
    for pattern, repl in _CONTRACTIONS:
        out = pattern.sub(repl, out)
    return _NON_WORD.sub(" ", out).strip()


def normalize_all(phrases: Iterable[str]) -> tuple[str, ...]:
    return tuple(normalize(p) for p in phrases)


def has_phrase(normalized_text: str, normalized_phrase: str) -> bool:
    """Whole-word phrase match; both sides already normalised."""
    return f" {normalized_phrase} " in f" {normalized_text} "


def find_phrases(normalized_text: str, phrases: Iterable[str]) -> list[str]:
    return [p for p in phrases if has_phrase(normalized_text, p)]


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def strip_fillers(sentence: str) -> str:
    """Drop openers such as "Yes, hi, so" from the front of a sentence."""
    out = sentence.strip()
    while True:
        stripped = _FILLER_RE.sub("", out, count=1).strip()
        if stripped == out or not stripped:
            return out
        out = stripped


def clip_words(text: str, max_words: int) -> str:
    words = text.split()
    if len(words) <= max_words:
        return text.strip()
    return " ".join(words[:max_words]).rstrip(",;:") + "…"


def clip_chars(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"


def as_sentence(text: str) -> str:
    """Capitalised, ending in punctuation."""
    out = text.strip()
    if not out:
        return out
    out = out[0].upper() + out[1:]
    return out if out[-1] in ".!?…" else out + "."
