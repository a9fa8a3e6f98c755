"""Topics: a curated customer-service lexicon first, then frequent keyword phrases.

Keywords are the words and two-word phrases the call repeats that are not in the built-in
background vocabulary (:data:`services.llm.lexicon.STOPWORDS`): a TF-IDF with a fixed
"document frequency" of common conversational English.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from core.domain import Utterance
from services.llm import lexicon as lx
from services.llm.profanity import profane_words
from services.llm.rules import customer_turns
from services.llm.text import has_phrase, normalize, normalize_all

_TOPICS = {topic: normalize_all(phrases) for topic, phrases in lx.TOPIC_LEXICON.items()}
_BIGRAM_WEIGHT = 2.5
_WORD = re.compile(r"[A-Za-z]+")
_MAX_KEYWORD_TOPICS = 3


def lexicon_topics(utterances: Sequence[Utterance]) -> list[str]:
    """Lexicon topics mentioned enough; a customer mention weighs more than an agent's."""
    customers = {u.index for u in customer_turns(utterances)}
    scores: dict[str, float] = {}
    for u in utterances:
        norm = normalize(u.text)
        weight = lx.CUSTOMER_TOPIC_WEIGHT if u.index in customers else 1.0
        for topic, phrases in _TOPICS.items():
            if any(has_phrase(norm, p) for p in phrases):
                scores[topic] = scores.get(topic, 0.0) + weight
    order = list(_TOPICS)
    ranked = sorted(scores, key=lambda t: (-scores[t], order.index(t)))
    return [t for t in ranked if scores[t] >= lx.TOPIC_MIN_SCORE]


def proper_nouns(utterances: Sequence[Utterance]) -> set[str]:
    """Words never written in lower case (names: "Dana", "Litware"), lower-cased."""
    seen_lower: set[str] = set()
    capitalised: set[str] = set()
    for u in utterances:
        for word in _WORD.findall(u.text):
            (capitalised if word[0].isupper() else seen_lower).add(word.lower())
    return capitalised - seen_lower


def _content_runs(utterances: Sequence[Utterance]) -> list[list[str]]:
    """Runs of adjacent content words (a stopword, a name or a profane word breaks a run)."""
    runs: list[list[str]] = []
    names = proper_nouns(utterances)
    for u in utterances:
        excluded = {w.word for w in profane_words(u.text)} | names
        run: list[str] = []
        for token in normalize(u.text).split():
            content = (
                token.isalpha()
                and len(token) >= lx.KEYWORD_MIN_LENGTH
                and token not in lx.STOPWORDS
                and token not in excluded
            )
            if content:
                run.append(token)
            elif run:
                runs.append(run)
                run = []
        if run:
            runs.append(run)
    return runs


def keyword_topics(utterances: Sequence[Utterance], limit: int, min_count: int = 2) -> list[str]:
    """The most repeated content bigrams and words (bigrams first, then words not in them)."""
    counts: dict[str, int] = {}
    for run in _content_runs(utterances):
        grams = run + [f"{a} {b}" for a, b in itertools.pairwise(run)]
        for gram in grams:
            counts[gram] = counts.get(gram, 0) + 1
    order = {gram: i for i, gram in enumerate(counts)}

    def score(gram: str) -> float:
        return counts[gram] * (_BIGRAM_WEIGHT if " " in gram else 1.0)

    chosen: list[str] = []
    for gram in sorted(counts, key=lambda g: (-score(g), order[g])):
        if len(chosen) >= limit:
            break
        if counts[gram] < min_count:
            continue
        words = set(gram.split())
        if any(words & set(c.split()) for c in chosen):
            continue
        chosen.append(gram)
    return chosen


def extract_topics(utterances: Sequence[Utterance]) -> list[str]:
    """1-5 short topics; none only when the call has no content words at all."""
    topics = lexicon_topics(utterances)[: lx.MAX_TOPICS]
    if len(topics) < 2:
        room = min(_MAX_KEYWORD_TOPICS, lx.MAX_TOPICS - len(topics))
        covered = {w for t in topics for p in _TOPICS[t] for w in p.split()}
        extra = [
            k
            for k in keyword_topics(utterances, limit=room + len(covered))
            if not set(k.split()) & covered
        ]
        topics += extra[:room]
    if not topics:
        topics = keyword_topics(utterances, limit=1, min_count=1)
    return topics
