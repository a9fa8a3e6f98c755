"""Dual-channel calls: are the channels really two sides of a call, and which speech is bleed.

A stereo file whose channels are (near) copies of each other, or whose second channel is
empty, is a mono recording in a stereo container. Otherwise each channel carries one
party; what a channel's VAD finds while that channel is far quieter than the other one
(``bleed_db`` or more) is the other party leaking in (echo, crosstalk), not speech.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .vad import FRAME_SAMPLES

DUPLICATE_CORRELATION = 0.9  # |Pearson r| above this: the channels are copies
SILENT_DBFS = -60.0  # a channel quieter than this overall carries nothing
BLEED_DB = 15.0


def rms_dbfs(signal: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(np.square(signal, dtype=np.float64)))) if len(signal) else 0.0
    return 20 * np.log10(max(rms, 1e-10))


def correlation(a: np.ndarray, b: np.ndarray, chunk: int = 1 << 20) -> float:
    """Pearson correlation of two equally long signals, in chunks (no big temporaries)."""
    n = min(len(a), len(b))
    if n == 0:
        return 0.0
    ma, mb = float(np.mean(a[:n], dtype=np.float64)), float(np.mean(b[:n], dtype=np.float64))
    sab = saa = sbb = 0.0
    for i in range(0, n, chunk):
        x = a[i : i + chunk].astype(np.float64) - ma
        y = b[i : i + chunk].astype(np.float64) - mb
        sab += float(x @ y)
        saa += float(x @ x)
        sbb += float(y @ y)
    if saa <= 0 or sbb <= 0:
        return 0.0
    return sab / np.sqrt(saa * sbb)


def distinct_channels(channels: Sequence[np.ndarray]) -> bool:
    """True when the recording has exactly two channels that carry different audio."""
    if len(channels) != 2:
        return False
    a, b = channels
    if min(rms_dbfs(a), rms_dbfs(b)) < SILENT_DBFS:
        return False
    return abs(correlation(a, b)) < DUPLICATE_CORRELATION


def frame_energy_db(signal: np.ndarray, smooth_frames: int = 5) -> np.ndarray:
    """Energy in dB per VAD frame (32 ms), smoothed over ``smooth_frames`` frames."""
    n = int(np.ceil(len(signal) / FRAME_SAMPLES))
    padded = np.zeros(n * FRAME_SAMPLES, dtype=np.float64)
    padded[: len(signal)] = signal
    power = np.mean(padded.reshape(n, FRAME_SAMPLES) ** 2, axis=1)
    if smooth_frames > 1:
        kernel = np.ones(smooth_frames) / smooth_frames
        power = np.convolve(power, kernel, mode="same")
    return 10 * np.log10(np.maximum(power, 1e-12))


def suppress_bleed(
    masks: Sequence[np.ndarray], energies_db: Sequence[np.ndarray], bleed_db: float = BLEED_DB
) -> list[np.ndarray]:
    """Drop the frames of each channel's speech mask where another channel is ``bleed_db`` louder."""
    out = []
    for c, mask in enumerate(masks):
        others = [e for o, e in enumerate(energies_db) if o != c]
        n = min(len(mask), *(len(e) for e in energies_db))
        loudest_other = np.max(np.stack([e[:n] for e in others]), axis=0)
        bleed = energies_db[c][:n] < loudest_other - bleed_db
        kept = mask.copy()
        kept[:n] &= ~bleed
        out.append(kept)
    return out
