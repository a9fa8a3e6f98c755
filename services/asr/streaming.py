"""Live ASR in process: :class:`core.ports.StreamingTranscriber` over faster-whisper.

Each stream is a :class:`core.live.online.OnlineTranscriber` (local agreement over a
re-decoded window) with this engine's decode and faster-whisper's bundled Silero VAD (ONNX).
Decodes run in a worker thread; the streams of every live call share the engine's model and
take turns on it, apart from the post-call engine's model so that a whole call being
transcribed after hang-up never holds a live call's words back.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import partial

import numpy as np

from core.domain import MODEL_SAMPLE_RATE, StageInfo, StreamUpdate, TranscriptionOptions
from core.live.online import OnlinePolicy, OnlineTranscriber
from services.asr.local import FasterWhisperTranscriber

# Silence inside speech shorter than this does not split it (the endpoint needs more).
VAD_MIN_SILENCE_MS = 250
VAD_PAD_MS = 50


def speech_regions(audio: np.ndarray) -> list[tuple[int, int]]:
    """Silero VAD (faster-whisper's ONNX copy): speech as (start, end) sample indices."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=VAD_MIN_SILENCE_MS, speech_pad_ms=VAD_PAD_MS)
    found = get_speech_timestamps(audio, options, sampling_rate=MODEL_SAMPLE_RATE)
    return [(int(r["start"]), int(r["end"])) for r in found]


class WhisperStream:
    """One channel's stream: every call runs the policy in a worker thread, one at a time."""

    def __init__(self, online: OnlineTranscriber) -> None:
        self.online = online
        self._lock = asyncio.Lock()

    async def push(self, samples: np.ndarray) -> StreamUpdate:
        async with self._lock:
            return await asyncio.to_thread(self.online.push, samples)

    async def finish(self) -> StreamUpdate:
        async with self._lock:
            return await asyncio.to_thread(self.online.finish)

    async def aclose(self) -> None:
        return None


class StreamingWhisper:
    def __init__(
        self,
        transcriber: FasterWhisperTranscriber,
        policy: OnlinePolicy | None = None,
        *,
        beam_size: int = 1,
    ) -> None:
        self.transcriber = transcriber
        self.policy = policy or OnlinePolicy()
        self.beam_size = beam_size

    def info(self) -> StageInfo:
        info = self.transcriber.info()
        extra = {
            **info.extra,
            "beam_size": self.beam_size,
            "policy": "local-agreement",
            "min_chunk_s": self.policy.min_chunk_s,
            "endpoint_silence_s": self.policy.endpoint_silence_s,
        }
        return replace(info, extra=extra)

    async def load(self) -> None:
        await self.transcriber.load()
        await asyncio.to_thread(speech_regions, np.zeros(MODEL_SAMPLE_RATE, dtype=np.float32))

    async def open_stream(self, options: TranscriptionOptions) -> WhisperStream:
        decode = partial(self._decode)
        return WhisperStream(
            OnlineTranscriber(decode, speech_regions, self.policy, language=options.language)
        )

    def _decode(self, audio: np.ndarray, prompt: str, language: str | None):  # type: ignore[no-untyped-def]
        return self.transcriber.decode_window(audio, prompt, language, self.beam_size)
