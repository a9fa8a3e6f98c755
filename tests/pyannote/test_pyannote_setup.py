"""The pyannote backend's error paths and output conversion: no model, no pyannote needed.

These run in every venv; the model tests beside them need ``.venv-pyannote``.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.domain import Audio, AudioInfo, DiarizationOptions, Interval
from core.errors import InvalidInputError, ModelNotFoundError
from core.ports import Diarizer
from services.diarization.pyannote import CONFIG_NAME, PyannoteDiarizer, to_diarization


def fake_pipeline_dir(root: Path) -> Path:
    (root / "segmentation").mkdir(parents=True)
    (root / "segmentation" / "pytorch_model.bin").write_bytes(b"")
    (root / "embedding").mkdir()
    (root / "embedding" / "campplus.torchscript.pt").write_bytes(b"")
    config = {
        "format": 1,
        "segmentation": "segmentation",
        "embedding": {"file": "embedding/campplus.torchscript.pt"},
        "params": {},
    }
    (root / CONFIG_NAME).write_text(json.dumps(config))
    return root


def silence(seconds: float) -> Audio:
    import numpy as np

    mono = np.zeros(int(seconds * 16000), dtype=np.float32)
    return Audio(mono=mono, channels=(mono,), info=AudioInfo(seconds, 16000, 1, "pcm_f32le"))


def test_it_is_a_diarizer_and_describes_itself(tmp_path):
    diarizer = PyannoteDiarizer(tmp_path, device="cpu")
    assert isinstance(diarizer, Diarizer)
    info = diarizer.info()
    assert (info.backend, info.engine, info.device) == ("local", "pyannote.audio", "cpu")
    assert info.extra == {"pipeline_dir": str(tmp_path), "loaded": False}


async def test_a_missing_pipeline_directory_says_how_to_make_one(tmp_path):
    with pytest.raises(ModelNotFoundError) as err:
        await PyannoteDiarizer(tmp_path / "nowhere").load()
    assert CONFIG_NAME in err.value.message
    assert "make pyannote" in err.value.hint


async def test_a_pipeline_directory_missing_its_weights_is_refused(tmp_path):
    root = fake_pipeline_dir(tmp_path / "p")
    (root / "embedding" / "campplus.torchscript.pt").unlink()
    with pytest.raises(ModelNotFoundError, match="campplus"):
        await PyannoteDiarizer(root).load()


@pytest.mark.skipif(
    importlib.util.find_spec("pyannote.audio") is not None, reason="pyannote.audio is here"
)
async def test_without_pyannote_audio_loading_fails_with_a_hint(tmp_path):
    with pytest.raises(ModelNotFoundError) as err:
        await PyannoteDiarizer(fake_pipeline_dir(tmp_path / "p")).load()
    assert "pyannote.audio is not importable" in err.value.message
    assert "make pyannote" in err.value.hint


@pytest.mark.parametrize(
    "options",
    [
        DiarizationOptions(num_speakers=0),
        DiarizationOptions(min_speakers=-1),
        DiarizationOptions(min_speakers=3, max_speakers=2),
    ],
)
async def test_impossible_speaker_counts_are_refused_before_any_model_runs(tmp_path, options):
    with pytest.raises(InvalidInputError):
        await PyannoteDiarizer(tmp_path / "nowhere").diarize(silence(1.0), options)


def test_speaker_bounds_passed_to_pyannote(tmp_path):
    diarizer = PyannoteDiarizer(tmp_path, max_speakers=6)
    bounds = diarizer._speaker_bounds
    assert bounds(DiarizationOptions()) == {"max_speakers": 6}
    assert bounds(DiarizationOptions(num_speakers=2, max_speakers=4)) == {"num_speakers": 2}
    assert bounds(DiarizationOptions(min_speakers=2)) == {"min_speakers": 2, "max_speakers": 6}
    # the engine's own cap yields to a larger requested minimum
    assert bounds(DiarizationOptions(min_speakers=8)) == {"min_speakers": 8}


@dataclass
class _Segment:
    start: float
    end: float


class _Annotation:
    """The part of pyannote.core.Annotation that ``to_diarization`` reads."""

    def __init__(self, tracks):
        self.tracks = tracks

    def itertracks(self, yield_label=False):
        for start, end, label in self.tracks:
            yield _Segment(start, end), None, label


def test_pyannote_output_becomes_turns_named_by_first_appearance():
    annotation = _Annotation(
        [
            (5.0, 9.0, "SPEAKER_00"),
            (0.5, 4.0, "SPEAKER_01"),
            (3.5, 6.0, "SPEAKER_00"),
            (12.0, 31.2, "SPEAKER_01"),  # past the end of the 30 s recording
            (31.0, 31.5, "SPEAKER_02"),  # wholly past it
        ]
    )
    result = to_diarization(annotation, duration=30.0)
    assert result.method == "pyannote"
    assert result.speakers == ["S1", "S2"]
    assert [(t.speaker, t.start, t.end) for t in result.turns] == [
        ("S1", 0.5, 4.0),
        ("S2", 3.5, 6.0),
        ("S2", 5.0, 9.0),
        ("S1", 12.0, 30.0),
    ]
    assert result.speech == [Interval(0.5, 9.0), Interval(12.0, 30.0)]
