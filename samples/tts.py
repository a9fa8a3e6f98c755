"""espeak-ng speech for one utterance: rendered, resampled, trimmed to the real speech."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from functools import lru_cache
from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice (language+variant), its speed (wpm), pitch (0-99) and level."""

    name: str
    speed: int
    pitch: int
    peak: float


# Three clearly different voices: a female US agent, a male British customer, and a slower,
# low US male on espeak's Klatt synthesiser for the third party (the variant that resemblyzer
# embeddings put furthest from both others: cosine 0.54 to A, 0.77 to C, 0.99 to itself).
VOICES: dict[str, Voice] = {
    "A": Voice("en-us+f3", speed=165, pitch=60, peak=0.6),
    "C": Voice("en-gb+m3", speed=150, pitch=40, peak=0.5),
    "T": Voice("en-us+klatt3", speed=135, pitch=20, peak=0.5),
}

TRIM_THRESHOLD = 0.01  # of the utterance peak (-40 dB): below it counts as silence


class EspeakMissing(RuntimeError):
    pass


def espeak_binary() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise EspeakMissing("espeak-ng is not installed (apt-get install espeak-ng)")
    return exe


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise RuntimeError(f"unexpected espeak-ng output format in {path}")
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0, rate


def _espeak(text: str, voice: Voice) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory(prefix="callytics-tts-") as tmp:
        out = Path(tmp) / "utt.wav"
        cmd = [espeak_binary(), "-v", voice.name, "-s", str(voice.speed), "-p", str(voice.pitch)]
        cmd += ["-w", str(out), "--stdin"]
        subprocess.run(cmd, input=text.encode(), check=True, capture_output=True)
        return _read_wav(out)


def trim(x: np.ndarray, threshold: float = TRIM_THRESHOLD) -> np.ndarray:
    """Cut the leading and trailing silence: keep first..last sample above threshold*peak."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak == 0.0:
        raise RuntimeError("espeak-ng produced silence")
    loud = np.flatnonzero(np.abs(x) >= threshold * peak)
    return x[loud[0] : loud[-1] + 1]


@lru_cache(maxsize=256)
def _utterance(text: str, voice: Voice, sample_rate: int) -> np.ndarray:
    x, rate = _espeak(text, voice)
    if rate != sample_rate:
        g = gcd(rate, sample_rate)
        x = resample_poly(x, sample_rate // g, rate // g).astype(np.float32)
    x = trim(x)
    x = x * (voice.peak / float(np.max(np.abs(x))))
    x.setflags(write=False)
    return x


def speak(text: str, voice: Voice, sample_rate: int) -> np.ndarray:
    """Float32 speech at ``sample_rate``, trimmed so its first and last samples are speech."""
    return _utterance(text, voice, sample_rate)
