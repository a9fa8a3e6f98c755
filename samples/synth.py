"""Render a call script to an audio file and return its ground truth."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from samples.encode import encoder_for, write_audio
from samples.model import CallScript, CallTruth
from samples.timeline import Timeline, build_timeline, channel_of
from samples.tts import VOICES

GENERATOR_VERSION = 1
MULAW_RATE = 8000
NOISE_KINDS = ("white", "pink")


def render_hash(script: CallScript, **params: object) -> str:
    """Changes whenever the script, a render option, the voices or the generator change."""
    blob = {
        "script": script.digest(),
        "params": params,
        "voices": {k: asdict(v) for k, v in VOICES.items()},
        "version": GENERATOR_VERSION,
    }
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()


def render_params(
    out_path: Path,
    *,
    layout: str,
    sample_rate: int,
    mulaw: bool,
    noise_snr_db: float | None,
    noise_kind: str,
    seed: int,
) -> dict[str, object]:
    """The options that decide a rendered file's content (hashed for idempotent renders)."""
    return {
        "layout": layout,
        "sample_rate": MULAW_RATE if mulaw else sample_rate,
        "suffix": out_path.suffix.lower(),
        "mulaw": mulaw,
        "noise_snr_db": noise_snr_db,
        "noise_kind": noise_kind if noise_snr_db is not None else None,
        "seed": seed,
    }


def add_noise(
    audio: np.ndarray, timeline: Timeline, snr_db: float, kind: str, seed: int
) -> np.ndarray:
    """Add white or pink noise at ``snr_db`` below the mean power of the active speech."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"noise kind must be one of {NOISE_KINDS}: {kind!r}")
    sr = timeline.sample_rate
    active = np.zeros(audio.shape[1], dtype=bool)
    for t in timeline.turns:
        active[round(t.start * sr) : round(t.end * sr)] = True
    speech_power = float(np.mean(audio[:, active] ** 2)) if active.any() else 1e-4
    rng = np.random.default_rng(seed + 1)
    noise = rng.standard_normal(audio.shape)
    if kind == "pink":  # 1/f power: scale the spectrum by 1/sqrt(f)
        spec = np.fft.rfft(noise, axis=1)
        f = np.fft.rfftfreq(audio.shape[1], 1.0 / sr)
        spec /= np.sqrt(np.maximum(f, 1.0))
        noise = np.fft.irfft(spec, n=audio.shape[1], axis=1)
    noise *= np.sqrt(speech_power / 10 ** (snr_db / 10) / np.mean(noise**2))
    out = audio + noise.astype(np.float32)
    peak = float(np.max(np.abs(out)))
    return out * (0.99 / peak) if peak > 0.99 else out


def render_call(
    script: CallScript,
    out_path: str | Path,
    *,
    layout: str = "mono",
    sample_rate: int = 16000,
    mulaw: bool = False,
    noise_snr_db: float | None = None,
    noise_kind: str = "white",
    seed: int = 0,
) -> CallTruth:
    """Render ``script`` to ``out_path`` (codec from the suffix) and return its truth.

    ``mulaw=True`` writes 8 kHz mu-law wav whatever ``sample_rate`` says. Turn times in
    the truth are the first and last speech sample of each utterance in the written file.
    """
    out_path = Path(out_path)
    params = render_params(
        out_path,
        layout=layout,
        sample_rate=sample_rate,
        mulaw=mulaw,
        noise_snr_db=noise_snr_db,
        noise_kind=noise_kind,
        seed=seed,
    )
    rate = MULAW_RATE if mulaw else sample_rate
    encoder_for(out_path, mulaw=mulaw)  # fail on a bad suffix before synthesising
    timeline = build_timeline(script, layout=layout, sample_rate=rate, seed=seed)
    audio = timeline.audio
    if noise_snr_db is not None:
        audio = add_noise(audio, timeline, noise_snr_db, noise_kind, seed)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    codec, written_rate = write_audio(out_path, audio, rate, mulaw=mulaw)
    return CallTruth(
        script=script.name,
        duration=timeline.duration,
        sample_rate=written_rate,
        channels=audio.shape[0],
        layout=layout,
        codec=codec,
        turns=timeline.turns,
        interruptions=timeline.interruptions,
        speakers=_speakers(script, layout),
        expected=dict(script.expected),
        render_hash=render_hash(script, **params),
    )


def _speakers(script: CallScript, layout: str) -> dict[str, dict[str, object]]:
    roles = {t.speaker: t.role for t in script.turns}
    return {
        s: {
            "role": roles[s],
            "voice": asdict(VOICES[s]),
            "channel": channel_of(s, layout, roles[s]),
        }
        for s in script.speakers
    }
