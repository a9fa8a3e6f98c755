"""Dual-channel decisions and bleed suppression, and the engine's option checks (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from core.domain import DiarizationOptions
from core.errors import InvalidInputError
from core.ports import Diarizer
from services.diarization import LocalDiarizer
from services.diarization import channels as ch


def noise(seed: int, n: int = 16_000, level: float = 0.1) -> np.ndarray:
    return (np.random.default_rng(seed).normal(size=n) * level).astype(np.float32)


def test_two_different_channels_are_distinct() -> None:
    assert ch.distinct_channels((noise(1), noise(2)))


def test_copies_and_empty_channels_are_mono() -> None:
    a = noise(1)
    assert not ch.distinct_channels((a, a))
    assert not ch.distinct_channels((a, 0.5 * a + noise(3, level=0.001)))  # copy, other gain
    assert not ch.distinct_channels((a, -a))  # phase-inverted copy
    assert not ch.distinct_channels((a, np.zeros_like(a)))
    assert not ch.distinct_channels((a,))
    assert not ch.distinct_channels((a, noise(2), noise(3)))


def test_correlation_works_in_chunks() -> None:
    a, b = noise(1, 50_000), noise(2, 50_000)
    mixed = a + 0.5 * b
    assert ch.correlation(a, mixed, chunk=4096) == pytest.approx(np.corrcoef(a, mixed)[0, 1])
    assert ch.correlation(a, np.zeros_like(a)) == 0.0


def test_bleed_is_dropped_and_overlap_is_kept() -> None:
    frames = 10
    # channel 0 speaks in frames 0-4, channel 1 in frames 5-9; both talk in frame 4/5 at
    # similar levels; the VAD of each channel also fired on the other's speech (bleed,
    # 30 dB down).
    e0 = np.array([-20, -20, -20, -20, -22, -24, -50, -50, -50, -50], dtype=float)
    e1 = np.array([-50, -50, -50, -50, -23, -20, -20, -20, -20, -20], dtype=float)
    vad0 = np.ones(frames, dtype=bool)
    vad1 = np.ones(frames, dtype=bool)
    kept0, kept1 = ch.suppress_bleed([vad0, vad1], [e0, e1], bleed_db=15)
    assert kept0.tolist() == [True] * 6 + [False] * 4
    assert kept1.tolist() == [False] * 4 + [True] * 6


def test_frame_energy_is_per_vad_frame_in_db() -> None:
    signal = np.concatenate([np.zeros(512 * 3), np.full(512 * 3, 0.1)]).astype(np.float32)
    energy = ch.frame_energy_db(signal, smooth_frames=1)
    assert len(energy) == 6
    assert energy[0] < -100
    assert energy[-1] == pytest.approx(-20.0, abs=0.01)


def test_engine_is_a_diarizer_and_reports_what_it_is() -> None:
    engine = LocalDiarizer(backend="auto", max_speakers=4, device="cpu")
    assert isinstance(engine, Diarizer)
    info = engine.info()
    assert info.backend == "local"
    assert info.device == "cpu"
    assert not engine.loaded  # nothing loads before it is needed
    by_clustering = LocalDiarizer(mono_method="clustering").info()
    assert by_clustering.engine == "silero-vad+resemblyzer"
    assert by_clustering.extra["mono"] == "clustering"
    by_segmentation = LocalDiarizer(backend="segmentation").info()
    assert by_segmentation.engine == "segmentation-3.0+campplus"
    assert by_segmentation.extra["mono"] == "segmentation"


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="backend"):
        LocalDiarizer(backend="magic")
    with pytest.raises(ValueError):
        LocalDiarizer(max_speakers=0)


@pytest.mark.parametrize(
    "options",
    [
        DiarizationOptions(num_speakers=0),
        DiarizationOptions(min_speakers=0),
        DiarizationOptions(min_speakers=3, max_speakers=2),
        DiarizationOptions(min_speakers=7),  # above the engine's max_speakers
    ],
)
async def test_bad_options_are_refused_before_any_model_loads(options: DiarizationOptions) -> None:
    from core.domain import Audio, AudioInfo

    engine = LocalDiarizer(max_speakers=6)
    audio = Audio(
        mono=np.zeros(16_000, dtype=np.float32),
        channels=(np.zeros(16_000, dtype=np.float32),),
        info=AudioInfo(duration_s=1.0, sample_rate=16_000, channels=1, codec="pcm_s16le"),
    )
    with pytest.raises(InvalidInputError):
        await engine.diarize(audio, options)
    assert not engine.loaded
