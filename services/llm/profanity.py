"""Profanity: whole words (with inflections) and masked forms such as "f***" or "sh*t"."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.domain import ProfanityHit, Utterance
from services.llm.lexicon import PROFANITY_MILD, PROFANITY_STRONG


@dataclass(frozen=True)
class ProfaneWord:
    word: str  # as said (lower case), e.g. "f***ing"
    base: str  # the lexicon entry, e.g. "fuck"
    strong: bool


def _forms(table: dict[str, tuple[str, ...]], strong: bool) -> dict[str, tuple[str, bool]]:
    out: dict[str, tuple[str, bool]] = {}
    for base, inflections in table.items():
        for form in (base, *inflections):
            out[form] = (base, strong)
    return out


_FORMS: dict[str, tuple[str, bool]] = {
    **_forms(PROFANITY_MILD, strong=False),
    **_forms(PROFANITY_STRONG, strong=True),
}
_FORMS_BY_LENGTH: dict[int, tuple[str, ...]] = {}
for _form in sorted(_FORMS):
    _FORMS_BY_LENGTH[len(_form)] = (*_FORMS_BY_LENGTH.get(len(_form), ()), _form)

_TOKEN = re.compile(r"[a-z*]+(?:'[a-z]+)?")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})


def _unmask(token: str) -> str | None:
    """The lexicon form a masked token stands for ("f**k" -> "fuck"), if exactly one fits best.

    Each ``*`` stands for one letter; the token needs at least one letter and one star.
    """
    if "*" not in token or not any(c.isalpha() for c in token):
        return None
    pattern = re.compile("".join("[a-z]" if c == "*" else re.escape(c) for c in token))
    for form in _FORMS_BY_LENGTH.get(len(token), ()):
        if pattern.fullmatch(form):
            return form
    return None


def profane_words(text: str) -> list[ProfaneWord]:
    """Profane words in ``text`` in order of first occurrence, each once."""
    found: dict[str, ProfaneWord] = {}
    for match in _TOKEN.finditer(text.lower().translate(_APOSTROPHES)):
        token = match.group()
        core = token[:-2] if token.endswith("'s") else token
        form = core if core in _FORMS else _unmask(core)
        if form is None or core in found:
            continue
        base, strong = _FORMS[form]
        found[core] = ProfaneWord(word=core, base=base, strong=strong)
    return list(found.values())


def find_profanity(utterances: Iterable[Utterance]) -> list[ProfanityHit]:
    hits = []
    for u in utterances:
        words = profane_words(u.text)
        if words:
            hits.append(ProfanityHit(utterance=u.index, words=[w.word for w in words]))
    return hits
