"""Custom vocabulary: the words of a company that Whisper does not know.

A vocabulary is a list of **terms** (product, plan and company names: ``Zentrix Plus``,
``Kalvora``, ``FlexiMax 300``) and a **replacement table** (a spoken form and the written
form it stands for: ``flexi max three hundred`` -> ``FlexiMax 300``). Vocabularies are kept
globally and per team (core/vocabularies/store.py); a call may bring its own terms and
replacements in its analysis options. At job time the call's are merged (:func:`merge`):
the call's own first, then its team's, then the global ones, duplicates dropped.

- The terms go to the ASR stage (``TranscriptionOptions.terms``), which gives them to
  faster-whisper as ``hotwords``: text placed before every 30 s window's decode, so the
  model leans towards those spellings. Whisper's prompt holds at most 223 tokens; the
  merged terms are cut to :data:`MAX_PROMPT_TOKENS` by an estimate (:func:`estimate_tokens`)
  and the ones left out are named in a warning of the document.
- The replacements are applied to the recognised words (:func:`apply_replacements`) before
  any other stage reads them: case-insensitive, whole words, punctuation around the words
  kept; a spoken form of several words becomes one word (the first word's start, the last
  word's end). Each term also stands for itself: a term recognised in other letter cases
  (``kalvora``) is written as the term (``Kalvora``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from core.analysis.alignment import join_words
from core.domain import Utterance, Word
from core.errors import InvalidInputError

#: Whisper's prompt is at most 223 tokens (half its 448-token context, less one); the
#: estimate is deliberately high, so a merged list kept under this fits.
MAX_PROMPT_TOKENS = 200
MAX_TERMS = 100  # per vocabulary (and per call)
MAX_TERM_CHARS = 60
MAX_REPLACEMENTS = 200
MAX_SPOKEN_WORDS = 6

HINT = (
    f"Send at most {MAX_TERMS} terms of 1 to {MAX_TERM_CHARS} characters and at most "
    f"{MAX_REPLACEMENTS} replacements, each a spoken form of at most {MAX_SPOKEN_WORDS} words "
    'and its written form, e.g. {"spoken": "flexi max", "written": "FlexiMax"}.'
)

# Punctuation Whisper puts around a word ("Kalvora," "¿Qué"): kept, not compared.
_EDGE = re.compile(r"^(\W*)(.*?)(\W*)$", re.UNICODE | re.DOTALL)


@dataclass(frozen=True)
class Replacement:
    spoken: str
    written: str


@dataclass(frozen=True)
class Vocabulary:
    """Terms and replacements, from one source (``global``, ``team:<name>``, ``call``)."""

    terms: tuple[str, ...] = ()
    replacements: tuple[Replacement, ...] = ()
    source: str = "call"


@dataclass(frozen=True)
class ResolvedVocabulary:
    """A call's merged vocabulary: what the ASR stage is given and what is replaced."""

    terms: tuple[str, ...] = ()
    replacements: tuple[Replacement, ...] = ()
    sources: tuple[str, ...] = ()
    dropped_terms: tuple[str, ...] = ()  # over the prompt's budget

    def __bool__(self) -> bool:
        return bool(self.terms or self.replacements)

    def record(self, applied: int) -> dict[str, Any]:
        """What the document's ``stages.asr.vocabulary`` says."""
        entry: dict[str, Any] = {
            "sources": list(self.sources),
            "terms": list(self.terms),
            "replacements": len(self.replacements),
            "replaced": applied,
        }
        if self.dropped_terms:
            entry["dropped_terms"] = list(self.dropped_terms)
        return entry


# ------------------------------------------------------------------------ checking
def _norm(text: str) -> str:
    return " ".join(str(text).split())


def clean_terms(terms: Iterable[Any]) -> tuple[str, ...]:
    """Terms with their spaces normalised, empty ones and duplicates (any case) dropped.

    Raises :class:`InvalidInputError` for too many or too long terms."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in terms:
        if not isinstance(raw, str):
            raise InvalidInputError(f"A term must be text, not {raw!r}.", HINT)
        term = _norm(raw)
        if not term:
            continue
        if len(term) > MAX_TERM_CHARS or not term.isprintable():
            raise InvalidInputError(
                f"The term {term[:70]!r} is over {MAX_TERM_CHARS} characters or not printable.",
                HINT,
            )
        if term.casefold() not in seen:
            seen.add(term.casefold())
            out.append(term)
    if len(out) > MAX_TERMS:
        raise InvalidInputError(f"{len(out)} terms; at most {MAX_TERMS}.", HINT)
    return tuple(out)


def clean_replacements(items: Iterable[Any]) -> tuple[Replacement, ...]:
    """Replacements from ``{"spoken", "written"}`` objects (or :class:`Replacement`), the
    last one of a spoken form winning. Raises :class:`InvalidInputError` for bad ones."""
    by_spoken: dict[str, Replacement] = {}
    for item in items:
        if isinstance(item, Replacement):
            spoken, written = item.spoken, item.written
        elif isinstance(item, Mapping) and set(item) == {"spoken", "written"}:
            spoken, written = item["spoken"], item["written"]
        else:
            raise InvalidInputError(
                f"A replacement must be an object with `spoken` and `written`, not {item!r:.80}.",
                HINT,
            )
        if not isinstance(spoken, str) or not isinstance(written, str):
            raise InvalidInputError("A replacement's spoken and written forms are text.", HINT)
        spoken, written = _norm(spoken), _norm(written)
        words = _spoken_words(spoken)
        if not words or not written:
            raise InvalidInputError(
                f"The replacement {spoken!r} -> {written!r} has an empty form "
                "(a spoken form needs a letter or a digit).",
                HINT,
            )
        if len(words) > MAX_SPOKEN_WORDS or len(spoken) > 200 or len(written) > MAX_TERM_CHARS:
            raise InvalidInputError(f"The replacement {spoken[:70]!r} is too long.", HINT)
        if not (spoken.isprintable() and written.isprintable()):
            raise InvalidInputError("A replacement must be printable text.", HINT)
        by_spoken[" ".join(words)] = Replacement(spoken, written)
    if len(by_spoken) > MAX_REPLACEMENTS:
        raise InvalidInputError(f"{len(by_spoken)} replacements; at most {MAX_REPLACEMENTS}.", HINT)
    return tuple(by_spoken.values())


def estimate_tokens(text: str) -> int:
    """A generous estimate of the Whisper tokens of ``text``: a token for every word and
    one more for every three characters past the first three of it (Whisper's BPE gives a
    made-up name two to four tokens; common words one)."""
    return sum(1 + max(0, len(w) - 3 + 2) // 3 for w in re.findall(r"\w+|[^\w\s]", text))


def hotwords(terms: Sequence[str]) -> str:
    """The text faster-whisper is given for ``terms``."""
    return ", ".join(terms)


# ------------------------------------------------------------------------- merging
def merge(
    vocabularies: Sequence[Vocabulary], budget: int = MAX_PROMPT_TOKENS
) -> ResolvedVocabulary:
    """One vocabulary of several, the first the most specific (the call's, the team's, the
    global one): terms in that order without duplicates (any case), kept while their
    estimated tokens fit ``budget`` (the rest are ``dropped_terms``); for a spoken form in
    several, the most specific replacement."""
    terms: list[str] = []
    seen: set[str] = set()
    dropped: list[str] = []
    used = 0
    for vocabulary in vocabularies:
        for term in vocabulary.terms:
            key = term.casefold()
            if key in seen:
                continue
            seen.add(key)
            cost = estimate_tokens(term) + (1 if terms else 0)  # the ", " between
            if used + cost > budget:
                dropped.append(term)
                continue
            used += cost
            terms.append(term)
    replacements: dict[str, Replacement] = {}
    for vocabulary in vocabularies:
        for r in vocabulary.replacements:
            replacements.setdefault(" ".join(_spoken_words(r.spoken)), r)
    sources = tuple(v.source for v in vocabularies if v.terms or v.replacements)
    return ResolvedVocabulary(tuple(terms), tuple(replacements.values()), sources, tuple(dropped))


# --------------------------------------------------------------------- replacing
def _spoken_words(text: str) -> list[str]:
    """The comparable words of a spoken form: lower-cased, punctuation at the edges gone."""
    return [w for w in (_bare(p) for p in text.split()) if w]


def _bare(word: str) -> str:
    match = _EDGE.match(word)
    return (match.group(2) if match else word).casefold()


def _rules(vocabulary: ResolvedVocabulary) -> dict[str, list[tuple[list[str], str]]]:
    """Replacements by their first spoken word, longest spoken form first; each term is a
    replacement of itself (its letter case)."""
    rules: dict[tuple[str, ...], str] = {}
    for term in vocabulary.terms:
        words = _spoken_words(term)
        if words:
            rules[tuple(words)] = term
    for r in vocabulary.replacements:
        words = _spoken_words(r.spoken)
        if words:
            rules[tuple(words)] = r.written
    by_first: dict[str, list[tuple[list[str], str]]] = {}
    for words_key, written in rules.items():
        by_first.setdefault(words_key[0], []).append((list(words_key), written))
    for options in by_first.values():
        options.sort(key=lambda o: -len(o[0]))
    return by_first


def apply_replacements(
    words: Sequence[Word], vocabulary: ResolvedVocabulary
) -> tuple[list[Word], int]:
    """``words`` with the vocabulary's replacements made, and how many words were changed
    (a merge of several words counts once). Case-insensitive, whole words; the punctuation
    before the first and after the last word replaced is kept; several words replaced by
    one take the first's start, the last's end and the lowest probability."""
    rules = _rules(vocabulary)
    if not rules:
        return list(words), 0
    bare = [_bare(w.text) for w in words]
    out: list[Word] = []
    changed = 0
    i = 0
    while i < len(words):
        match = None
        for spoken, written in rules.get(bare[i], ()):
            n = len(spoken)
            if bare[i : i + n] == spoken:
                match = (n, written)
                break
        if match is None:
            out.append(words[i])
            i += 1
            continue
        n, written = match
        first, last = words[i], words[i + n - 1]
        head = _EDGE.match(first.text)
        tail = _EDGE.match(last.text)
        text = (head.group(1) if head else "") + written + (tail.group(3) if tail else "")
        span = words[i : i + n]
        replaced = Word(
            text=text,
            start=first.start,
            end=max(w.end for w in span),
            probability=min(w.probability for w in span),
        )
        if n > 1 or replaced.text != first.text:
            changed += 1
        out.append(replaced)
        i += n
    return out, changed


def replace_text(text: str, vocabulary: ResolvedVocabulary) -> str:
    """The replacements made in plain text (words split on spaces)."""
    words = [Word(t, 0.0, 0.0) for t in text.split()]
    replaced, _ = apply_replacements(words, vocabulary)
    return " ".join(w.text for w in replaced)


class VocabularySource(Protocol):
    """Where the stored vocabularies come from (core/vocabularies/store.py)."""

    def for_call(self, team: str | None) -> list[Vocabulary]:
        """The vocabularies that apply to a call of ``team``: the team's, then the global."""
        ...


def resolve(
    terms: Iterable[Any],
    replacements: Iterable[Any],
    stored: Sequence[Vocabulary] = (),
) -> ResolvedVocabulary:
    """A call's vocabulary: its own ``terms`` and ``replacements`` (checked again: they
    came through a job row), then the ``stored`` ones, merged by :func:`merge`."""
    own = Vocabulary(clean_terms(terms), clean_replacements(replacements), "call")
    return merge([own, *stored])


def replace_in_utterances(utterances: Sequence[Utterance], vocabulary: ResolvedVocabulary) -> int:
    """Make the replacements in each utterance's words and text; how many were made."""
    total = 0
    for u in utterances:
        words, changed = apply_replacements(u.words, vocabulary)
        if changed:
            u.words = words
            u.text = join_words(words)
            total += changed
    return total


def dropped_warning(vocabulary: ResolvedVocabulary) -> str:
    dropped = ", ".join(vocabulary.dropped_terms)
    return (
        f"vocabulary: {len(vocabulary.dropped_terms)} terms left out of the ASR prompt "
        f"(over its ~{MAX_PROMPT_TOKENS} tokens): {dropped}. Their replacements still apply."
    )
