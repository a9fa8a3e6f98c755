"""Window labels to speaker turns, and the interval helpers (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from core.domain import SpeakerTurn
from services.diarization.embedding import Window, sliding_windows
from services.diarization.turns import absorb_short_runs, pieces_to_turns, windows_to_turns
from services.diarization.vad import mask_to_spans, merge_spans, spans_to_mask


def windows_over(regions: list[tuple[float, float]]) -> list[Window]:
    return sliding_windows(regions, window_s=1.6, hop_s=0.4)


def test_sliding_windows_cover_each_region() -> None:
    windows = windows_over([(0.0, 4.0), (5.0, 5.5), (7.0, 8.2)])
    full = [w for w in windows if w.region == 0]
    assert full[0].start == 0.0 and full[-1].end == pytest.approx(4.0)
    assert all(w.reliable and w.end - w.start == pytest.approx(1.6) for w in full)
    short = [w for w in windows if w.region == 1]
    # a 0.5 s region gets one window, widened to 0.8 s around it, not trusted for counting
    assert len(short) == 1 and not short[0].reliable
    assert short[0].start == pytest.approx(4.85) and short[0].end == pytest.approx(5.65)
    mid = [w for w in windows if w.region == 2]
    assert len(mid) == 1 and (mid[0].start, mid[0].end) == (7.0, 8.2)


def test_labels_become_turns_inside_the_regions() -> None:
    regions = [(0.0, 4.0), (4.2, 8.0)]
    windows = windows_over(regions)
    # speaker 1 in the first region, speaker 0 in the second
    labels = [1 if w.region == 0 else 0 for w in windows]
    turns = windows_to_turns(regions, windows, labels, merge_gap_s=0.0)
    assert turns == [SpeakerTurn("S1", 0.0, 4.0), SpeakerTurn("S2", 4.2, 8.0)]


def test_a_change_inside_a_region_lands_between_window_centres() -> None:
    regions = [(0.0, 6.0)]
    windows = windows_over(regions)
    labels = [0 if w.centre < 3.0 else 1 for w in windows]
    turns = windows_to_turns(regions, windows, labels)
    assert [t.speaker for t in turns] == ["S1", "S2"]
    assert turns[0].end == pytest.approx(3.0, abs=0.25)
    assert turns[1].start == turns[0].end


def test_short_flips_are_smoothed_away() -> None:
    regions = [(0.0, 8.0)]
    windows = windows_over(regions)
    labels = [0] * len(windows)
    labels[8] = 1  # one window: a flip of about 0.4 s
    turns = windows_to_turns(regions, windows, labels, min_run_s=0.5)
    assert turns == [SpeakerTurn("S1", 0.0, 8.0)]


def test_same_speaker_pieces_merge_across_short_pauses_only() -> None:
    pieces = [(0.0, 1.0, 0), (1.3, 2.0, 0), (3.0, 4.0, 0), (4.0, 5.0, 1)]
    assert pieces_to_turns(pieces, merge_gap_s=0.5) == [
        SpeakerTurn("S1", 0.0, 2.0),
        SpeakerTurn("S1", 3.0, 4.0),
        SpeakerTurn("S2", 4.0, 5.0),
    ]
    assert len(pieces_to_turns(pieces, merge_gap_s=0.0)) == 4


def test_absorb_short_runs_prefers_the_longer_neighbour() -> None:
    pieces = [(0.0, 2.0, 0), (2.0, 2.2, 1), (2.2, 5.0, 2)]
    out = absorb_short_runs(pieces, 0.5)
    assert out == [(0.0, 2.0, 0), (2.0, 5.0, 2)]
    assert absorb_short_runs([(0.0, 0.2, 3)], 0.5) == [(0.0, 0.2, 3)]


def test_speakers_are_named_by_first_appearance() -> None:
    turns = pieces_to_turns([(5.0, 6.0, 0), (0.0, 1.0, 7), (2.0, 3.0, 3)], 0.0)
    assert [(t.speaker, t.start) for t in turns] == [("S1", 0.0), ("S2", 2.0), ("S3", 5.0)]


def test_interval_helpers() -> None:
    assert merge_spans([(2.0, 3.0), (0.0, 1.0), (0.9, 1.5)]) == [(0.0, 1.5), (2.0, 3.0)]
    assert merge_spans([(0.0, 1.0), (1.2, 2.0)], gap=0.3) == [(0.0, 2.0)]
    mask = spans_to_mask([(0.032, 0.128)], 10, frame_s=0.032)
    assert mask.tolist() == [False, True, True, True] + [False] * 6
    assert mask_to_spans(mask, frame_s=0.032) == [pytest.approx((0.032, 0.128))]
    assert mask_to_spans(np.zeros(5, dtype=bool)) == []
