"""The call's language, and which stages can read it.

Whisper base is multilingual: every call gets the language it detected (in dual-channel
calls, per channel, the call's being the one of the most words). Some stages are not: the sentiment
engines shipped here (VADER's English lexicon, the learned head over the English MiniLM
embeddings), the rules analysis (English phrase lists), the content rules of speaker roles,
the default QA scorecard. An engine says which languages it reads with a ``languages`` entry
in its ``info().extra`` (a comma list, e.g. ``"en"``; none: any language). On a call in a
language it does not read, such a stage is marked unavailable in the document (its
``stages`` entry and a warning say why) instead of answering with English-lexicon guesses.
docs/languages.md has the table of every stage.
"""

from __future__ import annotations

from typing import Any

ENGLISH = "en"


def base_language(language: str | None) -> str:
    """``"es-MX"`` -> ``"es"``; empty for none."""
    return (language or "").strip().lower().replace("_", "-").split("-")[0]


def is_english(language: str | None) -> bool:
    """Whether text rules written in English apply: an English call, or one whose
    language is unknown (no speech: nothing for the rules to read anyway)."""
    return base_language(language) in ("", ENGLISH)


def engine_languages(engine: Any) -> frozenset[str] | None:
    """The languages ``engine`` reads, from ``info().extra["languages"]``; None: any."""
    try:
        declared = engine.info().extra.get("languages")
    except Exception:
        return None
    if not declared:
        return None
    names = declared.split(",") if isinstance(declared, str) else list(declared)
    found = {base_language(str(n)) for n in names}
    return frozenset(n for n in found if n) or None


def reads(engine: Any, language: str | None) -> bool:
    """Whether ``engine`` reads text in ``language`` (an unknown language counts as
    English: see :func:`is_english`)."""
    languages = engine_languages(engine)
    if languages is None:
        return True
    return (base_language(language) or ENGLISH) in languages


def unread(stage: str, engine: Any, language: str) -> tuple[dict[str, Any], str] | None:
    """None when ``engine`` reads ``language``; else the stage's ``stages`` entry (marked
    unavailable, with the reason) and the call's warning."""
    if reads(engine, language):
        return None
    names = ", ".join(sorted(engine_languages(engine) or ()))
    reason = f"the {engine.info().engine} engine reads {names} only; call language {language}"
    return {"available": False, "reason": reason}, f"{stage} is unavailable: {reason}."


# The names a prompt gives the languages Whisper detects most often (others: the code).
NAMES = {
    "ar": "Arabic",
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "hi": "Hindi",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
    "ru": "Russian",
    "sv": "Swedish",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "zh": "Chinese",
}


def language_name(language: str | None) -> str:
    """``"es"`` -> ``"Spanish"``; a code without a name is itself; none is ``"unknown"``."""
    code = base_language(language)
    return NAMES.get(code, code or "unknown")
