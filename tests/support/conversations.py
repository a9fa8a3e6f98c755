"""Build a :class:`Conversation` by hand from ``[(role, text, sentiment_score)]`` lines."""

from __future__ import annotations

from collections.abc import Sequence

from core.domain import (
    Conversation,
    Role,
    Sentiment,
    SentimentLabel,
    Speaker,
    Utterance,
    Word,
)

SPEAKER_OF_ROLE = {Role.AGENT: "S1", Role.CUSTOMER: "S2", Role.UNKNOWN: "S3"}
SECONDS_PER_WORD = 0.4

Line = tuple[str | Role, str, float | None]


def sentiment_of(score: float | None) -> Sentiment | None:
    if score is None:
        return None
    if score > 0.25:
        return Sentiment(SentimentLabel.POSITIVE, score)
    if score < -0.25:
        return Sentiment(SentimentLabel.NEGATIVE, score)
    return Sentiment(SentimentLabel.NEUTRAL, score)


def make_conversation(lines: Sequence[Line], language: str = "en") -> Conversation:
    """One utterance per line, indexed from 0, back to back in time."""
    utterances: list[Utterance] = []
    clock = 0.0
    for index, (role_name, text, score) in enumerate(lines):
        role = Role(role_name)
        words = []
        for token in text.split():
            words.append(Word(token, clock, clock + SECONDS_PER_WORD))
            clock += SECONDS_PER_WORD
        start = words[0].start if words else clock
        utterances.append(
            Utterance(
                index=index,
                speaker=SPEAKER_OF_ROLE[role],
                start=start,
                end=clock,
                text=text,
                words=words,
                sentiment=sentiment_of(score),
                role=role,
            )
        )
    speakers = [
        Speaker(id=sid, role=role)
        for role, sid in SPEAKER_OF_ROLE.items()
        if any(u.role == role for u in utterances)
    ]
    return Conversation(utterances, speakers, language, duration_s=clock)


def transcript_text(conversation: Conversation) -> str:
    return "\n".join(u.text for u in conversation.utterances)
