"""Domain types: what flows between the stages of the pipeline.

Plain dataclasses (and numpy arrays for audio and vectors). Nothing here knows about
FastAPI, gRPC, torch or the database: the ports take and return these types, and the
adapters (local engines, gRPC clients, repositories) convert at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

MODEL_SAMPLE_RATE = 16_000


class Role(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"
    UNKNOWN = "unknown"


class SentimentLabel(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class Resolution(StrEnum):
    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"
    UNKNOWN = "unknown"


# --------------------------------------------------------------------------- audio


@dataclass(frozen=True)
class AudioInfo:
    """What the file was, before it was turned into model input."""

    duration_s: float
    sample_rate: int
    channels: int
    codec: str
    container: str = ""

    @property
    def suffix(self) -> str:
        """The file extension its container calls for (FFmpeg's demuxer names), for storing
        it under a name that says what it is, whatever the client called it."""
        first = self.container.split(",")[0].strip().lower()
        known = {"mov": ".m4a", "matroska": ".webm", "asf": ".wma", "mp3": ".mp3"}
        if first in known:
            return known[first]
        return f".{first}" if first.isalnum() and len(first) <= 8 else ".audio"


@dataclass(frozen=True)
class Audio:
    """Decoded audio at 16 kHz float32 in [-1, 1].

    ``mono`` is the mix the models hear; ``channels`` keeps one array per source
    channel (the same length as ``mono``) so that dual-channel calls can be diarized by
    channel activity.
    """

    mono: np.ndarray
    channels: tuple[np.ndarray, ...]
    info: AudioInfo
    sample_rate: int = MODEL_SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        return len(self.mono) / self.sample_rate


@dataclass(frozen=True)
class Interval:
    start: float
    end: float

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


# ---------------------------------------------------------------------- diarization


@dataclass(frozen=True)
class DiarizationOptions:
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None


@dataclass(frozen=True)
class SpeakerTurn:
    """A stretch of time in which one speaker talks (turns of two speakers may overlap)."""

    speaker: str
    start: float
    end: float


@dataclass
class Diarization:
    """Who spoke when.

    ``method`` is ``channel`` (dual-channel, one speaker per channel), ``clustering``
    (voice activity + speaker embeddings) or ``pyannote``. ``channel_of`` maps a speaker
    to its source channel when known. ``speech`` holds the voice-activity regions of the
    mix, reusable by later stages.
    """

    turns: list[SpeakerTurn]
    speakers: list[str]
    method: str
    channel_of: dict[str, int] = field(default_factory=dict)
    speech: list[Interval] = field(default_factory=list)


# ------------------------------------------------------------------------------ asr


@dataclass(frozen=True)
class TranscriptionOptions:
    language: str | None = None  # None: detect
    word_timestamps: bool = True
    # Custom vocabulary (core/analysis/vocabulary.py): names the model should lean towards.
    terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float
    probability: float = 1.0


@dataclass(frozen=True)
class StreamUpdate:
    """What a live transcript stream says after a chunk of audio (stream time, seconds).

    ``committed`` words are final from now on, in order; ``tentative`` is the current guess
    at what follows them, replaced by the next update. ``endpoint``: the speaker paused after
    the last committed word, and the words committed since the previous end make one
    utterance. ``ends``: pauses inside this update's words: after ``committed[:i]`` for each
    ``i`` an utterance ended (several utterances can end in one update when the audio came
    faster than it was decoded).
    """

    committed: list[Word]
    tentative: list[Word]
    endpoint: bool = False
    language: str = ""
    stream_time: float = 0.0  # how much audio the stream has received
    ends: list[int] = field(default_factory=list)


@dataclass
class Transcript:
    words: list[Word]
    language: str
    language_probability: float = 1.0


# ------------------------------------------------------------------------ sentiment


@dataclass(frozen=True)
class Sentiment:
    """``score`` in [-1, 1]: negative to positive."""

    label: SentimentLabel
    score: float


# -------------------------------------------------------------------- conversation


@dataclass
class Utterance:
    """One turn: consecutive words of one speaker."""

    index: int
    speaker: str
    start: float
    end: float
    text: str
    words: list[Word]
    sentiment: Sentiment | None = None
    role: Role = Role.UNKNOWN


@dataclass
class Speaker:
    id: str
    role: Role = Role.UNKNOWN
    channel: int | None = None
    talk_time_s: float = 0.0
    talk_ratio: float = 0.0
    words_per_minute: float = 0.0
    interruptions: int = 0
    sentiment_mean: float | None = None
    loudness_dbfs: float | None = None


@dataclass
class Conversation:
    """What the call analyzer reads: the turns with speakers, roles and sentiment."""

    utterances: list[Utterance]
    speakers: list[Speaker]
    language: str
    duration_s: float


# ------------------------------------------------------------------------- analysis


@dataclass(frozen=True)
class ProfanityHit:
    utterance: int
    words: list[str]


@dataclass
class CallAnalysis:
    summary: str
    topics: list[str]
    reason: str
    resolution: Resolution
    conflict_detected: bool
    conflict_evidence: list[int]
    profanity: list[ProfanityHit]
    action_items: list[str]
    provider: str  # "rules", "llama:<model>", "openai:<model>": who answered the model fields
    model: str = ""  # the model's name; "" for rules
    # field -> "model" or "rules": which answered each field (a model's field that was
    # malformed or cut off, or that the bench found weaker than rules, is "rules").
    sources: dict[str, str] = field(default_factory=dict)
    # The model's per-utterance sentiment and per-speaker roles, when it gave them and the
    # settings let it decide those; the pipeline applies them to the utterances.
    utterance_sentiment: dict[int, SentimentLabel] | None = None
    speaker_roles: dict[str, Role] | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class ConversationMetrics:
    talk_time_s: float
    non_talk_time_s: float
    silence_ratio: float
    longest_silence_s: float
    overlap_s: float
    interruptions: int
    agent_talk_ratio: float | None
    mean_response_latency_s: float | None
    sentiment_by_quarter: dict[str, list[float | None]]
    customer_sentiment_trend: float | None
    # The utterances that interrupt (their indexes, in time order): where `interruptions` are.
    interruption_utterances: list[int] = field(default_factory=list)


# -------------------------------------------------------------------------- stages


@dataclass(frozen=True)
class StageInfo:
    """Which engine served a stage, for the result's ``stages`` block and health."""

    backend: str  # local | grpc
    engine: str
    model: str
    device: str = "cpu"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProgressEvent:
    stage: str
    progress: float  # 0..1 within the stage
    message: str = ""
