"""Fake stage engines for unit tests: deterministic, instant, and honest about being fakes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.domain import (
    Audio,
    AudioInfo,
    CallAnalysis,
    Conversation,
    Diarization,
    DiarizationOptions,
    Resolution,
    Sentiment,
    SentimentLabel,
    SpeakerTurn,
    StageInfo,
    Transcript,
    TranscriptionOptions,
    Word,
)


def silent_audio(seconds: float = 10.0, channels: int = 1) -> Audio:
    n = int(seconds * 16000)
    chans = tuple(np.zeros(n, dtype=np.float32) for _ in range(channels))
    return Audio(
        mono=np.zeros(n, dtype=np.float32),
        channels=chans,
        info=AudioInfo(seconds, 16000, channels, "pcm_s16le", "wav"),
    )


def words_of(text: str, start: float, step: float = 0.4) -> list[Word]:
    return [
        Word(t, round(start + i * step, 3), round(start + i * step + step * 0.9, 3), 0.9)
        for i, t in enumerate(text.split())
    ]


class FakeDiarizer:
    def __init__(self, turns: list[SpeakerTurn], method: str = "clustering", channel_of=None):
        self.turns = turns
        self.method = method
        self.channel_of = channel_of or {}
        self.calls: list[DiarizationOptions] = []

    def info(self) -> StageInfo:
        return StageInfo("local", "fake-diarizer", "none")

    async def load(self) -> None:
        return None

    async def diarize(
        self, audio: Audio, options: DiarizationOptions, progress=None
    ) -> Diarization:
        self.calls.append(options)
        if progress:
            progress(0.5, "half")
        speakers = list(dict.fromkeys(t.speaker for t in self.turns))
        return Diarization(list(self.turns), speakers, self.method, dict(self.channel_of))


class FakeTranscriber:
    """Returns fixed words; per channel when given one list per channel."""

    def __init__(self, words: list[Word] | list[list[Word]], language: str = "en"):
        self.words = words
        self.language = language
        self.seen: list[np.ndarray] = []

    def info(self) -> StageInfo:
        return StageInfo("local", "fake-asr", "none")

    async def load(self) -> None:
        return None

    async def transcribe(self, samples, options: TranscriptionOptions, progress=None) -> Transcript:
        self.seen.append(samples)
        if progress:
            progress(1.0, "done")
        words = self.words
        if words and isinstance(words[0], list):
            words = words[len(self.seen) - 1]  # type: ignore[assignment]
        return Transcript(list(words), self.language)  # type: ignore[arg-type]


class FakeSentimentAnalyzer:
    """Positive for 'thanks'/'great', negative for 'angry'/'terrible', else neutral."""

    def __init__(self, fail_times: int = 0):
        self.fail_times = fail_times
        self.calls = 0

    def info(self) -> StageInfo:
        return StageInfo("local", "fake-sentiment", "none")

    async def load(self) -> None:
        return None

    async def analyze(self, texts: Sequence[str]) -> list[Sentiment]:
        self.calls += 1
        if self.calls <= self.fail_times:
            raise RuntimeError("sentiment model exploded")
        out = []
        for t in texts:
            low = t.lower()
            if any(w in low for w in ("thanks", "great", "perfect")):
                out.append(Sentiment(SentimentLabel.POSITIVE, 0.8))
            elif any(w in low for w in ("angry", "terrible", "ridiculous")):
                out.append(Sentiment(SentimentLabel.NEGATIVE, -0.8))
            else:
                out.append(Sentiment(SentimentLabel.NEUTRAL, 0.0))
        return out


class FakeEmbedder:
    dimension = 8

    def info(self) -> StageInfo:
        return StageInfo("local", "fake-embedding", "none")

    async def load(self) -> None:
        return None

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, hash(t) % self.dimension] = 1.0
        return out


class FakeCallAnalyzer:
    def __init__(self, fail: bool = False):
        self.fail = fail
        self.seen: list[Conversation] = []

    def info(self) -> StageInfo:
        return StageInfo("local", "fake-llm", "none")

    async def load(self) -> None:
        return None

    async def analyze(self, conversation: Conversation) -> CallAnalysis:
        self.seen.append(conversation)
        if self.fail:
            raise RuntimeError("llm down")
        return CallAnalysis(
            summary=conversation.utterances[0].text,
            topics=["billing"],
            reason="a bill",
            resolution=Resolution.RESOLVED,
            conflict_detected=False,
            conflict_evidence=[],
            profanity=[],
            action_items=[],
            provider="fake",
        )


class FakeTranscriptStream:
    """Commits the words of a script as the audio passes them: a word is committed once
    ``lag_s`` of audio has arrived after its end, tentative while it is being spoken, and
    an utterance ends (``endpoint``) at a pause of ``pause_s`` after a committed word."""

    def __init__(self, script: list[Word], lag_s: float = 0.3, pause_s: float = 0.8) -> None:
        self.script = script
        self.lag_s = lag_s
        self.pause_s = pause_s
        self.time = 0.0
        self.done = 0  # script words committed
        self.open = False
        self.pushed = 0

    def _update(self, final: bool):  # type: ignore[no-untyped-def]
        from core.domain import StreamUpdate

        limit = float("inf") if final else self.time - self.lag_s
        committed = []
        while self.done < len(self.script) and self.script[self.done].end <= limit:
            committed.append(self.script[self.done])
            self.done += 1
        self.open = self.open or bool(committed)
        tentative = [w for w in self.script[self.done :] if w.start < self.time]
        last = self.script[self.done - 1].end if self.done else 0.0
        following = self.script[self.done].start if self.done < len(self.script) else None
        paused = self.time - last >= self.pause_s and (following is None or following > self.time)
        endpoint = self.open and (final or (paused and not tentative))
        if endpoint:
            self.open = False
        return StreamUpdate(committed, tentative, endpoint, "en", self.time)

    async def push(self, samples):  # type: ignore[no-untyped-def]
        self.pushed += len(samples)
        self.time = self.pushed / 16000
        return self._update(final=False)

    async def finish(self):  # type: ignore[no-untyped-def]
        return self._update(final=True)

    async def aclose(self) -> None:
        return None


class FakeStreamingTranscriber:
    """Live ASR over scripts: the n-th stream opened reads ``scripts[n % len(scripts)]``
    (a session opens channel 0's stream, then channel 1's)."""

    def __init__(self, scripts: Sequence[list[Word]]) -> None:
        self.scripts = list(scripts)
        self.opened = 0

    def info(self) -> StageInfo:
        return StageInfo("local", "fake-streaming", "none")

    async def load(self) -> None:
        return None

    async def open_stream(self, options: TranscriptionOptions) -> FakeTranscriptStream:
        script = self.scripts[self.opened % len(self.scripts)]
        self.opened += 1
        return FakeTranscriptStream(script)
