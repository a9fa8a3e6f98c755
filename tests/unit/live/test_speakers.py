"""A live mono call's speakers: voices clustered as they come, turns for short utterances."""

from __future__ import annotations

import numpy as np

from core.live.speakers import IncrementalSpeakers


def voice(angle: float) -> np.ndarray:
    return np.array([np.cos(angle), np.sin(angle), 0.0], dtype=np.float32)


def test_the_same_voice_joins_its_speaker_and_a_new_one_starts_another():
    speakers = IncrementalSpeakers(threshold=0.6, max_speakers=2)
    assert speakers.assign(voice(0.0)) == "S1"
    assert speakers.assign(voice(1.4)) == "S2"  # cosine 0.17: another voice
    assert speakers.assign(voice(0.2)) == "S1"  # cosine 0.98 to S1
    assert speakers.assign(voice(1.3)) == "S2"
    assert speakers.speakers == ["S1", "S2"]


def test_past_max_speakers_a_new_voice_joins_the_nearest():
    speakers = IncrementalSpeakers(threshold=0.9, max_speakers=2)
    speakers.assign(voice(0.0))
    speakers.assign(voice(1.5))
    assert speakers.assign(voice(1.0)) == "S2"  # under the threshold for both: nearest
    assert len(speakers.speakers) == 2


def test_an_utterance_too_short_to_embed_goes_to_the_other_speaker():
    speakers = IncrementalSpeakers()
    speakers.assign(voice(0.0))
    speakers.assign(voice(1.5))
    assert speakers.assign(None) == "S1"  # S2 spoke last
    assert speakers.assign(None) == "S2"


def test_a_first_short_utterance_holds_a_place_the_first_voice_then_fills():
    speakers = IncrementalSpeakers()
    assert speakers.assign(None) == "S1"
    assert speakers.assign(voice(0.0)) == "S1"  # the empty place is S1's
    assert speakers.assign(voice(1.5)) == "S2"
