"""The main venv's overlap-aware diarizer runs pyannote's segmentation-3.0 and CAM++'s Kaldi
filter bank in plain torch (no pyannote.audio, no torchaudio there). Here, where both
libraries are installed (``.venv-pyannote``), the plain-torch parts are checked against them
on real recordings: the same network outputs and the same features."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from services.decode.local import decode
from services.diarization import segmentation
from services.diarization.campplus import fbank

pytest.importorskip("pyannote.audio")
kaldi = pytest.importorskip("torchaudio.compliance.kaldi")

PIPELINE_DIR = Path(os.environ.get("CALLYTICS_PYANNOTE_DIR", "models/pyannote"))


@pytest.fixture(scope="module")
def clip(recordings: Path) -> np.ndarray:
    return decode(recordings / "pyannote_dev01.wav").mono


def test_segmentation_network_matches_pyannote_audio(clip: np.ndarray) -> None:
    from pyannote.audio import Model

    theirs = Model.from_pretrained(str(PIPELINE_DIR / "segmentation")).eval()
    ours = segmentation.build_network(dict(theirs.state_dict()))
    chunks = torch.from_numpy(np.stack([clip[:160_000], clip[80_000:240_000]])).unsqueeze(1)
    with torch.inference_mode():
        expected, got = theirs(chunks), ours(chunks)
    assert got.shape == expected.shape == (2, segmentation.num_frames(160_000), 7)
    assert torch.allclose(got, expected, atol=1e-4)
    assert torch.equal(got.argmax(-1), expected.argmax(-1))
    grid = segmentation.FrameGrid.of_model()
    assert grid.step == pytest.approx(theirs.receptive_field.step)
    assert grid.duration == pytest.approx(theirs.receptive_field.duration)


def test_filter_bank_matches_torchaudio_kaldi(clip: np.ndarray) -> None:
    expected = kaldi.fbank(
        torch.from_numpy(clip[:48_000]).unsqueeze(0),
        num_mel_bins=80,
        frame_length=25.0,
        frame_shift=10.0,
        dither=0.0,
        window_type="povey",
        sample_frequency=16_000,
    )
    got = fbank(clip[:48_000])
    assert got.shape == expected.shape == (298, 80)
    assert torch.allclose(got, expected, atol=1e-3)
