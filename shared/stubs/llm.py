"""GrpcCallAnalyzer: :class:`core.ports.CallAnalyzer` over the ``callytics.llm.v1`` service,
and the conversions of :class:`Conversation` and :class:`CallAnalysis` to and from protobuf
(the server uses them too).

The round trip is exact: optional fields keep None apart from zero (``Speaker.channel``,
``sentiment_mean``, ``loudness_dbfs``, ``Utterance.sentiment``), and roles, sentiment labels
and the resolution come back as their enums. Indexes, channels and counts travel as uint32:
a negative one cannot be sent and is an :class:`InvalidInputError` on the client.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

import grpc

from core.domain import (
    CallAnalysis,
    Conversation,
    ProfanityHit,
    Resolution,
    Role,
    Sentiment,
    SentimentLabel,
    Speaker,
    Utterance,
    Word,
)
from core.errors import CallyticsError, InvalidInputError, StageError
from shared.stubs.base import GrpcStage
from shared.stubs.callytics.llm.v1 import llm_pb2, llm_pb2_grpc

STAGE = "llm"
E = TypeVar("E", bound=StrEnum)
M = TypeVar("M")


def _enum(cls: type[E], value: str, fail: Callable[[str], CallyticsError]) -> E:
    try:
        return cls(value)
    except ValueError:
        raise fail(f"unknown {cls.__name__} {value!r}") from None


def _encode(build: Callable[[], M], fail: Callable[[str], CallyticsError]) -> M:
    """Run a message builder; protobuf's range and type errors become ``fail(reason)``."""
    try:
        return build()
    except (ValueError, TypeError) as exc:  # uint32 out of range, bad UTF-8, wrong type
        raise fail(str(exc)) from exc


def _bad_conversation(reason: str) -> InvalidInputError:
    return InvalidInputError(
        f"The conversation cannot be sent to the {STAGE} service: {reason}.",
        "Indexes, channels and interruption counts must be in 0..4294967295 and texts "
        "valid Unicode; roles agent | customer | unknown.",
    )


def _bad_analysis(reason: str) -> StageError:
    return StageError(STAGE, f"the call analysis does not fit the protocol: {reason}")


# ------------------------------------------------------------------ conversation


def _word_to_proto(word: Word) -> llm_pb2.Word:
    return llm_pb2.Word(
        text=word.text,
        start=float(word.start),
        end=float(word.end),
        probability=float(word.probability),
    )


def _utterance_to_proto(u: Utterance) -> llm_pb2.Utterance:
    message = llm_pb2.Utterance(
        index=int(u.index),
        speaker=u.speaker,
        start=float(u.start),
        end=float(u.end),
        text=u.text,
        words=[_word_to_proto(w) for w in u.words],
        role=str(u.role),
    )
    if u.sentiment is not None:
        message.sentiment.CopyFrom(
            llm_pb2.Sentiment(label=str(u.sentiment.label), score=float(u.sentiment.score))
        )
    return message


def _speaker_to_proto(s: Speaker) -> llm_pb2.Speaker:
    message = llm_pb2.Speaker(
        id=s.id,
        role=str(s.role),
        talk_time_s=float(s.talk_time_s),
        talk_ratio=float(s.talk_ratio),
        words_per_minute=float(s.words_per_minute),
        interruptions=int(s.interruptions),
    )
    # proto3 ``optional``: set only when not None, so 0 and None stay apart.
    if s.channel is not None:
        message.channel = int(s.channel)
    if s.sentiment_mean is not None:
        message.sentiment_mean = float(s.sentiment_mean)
    if s.loudness_dbfs is not None:
        message.loudness_dbfs = float(s.loudness_dbfs)
    return message


def conversation_to_proto(conversation: Conversation) -> llm_pb2.Conversation:
    """Raises InvalidInputError for what protobuf cannot carry (a negative index...)."""

    def build() -> llm_pb2.Conversation:
        return llm_pb2.Conversation(
            utterances=[_utterance_to_proto(u) for u in conversation.utterances],
            speakers=[_speaker_to_proto(s) for s in conversation.speakers],
            language=conversation.language,
            duration_s=float(conversation.duration_s),
        )

    message = _encode(build, _bad_conversation)
    _encode(message.SerializeToString, _bad_conversation)  # strings must be valid UTF-8
    for u in conversation.utterances:  # an unknown role would come back as another value
        _enum(Role, str(u.role), _bad_conversation)
    for s in conversation.speakers:
        _enum(Role, str(s.role), _bad_conversation)
    return message


def conversation_from_proto(message: llm_pb2.Conversation) -> Conversation:
    """Raises InvalidInputError for an unknown role or sentiment label."""
    utterances = []
    for u in message.utterances:
        sentiment = None
        if u.HasField("sentiment"):
            label = _enum(SentimentLabel, u.sentiment.label, _bad_conversation)
            sentiment = Sentiment(label, u.sentiment.score)
        utterances.append(
            Utterance(
                index=u.index,
                speaker=u.speaker,
                start=u.start,
                end=u.end,
                text=u.text,
                words=[Word(w.text, w.start, w.end, w.probability) for w in u.words],
                sentiment=sentiment,
                role=_enum(Role, u.role, _bad_conversation),
            )
        )
    speakers = [
        Speaker(
            id=s.id,
            role=_enum(Role, s.role, _bad_conversation),
            channel=s.channel if s.HasField("channel") else None,
            talk_time_s=s.talk_time_s,
            talk_ratio=s.talk_ratio,
            words_per_minute=s.words_per_minute,
            interruptions=s.interruptions,
            sentiment_mean=s.sentiment_mean if s.HasField("sentiment_mean") else None,
            loudness_dbfs=s.loudness_dbfs if s.HasField("loudness_dbfs") else None,
        )
        for s in message.speakers
    ]
    return Conversation(utterances, speakers, message.language, message.duration_s)


# ---------------------------------------------------------------------- analysis


def analysis_to_proto(analysis: CallAnalysis) -> llm_pb2.CallAnalysis:
    """Raises StageError for an analysis protobuf cannot carry (a negative index...)."""

    def build() -> llm_pb2.CallAnalysis:
        return llm_pb2.CallAnalysis(
            summary=analysis.summary,
            topics=list(analysis.topics),
            reason=analysis.reason,
            resolution=str(analysis.resolution),
            conflict_detected=bool(analysis.conflict_detected),
            conflict_evidence=[int(i) for i in analysis.conflict_evidence],
            profanity=[
                llm_pb2.ProfanityHit(utterance=int(p.utterance), words=list(p.words))
                for p in analysis.profanity
            ],
            action_items=list(analysis.action_items),
            provider=analysis.provider,
            model=analysis.model,
            sources=dict(analysis.sources),
            utterance_sentiment={
                int(i): str(label) for i, label in (analysis.utterance_sentiment or {}).items()
            },
            speaker_roles={s: str(r) for s, r in (analysis.speaker_roles or {}).items()},
            warnings=list(analysis.warnings),
        )

    message = _encode(build, _bad_analysis)
    _encode(message.SerializeToString, _bad_analysis)
    _enum(Resolution, message.resolution, _bad_analysis)
    return message


def analysis_from_proto(message: llm_pb2.CallAnalysis) -> CallAnalysis:
    """Raises StageError for an unknown resolution."""
    return CallAnalysis(
        summary=message.summary,
        topics=list(message.topics),
        reason=message.reason,
        resolution=_enum(Resolution, message.resolution, _bad_analysis),
        conflict_detected=message.conflict_detected,
        conflict_evidence=list(message.conflict_evidence),
        profanity=[ProfanityHit(p.utterance, list(p.words)) for p in message.profanity],
        action_items=list(message.action_items),
        provider=message.provider,
        model=message.model,
        sources=dict(message.sources),
        utterance_sentiment={
            int(i): _enum(SentimentLabel, label, _bad_analysis)
            for i, label in message.utterance_sentiment.items()
        }
        or None,
        speaker_roles={
            s: _enum(Role, role, _bad_analysis) for s, role in message.speaker_roles.items()
        }
        or None,
        warnings=list(message.warnings),
    )


# ------------------------------------------------------------------------ client


class GrpcCallAnalyzer(GrpcStage):
    stage = STAGE
    stub_class = llm_pb2_grpc.CallAnalyzerStub

    async def analyze(self, conversation: Conversation) -> CallAnalysis:
        request = conversation_to_proto(conversation)  # bad input fails before the network
        await self.load()

        async def attempt(channel: grpc.aio.Channel, timeout: float) -> CallAnalysis:
            stub = self.stub_class(channel)
            return analysis_from_proto(await stub.Analyze(request, timeout=timeout))

        async def local(engine: Any) -> CallAnalysis:
            result: CallAnalysis = await engine.analyze(conversation)
            return result

        return await self.channel.call(attempt, local=local)


build_client = GrpcCallAnalyzer.from_settings  # what bootstrap/container.py calls
