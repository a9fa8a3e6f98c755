from shared.stubs.callytics.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AudioInfo(_message.Message):
    __slots__ = ("duration_s", "sample_rate", "channels", "codec", "container")
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    CODEC_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    duration_s: float
    sample_rate: int
    channels: int
    codec: str
    container: str
    def __init__(self, duration_s: _Optional[float] = ..., sample_rate: _Optional[int] = ..., channels: _Optional[int] = ..., codec: _Optional[str] = ..., container: _Optional[str] = ...) -> None: ...

class DiarizeSetup(_message.Message):
    __slots__ = ("num_speakers", "min_speakers", "max_speakers", "info", "channels")
    NUM_SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    MIN_SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    MAX_SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    num_speakers: int
    min_speakers: int
    max_speakers: int
    info: AudioInfo
    channels: int
    def __init__(self, num_speakers: _Optional[int] = ..., min_speakers: _Optional[int] = ..., max_speakers: _Optional[int] = ..., info: _Optional[_Union[AudioInfo, _Mapping]] = ..., channels: _Optional[int] = ...) -> None: ...

class AudioChunk(_message.Message):
    __slots__ = ("track", "pcm")
    TRACK_FIELD_NUMBER: _ClassVar[int]
    PCM_FIELD_NUMBER: _ClassVar[int]
    track: int
    pcm: bytes
    def __init__(self, track: _Optional[int] = ..., pcm: _Optional[bytes] = ...) -> None: ...

class DiarizeRequest(_message.Message):
    __slots__ = ("setup", "chunk")
    SETUP_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    setup: DiarizeSetup
    chunk: AudioChunk
    def __init__(self, setup: _Optional[_Union[DiarizeSetup, _Mapping]] = ..., chunk: _Optional[_Union[AudioChunk, _Mapping]] = ...) -> None: ...

class SpeakerTurn(_message.Message):
    __slots__ = ("speaker", "start", "end")
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    speaker: str
    start: float
    end: float
    def __init__(self, speaker: _Optional[str] = ..., start: _Optional[float] = ..., end: _Optional[float] = ...) -> None: ...

class Diarization(_message.Message):
    __slots__ = ("turns", "speakers", "method", "channel_of", "speech")
    class ChannelOfEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    TURNS_FIELD_NUMBER: _ClassVar[int]
    SPEAKERS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_OF_FIELD_NUMBER: _ClassVar[int]
    SPEECH_FIELD_NUMBER: _ClassVar[int]
    turns: _containers.RepeatedCompositeFieldContainer[SpeakerTurn]
    speakers: _containers.RepeatedScalarFieldContainer[str]
    method: str
    channel_of: _containers.ScalarMap[str, int]
    speech: _containers.RepeatedCompositeFieldContainer[_common_pb2.Interval]
    def __init__(self, turns: _Optional[_Iterable[_Union[SpeakerTurn, _Mapping]]] = ..., speakers: _Optional[_Iterable[str]] = ..., method: _Optional[str] = ..., channel_of: _Optional[_Mapping[str, int]] = ..., speech: _Optional[_Iterable[_Union[_common_pb2.Interval, _Mapping]]] = ...) -> None: ...

class DiarizeResponse(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _common_pb2.Progress
    result: Diarization
    def __init__(self, progress: _Optional[_Union[_common_pb2.Progress, _Mapping]] = ..., result: _Optional[_Union[Diarization, _Mapping]] = ...) -> None: ...
