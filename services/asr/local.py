"""In-process ASR: faster-whisper with word timestamps and language detection."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import ctranslate2
import numpy as np

from core.analysis.vocabulary import hotwords
from core.domain import StageInfo, Transcript, TranscriptionOptions, Word
from core.errors import StageError
from core.ports import ProgressCallback
from services.asr.models import resolve_whisper_model
from services.device import resolve_device

log = logging.getLogger(__name__)

# A live window is at most ~16 s of speech (about 60 tokens): more is a decode running away.
LIVE_MAX_TOKENS = 128


class FasterWhisperTranscriber:
    """Whisper through CTranslate2. Loads lazily under a lock; decodes off the event loop."""

    def __init__(
        self,
        model: str = "base",
        *,
        cache_dir: Path = Path("~/.cache/callytics/models"),
        device: str = "auto",
        compute_type: str = "auto",
        beam_size: int = 5,
        language: str | None = None,
        cpu_threads: int = 0,
        allow_download: bool = False,
        batch_size: int = 0,
        vocabulary_mode: str = "hotwords",
    ) -> None:
        """``vocabulary_mode``: how a call's vocabulary terms reach Whisper: ``hotwords``
        (before every window's decode), ``prompt`` (``initial_prompt``: the first window
        only, as the previous text is not carried on) or ``both`` (bench/vocabulary.py
        compares them)."""
        self.model_name = model
        self.vocabulary_mode = vocabulary_mode
        # > 0: faster-whisper's BatchedInferencePipeline decodes that many VAD segments at
        # once (a large gain on a GPU; about 8% on 2 CPU cores, measured on the demo call).
        self.batch_size = batch_size
        self.cache_dir = Path(cache_dir).expanduser()
        self.policy = resolve_device(device, compute_type)
        self.beam_size = beam_size
        self.language = language
        self.cpu_threads = cpu_threads
        self.allow_download = allow_download
        self._model: Any = None
        self._lock = threading.Lock()
        # CTranslate2 releases the GIL; one model instance serves one decode at a time.
        self._infer_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def info(self) -> StageInfo:
        return StageInfo(
            backend="local",
            engine="faster-whisper",
            model=self.model_name,
            device=self.policy.device,
            extra={
                "compute_type": self.policy.compute_type,
                "beam_size": self.beam_size,
                "batch_size": self.batch_size,
            },
        )

    def _ensure_model(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from faster_whisper import WhisperModel

                    path = resolve_whisper_model(
                        self.model_name, self.cache_dir, allow_download=self.allow_download
                    )
                    log.info("loading whisper %s from %s (%s)", self.model_name, path, self.policy)
                    self._model = WhisperModel(
                        path,
                        device=self.policy.device,
                        compute_type=self.policy.compute_type,
                        cpu_threads=self.cpu_threads,
                    )
        return self._model

    async def load(self) -> None:
        await asyncio.to_thread(self._ensure_model)

    @property
    def english_only(self) -> bool:
        model = self._ensure_model()
        return not model.model.is_multilingual

    # ----------------------------------------------------------------- inference
    async def transcribe(
        self,
        samples: np.ndarray,
        options: TranscriptionOptions,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        return await asyncio.to_thread(self._transcribe_sync, samples, options, progress)

    def decode_window(
        self, audio: np.ndarray, prompt: str, language: str | None, beam_size: int
    ) -> tuple[list[Word], str]:
        """One decode of a live window (no VAD: the caller found the speech), with ``prompt``
        as Whisper's previous text; word times are relative to the window."""
        model = self._ensure_model()
        if not model.model.is_multilingual:
            language = "en"
        try:
            with self._infer_lock:
                ctranslate2.set_random_seed(0)
                segments, info = model.transcribe(
                    np.ascontiguousarray(audio, dtype=np.float32),
                    language=language or self.language,
                    beam_size=beam_size,
                    word_timestamps=True,
                    vad_filter=False,
                    condition_on_previous_text=False,
                    initial_prompt=prompt or None,
                    # One greedy pass: the temperature fallback re-decodes a poor short window
                    # up to five times (8-22 s on 2 cores, under the model's lock, measured
                    # by bench/live.py), and the next window decodes it again anyway.
                    temperature=0.0,
                    max_new_tokens=LIVE_MAX_TOKENS,
                )
                words = [
                    Word(
                        text=w.word.strip(),
                        start=round(float(w.start), 3),
                        end=round(float(w.end), 3),
                        probability=round(float(w.probability), 4),
                    )
                    for segment in segments
                    for w in segment.words or ()
                    if w.word.strip()
                ]
        except Exception as exc:
            raise StageError("asr", f"live transcription failed: {exc}") from exc
        return words, info.language

    def _vocabulary(self, options: TranscriptionOptions) -> dict[str, str]:
        """faster-whisper's arguments for the call's vocabulary terms (none without)."""
        if not options.terms:
            return {}
        text = hotwords(options.terms)
        if self.vocabulary_mode == "prompt":
            return {"initial_prompt": text}
        if self.vocabulary_mode == "both":
            return {"hotwords": text, "initial_prompt": text}
        return {"hotwords": text}

    def _transcribe_sync(
        self,
        samples: np.ndarray,
        options: TranscriptionOptions,
        progress: ProgressCallback | None,
    ) -> Transcript:
        model = self._ensure_model()
        audio = np.ascontiguousarray(samples, dtype=np.float32)
        duration = len(audio) / 16000 or 1.0
        language = options.language or self.language
        if not model.model.is_multilingual:
            language = "en"
        vocabulary = self._vocabulary(options)
        try:
            with self._infer_lock:
                # Whisper's temperature fallback samples: the same seed for every call
                # makes a transcript depend on the audio, not on what ran before it.
                ctranslate2.set_random_seed(0)
                if self.batch_size > 0:
                    from faster_whisper import BatchedInferencePipeline

                    segments, info = BatchedInferencePipeline(model).transcribe(
                        audio,
                        language=language,
                        beam_size=self.beam_size,
                        word_timestamps=options.word_timestamps,
                        batch_size=self.batch_size,
                        **vocabulary,
                    )
                else:
                    segments, info = model.transcribe(
                        audio,
                        language=language,
                        beam_size=self.beam_size,
                        word_timestamps=options.word_timestamps,
                        vad_filter=True,
                        condition_on_previous_text=False,
                        **vocabulary,
                    )
                words: list[Word] = []
                # `segments` is lazy: the decoding happens while we iterate, in this thread.
                for segment in segments:
                    for w in segment.words or ():
                        text = w.word.strip()
                        if text:
                            words.append(
                                Word(
                                    text=text,
                                    start=round(float(w.start), 3),
                                    end=round(float(w.end), 3),
                                    probability=round(float(w.probability), 4),
                                )
                            )
                    if progress:
                        progress(
                            min(1.0, segment.end / duration), f"{segment.end:.0f}s transcribed"
                        )
        except Exception as exc:  # model crash, bad tensor: a stage failure, not a 500
            raise StageError("asr", f"transcription failed: {exc}") from exc
        return Transcript(
            words=words,
            language=info.language,
            language_probability=round(float(info.language_probability), 4),
        )
