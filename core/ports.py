"""Ports: one Protocol per stage.

The pipeline, the API and the CLI only ever see these. An in-process engine
(``services/<stage>/local.py``) and a gRPC client (``shared/stubs/<stage>.py``) both
implement the same Protocol, and the container picks one by the ``USE_<STAGE>_MS`` flag.

Every method is async; engines run their inference off the event loop. ``info()`` says
which engine, model and device serve the stage; ``load()`` loads models eagerly (they
otherwise load lazily on first use) so that health checks and benchmarks can ask for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from core.domain import (
    Audio,
    CallAnalysis,
    Conversation,
    Diarization,
    DiarizationOptions,
    Sentiment,
    StageInfo,
    StreamUpdate,
    Transcript,
    TranscriptionOptions,
)

# A stage reports how far it got: fraction 0..1 and a short message.
ProgressCallback = Callable[[float, str], None]


@runtime_checkable
class Stage(Protocol):
    def info(self) -> StageInfo: ...

    async def load(self) -> None: ...


async def close_stage(engine: object) -> None:
    """Close what a stage engine holds open (a gRPC client's channels), in the event loop
    that opened it; in-process engines hold nothing and have no ``aclose``."""
    close = getattr(engine, "aclose", None)
    if close is not None:
        await close()


@runtime_checkable
class Diarizer(Stage, Protocol):
    async def diarize(
        self,
        audio: Audio,
        options: DiarizationOptions,
        progress: ProgressCallback | None = None,
    ) -> Diarization: ...


@runtime_checkable
class Transcriber(Stage, Protocol):
    async def transcribe(
        self,
        samples: np.ndarray,
        options: TranscriptionOptions,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        """``samples``: 16 kHz mono float32. Word timestamps are relative to its start."""
        ...


class TranscriptStream(Protocol):
    """One live channel's transcript: push audio as it arrives, read what it committed."""

    async def push(self, samples: np.ndarray) -> StreamUpdate:
        """``samples``: the next 16 kHz mono float32 audio of the stream."""
        ...

    async def finish(self) -> StreamUpdate:
        """The stream ended: commit what is left (the update is an endpoint)."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class StreamingTranscriber(Stage, Protocol):
    """Live ASR: the ``asr`` stage's streaming side (``callytics.asr.v1.StreamTranscribe``)."""

    async def open_stream(self, options: TranscriptionOptions) -> TranscriptStream: ...


@runtime_checkable
class VoiceEmbedder(Stage, Protocol):
    """Speaker embeddings of speech stretches (a live mono call's speaker turns)."""

    async def embed_voices(self, stretches: Sequence[np.ndarray]) -> np.ndarray:
        """(n, d) unit-norm embeddings of n stretches of 16 kHz mono float32 audio."""
        ...


@runtime_checkable
class SentimentAnalyzer(Stage, Protocol):
    async def analyze(self, texts: Sequence[str]) -> list[Sentiment]: ...


@runtime_checkable
class Embedder(Stage, Protocol):
    @property
    def dimension(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array of shape (len(texts), dimension), L2-normalised."""
        ...


@runtime_checkable
class CallAnalyzer(Stage, Protocol):
    async def analyze(self, conversation: Conversation) -> CallAnalysis: ...
