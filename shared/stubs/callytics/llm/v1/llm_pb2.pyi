from shared.stubs.callytics.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Word(_message.Message):
    __slots__ = ("text", "start", "end", "probability")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    text: str
    start: float
    end: float
    probability: float
    def __init__(self, text: _Optional[str] = ..., start: _Optional[float] = ..., end: _Optional[float] = ..., probability: _Optional[float] = ...) -> None: ...

class Sentiment(_message.Message):
    __slots__ = ("label", "score")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    label: str
    score: float
    def __init__(self, label: _Optional[str] = ..., score: _Optional[float] = ...) -> None: ...

class Utterance(_message.Message):
    __slots__ = ("index", "speaker", "start", "end", "text", "words", "sentiment", "role")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    index: int
    speaker: str
    start: float
    end: float
    text: str
    words: _containers.RepeatedCompositeFieldContainer[Word]
    sentiment: Sentiment
    role: str
    def __init__(self, index: _Optional[int] = ..., speaker: _Optional[str] = ..., start: _Optional[float] = ..., end: _Optional[float] = ..., text: _Optional[str] = ..., words: _Optional[_Iterable[_Union[Word, _Mapping]]] = ..., sentiment: _Optional[_Union[Sentiment, _Mapping]] = ..., role: _Optional[str] = ...) -> None: ...

class Speaker(_message.Message):
    __slots__ = ("id", "role", "channel", "talk_time_s", "talk_ratio", "words_per_minute", "interruptions", "sentiment_mean", "loudness_dbfs")
    ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TALK_TIME_S_FIELD_NUMBER: _ClassVar[int]
    TALK_RATIO_FIELD_NUMBER: _ClassVar[int]
    WORDS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTIONS_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_MEAN_FIELD_NUMBER: _ClassVar[int]
    LOUDNESS_DBFS_FIELD_NUMBER: _ClassVar[int]
    id: str
    role: str
    channel: int
    talk_time_s: float
    talk_ratio: float
    words_per_minute: float
    interruptions: int
    sentiment_mean: float
    loudness_dbfs: float
    def __init__(self, id: _Optional[str] = ..., role: _Optional[str] = ..., channel: _Optional[int] = ..., talk_time_s: _Optional[float] = ..., talk_ratio: _Optional[float] = ..., words_per_minute: _Optional[float] = ..., interruptions: _Optional[int] = ..., sentiment_mean: _Optional[float] = ..., loudness_dbfs: _Optional[float] = ...) -> None: ...

class Conversation(_message.Message):
    __slots__ = ("utterances", "speakers", "language", "duration_s")
    UTTERANCES_FIELD_NUMBER: _ClassVar[int]
    SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    utterances: _containers.RepeatedCompositeFieldContainer[Utterance]
    speakers: _containers.RepeatedCompositeFieldContainer[Speaker]
    language: str
    duration_s: float
    def __init__(self, utterances: _Optional[_Iterable[_Union[Utterance, _Mapping]]] = ..., speakers: _Optional[_Iterable[_Union[Speaker, _Mapping]]] = ..., language: _Optional[str] = ..., duration_s: _Optional[float] = ...) -> None: ...

class ProfanityHit(_message.Message):
    __slots__ = ("utterance", "words")
    UTTERANCE_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    utterance: int
    words: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, utterance: _Optional[int] = ..., words: _Optional[_Iterable[str]] = ...) -> None: ...

class CallAnalysis(_message.Message):
    __slots__ = ("summary", "topics", "reason", "resolution", "conflict_detected", "conflict_evidence", "profanity", "action_items", "provider", "model", "sources", "utterance_sentiment", "speaker_roles", "warnings")
    class SourcesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class UtteranceSentimentEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: str
        def __init__(self, key: _Optional[int] = ..., value: _Optional[str] = ...) -> None: ...
    class SpeakerRolesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_DETECTED_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    PROFANITY_FIELD_NUMBER: _ClassVar[int]
    ACTION_ITEMS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    UTTERANCE_SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_ROLES_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    summary: str
    topics: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    resolution: str
    conflict_detected: bool
    conflict_evidence: _containers.RepeatedScalarFieldContainer[int]
    profanity: _containers.RepeatedCompositeFieldContainer[ProfanityHit]
    action_items: _containers.RepeatedScalarFieldContainer[str]
    provider: str
    model: str
    sources: _containers.ScalarMap[str, str]
    utterance_sentiment: _containers.ScalarMap[int, str]
    speaker_roles: _containers.ScalarMap[str, str]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, summary: _Optional[str] = ..., topics: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ..., resolution: _Optional[str] = ..., conflict_detected: _Optional[bool] = ..., conflict_evidence: _Optional[_Iterable[int]] = ..., profanity: _Optional[_Iterable[_Union[ProfanityHit, _Mapping]]] = ..., action_items: _Optional[_Iterable[str]] = ..., provider: _Optional[str] = ..., model: _Optional[str] = ..., sources: _Optional[_Mapping[str, str]] = ..., utterance_sentiment: _Optional[_Mapping[int, str]] = ..., speaker_roles: _Optional[_Mapping[str, str]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...
