"""Write float audio to a file with PyAV; the codec follows the file suffix."""

from __future__ import annotations

from math import gcd
from pathlib import Path
from typing import cast

import av
import numpy as np
from av.audio.stream import AudioStream
from scipy.signal import resample_poly

# suffix -> encoders to try, in order (the first one this PyAV build has wins)
ENCODERS: dict[str, tuple[str, ...]] = {
    ".wav": ("pcm_s16le",),
    ".flac": ("flac",),
    ".mp3": ("libmp3lame", "mp3"),
    ".ogg": ("libopus", "opus", "libvorbis"),
    ".m4a": ("aac",),
    ".mp4": ("aac",),
}
# encoders that only take a fixed set of sample rates (others are resampled to 48 kHz)
RATES = {"libopus": (8000, 12000, 16000, 24000, 48000), "opus": (48000,)}
BIT_RATES = {"libmp3lame": 64_000, "mp3": 64_000, "aac": 64_000}
LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}
CHUNK = 8192


def encoder_for(path: Path, *, mulaw: bool = False) -> str:
    suffix = path.suffix.lower()
    if mulaw:
        if suffix != ".wav":
            raise ValueError("mu-law output is written as .wav")
        return "pcm_mulaw"
    if suffix not in ENCODERS:
        raise ValueError(f"unsupported output suffix {suffix!r}; use one of {sorted(ENCODERS)}")
    for name in ENCODERS[suffix]:
        try:
            av.codec.Codec(name, "w")
        except Exception:
            continue
        return name
    raise RuntimeError(f"this PyAV build has no encoder for {suffix} ({ENCODERS[suffix]})")


def output_rate(codec: str, sample_rate: int) -> int:
    allowed = RATES.get(codec)
    return sample_rate if allowed is None or sample_rate in allowed else 48000


def write_audio(
    path: Path, audio: np.ndarray, sample_rate: int, *, mulaw: bool = False
) -> tuple[str, int]:
    """Encode ``audio`` (channels x samples, float in [-1, 1]) to ``path``.

    The caller picks ``sample_rate`` (mu-law telephony is 8 kHz); an encoder that cannot
    take it (Opus at 44.1 kHz) gets the audio resampled to 48 kHz. Returns the codec and the sample rate written.
    """
    path = Path(path)
    codec = encoder_for(path, mulaw=mulaw)
    channels = audio.shape[0]
    if channels not in LAYOUTS:
        raise ValueError(f"cannot write {channels} channels")
    rate = output_rate(codec, sample_rate)
    if rate != sample_rate:
        g = gcd(rate, sample_rate)
        audio = resample_poly(audio, rate // g, sample_rate // g, axis=1)
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype(np.int16)
    interleaved = np.ascontiguousarray(pcm.T).reshape(1, -1)
    with av.open(str(path), mode="w") as container:
        stream = cast(AudioStream, container.add_stream(codec, rate=rate))
        stream.layout = LAYOUTS[channels]
        if codec in BIT_RATES:
            stream.bit_rate = BIT_RATES[codec] * channels
        for i in range(0, pcm.shape[1], CHUNK):
            chunk = interleaved[:, i * channels : (i + CHUNK) * channels]
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout=LAYOUTS[channels])
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return codec, rate
