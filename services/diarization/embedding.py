"""Speaker embeddings of sliding windows over speech (resemblyzer's GE2E voice encoder).

The mel spectrogram (40 bands, 25 ms window, 10 ms hop, as resemblyzer computes it) is
taken once over the whole level-normalised signal, then cut into windows: full-length
windows (1.6 s, resemblyzer's partial-utterance length) go through the LSTM in batches;
shorter windows (speech regions under 1.6 s) are batched by length.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core.domain import MODEL_SAMPLE_RATE

from .vad import Span

MEL_HOP_S = 0.01
TARGET_DBFS = -30.0  # the level resemblyzer normalises its training audio to
BATCH = 64


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    region: int  # index of the speech region it belongs to
    reliable: bool  # full length: trusted for counting speakers

    @property
    def centre(self) -> float:
        return (self.start + self.end) / 2

    @property
    def span(self) -> Span:
        return (self.start, self.end)


def sliding_windows(
    regions: Sequence[Span],
    *,
    window_s: float = 1.6,
    hop_s: float = 0.4,
    min_window_s: float = 0.8,
    duration: float | None = None,
) -> list[Window]:
    """Windows of ``window_s`` every ``hop_s`` inside each speech region.

    A region shorter than ``window_s`` gets one window of its own length, widened
    symmetrically to ``min_window_s`` (into the surrounding audio) when shorter still;
    those windows are marked unreliable.
    """
    out: list[Window] = []
    for i, (s, e) in enumerate(regions):
        length = e - s
        if length >= window_s:
            n = int(np.ceil((length - window_s) / hop_s - 1e-9)) + 1
            for a in np.linspace(s, e - window_s, n):
                out.append(Window(float(a), float(a) + window_s, i, True))
            continue
        if length < min_window_s:
            mid = (s + e) / 2
            s, e = mid - min_window_s / 2, mid + min_window_s / 2
            if s < 0:
                s, e = 0.0, min_window_s
            if duration is not None and e > duration:
                s, e = max(0.0, duration - min_window_s), duration
        out.append(Window(s, e, i, False))
    return out


def level_normalise(signal: np.ndarray, regions: Sequence[Span]) -> np.ndarray:
    """Scale so that the speech (not the silence) sits at ``TARGET_DBFS``."""
    parts = [signal[int(s * MODEL_SAMPLE_RATE) : int(e * MODEL_SAMPLE_RATE)] for s, e in regions]
    speech = np.concatenate(parts) if parts else signal
    rms = float(np.sqrt(np.mean(np.square(speech, dtype=np.float64)))) if len(speech) else 0.0
    if rms < 1e-6:
        return signal.astype(np.float32, copy=False)
    return (signal * (10 ** (TARGET_DBFS / 20) / rms)).astype(np.float32)


N_FFT = 400  # 25 ms
HOP = 160  # 10 ms


@lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=MODEL_SAMPLE_RATE, n_fft=N_FFT, n_mels=40).astype(np.float32)


def mel_frames(signal: np.ndarray, chunk_frames: int = 6000) -> np.ndarray:
    """(frames, 40) mel power spectrogram, equal to resemblyzer's ``wav_to_mel_spectrogram``.

    (librosa's centred STFT with zero padding and a periodic Hann window, power 2; done
    here in numpy, chunk by chunk, so that an hour of audio needs no gigabyte buffers.)
    """
    padded = np.pad(signal.astype(np.float32), (N_FFT // 2, N_FFT // 2))
    n_frames = 1 + (len(padded) - N_FFT) // HOP
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    bank = mel_filterbank()
    out = np.empty((n_frames, bank.shape[0]), dtype=np.float32)
    offsets = np.arange(N_FFT)[None, :]
    for a in range(0, n_frames, chunk_frames):
        b = min(n_frames, a + chunk_frames)
        frames = padded[offsets + HOP * np.arange(a, b)[:, None]] * window
        power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        out[a:b] = power @ bank.T
    return out


class SpeakerEncoder:
    """Lazily loaded resemblyzer ``VoiceEncoder`` (GE2E, 256-d, weights inside the wheel)."""

    name = "resemblyzer-ge2e"

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        with self._lock:
            if self._model is None:
                with warnings.catch_warnings():
                    # resemblyzer imports webrtcvad, which imports the deprecated pkg_resources
                    warnings.simplefilter("ignore")
                    from resemblyzer import VoiceEncoder

                    self._model = VoiceEncoder(device=self.device, verbose=False)
                mel_filterbank()

    def embed(self, signal: np.ndarray, windows: Sequence[Window]) -> np.ndarray:
        """One L2-normalised 256-d embedding per window (float32, shape (len(windows), 256))."""
        import torch

        self.load()
        if not windows:
            return np.zeros((0, 256), dtype=np.float32)
        mel = mel_frames(signal)
        pieces = []
        for w in windows:
            a = max(0, round(w.start / MEL_HOP_S))
            b = max(a + 1, round(w.end / MEL_HOP_S))
            piece = mel[a:b]
            if len(piece) < b - a:  # the last window may run past the final frame
                piece = np.pad(piece, ((0, b - a - len(piece)), (0, 0)))
            pieces.append(piece)
        by_length: dict[int, list[int]] = {}
        for i, piece in enumerate(pieces):
            by_length.setdefault(len(piece), []).append(i)
        out = np.zeros((len(windows), 256), dtype=np.float32)
        model = self._model
        assert model is not None
        with torch.inference_mode():
            for indexes in by_length.values():
                for j in range(0, len(indexes), BATCH):
                    chunk = indexes[j : j + BATCH]
                    batch = torch.from_numpy(np.stack([pieces[i] for i in chunk])).to(model.device)
                    out[chunk] = model(batch).cpu().numpy()
        return out
