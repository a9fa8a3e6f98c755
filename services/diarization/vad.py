"""Voice activity: Silero VAD frame probabilities, and the interval arithmetic around them.

Silero works on 32 ms frames (512 samples at 16 kHz). Probabilities for several signals
(both channels of a call) are computed in one batched pass of the TorchScript model, which
keeps a recurrent state: one call at a time, hence the inference lock.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from core.domain import MODEL_SAMPLE_RATE

FRAME_SAMPLES = 512
FRAME_S = FRAME_SAMPLES / MODEL_SAMPLE_RATE

Span = tuple[float, float]


def import_silero_vad() -> Any:
    """Import silero_vad without letting it change torch's global thread count.

    ``silero_vad.model`` calls ``torch.set_num_threads(1)`` at import time, which would
    slow every other torch model in the process (ASR, embeddings) to one core.
    """
    import torch

    threads = torch.get_num_threads()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import silero_vad
    finally:
        torch.set_num_threads(threads)
    return silero_vad


def load_model(module: Any) -> Any:
    """The ONNX export when onnxruntime is there (faster-whisper depends on it), else TorchScript.

    ONNX: no TorchScript warm-up (the JIT model's first calls took 30-50 s here once
    resemblyzer's LSTM had run in the process) and twice the speed.
    """
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return module.load_silero_vad()
    return module.load_silero_vad(onnx=True)


class SileroVad:
    """Lazily loaded Silero VAD (the TorchScript model shipped in the ``silero-vad`` wheel)."""

    def __init__(self) -> None:
        self._model: Any = None
        self._module: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        with self._load_lock:
            if self._model is None:
                module = import_silero_vad()
                self._model = load_model(module)
                self._module = module

    def probabilities(self, signals: np.ndarray) -> np.ndarray:
        """Speech probability per 32 ms frame: (channels, samples) -> (channels, frames)."""
        import torch

        self.load()
        batch = np.atleast_2d(np.asarray(signals, dtype=np.float32))
        with self._run_lock, torch.inference_mode():
            probs = self._model.audio_forward(torch.from_numpy(batch.copy()), MODEL_SAMPLE_RATE)
        return probs.numpy().astype(np.float32)

    def regions(
        self,
        probs: np.ndarray,
        n_samples: int,
        *,
        threshold: float = 0.5,
        min_speech_ms: int = 250,
        min_silence_ms: int = 100,
        pad_ms: int = 30,
    ) -> list[Span]:
        """Speech regions in seconds from one signal's frame probabilities (Silero's rules)."""
        self.load()
        found = self._module.get_speech_timestamps_from_probs(
            probs.tolist(),
            sampling_rate=MODEL_SAMPLE_RATE,
            threshold=threshold,
            min_speech_duration_ms=min_speech_ms,
            min_silence_duration_ms=min_silence_ms,
            speech_pad_ms=pad_ms,
            audio_length_samples=n_samples,
        )
        return [(t["start"] / MODEL_SAMPLE_RATE, t["end"] / MODEL_SAMPLE_RATE) for t in found]


# ------------------------------------------------------------------ interval arithmetic


def merge_spans(spans: Iterable[Span], gap: float = 0.0) -> list[Span]:
    """Union of spans; spans closer than ``gap`` seconds are joined."""
    out: list[list[float]] = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if out and s <= out[-1][1] + gap:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def spans_to_mask(spans: Sequence[Span], n_frames: int, frame_s: float = FRAME_S) -> np.ndarray:
    mask = np.zeros(n_frames, dtype=bool)
    for s, e in spans:
        a = max(0, round(s / frame_s))
        b = min(n_frames, round(e / frame_s))
        mask[a:b] = True
    return mask


def mask_to_spans(mask: np.ndarray, frame_s: float = FRAME_S, min_len: float = 0.0) -> list[Span]:
    padded = np.concatenate([[False], mask.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    spans = [(a * frame_s, b * frame_s) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    return [(s, e) for s, e in spans if e - s >= min_len]


def total_seconds(spans: Iterable[Span]) -> float:
    return sum(e - s for s, e in merge_spans(spans))
