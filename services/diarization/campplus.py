"""CAM++ speaker embeddings (3D-Speaker, Apache-2.0) from the traced TorchScript module.

The module (written by :mod:`services.diarization.weights`) takes 80-bin Kaldi filter-bank
features of B stretches, ``(B, T, 80)``, and K rows of frame weights per stretch at the
network's output rate, ``(B, K, (T + 1) // 2)``; it returns ``(B, K, 192)`` embeddings,
its statistics pooled over each row's weighted frames. The features are computed here in
plain torch, to Kaldi's recipe as torchaudio's ``compliance.kaldi.fbank`` does it (25 ms
povey windows every 10 ms, pre-emphasis 0.97, DC removed, 512-point power spectrum, 80
triangular mel bands from 20 Hz to Nyquist, natural log), so torchaudio is not needed.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 16_000
FRAME_LENGTH = 400  # 25 ms
FRAME_SHIFT = 160  # 10 ms
FFT_SIZE = 512
MEL_BINS = 80
LOW_HZ = 20.0
PREEMPHASIS = 0.97
DIMENSION = 192


def _mel(hz: Any) -> Any:
    return 1127.0 * np.log(1.0 + np.asarray(hz) / 700.0)


@lru_cache(maxsize=1)
def mel_banks() -> np.ndarray:
    """(257, 80) triangular filters over the power spectrum's bins (Kaldi's layout)."""
    fft_bins = FFT_SIZE // 2
    low, high = _mel(LOW_HZ), _mel(SAMPLE_RATE / 2)
    delta = (high - low) / (MEL_BINS + 1)
    b = np.arange(MEL_BINS)[:, None]
    left, centre, right = low + b * delta, low + (b + 1) * delta, low + (b + 2) * delta
    mel = _mel(SAMPLE_RATE / FFT_SIZE * np.arange(fft_bins))[None, :]
    up = (mel - left) / (centre - left)
    down = (right - mel) / (right - centre)
    banks = np.maximum(0.0, np.minimum(up, down))
    banks = np.pad(banks, ((0, 0), (0, 1)))  # the Nyquist bin gets no weight
    return banks.T.astype(np.float32)


def fbank(samples: np.ndarray, block: int = 6000) -> Any:
    """Kaldi-compatible log mel filter bank of 16 kHz audio: a (frames, 80) float tensor.

    Computed ``block`` frames (60 s) at a time: the spectra of a whole call at once would
    hold several hundred MB for an hour of audio.
    """
    import torch

    x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    if x.numel() < FRAME_LENGTH:
        return torch.zeros(0, MEL_BINS)
    total = 1 + (x.numel() - FRAME_LENGTH) // FRAME_SHIFT  # snip edges: whole frames only
    parts = []
    for first in range(0, total, block):
        last = min(total, first + block)
        stretch = x[first * FRAME_SHIFT : (last - 1) * FRAME_SHIFT + FRAME_LENGTH]
        parts.append(_fbank_frames(stretch))
    return torch.cat(parts)


def _fbank_frames(x: Any) -> Any:
    import torch

    frames = x.unfold(0, FRAME_LENGTH, FRAME_SHIFT)
    frames = frames - frames.mean(dim=1, keepdim=True)
    previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    frames = frames - PREEMPHASIS * previous
    window = torch.hann_window(FRAME_LENGTH, periodic=False, dtype=torch.float32).pow(0.85)
    frames = torch.nn.functional.pad(frames * window, (0, FFT_SIZE - FRAME_LENGTH))
    power = torch.fft.rfft(frames).abs().pow(2)
    energies = power @ torch.from_numpy(mel_banks())
    return energies.clamp(min=float(torch.finfo(torch.float32).eps)).log()


class CamPlusPlus:
    """Embeds stretches of frames; thread-safe, one TorchScript module per process."""

    def __init__(self, path: Path, device: str = "cpu") -> None:
        self.path = path
        self.device = device
        self._module: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._module is not None

    def load(self) -> None:
        with self._lock:
            if self._module is None:
                import torch

                self._module = torch.jit.load(str(self.path), map_location=self.device).eval()

    def embed_many(self, stretches: list[np.ndarray], batch_size: int = 8) -> np.ndarray:
        """(n, 192) unit-norm embeddings of n stretches of (T_i, 80) filter-bank frames.

        Stretches of equal length go through the network together (most windows over
        clean speech have the full length), which is several times faster than one by one.
        """
        import torch

        self.load()
        out = np.zeros((len(stretches), DIMENSION), dtype=np.float32)
        by_length: dict[int, list[int]] = {}
        for i, stretch in enumerate(stretches):
            by_length.setdefault(len(stretch), []).append(i)
        with torch.inference_mode(), torch.jit.optimized_execution(False):
            for length, members in by_length.items():
                for j in range(0, len(members), batch_size):
                    batch = members[j : j + batch_size]
                    feats = np.stack([stretches[i] for i in batch])
                    feats = feats - feats.mean(axis=1, keepdims=True)
                    ones = torch.ones(len(batch), 1, (length + 1) // 2, device=self.device)
                    x = torch.from_numpy(feats).to(self.device)
                    got = self._module(x, ones)[:, 0].cpu().numpy()
                    out[batch] = got
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
