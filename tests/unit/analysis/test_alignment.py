import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.analysis.alignment import (
    assign_speakers,
    filter_channel_words,
    fit_to_turns,
    group_utterances,
)
from core.analysis.conversation import interruptions, overlap_time, speech_intervals
from core.domain import SpeakerTurn, Word
from tests.unit.fakes import words_of


def test_words_go_to_the_speaker_whose_turn_overlaps_them_most():
    turns = [SpeakerTurn("S1", 0.0, 2.0), SpeakerTurn("S2", 1.9, 4.0)]
    words = [Word("hello", 0.1, 0.5), Word("there", 1.8, 2.3), Word("yes", 3.0, 3.4)]
    assigned = assign_speakers(words, turns)
    assert [a.speaker for a in assigned] == ["S1", "S2", "S2"]


def test_a_word_outside_every_turn_goes_to_the_nearest_turn():
    turns = [SpeakerTurn("S1", 0.0, 1.0), SpeakerTurn("S2", 5.0, 6.0)]
    assigned = assign_speakers([Word("um", 4.0, 4.3), Word("so", 1.2, 1.4)], turns)
    assert [a.speaker for a in assigned] == ["S2", "S1"]


def test_without_turns_every_word_goes_to_the_default_speaker():
    assigned = assign_speakers(words_of("a b c", 0.0), [], default_speaker="S9")
    assert {a.speaker for a in assigned} == {"S9"}


def test_utterances_split_on_speaker_change_and_long_pauses():
    turns = [SpeakerTurn("S1", 0, 3), SpeakerTurn("S2", 3.2, 5), SpeakerTurn("S1", 5.5, 20)]
    words = words_of("hello how can I help", 0.0) + words_of("my bill", 3.3)
    words += words_of("sure", 5.6) + words_of("one more", 10.0)  # 3.9 s pause -> new turn
    utterances = group_utterances(assign_speakers(words, turns))
    assert [(u.speaker, u.text) for u in utterances] == [
        ("S1", "hello how can I help"),
        ("S2", "my bill"),
        ("S1", "sure"),
        ("S1", "one more"),
    ]
    assert [u.index for u in utterances] == [0, 1, 2, 3]


def test_overlapping_speech_stays_two_overlapping_utterances():
    # S1 talks 0-4 s without a break; S2 cuts in at 2.5 s and talks to 6 s.
    s1 = [("S1", w) for w in words_of("one two three four five six seven eight nine ten", 0.0)]
    s2 = [("S2", w) for w in words_of("wait wait I need to say this now please", 2.5)]
    from core.analysis.alignment import SpeakerWord

    utterances = group_utterances([SpeakerWord(s, w) for s, w in s1 + s2])
    assert [u.speaker for u in utterances] == ["S1", "S2"]
    assert utterances[1].start < utterances[0].end < utterances[1].end


def test_channel_bleed_is_dropped_but_unclaimed_words_are_kept():
    turns = [SpeakerTurn("S1", 0, 2), SpeakerTurn("S2", 3, 5)]
    words = [Word("mine", 0.5, 0.8), Word("bleed", 3.5, 3.8), Word("quiet", 6.0, 6.3)]
    kept = filter_channel_words(words, "S1", turns)
    assert [w.text for w in kept] == ["mine", "quiet"]


def test_channel_words_are_clipped_to_their_speakers_turns():
    turns = [SpeakerTurn("S1", 1.0, 2.0), SpeakerTurn("S2", 2.5, 4.0)]
    # Whisper stretched the last word of the turn over the pause, into the other's turn
    words = [Word("hello", 0.4, 1.3), Word("there", 1.5, 3.0)]
    kept = filter_channel_words(words, "S1", turns, pad=0.1)
    assert [(w.start, w.end) for w in kept] == [(0.9, 1.3), (1.5, 2.1)]


word_lists = st.lists(
    st.tuples(st.floats(0, 600, allow_nan=False), st.floats(0, 3, allow_nan=False)),
    max_size=60,
)
turn_lists = st.lists(
    st.tuples(
        st.sampled_from(["S1", "S2", "S3"]),
        st.floats(0, 600, allow_nan=False),
        st.floats(0.01, 30, allow_nan=False),
    ),
    max_size=20,
)


@given(word_lists, turn_lists)
def test_every_word_is_assigned_once_and_utterances_are_ordered(raw_words, raw_turns):
    words = [Word(f"w{i}", s, s + d) for i, (s, d) in enumerate(raw_words)]
    turns = [SpeakerTurn(sp, s, s + d) for sp, s, d in raw_turns]
    assigned = assign_speakers(words, turns)
    assert sorted(a.word.text for a in assigned) == sorted(w.text for w in words)
    utterances = group_utterances(assigned)
    assert sum(len(u.words) for u in utterances) == len(words)
    starts = [u.start for u in utterances]
    assert starts == sorted(starts)
    assert all(u.start <= u.end for u in utterances)


# --------------------------------------------------------------- overlapped speech (mono)


def test_a_word_both_speakers_cover_stays_with_the_voice_before_it():
    # S2 cuts in at 2.0 while S1 talks on to 3.0: S1's last words lie under both turns.
    turns = [SpeakerTurn("S1", 0.0, 3.0), SpeakerTurn("S2", 2.0, 6.0)]
    words = words_of("so the plan covers that", 0.8) + words_of("no wait listen", 3.2)
    assigned = assign_speakers(words, turns)
    assert [a.speaker for a in assigned] == ["S1"] * 5 + ["S2"] * 3
    # the tie goes to the previous word's speaker whatever order the words come in
    reordered = assign_speakers(list(reversed(words)), turns)
    assert [a.speaker for a in reversed(reordered)] == ["S1"] * 5 + ["S2"] * 3


def test_a_word_one_turn_covers_more_goes_to_that_turn_even_in_an_overlap():
    turns = [SpeakerTurn("S1", 0.0, 2.1), SpeakerTurn("S2", 2.0, 6.0)]
    assigned = assign_speakers(words_of("hi", 1.5) + words_of("there", 2.05), turns)
    assert [a.speaker for a in assigned] == ["S1", "S2"]


def test_fit_to_turns_shows_the_overlap_the_words_hide():
    # Whisper wrote S1 up to 2.9 and S2 only from 3.2: the turns say S2 started at 2.0.
    turns = [SpeakerTurn("S1", 0.0, 3.0), SpeakerTurn("S2", 2.0, 6.0)]
    words = words_of("so the plan covers that", 0.8) + words_of("no wait listen", 3.2)
    utterances = group_utterances(assign_speakers(words, turns))
    assert [(u.start, u.end) for u in utterances] == [(0.8, 2.76), (3.2, 4.36)]
    fitted = fit_to_turns(utterances, turns)
    assert [(u.speaker, u.start, u.end) for u in fitted] == [("S1", 0.0, 3.0), ("S2", 2.0, 6.0)]
    assert [u.words for u in fitted] == [u.words for u in utterances]
    assert interruptions(fitted) == {"S2": 1} and interruptions(utterances) == {}
    assert overlap_time(speech_intervals(fitted)) == pytest.approx(1.0)


def test_fit_to_turns_shifts_only_so_far_and_never_over_the_speakers_own_words():
    turns = [SpeakerTurn("S1", 0.0, 12.0)]
    early = words_of("hello", 0.5)
    late = words_of("again", 9.0)  # the turn runs 2.6 s past it: too far to stretch
    utterances = group_utterances(assign_speakers(early + late, turns))
    fitted = fit_to_turns(utterances, turns, max_shift_s=2.0)
    assert [(u.start, u.end) for u in fitted] == [(0.0, 0.86), (9.0, 9.36)]


def test_fit_to_turns_trims_word_times_that_run_before_the_turn():
    # Whisper stretches S1's first word back to 4.5, over the end of S2's last; the
    # diarizer has S1 start at 5.2, after S2 stopped: no interruption, as in the recording.
    turns = [SpeakerTurn("S2", 0.0, 5.0), SpeakerTurn("S1", 5.2, 7.0)]
    words = [
        *words_of("it does not work at all", 2.6),
        Word("sorry", 4.5, 5.9, 0.9),
        *words_of("let me check", 6.0),
    ]
    utterances = group_utterances(assign_speakers(words, turns))
    assert [(u.speaker, u.start) for u in utterances] == [("S2", 2.6), ("S1", 4.5)]
    assert interruptions(utterances) == {"S1": 1}  # by word times alone
    fitted = fit_to_turns(utterances, turns)
    assert [(u.start, u.end) for u in fitted] == [(2.6, 5.0), (5.2, 7.0)]
    assert interruptions(fitted) == {} and overlap_time(speech_intervals(fitted)) == 0.0
    # the word that ran early is clipped to its turn: words stay inside their utterance
    assert fitted[1].words[0] == Word("sorry", 5.2, 5.9, 0.9)
    assert utterances[1].words[0].start == 4.5  # the input is left as it was
    for u in fitted:
        assert all(u.start <= w.start <= w.end <= u.end for w in u.words)
