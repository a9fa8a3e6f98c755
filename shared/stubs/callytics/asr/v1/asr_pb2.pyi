from shared.stubs.callytics.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TranscriptionOptions(_message.Message):
    __slots__ = ("language", "word_timestamps", "terms")
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    WORD_TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    language: str
    word_timestamps: bool
    terms: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, language: _Optional[str] = ..., word_timestamps: _Optional[bool] = ..., terms: _Optional[_Iterable[str]] = ...) -> None: ...

class TranscribeRequest(_message.Message):
    __slots__ = ("options", "pcm")
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    PCM_FIELD_NUMBER: _ClassVar[int]
    options: TranscriptionOptions
    pcm: bytes
    def __init__(self, options: _Optional[_Union[TranscriptionOptions, _Mapping]] = ..., pcm: _Optional[bytes] = ...) -> None: ...

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

class Words(_message.Message):
    __slots__ = ("words",)
    WORDS_FIELD_NUMBER: _ClassVar[int]
    words: _containers.RepeatedCompositeFieldContainer[Word]
    def __init__(self, words: _Optional[_Iterable[_Union[Word, _Mapping]]] = ...) -> None: ...

class TranscriptDone(_message.Message):
    __slots__ = ("language", "language_probability")
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    language: str
    language_probability: float
    def __init__(self, language: _Optional[str] = ..., language_probability: _Optional[float] = ...) -> None: ...

class TranscribeResponse(_message.Message):
    __slots__ = ("progress", "words", "done")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    progress: _common_pb2.Progress
    words: Words
    done: TranscriptDone
    def __init__(self, progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., words: _Optional[_Union[Words, _Mapping]] = ..., done: _Optional[_Union[TranscriptDone, _Mapping]] = ...) -> None: ...

class StreamFinish(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StreamRequest(_message.Message):
    __slots__ = ("options", "pcm", "finish")
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    PCM_FIELD_NUMBER: _ClassVar[int]
    FINISH_FIELD_NUMBER: _ClassVar[int]
    options: TranscriptionOptions
    pcm: bytes
    finish: StreamFinish
    def __init__(self, options: _Optional[_Union[TranscriptionOptions, _Mapping]] = ..., pcm: _Optional[bytes] = ..., finish: _Optional[_Union[StreamFinish, _Mapping]] = ...) -> None: ...

class StreamResponse(_message.Message):
    __slots__ = ("committed", "tentative", "endpoint", "language", "stream_time", "ends")
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    TENTATIVE_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    STREAM_TIME_FIELD_NUMBER: _ClassVar[int]
    ENDS_FIELD_NUMBER: _ClassVar[int]
    committed: _containers.RepeatedCompositeFieldContainer[Word]
    tentative: _containers.RepeatedCompositeFieldContainer[Word]
    endpoint: bool
    language: str
    stream_time: float
    ends: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, committed: _Optional[_Iterable[_Union[Word, _Mapping]]] = ..., tentative: _Optional[_Iterable[_Union[Word, _Mapping]]] = ..., endpoint: _Optional[bool] = ..., language: _Optional[str] = ..., stream_time: _Optional[float] = ..., ends: _Optional[_Iterable[int]] = ...) -> None: ...
