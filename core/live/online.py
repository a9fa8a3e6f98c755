"""One channel's audio transcribed as it arrives: a window re-decoded, words committed by
local agreement (:mod:`core.live.agreement`), utterances ended at pauses.

The window holds the audio not yet committed. Each time ``min_chunk_s`` more has arrived,
voice activity is found in it (silero VAD), the window is decoded again with the committed
text before it as Whisper's prompt, and the words two decodes agree on are committed. When
the speech in the window ended ``endpoint_silence_s`` ago the speaker paused: the tentative
tail is committed as it stands, the update says ``endpoint`` (the words since the last
endpoint are one utterance) and the window restarts at the end of the speech. A window that
grows past ``max_window_s`` without a pause is cut after its last committed word.

Everything here is synchronous and model-free: ``decode`` and ``vad`` are given (the ASR
engine's), so the stage that runs it (in-process, or the ASR gRPC service) calls it from a
worker thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.domain import MODEL_SAMPLE_RATE, StreamUpdate, Word
from core.live.agreement import HypothesisBuffer

# (window audio, prompt, language or None to detect) -> (words in window time, language)
Decode = Callable[[np.ndarray, str, str | None], tuple[list[Word], str]]
# audio -> speech regions as (start, end) sample indices
Vad = Callable[[np.ndarray], list[tuple[int, int]]]

SR = MODEL_SAMPLE_RATE


@dataclass(frozen=True)
class OnlinePolicy:
    min_chunk_s: float = 1.0  # decode again once this much new audio has arrived
    endpoint_silence_s: float = 0.4  # a pause this long ends an utterance
    max_window_s: float = 15.0  # past this, the window is cut after its committed words
    lead_silence_s: float = 0.3  # silence kept before the first speech in the window
    prompt_chars: int = 200  # committed text before the window, as Whisper's prompt


class OnlineTranscriber:
    def __init__(
        self,
        decode: Decode,
        vad: Vad,
        policy: OnlinePolicy | None = None,
        language: str | None = None,
    ) -> None:
        self.decode = decode
        self.vad = vad
        self.policy = policy or OnlinePolicy()
        self.language = language
        self.hypothesis = HypothesisBuffer()
        self.window = np.zeros(0, dtype=np.float32)
        self.offset = 0.0  # stream time of window[0]
        self.received = 0  # samples pushed in all
        self._pending = 0  # samples pushed since the last decode
        self._open = False  # words committed since the last endpoint

    @property
    def stream_time(self) -> float:
        return self.received / SR

    def push(self, samples: np.ndarray) -> StreamUpdate:
        chunk = np.asarray(samples, dtype=np.float32).reshape(-1)
        self.window = np.concatenate([self.window, chunk])
        self.received += len(chunk)
        self._pending += len(chunk)
        if self._pending < self.policy.min_chunk_s * SR:
            return self._update([], endpoint=False)
        return self._step(final=False)

    def finish(self) -> StreamUpdate:
        """The stream ended: decode what is left and commit all of it."""
        return self._step(final=True)

    # ------------------------------------------------------------------ internals
    def _update(
        self, committed: list[Word], *, endpoint: bool, ends: list[int] | None = None
    ) -> StreamUpdate:
        """The update; an end (inside, or ``endpoint`` after the last word) counts only when
        it closes an utterance that has words."""
        kept: list[int] = []
        previous = 0
        for end in ends or ():
            if self._open or end > previous:
                kept.append(end)
            self._open = False
            previous = end
        if len(committed) > previous:
            self._open = True
        ended = endpoint and self._open
        if ended:
            self._open = False
        return StreamUpdate(
            committed=committed,
            tentative=list(self.hypothesis.tentative),
            endpoint=ended,
            language=self.language or "",
            stream_time=self.stream_time,
            ends=kept,
        )

    def _cut(self, samples: int) -> None:
        """Drop the first ``samples`` of the window."""
        samples = max(0, min(samples, len(self.window)))
        if samples:
            self.window = self.window[samples:]
            self.offset += samples / SR
            self.hypothesis.forget_before(self.offset)

    def _prompt(self) -> str:
        before = [w.text for w in self.hypothesis.committed if w.end <= self.offset + 0.01]
        return " ".join(before)[-self.policy.prompt_chars :]

    def _step(self, *, final: bool) -> StreamUpdate:
        self._pending = 0
        policy = self.policy
        speech = self.vad(self.window) if len(self.window) else []
        if not speech:
            # Nothing said in the window: what was tentative stands; keep a short tail in
            # case a word is just starting.
            rest = self.hypothesis.complete()
            self._cut(len(self.window) - int(policy.lead_silence_s * SR))
            return self._update(rest, endpoint=True)
        lead = speech[0][0] - int(policy.lead_silence_s * SR)
        if lead > 0:
            self._cut(lead)
            speech = [(a - lead, b - lead) for a, b in speech]
        committed: list[Word] = []
        ends: list[int] = []
        # Pauses inside the window (it grew by more than a pause since the last decode):
        # each utterance before one is decoded on its own and committed whole.
        pause = int(policy.endpoint_silence_s * SR)
        while len(speech) > 1:
            gap = next(
                (i for i in range(len(speech) - 1) if speech[i + 1][0] - speech[i][1] >= pause),
                None,
            )
            if gap is None:
                break
            committed += self._decode(self.window[: speech[gap][1]])
            committed += self.hypothesis.complete()
            ends.append(len(committed))
            cut = speech[gap + 1][0] - int(policy.lead_silence_s * SR)
            self._cut(cut)
            speech = [(a - cut, b - cut) for a, b in speech[gap + 1 :]]
        committed += self._decode(self.window)
        speech_end = speech[-1][1]
        paused = (len(self.window) - speech_end) / SR >= policy.endpoint_silence_s
        if final or paused:
            committed += self.hypothesis.complete()
            self._cut(speech_end)
            return self._update(committed, endpoint=True, ends=ends)
        if len(self.window) / SR > policy.max_window_s:
            cut_at = self.hypothesis.last_end - self.offset
            if cut_at <= 0:  # nothing agreed on in a whole window: take the decode as it is
                committed += self.hypothesis.complete()
                cut_at = self.hypothesis.last_end - self.offset
            self._cut(int(max(cut_at, 0.0) * SR))
        return self._update(committed, endpoint=False, ends=ends)

    def _decode(self, audio: np.ndarray) -> list[Word]:
        """Decode ``audio`` (the window's start) and commit what agrees with the last decode."""
        words, language = self.decode(audio, self._prompt(), self.language)
        self.language = self.language or language
        timed = [
            Word(
                w.text,
                round(w.start + self.offset, 3),
                round(w.end + self.offset, 3),
                w.probability,
            )
            for w in words
        ]
        self.hypothesis.insert(timed)
        return self.hypothesis.flush()
